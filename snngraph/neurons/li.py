"""``LI``: Norse's leaky-integrator readout (no threshold, output = membrane voltage).

Per step (forward Euler, current jump first, as ``norse.torch.LICell``)::

    i' = i + x
    v  = v + dt/tau_mem * (v_leak - v + i')
    i  = (1 - dt/tau_syn) * i'

The output is ``amplitude * v``. For a constant input the fixed point is
``i' = x tau_syn / dt`` and ``v = v_leak + i'``, which ``rates`` returns.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.neurons.base import DT, NeuronType, per_neuron
from snngraph.neurons.cuba import li_cell
from snngraph.schemas.base import Float, PosFloat

A_MEM, A_SYN, V_LEAK, AMPLITUDE = range(4)
"""Rows of LI's kernel parameters: ``dt/tau_mem``, ``dt/tau_syn``, ``v_leak``, ``amplitude``."""


def li_step(dt, x, gain, bias, out, state, params):
    """``li_cell`` for a block of examples; the output is the voltage."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            v, state[b, 1, i] = li_cell(state[b, 0, i], state[b, 1, i],
                                        gain[i] * x[b, i] + bias[i], params[A_MEM, i],
                                        params[A_SYN, i], params[V_LEAK, i])
            state[b, 0, i] = v
            out[b, i] = params[AMPLITUDE, i] * v


def li_forward(J, state, params, fcode, fa, out, saved, b0, b1):
    """``li_cell`` over T steps (nothing to keep: the reverse pass is linear)."""
    steps, _, n = out.shape
    one = J.shape[0] == 1  # an input constant over the steps: one row per example
    for b in range(b0, b1):
        for t in range(steps):
            for i in range(n):
                v, state[b, 1, i] = li_cell(state[b, 0, i], state[b, 1, i],
                                            J[0 if one else t, b, i], params[A_MEM, i],
                                            params[A_SYN, i], params[V_LEAK, i])
                state[b, 0, i] = v
                out[t, b, i] = params[AMPLITUDE, i] * v


def li_backward(dy, saved, params, code, a_sg, fcode, fa, adj, dJ, b0, b1):
    """The reverse of ``li_forward``."""
    steps, _, n = dy.shape
    for b in range(b0, b1):
        for t in range(steps - 1, -1, -1):
            for i in range(n):
                a, bs = params[A_MEM, i], params[A_SYN, i]
                g_v = dy[t, b, i] * params[AMPLITUDE, i] + adj[b, 0, i]
                g_jump = g_v * a + adj[b, 1, i] * (1.0 - bs)
                dJ[t, b, i] = g_jump
                adj[b, 0, i], adj[b, 1, i] = g_v * (1.0 - a), g_jump


class LI(NeuronType):
    """Leaky-integrator readout (Norse ``LICell``); time constants in seconds."""

    discrete: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "current")
    _positional: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem")

    tau_syn: PosFloat = 0.005
    """Synaptic current time constant in seconds (Norse: 5 ms)."""
    tau_mem: PosFloat = 0.01
    """Membrane time constant in seconds (Norse: 10 ms)."""
    v_leak: Float = 0.0
    """Resting voltage."""
    bptt_saved: ClassVar[int] = 0

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Steady-state voltage for a constant input per step (not a firing rate)."""
        return self.amplitude * (self.v_leak + np.asarray(J, dtype=float) * self.tau_syn / dt)

    def step_kernel(self) -> Any:
        return li_step

    def bptt_kernels(self) -> tuple[Any, Any]:
        return li_forward, li_backward

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({A_MEM: dt / self.tau_mem, A_SYN: dt / self.tau_syn,
                           V_LEAK: self.v_leak, AMPLITUDE: self.amplitude}, n)

    def initial_state(self, n: int) -> np.ndarray:
        return np.array([np.full(n, self.v_leak), np.zeros(n)], dtype=float)

