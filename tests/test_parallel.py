"""One module for threads (snngraph.runtimes.parallel): counts from the machine, one
thread pool, BLAS found and limited through threadpoolctl (not /proc/self/maps)."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from snngraph.runtimes import parallel
from snngraph.runtimes.rate import blas
from threadpoolctl import threadpool_info

ROOT = Path(__file__).resolve().parents[1]


def runtime_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "runtimes").rglob("*.py")
            if p.name != "parallel.py"}


def test_thread_count_comes_from_the_machine():
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.THREADS == max(1, min(cpus, numba.config.NUMBA_NUM_THREADS))


def test_one_thread_pool_and_no_proc_maps():
    for path, text in runtime_sources().items():
        assert "ThreadPoolExecutor" not in text, path
        assert "/proc/self/maps" not in text, path


def test_no_hard_coded_thread_counts():
    for path, text in runtime_sources().items():
        assert not re.search(r"^THREADS\s*=\s*\d", text, re.M), path


@given(st.integers(0, 5000), st.integers(1, 9))
def test_split_rows_covers_every_row_once_in_near_equal_blocks(rows, parts):
    blocks = parallel.split_rows(rows, parts)
    assert len(blocks) == parts and blocks[0][0] == 0 and blocks[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    sizes = [b - a for a, b in blocks]
    assert max(sizes) - min(sizes) <= 1


@given(st.integers(0, 600), st.integers(1, 100))
def test_row_blocks_split_as_the_numba_runtime_did(batch, size):
    """The blocks the numba runtime used (linspace bounds) for this machine's threads, so
    per-block partial sums add up in the same order as before."""
    k = parallel.THREADS if batch >= 2 and batch * size >= 4096 else 1
    bounds = np.linspace(0, batch, min(k, batch) + 1).astype(int)
    assert parallel.row_blocks(batch, size) == list(zip(bounds[:-1].tolist(),
                                                         bounds[1:].tolist()))


def test_parallel_runs_every_call():
    out = np.zeros(8)
    parallel.parallel([(np.add, out[i:i + 2], 1.0, out[i:i + 2]) for i in range(0, 8, 2)])
    assert np.all(out == 1.0)


def _blas_threads() -> list[int]:
    """Thread counts of the BLAS libraries the runtime controls (numpy's, found at first
    use): another BLAS loaded later in the process, e.g. SciPy's by ``import nengo`` in
    another test module, is not the runtime's to limit."""
    ours = {lib["filepath"] for lib in parallel._blas().info()}
    return [lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas" and lib["filepath"] in ours]


def test_one_blas_thread_limits_and_restores():
    before = _blas_threads()
    with blas.one_blas_thread():
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


@pytest.mark.skipif(not parallel.blas_libraries("openblas"), reason="numpy without OpenBLAS")
def test_cblas_sgemm_is_found_from_threadpoolctl_and_multiplies():
    paths = [lib["filepath"] for lib in threadpool_info() if lib["internal_api"] == "openblas"]
    found = parallel.blas_libraries("openblas")  # numpy's, loaded before any other BLAS
    assert found and set(found) <= set(paths)
    sgemm = blas.cblas_sgemm()
    assert sgemm is not None
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4), np.float32), rng.random((4, 5), np.float32)
    c = np.zeros((3, 5), np.float32)
    ptr = ctypes.c_void_p
    sgemm(101, 111, 111, 3, 5, 4, 1.0, ptr(a.ctypes.data), 4, ptr(b.ctypes.data), 5, 0.0,
          ptr(c.ctypes.data), 5)
    np.testing.assert_allclose(c, a @ b, rtol=1e-6)
