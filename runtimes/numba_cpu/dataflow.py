"""Executors of the stateless data-flow ops: inputs, sums, probes, linear maps, slices and
host (Python) functions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from snngraph.runtimes.numba_cpu import kernels, learning
from snngraph.runtimes.numba_cpu.executor import F32, Executor, executes
from snngraph.schemas import ir as ops

from snngraph.errors import SimulationError, op_origin, op_site, short_repr, where


@executes("input")
class InputExec(Executor):
    def compute(self, x, t):
        feed = self.backend.feed(self.op.name)
        self.out[:] = feed[:, min(self.backend.k, feed.shape[1] - 1)]

    def emit(self, g):
        return g.call("feed_rows", g.rows(lambda: self.backend.feed(self.op.name)), "k",
                      g.out(self.op.name))


@executes("sum")
class SumExec(Executor):
    def compute(self, x, t):
        if x is None:
            self.out[:] = 0.0
        else:
            self.out[:] = x

    def emit(self, g):
        return g.call("copy", g.summed(self.op.name), g.out(self.op.name))


@executes("probe")
class ProbeExec(SumExec):
    """Holds what it records: its input, a state of its target (e.g. voltage), or what
    the target gives a probe (``probed``: weights, a learning rule's state)."""

    AFTER_STEP = ("activities", "pre_filtered", "post_filtered", "theta", "delta",
                  "inv_gamma")
    """A learning rule's values made once the step's other ops have run (its filtered
    activities, its change, RLS's P): recorded after their update, as Nengo records them."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.delayed = op.attr in self.AFTER_STEP

    def _source(self) -> str:
        """Where the recorded value comes from; found on the first step (all executors
        exist and hold their state by then) and kept, not looked up every step."""
        if getattr(self, "_found", None) is None:
            self._found = self._find_source()
        return self._found

    def _find_source(self) -> str:
        target = self.backend.executors.get(self.op.target)
        if target is not None and self.op.attr in target.probed_attrs:
            return "probed"
        owner, _ = self._state_owner()
        if owner is not None and self.op.attr in getattr(owner.op, "state", ()) \
                and hasattr(owner, "state"):
            return "state"
        return "input"

    def compute(self, x, t):
        if not self.delayed:
            self._take(x)

    def update(self, x):
        self._take(x)

    def _take(self, x):
        source = self._source()
        if source == "probed":
            value = self.backend.executors[self.op.target].probed(self.op.attr)
            self.out[:] = value.reshape(len(value), -1)
            return
        if self.op.attr == "weights":  # the weight array itself, flattened, every row
            self.out[:] = self.weights()
            return
        if source == "input" or x is None and source == "state":
            return super().compute(x, 0)
        target, rows = self._state_owner()
        state = target.state[:, target.op.state.index(self.op.attr)]
        self.out[:] = state if rows is None else state[:, rows]

    def _state_owner(self):
        """The executor holding the probed state, and which of its neurons (None: all;
        a probe of ``ens.neurons[::2]`` reads the neurons through a slice op)."""
        target = self.backend.executors.get(self.op.target)
        if target is None or target.op.op != "slice":
            return target, None
        (base,) = self.backend.program.ir.graph.predecessors(target.op.name)
        return self.backend.executors[base], np.asarray(target.op.indices)

    def weights(self) -> np.ndarray:
        """The probed op's weights (or kernel) as one row."""
        op = self.backend.executors[self.op.target].op
        return self.param(getattr(op, "weights", None) or op.kernel).reshape(1, -1)

    def emit(self, g):
        source = self._source()
        if self.delayed or source == "probed":
            return False  # read between the steps' ops: op by op
        if self.op.attr == "weights":
            g.lines.append(f"copy({g.arg(self.weights)}, {g.out(self.op.name)})")
            return True
        if source == "input":
            return super().emit(g)
            return super().emit(g)
        target, rows = self._state_owner()
        if rows is not None:
            return False  # a gathered copy would go stale in the fused loop
        index = target.op.state.index(self.op.attr)
        return g.call("copy", g.rows(lambda: target.state[:, index]), g.out(self.op.name))


@executes("linear")
class LinearExec(Executor):
    """``y = W x + b``; learned (``op.learned``): every example has its own ``W``
    (``weights``, ``[batch, out, in]``), which a learning rule's op changes."""

    probed_attrs = ("weights",)

    def __init__(self, op, backend):
        super().__init__(op, backend)
        w = self.param(op.weights)
        self.diag = w.ndim == 1
        self.w, self.wt = w, np.ascontiguousarray(w.T)
        b = self.param(op.bias)
        self.bias = b if b is not None else self.zeros(op.size)

    def allocate(self, batch):
        super().allocate(batch)
        if self.op.learned:
            self.weights = np.empty((batch, *self.w.shape), self.dtype)
        # scratch: each row's non-zero inputs (allocating it per call cost a quarter)
        self.active = np.zeros((batch, 0 if self.diag else self.wt.shape[0]), np.int32)

    def reset(self):
        super().reset()
        if self.op.learned:
            self.weights[:] = self.w  # back to the weights before learning

    def probed(self, attr):
        return self.weights if self.op.learned else self.w[None]

    def compute(self, x, t):
        if x is None:
            self.out[:] = self.bias
        elif self.op.learned:
            learning.linear_each(x, self.weights, self.bias, self.out)
        elif self.diag:
            np.multiply(x, self.w, out=self.out)
            self.out += self.bias
        else:
            self.backend.kernel("linear")(x, self.wt, self.bias, self.out,
                                          kernels.EVENT_FRACTION, self.active)

    def emit(self, g):
        if self.op.learned:
            return False  # its weights change between steps: op by op
        x, out, bias = g.summed(self.op.name), g.out(self.op.name), g.arg(lambda: self.bias)
        if self.diag:
            return g.call("kernels.diagonal", x, g.arg(lambda: self.w), bias, out)
        return g.call("kernels.linear_serial", x, g.arg(lambda: self.wt), bias, out,
                      kernels.EVENT_FRACTION, g.rows(lambda: self.active))


@executes("slice")
class SliceExec(Executor):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.index = np.array(op.indices, dtype=np.int64)

    def compute(self, x, t):
        np.take(x, self.index, axis=1, out=self.out)

    def emit(self, g):
        name = "gather" if self.op.op == "slice" else "scatter"
        return g.call(f"kernels.{name}", g.summed(self.op.name), g.arg(lambda: self.index),
                      g.out(self.op.name))


@executes("scatter")
class ScatterExec(SliceExec):
    def compute(self, x, t):
        kernels.scatter(x, self.index, self.out)  # repeated indices add up

@executes("host_fn")
class HostFnExec(Executor):
    """A Python function per example and step (the one place a Python loop over the
    batch is unavoidable: it is user code)."""

    def compute(self, x, t):
        fn = self.backend.program.ir.callables[self.op.fn]
        time_ = (t + 1) * self.backend.dt
        for b in range(len(self.out)):
            # the function gets its own float64 copy of its input, as Nengo gives it
            value = fn(time_) if self.op.size_in == 0 else fn(
                time_, np.array(x[b], dtype=float) if x is not None else
                np.zeros(self.op.size_in))
            if self.op.size and (self.op.output_read or value is not None):
                self.out[b] = host_output(self.op, value, t, self.backend.dt,
                                          self.backend.example0 + b, self.dtype)

    def emit(self, g):
        """A function of time only is tabulated for the run before it starts."""
        if self.op.size_in or not self.op.size:
            return False
        table = g.arg(lambda: self.backend.time_table(self.op.name))
        return g.call("rows_from", table, "k", g.out(self.op.name))

def host_table(op: ops.Op, fn: Any, t0: int, n_steps: int, dt: float,
               dtype: Any = F32) -> np.ndarray:
    """A function of time tabulated for steps ``t0 .. t0 + n_steps`` in ``dtype``,
    ``[n_steps, size]``, checked as ``host_output`` checks each value but in one pass over
    the whole table (checking step by step cost more than the user's function)."""
    # a copy of each value: a function may return the same buffer every time
    values = [np.array(fn((t0 + k + 1) * dt)) for k in range(n_steps)]
    if not op.output_read:  # run for its side effects only
        return np.zeros((n_steps, op.size), dtype)
    try:
        table = np.asarray(values)
    except ValueError:  # values of different shapes: found below, step by step
        table = None
    if (table is not None and table.dtype.kind in "biuf"
            and table.size == n_steps * op.size and np.isfinite(table).all()):
        return table.astype(dtype).reshape(n_steps, op.size)
    return np.array([host_output(op, v, t0 + k, dt, dtype=dtype)
                     for k, v in enumerate(values)], dtype=dtype).reshape(n_steps, op.size)


def host_output(op: ops.Op, value: Any, t: int, dt: float, example: int | None = None,
                dtype: Any = F32) -> np.ndarray:
    """A Python function's return value at step ``t`` in ``dtype`` (the runtime's
    precision), checked: numbers, the size its op was made with, all finite. (numpy would
    raise a broadcast error naming no object, or pass a NaN on silently through the
    network.)"""
    if type(value) is np.ndarray and value.size == op.size and value.size <= 8 and \
            value.dtype.kind == "f" and all(map(math.isfinite, value.ravel().tolist())):
        return value.astype(dtype).reshape(-1)  # the common case, without numpy's
        # per-call reductions (a host loop calls this every step)
    arr = np.asarray(value) if value is not None else np.zeros(0)
    problem = ""
    if arr.dtype.kind not in "biuf":
        problem = f"returned {short_repr(value, 60)}, not numbers"
    elif arr.size != op.size:
        problem = f"returned {arr.size} value(s) ({short_repr(value, 60)}), expected {op.size}"
    elif not np.all(np.isfinite(arr)):
        problem = f"returned a non-finite value: {short_repr(value, 60)}"
    if not problem:
        return arr.astype(dtype).reshape(-1)
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
