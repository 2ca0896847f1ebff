"""Executors of the ops that carry values across steps: synapses (filters) and delays.

They output what they held at the end of the previous step and take their new input
after every op of the step has run (a one-step delay, as Nengo's synapses), which is what
lets recurrent loops through them run."""

from __future__ import annotations

import numpy as np
from snngraph.runtimes.numba_cpu.executor import Executor, executes
from snngraph.runtimes.numba_cpu.fused import lowpass

from snngraph.filters import discretize


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
        # a Triangle's taps: a ring of past inputs (the fused code keeps the state space)
        self.taps = np.concatenate([D[0], C[0]]) if op.synapse["type"] == "TriangleSynapse" \
            and len(A) else None

    def allocate(self, batch):
        super().allocate(batch)
        self.state = np.zeros((batch, self.op.size, max(len(self.A), 1)))
        if self.taps is not None:
            self.ring = np.zeros((batch, len(self.taps), self.op.size))
            self.head = np.zeros(1, np.int64)

    def reset(self):
        super().reset()
        self.state[:] = 0.0
        if self.taps is not None:
            self.ring[:] = 0.0
            self.head[0] = 0

    def compute(self, x, t):
        pass  # out already holds the value from the end of the previous step

    def update(self, x):
        if x is None:
            x = np.zeros_like(self.out)
        if self.a is not None:  # lowpass: y = a y + b u (the fused code's kernel too)
            lowpass(self.out, x, self.a, self.b)
        elif self.taps is not None:
            self.backend.kernel("fir_filter")(x, self.ring, self.head, self.out, self.taps)
        elif len(self.A) == 0:  # a pure gain (Lowpass(0))
            lowpass(self.out, x, 0.0, float(self.D[0, 0]))
        else:
            step = self.backend.kernel("state_space_filter")
            step(x, self.state, self.out, self.A, self.B, self.C, self.D)

    def emit(self, g):
        x = g.summed(self.op.name)
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
        self.ring = self.zeros(self.op.steps, batch, self.op.size)
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
        x = g.summed(self.op.name)
        ring, start, out = g.arg(lambda: self.ring), g.arg(lambda: int(self.head[0])), \
            g.out(self.op.name)
        slot = f"{ring}[({start} + k) % {self.op.steps}, b:b + 1]"
        g.lines.append(f"copy({slot}, {out})")
        g.updates.append(f"copy({x}, {slot})")
        return True

    def after_fused_run(self, n_steps: int) -> None:
        self.head[0] = (self.head[0] + n_steps) % self.op.steps
