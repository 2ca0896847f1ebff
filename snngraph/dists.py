"""Distributions that ensemble parameters and weights are sampled from (Nengo's names).

``sample(n, d=None, rng)`` returns ``n`` samples (shape ``(n,)``, or ``(n, d)``).
Sampling happens when the network is lowered, from the network seed, so the same seed
gives the same parameters.

``rng`` is a ``numpy.random.Generator`` (what the lowering passes) or a
``numpy.random.RandomState`` (Nengo's). Each distribution draws with Nengo 4.1's
algorithm through methods both have, so with a ``RandomState`` seeded alike it returns
exactly Nengo's samples (``ScatteredHypersphere``'s approximate inverse to about 1e-9,
see ``snngraph.sphere``); with a ``Generator``, the same algorithm on its own stream.
"""

from __future__ import annotations

from math import lgamma
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from snngraph import sphere
from snngraph.base import FieldError, Spec
from snngraph.betainc import betainc, betaincinv
from snngraph.schemas.base import Array, Bool, Float, PosFloat, PosInt

Rng = Any
"""A ``numpy.random.Generator`` or a ``numpy.random.RandomState``."""


def _integers(rng: Rng, low: int, high: int, shape: tuple[int, ...]) -> np.ndarray:
    """Integers in ``[low, high)``: ``randint`` on a RandomState (Nengo's draws),
    ``integers`` on a Generator."""
    draw = rng.integers if hasattr(rng, "integers") else rng.randint
    return draw(low, high, size=shape)


class Distribution(Spec, abstract=True):
    """Base of distributions."""

    family: ClassVar[str] = "dist"

    def sample(self, n: int, d: int | None = None, rng: Rng = None) -> np.ndarray:
        """``n`` samples, shape ``(n,)`` or ``(n, d)``."""
        shape = (n,) if d is None else (n, d)
        return self._sample(shape, rng if rng is not None else np.random.default_rng())

    def sample_shape(self, shape: tuple[int, ...], rng: Rng = None) -> np.ndarray:
        """Samples filling an array of any ``shape`` (weights, kernels)."""
        return self._sample(tuple(shape), rng if rng is not None else np.random.default_rng())

    def _sample(self, shape: tuple[int, ...], rng: Rng) -> np.ndarray:
        raise NotImplementedError


class PDF(Distribution):
    """An arbitrary distribution given by probabilities ``p`` at points ``x``, sampled by
    inverting its piecewise-linear CDF (Nengo's ``PDF``)."""

    _positional: ClassVar[tuple[str, ...]] = ("x", "p")

    x: Array
    """Points, increasing."""
    p: Array
    """Probability of each point (summing to 1)."""

    @model_validator(mode="after")
    def _normalised(self) -> PDF:
        if self.x.ndim != 1 or self.p.shape != self.x.shape:
            raise FieldError("p", self.p, f"expected a 1-D array as long as x ({len(self.x)})")
        if abs(self.p.sum() - 1) > 1e-8:
            raise FieldError("p", self.p, f"expected probabilities summing to 1 (sum "
                             f"{self.p.sum():g})")
        return self

    def _sample(self, shape, rng):
        cumsum = np.cumsum(self.p) * 0.5
        cumsum[1:] = cumsum[:-1] + cumsum[1:]  # the CDF at each point: midpoint rule
        return np.interp(rng.uniform(size=shape), cumsum, self.x)


class Uniform(Distribution):
    """Uniform on ``[low, high)``; ``integer=True`` draws integers. As in Nengo, ``low >
    high`` draws from ``(high, low]`` (``low + (high - low) * u``)."""

    _positional: ClassVar[tuple[str, ...]] = ("low", "high")

    low: Float = -1.0
    """Lower bound (included)."""
    high: Float = 1.0
    """Upper bound (excluded)."""
    integer: Bool = False
    """Draw integers in ``[low, high)``."""

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.integer and self.low >= self.high:
            raise FieldError("high", self.high, f"expected high > low={self.low:g} for "
                             "integers")
        return self

    def _sample(self, shape, rng):
        if self.integer:
            return _integers(rng, int(self.low), int(self.high), shape).astype(float)
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


