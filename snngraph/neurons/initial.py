"""Initial state drawn per neuron, as Nengo's neuron types do (``initial_state=``).

A type with ``state_defaults`` starts each state variable from a Distribution or value
(Nengo's class defaults, e.g. a voltage uniform on [0, 1)), which the user overrides per
variable with ``initial_state={"voltage": ...}``. The compiler samples them once, from the
ensemble's seed (``sample_state``), and the runtimes start every example from the sample.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator, model_validator

from snngraph.base import FieldError
from snngraph.dists import Distribution
from snngraph.neurons.base import NeuronType

InitialValue = Distribution | float | np.ndarray


class SampledState(NeuronType, abstract=True):
    """Base of the types whose state starts from Nengo's per-variable defaults."""

    state_defaults: ClassVar[dict[str, Any]] = {}
    """Each state variable's default start: a Distribution, or a number for every neuron."""

    state_init: tuple[tuple[str, Any], ...] = ()
    """Overrides of ``state_defaults`` as ``(variable, Distribution | number | array of one
    value per neuron)`` pairs; given as ``initial_state={"voltage": sg.dists.Uniform(0, 1)}``
    (Nengo's spelling) or as pairs."""

    def __init__(self, *args: Any, **kwargs: Any):
        if "initial_state" in kwargs:  # Nengo's name for the field (a method here)
            kwargs["state_init"] = kwargs.pop("initial_state")
        super().__init__(*args, **kwargs)

    @field_validator("state_init", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if value is None:
            return ()
        pairs = tuple(value.items()) if isinstance(value, dict) else tuple(value)
        for pair in pairs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise FieldError("initial_state", value, "expected a dict {variable: "
                                 "Distribution or values}")
        return tuple((name, _initial_value(name, v)) for name, v in pairs)

    def own_state(self) -> tuple[str, ...]:
        """The variables ``initial_state`` may name (a wrapper's base keeps its own)."""
        return tuple(self.state_defaults)

    @model_validator(mode="after")
    def _known_names(self) -> SampledState:
        known = self.own_state()
        for name, _ in self.state_init:
            if name not in known:
                raise FieldError("initial_state", name, f"expected one of the state variables "
                                 f"of {type(self).__name__}: {', '.join(known)}")
        return self

    def sample_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The initial state ``[S, n]``: each variable's override or default, sampled."""
        given = dict(self.state_init)
        rows = [_sample(given.get(name, self.state_defaults[name]), n, rng, name)
                for name in self.state_defaults]
        return np.array(rows, dtype=float).reshape(len(rows), n)

    def given_state(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``sample_state`` when ``initial_state`` was given, else None (the type's fixed
        ``initial_state``): for types whose default start is at rest (LIF, spiking ReLU),
        so networks that give none compile exactly as before."""
        return SampledState.sample_state(self, n, rng) if self.state_init else None

    def initial_state(self, n: int) -> np.ndarray:
        """Without the compiler's seed: a fixed sample (seed 0). Compiled networks start from
        ``sample_state`` drawn from the ensemble's seed (the neurons op's ``state0``)."""
        return self.sample_state(n, np.random.default_rng(0))


def _initial_value(name: Any, value: Any) -> Any:
    if not isinstance(name, str):
        raise FieldError("initial_state", name, "expected state variable names (strings)")
    if isinstance(value, Distribution):
        return value
    arr = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if arr is None or arr.ndim > 1 or not np.isfinite(arr).all():
        raise FieldError("initial_state", value, f"expected a Distribution, a finite number "
                         f"or one finite value per neuron for {name!r}")
    return float(arr) if arr.ndim == 0 else arr


def _sample(value: Any, n: int, rng: np.random.Generator, name: str) -> np.ndarray:
    if isinstance(value, Distribution):
        return value.sample_shape((n,), rng)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1 and arr.shape != (n,):
        raise FieldError("initial_state", arr, f"expected one value per neuron ({n}) for "
                         f"{name!r}; got {arr.shape[0]}")
    return np.broadcast_to(arr, (n,))
