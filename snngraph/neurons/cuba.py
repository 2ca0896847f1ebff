"""``CubaLIF``: Norse's current-based LIF neuron (``LIFCell``; NIR's ``CubaLIF``).

Per step, forward Euler with the current jump first (``norse.torch.functional.lif``)::

    i' = i + x                                  synaptic current jumps by the input
    v~ = v + dt/tau_mem * (v_leak - v + i')     the jumped current reaches v this step
    i  = (1 - dt/tau_syn) * i'
    z  = H(v~ - v_th)                           H(x) = 1 for x > 0
    v  = (1 - z) v~ + z v_reset                 reset to v_reset, no delay

The output is ``amplitude * z``. State starts at ``v = v_leak``, ``i = 0``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import model_validator

from snngraph import surrogates
from snngraph.base import FieldError
from snngraph.neurons.base import DT, NeuronType, per_neuron
from snngraph.schemas.base import Bool, Float, PosFloat


def cuba_lif_step(dt, x, gain, bias, out, state, params):
    """Norse's lif_feed_forward_step. params rows: dt/tau_mem, dt/tau_syn, v_th, v_leak,
    v_reset, amplitude."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            jumped = state[b, 1, i] + (gain[i] * x[b, i] + bias[i])
            vt = state[b, 0, i] + params[0, i] * ((params[3, i] - state[b, 0, i]) + jumped)
            state[b, 1, i] = jumped - params[1, i] * jumped
            if vt > params[2, i]:
                out[b, i] = params[5, i]
                state[b, 0, i] = params[4, i]
            else:
                out[b, i] = 0.0
                state[b, 0, i] = vt


def cuba_lif_forward(J, state, params, fcode, fa, out, saved, b0, b1):
    """``cuba_lif_step`` over T steps, keeping ``v~`` (the voltage before the reset).
    Time runs in the middle loop so every step reads and writes contiguous rows."""
    steps, _, n = out.shape
    one = J.shape[0] == 1  # an input constant over the steps: one row per example
    for b in range(b0, b1):
        for t in range(steps):
            for i in range(n):
                a, bs, th, vl, vr = params[0, i], params[1, i], params[2, i], params[3, i], \
                    params[4, i]
                v, c = state[b, 0, i], state[b, 1, i]
                jumped = c + J[0 if one else t, b, i]
                vt = v + a * ((vl - v) + jumped)
                saved[t, b, 0, i] = vt
                z = surrogates.spike(fcode, fa, vt - th)
                out[t, b, i] = params[5, i] * z
                if params[6, i] != 0.0 or fcode < 0:  # detached or real spikes: hard reset
                    z = 1.0 if vt > th else 0.0
                state[b, 0, i] = (1.0 - z) * vt + z * vr
                state[b, 1, i] = jumped - bs * jumped


def cuba_lif_backward(dy, saved, params, code, a_sg, fcode, fa, adj, dJ, b0, b1):
    """The reverse of ``cuba_lif_forward``; with ``detach_reset`` (params row 6) the
    reset's spike carries no gradient (Norse's recurrent cell), otherwise it does (Norse's
    feed-forward cell)."""
    steps, _, n = dy.shape
    for b in range(b0, b1):
        for t in range(steps - 1, -1, -1):
            for i in range(n):
                a, bs, th, vr = params[0, i], params[1, i], params[2, i], params[4, i]
                detach = params[6, i] != 0.0
                gv, gc = adj[b, 0, i], adj[b, 1, i]
                vt = saved[t, b, 0, i]
                s = surrogates.grad(code, a_sg, vt - th)
                if detach or fcode < 0:
                    z = 1.0 if vt > th else 0.0
                else:
                    z = surrogates.spike(fcode, fa, vt - th)
                g_vt = dy[t, b, i] * params[5, i] * s + gv * (1.0 - z)
                if not detach:
                    g_vt += gv * (vr - vt) * s
                g_jump = g_vt * a + gc * (1.0 - bs)
                dJ[t, b, i] = g_jump
                adj[b, 0, i], adj[b, 1, i] = g_vt * (1.0 - a), g_jump


class CubaLIF(NeuronType):
    """Current-based LIF with Norse's defaults (tau_syn 5 ms, tau_mem 10 ms, v_th 1).
    ``rates(J)`` is spikes per step for a constant input ``J`` per step."""

    spiking: ClassVar[bool] = True
    discrete: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "current")

    tau_syn: PosFloat = 0.005
    """Synaptic current time constant in seconds (Norse: 5 ms)."""
    tau_mem: PosFloat = 0.01
    """Membrane time constant in seconds (Norse: 10 ms)."""
    v_th: Float = 1.0
    """Firing threshold."""
    v_leak: Float = 0.0
    """Resting voltage."""
    v_reset: Float = 0.0
    """Voltage after a spike."""
    detach_reset: Bool = True
    """Training through time: no gradient through the reset's spike (as Norse's recurrent
    ``LIFRecurrentCell``); False lets it through (as Norse's feed-forward ``LIFCell``)."""

    default_surrogate: ClassVar[surrogates.Surrogate] = surrogates.SuperSpike(alpha=1.0)
    """What Norse 1.1.0's ``method="super"`` computes (it ignores its alpha)."""

    @model_validator(mode="after")
    def _reset_below_threshold(self) -> CubaLIF:
        if self.v_reset >= self.v_th:
            raise FieldError("v_reset", self.v_reset, f"expected a value below v_th={self.v_th}"
                             " (otherwise the neuron fires every step)")
        return self

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Long-run spikes per step: once the current settles at ``i' = J tau_syn / dt``,
        ``v`` restarts from ``v_reset`` after each spike, so the period is the first
        ``n`` with ``v_n > v_th``, ``v_n = u + (v_reset - u)(1 - b)^n``,
        ``u = v_leak + i'``, ``b = dt / tau_mem`` (requires ``b < 1``)."""
        b = dt / self.tau_mem
        if b >= 1:
            raise self._no_curve(f"needs dt < tau_mem for a rate curve (dt={dt}, "
                                 f"tau_mem={self.tau_mem})")
        u = self.v_leak + np.asarray(J, dtype=float) * self.tau_syn / dt
        out = np.zeros_like(u)
        fires = u > self.v_th
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log((u[fires] - self.v_th) / (u[fires] - self.v_reset)) / np.log1p(-b)
        out[fires] = 1.0 / np.maximum(np.floor(ratio) + 1, 1.0)
        return self.amplitude * out

    def step_kernel(self) -> Any:
        return cuba_lif_step

    def bptt_kernels(self) -> tuple[Any, Any]:
        return cuba_lif_forward, cuba_lif_backward

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        row = [dt / self.tau_mem, dt / self.tau_syn, self.v_th, self.v_leak, self.v_reset,
               self.amplitude, float(self.detach_reset)]
        return per_neuron(row, n)

    def initial_state(self, n: int) -> np.ndarray:
        return np.array([np.full(n, self.v_leak), np.zeros(n)], dtype=np.float32)