def _infinite_as_none(value: Any) -> Any:
    return None if isinstance(value, float | int) and value == np.inf else value


class Exponential(Distribution):
    """Exponential with ``scale`` (1 / rate), shifted by ``shift``; values at or above
    ``high`` are clipped to just below it (Nengo's ``Exponential``)."""

    _positional: ClassVar[tuple[str, ...]] = ("scale", "shift", "high")

    scale: PosFloat
    """Scale (the mean above ``shift``)."""
    shift: Float = 0.0
    """Smallest value."""
    high: Annotated[Float | None, BeforeValidator(_infinite_as_none)] = None
    """Values are clipped strictly below it; None (or ``inf``): no clipping."""

    @model_validator(mode="after")
    def _above_shift(self) -> Exponential:
        if self.high is not None and self.high <= self.shift:
            raise FieldError("high", self.high, f"expected high > shift={self.shift:g}")
        return self

    def _sample(self, shape, rng):
        x = rng.exponential(self.scale, shape) + self.shift
        high = np.inf if self.high is None else self.high
        return np.clip(x, self.shift, np.nextafter(high, -np.inf))


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

    def _indices(self, n: int, rng: Rng) -> np.ndarray:
        """Nengo's draw: one uniform number per sample, placed in the cumulative
        probabilities."""
        w = np.ones(len(self.options)) if self.weights is None else self.weights
        return np.searchsorted(np.cumsum(w / w.sum()), rng.random(n))

    def _sample(self, shape, rng):
        if self.options.ndim == 1:  # values fill any shape (a kernel, a matrix)
            n = int(np.prod(shape))
            return self.options[self._indices(n, rng)].astype(float).reshape(shape)
        d = shape[1] if len(shape) > 1 else None
        if len(shape) != 2 or self.options.shape[1] != d:
            raise ValueError(f"Choice options have {self.options.shape[1]} columns, "
                             f"{d} were asked for")
        return self.options[self._indices(shape[0], rng)].astype(float)


class _Sphere(Distribution, abstract=True):
    """The ball (or its surface) that the hypersphere distributions draw from."""

    surface: Bool = False
    """Draw on the sphere's surface (unit vectors) rather than in the ball."""
    min_magnitude: Float = 0.0
    """Smallest magnitude drawn inside the ball, in [0, 1)."""

    @model_validator(mode="after")
    def _magnitude(self) -> _Sphere:
        if not 0 <= self.min_magnitude < 1:
            raise FieldError("min_magnitude", self.min_magnitude, "expected a value in [0, 1)")
        if self.surface and self.min_magnitude > 0:
            raise FieldError("min_magnitude", self.min_magnitude,
                             "expected 0 when surface=True (points on the surface have norm 1)")
        return self


class UniformHypersphere(_Sphere):
    """Uniform in the unit ball, or on its surface (``surface=True``, e.g. encoders)."""

    def _sample(self, shape, rng):
        n, d = shape[0], (shape[1] if len(shape) > 1 else 1)
        points = rng.standard_normal((n, d))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        if not self.surface:
            lo = self.min_magnitude**d
            points *= rng.uniform(lo, 1.0, size=(n, 1)) ** (1.0 / d)
        return points.reshape(shape)


class Samples(Distribution):
    """Given samples, returned as they are: asking for another number or shape is an
    error (Nengo's ``Samples``)."""

    _positional: ClassVar[tuple[str, ...]] = ("samples",)

    samples: Array
    """The samples: ``(n,)`` or ``(n, d)``."""

    def _sample(self, shape, rng):
        samples = self.samples
        if len(shape) == 1:
            samples = samples.squeeze() if samples.ndim > 1 else samples
        elif samples.ndim == 1:
            samples = samples[:, None]
        if samples.shape != tuple(shape):
            raise ValueError(f"Samples holds samples of shape {self.samples.shape}, "
                             f"{tuple(shape)} were asked for")
        return samples.astype(float)


