"""Synapses: linear filters applied to a connection's output (or a probe's data).

A number given where a synapse is expected means ``Lowpass(number)``, as in Nengo;
``None`` means no filtering.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, field_validator, model_validator

from snngraph.base import FieldError, Spec
from snngraph.schemas.base import Array, Bool, NonNegFloat, PosFloat, PosInt


class Synapse(Spec, abstract=True):
    """Base of synapse models."""

    family: ClassVar[str] = "synapse"

    def dc_gain(self) -> float:
        """The output per unit of a constant input, once settled (steady state)."""
        return 1.0


class LinearFilter(Synapse):
    """A general linear filter with transfer function ``num(s) / den(s)`` (analog) or in
    ``z`` (``analog=False``). Coefficients are highest order first."""

    _positional: ClassVar[tuple[str, ...]] = ("num", "den")

    num: Array
    """Numerator coefficients, highest order first."""
    den: Array
    """Denominator coefficients, highest order first."""
    analog: Bool = True
    """Coefficients in ``s`` (continuous time, seconds) rather than ``z`` (per step)."""
    method: Literal["zoh", "euler", "backward_diff", "bilinear"] = "zoh"
    """How an analog filter is discretised: zero-order hold (Nengo's default), or the
    generalised bilinear transform with alpha 0 (``euler``), 1 (``backward_diff``) or 1/2
    (``bilinear``, Tustin)."""

    @field_validator("num", "den")
    @classmethod
    def _one_dimensional(cls, value: np.ndarray) -> np.ndarray:
        if value.ndim != 1 or value.size == 0:
            raise ValueError("expected a non-empty 1-D array of coefficients")
        return value

    @model_validator(mode="after")
    def _proper(self) -> LinearFilter:
        if self.den[0] == 0:
            raise FieldError("den", self.den, "expected a non-zero leading coefficient")
        if len(self.num) > len(self.den):
            raise FieldError("num", self.num, f"expected at most len(den)={len(self.den)} "
                             "coefficients (the filter must be proper)")
        return self

    def dc_gain(self) -> float:
        num, den = (self.num[-1], self.den[-1]) if self.analog else (self.num.sum(),
                                                                     self.den.sum())
        return float(num / den) if den != 0 else float("inf")


class Lowpass(Synapse):
    """First-order lowpass ``1 / (tau s + 1)``; ``tau = 0`` passes the input through."""

    _positional: ClassVar[tuple[str, ...]] = ("tau",)

    tau: NonNegFloat
    """Time constant in seconds (0 passes the input through)."""


class Alpha(Synapse):
    """Alpha filter ``1 / (tau s + 1)^2``: a lowpass applied twice."""

    _positional: ClassVar[tuple[str, ...]] = ("tau",)

    tau: PosFloat
    """Time constant in seconds."""


class Triangle(Synapse):
    """A triangular finite impulse response ``t`` seconds long (Nengo's ``Triangle``): the
    output is the input's last ``round(t / dt) + 1`` steps weighted ``n, n - 1, ..., 1``
    (newest first), normalised to sum to 1. ``t = 0`` passes the input through."""

    _positional: ClassVar[tuple[str, ...]] = ("t",)
    spec_name: ClassVar[str] = "TriangleSynapse"  # "Triangle" names the surrogate

    t: NonNegFloat
    """Length of the triangle in seconds."""

    def taps(self, dt: float) -> np.ndarray:
        """The weights of the current and past inputs, newest first."""
        n = int(np.round(self.t / float(dt))) + 1
        taps = np.arange(n, 0, -1, dtype=float)
        return taps / taps.sum()


class Delay(Synapse):
    """A pure delay of whole time steps. ``Delay(1)`` is how a recurrent layer reads the
    previous step's spikes (it breaks what would otherwise be an algebraic loop)."""

    _positional: ClassVar[tuple[str, ...]] = ("steps",)

    steps: PosInt = 1
    """Whole time steps of delay."""


def _to_synapse(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        raise ValueError("expected a Synapse, a time constant in seconds, or None")
    if isinstance(value, int | float | np.integer | np.floating):
        if not np.isfinite(value) or value < 0:
            raise ValueError("expected a lowpass time constant >= 0 seconds")
        return Lowpass(float(value))
    return value


SynapseParam = Annotated[Synapse | None, BeforeValidator(_to_synapse)]
"""A synapse field: a Synapse, a lowpass time constant (s), or None."""
