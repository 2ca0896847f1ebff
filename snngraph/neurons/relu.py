"""Rectified linear neurons: ``RectifiedLinear`` (rate ``max(J, 0)``) and
``SpikingRectifiedLinear`` (an integrate-and-fire neuron whose rate is ``max(J, 0)``:
``v += J dt``, spike when ``v > 1``, ``v -= 1``; several spikes per step are allowed)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.neurons.base import DT, Compartment, NeuronType, _as_float, per_neuron, positive_part
from snngraph.neurons.initial import SampledState


class RectifiedLinear(NeuronType):
    """Rate ReLU: ``amplitude * max(J, 0)``."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        return self.amplitude * positive_part(J)

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        return self.amplitude * (np.asarray(J, dtype=float) > 0)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        gain = max_rates / (1.0 - intercepts)
        return gain, -intercepts * gain

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        gain, bias = _as_float(gain), _as_float(bias)
        intercepts = -bias / gain
        return gain * (1.0 - intercepts), intercepts


AMPLITUDE = 0
"""The one row of the spiking ReLU's kernel parameters."""


def spiking_relu_step(dt, x, gain, bias, out, state, params):
    """Nengo's spiking ReLU: ``v += max(J, 0) dt``; ``floor(v)`` spikes this step (several
    allowed), ``v -= spikes``."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            v = state[b, 0, i] + max((gain[i] * x[b, i] + bias[i]), 0.0) * dt
            k = np.floor(v)
            out[b, i] = params[AMPLITUDE, i] * k / dt
            state[b, 0, i] = v - k


class SpikingRectifiedLinear(RectifiedLinear, SampledState):
    """Spiking ReLU: same rate curve, output is spikes of ``amplitude / dt``. Starts at rest
    unless ``initial_state`` says otherwise (as LIF)."""

    spiking: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage",)
    state_defaults: ClassVar[dict[str, Any]] = {"voltage": 0.0}

    def sample_state(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        return self.given_state(n, rng)

    def initial_state(self, n: int) -> np.ndarray:
        return NeuronType.initial_state(self, n)

    def step_kernel(self) -> Any:
        return spiking_relu_step

    def compartment(self, dt: float) -> Compartment:
        """NengoLoihi's ``configure_relu``: no leak, threshold ``1 / dt`` (the input current
        is integrated per step), no refractory period beyond the spike's step."""
        return Compartment(decay_v=0.0, vth=1.0 / dt, refractory=1, vmin=0.0, scale_v=False)

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({AMPLITUDE: self.amplitude}, n)
