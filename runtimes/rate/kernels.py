"""Numba kernels of the rate runtime: the data movement around the matrix products
(im2col/col2im for convolutions, max-pool routing). The products themselves go to BLAS
(``numpy.matmul``); neuron curves come from the neuron types (``rate_kernel``).

Every kernel is parallel over examples (each example owns its rows), so no two threads
write the same element.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

THREADS = numba.config.NUMBA_NUM_THREADS


@njit(parallel=True, cache=True)
def im2col(x, kh, kw, sh, sw, pt, pl, oh, ow, cols):  # pragma: no cover - compiled
    """``cols[(b, oy, ox), (ky, kx, c)] = x[b, oy*sh + ky - pt, ox*sw + kx - pl, c]``
    (zero outside the image): each output position's receptive field as one row."""
    for b in prange(x.shape[0]):
        _image_cols(x, cols, b, b * oh * ow, kh, kw, sh, sw, pt, pl, oh, ow, False)


@njit(parallel=True, cache=True)
def col2im(cols, kh, kw, sh, sw, pt, pl, oh, ow, dx):  # pragma: no cover - compiled
    """The adjoint of ``im2col``: each row's entries added back to the pixels they
    came from (overlapping receptive fields accumulate). Overwrites ``dx``."""
    for b in prange(dx.shape[0]):
        dx[b] = 0.0
        _image_cols(dx, cols, b, b * oh * ow, kh, kw, sh, sw, pt, pl, oh, ow, True)


@njit(cache=True, nogil=True, inline="always")
def _image_cols(img, cols, b, row0, kh, kw, sh, sw, pt, pl, oh, ow, add):
    """Image ``b``'s receptive fields and rows ``row0...`` of ``cols``: copied into the
    rows (im2col), or the rows added back into the image (``add``: col2im). With stride
    1 along x, the ``kx`` entries of one ``ky`` are one run of pixels, moved as one slice
    (long vectorised loops instead of ``kw`` loops of ``c``)."""
    _, h, w, c = img.shape
    flat = img.reshape(img.shape[0], h, w * c)
    for oy in range(oh):
        for ox in range(ow):
            row = cols[row0 + oy * ow + ox]
            if not add and (oy * sh < pt or ox * sw < pl or oy * sh - pt + kh > h
                            or ox * sw - pl + kw > w):
                row[:] = 0.0  # the field reaches outside the image: zeros there
            for ky in range(kh):
                iy = oy * sh + ky - pt
                if iy < 0 or iy >= h:
                    continue
                for kx0 in range(kw if sw != 1 else 1):
                    ix = ox * sw + kx0 - pl
                    lo, hi = (max(0, -ix), min(kw, w - ix)) if sw == 1 else \
                        ((0, 1) if 0 <= ix < w else (0, 0))
                    if lo >= hi:
                        continue
                    n = (hi - lo) * c
                    pix = flat[b, iy, (ix + lo) * c:(ix + lo) * c + n]
                    part = row[((ky * kw + kx0 + lo) * c):((ky * kw + kx0 + lo) * c) + n]
                    if add:
                        for i in range(n):
                            pix[i] += part[i]
                    else:
                        for i in range(n):
                            part[i] = pix[i]


@njit(parallel=True, cache=True)
def max_pool(x, ph, pw, sh, sw, pt, pl, y, arg):  # pragma: no cover - compiled
    """Max over each window (padding never wins); ``arg`` keeps the flat input index
    of the winner so the backward pass can route the gradient to it. Channels run
    innermost (contiguous, vectorised); ties go to the first input in the window."""
    batch, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in prange(batch):
        for oy in range(oh):
            for ox in range(ow):
                for k in range(c):
                    y[b, oy, ox, k] = -np.inf
                    arg[b, oy, ox, k] = -1
                for ky in range(ph):
                    iy = oy * sh + ky - pt
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(pw):
                        ix = ox * sw + kx - pl
                        if ix < 0 or ix >= w:
                            continue
                        base = (iy * w + ix) * c
                        for k in range(c):
                            v = x[b, iy, ix, k]
                            if v > y[b, oy, ox, k]:
                                y[b, oy, ox, k] = v
                                arg[b, oy, ox, k] = base + k


@njit(parallel=True, cache=True)
def max_pool_grad(dy, arg, dx):  # pragma: no cover - compiled
    """Each window's gradient goes to the input that won it (``dx`` [batch, size])."""
    batch, oh, ow, c = dy.shape
    for b in prange(batch):
        for oy in range(oh):
            for ox in range(ow):
                for k in range(c):
                    dx[b, arg[b, oy, ox, k]] += dy[b, oy, ox, k]


@njit(parallel=True, cache=True)
def add_bias(y, bias):  # pragma: no cover - compiled
    """``y[r] += bias`` for every row, in place."""
    for r in prange(y.shape[0]):
        for i in range(y.shape[1]):
            y[r, i] += bias[i]


def column_sums(y):
    """``y.sum(0)`` in float32, rows split across threads (numpy's is single-threaded)."""
    parts = np.zeros((THREADS, y.shape[1]), np.float32)
    _column_sums(y, parts)
    return parts.sum(axis=0)


@njit(parallel=True, cache=True)
def _column_sums(y, parts):  # pragma: no cover - compiled
    rows, n = y.shape
    threads = parts.shape[0]
    chunk = (rows + threads - 1) // threads
    for t in prange(threads):
        for r in range(t * chunk, min(rows, (t + 1) * chunk)):
            for i in range(n):
                parts[t, i] += y[r, i]


@njit(parallel=True, cache=True)
def neuron_grad(dy, dydj, gain, dx, db):  # pragma: no cover - compiled
    """The neurons rule's backward in one pass: with ``dJ = dy * dydj``, ``dx = dJ *
    gain`` and per-thread partial bias gradients in ``db`` [threads, n] (their sum
    over threads is the bias gradient)."""
    rows, n = dy.shape
    threads = db.shape[0]
    chunk = (rows + threads - 1) // threads
    for t in prange(threads):
        for i in range(n):
            db[t, i] = 0.0
        for r in range(t * chunk, min(rows, (t + 1) * chunk)):
            for i in range(n):
                d = dy[r, i] * dydj[r, i]
                dx[r, i] = d * gain[i]
                db[t, i] += d
