"""Event-driven kernels for linear maps of spike trains (mostly zeros).

A dense product over ``[T * B, n_in]`` rows costs ``n_in * n_out`` per row whatever the
input; these skip the zeros, so a layer reading spikes at a few percent density (an
encoder's output, a spiking layer) costs a few percent of it, forward and for the weight
gradient. Rows are split between threads; each thread has its own gradient buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from snngraph.runtimes.numba_cpu.jit import jit
from snngraph.runtimes.rate.kernels import _image_cols

from snngraph.processes import lif_encode_row as _lif_encode_row
from snngraph.processes import poisson_row as _poisson_row


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




@njit(cache=True, nogil=True)
def sparse_conv(img, kf, bias, has_bias, sh, sw, pt, pl, out, r0, r1):
    """A channels-last convolution of mostly-zero images, input event by input event:
    ``out[r, oy, ox] (+)= img[r, y, x, c] * kernel[ky, kx, c]`` wherever
    ``y = oy * sh - pt + ky`` and ``x = ox * sw - pl + kx``. ``kf`` is the kernel as
    ``flip_kernel`` lays it out, so one event's outputs along a row are one run."""
    _, oh, ow, cout = out.shape
    flat = out.reshape(out.shape[0], oh, ow * cout)
    for r in range(r0, r1):
        for oy in range(oh):
            for ox in range(ow):
                for f in range(cout):
                    out[r, oy, ox, f] = bias[f] if has_bias else 0.0
        _conv_events(img, kf.reshape(kf.shape[0], kf.shape[1], -1), flat[r], r, sh, sw,
                     pt, pl, oh, ow, cout, False)


@njit(cache=True, nogil=True)
def sparse_conv_kernel_grad(img, dy, sh, sw, pt, pl, dkf, r0, r1):
    """``dk[ky, kx, c] += img[r, y, x, c] * dy[r, oy, ox]`` over the nonzero inputs of rows
    ``r0:r1`` (the kernel gradient of ``sparse_conv``, laid out as ``flip_kernel``)."""
    _, oh, ow, cout = dy.shape
    flat = dy.reshape(dy.shape[0], oh, ow * cout)
    d2 = dkf.reshape(dkf.shape[0], dkf.shape[1], -1)
    for r in range(r0, r1):
        _conv_events(img, d2, flat[r], r, sh, sw, pt, pl, oh, ow, cout, True)


@njit(cache=True, nogil=True, inline="always")
def _conv_events(img, kf, y, r, sh, sw, pt, pl, oh, ow, cout, grad):  # noqa: C901 - one
    # compiled loop nest: split into functions it would not vectorise the same
    """Every nonzero ``v = img[r, y, x, c]`` and the output pixels it reaches: ``y[oy,
    ox:...] += v kf[c, ky, ...]`` (forward) or ``kf[c, ky, ...] += v y[oy, ...]``
    (kernel gradient). ``kf[c, ky]`` holds ``kx`` reversed, so with stride 1 along x
    the pixels an event reaches in one output row are one run (one long loop)."""
    _, h, w, cin = img.shape
    kh = kf.shape[1]
    kw = kf.shape[2] // cout
    for iy in range(h):
        for ix in range(w):
            for c in range(cin):
                v = img[r, iy, ix, c]
                if v == 0.0:
                    continue
                for ky in range((iy + pt) % sh, kh, sh):
                    oy = (iy + pt - ky) // sh
                    if oy < 0:
                        break
                    if oy >= oh:
                        continue
                    for kx in range((ix + pl) % sw if sw != 1 else 0, kw if sw != 1 else 1, sw):
                        if sw == 1:  # kx in [lo, hi): ox = ix + pl - kx in [0, ow)
                            lo, hi = max(0, ix + pl - ow + 1), min(kw, ix + pl + 1)
                        else:
                            lo = kx
                            hi = kx + 1 if 0 <= (ix + pl - kx) // sw < ow else kx
                        if lo >= hi:
                            continue
                        n = (hi - lo) * cout
                        ox0 = (ix + pl - (hi - 1)) // sw  # the pixel of the run's last kx
                        pix = y[oy, ox0 * cout:ox0 * cout + n]
                        k0 = (kw - hi) * cout  # reversed: kx = hi - 1 comes first
                        taps = kf[c, ky, k0:k0 + n]
                        if grad:
                            for i in range(n):
                                taps[i] += v * pix[i]
                        else:
                            for i in range(n):
                                pix[i] += v * taps[i]


