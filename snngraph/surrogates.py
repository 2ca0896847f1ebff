"""Surrogate gradients: what stands in for a spike's derivative when training through time.

A spiking neuron emits ``S = H(x)`` with ``x = v - threshold`` and ``H(x) = 1 for x > 0``
(a strict step, as in snnTorch and Norse). Its true derivative is zero almost everywhere;
back-propagation through time uses ``dS/dx = surrogate(x)`` instead. Each class below is
one registered surrogate with its formula; a spiking neuron takes one as its
``surrogate`` parameter (``sg.Leaky(0.5, surrogate=sg.surrogates.FastSigmoid(25))``).

The runtime's kernels evaluate them through ``grad(code, a, x)`` (Numba), with ``code``
and ``a`` from ``Surrogate.kernel_args()``. ``spike`` and ``grad`` are compiled on first
use (module ``__getattr__``), so importing snngraph does not import Numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from snngraph.base import Spec
from snngraph.schemas.base import PosFloat


class Surrogate(Spec, abstract=True):
    family: ClassVar[str] = "surrogate"
    code: ClassVar[int] = -1

    def kernel_args(self) -> tuple[int, float]:
        """``(code, a)`` for ``grad``: the class's code and its one parameter."""
        return self.code, float(getattr(self, self._positional[0]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``dS/dx`` at ``x = v - threshold`` (numpy, float64)."""
        return self._elementwise(_grad, x)

    def smooth(self, x: np.ndarray) -> np.ndarray:
        """An integral of the surrogate: a differentiable stand-in for ``H`` whose exact
        derivative is the surrogate (used to check gradients by finite differences; the
        kernels' ``spike`` computes the same)."""
        return self._elementwise(_spike, x)

    def _elementwise(self, fn: Callable, x: np.ndarray) -> np.ndarray:
        """``fn(code, a, x)`` over an array, in float64: ``_grad`` or ``_spike``, where
        each surrogate's formula is written once for numpy and the kernels alike."""
        code, a = self.kernel_args()
        x = np.asarray(x, dtype=np.float64)
        return np.vectorize(lambda v: fn(code, a, v), otypes=[np.float64])(x)


class FastSigmoid(Surrogate):
    """``1 / (slope |x| + 1)^2`` (Zenke and Ganguli's SuperSpike form; snnTorch
    ``surrogate.fast_sigmoid(slope=25)``)."""

    code: ClassVar[int] = 0
    _positional: ClassVar[tuple[str, ...]] = ("slope",)
    slope: PosFloat = 25.0
    """Steepness: larger is closer to the true step."""


class ATan(Surrogate):
    """``(alpha / 2) / (1 + (pi/2 alpha x)^2)``: the derivative of
    ``arctan(pi/2 alpha x) / pi + 1/2`` (snnTorch's default, ``surrogate.atan(alpha=2)``)."""

    code: ClassVar[int] = 1
    _positional: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: PosFloat = 2.0
    """Steepness: larger is closer to the true step."""


class SuperSpike(Surrogate):
    """``1 / (alpha |x| + 1)^2`` (Norse's ``method="super"``). Norse 1.1.0 ignores its
    ``alpha`` and computes ``1 / (|x| + 1)^2`` whatever it is set to: to train exactly
    as Norse 1.1.0 does, use ``SuperSpike(alpha=1)``."""

    code: ClassVar[int] = 0  # the same curve as FastSigmoid
    _positional: ClassVar[tuple[str, ...]] = ("alpha",)
    alpha: PosFloat = 100.0
    """Steepness: larger is closer to the true step."""


class Triangle(Surrogate):
    """``max(0, 1 - |x| / width) / width`` (a triangle of area 1 centred on the
    threshold). Norse's ``"triangle"`` is ``alpha * max(0, 1 - |x|)``: the same shape
    with width 1, ``alpha`` times as tall (tests/fixtures/peers records it)."""

    code: ClassVar[int] = 2
    _positional: ClassVar[tuple[str, ...]] = ("width",)
    width: PosFloat = 1.0
    """Half-width of the triangle, in units of the membrane voltage minus the threshold."""


class SigmoidSurrogate(Surrogate):
    """``slope s(slope x) (1 - s(slope x))`` with ``s`` the logistic function (snnTorch
    ``surrogate.sigmoid(slope=25)``). Also available as ``sg.surrogates.Sigmoid`` (the
    class has a longer name because ``sg.Sigmoid`` is a neuron type)."""

    code: ClassVar[int] = 3
    _positional: ClassVar[tuple[str, ...]] = ("slope",)
    slope: PosFloat = 25.0
    """Steepness: larger is closer to the true step."""


Sigmoid = SigmoidSurrogate


def _spike(code: int, a: float, x: float) -> float:
    """The spike ``H(x)`` (``code < 0``, what every run uses), or, for checking gradients
    by finite differences, the smooth integral of surrogate ``code`` (``smooth``)."""
    if code < 0:
        return 1.0 if x > 0.0 else 0.0
    if code == 0:
        return x / (1.0 + a * abs(x))
    if code == 1:
        return math.atan(0.5 * math.pi * a * x) / math.pi + 0.5
    if code == 2:
        y = min(max(x / a, -1.0), 1.0)
        return 0.5 * (1.0 + y) ** 2 if y < 0.0 else 1.0 - 0.5 * (1.0 - y) ** 2
    return 1.0 / (1.0 + math.exp(-a * x))


def _grad(code: int, a: float, x: float) -> float:
    """``dS/dx`` of surrogate ``code`` with parameter ``a`` (see the classes above)."""
    if code == 0:
        d = a * abs(x) + 1.0
        return 1.0 / (d * d)
    if code == 1:
        y = 0.5 * math.pi * a * x
        return 0.5 * a / (1.0 + y * y)
    if code == 2:
        return max(0.0, 1.0 - abs(x) / a) / a
    s = 1.0 / (1.0 + math.exp(-a * x))
    return a * s * (1.0 - s)


def __getattr__(name: str):
    """``spike`` and ``grad`` as Numba functions, compiled when a runtime's kernel first
    refers to them (Numba takes about a second to import; describing, saving and loading
    networks never needs it)."""
    if name not in ("spike", "grad"):
        raise AttributeError(f"module 'snngraph.surrogates' has no attribute {name!r}")
    from numba import njit

    compiled = njit(cache=True, nogil=True, inline="always")(globals()["_" + name])
    globals()[name] = compiled  # later look-ups find it without __getattr__
    return compiled


__all__ = ["ATan", "FastSigmoid", "Sigmoid", "SigmoidSurrogate", "SuperSpike", "Surrogate",
           "Triangle"]
