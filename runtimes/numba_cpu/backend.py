"""The Numba CPU backend: one executor per op, registered by op kind, run in the
program's schedule. Buffers are allocated once per minibatch size, never per step.

Synapses and delays output what they held at the end of the previous step and take
their new input after every op of the step has run (a one-step delay, as Nengo's
synapses), which is what lets recurrent loops through them run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from snngraph.runtimes.numba_cpu import kernels
from snngraph.runtimes.numba_cpu.filters import discretize
from snngraph.runtimes.numba_cpu.fused import lowpass
from snngraph.runtimes.parallel import parallel, row_blocks
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict
from snngraph.errors import SimulationError, op_origin, op_site, short_repr, where
from snngraph.geometry import leading_pads, same_pads  # noqa: F401 (same_pads: old name)

F32 = np.float32
EXECUTORS: dict[str, type[Executor]] = {}
JITTED: dict[str, Callable] = {}
"""Compiled neuron kernels by ``module.function`` (fused code refers to them by name)."""


def executes(*kinds: str) -> Callable:
    def register(cls: type) -> type:
        for kind in kinds:
            EXECUTORS[kind] = cls
        return cls
    return register


def jit(fn: Callable) -> Callable:
    """Compile a neuron type's step function once (cached on disk by Numba; ``nogil`` so
    row blocks can run in parallel threads)."""
    name = jit_name(fn)
    if name not in JITTED:
        JITTED[name] = njit(cache=True, nogil=True, error_model="numpy")(fn)
    return JITTED[name]


def jit_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__name__}"


SERIAL_BELOW = 8
"""Minibatches smaller than this run the serial forms of the batch kernels."""


class Executor:
    """Runs one op. ``out`` holds its value for the current step, ``[batch, size]``."""

    delayed = False  # True: output last step's value; update() after the step

    def __init__(self, op: ops.Op, backend: NumbaBackend):
        self.op, self.backend = op, backend
        self.params = backend.program.params

    def allocate(self, batch: int) -> None:
        self.out = np.zeros((batch, self.op.size), F32)

    def reset(self) -> None:
        self.out[:] = 0.0

    def compute(self, x: np.ndarray | None, t: int) -> None:
        raise NotImplementedError

    def emit(self, g: Any) -> bool:
        """Add this op's step to fused code (see fused.py); False if it cannot be."""
        return False

    @property
    def zeros_in(self) -> np.ndarray:
        """A zero input for ops that nothing feeds."""
        return self.backend.zero_input(self.op.name)

    def param(self, key: str | None) -> np.ndarray | None:
        return None if key is None else np.ascontiguousarray(self.params[key], dtype=F32)


@executes("input")
class InputExec(Executor):
    def compute(self, x, t):
        feed = self.backend.feed(self.op.name)
        self.out[:] = feed[:, min(self.backend.k, feed.shape[1] - 1)]

    def emit(self, g):
        feed = g.rows(lambda: self.backend.feed(self.op.name))
        g.lines.append(f"feed_rows({feed}, k, {g.out(self.op.name)})")
        return True


@executes("sum")
class SumExec(Executor):
    def compute(self, x, t):
        if x is None:
            self.out[:] = 0.0
        else:
            self.out[:] = x

    def emit(self, g):
        x = g.input(self.op.name) or g.zeros(self.op.name)
        g.lines.append(f"copy({x}, {g.out(self.op.name)})")
        return True


@executes("probe")
class ProbeExec(SumExec):
    """Holds what it records: its input, or a state of its target (e.g. voltage)."""

    def compute(self, x, t):
        if self.op.attr in ("output", "input", "decoded_output", "weights") or x is None:
            return super().compute(x, t)
        target = self.backend.executors[self.op.target]
        self.out[:] = target.state[:, target.op.state.index(self.op.attr)]

    def emit(self, g):
        if self.op.attr in ("output", "input", "decoded_output", "weights"):
            return super().emit(g)
        target = self.backend.executors[self.op.target]
        index = target.op.state.index(self.op.attr)
        state = g.rows(lambda: target.state[:, index])
        g.lines.append(f"copy({state}, {g.out(self.op.name)})")
        return True


