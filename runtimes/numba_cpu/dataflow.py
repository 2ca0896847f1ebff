"""Executors of the stateless data-flow ops: inputs, sums, probes, linear maps, slices and
host (Python) functions."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.numba_cpu import kernels
from snngraph.runtimes.numba_cpu.executor import F32, Executor, executes
from snngraph.schemas import ir as ops

from snngraph.errors import SimulationError, op_origin, op_site, short_repr, where


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
        if self.op.attr == "weights":  # the weight array itself, flattened, every row
            self.out[:] = self.weights()
            return None
        if self.op.attr in ("output", "input", "decoded_output") or x is None:
            return super().compute(x, t)
        target = self.backend.executors[self.op.target]
        self.out[:] = target.state[:, target.op.state.index(self.op.attr)]

    def weights(self) -> np.ndarray:
        """The probed op's weights (or kernel) as one row."""
        op = self.backend.executors[self.op.target].op
        return self.param(getattr(op, "weights", None) or op.kernel).reshape(1, -1)

    def emit(self, g):
        if self.op.attr == "weights":
            g.lines.append(f"copy({g.arg(self.weights)}, {g.out(self.op.name)})")
            return True
        if self.op.attr in ("output", "input", "decoded_output"):
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
