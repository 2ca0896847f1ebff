"""Forward and reverse rules of the rate runtime, one per op kind.

A rule has ``forward(ctx, op, x) -> (y, saved)`` and ``backward(ctx, op, saved, dy,
need_dx) -> (dx, {param key: gradient})``. ``x`` is the op's summed input and ``y`` its
output, both ``[rows, size]`` float32; ``saved`` is whatever the backward pass needs.
``ctx`` gives ``param(key)``, ``dt`` and ``training``. Inputs, host functions and
processes have no backward (nothing upstream of them to train).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes import conv_transpose
from snngraph.runtimes.rate import blas, kernels
from snngraph.schemas.ir import registrar

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError, op_origin
from snngraph.geometry import pad_before

RULES: dict[str, Any] = {}


def where(op: Any) -> str:
    """The user's objects behind an op, with where each was created, for messages."""
    return op_origin(op)


rule = registrar(RULES, make=lambda cls: cls())
"""``@rule("sum", "delay")``: register a rule class (one instance per kind)."""


@rule("probe")
class ProbeRule:
    """A probe passes its target's value on; a weights probe reports the weights."""

    def forward(self, ctx, op, x):
        if op.attr == "weights":
            target = ctx.ir.op(op.target)
            w = ctx.param(getattr(target, "weights", None) or target.kernel)
            return np.broadcast_to(w.reshape(1, -1), (ctx.rows, w.size)), None
        if op.attr not in ("output", "input", "decoded_output"):
            raise CompileError(f"{op_origin(op)}: probes {op.attr!r}, a state variable the "
                               "rate runtime (steady state) does not have; probe the output, "
                               "or run the network on the numba backend")
        return x, None

    def backward(self, ctx, op, saved, dy, need_dx):
        return (None if op.attr == "weights" else dy), {}


@rule("sum", "delay")
class Identity:
    def forward(self, ctx, op, x):
        if x is None:  # nothing feeds it (e.g. a probed input left unconnected)
            x = np.zeros((ctx.rows, op.size), np.float32)
        return x, None

    def backward(self, ctx, op, saved, dy, need_dx):
        return dy, {}


@rule("synapse")
class SteadySynapse:
    """A filter at steady state scales by its DC gain (1 for Lowpass, Alpha)."""

    def forward(self, ctx, op, x):
        gain = spec_from_dict(op.synapse).dc_gain()
        return (x if gain == 1.0 else x * np.float32(gain)), gain

    def backward(self, ctx, op, gain, dy, need_dx):
        return (dy if gain == 1.0 else dy * np.float32(gain)), {}


@rule("linear")
class Linear:
    """``y = x W^T + b`` (2-D ``W``) or ``y = x * w + b`` (1-D: elementwise)."""

    def forward(self, ctx, op, x):
        w = ctx.param(op.weights)
        if x is None:  # nothing feeds it: the bias alone
            x = np.zeros((ctx.rows, int(np.prod(op.shape_in))), np.float32)
        y = x * w if w.ndim == 1 else x @ w.T
        if op.bias:
            y += ctx.param(op.bias)
        return y, x

    def backward(self, ctx, op, x, dy, need_dx):
        w = ctx.param(op.weights)
        grads = {op.weights: (dy * x).sum(0) if w.ndim == 1 else dy.T @ x}
        if getattr(op, "zero_diagonal", False):
            np.fill_diagonal(grads[op.weights], 0.0)
        if op.bias:
            grads[op.bias] = dy.sum(0)
        dx = None if not need_dx else (dy * w if w.ndim == 1 else dy @ w)
        return dx, grads


def _nhwc(op, x):
    """``x`` [rows, size] as images [rows, h, w, c] (moving channels last if needed)."""
    shape = op.shape_in
    img = x.reshape(len(x), *shape)
    return img if op.channels_last else np.ascontiguousarray(img.transpose(0, 2, 3, 1))


def _geometry(op, kh, kw):
    h, w = (op.shape_in[0], op.shape_in[1]) if op.channels_last else op.shape_in[1:]
    oh, ow = (op.shape[0], op.shape[1]) if op.channels_last else op.shape[1:]
    sh, sw = op.strides
    return (oh, ow, sh, sw, pad_before(h, kh, sh, op.padding), pad_before(w, kw, sw, op.padding))


def _flat_out(op, y):
    """Images [rows, h, w, c] (outputs, or gradients of inputs) back to [rows, size] in
    the op's layout."""
    if not op.channels_last:
        y = y.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(y).reshape(len(y), -1)


