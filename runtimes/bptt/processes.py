"""Processes through time, dispatched by the process class (``PROCESSES``, at the end). Each runs as
the numba runtime runs it (its kernels, the same draws), so training sees the spikes
``predict`` will. Nothing upstream of a process trains: the tape is None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from snngraph.runtimes.bptt import kernels
from snngraph.runtimes.bptt.values import Value, blocks
from snngraph.runtimes.numba_cpu.backend import parallel
from snngraph.runtimes.rate.vjp import where as _where

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError
from snngraph.processes import (
    ConstantCurrentLIFEncoder,
    PoissonEncoder,
    PresentInput,
    SpikeLatencyLIFEncoder,
)


def forward(m: Any, op: Any, x: Value | None) -> tuple[Value, Any]:
    process = spec_from_dict(op.process)
    run = PROCESSES.get(type(process))
    if run is None and op.divide_by is not None:  # an ensemble's noise
        raise CompileError(f"{_where(op)}: its noise ({type(process).__name__}) is not "
                           "trained through time\n  fix: set the ensemble's noise to None "
                           "to train it, or run it on the numba runtime")
    if run is None:
        raise CompileError(f"{_where(op)}: a {type(process).__name__} process cannot feed "
                           "training through time; feed the node's data instead")
    return run(m, process, op, x), None


def _present(m: Any, p: PresentInput, op: Any, x: Value | None) -> Value:
    """The numba runtime's rule, item ``int(t dt / T + 1e-7)`` at step ``t``; one row per
    example when a single item covers all the steps."""
    items = np.ascontiguousarray(p.inputs.reshape(len(p.inputs), -1), np.float32)
    t = np.arange(m.t0, m.t0 + m.steps)
    shown = (t * m.dt / p.presentation_time + 1e-7).astype(np.int64) % len(items)
    if (shown == shown[0]).all():
        return Value(np.repeat(items[shown[:1]], m.batch, axis=0), True)
    return Value(np.repeat(items[shown], m.batch, axis=0), False)


def _encoder_input(m: Any, op: Any, x: Value | None) -> np.ndarray:
    if x is None:  # an unconnected encoder reads zeros, as in the numba runtime
        x = Value(np.zeros((m.batch, op.size), np.float32), True)
    return np.ascontiguousarray(x.data, np.float32).reshape(-1, m.batch, op.size)


def _encode(m: Any, op: Any, work: Any, args: tuple, out: np.ndarray,
            counts: np.ndarray) -> Value:
    parallel([(work, *args, a, b) for a, b in blocks(m.batch, m.steps * op.size)])
    return Value(out.reshape(m.rows, -1), False, counts.reshape(-1))


def _poisson(m: Any, p: PoissonEncoder, op: Any, x: Value | None) -> Value:
    """The counter-hash draws of (seed, op, example, step) the numba runtime makes."""
    xs = _encoder_input(m, op, x)
    out = m.buffer(f"{op.name}.spikes", (m.steps, m.batch, op.size))
    counts = np.empty((m.steps, m.batch), np.int64)
    examples = (np.arange(m.batch) if m.examples is None
                else np.asarray(m.examples)).astype(np.int64)
    if examples.shape != (m.batch,):  # the kernel reads one index per example
        raise ValueError(f"BpttModel.examples: {examples.shape} indices for a "
                         f"minibatch of {m.batch} examples")
    args = (xs, out, counts, m.dt * p.f_max, p.amplitude, m.draw_seed(),
            m.op_ids[op.name], examples, m.t0)
    return _encode(m, op, kernels.poisson_steps, args, out, counts)


def _lif_encoder(m: Any, p: ConstantCurrentLIFEncoder, op: Any, x: Value | None) -> Value:
    """A LIF neuron per input; its state carries across checkpoint segments."""
    xs = _encoder_input(m, op, x)
    out = m.buffer(f"{op.name}.spikes", (m.steps, m.batch, op.size))
    counts = np.empty((m.steps, m.batch), np.int64)
    v, fired = m.carry_in.get(op.name, (np.zeros(xs.shape[1:], np.float64),
                                        np.zeros(xs.shape[1:], np.bool_)))
    v, fired = v.copy(), fired.copy()
    m.carry_out[op.name] = (v, fired)
    args = (xs, v, fired, out, counts, m.dt / p.tau_mem, p.v_th, p.v_leak, p.v_reset,
            p.amplitude, isinstance(p, SpikeLatencyLIFEncoder))
    return _encode(m, op, kernels.lif_encode_steps, args, out, counts)


PROCESSES: dict[type, Callable[[Any, Any, Any, Value | None], Value]] = {
    PresentInput: _present,
    PoissonEncoder: _poisson,
    ConstantCurrentLIFEncoder: _lif_encoder,
    SpikeLatencyLIFEncoder: _lif_encoder,
}
"""process class -> ``(model, process, op, input) -> Value`` (a new process adds its
function here)."""
