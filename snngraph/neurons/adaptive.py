"""Adaptive LIF (Nengo's ``AdaptiveLIFRate`` and ``AdaptiveLIF``): a LIF neuron whose
input current is reduced by an adaptation state ``n``, ``tau_n dn/dt = inc_n * out - n``
(La Camera et al. 2004).

As in Nengo, ``rates`` is the plain LIF curve (adaptation left out): decoders are solved
on it. The adapted steady state, where ``n = inc_n * r`` and ``r = lif(J - n)``, is
``adapted_rates``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from snngraph.dists import Uniform
from snngraph.neurons.base import DT, _as_float, per_neuron
from snngraph.neurons.initial import SampledState
from snngraph.neurons.lif import LIFRate, lif_rate
from snngraph.schemas.base import NonNegFloat, PosFloat

TAU_RC, TAU_REF, AMPLITUDE, MIN_VOLTAGE, TAU_N, INC_N = range(6)
"""Rows of the kernel parameters."""
V, REF, ADAPT = range(3)
"""AdaptiveLIF's state rows (AdaptiveLIFRate has only the adaptation, row 0)."""


class _Adaptive(SampledState, abstract=True):
    """The parameters and curves both adaptive types share."""

    _positional: ClassVar[tuple[str, ...]] = ("tau_n", "inc_n", "tau_rc", "tau_ref",
                                              "amplitude")  # Nengo's order

    tau_n: PosFloat = 1.0
    """Adaptation time constant, seconds."""
    inc_n: NonNegFloat = 0.01
    """Adaptation increment per unit of output (per spike of amplitude 1 / dt)."""
    tau_rc: PosFloat = 0.02
    """Membrane time constant, seconds."""
    tau_ref: NonNegFloat = 0.002
    """Absolute refractory period, seconds."""

    def _lif(self) -> LIFRate:
        return LIFRate(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Nengo's: the LIF curve without adaptation (what decoders are solved on)."""
        return self.amplitude * lif_rate(J, self.tau_rc, self.tau_ref)

    def adapted_rates(self, J: Any) -> np.ndarray:
        """The steady state under adaptation: ``r = amplitude * lif(J - inc_n * r)``
        (solved by bisection; the right side falls as ``r`` grows)."""
        J = np.asarray(J, dtype=float)
        lo, hi = np.zeros_like(J), self.rates(J)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            above = self.rates(J - self.inc_n * mid) > mid
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return 0.5 * (lo + hi)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        return self._lif().gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        return self._lif().max_rates_intercepts(_as_float(gain), _as_float(bias))

    def rate_target_problem(self) -> str | None:
        return (f"{type(self).__name__}'s rates() is the LIF curve without adaptation "
                "(Nengo's, for solving decoders), not its steady state; run it on "
                "sg.Simulator (numba), which simulates the adaptation")

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({TAU_RC: self.tau_rc, TAU_REF: self.tau_ref,
                           AMPLITUDE: self.amplitude,
                           MIN_VOLTAGE: getattr(self, "min_voltage", 0.0),
                           TAU_N: self.tau_n, INC_N: self.inc_n}, n)


def adaptive_lif_rate_step(dt, x, gain, bias, out, state, params):
    """Nengo's AdaptiveLIFRate step: the LIF rate of ``J - n``, then
    ``n += dt / tau_n * (inc_n * rate - n)``."""
    real = state.dtype.type  # the runtime's precision (a kernel per precision)
    step, one = real(dt), real(1.0)
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            n = state[b, 0, i]
            j = gain[i] * x[b, i] + bias[i] - n - one
            rate = real(0.0)
            if j > 0:
                rate = params[AMPLITUDE, i] / (
                    params[TAU_REF, i] + params[TAU_RC, i] * np.log1p(one / j))
            out[b, i] = rate
            state[b, 0, i] = n + step / params[TAU_N, i] * (params[INC_N, i] * rate - n)


class AdaptiveLIFRate(_Adaptive):
    """Non-spiking adaptive LIF (Nengo's ``AdaptiveLIFRate``): outputs the LIF rate of
    ``J - n`` each step; the numba runtime steps its adaptation."""

    state: ClassVar[tuple[str, ...]] = ("adaptation",)
    state_defaults: ClassVar[dict[str, Any]] = {"adaptation": 0.0}

    def step_kernel(self) -> Any:
        return adaptive_lif_rate_step


def adaptive_lif_step(dt, x, gain, bias, out, state, params):  # noqa: C901 (one neuron's step)
    """Nengo's AdaptiveLIF step: Nengo's LIF step on ``J - n`` (exact integration over the
    non-refractory part of the step, the spike time interpolated, the refractory period
    from it), then ``n += dt / tau_n * (inc_n * out - n)``."""
    real = state.dtype.type  # the runtime's precision (a kernel per precision)
    step, one, zero = real(dt), real(1.0), real(0.0)
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            n = state[b, ADAPT, i]
            j = gain[i] * x[b, i] + bias[i] - n
            ref = state[b, REF, i] - step
            delta = min(max(step - ref, zero), step)
            v = state[b, V, i]
            v -= (j - v) * np.expm1(-delta / params[TAU_RC, i])
            spike = zero
            if v > one:
                spike = params[AMPLITUDE, i] / dt  # in float64: exactly 1/dt
                ref = params[TAU_REF, i] + step + params[TAU_RC, i] * np.log1p(
                    -(v - one) / (j - one))
                v = zero
            v = max(v, params[MIN_VOLTAGE, i])
            out[b, i] = spike
            state[b, V, i] = v
            state[b, REF, i] = ref
            state[b, ADAPT, i] = n + step / params[TAU_N, i] * (params[INC_N, i] * spike - n)


class AdaptiveLIF(_Adaptive):
    """Spiking adaptive LIF (Nengo's ``AdaptiveLIF``): Nengo's LIF on ``J - n``, spikes of
    ``amplitude / dt``, each raising ``n`` by ``inc_n * amplitude / tau_n``."""

    _positional: ClassVar[tuple[str, ...]] = ("tau_n", "inc_n", "tau_rc", "tau_ref",
                                              "min_voltage", "amplitude")
    spiking: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "refractory_time", "adaptation")
    state_defaults: ClassVar[dict[str, Any]] = {
        "voltage": Uniform(0.0, 1.0), "refractory_time": 0.0, "adaptation": 0.0}

    min_voltage: float = Field(0.0, le=0.0)
    """Lower bound of the membrane voltage (at most 0, as Nengo's; ``-inf``: unbounded)."""

    def step_kernel(self) -> Any:
        return adaptive_lif_step