class QuasirandomSequence(Distribution):
    """Points of the ``[0, 1)^d`` cube scattered evenly (Roberts' ``R_d`` sequence):
    steps of ``1 / phi_d^k`` from a random start, shuffled (Nengo's
    ``QuasirandomSequence``; ``phi_d`` solves ``x^(d+1) = x + 1``)."""

    @staticmethod
    def phi(d: int) -> float:
        """The generalised golden ratio of ``d`` dimensions (Newton's method)."""
        x = 1.0
        for _ in range(100):
            dx = (x ** (d + 1) - x - 1) / ((d + 1) * x**d - 1)
            x -= dx
            if abs(dx) < 1e-10:
                return x
        raise ValueError(f"QuasirandomSequence: phi did not converge for d={d}")

    def _sample(self, shape, rng):
        n, d = shape[0], (shape[1] if len(shape) > 1 else 1)
        seed = rng.uniform(0, 1, size=d)
        if d == 1:
            z = ((seed + np.arange(n, dtype=float) / n) % 1)[:, None]
        else:
            alpha = (1.0 / self.phi(d)) ** np.arange(1, d + 1)
            z = (seed + np.outer(np.arange(1, n + 1), alpha)) % 1
        rng.shuffle(z)
        return z.reshape(shape)


class ScatteredHypersphere(_Sphere):
    """Points scattered evenly in the unit ball, or on its surface (``surface=True``):
    ``base``'s quasi-random points mapped onto the sphere by the spherical coordinate
    transform, then rotated at random (Nengo 4's default for encoders and evaluation
    points). ``method``: ``'sct-approx'`` (Nengo's default: the transform's inverse CDF
    from a table), ``'sct'`` (computed exactly), or ``'tfww'``."""

    base: Distribution = Field(default_factory=QuasirandomSequence)
    """Points of the unit cube that are mapped onto the sphere."""
    method: Literal["sct-approx", "sct", "tfww"] = "sct-approx"
    """How the cube is mapped onto the sphere."""

    def _sample(self, shape, rng):
        n, d = shape[0], (shape[1] if len(shape) > 1 else 1)
        out = self._line(n, rng) if d == 1 else self._sphere(n, d, rng)
        return out.reshape(shape)

    def _line(self, n: int, rng: Rng) -> np.ndarray:
        """One dimension: signs (surface), or magnitudes split between both halves."""
        if self.surface:
            return np.sign(self.base.sample(n, 1, rng) - 0.5)
        pos = self.base.sample(n // 2, 1, rng)
        neg = self.base.sample(n - pos.size, 1, rng)
        for half in (pos, neg):
            half *= 1.0 - self.min_magnitude
            half += self.min_magnitude
        samples = np.vstack([pos, -neg])
        rng.shuffle(samples)
        return samples

    def _sphere(self, n: int, d: int, rng: Rng) -> np.ndarray:
        radius = None
        if self.surface:
            cube = self.base.sample(n, d - 1, rng)
        else:  # the last coordinate sets the radius, uniform in volume
            cube = self.base.sample(n, d, rng)
            cube, radius = cube[:, :-1], cube[:, -1:]
            lowest = self.min_magnitude**d
            radius = (radius * (1 - lowest) + lowest) ** (1.0 / d)
        if self.method == "tfww":
            mapped = sphere.tfww_transform(cube)
        else:
            mapped = sphere.spherical_transform(cube, approx=self.method == "sct-approx")
        if radius is not None:
            mapped *= radius
        return mapped @ sphere.random_orthogonal(d, rng)


class _SqrtBetaMath:
    """``cdf``, ``pdf``, ``ppf`` and samples of ``sqrt(Beta(m / 2, n / 2))``, from the
    class's ``n`` and ``m``."""

    def _nm(self) -> tuple[int, int]:
        raise NotImplementedError

    def _sample(self, shape, rng):
        n, m = self._nm()
        return np.sqrt(rng.beta(m / 2.0, n / 2.0, size=shape))

    def cdf(self, x: Any) -> np.ndarray:
        """``P(X <= x)``."""
        n, m = self._nm()
        x = np.asarray(x, dtype=float)
        return np.where(x * x < 1.0, betainc(m / 2.0, n / 2.0, np.clip(x * x, 0, 1)), 1.0)

    def pdf(self, x: Any) -> np.ndarray:
        """The density at ``x`` in [0, 1]."""
        n, m = self._nm()
        x = np.asarray(x, dtype=float)
        log_b = lgamma(m / 2.0) + lgamma(n / 2.0) - lgamma((m + n) / 2.0)
        with np.errstate(divide="ignore"):
            return 2 * x ** (m - 1) * (1 - x * x) ** (n / 2.0 - 1) / np.exp(log_b)

    def ppf(self, y: Any) -> np.ndarray:
        """The ``x`` with ``P(X <= x) = y``."""
        n, m = self._nm()
        return np.sqrt(betaincinv(m / 2.0, n / 2.0, np.asarray(y, dtype=float)))


class SqrtBeta(_SqrtBetaMath, Distribution):
    """The square root of a Beta(m / 2, n / 2) variable: the length of an ``m``-element
    subvector of a random unit vector of ``n + m`` elements (Nengo's ``SqrtBeta``)."""

    _positional: ClassVar[tuple[str, ...]] = ("n", "m")

    n: PosInt
    """Elements outside the subvector."""
    m: PosInt = 1
    """Elements in the subvector."""

    def _nm(self):
        return self.n, self.m


class SubvectorLength(_SqrtBetaMath, Distribution):
    """The length of a ``subdimensions``-element subvector of a random unit vector of
    ``dimensions`` elements (``SqrtBeta(dimensions - subdimensions, subdimensions)``)."""

    _positional: ClassVar[tuple[str, ...]] = ("dimensions", "subdimensions")

    dimensions: PosInt
    """Elements of the whole unit vector."""
    subdimensions: PosInt = 1
    """Elements of the subvector."""

    @model_validator(mode="after")
    def _smaller(self) -> SubvectorLength:
        if self.subdimensions >= self.dimensions:
            raise FieldError("subdimensions", self.subdimensions,
                             f"expected fewer than dimensions={self.dimensions}")
        return self

    def _nm(self):
        return self.dimensions - self.subdimensions, self.subdimensions


class CosineSimilarity(SubvectorLength):
    """The cosine of the angle between two random unit vectors of ``dimensions``
    elements (one coordinate of a random unit vector); ``ppf(1 - p)`` is the intercept
    at which a neuron is active for a fraction ``p`` of random inputs."""

    _positional: ClassVar[tuple[str, ...]] = ("dimensions",)

    @model_validator(mode="after")
    def _smaller(self) -> CosineSimilarity:
        if self.dimensions < 2:
            raise FieldError("dimensions", self.dimensions, "expected at least 2")
        return self

    def _sample(self, shape, rng):
        n = int(np.prod(shape))
        sign = np.array([1.0, -1.0])[np.searchsorted([0.5, 1.0], rng.random(n))]
        return sign.reshape(shape) * super()._sample(shape, rng)

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return (super().cdf(np.abs(x)) * np.sign(x) + 1) / 2.0

    def pdf(self, x):
        return super().pdf(np.abs(np.asarray(x, dtype=float))) / 2.0

    def ppf(self, y):
        y = np.asarray(y, dtype=float)
        x = super().ppf(np.abs(y * 2 - 1))
        return np.where(y > 0.5, x, -x)


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