@executes("linear")
class LinearExec(Executor):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        w = self.param(op.weights)
        self.diag = w.ndim == 1
        self.w, self.wt = w, np.ascontiguousarray(w.T)
        b = self.param(op.bias)
        self.bias = b if b is not None else np.zeros(op.size, F32)

    def compute(self, x, t):
        if x is None:
            self.out[:] = self.bias
        elif self.diag:
            np.multiply(x, self.w, out=self.out)
            self.out += self.bias
        else:
            self.backend.kernel("linear")(x, self.wt, self.bias, self.out, kernels.EVENT_FRACTION)

    def emit(self, g):
        x = g.input(self.op.name) or g.zeros(self.op.name)
        out = g.out(self.op.name)
        bias = g.arg(lambda: self.bias)
        if self.diag:
            g.lines.append(f"kernels.diagonal({x}, {g.arg(lambda: self.w)}, {bias}, {out})")
        else:
            g.lines.append(f"kernels.linear_serial({x}, {g.arg(lambda: self.wt)}, {bias}, "
                           f"{out}, {kernels.EVENT_FRACTION})")
        return True


class SpatialExec(Executor):
    """Shared by convolution and pooling: NHWC views of the flat buffers."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        h, w, c = op.shape_in if op.channels_last else (op.shape_in[1], op.shape_in[2],
                                                       op.shape_in[0])
        self.image_in = (h, w, c)
        self.strides = np.array(op.strides, dtype=np.int64)

    def images(self, x):
        if self.op.channels_last:
            return x.reshape(len(x), *self.image_in)
        c, h, w = self.op.shape_in
        return np.ascontiguousarray(x.reshape(len(x), c, h, w).transpose(0, 2, 3, 1))

    def allocate(self, batch):
        super().allocate(batch)
        s = self.op.shape
        if self.op.channels_last:  # the kernels write straight into out (a view)
            self.nhwc = self.out.reshape(batch, *s)
        else:
            self.nhwc = np.zeros((batch, s[1], s[2], s[0]), F32)

    def image_arg(self, g: Any) -> str | None:
        """This row's input as an NHWC image view for fused code (None: not fusable,
        since a summed or channels-first input has no fixed view to pass)."""
        if not self.op.channels_last or len(self.backend.inputs[self.op.name]) != 1:
            return None
        return g.rows(lambda: self.backend.input_value(self.op.name).reshape(
            self.backend.batch, *self.image_in))

    def store(self):
        if not self.op.channels_last:
            self.out[:] = self.nhwc.transpose(0, 3, 1, 2).reshape(len(self.out), -1)


@executes("conv2d")
class ConvExec(SpatialExec):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.kernel = self.param(op.kernel)
        b = self.param(op.bias)
        self.bias = b if b is not None else np.zeros(self.kernel.shape[3], F32)
        self.pads = leading_pads(self.image_in[:2], self.kernel.shape[:2], op.strides,
                                 op.padding)

    def compute(self, x, t):
        if x is None:
            x = np.zeros((len(self.out), int(np.prod(self.op.shape_in))), F32)
        conv = self.backend.kernel("conv2d")
        conv(self.images(x), self.kernel, self.bias, self.nhwc, self.strides, self.pads,
             kernels.EVENT_FRACTION, self.active)
        self.store()

    def emit(self, g):
        image = self.image_arg(g)
        if image is None:
            return False
        args = [g.arg(lambda: self.kernel), g.arg(lambda: self.bias),
                g.rows(lambda: self.nhwc), g.arg(lambda: self.strides),
                g.arg(lambda: self.pads)]
        g.lines.append(f"kernels.conv2d_serial({image}, {', '.join(args)}, "
                       f"{kernels.EVENT_FRACTION}, {g.rows(lambda: self.active)})")
        return True

    def allocate(self, batch):
        super().allocate(batch)
        self.active = np.zeros((batch, int(np.prod(self.op.shape_in))), np.int64)


@executes("pool2d")
class PoolExec(SpatialExec):
    MODES = {"avg": 0, "max": 1, "sum": 2}

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.pool = np.array(op.pool_size, dtype=np.int64)
        self.pads = leading_pads(self.image_in[:2], op.pool_size, op.strides, op.padding)

    def compute(self, x, t):
        self.backend.kernel("pool2d")(self.images(x), self.nhwc, self.pool, self.strides, self.pads,
                       self.MODES[self.op.pool])
        self.store()

    def emit(self, g):
        image = self.image_arg(g)
        if image is None:
            return False
        args = [g.rows(lambda: self.nhwc), g.arg(lambda: self.pool),
                g.arg(lambda: self.strides), g.arg(lambda: self.pads)]
        g.lines.append(f"kernels.pool2d_serial({image}, {', '.join(args)}, "
                       f"{self.MODES[self.op.pool]})")
        return True


@executes("slice")
class SliceExec(Executor):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.index = np.array(op.indices, dtype=np.int64)

    def compute(self, x, t):
        np.take(x, self.index, axis=1, out=self.out)

    def emit(self, g):
        x = g.input(self.op.name) or g.zeros(self.op.name)
        name = "gather" if self.op.op == "slice" else "scatter"
        g.lines.append(f"kernels.{name}({x}, {g.arg(lambda: self.index)}, "
                       f"{g.out(self.op.name)})")
        return True


@executes("scatter")
class ScatterExec(SliceExec):
    def compute(self, x, t):
        self.out[:] = 0.0
        self.out[:, self.index] = x


@executes("neurons")
class NeuronsExec(Executor):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.neuron = spec_from_dict(op.neuron)
        self.gain, self.bias = self.param(op.gain), self.param(op.bias)
        kernel = self.neuron.step_kernel() if op.mode == "spike" or self.neuron.discrete \
            else None
        self.kernel = jit(kernel) if kernel is not None else None
        dt = backend.dt
        self.kparams = np.ascontiguousarray(self.neuron.kernel_params(op.size, dt), F32)

    def allocate(self, batch):
        super().allocate(batch)
        self.J = np.zeros((batch, self.op.size), F32) if self.kernel is None else None
        self.state = np.zeros((batch, len(self.neuron.state), self.op.size), F32)
        self.blocks = [(a, b, self.state[a:b]) for a, b in row_blocks(batch, self.op.size)]

    def reset(self):
        super().reset()
        init = self.neuron.initial_state(self.op.size)
        self.state[:] = init[None] if len(init) else 0.0

    def compute(self, x, t):
        if x is None:
            x = self.zeros_in  # the backend's shared zero input
        if self.kernel is not None:
            parallel([(self._block, x, a, b, state) for a, b, state in self.blocks])
        else:
            kernels.current(x, self.gain, self.bias, self.J)
            self.out[:] = self.neuron.rates(self.J, self.backend.dt)

    def emit(self, g):
        if self.kernel is None:
            return False
        x = g.input(self.op.name) or g.zeros(self.op.name)
        fn = g.kernel(self.neuron.step_kernel())
        args = [g.arg(lambda: self.gain), g.arg(lambda: self.bias), g.out(self.op.name),
                g.rows(lambda: self.state), g.arg(lambda: self.kparams)]
        g.lines.append(f"{fn}({g.arg(lambda: self.backend.dt)}, {x}, {', '.join(args)})")
        return True

    def _block(self, x, a, b, state):
        """One thread's rows (the kernel releases the GIL)."""
        self.kernel(self.backend.dt, x[a:b], self.gain, self.bias, self.out[a:b], state,
                    self.kparams)


