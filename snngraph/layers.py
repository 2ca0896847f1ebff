"""``Layer(spec)(x, shape_in=...)``: one deep-learning layer as ordinary objects.

A neuron type makes an ensemble of ``x.size_out`` neurons fed one-to-one from ``x`` and
returns its ``.neurons``; ``Conv2D``, ``Dense`` and the pooling specs make a passthrough
Node fed from ``x`` through the matching transform and return the node. Nothing here is
new semantics: the result is the network you would write by hand (NengoDL's Layer). A
``Dense`` here is the Dense of a Connection (no bias unless ``bias=`` is given; Glorot
weights when ``init`` is left at the identity); ``Conv2D`` follows Keras (``use_bias=True``).
The parameters take the call's ``label`` (``fc1.weights``, ``fc1.bias``).
"""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Any, ClassVar

from pydantic import Field

from snngraph.base import FieldError, Spec, user_site
from snngraph.connection import Connection
from snngraph.dists import Distribution, Glorot
from snngraph.ensemble import Ensemble
from snngraph.errors import ValidationError, field_error, where
from snngraph.geometry import Padding
from snngraph.neurons import NeuronType
from snngraph.node import Node
from snngraph.schemas.base import Bool, PosInt
from snngraph.spellings import transform_to_keras
from snngraph.transforms import (
    Convolution,
    Dense,
    Pair,
    Pooling,
    channels_last,
    looks_channels_first,
)

_shapes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Shape of each layer output made here, so the next layer's shape_in can default to it."""


class LayerSpec(Spec, abstract=True):
    """Base of layer specs (Keras names)."""

    family: ClassVar[str] = "layer"


class Conv2D(LayerSpec):
    """A 2-D convolution layer (Keras' ``Conv2D``): ``filters`` kernels, channels last."""

    _positional: ClassVar[tuple[str, ...]] = ("filters", "kernel_size")

    filters: PosInt
    """Number of kernels (output channels)."""
    kernel_size: Pair = (3, 3)
    """Height and width of each kernel."""
    strides: Pair = (1, 1)
    """Step of the kernel along height and width."""
    padding: Padding = "valid"
    """``'valid'`` (no padding) or ``'same'`` (zero padding, same size at stride 1)."""
    use_bias: Bool = True
    """Add a trained bias per filter."""
    kernel_initializer: Distribution = Field(default_factory=Glorot)
    """Distribution the kernel is drawn from (Glorot uniform, as Keras)."""
    bias_initializer: Distribution | None = None
    """None: biases start at zero (Keras); torch starts them uniform in +-1/sqrt(fan_in)."""

    def __init__(self, *args: Any, **kwargs: Any):
        """Nengo's spellings of the transform work too (snngraph/spellings.py): ``init``
        for ``kernel_initializer``; ``bias=False``/``True``/a Distribution for
        ``use_bias`` and ``bias_initializer``; ``n_filters`` for ``filters``."""
        super().__init__(*args, **transform_to_keras(type(self), kwargs))


class _Pool2D(LayerSpec, abstract=True):
    _positional: ClassVar[tuple[str, ...]] = ("pool_size", "strides")
    kind: ClassVar[str] = "avg"

    pool_size: Pair = (2, 2)
    """Height and width of each window."""
    strides: Pair | None = None
    """Step of the window; None uses ``pool_size`` (as Keras)."""
    padding: Padding = "valid"
    """``'valid'`` or ``'same'``."""


class AvgPool2D(_Pool2D):
    """Average pooling (Keras' ``AveragePooling2D``)."""

    kind: ClassVar[str] = "avg"


class MaxPool2D(_Pool2D):
    """Max pooling (Keras' ``MaxPooling2D``)."""

    kind: ClassVar[str] = "max"