@rule("conv2d")
class Conv2d:
    """im2col + one BLAS product: ``y[(b,oy,ox), f] = sum cols[(b,oy,ox), (ky,kx,c)]
    K[(ky,kx,c), f]``."""

    def forward(self, ctx, op, x):
        kernel = ctx.param(op.kernel)
        kh, kw, cin, cout = kernel.shape
        oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
        img = _nhwc(op, x)
        cols = ctx.buffer(f"{op.name}.cols", (len(x) * oh * ow, kh * kw * cin))
        kernels.im2col(img, kh, kw, sh, sw, pt, pl, oh, ow, cols)
        y = ctx.buffer(f"{op.name}.y", (len(x) * oh * ow, cout))
        blas.matmul(cols, kernel.reshape(-1, cout), y)
        if op.bias:
            kernels.add_bias(y, ctx.param(op.bias))
        return _flat_out(op, y.reshape(len(x), oh, ow, cout)), (cols, img.shape)

    def backward(self, ctx, op, saved, dy, need_dx):
        cols, in_shape = saved
        kernel = ctx.param(op.kernel)
        kh, kw, cin, cout = kernel.shape
        oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
        dy = _nhwc_out(op, dy).reshape(-1, cout)
        grads = {op.kernel: blas.matmul_tn(cols, dy).reshape(kernel.shape)}
        if op.bias:
            grads[op.bias] = kernels.column_sums(dy)
        if not need_dx:
            return None, grads
        dcols = ctx.buffer(f"{op.name}.cols", cols.shape)  # cols is no longer needed
        blas.matmul(dy, np.ascontiguousarray(kernel.reshape(-1, cout).T), dcols)
        dx = ctx.buffer(f"{op.name}.dx", in_shape)
        kernels.col2im(dcols, kh, kw, sh, sw, pt, pl, oh, ow, dx)
        return _flat_out(op, dx), grads


def _nhwc_out(op, dy):
    img = dy.reshape(len(dy), *op.shape)
    return img if op.channels_last else np.ascontiguousarray(img.transpose(0, 2, 3, 1))


@rule("conv_transpose2d")
class ConvTranspose2d:
    """One matrix product per kernel tap onto a canvas (``runtimes/conv_transpose.py``);
    the reverse rule is the convolution it is the transpose of."""

    def forward(self, ctx, op, x):
        kernel = ctx.param(op.kernel)
        strides, pads, out_hw = transpose_geometry(op, kernel)
        img = _nhwc(op, x)
        y = conv_transpose.forward(img, kernel, strides, pads, out_hw)
        if op.bias:
            y = y + ctx.param(op.bias)
        return _flat_out(op, y), img

    def backward(self, ctx, op, img, dy, need_dx):
        kernel = ctx.param(op.kernel)
        strides, pads, _ = transpose_geometry(op, kernel)
        g = _nhwc_out(op, dy)
        dx, dk = conv_transpose.backward(img, kernel, strides, pads, g)
        grads = {op.kernel: dk}
        if op.bias:
            grads[op.bias] = g.reshape(-1, g.shape[3]).sum(axis=0)
        return (_flat_out(op, dx) if need_dx else None), grads


def transpose_geometry(op, kernel) -> tuple:
    """``(strides, pads, output (height, width))`` of a ``conv_transpose2d`` op: the pads
    of the convolution from its output back to its input."""
    s = op.shape
    out_hw = (s[0], s[1]) if op.channels_last else (s[1], s[2])
    pads = tuple(pad_before(n, k, st, op.padding)
                 for n, k, st in zip(out_hw, kernel.shape[:2], op.strides))
    return tuple(op.strides), pads, out_hw


@rule("pool2d")
class Pool2d:
    """avg and sum: a fixed linear map (window sums); max: the gradient goes to the
    window's winner."""

    def forward(self, ctx, op, x):
        (ph, pw) = op.pool_size
        oh, ow, sh, sw, pt, pl = _geometry(op, ph, pw)
        img = _nhwc(op, x)
        if op.pool == "max":  # buffers: large fresh arrays cost page faults every batch
            y = ctx.buffer(f"{op.name}.y", (len(x), oh, ow, img.shape[3]))
            if ph * pw > np.iinfo(np.int16).max:
                raise CompileError(f"{where(op)}: a max-pool window of {ph} x {pw} "
                                   "inputs is too large to train (at most 32767)")
            arg = ctx.buffer(f"{op.name}.arg", y.shape, np.int16)
            kernels.max_pool(img, ph, pw, sh, sw, pt, pl, y, arg)
            return _flat_out(op, y), (arg, img.shape)
        cols = np.empty((len(x) * oh * ow, ph * pw * img.shape[3]), np.float32)
        kernels.im2col(img, ph, pw, sh, sw, pt, pl, oh, ow, cols)
        y = cols.reshape(len(x), oh, ow, ph * pw, img.shape[3]).sum(3)
        scale = _window_scale(op, img.shape, ph, pw) if op.pool == "avg" else np.float32(1.0)
        return _flat_out(op, y * scale), (scale, img.shape)

    def backward(self, ctx, op, saved, dy, need_dx):
        if not need_dx:
            return None, {}
        (ph, pw) = op.pool_size
        oh, ow, sh, sw, pt, pl = _geometry(op, ph, pw)
        dimg = _nhwc_out(op, dy)
        if op.pool == "max":
            arg, in_shape = saved
            dx = ctx.buffer(f"{op.name}.dx", (len(dy), int(np.prod(in_shape[1:]))))
            kernels.max_pool_grad(np.ascontiguousarray(dimg), arg, ph, pw, sh, sw, pt, pl,
                                  dx.reshape(in_shape))
            return _flat_out(op, dx.reshape(in_shape)), {}
        scale, in_shape = saved
        c = in_shape[3]
        dcols = np.broadcast_to((dimg * scale)[:, :, :, None, :],  # scale: [1, oh, ow, 1]
                                (len(dy), oh, ow, ph * pw, c)).reshape(-1, ph * pw * c)
        dx = np.empty(in_shape, np.float32)
        kernels.col2im(np.ascontiguousarray(dcols), ph, pw, sh, sw, pt, pl, oh, ow, dx)
        return _flat_out(op, dx), {}


