"""Saturating rate neurons: ``Sigmoid`` (``1/tau_ref / (1 + exp(-J))``) and ``Tanh``
(``tanh(J) / tau_ref``), both times ``amplitude``; max rate ``1 / tau_ref``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.neurons.base import DT, NeuronType, _as_float
from snngraph.schemas.base import PosFloat


class Sigmoid(NeuronType):
    """Logistic rate neuron. The curve is strictly positive, so (as in Nengo) an
    ``intercept`` is the inflection point: the x where the rate is half its maximum."""

    _positional: ClassVar[tuple[str, ...]] = ("tau_ref",)
    intercept_is_threshold: ClassVar[bool] = False  # an intercept of 1.1 is valid when
    # the max rate is below the inflection point's (half of 1/tau_ref), as in Nengo

    tau_ref: PosFloat = 0.0025
    """Sets the maximum rate ``1 / tau_ref``; seconds."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        J = np.asarray(J, dtype=float)
        return self.amplitude / self.tau_ref / (1.0 + np.exp(-J))

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        s = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(J, dtype=float)))
        return self.amplitude / self.tau_ref * s * (1.0 - s)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        self._check_max_rates(max_rates, 1.0 / self.tau_ref, "1/tau_ref")
        inverse = -np.log(1.0 / (self.tau_ref * max_rates) - 1.0)
        with np.errstate(divide="ignore"):  # intercept 1: infinite gain, refused by name
            gain = inverse / (1.0 - intercepts)
        return gain, inverse - gain

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        gain, bias = _as_float(gain), _as_float(bias)
        inverse = gain + bias
        return 1.0 / self.tau_ref / (1.0 + np.exp(-inverse)), 1.0 - inverse / gain


class Tanh(NeuronType):
    """Hyperbolic-tangent rate neuron (output can be negative)."""

    _positional: ClassVar[tuple[str, ...]] = ("tau_ref",)

    tau_ref: PosFloat = 0.0025
    """Sets the maximum rate ``1 / tau_ref``; seconds."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        return self.amplitude / self.tau_ref * np.tanh(np.asarray(J, dtype=float))

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        return self.amplitude / self.tau_ref / np.cosh(np.asarray(J, dtype=float)) ** 2

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        self._check_max_rates(max_rates, 1.0 / self.tau_ref, "1/tau_ref")
        inverse = np.arctanh(max_rates * self.tau_ref)
        gain = inverse / (1.0 - intercepts)
        return gain, -gain * intercepts

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        gain, bias = _as_float(gain), _as_float(bias)
        return np.tanh(gain + bias) / self.tau_ref, -bias / gain
