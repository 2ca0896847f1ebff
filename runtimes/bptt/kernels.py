"""Event-driven kernels for linear maps of spike trains (mostly zeros).

A dense product over ``[T * B, n_in]`` rows costs ``n_in * n_out`` per row whatever the
input; these skip the zeros, so a layer reading spikes at a few percent density (an
encoder's output, a spiking layer) costs a few percent of it, forward and for the weight
gradient. Rows are split between threads; each thread has its own gradient buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def sparse_forward(x, wt, bias, has_bias, y, r0, r1):
    """``y[r] = sum_j x[r, j] wt[j] (+ bias)`` for rows ``r0:r1``; ``wt = W.T``."""
    n_in, n_out = wt.shape
    for r in range(r0, r1):
        for k in range(n_out):
            y[r, k] = bias[k] if has_bias else 0.0
        for j in range(n_in):
            v = x[r, j]
            if v != 0.0:
                for k in range(n_out):
                    y[r, k] += v * wt[j, k]


@njit(cache=True, nogil=True)
def sparse_weight_grad(x, dy, dwt, r0, r1):
    """``dwt[j] += sum_r x[r, j] dy[r]`` over rows ``r0:r1`` (the gradient of ``W.T``)."""
    n_in = x.shape[1]
    n_out = dy.shape[1]
    for r in range(r0, r1):
        for j in range(n_in):
            v = x[r, j]
            if v != 0.0:
                for k in range(n_out):
                    dwt[j, k] += v * dy[r, k]


def density(x: np.ndarray) -> float:
    """The fraction of nonzeros, estimated on every 8th row (enough to choose a kernel)."""
    sample = x[::8]
    return np.count_nonzero(sample) / max(sample.size, 1)


__all__ = ["density", "sparse_forward", "sparse_weight_grad"]
