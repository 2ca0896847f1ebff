"""Neuron ops through time: the neuron types' ``bptt_kernels`` over all steps of a
minibatch (the forward scan and its reverse), their state carried across segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from snngraph.runtimes.bptt.values import Value, blocks
from snngraph.runtimes.numba_cpu.backend import jit, parallel
from snngraph.runtimes.rate.vjp import where as _where

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError


@dataclass
class NeuronKernels:
    """A neuron op's compiled ``bptt_kernels`` with its parameters at the program's dt."""

    forward: Any
    backward: Any
    params: np.ndarray
    saved: int
    """Values saved per step and neuron for the reverse pass."""
    surrogate: tuple[int, float]
    """The surrogate's ``(code, a)`` for the kernels."""
    initial: np.ndarray
    """The state at the first step of an example."""


def compile_neurons(op: Any, dt: float) -> NeuronKernels | None:
    """The op's kernels, or None (a stateless rate neuron runs the rate rule; a stateful
    one without kernels is an error when used)."""
    neuron = spec_from_dict(op.neuron)
    kernels = neuron.bptt_kernels()
    if kernels is None:
        return None
    forward, backward = kernels
    params = np.ascontiguousarray(neuron.kernel_params(op.size, dt), np.float32)
    surrogate = neuron.training_surrogate()
    return NeuronKernels(jit(forward), jit(backward), params, max(neuron.bptt_saved, 1),
                         surrogate.kernel_args() if surrogate is not None else (0, 1.0),
                         neuron.initial_state(op.size).astype(np.float32))


def check_trainable(op: Any) -> None:
    """A stateful neuron op without kernels cannot be trained through time."""
    neuron = spec_from_dict(op.neuron)
    if neuron.spiking or neuron.state:
        no_bptt(op)


def no_bptt(op: Any) -> None:
    neuron = spec_from_dict(op.neuron)
    raise CompileError(f"{_where(op)}: {type(neuron).__name__} neurons cannot be trained "
                       "through time (no surrogate-gradient rule); use sg.Leaky, sg.CubaLIF or "
                       "sg.LI, or train with method='rate'")


def spike_code(m: Any, name: str) -> tuple[int, float]:
    """The forward spike's (code, a): the true step, or the smooth stand-in."""
    return m.neurons[name].surrogate if m.smooth else (-1, 0.0)


def run_forward(k: NeuronKernels, batch: int, J, state, fwd, out, saved) -> None:
    fcode, fa = fwd
    parallel([(k.forward, J, state, k.params, fcode, fa, out, saved, a, b)
              for a, b in blocks(batch, J.shape[0] * J.shape[2])])


def run_backward(k: NeuronKernels, batch: int, dy, saved, fwd, adj, dJ) -> None:
    code, a = k.surrogate
    fcode, fa = fwd
    parallel([(k.backward, dy, saved, k.params, code, a, fcode, fa, adj, dJ, b0, b1)
              for b0, b1 in blocks(batch, dy.shape[0] * dy.shape[2])])


def forward(m: Any, op: Any, x: Value | None) -> tuple[Value, Any]:
    """All steps of a neuron op at once; the tape is ``(saved, static input)``."""
    k = m.neurons[op.name]
    steps, batch = m.steps, m.batch
    J = current(m, op, x)
    J = J.reshape(-1, batch, op.size)  # [1, B, n] when the input is constant in time
    state = initial_state(m, op)
    out = m.buffer(f"{op.name}.out", (steps, batch, op.size))
    saved = m.buffer(f"{op.name}.saved", (steps, batch, k.saved, op.size))
    run_forward(k, batch, J, state, spike_code(m, op.name), out, saved)
    m.carry_out[op.name] = state
    return Value(out.reshape(steps * batch, op.size), False), (saved, x is not None and
                                                               x.static)


def backward(m: Any, op: Any, saved: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, dict]:
    """``d loss / d J`` over all steps, and the bias gradient."""
    steps, batch = m.steps, m.batch
    dy = np.ascontiguousarray(dy, np.float32).reshape(steps, batch, op.size)
    adj = adjoint(m, op)
    dJ = m.buffer(f"{op.name}.dJ", dy.shape)
    run_backward(m.neurons[op.name], batch, dy, saved, spike_code(m, op.name), adj, dJ)
    m.adj_out[op.name] = adj
    dJ = dJ.reshape(steps * batch, op.size)
    return dJ, {op.bias: dJ.sum(0)}


def current(m: Any, op: Any, x: Value | None) -> np.ndarray:
    gain, bias = m.param(op.gain), m.param(op.bias)
    if x is None:
        return np.ascontiguousarray(np.broadcast_to(bias, (m.batch, op.size)))
    if x.static:
        return np.ascontiguousarray(x.data * gain + bias, np.float32)
    J = m.buffer(f"{op.name}.J", (m.rows, op.size))
    np.multiply(x.data, gain, out=J)
    J += bias
    return J


def initial_state(m: Any, op: Any) -> np.ndarray:
    """A neuron op's state at the first step: carried in, or its initial state."""
    if op.name in m.carry_in:
        return m.carry_in[op.name].copy()
    # a copy (np.repeat): a broadcast view of one example is read-only
    return np.repeat(m.neurons[op.name].initial[None], m.batch, axis=0)


def adjoint(m: Any, op: Any) -> np.ndarray:
    """d loss / d (a neuron op's state after the last step): from the later steps, or
    zero at the end of the data."""
    if op.name in m.adj_in:
        return m.adj_in[op.name].copy()
    return np.zeros((m.batch,) + m.neurons[op.name].initial.shape, np.float32)
