"""Distributions that ensemble parameters and weights are sampled from (Nengo's names).

``sample(n, d=None, rng)`` returns ``n`` samples (shape ``(n,)``, or ``(n, d)``).
Sampling happens when the network is lowered, from the network seed, so the same seed
gives the same parameters.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import model_validator

from snngraph.base import FieldError, Spec
from snngraph.schemas.base import Array, Bool, Float, PosFloat


class Distribution(Spec, abstract=True):
    """Base of distributions."""

    family: ClassVar[str] = "dist"

    def sample(self, n: int, d: int | None = None, rng: np.random.Generator | None = None
               ) -> np.ndarray:
        """``n`` samples, shape ``(n,)`` or ``(n, d)``."""
        shape = (n,) if d is None else (n, d)
        return self._sample(shape, rng if rng is not None else np.random.default_rng())

    def sample_shape(self, shape: tuple[int, ...], rng: np.random.Generator | None = None
                     ) -> np.ndarray:
        """Samples filling an array of any ``shape`` (weights, kernels)."""
        return self._sample(tuple(shape), rng if rng is not None else np.random.default_rng())

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class Uniform(Distribution):
    """Uniform on ``[low, high)``; ``integer=True`` draws integers."""

    _positional: ClassVar[tuple[str, ...]] = ("low", "high")

    low: Float = -1.0
    """Lower bound (included)."""
    high: Float = 1.0
    """Upper bound (excluded)."""
    integer: Bool = False
    """Draw integers in ``[low, high)``."""

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise FieldError("high", self.high, f"expected high >= low={self.low:g}")
        return self

    def _sample(self, shape, rng):
        if self.integer:
            return rng.integers(int(self.low), int(self.high), size=shape).astype(float)
        return rng.uniform(self.low, self.high, size=shape)


class Gaussian(Distribution):
    """Normal distribution with ``mean`` and standard deviation ``std``."""

    _positional: ClassVar[tuple[str, ...]] = ("mean", "std")

    mean: Float = 0.0
    """Mean."""
    std: PosFloat = 1.0
    """Standard deviation."""

    def _sample(self, shape, rng):
        return rng.normal(self.mean, self.std, size=shape)


class Choice(Distribution):
    """Draws from ``options`` (values, or rows when 2-D) with optional ``weights``."""

    _positional: ClassVar[tuple[str, ...]] = ("options", "weights")

    options: Array
    """Values to choose from (rows when 2-D)."""
    weights: Array | None = None
    """Relative probability of each option; None: all equal."""

    @model_validator(mode="after")
    def _consistent(self) -> Choice:
        if self.options.ndim not in (1, 2) or len(self.options) == 0:
            raise FieldError("options", self.options, "expected a non-empty 1-D or 2-D array")
        if self.weights is not None:
            w = self.weights
            if w.shape != (len(self.options),):
                raise FieldError("weights", w, f"expected shape ({len(self.options)},), one "
                                 "weight per option")
            if np.any(w < 0) or w.sum() <= 0:
                raise FieldError("weights", w, "expected non-negative weights with a "
                                 "positive sum")
        return self

    def _sample(self, shape, rng):
        p = None if self.weights is None else self.weights / self.weights.sum()
        if self.options.ndim == 1:
            return self.options[rng.choice(len(self.options), size=shape, p=p)].astype(float)
        d = shape[1] if len(shape) > 1 else None
        out = self.options[rng.choice(len(self.options), size=shape[0], p=p)].astype(float)
        if len(shape) != 2 or self.options.shape[1] != d:
            raise ValueError(f"Choice options have {self.options.shape[1]} columns, "
                             f"{d} were asked for")
        return out


class UniformHypersphere(Distribution):
    """Uniform in the unit ball, or on its surface (``surface=True``, e.g. encoders)."""

    surface: Bool = False
    """Draw on the sphere's surface (unit vectors) rather than in the ball."""
    min_magnitude: Float = 0.0
    """Smallest magnitude drawn inside the ball."""

    @model_validator(mode="after")
    def _magnitude(self) -> UniformHypersphere:
        if not 0 <= self.min_magnitude < 1:
            raise FieldError("min_magnitude", self.min_magnitude, "expected a value in [0, 1)")
        if self.surface and self.min_magnitude > 0:
            raise FieldError("min_magnitude", self.min_magnitude,
                             "expected 0 when surface=True (points on the surface have norm 1)")
        return self

    def _sample(self, shape, rng):
        n, d = shape[0], (shape[1] if len(shape) > 1 else 1)
        points = rng.normal(size=(n, d))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        if not self.surface:
            lo = self.min_magnitude**d
            points *= rng.uniform(lo, 1.0, size=(n, 1)) ** (1.0 / d)
        return points.reshape(shape)


class Glorot(Distribution):
    """Glorot/Xavier initialisation (Keras' default): limit ``scale * sqrt(6 / (fan_in +
    fan_out))`` for uniform, std ``scale * sqrt(2 / (fan_in + fan_out))`` for normal.
    Fans follow Keras: a dense ``(out, in)`` matrix, or a kernel ``(kh, kw, in, out)``."""

    scale: PosFloat = 1.0
    """Multiplies the limit (uniform) or the standard deviation (normal)."""
    distribution: Literal["uniform", "normal"] = "uniform"
    """``'uniform'`` or ``'normal'``."""

    def _sample(self, shape, rng):
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        if len(shape) > 2:
            fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        else:
            fan_out, fan_in = shape[0], (shape[1] if len(shape) > 1 else shape[0])
        if self.distribution == "uniform":
            limit = self.scale * np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=shape)
        return rng.normal(0.0, self.scale * np.sqrt(2.0 / (fan_in + fan_out)), size=shape)

