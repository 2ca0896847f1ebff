"""Sliding windows in the runtimes' Numba kernels (convolution and pooling loops).

The geometry itself (output sizes, padding) is ``snngraph.geometry``; this is the one
loop bound those kernels share: which taps of a window fall inside the input.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def taps(o, stride, pad, k, n):  # pragma: no cover - compiled
    """The taps ``lo:hi`` of the ``k``-wide window at output ``o`` whose inputs
    ``o * stride + tap - pad`` lie inside ``0:n`` (the rest fall in the padding). Looping
    over ``range(lo, hi)`` instead of testing every tap keeps branches out of the loop."""
    start = o * stride - pad
    lo = max(0, -start)
    return lo, max(lo, min(k, n - start))