@executes("synapse")
class SynapseExec(Executor):
    delayed = True

    def __init__(self, op, backend):
        super().__init__(op, backend)
        A, B, C, D = discretize(op.synapse, backend.dt)
        self.A, self.B, self.C, self.D = A, B, C, D
        lowpass = len(A) == 1 and D[0, 0] == 0.0
        self.a = float(A[0, 0]) if lowpass else None
        self.b = float(C[0, 0] * B[0, 0]) if lowpass else None

    def allocate(self, batch):
        super().allocate(batch)
        self.state = np.zeros((batch, self.op.size, max(len(self.A), 1)))

    def reset(self):
        super().reset()
        self.state[:] = 0.0

    def compute(self, x, t):
        pass  # out already holds the value from the end of the previous step

    def update(self, x):
        if x is None:
            x = np.zeros_like(self.out)
        if self.a is not None:  # lowpass: y = a y + b u (the fused code's kernel too)
            lowpass(self.out, x, self.a, self.b)
        elif len(self.A) == 0:  # a pure gain (Lowpass(0))
            lowpass(self.out, x, 0.0, float(self.D[0, 0]))
        else:
            step = self.backend.kernel("state_space_filter")
            step(x, self.state, self.out, self.A, self.B, self.C, self.D)

    def emit(self, g):
        x = g.input(self.op.name) or g.zeros(self.op.name)
        out = g.out(self.op.name)
        # coefficients are arguments, so every time constant shares one compiled step
        if self.a is not None:
            a, b = g.arg(lambda: self.a), g.arg(lambda: self.b)
            g.updates.append(f"lowpass({out}, {x}, {a}, {b})")
        elif len(self.A) == 0:
            a, b = g.arg(lambda: 0.0), g.arg(lambda: float(self.D[0, 0]))
            g.updates.append(f"lowpass({out}, {x}, {a}, {b})")
        else:
            state = g.rows(lambda: self.state)
            A, B, C, D = (g.arg(lambda m=m: m) for m in (self.A, self.B, self.C, self.D))
            g.updates.append(f"kernels.state_space_filter_serial({x}, {state}, {out}, {A}, "
                             f"{B}, {C}, {D})")
        return True


