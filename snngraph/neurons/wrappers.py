"""Rate-to-spike wrappers (Nengo's ``RatesToSpikesNeuronType``): ``RegularSpiking``,
``StochasticSpiking`` and ``PoissonSpiking`` turn a rate type's output ``r`` into spikes
of ``amplitude / dt``.

Each step the base type runs first (its rate curve, or its own step when it has state,
e.g. ``AdaptiveLIFRate``'s adaptation) into the ``rate_out`` state row, then the
wrapper's ``spike_kernel`` turns that into spikes. As in Nengo: ``rates``, ``gain_bias``
and ``max_rates_intercepts`` are the base type's (the wrapper's ``amplitude`` scales only
the spikes), and a negative rate (e.g. ``Tanh``) gives negative spikes. The random draws
of the stochastic wrappers are counter hashes of (seed, op, example, step, neuron)
(``snngraph.draws``), so results do not depend on how examples are batched; they are not
NumPy's stream, so they differ draw by draw from Nengo's while following the same
distributions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator

from snngraph.base import FieldError
from snngraph.dists import Uniform
from snngraph.draws import draw_key, draw_uniform, splitmix64
from snngraph.neurons.base import DT, NeuronType, kernel_helper, per_neuron
from snngraph.neurons.direct import Direct
from snngraph.neurons.initial import SampledState

AMPLITUDE = 0
"""The one row of the wrappers' kernel parameters."""
POISSON_CHUNK = 16.0
"""Poisson counts are drawn in parts of mean at most this (inversion needs ``e^-mean``
well above float underflow, and takes about ``mean`` iterations)."""


class RatesToSpikes(SampledState, abstract=True):
    """Base of the wrappers: ``base_type`` is the rate type whose output is turned into
    spikes. State: the wrapper's own variables, then the base type's."""

    _positional: ClassVar[tuple[str, ...]] = ("base_type", "amplitude")
    spiking: ClassVar[bool] = True

    base_type: NeuronType
    """The (rate) neuron type whose output sets the spike rate."""

    @field_validator("base_type")
    @classmethod
    def _rate_base(cls, value: NeuronType) -> NeuronType:
        if isinstance(value, RatesToSpikes | Direct):
            raise FieldError("base_type", value, "expected a rate neuron type (e.g. "
                             "sg.LIFRate()), not a wrapper or Direct")
        return value

    @property
    def state(self) -> tuple[str, ...]:  # type: ignore[override]
        """``rate_out`` (Nengo's name for the base type's output, the rate the spikes
        follow), the wrapper's variables, then the base type's (probeable by name)."""
        return ("rate_out", *self.state_defaults, *self.base_type.state)

    def sample_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        own = super().sample_state(n, rng)
        base = self.base_type.sample_state(n, rng)
        base = self.base_type.initial_state(n) if base is None else base
        return np.concatenate([np.zeros((1, n)), own, np.asarray(base, dtype=float)], axis=0)

    def initial_state(self, n: int) -> np.ndarray:
        return self.sample_state(n, np.random.default_rng(0))

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        return self.base_type.rates(J, dt)

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        return self.base_type.rate_grad(J, dt, smoothing)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.base_type.gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.base_type.max_rates_intercepts(gain, bias)

    def rate_target_problem(self) -> str | None:
        if self.amplitude != 1.0:
            return (f"the rate curve of {type(self).__name__} is its base type's (as in "
                    f"Nengo), which leaves out the wrapper's amplitude {self.amplitude:g}; "
                    "give the amplitude to the base type instead")
        return self.base_type.rate_target_problem()

    def spike_kernel(self) -> Any:
        """The conversion as a plain function: ``spikes(dt, rate[B,n], out[B,n],
        state[B,S,n], params[P,n], seed, op_id, example0, t)`` with the wrapper's own
        state rows only (those of ``state_defaults``)."""
        raise NotImplementedError

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({AMPLITUDE: self.amplitude}, n)


def regular_spikes(dt, rate, out, state, params, seed, op_id, example0, t):
    """Nengo's RegularSpiking: ``v += dt r``; ``floor(v)`` spikes; ``v -= floor(v)``."""
    for b in range(rate.shape[0]):
        for i in range(rate.shape[1]):
            v = state[b, 0, i] + dt * rate[b, i]
            k = np.floor(v)
            out[b, i] = params[AMPLITUDE, i] / dt * k
            state[b, 0, i] = v - k


class RegularSpiking(RatesToSpikes):
    """Spikes at regular intervals at the base type's rate (Nengo's ``RegularSpiking``,
    Voelker et al. 2020): an integrator of the rate that fires each time it passes 1."""

    state_defaults: ClassVar[dict[str, Any]] = {"voltage": Uniform(0.0, 1.0)}

    def spike_kernel(self) -> Any:
        return regular_spikes


def stochastic_spikes(dt, rate, out, state, params, seed, op_id, example0, t):
    """Nengo's StochasticSpiking: ``e = dt |r|``; ``floor(e)`` spikes, one more with
    probability ``e - floor(e)``; the sign of ``r``."""
    for b in range(rate.shape[0]):
        key = draw_key(seed, op_id, example0 + b, t)
        for i in range(rate.shape[1]):
            e = dt * abs(rate[b, i])
            k = np.floor(e)
            if draw_uniform(key, i) < e - k:
                k += 1.0
            out[b, i] = params[AMPLITUDE, i] / dt * k * np.sign(rate[b, i])


class StochasticSpiking(RatesToSpikes):
    """Stochastic rounding of the expected spike count per step (Nengo's
    ``StochasticSpiking``): close to Poisson statistics when ``dt r`` is small."""

    def spike_kernel(self) -> Any:
        return stochastic_spikes


@kernel_helper
def poisson_count(mean, key, i):
    """A Poisson sample of ``mean`` by inversion, in parts of at most ``POISSON_CHUNK``
    (each part its own draw, ``i`` salted by the part's number)."""
    count = 0.0
    part = 0
    while mean > 0.0:
        m = min(mean, POISSON_CHUNK)
        u = draw_uniform(key ^ splitmix64(np.uint64(part)), i)
        p = np.exp(-m)
        cdf = p
        k = 0.0
        while u > cdf and p > 0.0:
            k += 1.0
            p *= m / k
            cdf += p
        count += k
        mean -= m
        part += 1
    return count


def poisson_spikes(dt, rate, out, state, params, seed, op_id, example0, t):
    """Nengo's PoissonSpiking: ``Poisson(dt |r|)`` spikes with the sign of ``r``."""
    for b in range(rate.shape[0]):
        key = draw_key(seed, op_id, example0 + b, t)
        for i in range(rate.shape[1]):
            k = poisson_count(dt * abs(rate[b, i]), key, i)
            out[b, i] = params[AMPLITUDE, i] / dt * k * np.sign(rate[b, i])


class PoissonSpiking(RatesToSpikes):
    """Poisson spike counts per step at the base type's rate (Nengo's
    ``PoissonSpiking``)."""

    def spike_kernel(self) -> Any:
        return poisson_spikes
