"""Executors of the ops whose math a model brings: neurons (the neuron type's step kernel
or rate curve) and processes (the process's kernel)."""

from __future__ import annotations

import numpy as np
from snngraph.compiler.chip import describe
from snngraph.runtimes.numba_cpu import kernels
from snngraph.runtimes.numba_cpu.executor import Executor, executes, parallel, row_blocks
from snngraph.runtimes.numba_cpu.jit import jit

from snngraph.document import spec_from_dict
from snngraph.errors import SimulationError
from snngraph.neurons.wrappers import RatesToSpikes


def runs_step(neuron, spike_mode: bool) -> bool:
    """Whether a neuron type runs its step kernel: in spike mode, when discrete, and when
    it is a rate type with state (e.g. ``AdaptiveLIFRate``'s adaptation); a spiking type
    swapped to rate mode runs its rate curve."""
    return neuron.step_kernel() is not None and (
        spike_mode or neuron.discrete or (bool(neuron.state) and not neuron.spiking))


@executes("neurons")
class NeuronsExec(Executor):
    """The neuron type's step kernel, or its rate curve. A rate-to-spike wrapper
    (``RegularSpiking`` ...) runs its base type the same way into its ``rate_out`` state
    row, then (spike mode) its own ``spike_kernel`` on that; its state rows are
    ``rate_out``, its own, then the base type's."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.neuron = spec_from_dict(op.neuron)
        self.gain, self.bias = self.param(op.gain), self.param(op.bias)
        spike = op.mode == "spike"
        self.wrapped = isinstance(self.neuron, RatesToSpikes)
        self.base = self.neuron.base_type if self.wrapped else self.neuron
        kernel = self.base.step_kernel() if runs_step(self.base, spike) else None
        self.kernel = jit(kernel) if kernel is not None else None
        dt = backend.dt
        self.kparams = np.ascontiguousarray(self.base.kernel_params(op.size, dt), self.dtype)
        self.spikes = jit(self.neuron.spike_kernel()) if self.wrapped and spike else None
        self.own = len(self.neuron.state) - len(self.base.state)  # rows before the base's
        if self.wrapped:
            self.sparams = np.ascontiguousarray(self.neuron.kernel_params(op.size, dt),
                                                self.dtype)
        self.state0 = self.param(op.state0)

    def allocate(self, batch):
        super().allocate(batch)
        self.J = self.zeros(batch, self.op.size) if self.kernel is None else None
        self.state = self.zeros(batch, len(self.neuron.state), self.op.size)
        self.rate = self.state[:, 0] if self.wrapped else self.out  # a view: rate_out
        self.blocks = [(a, b, self.state[a:b]) for a, b in row_blocks(batch, self.op.size)]
        # one block (small ops, a host loop's step): the kernel's views made once, here
        self._whole = (self.state[:, self.own:],) if len(self.blocks) == 1 else None

    def reset(self):
        super().reset()
        init = self.state0 if self.state0 is not None else \
            self.neuron.initial_state(self.op.size)
        self.state[:] = init[None] if len(init) else 0.0

    def compute(self, x, t):
        if x is None:
            x = self.zeros_in  # the backend's shared zero input
        if self.kernel is not None and self._whole is not None:
            self.kernel(self.backend.dt, x, self.gain, self.bias, self.rate, self._whole[0],
                        self.kparams)
        elif self.kernel is not None:
            parallel([(self._block, x, a, b, state) for a, b, state in self.blocks])
        else:
            kernels.current(x, self.gain, self.bias, self.J)
            self.rate[:] = self.base.rates(self.J, self.backend.dt)
        if self.spikes is not None:
            seed, op_id = self.backend.seed, self.backend.op_ids[self.op.name]
            example0 = self.backend.example0
            parallel([(self.spikes, self.backend.dt, self.rate[a:b], self.out[a:b],
                       state[:, 1:self.own], self.sparams, seed, op_id, example0 + a, t)
                      for a, b, state in self.blocks])
        elif self.wrapped:  # rate mode: the base type's output
            self.out[:] = self.rate

    def emit(self, g):
        if self.kernel is None or self.wrapped:
            return False
        x = g.summed(self.op.name)
        fn = g.kernel(self.neuron.step_kernel())
        args = [g.arg(lambda: self.gain), g.arg(lambda: self.bias), g.out(self.op.name),
                g.rows(lambda: self.state), g.arg(lambda: self.kparams)]
        return g.call(fn, g.arg(lambda: self.backend.dt), x, *args)

    def _block(self, x, a, b, state):
        """One thread's rows (the kernel releases the GIL)."""
        self.kernel(self.backend.dt, x[a:b], self.gain, self.bias, self.rate[a:b],
                    state[:, self.own:], self.kparams)


@executes("process")
class ProcessExec(Executor):
    """Runs the process's own kernel (``Process.kernel``) over blocks of rows."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.process = spec_from_dict(op.process)
        step = self.process.kernel()
        if step is None:
            raise SimulationError(
                f"{type(self.process).__name__} (process of {describe(op)}): no kernel, so "
                "the numba runtime cannot run it\n  fix: give the class a kernel() and "
                "kernel_params(dt, n) (see snngraph.processes.Process.kernel)")
        self.kernel = jit(step)
        self.kparams = tuple(self.process.kernel_params(backend.dt, op.size))
        self.divisor = self.param(op.divide_by)

    def allocate(self, batch):
        super().allocate(batch)
        self.state = self.process.kernel_state(batch, self.op.size)
        self.blocks = [(a, b, self.out[a:b], [s[a:b] for s in self.state])
                       for a, b in row_blocks(batch, self.op.size)]

    def reset(self):
        super().reset()
        for s, fresh in zip(self.state, self.process.kernel_state(*self.out.shape)):
            s[:] = fresh

    def compute(self, x, t):
        x = self.zeros_in if x is None else x
        seed, op_id = self.backend.seed, self.backend.op_ids[self.op.name]
        example0 = self.backend.example0
        parallel([(self.kernel, x[a:b], out, *state, *self.kparams, seed, op_id,
                   example0 + a, t) for a, b, out, state in self.blocks])
        if self.divisor is not None:
            self.out /= self.divisor

    def emit(self, g):
        x = g.summed(self.op.name)
        fn = g.kernel(self.process.kernel())
        args = [x, g.out(self.op.name)]
        args += [g.rows(lambda i=i: self.state[i]) for i in range(len(self.state))]
        args += [g.arg(lambda v=v: v) for v in self.kparams]
        op_id = self.backend.op_ids[self.op.name]
        g.call(fn, *args, "seed", op_id, "example0 + b", "t")
        if self.divisor is not None:
            g.lines.append(f"divide({args[1]}, {g.arg(lambda: self.divisor)})")
        return True
