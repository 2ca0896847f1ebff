"""Matrix products for the rate runtime: BLAS, one thread per block of rows.

Training runs BLAS single-threaded (``one_blas_thread``, snngraph.runtimes.parallel says
why) and splits each product by rows over the shared thread pool instead; numpy releases
the GIL inside BLAS, so the blocks run in parallel.
"""

from __future__ import annotations

import ctypes

import numpy as np
from snngraph.runtimes.parallel import (
    THREADS,
    blas_libraries,
    one_blas_thread,
    parallel,
    split_rows,
)

__all__ = ["cblas_sgemm", "matmul", "matmul_tn", "one_blas_thread"]


def cblas_sgemm() -> object | None:
    """numpy's OpenBLAS ``cblas_sgemm`` as a ctypes function Numba kernels can call (a
    product inside a loop over time steps, with no Python between the steps), or None
    when no OpenBLAS with it is loaded (the kernels then keep their own loop). Its
    integers are 64-bit in the ILP64 builds numpy ships (symbols ending ``64_``)."""
    for path in blas_libraries("openblas"):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
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


def _blocks(rows: int) -> list[tuple[int, int]]:
    return split_rows(rows, THREADS if rows >= 256 else 1)


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
