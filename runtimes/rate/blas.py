"""Matrix products for the rate runtime: BLAS, one thread per block of rows.

OpenBLAS's own threads spin for a while after each product, which starves the Numba
kernels that run between products (measured: 30 % slower training). So training pins
OpenBLAS to one thread (``one_blas_thread``; through its C API when numpy's OpenBLAS
exposes it, otherwise nothing changes) and splits each product by rows over our thread
pool instead; numpy releases the GIL inside BLAS, so the blocks run in parallel.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from snngraph.runtimes.numba_cpu.backend import THREADS, parallel


def _libraries() -> list[ctypes.CDLL]:
    """The OpenBLAS libraries loaded in this process (numpy's, once numpy is imported)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    libs = []
    for path in sorted(paths):
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _openblas() -> tuple | None:
    for lib in _libraries():
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    return get, put
    return None


_API: list = []


def cblas_sgemm() -> object | None:
    """numpy's OpenBLAS ``cblas_sgemm`` as a ctypes function Numba kernels can call (a
    product inside a loop over time steps, with no Python between the steps), or None
    when no OpenBLAS with it is loaded (the kernels then keep their own loop). Its
    integers are 64-bit in the ILP64 builds numpy ships (symbols ending ``64_``)."""
    for lib in _libraries():
        for name in ("scipy_cblas_sgemm64_", "cblas_sgemm64_", "scipy_cblas_sgemm",
                     "cblas_sgemm"):
            fn = getattr(lib, name, None)
            if fn is None:
                continue
            n = ctypes.c_int64 if name.endswith("64_") else ctypes.c_int
            e, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
            fn.argtypes = [e, e, e, n, n, n, f, p, n, p, n, f, p, n]
            fn.restype = None
            return fn
    return None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    if not _API:
        _API.append(_openblas())
    api = _API[0]
    if api is None:
        yield
        return
    get, put = api
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)


def _blocks(rows: int) -> list[tuple[int, int]]:
    k = THREADS if rows >= 256 else 1
    bounds = np.linspace(0, rows, k + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = a @ b``, rows of ``a`` split across threads."""
    parallel([(np.matmul, a[i:j], b, out[i:j]) for i, j in _blocks(len(a))])
    return out


def matmul_tn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a.T @ b`` (a reduction over rows): per-thread partial products, then summed."""
    blocks = _blocks(len(a))
    if len(blocks) == 1:
        return a.T @ b
    parts = np.empty((len(blocks), a.shape[1], b.shape[1]), np.result_type(a, b))
    parallel([(np.matmul, a[i:j].T, b[i:j], parts[k]) for k, (i, j) in enumerate(blocks)])
    return parts.sum(axis=0)