def _window_scale(op, shape, ph, pw):
    """1 / (inputs per window) as [1, oh, ow, 1]: padding does not count, as in
    TensorFlow and the numba runtime (windows at a 'same' border average fewer)."""
    oh, ow, sh, sw, pt, pl = _geometry(op, ph, pw)
    ones = np.ones((1, shape[1], shape[2], 1), np.float32)
    cols = np.empty((oh * ow, ph * pw), np.float32)
    kernels.im2col(ones, ph, pw, sh, sw, pt, pl, oh, ow, cols)
    return (1.0 / cols.sum(axis=1)).astype(np.float32).reshape(1, oh, ow, 1)


@rule("slice")
class Slice:
    def forward(self, ctx, op, x):
        return x[:, list(op.indices)], x.shape

    def backward(self, ctx, op, shape, dy, need_dx):
        dx = np.zeros(shape, np.float32)
        np.add.at(dx, (slice(None), list(op.indices)), dy)  # indices may repeat
        return dx, {}


@rule("scatter")
class Scatter:
    def forward(self, ctx, op, x):
        y = np.zeros((len(x), op.size), np.float32)
        np.add.at(y, (slice(None), list(op.indices)), x)
        return y, None

    def backward(self, ctx, op, saved, dy, need_dx):
        return dy[:, list(op.indices)], {}


@rule("neurons")
class Neurons:
    """``J = gain * x + bias``, ``y = rates(J)``; backward through ``rate_grad``
    (soft-thresholded for the LIF family when the op has ``smoothing``)."""

    def forward(self, ctx, op, x):
        if x is None:
            x = np.zeros((ctx.rows, op.size), np.float32)
        return ctx.curve(op)(ctx, np.ascontiguousarray(x, np.float32), ctx.param(op.gain),
                             ctx.param(op.bias))

    def backward(self, ctx, op, dydj, dy, need_dx):
        dx = ctx.buffer(f"{op.name}.dx", dy.shape)
        db = ctx.buffer(f"{op.name}.db", (kernels.THREADS, dy.shape[1]))
        kernels.neuron_grad(np.ascontiguousarray(dy), dydj, ctx.param(op.gain), dx, db)
        return (dx if need_dx else None), {op.bias: db.sum(0)}


@rule("input")
class Input:
    def forward(self, ctx, op, x):
        fed = ctx.feeds.get(op.name)
        if fed is None:
            fed = np.broadcast_to(ctx.param(op.default), (ctx.rows, op.size))
        return np.asarray(fed, np.float32), None


@rule("host_fn")
class HostFn:
    """A Python function: called at ``t = dt`` (one step), per row when it has an input.
    No gradient passes through it."""

    def forward(self, ctx, op, x):
        from snngraph.runtimes.numba_cpu.dataflow import host_output

        fn = ctx.callables[op.fn]
        if op.size_in == 0:
            out = host_output(op, fn(ctx.dt), 0, ctx.dt).reshape(1, -1)
            return np.broadcast_to(out, (ctx.rows, op.size)), None
        return np.array([host_output(op, fn(ctx.dt, row), 0, ctx.dt) for row in x],
                        np.float32).reshape(len(x), op.size), None

    def backward(self, ctx, op, saved, dy, need_dx):
        return None, {}


@rule("process")
class ProcessRule:
    def forward(self, ctx, op, x):
        fed = ctx.feeds.get(op.name)
        if fed is not None:
            return np.asarray(fed, np.float32), None
        if op.divide_by is not None:  # an ensemble's noise: no node to feed
            raise CompileError(f"{op_origin(op)}: its noise ({op.process['type']}) has no "
                               "steady state the rate runtime can evaluate\n  fix: run it on "
                               "the numba runtime, or set the ensemble's noise to None to "
                               "train it at rate")
        raise CompileError(f"{op_origin(op)}: a {op.process['type']} process has no steady state "
                           f"the rate runtime can evaluate; feed its node data instead "
                           f"(sim.fit(x={{node: array}}, ...))")

    def backward(self, ctx, op, saved, dy, need_dx):
        return None, {}  # its value is data: no gradient passes to what feeds it
