"""``BpttModel``: a spiking program unrolled over T steps, differentiable by BPTT.

The forward pass runs the spiking network as the numba runtime does (real 0/1 spikes, the
neuron types' own update, state carried from step to step) over a minibatch, keeping what
the reverse pass needs; the reverse pass runs the rate runtime's VJP rules (vjp.py) and
the neurons' ``bptt_kernels`` backwards through time, the neuron's surrogate standing in
for the spike's derivative.

Layout: every value is time-major, ``[T * B, n]`` (row ``t * B + b``), so a stateless op
(linear, conv2d, pool2d, slice, ...) runs once over all steps as one matrix product, with
the same rule as rate training. A value that does not change over time (an image fed with
one step, and everything computed from it alone) stays ``[B, n]`` and is broadcast where
it meets time: the first convolution of W4 runs once per image, not once per step.

Ops in a cycle (a recurrent connection: neurons -> linear -> delay -> neurons) form a
*recurrent unit*, evaluated step by step in schedule order (the delay reads the previous
step); everything else runs op by op over all T steps (a neuron op as one scan kernel).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from snngraph.runtimes.bptt import kernels
from snngraph.runtimes.numba_cpu.backend import jit, op_ids, parallel
from snngraph.runtimes.rate.model import RateModel
from snngraph.runtimes.rate.vjp import RULES
from snngraph.runtimes.rate.vjp import where as _where

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError

# ops a recurrent unit may hold: their rules allocate fresh outputs at every call
STEPPABLE = {"neurons", "linear", "delay", "sum", "slice", "scatter", "probe"}
THREADS = 2
ENCODERS = {"PoissonEncoder", "ConstantCurrentLIFEncoder", "SpikeLatencyLIFEncoder"}
SPARSE_BELOW = 0.15
"""Input density under which a linear op over time runs event-driven (measured: the
dense BLAS product wins above about this)."""
FUSED_BACKWARD_BELOW = 3_000_000
"""A fused recurrent layer's reverse pass runs as one kernel (the spikes' adjoint through
W, batch x n x n per step, by sgemm from inside the kernel) below this much work per step,
and step by step with one BLAS product per step above it (measured with the kernel's own
loop, before sgemm: W3's 256 x 100 x 100 ran 20 % faster fused, W5's 128^3 the same)."""
SPARSE_CONV_BELOW = 0.13
"""The same for a convolution (its dense form is im2col and one BLAS product). Measured on
W4's second convolution after 3 epochs of training, at 9.1 % input density: forward 259 ms
a batch event by event against 380-400 ms dense, backward 640-660 against 745-822 ms. The
event-driven cost grows with the density (the input gradient's share does not), which puts
the crossover near 13 %."""

SPARSE_GRAD_BELOW = 0.4
"""Output-gradient density under which a sparse convolution's input gradient runs event
by event (behind a 2 x 2 max-pool it is 0.25; measured on W4's second convolution: 270 ms
a batch against 430-670 ms for the BLAS product and col2im)."""

CONV_CHUNK = 16
"""Images per chunk of a sparse convolution's input gradient (BLAS product, then col2im
while the product is in cache)."""


class SparseInput:
    """The tape of an op run event-driven: its (mostly zero) input, and for a linear op
    its events (CSR)."""

    __slots__ = ("events", "x")

    def __init__(self, x: np.ndarray, events: tuple | None = None):
        self.x, self.events = x, events


class SegmentTape:
    """What the reverse pass of a checkpointed forward keeps: the feeds, the segments,
    the state at each segment's start and the outputs' names."""

    def __init__(self, feeds: dict, segments: list, carries: list, outputs: list,
                 batch: int, key: tuple):
        self.feeds, self.segments, self.carries = feeds, segments, carries
        self.outputs, self.batch, self.key = outputs, batch, key


class FusedLayer:
    """The tape of a fused recurrent layer: its ops and the neurons' saved values."""

    __slots__ = ("layer", "saved")

    def __init__(self, layer: tuple[str, str, str], saved: np.ndarray):
        self.layer, self.saved = layer, saved


class Value:
    """An op's value: ``data`` is ``[T * B, n]``, or ``[B, n]`` when ``static``;
    ``counts``, when the op that made it knows them, the nonzeros of each row (an
    encoder's spikes: a linear map reading them goes event-driven without scanning)."""

    __slots__ = ("counts", "data", "static")

    def __init__(self, data: np.ndarray, static: bool, counts: np.ndarray | None = None):
        self.data, self.static, self.counts = data, static, counts


