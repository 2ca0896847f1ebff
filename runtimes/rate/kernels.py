"""Numba kernels of the rate runtime: the data movement around the matrix products
(im2col/col2im for convolutions, max-pool routing). The products themselves go to BLAS
(``numpy.matmul``); neuron curves come from the neuron types (``rate_kernel``).

Every kernel is parallel over examples (each example owns its rows), so no two threads
write the same element.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from snngraph.runtimes.parallel import THREADS
from snngraph.runtimes.windows import taps


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


# C901: one compiled loop nest over windows, with its border cases inline (a helper per
# window would be a call per pixel in the hot loop)
@njit(cache=True, nogil=True, inline="always")
def _image_cols(img, cols, b, row0, kh, kw, sh, sw, pt, pl, oh, ow, add):  # noqa: C901
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
    """Max over each window (padding never wins); ``arg`` (int16) keeps the winner's
    offset in its window, ``ky * pw + kx``, so the backward pass can route the gradient
    to it (-1: the window lies wholly in the padding). Ties go to the first input in the
    window. Channels run innermost (contiguous, vectorised)."""
    batch, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    fast = _two_by_two(ph, pw, sh, sw, pt, pl, oh, ow, h, w)
    for b in prange(batch):
        for oy in range(oh):
            ky0, ky1 = taps(oy, sh, pt, ph, h)
            for ox in range(ow):
                yb = y[b, oy, ox]
                ab = arg[b, oy, ox]
                if fast:  # the common 2 x 2 window: four rows, compared in registers
                    _max4(x[b, 2 * oy, 2 * ox], x[b, 2 * oy, 2 * ox + 1],
                          x[b, 2 * oy + 1, 2 * ox], x[b, 2 * oy + 1, 2 * ox + 1], yb, ab)
                    continue
                yb[:] = -np.inf
                ab[:] = -1
                kx0, kx1 = taps(ox, sw, pl, pw, w)
                for ky in range(ky0, ky1):
                    iy = oy * sh + ky - pt
                    for kx in range(kx0, kx1):
                        xb = x[b, iy, ox * sw + kx - pl]
                        off = ky * pw + kx
                        for k in range(c):
                            if xb[k] > yb[k]:
                                yb[k] = xb[k]
                                ab[k] = off


@njit(cache=True, inline="always")
def _two_by_two(ph, pw, sh, sw, pt, pl, oh, ow, h, w):  # pragma: no cover - compiled
    """Windows of 2 x 2 at stride 2 without padding: ``max_pool``'s fast path."""
    return ph == 2 and pw == 2 and sh == 2 and sw == 2 and pt == 0 and pl == 0 and \
        2 * oh <= h and 2 * ow <= w


@njit(cache=True, inline="always")
def _max4(x0, x1, x2, x3, y, arg):  # pragma: no cover - compiled
    for k in range(y.shape[0]):
        m = x0[k]
        a = 0
        if x1[k] > m:
            m = x1[k]
            a = 1
        if x2[k] > m:
            m = x2[k]
            a = 2
        if x3[k] > m:
            m = x3[k]
            a = 3
        y[k] = m
        arg[k] = a


@njit(parallel=True, cache=True)
def max_pool_grad(dy, arg, ph, pw, sh, sw, pt, pl, dx):  # pragma: no cover - compiled
    """Each window's gradient goes to the input that won it (``dx`` [batch, h, w, c]).
    The 2 x 2 windows of ``max_pool``'s fast path tile the input: each input row is
    written once, as a select (vectorised); other windows scatter into a zeroed ``dx``."""
    batch, oh, ow, c = dy.shape
    h, w = dx.shape[1], dx.shape[2]
    fast = _two_by_two(ph, pw, sh, sw, pt, pl, oh, ow, h, w)
    window = ph * pw
    row = np.arange(window) // pw - pt  # offset -> input row and column, without a
    col = np.arange(window) % pw - pl  # division per element
    for b in prange(batch):
        if not fast or 2 * oh < h or 2 * ow < w:
            dx[b] = 0.0
        for oy in range(oh):
            for ox in range(ow):
                g = dy[b, oy, ox]
                a = arg[b, oy, ox]
                if fast:
                    for pos in range(4):
                        d = dx[b, 2 * oy + pos // 2, 2 * ox + pos % 2]
                        for k in range(c):
                            d[k] = g[k] if a[k] == pos else 0.0
                    continue
                for k in range(c):
                    off = a[k]
                    if off >= 0:
                        dx[b, oy * sh + row[off], ox * sw + col[off], k] += g[k]


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
