"""``Ensemble``: a population of neurons representing a vector (Nengo's ensemble)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from snngraph.base import FieldError, SnnObject
from snngraph.dists import Distribution, Uniform, UniformHypersphere
from snngraph.neurons import LIF, NeuronType
from snngraph.processes import Process
from snngraph.schemas.base import Array, Bool, PosFloat, PosInt
from snngraph.views import Neurons, ObjView

Sampled = Distribution | Array
"""A per-neuron parameter: a Distribution sampled at lowering time, or explicit values."""


class Ensemble(SnnObject):
    """``n_neurons`` neurons of ``neuron_type`` encoding a ``dimensions``-vector.

    ``gain``/``bias``, when both given, override ``max_rates``/``intercepts`` (which are
    turned into gain and bias by the neuron type, as Nengo does). ``ens.neurons``
    addresses the neurons directly; ``ens[i]`` slices the represented vector.
    """

    _positional: ClassVar[tuple[str, ...]] = ("n_neurons", "dimensions")
    probeable: ClassVar[tuple[str, ...]] = ("decoded_output", "input", "scaled_encoders")

    n_neurons: PosInt
    """Number of neurons."""
    dimensions: PosInt
    """Size of the vector the neurons represent."""
    radius: PosFloat = 1.0
    """Expected magnitude of the represented vector (encoders and evaluation points scale with
    it)."""
    neuron_type: NeuronType = Field(default_factory=LIF)
    """The neuron model (LIF, LIFRate, RectifiedLinear, Leaky, ...)."""
    encoders: Sampled = Field(default_factory=lambda: UniformHypersphere(surface=True))
    """Preferred direction vectors ``(n_neurons, dimensions)``, or a Distribution they are drawn
    from."""
    intercepts: Sampled = Field(default_factory=lambda: Uniform(-1.0, 0.9))
    """Where each neuron starts to fire along its encoder, in units of the radius, or a
    Distribution."""
    max_rates: Sampled = Field(default_factory=lambda: Uniform(200.0, 400.0))
    """Each neuron's firing rate at the radius along its encoder, in Hz, or a Distribution."""
    gain: Sampled | None = None
    """Per-neuron gain on the input current; with ``bias`` given, it replaces
    ``max_rates``/``intercepts``."""
    bias: Sampled | None = None
    """Per-neuron bias current; with ``gain`` given, it replaces ``max_rates``/``intercepts``."""
    eval_points: Sampled = Field(default_factory=UniformHypersphere)
    """Points of the represented space where decoders are solved, or a Distribution they are drawn
    from."""
    n_eval_points: PosInt | None = None
    """How many evaluation points to draw; None chooses from the number of neurons and dimensions,
    as Nengo does."""
    normalize_encoders: Bool = True
    """Scale given encoders to unit length."""
    noise: Process | None = None
    """A process added to the neurons' input current each step (Nengo's ``noise``: e.g.
    ``WhiteNoise(Gaussian(0, 0.1))``), one value per neuron; None adds nothing."""

    @model_validator(mode="after")
    def _shapes(self) -> Ensemble:
        n, d = self.n_neurons, self.dimensions
        _check_array(self, "encoders", (n, d), "(n_neurons, dimensions)")
        for field in ("intercepts", "max_rates", "gain", "bias"):
            _check_array(self, field, (n,), "(n_neurons,)")
        if isinstance(self.eval_points, np.ndarray) and (
                self.eval_points.ndim != 2 or self.eval_points.shape[1] != d):
            raise FieldError("eval_points", self.eval_points,
                             f"expected shape (n_points, {d}) (one row per point)")
        if isinstance(self.intercepts, np.ndarray) and self._threshold_intercepts and (
                np.any(self.intercepts < -1) or np.any(self.intercepts >= 1)):
            raise FieldError("intercepts", self.intercepts, "expected values in [-1, 1) (a "
                             "neuron with intercept >= 1 never fires inside the radius)")
        if isinstance(self.max_rates, np.ndarray) and np.any(self.max_rates <= 0):
            raise FieldError("max_rates", self.max_rates, "expected positive rates (Hz)")
        for name in type(self.neuron_type).model_fields:
            value = getattr(self.neuron_type, name)
            if isinstance(value, np.ndarray) and value.ndim == 1 and value.shape != (n,):
                raise FieldError("neuron_type", self.neuron_type, f"expected {name} to have "
                                 f"one value per neuron, shape ({n},); it has {value.shape}")
        _check_noise(self)
        if (self.gain is None) != (self.bias is None):
            given = "gain" if self.bias is None else "bias"
            raise FieldError(given, getattr(self, given), "expected gain and bias to be given "
                             "together (or neither, to use max_rates and intercepts)")
        return self

    @property
    def _threshold_intercepts(self) -> bool:
        return getattr(self.neuron_type, "intercept_is_threshold", True)

    @property
    def size_in(self) -> int:
        return self.dimensions

    @property
    def size_out(self) -> int:
        return self.dimensions

    @cached_property
    def neurons(self) -> Neurons:
        """The ensemble's neurons, for neuron-to-neuron connections and probes."""
        return Neurons(self)

    def __getitem__(self, key: Any) -> ObjView:
        return ObjView(self, key)

    def __len__(self) -> int:
        return self.dimensions


def _check_array(obj: Any, field: str, shape: tuple[int, ...], what: str) -> None:
    value = getattr(obj, field)
    if isinstance(value, np.ndarray) and value.shape != shape:
        raise FieldError(field, value, f"expected shape {shape} {what}")


def _check_noise(ens: Ensemble) -> None:
    """The noise process makes one value per neuron from no input."""
    noise = ens.noise
    if noise is None:
        return
    if noise.default_size_in() != 0:
        raise FieldError("noise", noise, "expected a process with no input (WhiteNoise, "
                         "FilteredNoise, ...): nothing feeds an ensemble's noise")
    size = noise.default_size_out(0)
    if size is not None and size != ens.n_neurons:
        raise FieldError("noise", noise, f"expected {ens.n_neurons} values (one per neuron); "
                         f"it makes {size}")
