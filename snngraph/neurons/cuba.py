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
from snngraph.neurons.base import DT, NeuronType, kernel_helper, per_neuron
from snngraph.schemas.base import Bool, Float, PosFloat

A_MEM, A_SYN, V_TH, V_LEAK, V_RESET, AMPLITUDE, DETACH = range(7)
"""Rows of CubaLIF's kernel parameters: ``dt/tau_mem``, ``dt/tau_syn``, ``v_th``,
``v_leak``, ``v_reset``, ``amplitude``, ``detach_reset`` (1/0)."""


@kernel_helper
def li_cell(v, c, j, a_mem, a_syn, v_leak):
    """One step of Norse's leaky integrator (``li_feed_forward_step``, LI's step and
    CubaLIF's before its spike), the one definition every kernel uses: returns the new
    voltage and current."""
    jumped = c + j
    v = v + a_mem * ((v_leak - v) + jumped)
    return v, jumped - a_syn * jumped


@kernel_helper
def cuba_lif_cell(v, c, j, params, i, fcode, fa):
    """One step of neuron ``i`` (Norse's ``lif_feed_forward_step``), the one definition
    every kernel uses: the leaky integration of ``li_cell``, then the spike and the reset.
    Returns ``(v~, z, v, i)``: the voltage before the reset, the spike
    (``surrogates.spike(fcode, fa, .)``: ``fcode = -1`` the true step, a run's), the
    voltage after the reset and the current. The reset uses the true spike when
    ``detach_reset`` or when running (the smooth one only for gradient checks)."""
    vt, c = li_cell(v, c, j, params[A_MEM, i], params[A_SYN, i], params[V_LEAK, i])
    th = params[V_TH, i]
    z = surrogates.spike(fcode, fa, vt - th)
    r = z
    if params[DETACH, i] != 0.0 or fcode < 0:  # detached or real spikes: hard reset
        r = 1.0 if vt > th else 0.0
    return vt, z, (1.0 - r) * vt + r * params[V_RESET, i], c


def cuba_lif_step(dt, x, gain, bias, out, state, params):
    """``cuba_lif_cell`` with true spikes for a block of examples."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            _, z, state[b, 0, i], state[b, 1, i] = cuba_lif_cell(
                state[b, 0, i], state[b, 1, i], gain[i] * x[b, i] + bias[i], params, i,
                -1, 0.0)
            out[b, i] = params[AMPLITUDE, i] * z


def cuba_lif_forward(J, state, params, fcode, fa, out, saved, b0, b1):
    """``cuba_lif_cell`` over T steps, keeping ``v~`` (the voltage before the reset).
    Time runs in the middle loop so every step reads and writes contiguous rows."""
    steps, _, n = out.shape
    one = J.shape[0] == 1  # an input constant over the steps: one row per example
    for b in range(b0, b1):
        for t in range(steps):
            for i in range(n):
                saved[t, b, 0, i], z, state[b, 0, i], state[b, 1, i] = cuba_lif_cell(
                    state[b, 0, i], state[b, 1, i], J[0 if one else t, b, i], params, i,
                    fcode, fa)
                out[t, b, i] = params[AMPLITUDE, i] * z


def cuba_lif_backward(dy, saved, params, code, a_sg, fcode, fa, adj, dJ, b0, b1):
    """The reverse of ``cuba_lif_forward``; with ``detach_reset`` the
    reset's spike carries no gradient (Norse's recurrent cell), otherwise it does (Norse's
    feed-forward cell)."""
    steps, _, n = dy.shape
    for b in range(b0, b1):
        for t in range(steps - 1, -1, -1):
            for i in range(n):
                a, bs, th, vr = params[A_MEM, i], params[A_SYN, i], params[V_TH, i], \
                    params[V_RESET, i]
                detach = params[DETACH, i] != 0.0
                gv, gc = adj[b, 0, i], adj[b, 1, i]
                vt = saved[t, b, 0, i]
                s = surrogates.grad(code, a_sg, vt - th)
                if detach or fcode < 0:
                    z = 1.0 if vt > th else 0.0
                else:
                    z = surrogates.spike(fcode, fa, vt - th)
                g_vt = dy[t, b, i] * params[AMPLITUDE, i] * s + gv * (1.0 - z)
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
        return per_neuron({A_MEM: dt / self.tau_mem, A_SYN: dt / self.tau_syn, V_TH: self.v_th,
                           V_LEAK: self.v_leak, V_RESET: self.v_reset,
                           AMPLITUDE: self.amplitude, DETACH: float(self.detach_reset)}, n)

    def initial_state(self, n: int) -> np.ndarray:
        return np.array([np.full(n, self.v_leak), np.zeros(n)], dtype=float)

