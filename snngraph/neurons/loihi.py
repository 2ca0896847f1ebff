"""Loihi neuron types: the chip's discretised dynamics (NengoLoihi's ``LoihiLIF`` and
``LoihiSpikingRectifiedLinear``).

On the chip a compartment spikes at most once per step and its voltage is reset to 0,
so the inter-spike interval is a whole number of steps: rates are aliased to
``1 / (dt * ceil(period / dt))``. ``tau_rc`` becomes a 12-bit voltage decay and
``tau_ref`` a whole number of steps; the rate curves below use those discretised values.
Gain and bias come from the continuous curves, as NengoLoihi does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.neurons.base import DT, per_neuron, positive_part
from snngraph.neurons.lif import AMPLITUDE, LIF, MIN_VOLTAGE, TAU_RC, TAU_REF, lif_rate_grad
from snngraph.neurons.relu import AMPLITUDE as RELU_AMPLITUDE
from snngraph.neurons.relu import SpikingRectifiedLinear

DECAY_BITS = 12  # voltage/current decays are 12-bit fractions on the chip


def discretize_tau_rc(tau_rc: float, dt: float) -> float:
    """The ``tau_rc`` the chip realises once its decay is rounded to 12 bits."""
    scale = 2**DECAY_BITS - 1
    decay = np.round(-np.expm1(-dt / tau_rc) * scale) / scale
    return -dt / np.log1p(-decay)


def discretize_tau_ref(tau_ref: float, dt: float) -> float:
    """The refractory period rounded to whole steps."""
    return dt * np.round(tau_ref / dt)


def _aliased(period: np.ndarray, dt: float) -> np.ndarray:
    """Rate of a neuron that can only fire on whole steps (at most once per step)."""
    return 1.0 / (dt * np.ceil(period / dt))


def loihi_lif_step(dt, x, gain, bias, out, state, params):
    """NengoLoihi's LoihiLIF step: discretised tau_rc/tau_ref, at most one spike per
    step, reset to 0, refractory ``tau_ref' + dt``. params rows: those of ``LIF`` with
    the discretised ``tau_rc'``, ``tau_ref'``."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            ref = state[b, 1, i] - dt
            delta = min(max(dt - ref, 0.0), dt)
            j = gain[i] * x[b, i] + bias[i]
            v = state[b, 0, i] - (j - state[b, 0, i]) * np.expm1(-delta / params[TAU_RC, i])
            out[b, i] = 0.0
            if v < params[MIN_VOLTAGE, i]:
                v = params[MIN_VOLTAGE, i]
            if v > 1.0:
                out[b, i] = params[AMPLITUDE, i] / dt
                v = 0.0
                ref = params[TAU_REF, i] + dt
            state[b, 0, i] = v
            state[b, 1, i] = ref


def loihi_relu_step(dt, x, gain, bias, out, state, params):
    """NengoLoihi's spiking ReLU: ``v += J dt``, one spike when ``v > 1``, ``v = 0`` (the
    overshoot is lost), ``v >= 0``."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            v = max(state[b, 0, i] + (gain[i] * x[b, i] + bias[i]) * dt, 0.0)
            if v > 1.0:
                out[b, i] = params[RELU_AMPLITUDE, i] / dt
                v = 0.0
            else:
                out[b, i] = 0.0
            state[b, 0, i] = v


class LoihiLIF(LIF):
    """LIF as the chip runs it: 12-bit ``tau_rc``, whole-step ``tau_ref``, one spike per
    step at most. Rate: ``1 / (dt * ceil((tau_ref' + tau_rc' log1p(1/(J-1))) / dt))``."""

    spiking: ClassVar[bool] = True

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        j = np.asarray(J, dtype=float) - 1.0
        out = np.zeros_like(j)
        on = j > 0
        tau_rc = discretize_tau_rc(self.tau_rc, dt)
        tau_ref = discretize_tau_ref(self.tau_ref, dt)
        out[on] = _aliased(tau_ref + tau_rc * np.log1p(1.0 / j[on]), dt)
        return self.amplitude * out

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        """The aliased curve is a staircase (zero derivative almost everywhere); training
        uses the derivative of the continuous curve with the chip's discretised time
        constants instead (a straight-through estimate, as NengoLoihi trains it)."""
        return self.amplitude * lif_rate_grad(J, discretize_tau_rc(self.tau_rc, dt),
                                              discretize_tau_ref(self.tau_ref, dt), smoothing)

    def rate_kernel(self) -> Any:
        return None  # the aliased curve: rates and rate_grad above

    def step_kernel(self) -> Any:
        return loihi_lif_step

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({TAU_RC: discretize_tau_rc(self.tau_rc, dt),
                           TAU_REF: discretize_tau_ref(self.tau_ref, dt),
                           AMPLITUDE: self.amplitude, MIN_VOLTAGE: self.min_voltage}, n)


class LoihiSpikingRectifiedLinear(SpikingRectifiedLinear):
    """Spiking ReLU as the chip runs it: ``v += J dt``, spike when ``v > 1``, ``v = 0``
    (the overshoot is lost), one spike per step at most. Rate: ``1 / (dt ceil(1 / (J dt)))``."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        j = positive_part(J)
        out = np.zeros_like(j)
        on = j > 0
        out[on] = _aliased(1.0 / j[on], dt)
        return self.amplitude * out

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        """Straight-through: the derivative of ``max(J, 0)``, which the aliased staircase
        follows on average (NengoLoihi's training does the same)."""
        return self.amplitude * (np.asarray(J, dtype=float) > 0)

    def step_kernel(self) -> Any:
        return loihi_relu_step