def flip_kernel(kernel: np.ndarray) -> np.ndarray:
    """``[kh, kw, cin, cout]`` as ``[cin, kh, kw reversed, cout]``: what one input
    channel's event reads, in the order of the output pixels it reaches."""
    return np.ascontiguousarray(kernel.transpose(2, 0, 1, 3)[:, :, ::-1])


def unflip_kernel(kf: np.ndarray) -> np.ndarray:
    """The inverse of ``flip_kernel``."""
    return np.ascontiguousarray(kf[:, :, ::-1].transpose(1, 2, 0, 3))


@njit(cache=True, nogil=True, fastmath={"contract"})
def sparse_conv_input_grad(dy, kr, kh, kw, sh, sw, pt, pl, dx, r0, r1):  # noqa: C901 - a
    # compiled loop nest, kept whole so the events' rows stay in registers and cache
    """The input gradient of a channels-last convolution, output gradient event by event:
    ``dx[r, y, x, :] += dy[r, oy, ox, f] * kernel[ky, kx, :, f]``. Pays when ``dy`` is
    mostly zeros: behind a max-pool only each window's maximum gets a gradient (a quarter,
    for 2 x 2). ``kr`` is the kernel as ``[cout, kh * kw * cin]`` (``kernel_rows``): per
    output pixel, the events' kernels are summed as whole contiguous rows (one long
    vectorised loop each), and the sum is added into the input once."""
    _, oh, ow, cout = dy.shape
    _, h, w, cin = dx.shape
    size = kr.shape[1]
    rows = dx.reshape(dx.shape[0], h, w * cin)
    acc = np.empty(size, np.float32)
    fs = np.empty(cout, np.int64)
    gs = np.empty(cout, np.float32)
    for r in range(r0, r1):
        rows[r] = 0.0
        for oy in range(oh):
            for ox in range(ow):
                m = 0
                for f in range(cout):
                    if dy[r, oy, ox, f] != 0.0:
                        fs[m] = f
                        gs[m] = dy[r, oy, ox, f]
                        m += 1
                x0 = ox * sw - pl
                kx0 = max(0, -x0)
                n = (min(kw, w - x0) - kx0) * cin  # the field's width inside the input
                if m == 0 or n <= 0:
                    continue
                acc[:] = 0.0
                for j in range(m):
                    g = gs[j]
                    k = kr[fs[j]]
                    for i in range(size):
                        acc[i] += g * k[i]
                for ky in range(kh):
                    y = oy * sh - pt + ky
                    if y < 0 or y >= h:
                        continue
                    out = rows[r, y, (x0 + kx0) * cin:(x0 + kx0) * cin + n]
                    a = acc[(ky * kw + kx0) * cin:(ky * kw + kx0) * cin + n]
                    for i in range(n):
                        out[i] += a[i]


def kernel_rows(kernel: np.ndarray) -> np.ndarray:
    """``[kh, kw, cin, cout]`` as ``[cout, kh * kw * cin]`` for ``sparse_conv_input_grad``."""
    return np.ascontiguousarray(kernel.reshape(-1, kernel.shape[3]).T)


@njit(cache=True, nogil=True)
def col2im_rows(cols, kh, kw, sh, sw, pt, pl, oh, ow, dx, s, e):
    """The rate runtime's col2im for images ``s:e``, whose rows start at ``cols[0]`` (a
    chunk of the input gradient, while it is in cache)."""
    for b in range(s, e):
        dx[b] = 0.0
        _image_cols(dx, cols, b, (b - s) * oh * ow, kh, kw, sh, sw, pt, pl, oh, ow, True)


