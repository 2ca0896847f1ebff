"""A plain-numpy evaluator of a program's steady state (rate mode), for tests and as
the oracle other runtimes are checked against. Not fast; not a simulator.

Synapses and delays are identity at steady state; every neuron op outputs its rate
curve ``amplitude * rates(gain * J + bias)``; inputs are ``{op name: [batch, size]}``.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.optimize import conv2d_reference
from snngraph.runtimes import conv_transpose
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError
from snngraph.geometry import pad_images

RULES: dict[str, Callable] = {}
rule = ops.registrar(RULES)
"""``@rule("linear")``: ``fn(ir, op, x, inputs, batch)``, an op kind's steady state."""


def evaluate(ir: IR, inputs: dict[str, np.ndarray], batch: int = 1) -> dict[str, np.ndarray]:
    """Steady-state value of every op (keyed by op name), for a feed-forward IR."""
    values: dict[str, np.ndarray] = {}
    for name in nx.topological_sort(ir.graph):
        op = ir.op(name)
        ins = ir.inputs(name)
        x = sum((values[i] for i in ins), np.zeros((batch, *_in_shape(ir, op, ins))))
        if op.op not in RULES:
            raise CompileError(f"reference evaluator: no rule for op {op.op!r} ({name})")
        values[name] = RULES[op.op](ir, op, x, inputs, batch)
    return values


def _in_shape(ir: IR, op: ops.Op, ins: list[str]) -> tuple[int, ...]:
    if ins:
        return (ir.op(ins[0]).size,)
    return (getattr(op, "size_in", 0) or op.size,)


@rule("input")
def _input(ir, op, x, inputs, batch):
    if op.name in inputs:
        return np.asarray(inputs[op.name], dtype=float).reshape(batch, -1)
    return np.broadcast_to(ir.params[op.default], (batch, op.size)).astype(float)


@rule("sum", "synapse", "delay", "probe")
def _identity(ir, op, x, inputs, batch):
    return x.reshape(batch, -1)


@rule("linear")
def _linear(ir, op, x, inputs, batch):
    w = ir.params[op.weights]
    y = x.reshape(batch, -1) * w if w.ndim == 1 else x.reshape(batch, -1) @ w.T
    return y + ir.params[op.bias] if op.bias else y


@rule("conv2d")
def _conv(ir, op, x, inputs, batch):
    y = conv2d_reference(x.reshape(batch, *op.shape_in), ir.params[op.kernel], op)
    if op.bias:
        b = ir.params[op.bias]
        y = y + (b if op.channels_last else b[:, None, None])
    return y.reshape(batch, -1)


@rule("conv_transpose2d")
def _conv_transpose(ir, op, x, inputs, batch):
    from snngraph.runtimes.rate.vjp import transpose_geometry

    kernel = ir.params[op.kernel]
    img = x.reshape(batch, *op.shape_in)
    img = img if op.channels_last else img.transpose(0, 2, 3, 1)
    y = conv_transpose.forward(img, kernel, *transpose_geometry(op, kernel))
    if op.bias:
        y = y + ir.params[op.bias]
    y = y if op.channels_last else y.transpose(0, 3, 1, 2)
    return y.reshape(batch, -1)


@rule("pool2d")
def _pool(ir, op, x, inputs, batch):
    img = x.reshape(batch, *op.shape_in)
    if not op.channels_last:
        img = np.moveaxis(img, 1, -1)
    (ph, pw), (sh, sw) = op.pool_size, op.strides
    h, w = (op.shape[0], op.shape[1]) if op.channels_last else op.shape[1:]
    valid = np.ones(img.shape[:3] + (1,))
    # TensorFlow's 'same': padding never wins a max or counts in a mean
    img, valid = (pad_images(a, (ph, pw), (sh, sw), op.padding, fill) for a, fill in
                  ((img, -np.inf if op.pool == "max" else 0.0), (valid, 0.0)))
    windows, counts = ([a[:, i:i + sh * h:sh, j:j + sw * w:sw, :] for i in range(ph)
                        for j in range(pw)] for a in (img, valid))
    if op.pool == "max":
        out = np.max(windows, axis=0)
    else:
        out = np.sum(windows, axis=0)
        if op.pool == "avg":
            out = out / np.sum(counts, axis=0)
    if not op.channels_last:
        out = np.moveaxis(out, -1, 1)
    return out.reshape(batch, -1)


@rule("slice")
def _slice(ir, op, x, inputs, batch):
    return x.reshape(batch, -1)[:, list(op.indices)]


@rule("scatter")
def _scatter(ir, op, x, inputs, batch):
    out = np.zeros((batch, op.size))
    np.add.at(out, (slice(None), list(op.indices)), x.reshape(batch, -1))  # repeats add up
    return out


@rule("neurons")
def _neurons(ir, op, x, inputs, batch):
    J = ir.params[op.gain] * x.reshape(batch, -1) + ir.params[op.bias]
    return spec_from_dict(op.neuron).rates(J, ir.dt)