class Layer:
    """Wraps a spec; calling it on ``x`` adds the layer's objects to the current network.

    Keyword arguments of the call go to the ensemble (neuron layers) or are ``label``.

    Parameters
    ----------
    spec : LayerSpec | Dense | NeuronType
        What the layer is: ``Conv2D``, ``Dense``, ``AvgPool2D``, ``MaxPool2D`` (a
        connection from ``x``) or a neuron type (an ensemble of neurons fed by ``x``).
    """

    def __init__(self, spec: LayerSpec | Dense | NeuronType):
        if not isinstance(spec, LayerSpec | Dense | NeuronType):
            site = user_site()
            raise field_error("Layer", "spec", spec, "expected a layer spec (Conv2D, Dense, "
                              "AvgPool2D, MaxPool2D) or a neuron type", site)
        self.spec = spec

    def __call__(self, x: Any, shape_in: tuple[int, ...] | None = None, label: str | None = None,
                 synapse: Any = None, **kwargs: Any) -> Any:
        """Add the layer fed from ``x``; ``synapse`` filters the input connection
        (none by default, as NengoDL's Layer)."""
        self._check_input(x, label)
        shape_in = self._shape_in(x, shape_in, label)
        spec = self.spec
        if isinstance(spec, NeuronType):
            ens = Ensemble(x.size_out, 1, neuron_type=spec, label=label, **kwargs)
            Connection(x, ens.neurons, synapse=synapse)
            _shapes[ens.neurons] = shape_in
            return ens.neurons
        transform = self._transform(spec, shape_in, self._name(label))
        node = Node(size_in=transform.size_out, label=label or type(spec).__name__.lower(),
                    **kwargs)
        Connection(x, node, transform=transform, synapse=synapse)
        _shapes[node] = transform.shape_out
        return node

    def _name(self, label: str | None) -> str:
        name = f"Layer({type(self.spec).__name__})"
        return f"{name} {label!r}" if label else name

    def _check_input(self, x: Any, label: str | None) -> None:
        """Reject a bad input before anything is added to the network."""
        from snngraph.connection import ENDPOINTS

        if not isinstance(x, ENDPOINTS) or not x.size_out:
            raise field_error(self._name(label), "x", x, "expected an Ensemble, ens.neurons, "
                              "a Node with output, or a slice of one", user_site())

    def _shape_in(self, x: Any, shape_in: tuple[int, ...] | None, label: str | None
                  ) -> tuple[int, ...]:
        if shape_in is None:
            return _shapes.get(x, (x.size_out,))
        shape_in = tuple(shape_in)
        if math.prod(shape_in) != x.size_out:
            site = user_site()
            raise ValidationError(
                f"{self._name(label)}.shape_in: {shape_in} holds "
                f"{math.prod(shape_in)} values but {x!r} outputs {x.size_out}{where(site)}",
                obj="Layer", field="shape_in", value=shape_in, site=site)
        return shape_in

    @staticmethod
    def _transform(spec: Any, shape_in: tuple[int, ...], name: str = "Layer") -> Any:
        site = user_site()
        if isinstance(spec, Dense):
            default = isinstance(spec.init, float) and spec.init == 1.0
            init = Glorot() if default else spec.init  # Keras' default initialiser
            # the bias as given: None (or False) is no bias, as on a Connection
            bias = spec.bias if spec.bias is not False else None
            try:
                return Dense(spec.shape, init, bias=bias, autapses=spec.autapses,
                             _site=site).resolved(math.prod(shape_in))
            except FieldError as exc:
                raise field_error(name, exc.field, exc.value, exc.expected, site,
                                  exc.fix) from None
        if len(shape_in) != 3:
            raise field_error(f"Layer({type(spec).__name__})", "shape_in", shape_in,
                              "expected an image shape (height, width, channels)", site)
        if looks_channels_first(shape_in):
            # (1, 28, 28) read as 1 row of 28 pixels with 28 channels: say so, whether or
            # not the layer happens to fit such an image
            hint = (f"snngraph images are channels-last (height, width, channels); for a "
                    f"channels-first image pass shape_in={channels_last(shape_in)} (and "
                    "its data as [..., height, width, channels])")
            try:
                transform = Layer._spatial(spec, shape_in, site)
            except ValidationError as exc:
                raise field_error(f"Layer({type(spec).__name__})", "shape_in", shape_in,
                                  f"does not fit the layer as (height, width, channels) "
                                  f"({str(exc).splitlines()[0]})", site, hint) from None
            warnings.warn(f"Layer({type(spec).__name__}).shape_in={shape_in} looks "
                          f"channels-first: {hint}", stacklevel=3)
            return transform
        return Layer._spatial(spec, shape_in, site)

    @staticmethod
    def _spatial(spec: Any, shape_in: tuple[int, ...], site: Any) -> Any:
        if isinstance(spec, Conv2D):
            return Convolution(spec.filters, shape_in, kernel_size=spec.kernel_size,
                               strides=spec.strides, padding=spec.padding,
                               init=spec.kernel_initializer,
                               bias=(spec.bias_initializer or True) if spec.use_bias else None,
                               _site=site)
        return Pooling(shape_in, spec.pool_size, strides=spec.strides, padding=spec.padding,
                       kind=spec.kind, _site=site)