# The fused kernels take the neuron type's kernel as an argument; Numba cannot find such a
# specialisation in its disk cache from another process (it would write a new entry every
# run), so these two compile once per process instead (about a second each).
@njit(cache=False, nogil=True)
def recurrent_forward(fwd, ext, gain, nbias, wt, lbias, state, params, fcode, fa, out, saved,
                      rec, jbuf, prev, b0, b1):
    """A recurrent layer ``neurons <- linear <- delay(1) <- neurons`` over all steps in one
    call: ``rec[t] = W out[t-1] + lbias`` (event-driven over the spikes), ``J[t] = gain
    (ext[t] + rec[t]) + nbias``, then one step of the neuron type's ``fwd`` kernel. ``prev``
    holds the spikes of the step before the first (zeros at the start of an example)."""
    steps, _, n = ext.shape
    for t in range(steps):
        for b in range(b0, b1):
            for k in range(n):
                rec[t, b, k] = lbias[k]
            for j in range(n):
                v = out[t - 1, b, j] if t > 0 else prev[b, j]
                if v != 0.0:
                    for k in range(n):
                        rec[t, b, k] += v * wt[j, k]
            for k in range(n):
                jbuf[0, b, k] = gain[k] * (ext[t, b, k] + rec[t, b, k]) + nbias[k]
        fwd(jbuf, state, params, fcode, fa, out[t:t + 1], saved[t:t + 1], b0, b1)


@njit(cache=False, nogil=True)
def recurrent_backward(bwd, dy, w, gain, saved, params, code, a, fcode, fa, adj, dj, ds,
                       dybuf, djbuf, b0, b1):
    """The reverse of ``recurrent_forward``: ``dj[t]`` receives d loss / d J (raw, before
    ``gain``); the spikes' adjoint through the recurrent weights, ``ds = (gain dj[t]) W``,
    joins the next (earlier) step's output adjoint."""
    steps, _, n = dy.shape
    for b in range(b0, b1):
        for k in range(n):
            ds[b, k] = 0.0
    for t in range(steps - 1, -1, -1):
        for b in range(b0, b1):
            for k in range(n):
                dybuf[0, b, k] = dy[t, b, k] + ds[b, k]
        bwd(dybuf, saved[t:t + 1], params, code, a, fcode, fa, adj, djbuf, b0, b1)
        for b in range(b0, b1):
            for k in range(n):
                dj[t, b, k] = djbuf[0, b, k]
                djbuf[0, b, k] *= gain[k]
        ROWS_TIMES_MATRIX(djbuf[0], w, ds, b0, b1)


