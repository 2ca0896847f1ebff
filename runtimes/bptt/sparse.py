"""Event-driven linear maps and convolutions over spike inputs (mostly zeros): the
forward pass and the weight gradient read only the events. Which ops may run this way,
and under which input density, is the compiler's plan (``plan_bptt``); the density is
measured per minibatch."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt import kernels
from snngraph.runtimes.bptt.values import Value, blocks
from snngraph.runtimes.numba_cpu.backend import parallel
from snngraph.runtimes.rate.vjp import _geometry

CONV_CHUNK = 16
"""Images per chunk of a sparse convolution's input gradient (BLAS product, then col2im
while the product is in cache)."""


def density(v: Value) -> float:
    if v.counts is not None:
        return float(v.counts.sum()) / max(v.data.size, 1)
    return kernels.density(v.data)


def events(x: np.ndarray, counts: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzeros of ``x`` as CSR (one scan, or none for the counts when they are
    known; the forward and the weight gradient then read only the events)."""
    parts = blocks(len(x), 1 << 20)
    if counts is None:
        counts = np.empty(len(x), np.int64)
        parallel([(kernels.count_nonzero_rows, x, counts, a, b) for a, b in parts])
    indptr = np.zeros(len(x) + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], np.int32)
    values = np.empty(indptr[-1], np.float32)
    parallel([(kernels.fill_events, x, indptr, indices, values, a, b) for a, b in parts])
    return indptr, indices, values


def linear_forward(m: Any, op: Any, x: np.ndarray, ev: tuple | None = None) -> np.ndarray:
    wt = np.ascontiguousarray(m.param(op.weights).T)
    bias = m.param(op.bias) if op.bias else np.zeros(op.size, np.float32)
    y = np.empty((len(x), op.size), np.float32)
    ev = events(x) if ev is None else ev
    parallel([(kernels.events_forward, *ev, wt, bias, bool(op.bias), y, a, b)
              for a, b in blocks(len(x), 1 << 20)])
    return y


def linear_backward(m: Any, op: Any, x: np.ndarray, dy: np.ndarray, need_dx: bool,
                    ev: tuple | None = None) -> tuple[np.ndarray | None, dict]:
    w = m.param(op.weights)
    parts = blocks(len(x), 1 << 20)
    sums = [np.zeros((w.shape[1], w.shape[0]), np.float32) for _ in parts]
    dy = np.ascontiguousarray(dy, np.float32)
    ev = events(x) if ev is None else ev
    parallel([(kernels.events_weight_grad, *ev, dy, part, a, b)
              for part, (a, b) in zip(sums, parts)])
    grads = {op.weights: np.ascontiguousarray(sum(sums).T)}
    if getattr(op, "zero_diagonal", False):
        np.fill_diagonal(grads[op.weights], 0.0)
    if op.bias:
        grads[op.bias] = dy.sum(0)
    return (dy @ w if need_dx else None), grads


def conv_forward(m: Any, op: Any, x: np.ndarray) -> np.ndarray:
    kernel = m.param(op.kernel)
    kh, kw, _, cout = kernel.shape
    oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
    img = x.reshape(len(x), *op.shape_in)
    bias = m.param(op.bias) if op.bias else np.zeros(cout, np.float32)
    y = m.buffer(f"{op.name}.y", (len(x), oh, ow, cout))
    kf = kernels.flip_kernel(kernel)
    parallel([(kernels.sparse_conv, img, kf, bias, bool(op.bias), sh, sw, pt, pl, y,
               a, b) for a, b in blocks(len(x), 1 << 20)])
    return y.reshape(len(x), -1)


def conv_backward(m: Any, op: Any, x: np.ndarray, dy: np.ndarray, need_dx: bool,
                  grad_sparse_below: float = 0.0) -> tuple[np.ndarray | None, dict]:
    """Kernel gradient event by event (input spikes). The input gradient: event by
    event too when the output gradient's density is under ``grad_sparse_below`` (behind
    a max-pool), else as the rate rule computes it, one BLAS product and col2im."""
    kernel = m.param(op.kernel)
    kh, kw, cin, cout = kernel.shape
    oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
    img = x.reshape(len(x), *op.shape_in)
    dy4 = np.ascontiguousarray(dy, np.float32).reshape(len(x), oh, ow, cout)
    parts = blocks(len(x), 1 << 20)
    sums = [np.zeros((cin, kh, kw, cout), np.float32) for _ in parts]
    parallel([(kernels.sparse_conv_kernel_grad, img, dy4, sh, sw, pt, pl, part, a, b)
              for part, (a, b) in zip(sums, parts)])
    grads = {op.kernel: kernels.unflip_kernel(sum(sums))}
    if op.bias:
        grads[op.bias] = dy4.reshape(-1, cout).sum(0)
    if not need_dx:
        return None, grads
    dx = m.buffer(f"{op.name}.dx", (len(x), *op.shape_in))
    if kernels.density(dy) < grad_sparse_below:
        kr = kernels.kernel_rows(kernel)
        parallel([(kernels.sparse_conv_input_grad, dy4, kr, kh, kw, sh, sw, pt, pl, dx,
                   a, b) for a, b in parts])
    else:
        _conv_input_grad_dense(m, op, dy4, dx, parts)
    return dx.reshape(len(x), -1), grads


def _conv_input_grad_dense(m: Any, op: Any, dy4: np.ndarray, dx: np.ndarray,
                           parts: list[tuple[int, int]]) -> None:
    """One BLAS product and col2im, in chunks of CONV_CHUNK images per thread (the
    product's output stays in cache for col2im, and memory holds a chunk of it, not all
    ``T * B`` images')."""
    kernel = m.param(op.kernel)
    kh, kw, cin, cout = kernel.shape
    oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
    kt = np.ascontiguousarray(kernel.reshape(-1, cout).T)
    dy2 = dy4.reshape(-1, cout)

    def chunks(a: int, b: int, k: int) -> None:
        cols = m.buffer(f"{op.name}.cols{k}", (CONV_CHUNK * oh * ow, kh * kw * cin))
        for s in range(a, b, CONV_CHUNK):
            e = min(s + CONV_CHUNK, b)
            part = cols[: (e - s) * oh * ow]
            np.matmul(dy2[s * oh * ow:e * oh * ow], kt, out=part)
            kernels.col2im_rows(part, kh, kw, sh, sw, pt, pl, oh, ow, dx, s, e)

    parallel([(chunks, a, b, k) for k, (a, b) in enumerate(parts)])