@executes("delay")
class DelayExec(Executor):
    delayed = True

    def allocate(self, batch):
        super().allocate(batch)
        self.ring = np.zeros((self.op.steps, batch, self.op.size), F32)
        self.head = np.zeros(1, np.int64)  # an array, so fused code can advance it too

    def reset(self):
        super().reset()
        self.ring[:] = 0.0
        self.head[0] = 0

    def compute(self, x, t):
        self.out[:] = self.ring[self.head[0]]

    def update(self, x):
        self.ring[self.head[0]] = 0.0 if x is None else x
        self.head[0] = (self.head[0] + 1) % self.op.steps

    def emit(self, g):
        # rows run their steps independently here: the slot is (start + k) mod steps,
        # and the backend advances ``head`` once the run is over (see after_fused_run)
        x = g.input(self.op.name) or g.zeros(self.op.name)
        ring, start, out = g.arg(lambda: self.ring), g.arg(lambda: int(self.head[0])), \
            g.out(self.op.name)
        slot = f"{ring}[({start} + k) % {self.op.steps}, b:b + 1]"
        g.lines.append(f"copy({slot}, {out})")
        g.updates.append(f"copy({x}, {slot})")
        return True

    def after_fused_run(self, n_steps: int) -> None:
        self.head[0] = (self.head[0] + n_steps) % self.op.steps