@njit(cache=True, nogil=True)
def rows_times_matrix(g, w, out, b0, b1):
    """``out[b] = g[b] @ w`` for rows ``b0:b1``: the reverse pass's product when no cblas is
    found (``batch x n x n`` per step; the surrogate makes ``g`` dense), two rows of ``g``
    and four of ``w`` per pass over ``out`` (measured 2x faster than one multiply-add per
    load and store)."""
    n, m = w.shape
    b = b0
    while b < b1:
        pair = b + 1 < b1
        o0, o1 = out[b], out[b + 1 if pair else b]  # an odd last row: o1 is o0, c = 0
        for j in range(m):
            o0[j] = 0.0
            o1[j] = 0.0
        k = 0
        while k + 4 <= n:
            a0, a1, a2, a3 = g[b, k], g[b, k + 1], g[b, k + 2], g[b, k + 3]
            if pair:
                c0, c1, c2, c3 = g[b + 1, k], g[b + 1, k + 1], g[b + 1, k + 2], g[b + 1, k + 3]
            else:
                c0 = c1 = c2 = c3 = 0.0
            if (a0 == 0.0 and a1 == 0.0 and a2 == 0.0 and a3 == 0.0 and c0 == 0.0
                    and c1 == 0.0 and c2 == 0.0 and c3 == 0.0):  # compact surrogates
                k += 4
                continue
            w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
            for j in range(m):
                x0, x1, x2, x3 = w0[j], w1[j], w2[j], w3[j]
                o0[j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                o1[j] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
            k += 4
        while k < n:
            a0 = g[b, k]
            c0 = g[b + 1, k] if pair else 0.0
            for j in range(m):
                o0[j] += a0 * w[k, j]
                o1[j] += c0 * w[k, j]
            k += 1
        b += 2


def _rows_times_matrix() -> object:
    """The fused reverse pass's product: OpenBLAS's sgemm called from the kernel (measured
    3x faster than ``rows_times_matrix`` on 128 x 128 x 128), or that loop without it."""
    from snngraph.runtimes.rate.blas import cblas_sgemm

    sgemm = cblas_sgemm()
    if sgemm is None:
        return rows_times_matrix

    @njit(cache=False, nogil=True)
    def blas_rows_times_matrix(g, w, out, b0, b1):
        if b1 > b0:  # row-major (101), no transposes (111); rows are contiguous
            sgemm(101, 111, 111, b1 - b0, w.shape[1], w.shape[0], 1.0, g[b0:].ctypes.data,
                  g.shape[1], w.ctypes.data, w.shape[1], 0.0, out[b0:].ctypes.data,
                  out.shape[1])

    return blas_rows_times_matrix


ROWS_TIMES_MATRIX = _rows_times_matrix()


@njit(cache=True, nogil=True)
def count_nonzero_rows(x, counts, r0, r1):
    """Nonzeros per row of ``x`` for rows ``r0:r1`` (the first pass of ``to_events``)."""
    for r in range(r0, r1):
        c = 0
        for j in range(x.shape[1]):
            if x[r, j] != 0.0:
                c += 1
        counts[r] = c


@njit(cache=True, nogil=True)
def fill_events(x, indptr, indices, values, r0, r1):
    """Column indices and values of the nonzeros of rows ``r0:r1`` (CSR)."""
    for r in range(r0, r1):
        k = indptr[r]
        for j in range(x.shape[1]):
            v = x[r, j]
            if v != 0.0:
                indices[k] = j
                values[k] = v
                k += 1


@njit(cache=True, nogil=True)
def events_forward(indptr, indices, values, wt, bias, has_bias, y, r0, r1):
    """``sparse_forward`` from the input's events (CSR): no zeros read at all."""
    n_out = wt.shape[1]
    for r in range(r0, r1):
        for k in range(n_out):
            y[r, k] = bias[k] if has_bias else 0.0
        for e in range(indptr[r], indptr[r + 1]):
            j, v = indices[e], values[e]
            for k in range(n_out):
                y[r, k] += v * wt[j, k]


@njit(cache=True, nogil=True)
def events_weight_grad(indptr, indices, values, dy, dwt, r0, r1):
    """``sparse_weight_grad`` from the input's events (CSR)."""
    n_out = dy.shape[1]
    for r in range(r0, r1):
        for e in range(indptr[r], indptr[r + 1]):
            j, v = indices[e], values[e]
            for k in range(n_out):
                dwt[j, k] += v * dy[r, k]


lif_encode_row = jit(_lif_encode_row)  # the processes' own row kernels, compiled
poisson_row = jit(_poisson_row)

__all__ = ["col2im_rows", "count_nonzero_rows", "density", "events_forward",
           "events_weight_grad", "fill_events", "flip_kernel", "lif_encode_steps",
           "poisson_steps", "recurrent_backward", "recurrent_forward", "rows_times_matrix",
           "sparse_conv", "sparse_conv_kernel_grad", "sparse_forward", "sparse_weight_grad",
           "unflip_kernel"]


@njit(cache=True, nogil=True)
def lif_encode_steps(x, v, fired, out, counts, a_mem, v_th, v_leak, v_reset, amplitude,
                     first_only, b0, b1):
    """The numba runtime's LIF encoder (``lif_encode_row``, the same arithmetic) for all
    ``out.shape[0]`` steps of examples ``b0:b1`` in one call; ``x`` is ``[T, B, n]``, or
    ``[1, B, n]`` for an input held over the steps; ``counts[t, b]``: the spikes of each
    row (read while the row is in cache, so the events need no scan)."""
    one = x.shape[0] == 1
    for b in range(b0, b1):
        for t in range(out.shape[0]):
            row = out[t, b]
            lif_encode_row(x[0 if one else t, b], v[b], fired[b], row, a_mem, v_th, v_leak,
                           v_reset, amplitude, first_only)
            counts[t, b] = _count_row(row)


@njit(cache=True, nogil=True)
def poisson_steps(x, out, counts, p_scale, amplitude, seed, op_id, examples, t0, b0, b1):
    """The numba runtime's Poisson draw (``poisson_row``: a counter hash of seed, op,
    example and step, so both runtimes draw the same spikes) for all steps of examples
    ``b0:b1``; ``examples[b]`` is example ``b``'s index in the dataset and ``t0`` the
    first step's index. ``x`` and ``counts`` as in ``lif_encode_steps``."""
    one = x.shape[0] == 1
    for b in range(b0, b1):
        for t in range(out.shape[0]):
            row = out[t, b]
            poisson_row(x[0 if one else t, b], row, p_scale, amplitude, seed, op_id,
                        examples[b], t0 + t)
            counts[t, b] = _count_row(row)


@njit(cache=True, nogil=True, inline="always")
def _count_row(row):
    c = 0
    for j in range(row.shape[0]):
        c += row[j] != 0.0
    return c
