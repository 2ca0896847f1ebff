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
from snngraph.runtimes.numba_cpu import dataflow, kernels, learning, memory, models  # noqa: F401
from snngraph.runtimes.numba_cpu.dataflow import host_table
from snngraph.runtimes.numba_cpu.executor import (  # noqa: F401 - the runtime's names
    DTYPES,
    EXECUTORS,
    F32,
    SERIAL_BELOW,
    THREADS,
    Executor,
    executes,
    parallel,
    row_blocks,
)
from snngraph.runtimes.numba_cpu.jit import JITTED, jit, jit_name  # noqa: F401
from snngraph.runtimes.numba_cpu.spatial import ConvExec, PoolExec, same_pads  # noqa: F401


def op_ids(ir: Any) -> dict[str, int]:
    """Each op's number in random draws (its place in the schedule): the same in every
    runtime that draws, so they draw the same numbers."""
    return {name: i for i, name in enumerate(ir.schedule or list(ir.graph.nodes))}

class NumbaBackend:
    """Runs a Program's schedule, batch-parallel, on the CPU, in ``dtype`` (float32, or
    float64): every value, state, parameter and probe buffer has it."""

    dtypes = DTYPES
    """The precisions this backend computes in (``sg.Simulator`` checks ``dtype``)."""

    def __init__(self, program: Any, seed: int, fuse: bool | str = "auto",
                 dtype: Any = F32, fuse_work: int = 5_000):
        """``fuse_work``: with ``fuse='auto'``, runs of at least this many op steps
        (steps x ops x examples) are fused."""
        self.program, self.seed = program, seed
        self.fuse_work = fuse_work
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPES:
            raise ValueError(f"NumbaBackend.dtype: expected float32 or float64, got "
                             f"{self.dtype}")
        ir = program.ir
        self.dt = ir.dt
        self.order = program.schedule or list(ir.graph.nodes)
        self.op_ids = op_ids(ir)
        missing = sorted({ir.op(n).op for n in self.order} - set(EXECUTORS))
        if missing:
            raise NotImplementedError(f"numba backend: no executor for op kinds {missing}")
        self.executors = {n: EXECUTORS[ir.op(n).op](ir.op(n), self) for n in self.order}
        self.inputs = {n: ir.summed_inputs(n) for n in self.order}
        self.delayed = [e for e in self.executors.values() if e.delayed]
        self.probes = [n for n in self.order if ir.op(n).op == "probe"]
        self.feeds: dict[str, np.ndarray] = {}
        self.example0, self.batch, self.k = 0, 0, 0
        self.fuse = fuse
        self._fused: dict[int, tuple] = {}
        self._fused_texts: dict[int, tuple | None] = {}
        self._zeros: dict[int, np.ndarray] = {}
        self._tables: dict[str, np.ndarray] = {}

    def allocate(self, batch: int) -> None:
        if batch == self.batch:
            return
        self.batch = batch
        for e in self.executors.values():
            e.allocate(batch)
        self.sums = {n: np.zeros((batch, self.program.ir.op(ins[0]).size), self.dtype)
                     for n, ins in self.inputs.items() if len(ins) > 1}

    def reset(self, seed: int) -> None:
        self.seed = seed
        for e in self.executors.values():
            e.reset()

    def signals(self) -> dict[str, np.ndarray]:
        """Each op's output by name and each neuron op's state variables as
        ``name.variable``: the live ``[batch, ...]`` buffers (views), in ``dtype``."""
        out = {}
        for name, e in self.executors.items():
            out[name] = e.out
            if e.op.op == "neurons":
                for i, variable in enumerate(e.op.state):
                    out[f"{name}.{variable}"] = e.state[:, i]
        return out

    def state_arrays(self) -> dict[str, dict[str, Any]]:
        """A copy of every executor's arrays (outputs, neuron and filter states, learned
        weights, delay rings...), by executor and attribute: what continuing a run needs,
        for pickling a simulator. Parameters come along too (rebuilt identically)."""
        saved: dict[str, dict[str, Any]] = {}
        for name, e in self.executors.items():
            own = {}
            for attr, value in vars(e).items():
                if isinstance(value, np.ndarray):
                    own[attr] = value.copy()
                elif isinstance(value, list) and value and all(
                        isinstance(v, np.ndarray) for v in value):
                    own[attr] = [v.copy() for v in value]
            saved[name] = own
        return saved

    def load_state_arrays(self, saved: dict[str, dict[str, Any]]) -> None:
        """Write ``state_arrays()`` back, in place (views stay views)."""
        for name, own in saved.items():
            e = self.executors[name]
            for attr, value in own.items():
                target = getattr(e, attr)
                for t, v in (zip(target, value) if isinstance(value, list) else
                             [(target, value)]):
                    t[...] = v

    def kernel(self, name: str) -> Callable:
        """A batch kernel: its parallel form, or its serial one for small minibatches
        (where a parallel region costs more than the work)."""
        return getattr(kernels, name if self.batch >= SERIAL_BELOW else f"{name}_serial")

    def feed(self, name: str) -> np.ndarray:
        """Data for an input op, ``[batch, steps or 1, size]`` (its default if not fed)."""
        if name not in self.feeds:
            op = self.program.ir.op(name)
            default = np.asarray(self.program.params[op.default], self.dtype).reshape(1, 1, -1)
            self.feeds[name] = np.ascontiguousarray(np.broadcast_to(
                default, (self.batch, 1, op.size)))
        return self.feeds[name]

    def zero_input(self, name: str) -> np.ndarray:
        ins = self.inputs[name]
        size = self.program.ir.op(ins[0]).size if ins else getattr(
            self.program.ir.op(name), "size_in", 0) or self.program.ir.op(name).size
        key = size
        if key not in self._zeros or len(self._zeros[key]) != self.batch:
            self._zeros[key] = np.zeros((self.batch, size), self.dtype)
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
        return self._run_ops(n_steps, t0, constant, bar)

    def _run_ops(self, n_steps: int, t0: int, constant: bool, bar: Any
                 ) -> dict[str, np.ndarray]:
        """The op-by-op loop: each executor in schedule order, step by step."""
        self._begin_ops(n_steps, t0, constant)
        for k in range(n_steps):
            self.step(k)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        return self.finish()

    def start(self, n_steps: int, feeds: dict[str, np.ndarray], t0: int,
              example0: int) -> dict[str, np.ndarray]:
        """Begin a run of ``n_steps`` that the caller advances with ``step(k)``, in
        lockstep with something else (the Loihi backend's chip), then ends with
        ``finish()``. ``feeds`` may be filled as the run goes: step ``k`` reads their
        column ``k``. Returns the probes' record buffers (filled column ``k`` by step
        ``k``), for the caller to read during the run."""
        self.feeds, self.example0 = dict(feeds), example0
        self._begin_ops(n_steps, t0, constant=False)
        return {n: buf for n, (buf, _) in self._records.items()}

    def _begin_ops(self, n_steps: int, t0: int, constant: bool) -> None:
        self._t0, self._constant = t0, constant
        self._records = {n: self._record_buffer(n, n_steps, t0) for n in self.probes}
        # per op, looked up once per run rather than every step: its compute, the
        # executor of its single input (None: none or a sum, made by ``gather``)
        self._plan = [(self.executors[n].compute, self._single_input(n), n,
                       self.program.ir.op(n).every == "presentation") for n in self.order]
        self._updates = [(e.update, self._single_input(e.op.name), e.op.name)
                         for e in self.delayed]

    def _single_input(self, name: str) -> Any:
        ins = self.inputs[name]
        return self.executors[ins[0]] if len(ins) == 1 else None

    def step(self, k: int) -> None:
        """Step ``k`` of the run begun by ``start`` (or ``run``), op by op."""
        t, self.k = self._t0 + k, k
        hoisted = self._constant and k > 0
        for compute, src, name, once in self._plan:
            if once and hoisted:
                continue  # computed once for this presentation
            compute(src.out if src is not None else self.gather(name), t)
        for update, src, name in self._updates:
            update(src.out if src is not None else self.gather(name))
        self._record(self._records, t, self._t0)

    def finish(self) -> dict[str, np.ndarray]:
        """The records of the run begun by ``start``."""
        return {n: buf for n, (buf, _) in self._records.items()}

    def _record(self, records: dict[str, tuple[np.ndarray, int]], t: int, t0: int) -> None:
        for name, (buf, every_k) in records.items():
            if (t + 1) % every_k == 0:  # sampled on absolute steps, across runs
                buf[:, (t + 1) // every_k - t0 // every_k - 1] = \
                    self.executors[name].out.reshape(buf.shape[0], *buf.shape[2:])

    def _use_fused(self, n_steps: int) -> bool:
        """Fuse when the run is big enough to repay compiling the step (once per network
        structure; Numba caches it on disk): fused code is several times faster."""
        if self.fuse != "auto":
            return bool(self.fuse)
        return n_steps * len(self.order) * self.batch >= self.fuse_work

    def _fused_code(self) -> tuple | None:
        """The generated code of one step and its module text (None if some op cannot be
        fused), for this minibatch size."""
        if self.batch not in self._fused_texts:
            from snngraph.runtimes.numba_cpu import fused

            g = fused.generate(self)
            self._fused_texts[self.batch] = None if g is None else (g, fused.source(
                g, [self._record_line(g, n) for n in self.probes], parallel=self.batch > 1))
        return self._fused_texts[self.batch]

    def fused_cached(self) -> bool:
        """The fused step of this structure ran before (in any process): it loads from
        Numba's disk cache instead of compiling."""
        from snngraph.runtimes.numba_cpu import fused

        code = self._fused_code()
        return code is not None and fused.compiled_before(code[1])

    def _fused_step(self) -> tuple | None:
        """The generated step function and its code (None if some op cannot be fused)."""
        if self.batch not in self._fused:
            from snngraph.runtimes.numba_cpu import fused

            code = self._fused_code()
            self._fused[self.batch] = None if code is None else (
                fused.compile_source(code[1]), code[0], code[1])
        return self._fused[self.batch]

    def _record_line(self, g: Any, name: str) -> str:
        rec = g.arg(lambda n=name: self._records[n][0])
        every_k = self._record_every(name)
        return (f"if (t + 1) % {every_k} == 0: copy({g.out(name)}, "
                f"{rec}[b:b + 1, (t + 1) // {every_k} - t0 // {every_k} - 1])")

    def _run_fused(self, fused_step: tuple, n_steps: int, t0: int, constant: bool,
                   bar: Any) -> dict[str, np.ndarray]:
        from snngraph.runtimes.numba_cpu.fused import arrays, compiled_before, mark_compiled

        run, g, text = fused_step
        self._records = {n: self._record_buffer(n, n_steps, t0) for n in self.probes}
        for name in self.order:
            op = self.program.ir.op(name)
            if op.op == "host_fn":
                fn = self.program.ir.callables[op.fn]
                self._tables[name] = host_table(op, fn, t0, n_steps, self.dt, self.dtype)
        flat = {n: (buf.reshape(self.batch, buf.shape[1], -1), k)
                for n, (buf, k) in self._records.items()}
        self._records = flat
        run(n_steps, t0, constant, self.seed, self.example0, self.batch, *arrays(g))
        if not compiled_before(text):
            mark_compiled(text)
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
        return np.zeros((self.batch, count, *shape), self.dtype), every_k