@executes("process")
class ProcessExec(Executor):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.process = spec_from_dict(op.process)
        self.kind = op.process["type"]
        if self.kind == "PresentInput":
            items = self.process.inputs
            self.items = np.ascontiguousarray(items.reshape(len(items), -1), F32)

    def allocate(self, batch):
        super().allocate(batch)
        self.v = np.zeros((batch, self.op.size))
        self.fired = np.zeros((batch, self.op.size), np.bool_)

    def reset(self):
        super().reset()
        self.v[:] = 0.0
        self.fired[:] = False

    def compute(self, x, t):
        p, dt = self.process, self.backend.dt
        if self.kind == "PresentInput":
            item = int(t * dt / p.presentation_time + 1e-7) % len(self.items)
            self.out[:] = self.items[item]
            return
        x = np.zeros_like(self.out) if x is None else x
        if self.kind == "PoissonEncoder":  # see also emit()
            encode = self.backend.kernel("poisson")
            encode(x, self.out, dt * p.f_max, p.amplitude, self.backend.seed,
                   self.backend.op_ids[self.op.name], self.backend.example0, t)
        else:
            encode = self.backend.kernel("lif_encode")
            encode(x, self.v, self.fired, self.out, dt / p.tau_mem, p.v_th, p.v_leak,
                   p.v_reset, p.amplitude, self.kind == "SpikeLatencyLIFEncoder")


    def emit(self, g):
        out, p, dt = g.out(self.op.name), self.process, self.backend.dt
        num = lambda value: g.arg(lambda: float(value))  # noqa: E731 - a scalar argument
        if self.kind == "PresentInput":
            g.lines.append(f"kernels.present({g.arg(lambda: self.items)}, t, {num(dt)}, "
                           f"{num(p.presentation_time)}, {out})")
            return True
        x = g.input(self.op.name) or g.zeros(self.op.name)
        if self.kind == "PoissonEncoder":
            op_id = self.backend.op_ids[self.op.name]
            g.lines.append(f"kernels.poisson_serial({x}, {out}, {num(dt * p.f_max)}, "
                           f"{num(p.amplitude)}, seed, {op_id}, example0 + b, t)")
        else:
            first = self.kind == "SpikeLatencyLIFEncoder"
            values = ", ".join(num(v) for v in (dt / p.tau_mem, p.v_th, p.v_leak, p.v_reset,
                                                p.amplitude))
            g.lines.append(f"kernels.lif_encode_serial({x}, {g.rows(lambda: self.v)}, "
                           f"{g.rows(lambda: self.fired)}, {out}, {values}, {first})")
        return True


@executes("host_fn")
class HostFnExec(Executor):
    """A Python function per example and step (the one place a Python loop over the
    batch is unavoidable: it is user code)."""

    def compute(self, x, t):
        fn = self.backend.program.ir.callables[self.op.fn]
        time_ = (t + 1) * self.backend.dt
        for b in range(len(self.out)):
            value = fn(time_) if self.op.size_in == 0 else fn(time_, x[b] if x is not None
                                                                else np.zeros(self.op.size_in))
            if self.op.size:
                self.out[b] = host_output(self.op, value, t, self.backend.dt,
                                          self.backend.example0 + b)

    def emit(self, g):
        """A function of time only is tabulated for the run before it starts."""
        if self.op.size_in or not self.op.size:
            return False
        table = g.arg(lambda: self.backend.time_table(self.op.name))
        g.lines.append(f"rows_from({table}, k, {g.out(self.op.name)})")
        return True


def op_ids(ir: Any) -> dict[str, int]:
    """Each op's number in random draws (its place in the schedule): the same in every
    runtime that draws, so they draw the same numbers."""
    return {name: i for i, name in enumerate(ir.schedule or list(ir.graph.nodes))}


def host_output(op: ops.Op, value: Any, t: int, dt: float, example: int | None = None
                ) -> np.ndarray:
    """A Python function's return value at step ``t`` as float32, checked: numbers, the
    size its op was made with, all finite. (numpy would raise a broadcast error naming no
    object, or pass a NaN on silently through the network.)"""
    arr = np.asarray(value) if value is not None else np.zeros(0)
    problem = ""
    if arr.dtype.kind not in "biuf":
        problem = f"returned {short_repr(value, 60)}, not numbers"
    elif arr.size != op.size:
        problem = f"returned {arr.size} value(s) ({short_repr(value, 60)}), expected {op.size}"
    elif not np.all(np.isfinite(arr)):
        problem = f"returned a non-finite value: {short_repr(value, 60)}"
    if not problem:
        return arr.astype(F32).reshape(-1)
    obj = op_origin(op, sites=False, first=True)
    node = obj.startswith("Node")
    at = f" at step {t + 1} (t={(t + 1) * dt:.6g} s" + (
        f", example {example})" if example is not None else ")")
    size = f"size_out={op.size}" if node else f"{op.size} values, its size when made"
    fix = ("return finite numbers (guard divisions, logs and square roots, e.g. "
           "np.nan_to_num)" if "non-finite" in problem else
           f"return {op.size} number(s) at every step ({size})")
    raise SimulationError(
        f"{obj}.{'output' if node else 'function'}: {problem}{at}"
        + where(op_site(op)) + f"\n  fix: {fix}")


