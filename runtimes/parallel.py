"""Threads: how many, the one thread pool, and BLAS's own threads.

Three kinds of threads run the runtimes' kernels: Numba's parallel loops (``prange``),
this module's pool, which runs blocks of rows of a minibatch at once (Numba functions
compiled ``nogil`` and numpy's BLAS release the GIL), and the BLAS library's own threads.
Their count comes from the machine (the CPUs this process may run on), never a constant.

OpenBLAS's threads spin for a while after each product, which starves the Numba kernels
that run between products (measured: 30 % slower rate training), so training runs with one
BLAS thread (``one_blas_thread``) and splits products by rows over the pool instead.
BLAS is found and limited through ``threadpoolctl``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController


def machine_threads() -> int:
    """CPUs this process may run on (its affinity mask: a container's or ``taskset``'s
    share, not every CPU of the host)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


THREADS = max(1, min(machine_threads(), numba.config.NUMBA_NUM_THREADS))
"""Threads for parallel work: the machine's, at most as many as Numba's pool holds."""

_POOL: ThreadPoolExecutor | None = None


def split_rows(rows: int, parts: int) -> list[tuple[int, int]]:
    """``rows`` cut into ``parts`` contiguous ranges as equal as integers allow (none
    when ``parts`` is 0)."""
    if parts < 1:
        return []
    bounds = [rows * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def row_blocks(rows: int, work: int, min_work: int = 4096) -> list[tuple[int, int]]:
    """Row ranges for the pool: one per thread when there are two rows or more and
    ``rows * work`` reaches ``min_work`` (below it a thread costs more than it saves),
    else one range."""
    k = THREADS if rows >= 2 and rows * work >= min_work else 1
    return split_rows(rows, min(k, rows))


def parallel(calls: list[tuple]) -> None:
    """Run ``(fn, *args)`` calls on the pool and wait for all (fn must release the GIL
    to run at the same time as the others). A single call runs in this thread."""
    global _POOL
    if len(calls) == 1:
        calls[0][0](*calls[0][1:])
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(THREADS)
    for job in [_POOL.submit(*c) for c in calls]:
        job.result()


def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded in this process now: numpy's, and any loaded after it
    (SciPy's own OpenBLAS, which Nengo's builder imports), so each is limited. Looked up
    on each call (about half a millisecond: it walks the loaded libraries), which the
    callers (once per training run, once per kernel lookup) can afford."""
    return ThreadpoolController().select(user_api="blas")


def blas_libraries(internal_api: str = "openblas") -> list[str]:
    """Paths of the loaded BLAS libraries of one kind (``openblas``, ``mkl``, ``blis``)."""
    return [lib["filepath"] for lib in _blas().info() if lib["internal_api"] == internal_api]


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs single-threaded inside the block (its thread count restored after)."""
    with _blas().limit(limits=1):
        yield
