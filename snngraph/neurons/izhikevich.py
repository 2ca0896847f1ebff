"""Izhikevich's neuron (Nengo's ``Izhikevich``; E. M. Izhikevich, "Simple model of spiking
neurons", IEEE TNN 2003), with Nengo's names: ``voltage`` (v, mV), ``recovery`` (u),
``tau_recovery`` (a), ``coupling`` (b), ``reset_voltage`` (c), ``reset_recovery`` (d).

Per step, Nengo's order: ``J = max(J, -30)``; ``v += 1000 dt (0.04 v^2 + 5 v + 140 - u +
J)``; a spike when ``v >= 30``, then ``v = c``; ``u += 1000 dt a (b v - u)``, plus ``d`` on
a spike. There is no closed-form rate curve: ``rates`` simulates one second, as Nengo's
does, and ``gain_bias`` / ``max_rates_intercepts`` are Nengo's generic numeric solutions on
that curve (the same grids, so the same numbers).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.dists import Uniform
from snngraph.errors import ValidationError, where
from snngraph.neurons.base import DT, _as_float, per_neuron
from snngraph.neurons.initial import SampledState
from snngraph.schemas.base import Float, NonNegFloat, PosFloat

TAU_RECOVERY, COUPLING, RESET_VOLTAGE, RESET_RECOVERY, AMPLITUDE = range(5)
"""Rows of the kernel parameters."""
V, U = range(2)
"""State rows: voltage, recovery."""

RATE_DT, SETTLE_TIME, SIM_TIME = 0.001, 0.001, 1.0
"""Nengo's ``settled_firingrate`` for ``Izhikevich.rates``: its step, the time left to
settle, the time spikes are counted over (Nengo uses these whatever the simulation's dt)."""
J_STEPS = 101
"""Nengo's grid size for the generic gain/bias solution (odd: 0 is on the grid)."""


def izhikevich_update(v, u, J, dt, a, b, c, d):
    """One step for arrays (float64, in place): returns the spikes (1 / dt or 0)."""
    J = np.maximum(J, -30.0)
    v += (0.04 * v ** 2 + 5.0 * v + 140.0 - u + J) * 1000.0 * dt
    spiked = v >= 30.0
    v[spiked] = c
    u += a * (b * v - u) * 1000.0 * dt
    u[spiked] += d
    return spiked / dt


def izhikevich_step(dt, x, gain, bias, out, state, params):
    """The numba runtime's step, in the state's precision (a kernel per precision)."""
    real = state.dtype.type
    step = real(dt)
    k = real(1000.0) * step
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            j = max(gain[i] * x[b, i] + bias[i], real(-30.0))
            v, u = state[b, V, i], state[b, U, i]
            v += (real(0.04) * v * v + real(5.0) * v + real(140.0) - u + j) * k
            spike = v >= real(30.0)
            if spike:
                v = params[RESET_VOLTAGE, i]
            u += params[TAU_RECOVERY, i] * (params[COUPLING, i] * v - u) * k
            if spike:
                u += params[RESET_RECOVERY, i]
            out[b, i] = params[AMPLITUDE, i] / dt if spike else 0.0  # float64: exactly 1/dt
            state[b, V, i] = v
            state[b, U, i] = u


class Izhikevich(SampledState):
    """Izhikevich's neuron, regular spiking by default. Other classes (Nengo's list):
    intrinsically bursting ``reset_voltage=-55, reset_recovery=4``; chattering
    ``reset_voltage=-50, reset_recovery=2``; fast spiking ``tau_recovery=0.1``;
    low-threshold spiking ``coupling=0.25``; resonator ``tau_recovery=0.1, coupling=0.26``.
    """

    _positional: ClassVar[tuple[str, ...]] = ("tau_recovery", "coupling", "reset_voltage",
                                              "reset_recovery")
    spiking: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "recovery")
    state_defaults: ClassVar[dict[str, Any]] = {"voltage": Uniform(0.0, 1.0), "recovery": 0.0}

    tau_recovery: PosFloat = 0.02
    """(a) Rate of the recovery variable, per millisecond."""
    coupling: NonNegFloat = 0.2
    """(b) Sensitivity of the recovery to the voltage below threshold."""
    reset_voltage: Float = -65.0
    """(c) Voltage after a spike, mV."""
    reset_recovery: Float = 8.0
    """(d) Added to the recovery at each spike."""

    def _update(self, v, u, J, dt=RATE_DT):
        return izhikevich_update(v, u, J, dt, self.tau_recovery, self.coupling,
                                 self.reset_voltage, self.reset_recovery)

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Nengo's estimate: from ``v = u = 0``, settle for 1 ms, then the mean output over
        one second at a 1 ms step (``dt`` is not used, as in Nengo); spikes times
        ``amplitude``."""
        J = np.asarray(J, dtype=float)
        v, u, total = np.zeros_like(J), np.zeros_like(J), np.zeros_like(J)
        for _ in range(int(SETTLE_TIME / RATE_DT)):
            self._update(v, u, J)
        steps = int(SIM_TIME / RATE_DT)
        for _ in range(steps):
            total += self._update(v, u, J)
        return self.amplitude * total / float(steps)

    def rate_target_problem(self) -> str | None:
        return ("Izhikevich's rates() is Nengo's estimate, a one-second simulation per call "
                "(a spike count: a staircase with no usable derivative); run it on "
                "sg.Simulator (numba)")

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        raise ValidationError(
            f"Izhikevich: its rate curve is a spike count (a staircase) with no usable "
            f"derivative, so it cannot be trained with method='rate'{where(self.site)}",
            obj="Izhikevich")

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Nengo's generic solution: find the threshold and top currents on a doubling
        grid of 101 points, then interpolate the rate curve between them."""
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        j_threshold, j_max = self._current_range(max_rates.max())
        J = np.linspace(j_threshold, j_max, J_STEPS)
        j_tops = np.interp(max_rates, self.rates(J), J)
        gain = (j_threshold - j_tops) / (intercepts - 1.0)
        return gain, j_tops - gain

    def _current_range(self, max_rate: float) -> tuple[float, float]:
        j_threshold = j_max = None
        span = 10.0
        for _ in range(10):
            J = np.linspace(-span, span, J_STEPS)
            rate = self.rates(J)
            if j_threshold is None and (rate <= 0).any():
                j_threshold = J[np.nonzero(rate <= 0)[0][-1]]
            if j_max is None and (rate >= max_rate).any():
                j_max = J[np.nonzero(rate >= max_rate)[0][0]]
            if j_threshold is not None and j_max is not None:
                return j_threshold, j_max
            span *= 2.0
        raise self._no_curve("could not find the firing threshold" if j_threshold is None
                             else f"cannot reach max_rates up to {max_rate:g} Hz")

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        """Nengo's generic inverse: the rate at x=1 and the last silent x of 101."""
        gain, bias = _as_float(gain), _as_float(bias)
        max_rates = self.rates(gain + bias)
        x = np.linspace(-1.0, 1.0, J_STEPS)
        firing = self.rates(gain * x[:, None] + bias) > 0
        return max_rates, x[np.maximum(np.argmax(firing, axis=0) - 1, 0)]

    def step_kernel(self) -> Any:
        return izhikevich_step

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({TAU_RECOVERY: self.tau_recovery, COUPLING: self.coupling,
                           RESET_VOLTAGE: self.reset_voltage,
                           RESET_RECOVERY: self.reset_recovery, AMPLITUDE: self.amplitude}, n)
