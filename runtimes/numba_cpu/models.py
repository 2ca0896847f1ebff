"""Executors of the ops whose math a model brings: neurons (the neuron type's step kernel
or rate curve) and processes (the process's kernel)."""

from __future__ import annotations

import numpy as np
from snngraph.runtimes.numba_cpu import kernels
from snngraph.runtimes.numba_cpu.executor import F32, Executor, executes, parallel, row_blocks
from snngraph.runtimes.numba_cpu.jit import jit

from snngraph.document import spec_from_dict


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