class BpttModel(RateModel):
    def __init__(self, program: Any, trainable: set[str] | None = None,
                 seed: int | None = None):
        ir = program.ir
        self.ir, self.dt, self.callables = ir, ir.dt, ir.callables
        self.order = list(ir.schedule or nx.topological_sort(ir.graph))
        self.op_ids = op_ids(ir)
        self.seed = seed if seed is not None else (ir.seed or 0)
        """Random draws (Poisson encoders) are the numba runtime's counter hash of (seed,
        op, example, step): with the Simulator's seed, training draws what ``predict``
        draws for the same example."""
        self.noise = 0
        """0: ``predict``'s draws; training sets epoch + 1 for new noise every epoch."""
        self.examples: np.ndarray | None = None
        """The minibatch's example indices in the dataset (None: 0 .. batch - 1)."""
        self.t0 = 0
        """The index of the first step being run (segments: checkpoint_every)."""
        self.params = {k: np.ascontiguousarray(v, np.float32) for k, v in ir.params.items()
                       if np.asarray(v).dtype.kind in "fiub"}
        self.trainable = set(ir.owners) if trainable is None else set(trainable)
        self._curves: dict[str, Any] = {}
        self._buffers: dict[tuple, np.ndarray] = {}
        self.feeds: dict[str, np.ndarray] = {}
        self.rows = 0
        self.units = _units(ir, self.order)
        self.unit_of = {n: u for u in self.units for n in u}
        self.neurons = {n: _neuron(ir.op(n), ir.dt) for n in self.order if ir.op(n).op == "neurons"}
        self._specs = {n: spec_from_dict(ir.op(n).neuron) for n in self.neurons}
        self._surrogates = {n: _surrogate(s) for n, s in self._specs.items()}
        self._initials = {n: s.initial_state(ir.op(n).size).astype(np.float32)
                          for n, s in self._specs.items()}
        owns = {n: bool(self.trainable & set(_param_keys(ir.op(n)))) for n in self.order}
        self.needs_grad: dict[str, bool] = {}
        for unit in self.units:  # upstream of (or at) a trainable parameter
            need = any(owns[n] for n in unit) or any(
                self.needs_grad.get(i, False) for n in unit for i in ir.inputs(n)
                if i not in unit)
            for n in unit:
                self.needs_grad[n] = need
        self.steps = self.batch = 0
        self.carry_in: dict[Any, Any] = {}
        """State at the first step of the steps being run (segments: checkpoint_every)."""
        self.carry_out: dict[Any, Any] = {}
        self.adj_in: dict[Any, Any] = {}
        """Adjoints of that state from the later steps (the reverse pass of a segment)."""
        self.adj_out: dict[Any, Any] = {}
        self.fuse = True
        """Run recurrent layers (neurons <- linear <- delay <- neurons) as one kernel."""
        self.smooth = False
        """True: spikes are the surrogate's integral (for checking gradients)."""

    # ------------------------------------------------------------------ forward
    def forward_steps(self, feeds: dict[str, np.ndarray], outputs: list[str], steps: int,
                      batch: int) -> tuple[dict[str, Value], dict[str, Any]]:
        """Run ``steps`` steps of a minibatch of ``batch`` examples. ``feeds``: per input
        op ``[batch, steps or 1, size]``. Returns every needed op's Value and the tape."""
        self.steps, self.batch, self.rows = steps, batch, steps * batch
        self.feeds = {k: v if isinstance(v, tuple) else _time_major(v, steps)
                      for k, v in feeds.items()}
        self.carry_out = {}
        keep = set(self.needed(outputs))
        values: dict[str, Value] = {}
        tape: dict[str, Any] = {}
        for unit in self.units:
            if not keep & set(unit):
                continue
            if len(unit) == 1 and not self.ir.graph.has_edge(unit[0], unit[0]):
                name = unit[0]
                values[name], tape[name] = self._block_forward(name, values)
            elif self.fuse and self._layer(unit):
                self._fused_forward(self._layer(unit), values, tape)
            else:
                self._unit_forward(unit, values, tape)
        self.feeds = {}
        return values, tape

    def _input_sum(self, name: str, values: dict[str, Value]) -> Value | None:
        ins = [values[i] for i in self.ir.inputs(name)]
        if not ins:
            return None
        if all(v.static for v in ins):
            data = ins[0].data
            for v in ins[1:]:
                data = data + v.data
            return Value(data, True)
        if len(ins) == 1:
            return ins[0]
        total = None
        for v in ins:
            d = self._expand(v)
            total = d.copy() if total is None else _add(total, d)
        return Value(total, False)

    def _expand(self, v: Value) -> np.ndarray:
        """A value as ``[T * B, n]`` (a static one repeated at every step)."""
        if not v.static:
            return v.data
        return np.ascontiguousarray(np.broadcast_to(
            v.data[None], (self.steps,) + v.data.shape).reshape(self.rows, -1))

    def _block_forward(self, name: str, values: dict[str, Value]) -> tuple[Value, Any]:
        op = self.ir.op(name)
        x = self._input_sum(name, values)
        kind = op.op
        if kind == "input":
            fed = self.feeds.get(name)
            if fed is None:
                return Value(np.broadcast_to(self.param(op.default), (self.batch, op.size))
                             .astype(np.float32), True), None
            return Value(fed[0], fed[1]), None
        if kind == "neurons" and self.neurons[name] is not None:
            return self._neurons_forward(op, x)
        if kind == "neurons" and _stateful(op):
            _no_bptt(op)
        if kind == "delay":
            return self._delay_forward(op, x)
        if kind == "process":
            return self._process_forward(op, x)
        if kind == "synapse":
            raise CompileError(_where(op) + ": synaptic filters are not trained through time "
                               "yet; connect with synapse=None (or sg.Delay(1) for a "
                               "recurrent connection), or train with method='rate'")
        if kind not in RULES:
            raise CompileError(f"{_where(op)}: a {kind!r} op cannot be trained through time")
        if x is None or x.static:
            self.rows = self.batch if x is not None else self.rows
            y, saved = RULES[kind].forward(self, op, None if x is None else x.data)
            self.rows = self.steps * self.batch
            return Value(np.asarray(y), x is not None), (True, saved)
        if kind == "conv2d" and op.channels_last and \
                _density(x) < SPARSE_CONV_BELOW:
            return Value(self._sparse_conv(op, x.data), False), (False, SparseInput(x.data))
        if kind == "linear" and self.param(op.weights).ndim == 2 and \
                _density(x) < SPARSE_BELOW:
            events = self._events(x.data, x.counts)
            return Value(self._sparse_linear(op, x.data, events), False), \
                (False, SparseInput(x.data, events))
        y, saved = RULES[kind].forward(self, op, x.data)
        return Value(np.asarray(y), False), (False, saved)

    def _sparse_conv(self, op: Any, x: np.ndarray) -> np.ndarray:
        from snngraph.runtimes.rate.vjp import _geometry

        kernel = self.param(op.kernel)
        kh, kw, _, cout = kernel.shape
        oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
        img = x.reshape(len(x), *op.shape_in)
        bias = self.param(op.bias) if op.bias else np.zeros(cout, np.float32)
        y = self.buffer(f"{op.name}.y", (len(x), oh, ow, cout))
        kf = kernels.flip_kernel(kernel)
        parallel([(kernels.sparse_conv, img, kf, bias, bool(op.bias), sh, sw, pt, pl, y,
                   a, b) for a, b in _blocks(len(x), 1 << 20)])
        return y.reshape(len(x), -1)

    def _sparse_conv_backward(self, op: Any, x: np.ndarray, dy: np.ndarray,
                              need_dx: bool) -> tuple[np.ndarray | None, dict]:
        """Kernel gradient event by event (input spikes). The input gradient: event by
        event too when the output gradient is mostly zeros (behind a max-pool), else as
        the rate rule computes it, one BLAS product and col2im, in chunks of CONV_CHUNK
        images per thread (the product's output stays in cache for col2im, and memory
        holds a chunk of it, not all ``T * B`` images')."""
        from snngraph.runtimes.rate.vjp import _geometry

        kernel = self.param(op.kernel)
        kh, kw, cin, cout = kernel.shape
        oh, ow, sh, sw, pt, pl = _geometry(op, kh, kw)
        img = x.reshape(len(x), *op.shape_in)
        dy4 = np.ascontiguousarray(dy, np.float32).reshape(len(x), oh, ow, cout)
        blocks = _blocks(len(x), 1 << 20)
        parts = [np.zeros((cin, kh, kw, cout), np.float32) for _ in blocks]
        parallel([(kernels.sparse_conv_kernel_grad, img, dy4, sh, sw, pt, pl, part, a, b)
                  for part, (a, b) in zip(parts, blocks)])
        grads = {op.kernel: kernels.unflip_kernel(sum(parts))}
        if op.bias:
            grads[op.bias] = dy4.reshape(-1, cout).sum(0)
        if not need_dx:
            return None, grads
        dx = self.buffer(f"{op.name}.dx", (len(x), *op.shape_in))
        if kernels.density(dy) < SPARSE_GRAD_BELOW:
            kr = kernels.kernel_rows(kernel)
            parallel([(kernels.sparse_conv_input_grad, dy4, kr, kh, kw, sh, sw, pt, pl, dx,
                       a, b) for a, b in blocks])
            return dx.reshape(len(x), -1), grads
        kt = np.ascontiguousarray(kernel.reshape(-1, cout).T)
        dy2 = dy4.reshape(-1, cout)

        def chunks(a: int, b: int, k: int) -> None:
            cols = self.buffer(f"{op.name}.cols{k}", (CONV_CHUNK * oh * ow, kh * kw * cin))
            for s in range(a, b, CONV_CHUNK):
                e = min(s + CONV_CHUNK, b)
                part = cols[: (e - s) * oh * ow]
                np.matmul(dy2[s * oh * ow:e * oh * ow], kt, out=part)
                kernels.col2im_rows(part, kh, kw, sh, sw, pt, pl, oh, ow, dx, s, e)

        parallel([(chunks, a, b, k) for k, (a, b) in enumerate(blocks)])
        return dx.reshape(len(x), -1), grads

    def _events(self, x: np.ndarray, counts: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzeros of ``x`` as CSR (one scan, or none for the counts when they are
        known; the forward and the weight gradient then read only the events)."""
        blocks = _blocks(len(x), 1 << 20)
        if counts is None:
            counts = np.empty(len(x), np.int64)
            parallel([(kernels.count_nonzero_rows, x, counts, a, b) for a, b in blocks])
        indptr = np.zeros(len(x) + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(indptr[-1], np.int32)
        values = np.empty(indptr[-1], np.float32)
        parallel([(kernels.fill_events, x, indptr, indices, values, a, b) for a, b in blocks])
        return indptr, indices, values

    def _sparse_linear(self, op: Any, x: np.ndarray, events: tuple | None = None
                       ) -> np.ndarray:
        wt = np.ascontiguousarray(self.param(op.weights).T)
        bias = self.param(op.bias) if op.bias else np.zeros(op.size, np.float32)
        y = np.empty((len(x), op.size), np.float32)
        events = self._events(x) if events is None else events
        parallel([(kernels.events_forward, *events, wt, bias, bool(op.bias), y, a, b)
                  for a, b in _blocks(len(x), 1 << 20)])
        return y

    def _sparse_linear_backward(self, op: Any, x: np.ndarray, dy: np.ndarray,
                                need_dx: bool, events: tuple | None = None
                                ) -> tuple[np.ndarray | None, dict]:
        w = self.param(op.weights)
        blocks = _blocks(len(x), 1 << 20)
        parts = [np.zeros((w.shape[1], w.shape[0]), np.float32) for _ in blocks]
        dy = np.ascontiguousarray(dy, np.float32)
        events = self._events(x) if events is None else events
        parallel([(kernels.events_weight_grad, *events, dy, part, a, b)
                  for part, (a, b) in zip(parts, blocks)])
        grads = {op.weights: np.ascontiguousarray(sum(parts).T)}
        if getattr(op, "zero_diagonal", False):
            np.fill_diagonal(grads[op.weights], 0.0)
        if op.bias:
            grads[op.bias] = dy.sum(0)
        return (dy @ w if need_dx else None), grads

    def _neurons_forward(self, op: Any, x: Value | None) -> tuple[Value, Any]:
        forward, _, params, k = self.neurons[op.name]
        steps, batch = self.steps, self.batch
        J = self._current(op, x)
        J = J.reshape(-1, batch, op.size)  # [1, B, n] when the input is constant in time
        state = self._state(op)
        out = self.buffer(f"{op.name}.out", (steps, batch, op.size))
        saved = self.buffer(f"{op.name}.saved", (steps, batch, k, op.size))
        _run(forward, batch, J, state, params, self._fwd(op), out, saved)
        self.carry_out[op.name] = state
        return Value(out.reshape(steps * batch, op.size), False), (saved, x is not None and
                                                                   x.static)

    def _state(self, op: Any) -> np.ndarray:
        """A neuron op's state at the first step: carried in, or its initial state."""
        if op.name in self.carry_in:
            return self.carry_in[op.name].copy()
        # a copy (np.repeat): a broadcast view of one example is read-only
        return np.repeat(self._initial(op)[None], self.batch, axis=0)

    def _history(self, name: str, src_size: int, steps: int) -> np.ndarray:
        """The last ``steps`` steps of a delay's input before the first step (zeros at the
        start of an example)."""
        rows = steps * self.batch
        h = self.carry_in.get(("delay", name))
        return h if h is not None else np.zeros((rows, src_size), np.float32)

    def _keep_history(self, name: str, before: np.ndarray, x: np.ndarray, steps: int) -> None:
        rows = steps * self.batch
        self.carry_out[("delay", name)] = np.concatenate([before, x])[-rows:].copy()

    def _current(self, op: Any, x: Value | None) -> np.ndarray:
        gain, bias = self.param(op.gain), self.param(op.bias)
        if x is None:
            return np.ascontiguousarray(np.broadcast_to(bias, (self.batch, op.size)))
        if x.static:
            return np.ascontiguousarray(x.data * gain + bias, np.float32)
        J = self.buffer(f"{op.name}.J", (self.rows, op.size))
        np.multiply(x.data, gain, out=J)
        J += bias
        return J

    def _initial(self, op: Any) -> np.ndarray:
        return self._initials[op.name]

    def _delay_forward(self, op: Any, x: Value | None) -> tuple[Value, Any]:
        before = self._history(op.name, op.size, op.steps)
        full = np.concatenate([before, self._expand(x) if x is not None
                               else np.zeros((self.rows, op.size), np.float32)])
        self._keep_history(op.name, before, full[len(before):], op.steps)
        return Value(np.ascontiguousarray(full[: self.rows]), False), \
            x is not None and x.static

    def _process_forward(self, op: Any, x: Value | None) -> tuple[Value, Any]:
        """A process runs as the numba runtime runs it (its kernels, the same draws), so
        training sees the spikes ``predict`` will."""
        process = spec_from_dict(op.process)
        kind = op.process["type"]
        if kind == "PresentInput":
            return self._present(process, op), None
        if kind not in ENCODERS:
            raise CompileError(f"{_where(op)}: a {kind} process cannot feed training "
                               "through time; feed the node's data instead")
        if x is None:  # an unconnected encoder reads zeros, as in the numba runtime
            x = Value(np.zeros((self.batch, op.size), np.float32), True)
        xs = np.ascontiguousarray(x.data, np.float32).reshape(-1, self.batch, op.size)
        out = self.buffer(f"{op.name}.spikes", (self.steps, self.batch, op.size))
        counts = np.empty((self.steps, self.batch), np.int64)
        if kind == "PoissonEncoder":
            examples = (np.arange(self.batch) if self.examples is None
                        else np.asarray(self.examples)).astype(np.int64)
            if examples.shape != (self.batch,):  # the kernel reads one index per example
                raise ValueError(f"BpttModel.examples: {examples.shape} indices for a "
                                 f"minibatch of {self.batch} examples")
            args = (xs, out, counts, self.dt * process.f_max, process.amplitude,
                    self._draw_seed(), self.op_ids[op.name], examples, self.t0)
            work = kernels.poisson_steps
        else:
            v, fired = self.carry_in.get(op.name, (np.zeros(xs.shape[1:], np.float64),
                                                   np.zeros(xs.shape[1:], np.bool_)))
            v, fired = v.copy(), fired.copy()
            self.carry_out[op.name] = (v, fired)
            args = (xs, v, fired, out, counts, self.dt / process.tau_mem, process.v_th,
                    process.v_leak, process.v_reset, process.amplitude,
                    kind == "SpikeLatencyLIFEncoder")
            work = kernels.lif_encode_steps
        parallel([(work, *args, a, b) for a, b in _blocks(self.batch, self.steps * op.size)])
        return Value(out.reshape(self.rows, -1), False, counts.reshape(-1)), None

    def _draw_seed(self) -> int:
        """The seed of the counter hash: the run's own, or mixed with the training epoch
        (``noise``) so every epoch draws new spikes."""
        return (self.seed + (self.noise << 32)) % (1 << 63)

    def _present(self, p: Any, op: Any) -> Value:
        """PresentInput: the numba runtime's rule, item ``int(t dt / T + 1e-7)`` at step
        ``t``; one row per example when a single item covers all the steps."""
        items = np.ascontiguousarray(p.inputs.reshape(len(p.inputs), -1), np.float32)
        t = np.arange(self.t0, self.t0 + self.steps)
        shown = (t * self.dt / p.presentation_time + 1e-7).astype(np.int64) % len(items)
        if (shown == shown[0]).all():
            return Value(np.repeat(items[shown[:1]], self.batch, axis=0), True)
        return Value(np.repeat(items[shown], self.batch, axis=0), False)

    def _unit_forward(self, unit: list[str], values: dict[str, Value],
                      tape: dict[str, Any]) -> None:
        """A recurrent unit, step by step; each op's value is filled row block by row
        block, and its per-step tape kept in a list."""
        ir, batch = self.ir, self.batch
        for name in unit:
            op = ir.op(name)
            if op.op not in STEPPABLE:
                raise CompileError(
                    f"{_where(op)}: a {op.op!r} op inside a recurrent loop cannot be trained "
                    f"through time yet (loop: {', '.join(unit)}); recurrent connections may "
                    "hold dense or elementwise transforms")
            if op.op == "neurons" and self.neurons[name] is None:
                _no_bptt(op)
            values[name] = Value(np.zeros((self.rows, op.size), np.float32), False)
            tape[name] = [None] * self.steps
        states = {n: self._state(ir.op(n)) for n in unit if ir.op(n).op == "neurons"}
        history = {n: self._history(n, ir.op(n).size, ir.op(n).steps)
                   for n in unit if ir.op(n).op == "delay"}
        saved = {n: np.empty((self.steps, batch, self.neurons[n][3], ir.op(n).size),
                             np.float32) for n in states}
        for t in range(self.steps):
            rows = slice(t * batch, (t + 1) * batch)
            for name in unit:
                op = ir.op(name)
                if op.op == "delay":
                    if t >= op.steps:
                        src = ir.inputs(name)[0]
                        back = slice((t - op.steps) * batch, (t - op.steps + 1) * batch)
                        values[name].data[rows] = self._rows(values[src], back)
                    else:
                        values[name].data[rows] = history[name][t * batch:(t + 1) * batch]
                    continue
                x = None
                for i in ir.inputs(name):
                    part = self._rows(values[i], rows)
                    x = part.copy() if x is None else x + part
                if op.op == "neurons":
                    forward, _, params, _ = self.neurons[name]
                    J = (x * self.param(op.gain) + self.param(op.bias) if x is not None
                         else np.broadcast_to(self.param(op.bias), (batch, op.size)))
                    out = values[name].data[rows].reshape(1, batch, op.size)
                    J = np.ascontiguousarray(J, np.float32).reshape(1, batch, op.size)
                    _run(forward, batch, J, states[name], params, self._fwd(op), out,
                         saved[name][t:t + 1])
                    continue
                y, s = RULES[op.op].forward(self, op, x)
                values[name].data[rows] = y
                tape[name][t] = s
        for n in states:
            tape[n] = saved[n]
            self.carry_out[n] = states[n]
        for n in history:
            src = ir.inputs(n)[0]
            self._keep_history(n, history[n], self._expand(values[src]), ir.op(n).steps)

    def _fwd(self, op: Any) -> tuple[int, float]:
        """The forward spike's (code, a): the true step, or the smooth stand-in."""
        return self._surrogates[op.name] if self.smooth else (-1, 0.0)

    # ------------------------------------------------------- fused recurrent layers
    def _layer(self, unit: list[str]) -> tuple[str, str, str] | None:
        """``(delay, linear, neurons)`` if the unit is one recurrent layer that the fused
        kernels run: neurons with BPTT kernels, their spikes through a one-step delay and
        a square dense linear map back into them, nothing else reading the delay or the
        linear map."""
        ir = self.ir
        if len(unit) != 3:
            return None
        kinds = {ir.op(n).op: n for n in unit}
        if set(kinds) != {"delay", "linear", "neurons"}:
            return None
        d, lin, n = kinds["delay"], kinds["linear"], kinds["neurons"]
        w = self.param(ir.op(lin).weights)
        ok = (ir.op(d).steps == 1 and ir.inputs(d) == [n] and ir.inputs(lin) == [d]
              and ir.consumers(d) == [lin] and ir.consumers(lin) == [n]
              and self.neurons[n] is not None and w.shape == (ir.op(n).size,) * 2)
        return (d, lin, n) if ok else None

    def _fused_forward(self, layer: tuple[str, str, str], values: dict, tape: dict) -> None:
        d, lin, n = layer
        ir, steps, batch = self.ir, self.steps, self.batch
        op_n, op_l = ir.op(n), ir.op(lin)
        size = op_n.size
        ext = np.zeros((self.rows, size), np.float32)
        for i in ir.inputs(n):
            if i != lin:
                ext += self._expand(values[i])
        fwd, _, params, k = self.neurons[n]
        w = self.param(op_l.weights)
        lbias = self.param(op_l.bias) if op_l.bias else np.zeros(size, np.float32)
        state = self._state(op_n)
        before = self._history(d, size, 1)
        out = self.buffer(f"{n}.out", (steps, batch, size))
        saved = self.buffer(f"{n}.saved", (steps, batch, k, size))
        rec = self.buffer(f"{lin}.out", (steps, batch, size))
        jbuf = np.empty((1, batch, size), np.float32)
        fcode, fa = self._fwd(op_n)
        args = (fwd, ext.reshape(steps, batch, size), self.param(op_n.gain),
                self.param(op_n.bias), np.ascontiguousarray(w.T), lbias, state, params,
                fcode, fa, out, saved, rec, jbuf, before)
        parallel([(kernels.recurrent_forward, *args, a, b)
                  for a, b in _blocks(batch, steps * size)])
        values[n] = Value(out.reshape(self.rows, size), False)
        values[lin] = Value(rec.reshape(self.rows, size), False)
        delayed = np.concatenate([before, values[n].data[: self.rows - batch]])
        values[d] = Value(delayed, False)
        self.carry_out[n] = state
        self._keep_history(d, before, values[n].data, 1)
        tape[d] = tape[lin] = tape[n] = FusedLayer(layer, saved)

    def _fused_back(self, fused: FusedLayer) -> bool:
        n = self.ir.op(fused.layer[2]).size
        return self.batch * n * n < FUSED_BACKWARD_BELOW

    def _fused_backward(self, fused: FusedLayer, values: dict, acc: dict,
                        grads: dict) -> None:
        d, lin, n = fused.layer
        ir, steps, batch = self.ir, self.steps, self.batch
        op_n, op_l = ir.op(n), ir.op(lin)
        size = op_n.size
        dy = acc.pop(n, None)
        dy = (np.zeros((steps, batch, size), np.float32) if dy is None
              else np.ascontiguousarray(dy, np.float32).reshape(steps, batch, size))
        _, bwd, params, _ = self.neurons[n]
        code, a = self._surrogates[n]
        fcode, fa = self._fwd(op_n)
        gain = self.param(op_n.gain)
        dj = np.empty((steps, batch, size), np.float32)
        adj = self._adjoint(op_n)
        bufs = (np.empty((batch, size), np.float32), np.empty((1, batch, size), np.float32),
                np.empty((1, batch, size), np.float32))
        args = (bwd, dy, self.param(op_l.weights), gain, fused.saved, params, code, a, fcode,
                fa, adj, dj, *bufs)
        parallel([(kernels.recurrent_backward, *args, b0, b1)
                  for b0, b1 in _blocks(batch, steps * size)])
        self.adj_out[n] = adj  # for the steps before these (checkpoint segments)
        self.adj_out[("delay", d)] = bufs[0].copy()  # the spikes read back across the start
        dj = dj.reshape(self.rows, size)
        self._add_grads(grads, {op_n.bias: dj.sum(0)})
        dx = dj * gain  # the adjoint of the linear map's output and of the layer's input
        spikes = values[d].data  # the recurrent weights' gradient: event-driven if sparse
        _, g = (self._sparse_linear_backward(op_l, spikes, dx, False)
                if kernels.density(spikes) < SPARSE_BELOW else
                RULES["linear"].backward(self, op_l, spikes, dx, False))
        self._add_grads(grads, g)
        for i in ir.inputs(n):
            if i == lin or not self.needs_grad[i]:
                continue
            part = dx.reshape(steps, batch, size).sum(0) if values[i].static else dx
            acc[i] = acc[i] + part if i in acc else part

    def _rows(self, v: Value, rows: slice) -> np.ndarray:
        return v.data if v.static else v.data[rows]

    # ------------------------------------------------------------------ backward
    def backward(self, tape: Any, dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The Trainer's entry point: ``tape`` is ``(values, tape)`` from the forward."""
        if isinstance(tape, SegmentTape):
            return self.backward_segments(tape, dys)
        values, ops_tape = tape
        return self.backward_steps(values, ops_tape, dys)

    # ------------------------------------------------------------ checkpointing
    def forward_segments(self, feeds: dict[str, np.ndarray], outputs: list[str], steps: int,
                         batch: int, every: int) -> tuple[dict[str, Value], SegmentTape]:
        """``forward_steps`` in segments of ``every`` steps, keeping only the outputs and
        the state at each segment's start: the reverse pass recomputes one segment at a
        time, so memory holds about ``every`` steps of tape (``checkpoint_every``)."""
        prepared = {k: _time_major(v, steps) for k, v in feeds.items()}
        longest = max([op.steps for op in self.ir.ops() if op.op == "delay"], default=1)
        if every < longest:
            raise CompileError(f"fit.checkpoint_every={every}: segments must be at least as "
                               f"long as the longest delay ({longest} steps)")
        segments = [(t0, min(t0 + every, steps)) for t0 in range(0, steps, every)]
        if len(segments) > 1 and segments[-1][1] - segments[-1][0] < longest:
            segments[-2:] = [(segments[-2][0], steps)]  # a delay reads one segment back
        seg = SegmentTape(prepared, segments, [], outputs, batch, ())
        parts: dict[str, list] = {o: [] for o in outputs}
        self.carry_in = {}
        for k in range(len(segments)):
            seg.carries.append(self.carry_in)
            values, _ = self._segment(seg, k)
            for o in outputs:  # copies: the next segment reuses the work buffers
                parts[o].append(Value(values[o].data.copy(), values[o].static))
            self.carry_in = self.carry_out
        self.carry_in, self.t0 = {}, 0
        self.steps, self.rows = steps, steps * batch
        out = {}
        for o, vs in parts.items():
            if all(v.static for v in vs):
                out[o] = vs[0]
            else:
                out[o] = Value(np.concatenate([v.data if not v.static else np.tile(
                    v.data, ((t1 - t0), 1)) for v, (t0, t1) in zip(vs, segments)]), False)
        return out, seg

    def _segment(self, seg: SegmentTape, k: int) -> tuple[dict, dict]:
        t0, t1 = seg.segments[k]
        b = seg.batch
        self.t0 = t0
        feeds = {name: (d if static else d[t0 * b:t1 * b], static)
                 for name, (d, static) in seg.feeds.items()}
        return self.forward_steps(feeds, seg.outputs, t1 - t0, b)

    def backward_segments(self, seg: SegmentTape, dys: dict[str, np.ndarray]
                          ) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        b = seg.batch
        self.adj_in = {}
        for k in range(len(seg.segments) - 1, -1, -1):
            t0, t1 = seg.segments[k]
            self.carry_in = seg.carries[k]
            values, tape = self._segment(seg, k)
            part = self.backward_steps(values, tape, {n: d[t0 * b:t1 * b]
                                                      for n, d in dys.items()})
            for key, g in part.items():
                grads[key] = grads[key] + g if key in grads else g
            self.adj_in = self.adj_out
        self.adj_in, self.carry_in, self.t0 = {}, {}, 0
        return grads

    def backward_steps(self, values: dict[str, Value], tape: dict[str, Any],
                       dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradients of the trainable parameters, given ``d loss / d value`` (time-major
        ``[T * B, n]``) for the outputs."""
        acc: dict[str, np.ndarray] = dict(dys)
        grads: dict[str, np.ndarray] = {}
        self.adj_out = {}
        self._seed_delays(values, acc)
        for unit in reversed(self.units):
            if unit[0] not in tape or not self.needs_grad[unit[0]]:
                continue
            if len(unit) == 1 and not self.ir.graph.has_edge(unit[0], unit[0]):
                self._block_backward(unit[0], values, tape, acc, grads)
            elif isinstance(tape[unit[0]], FusedLayer) and self._fused_back(tape[unit[0]]):
                self._fused_backward(tape[unit[0]], values, acc, grads)
            elif isinstance(tape[unit[0]], FusedLayer):  # BLAS per step, from the tape
                fused = tape[unit[0]]
                d, lin, n = fused.layer
                steps_tape = {d: [None] * self.steps, n: fused.saved,
                              lin: [self._rows(values[d], slice(t * self.batch,
                                                                (t + 1) * self.batch))
                                    for t in range(self.steps)]}
                self._unit_backward(unit, values, steps_tape, acc, grads)
            else:
                self._unit_backward(unit, values, tape, acc, grads)
        return grads

    def _add_grads(self, grads: dict, g: dict) -> None:
        for key, value in g.items():
            if key in self.trainable:
                grads[key] = grads[key] + value if key in grads else value

    def _send(self, acc: dict, values: dict[str, Value], name: str, dx: np.ndarray) -> None:
        """Add ``dx`` (time-major, or ``[B, n]`` for a static op's input) to the adjoint
        of every input of ``name`` that needs it."""
        for i in self.ir.inputs(name):
            if not self.needs_grad[i]:
                continue
            d = dx
            if values[i].static and len(d) != len(values[i].data):
                d = d.reshape(self.steps, self.batch, -1).sum(0)
            acc[i] = acc[i] + d if i in acc else d

    def _block_backward(self, name: str, values: dict, tape: dict, acc: dict,
                        grads: dict) -> None:
        dy = acc.pop(name, None)
        if dy is None:
            return
        op = self.ir.op(name)
        ins = [i for i in self.ir.inputs(name) if self.needs_grad[i]]
        if op.op == "neurons" and self.neurons[name] is not None:
            dJ, g = self._neurons_backward(op, tape[name][0], dy)
            self._add_grads(grads, g)
            if ins:
                dx = self.buffer(f"{name}.dx", dJ.shape)
                self._send(acc, values, name, np.multiply(dJ, self.param(op.gain), out=dx))
            return
        if op.op == "delay":
            shift = op.steps * self.batch
            dx = np.zeros_like(dy)
            if shift < self.rows:
                dx[: self.rows - shift] = dy[shift:]
            self.adj_out[("delay", name)] = np.ascontiguousarray(dy[:shift])
            self._send(acc, values, name, dx)
            return
        if tape[name] is None:
            return  # inputs, processes: nothing upstream to train
        static, saved = tape[name]
        if static and len(dy) != self.batch:
            dy = dy.reshape(self.steps, self.batch, -1).sum(0)
        if isinstance(saved, SparseInput) and op.op == "conv2d":
            dx, g = self._sparse_conv_backward(op, saved.x, dy, bool(ins))
        elif isinstance(saved, SparseInput):
            dx, g = self._sparse_linear_backward(op, saved.x, dy, bool(ins), saved.events)
        else:
            dx, g = RULES[op.op].backward(self, op, saved,
                                          np.ascontiguousarray(dy, np.float32), bool(ins))
        self._add_grads(grads, g)
        if ins and dx is not None:
            self._send(acc, values, name, dx)

    def _neurons_backward(self, op: Any, saved: np.ndarray, dy: np.ndarray
                          ) -> tuple[np.ndarray, dict]:
        _, backward, params, _ = self.neurons[op.name]
        code, a = self._surrogates[op.name]
        steps, batch = self.steps, self.batch
        dy = np.ascontiguousarray(dy, np.float32).reshape(steps, batch, op.size)
        adj = self._adjoint(op)
        dJ = self.buffer(f"{op.name}.dJ", dy.shape)
        _run_back(backward, batch, dy, saved, params, code, a, self._fwd(op), adj, dJ)
        self.adj_out[op.name] = adj
        dJ = dJ.reshape(steps * batch, op.size)
        return dJ, {op.bias: dJ.sum(0)}

    def _adjoint(self, op: Any) -> np.ndarray:
        """d loss / d (a neuron op's state after the last step): from the later steps, or
        zero at the end of the data."""
        if op.name in self.adj_in:
            return self.adj_in[op.name].copy()
        return np.zeros((self.batch,) + self._initial(op).shape, np.float32)

    def _seed_delays(self, values: dict, acc: dict) -> None:
        """The later steps' adjoints of the inputs that delays read back across the
        boundary: added to those inputs' last rows before the reverse pass."""
        for key, carried in self.adj_in.items():
            if not (isinstance(key, tuple) and key[0] == "delay"):
                continue
            src = self.ir.inputs(key[1])[0]
            if src not in values or not self.needs_grad.get(src, False):
                continue
            if values[src].static:
                part = carried.reshape(-1, self.batch, carried.shape[1]).sum(0)
            else:
                part = np.zeros((self.rows, carried.shape[1]), np.float32)
                part[self.rows - len(carried):] = carried
            acc[src] = acc[src] + part if src in acc else part

    def _unit_backward(self, unit: list[str], values: dict, tape: dict, acc: dict,
                       grads: dict) -> None:
        ir, batch, steps = self.ir, self.batch, self.steps
        adj = {n: np.zeros((self.rows, ir.op(n).size), np.float32) for n in unit}
        for n in unit:
            if n in acc:
                adj[n] += acc.pop(n)
        carry = {n: self._adjoint(ir.op(n)) for n in unit if ir.op(n).op == "neurons"}
        back_rows = {n: np.zeros((ir.op(n).steps * batch, ir.op(n).size), np.float32)
                     for n in unit if ir.op(n).op == "delay"}
        outside: dict[str, np.ndarray] = {}
        # a linear op fed by one value of the unit: its weight gradient over all steps is
        # one matrix product of the full adjoint and input (not T small ones)
        deferred = {n for n in unit if ir.op(n).op == "linear" and len(ir.inputs(n)) == 1
                    and ir.inputs(n)[0] in adj}
        for t in range(steps - 1, -1, -1):
            rows = slice(t * batch, (t + 1) * batch)
            for name in reversed(unit):
                op = ir.op(name)
                dy = adj[name][rows]
                if op.op == "delay":
                    if t >= op.steps:
                        src = ir.inputs(name)[0]
                        back = slice((t - op.steps) * batch, (t - op.steps + 1) * batch)
                        if src in adj:
                            adj[src][back] += dy
                    else:  # read before the first step: belongs to the earlier steps
                        back_rows[name][t * batch:(t + 1) * batch] = dy
                    continue
                if op.op == "neurons":
                    _, backward, params, _ = self.neurons[name]
                    code, a = self._surrogates[op.name]
                    dJ = np.empty((1, batch, op.size), np.float32)
                    _run_back(backward, batch, np.ascontiguousarray(dy).reshape(1, batch, -1),
                              tape[name][t:t + 1], params, code, a, self._fwd(op),
                              carry[name], dJ)
                    dJ = dJ.reshape(batch, op.size)
                    self._add_grads(grads, {op.bias: dJ.sum(0)})
                    dx = dJ * self.param(op.gain)
                elif name in deferred:  # dx now; the weight gradient once, after the loop
                    w = self.param(op.weights)
                    dx = dy * w if w.ndim == 1 else dy @ w
                else:
                    dx, g = RULES[op.op].backward(self, op, tape[name][t], dy, True)
                    self._add_grads(grads, g)
                if dx is None:
                    continue
                for i in ir.inputs(name):
                    if i in adj:
                        adj[i][rows] += dx
                    elif self.needs_grad[i]:
                        if i not in outside:
                            outside[i] = np.zeros((self.rows, ir.op(i).size), np.float32)
                        outside[i][rows] += dx
        for n, c in carry.items():
            self.adj_out[n] = c
        for n, rows_ in back_rows.items():
            self.adj_out[("delay", n)] = rows_
        for name in deferred:
            op = ir.op(name)
            x = values[ir.inputs(name)[0]].data
            _, g = RULES["linear"].backward(self, op, x, adj[name], False)
            self._add_grads(grads, g)
        for i, d in outside.items():
            if values[i].static:
                d = d.reshape(steps, batch, -1).sum(0)
            acc[i] = acc[i] + d if i in acc else d


# ---------------------------------------------------------------------- helpers
def _units(ir: Any, order: list[str]) -> list[list[str]]:
    """Strongly connected components in a topological order of the condensation, each
    in schedule order (ties broken by the schedule, so the plan is deterministic)."""
    pos = {n: i for i, n in enumerate(order)}
    comps = [sorted(c, key=pos.__getitem__) for c in nx.strongly_connected_components(ir.graph)]
    index = {n: k for k, c in enumerate(comps) for n in c}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(comps)))
    dag.add_edges_from((index[a], index[b]) for a, b in ir.graph.edges if index[a] != index[b])
    ranked = nx.lexicographical_topological_sort(dag, key=lambda k: pos[comps[k][0]])
    units = []
    for k in ranked:
        unit = comps[k]
        if len(unit) > 1:  # within a step: delays read the previous step, so they go first
            unit = [n for n in unit if ir.op(n).op == "delay"] + \
                [n for n in _within_step_order(ir, unit, pos)]
        units.append(unit)
    return units


def _within_step_order(ir: Any, unit: list[str], pos: dict) -> list[str]:
    sub = ir.graph.subgraph(unit).copy()
    delays = [n for n in unit if ir.op(n).op == "delay"]
    sub.remove_nodes_from(delays)
    if not nx.is_directed_acyclic_graph(sub):
        cycle = nx.find_cycle(sub)
        names = [a for a, _ in cycle]
        objs = "; ".join(dict.fromkeys(f"{ir.op(n).src[0].obj} at {ir.op(n).src[0].site}"
                                       for n in names if ir.op(n).src))
        raise CompileError(f"training through time: a loop without a delay "
                           f"({' -> '.join(names)}: {objs}).\n  fix: give the recurrent "
                           "connection synapse=sg.Delay(1) (the previous step's spikes)")
    return list(nx.lexicographical_topological_sort(sub, key=pos.__getitem__))


def _stateful(op: Any) -> bool:
    neuron = spec_from_dict(op.neuron)
    return bool(neuron.spiking or neuron.state)


def _neuron(op: Any, dt: float) -> tuple | None:
    """Compiled ``bptt_kernels`` with the op's parameters at the program's ``dt``, or None
    (a stateless rate neuron runs the rate rule; a stateful one without kernels is an
    error when used)."""
    neuron = spec_from_dict(op.neuron)
    kernels = neuron.bptt_kernels()
    if kernels is None:
        return None
    forward, backward = kernels
    params = np.ascontiguousarray(neuron.kernel_params(op.size, dt), np.float32)
    return (jit(forward), jit(backward), params, max(neuron.bptt_saved, 1))


def _no_bptt(op: Any) -> None:
    neuron = spec_from_dict(op.neuron)
    raise CompileError(f"{_where(op)}: {type(neuron).__name__} neurons cannot be trained "
                       "through time (no surrogate-gradient rule); use sg.Leaky, sg.CubaLIF or "
                       "sg.LI, or train with method='rate'")


def _surrogate(neuron: Any) -> tuple[int, float]:
    surrogate = neuron.training_surrogate()
    return surrogate.kernel_args() if surrogate is not None else (0, 1.0)


def _density(v: Value) -> float:
    if v.counts is not None:
        return float(v.counts.sum()) / max(v.data.size, 1)
    return kernels.density(v.data)


def _param_keys(op: Any) -> list[str]:
    from snngraph.compiler.ir import param_keys

    return param_keys(op)


def _time_major(v: np.ndarray, steps: int) -> tuple[np.ndarray, bool]:
    """A feed ``[B, s, n]`` as ``([B, n], static)`` for ``s = 1`` or ``([T * B, n], False)``."""
    v = np.asarray(v, np.float32)
    if v.shape[1] == 1:
        return np.ascontiguousarray(v[:, 0]), True
    return np.ascontiguousarray(v.transpose(1, 0, 2)).reshape(steps * len(v), -1), False


def _add(total: np.ndarray, d: np.ndarray) -> np.ndarray:
    total += d
    return total


def _run(forward: Any, batch: int, J, state, params, fwd, out, saved) -> None:
    blocks = _blocks(batch, J.shape[0] * J.shape[2])
    fcode, fa = fwd
    parallel([(forward, J, state, params, fcode, fa, out, saved, a, b) for a, b in blocks])


def _run_back(backward: Any, batch: int, dy, saved, params, code, a, fwd, adj, dJ) -> None:
    blocks = _blocks(batch, dy.shape[0] * dy.shape[2])
    fcode, fa = fwd
    parallel([(backward, dy, saved, params, code, a, fcode, fa, adj, dJ, b0, b1)
              for b0, b1 in blocks])


def _blocks(batch: int, work: int) -> list[tuple[int, int]]:
    k = THREADS if batch >= 2 and batch * work >= 50_000 else 1
    bounds = [batch * i // k for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def to_examples(v: Value, steps: int, batch: int) -> np.ndarray:
    """A time-major value as ``[batch, steps, n]`` (what losses and metrics take)."""
    if v.static:
        return np.broadcast_to(v.data[:, None], (batch, steps, v.data.shape[1]))
    return v.data.reshape(steps, batch, -1).transpose(1, 0, 2)


def to_time_major(g: np.ndarray) -> np.ndarray:
    """``[batch, steps, n]`` as time-major rows ``[steps * batch, n]``."""
    return np.ascontiguousarray(g.transpose(1, 0, 2)).reshape(-1, g.shape[2])