class NumbaBackend:
    """Runs a Program's schedule, batch-parallel, on the CPU."""

    def __init__(self, program: Any, seed: int, fuse: bool | str = "auto"):
        self.program, self.seed = program, seed
        ir = program.ir
        self.dt = ir.dt
        self.order = program.schedule or list(ir.graph.nodes)
        self.op_ids = op_ids(ir)
        missing = sorted({ir.op(n).op for n in self.order} - set(EXECUTORS))
        if missing:
            raise NotImplementedError(f"numba backend: no executor for op kinds {missing}")
        self.executors = {n: EXECUTORS[ir.op(n).op](ir.op(n), self) for n in self.order}
        self.inputs = {n: ir.inputs(n) for n in self.order}
        self.delayed = [e for e in self.executors.values() if e.delayed]
        self.probes = [n for n in self.order if ir.op(n).op == "probe"]
        self.feeds: dict[str, np.ndarray] = {}
        self.example0, self.batch, self.k = 0, 0, 0
        self.fuse = fuse
        self._fused: dict[int, tuple] = {}
        self._zeros: dict[int, np.ndarray] = {}
        self._tables: dict[str, np.ndarray] = {}

    def allocate(self, batch: int) -> None:
        if batch == self.batch:
            return
        self.batch = batch
        for e in self.executors.values():
            e.allocate(batch)
        self.sums = {n: np.zeros((batch, self.program.ir.op(ins[0]).size), F32)
                     for n, ins in self.inputs.items() if len(ins) > 1}

    def reset(self, seed: int) -> None:
        self.seed = seed
        for e in self.executors.values():
            e.reset()

    def kernel(self, name: str) -> Callable:
        """A batch kernel: its parallel form, or its serial one for small minibatches
        (where a parallel region costs more than the work)."""
        return getattr(kernels, name if self.batch >= SERIAL_BELOW else f"{name}_serial")

    def feed(self, name: str) -> np.ndarray:
        """Data for an input op, ``[batch, steps or 1, size]`` (its default if not fed)."""
        if name not in self.feeds:
            op = self.program.ir.op(name)
            default = np.asarray(self.program.params[op.default], F32).reshape(1, 1, -1)
            self.feeds[name] = np.ascontiguousarray(np.broadcast_to(
                default, (self.batch, 1, op.size)))
        return self.feeds[name]

    def zero_input(self, name: str) -> np.ndarray:
        ins = self.inputs[name]
        size = self.program.ir.op(ins[0]).size if ins else getattr(
            self.program.ir.op(name), "size_in", 0) or self.program.ir.op(name).size
        key = size
        if key not in self._zeros or len(self._zeros[key]) != self.batch:
            self._zeros[key] = np.zeros((self.batch, size), F32)
        return self._zeros[key]

    def input_value(self, name: str) -> np.ndarray:
        return self.executors[self.inputs[name][0]].out

    def time_table(self, name: str) -> np.ndarray:
        return self._tables[name]

    def gather(self, name: str) -> np.ndarray | None:
        ins = self.inputs[name]
        if not ins:
            return None
        if len(ins) == 1:
            return self.executors[ins[0]].out
        total = self.sums[name]
        np.copyto(total, self.executors[ins[0]].out)
        for i in ins[1:]:
            total += self.executors[i].out
        return total

    def run(self, n_steps: int, feeds: dict[str, np.ndarray], t0: int, example0: int,
            bar: Any) -> dict[str, np.ndarray]:
        self.feeds, self.example0 = dict(feeds), example0
        constant = all(f.shape[1] == 1 or np.array_equal(f.min(axis=1), f.max(axis=1))
                       for f in feeds.values())
        if self._use_fused(n_steps):
            fused = self._fused_step()
            if fused is not None:
                return self._run_fused(fused, n_steps, t0, constant, bar)
        every = {n: self.program.ir.op(n).every for n in self.order}
        records = {n: self._record_buffer(n, n_steps, t0) for n in self.probes}
        for k in range(n_steps):
            t, self.k = t0 + k, k
            for name in self.order:
                if every[name] == "presentation" and constant and k > 0:
                    continue  # hoisted: computed once for this presentation
                self.executors[name].compute(self.gather(name), t)
            for e in self.delayed:
                e.update(self.gather(e.op.name))
            for name, (buf, every_k) in records.items():
                if (t + 1) % every_k == 0:  # sampled on absolute steps, across runs
                    buf[:, (t + 1) // every_k - t0 // every_k - 1] = \
                        self.executors[name].out.reshape(buf.shape[0], *buf.shape[2:])
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        return {n: buf for n, (buf, _) in records.items()}

    def _use_fused(self, n_steps: int) -> bool:
        """Fuse when the run is big enough to repay compiling the step (once per network
        structure; Numba caches it on disk): fused code is several times faster."""
        if self.fuse != "auto":
            return bool(self.fuse)
        return n_steps * len(self.order) * self.batch >= 5_000

    def _fused_step(self) -> tuple | None:
        """The generated step function and its code (None if some op cannot be fused)."""
        if self.batch not in self._fused:
            from snngraph.runtimes.numba_cpu import fused

            g = fused.generate(self)
            if g is None:
                self._fused[self.batch] = None
            else:
                records = [self._record_line(g, n) for n in self.probes]
                self._fused[self.batch] = (fused.compile_source(fused.source(g, records)), g)
        return self._fused[self.batch]

    def _record_line(self, g: Any, name: str) -> str:
        rec = g.arg(lambda n=name: self._records[n][0])
        every_k = self._record_every(name)
        return (f"if (t + 1) % {every_k} == 0: copy({g.out(name)}, "
                f"{rec}[b:b + 1, (t + 1) // {every_k} - t0 // {every_k} - 1])")

    def _run_fused(self, fused_step: tuple, n_steps: int, t0: int, constant: bool,
                   bar: Any) -> dict[str, np.ndarray]:
        from snngraph.runtimes.numba_cpu.fused import arrays

        run, g = fused_step
        self._records = {n: self._record_buffer(n, n_steps, t0) for n in self.probes}
        for name in self.order:
            op = self.program.ir.op(name)
            if op.op == "host_fn":
                fn = self.program.ir.callables[op.fn]
                self._tables[name] = np.array(
                    [host_output(op, fn((t0 + k + 1) * self.dt), t0 + k, self.dt)
                     for k in range(n_steps)], dtype=F32).reshape(n_steps, op.size)
        flat = {n: (buf.reshape(self.batch, buf.shape[1], -1), k)
                for n, (buf, k) in self._records.items()}
        self._records = flat
        run(n_steps, t0, constant, self.seed, self.example0, self.batch, *arrays(g))
        for e in self.executors.values():
            if hasattr(e, "after_fused_run"):
                e.after_fused_run(n_steps)
        if bar:
            bar.update(n_steps)
            bar.close()
        return {n: buf.reshape(self.batch, buf.shape[1], *self.program.ir.op(n).shape)
                for n, (buf, _) in flat.items()}

    def _record_every(self, name: str) -> int:
        op = self.program.ir.op(name)
        return max(1, int(round(op.sample_every / self.dt))) if op.sample_every else 1

    def _record_buffer(self, name: str, n_steps: int, t0: int) -> tuple[np.ndarray, int]:
        """Room for the samples of steps t0+1 .. t0+n_steps (every ``every_k``-th step
        counted from the last reset)."""
        every_k = self._record_every(name)
        count = (t0 + n_steps) // every_k - t0 // every_k
        shape = self.program.ir.op(name).shape
        return np.zeros((self.batch, count, *shape), F32), every_k
