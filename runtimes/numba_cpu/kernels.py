"""Numba kernels of the CPU runtime, one per op kind (compiled on first use, cached).

Every kernel works row by row (one example per row, rows in parallel), so a row's result
never depends on the other rows: outputs are identical for any minibatch size. Linear and
convolution kernels choose, per row, between an event-driven path (add the weights of the
inputs that are non-zero: spikes) and a dense path, by the row's activity.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from snngraph.runtimes.windows import taps

EVENT_FRACTION = 0.15
"""Below this fraction of non-zero inputs a row is propagated event by event
(see benchmarks/event_vs_dense.py for the crossover on this machine type)."""


@njit(cache=True, nogil=True, error_model="numpy")
def current(x, gain, bias, J):
    """``J = gain * x + bias`` (rows of a block; run in the neuron op's thread)."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            J[b, i] = gain[i] * x[b, i] + bias[i]


@njit(cache=True, error_model="numpy")
def linear_row(x, wt, bias, out, event_fraction, active):
    """One row of ``out = x @ wt + bias`` with ``wt = W.T`` (one contiguous row per input);
    ``active`` is scratch for the indices of the non-zero inputs (``n_in`` int32).

    Both paths add rows of ``wt`` in input order (so they agree to rounding); the event
    path skips the zero inputs, the dense one does not test them. (Numba's BLAS binding
    needs SciPy, which is not a dependency, so the dense path is a vectorised loop.)
    """
    n_in, n_out = wt.shape
    nnz = 0
    for j in range(n_in):  # the non-zero inputs' indices, without a branch: spikes are
        active[nnz] = j  # irregular, so testing each input mispredicts (that cost half
        nnz += x[j] != 0.0  # of an NEF decoder's time)
    for i in range(n_out):
        out[i] = bias[i]
    if nnz <= event_fraction * n_in:
        for k in range(nnz):
            j = active[k]
            v = x[j]
            for i in range(n_out):
                out[i] += v * wt[j, i]
    else:
        _dense_rows(x, wt, out)


@njit(cache=True, error_model="numpy", inline="always")
def _dense_rows(x, wt, out):
    """``out += x @ wt`` four input rows at a time: each output is loaded and stored once
    per four rows instead of once per row (a third faster for an NEF encoder), with the
    additions in the same order as one row at a time, so the result is identical."""
    n_in, n_out = wt.shape
    j = 0
    while j + 4 <= n_in:
        v0, v1, v2, v3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        for i in range(n_out):
            o = out[i]
            o += v0 * wt[j, i]
            o += v1 * wt[j + 1, i]
            o += v2 * wt[j + 2, i]
            o += v3 * wt[j + 3, i]
            out[i] = o
        j += 4
    for r in range(j, n_in):
        v = x[r]
        for i in range(n_out):
            out[i] += v * wt[r, i]


@njit(cache=True, parallel=True, error_model="numpy")
def linear(x, wt, bias, out, event_fraction, active):
    """``linear_row`` for every row, rows in parallel (``active``: scratch per row)."""
    for b in prange(x.shape[0]):
        linear_row(x[b], wt, bias, out[b], event_fraction, active[b])


@njit(cache=True, error_model="numpy")
def linear_serial(x, wt, bias, out, event_fraction, active):
    """``linear_row`` for every row on the calling thread (fused small networks, where a
    parallel region would cost more than the work)."""
    for b in range(x.shape[0]):
        linear_row(x[b], wt, bias, out[b], event_fraction, active[b])


@njit(cache=True, error_model="numpy")
def conv2d_row(x, kernel, bias, out, strides, pads, event_fraction, active):
    """One image: ``x[H,W,C]``, ``kernel[kh,kw,C,F]``, ``out[OH,OW,F]``; ``pads`` =
    (top, left) zero padding; ``active`` is scratch for the indices of non-zero inputs."""
    f = kernel.shape[3]
    flat = x.ravel()
    nnz = 0
    for k in range(flat.size):  # one pass: where are the events?
        if flat[k] != 0.0:
            active[nnz] = k
            nnz += 1
    for oy in range(out.shape[0]):
        for ox in range(out.shape[1]):
            for fo in range(f):
                out[oy, ox, fo] = bias[fo]
    if nnz <= event_fraction * flat.size:
        _conv_scatter(x, kernel, out, strides[0], strides[1], pads[0], pads[1],
                      active[:nnz])
    else:
        _conv_gather(x, kernel, out, strides[0], strides[1], pads[0], pads[1])


@njit(cache=True, parallel=True, error_model="numpy")
def conv2d(x, kernel, bias, out, strides, pads, event_fraction, active):
    """Channels-last 2-D convolution of a batch ``x[B,H,W,C]``, images in parallel."""
    for b in prange(x.shape[0]):
        conv2d_row(x[b], kernel, bias, out[b], strides, pads, event_fraction, active[b])


@njit(cache=True, error_model="numpy")
def conv2d_serial(x, kernel, bias, out, strides, pads, event_fraction, active):
    """``conv2d`` on the calling thread (inside fused code, which is parallel itself)."""
    for b in range(x.shape[0]):
        conv2d_row(x[b], kernel, bias, out[b], strides, pads, event_fraction, active[b])


@njit(cache=True, error_model="numpy")
def _conv_scatter(x, kernel, out, sh, sw, pt, pl, active):
    """Each non-zero input adds its kernel slice to the outputs it reaches."""
    w, c = x.shape[1], x.shape[2]
    kh, kw, _, f = kernel.shape
    oh, ow = out.shape[0], out.shape[1]
    for k in active:
        iy, rest = k // (w * c), k % (w * c)
        ix, ci = rest // c, rest % c
        v = x[iy, ix, ci]
        for ky in range(kh):
            ty = iy + pt - ky
            if ty < 0 or ty % sh != 0 or ty // sh >= oh:
                continue
            oy = ty // sh
            for kx in range(kw):
                tx = ix + pl - kx
                if tx < 0 or tx % sw != 0 or tx // sw >= ow:
                    continue
                ox = tx // sw
                for fo in range(f):
                    out[oy, ox, fo] += v * kernel[ky, kx, ci, fo]


@njit(cache=True, error_model="numpy")
def _conv_gather(x, kernel, out, sh, sw, pt, pl):
    """Each output sums its receptive field."""
    h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    oh, ow = out.shape[0], out.shape[1]
    for oy in range(oh):
        ky0, ky1 = taps(oy, sh, pt, kh, h)
        for ox in range(ow):
            kx0, kx1 = taps(ox, sw, pl, kw, w)
            for ky in range(ky0, ky1):
                iy = oy * sh + ky - pt
                for kx in range(kx0, kx1):
                    ix = ox * sw + kx - pl
                    for ci in range(c):
                        v = x[iy, ix, ci]
                        if v != 0.0:
                            for fo in range(f):
                                out[oy, ox, fo] += v * kernel[ky, kx, ci, fo]


@njit(cache=True, error_model="numpy")
def pool2d_row(x, out, pool, strides, pads, mode):
    """Pooling of one channels-last image; mode 0 avg (over the window's valid inputs,
    as TensorFlow), 1 max, 2 sum."""
    h, w, c = x.shape
    for oy in range(out.shape[0]):
        ky0, ky1 = taps(oy, strides[0], pads[0], pool[0], h)
        for ox in range(out.shape[1]):
            kx0, kx1 = taps(ox, strides[1], pads[1], pool[1], w)
            for ci in range(c):
                acc = -np.inf if mode == 1 else 0.0
                for ky in range(ky0, ky1):
                    iy = oy * strides[0] + ky - pads[0]
                    for kx in range(kx0, kx1):
                        v = x[iy, ox * strides[1] + kx - pads[1], ci]
                        acc = max(acc, v) if mode == 1 else acc + v
                count = (ky1 - ky0) * (kx1 - kx0)
                out[oy, ox, ci] = acc / count if mode == 0 else acc


@njit(cache=True, parallel=True, error_model="numpy")
def pool2d(x, out, pool, strides, pads, mode):
    for b in prange(x.shape[0]):
        pool2d_row(x[b], out[b], pool, strides, pads, mode)


@njit(cache=True, error_model="numpy")
def pool2d_serial(x, out, pool, strides, pads, mode):
    for b in range(x.shape[0]):
        pool2d_row(x[b], out[b], pool, strides, pads, mode)


@njit(cache=True, error_model="numpy")
def conv_transpose2d_row(x, kernel, bias, out, strides, pads):  # noqa: C901 - one loop nest
    """One image of a transposed convolution: ``x[H,W,C]``, ``kernel[kh,kw,C,F]``,
    ``out[OH,OW,F]``: each non-zero input adds its kernel slice where its stride puts it
    (shifted back by the (top, left) ``pads``), so silent inputs cost nothing."""
    kh, kw, c, f = kernel.shape
    for oy in range(out.shape[0]):
        for ox in range(out.shape[1]):
            for fo in range(f):
                out[oy, ox, fo] = bias[fo]
    for iy in range(x.shape[0]):
        for ix in range(x.shape[1]):
            for ci in range(c):
                v = x[iy, ix, ci]
                if v == 0.0:
                    continue
                for ky in range(kh):
                    oy = iy * strides[0] + ky - pads[0]
                    if oy < 0 or oy >= out.shape[0]:
                        continue
                    for kx in range(kw):
                        ox = ix * strides[1] + kx - pads[1]
                        if ox < 0 or ox >= out.shape[1]:
                            continue
                        for fo in range(f):
                            out[oy, ox, fo] += v * kernel[ky, kx, ci, fo]


@njit(cache=True, parallel=True, error_model="numpy")
def conv_transpose2d(x, kernel, bias, out, strides, pads):
    """``conv_transpose2d_row`` over a batch ``x[B,H,W,C]``, images in parallel."""
    for b in prange(x.shape[0]):
        conv_transpose2d_row(x[b], kernel, bias, out[b], strides, pads)


@njit(cache=True, error_model="numpy")
def conv_transpose2d_serial(x, kernel, bias, out, strides, pads):
    """``conv_transpose2d`` on the calling thread (inside fused code)."""
    for b in range(x.shape[0]):
        conv_transpose2d_row(x[b], kernel, bias, out[b], strides, pads)


@njit(cache=True, error_model="numpy")
def fir_row(u, ring, h, out, taps):
    """One example of ``fir_filter``: ``u`` goes to ring row ``h``, ``out = sum_k
    taps[k] * u[t - k]``."""
    n = taps.size
    for i in range(u.shape[0]):
        ring[h, i] = u[i]
        acc = 0.0
        for k in range(n):
            acc += taps[k] * ring[(h - k + n) % n, i]
        out[i] = acc


@njit(cache=True, parallel=True, error_model="numpy")
def fir_filter(u, ring, head, out, taps):
    """A finite impulse response over the last ``len(taps)`` inputs (newest first) kept in
    ``ring[B, n, size]``, the newest written over the oldest at ``head[0] + 1``. O(taps)
    per value, where the state-space form is O(taps^2)."""
    h = (head[0] + 1) % taps.size
    for b in prange(u.shape[0]):
        fir_row(u[b], ring[b], h, out[b], taps)
    head[0] = h


@njit(cache=True, error_model="numpy")
def fir_filter_serial(u, ring, head, out, taps):
    """``fir_filter`` on the calling thread (small minibatches)."""
    h = (head[0] + 1) % taps.size
    for b in range(u.shape[0]):
        fir_row(u[b], ring[b], h, out[b], taps)
    head[0] = h


@njit(cache=True, error_model="numpy")
def state_space_row(u, state, out, A, B, C, D):
    """One step of ``x' = A x + B u`` per element of a row (state ``[n, order]``), with
    Nengo's output: ``C x'`` without a direct term, ``C x + D u`` (before the update)
    with one."""
    order = A.shape[0]
    tmp = np.empty(order)
    direct = D[0, 0] != 0.0
    for i in range(u.shape[0]):
        y = D[0, 0] * u[i]
        for r in range(order):
            acc = B[r, 0] * u[i]
            for k in range(order):
                acc += A[r, k] * state[i, k]
            tmp[r] = acc
            if direct:
                y += C[0, r] * state[i, r]
        for r in range(order):
            state[i, r] = tmp[r]
            if not direct:
                y += C[0, r] * tmp[r]
        out[i] = y


@njit(cache=True, parallel=True, error_model="numpy")
def state_space_filter(u, state, out, A, B, C, D):
    for b in prange(u.shape[0]):
        state_space_row(u[b], state[b], out[b], A, B, C, D)


@njit(cache=True, error_model="numpy")
def state_space_filter_serial(u, state, out, A, B, C, D):
    for b in range(u.shape[0]):
        state_space_row(u[b], state[b], out[b], A, B, C, D)


@njit(cache=True, error_model="numpy")
def diagonal(x, w, bias, out):
    """``out = x * w + bias`` (an elementwise scale)."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            out[b, i] = x[b, i] * w[i] + bias[i]


@njit(cache=True)
def gather(x, index, out):
    """``out = x[:, index]`` (a slice)."""
    for b in range(x.shape[0]):
        for j in range(index.size):
            out[b, j] = x[b, index[j]]


@njit(cache=True)
def scatter(x, index, out):
    """``out = 0; out[:, index] += x``: repeated indices add up (as Nengo's)."""
    out[:] = 0.0
    for b in range(x.shape[0]):
        for j in range(index.size):
            out[b, index[j]] += x[b, j]
