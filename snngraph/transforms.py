"""Transforms: the linear (and pooling) maps a connection applies between pre and post.

Shapes are ``(size_out, size_in)`` for matrices; images are channels-last
``(height, width, channels)`` unless ``channels_last=False``. ``init`` may be an array
or a Distribution sampled from the network seed when the network is lowered. ``bias``
adds a constant per output (per output channel for convolutions), as NIR's ``Affine``
and ``Conv2d`` do; ``bias=True`` means zeros of the right size (trained later).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from snngraph.base import FieldError, Spec
from snngraph.dists import Distribution, Uniform
from snngraph.geometry import Padding, output_size
from snngraph.schemas.base import Array, Bool, Float, PosInt
from snngraph.spellings import keras_to_transform


def _pair(value: Any) -> Any:
    """``3`` -> ``(3, 3)`` for kernel sizes, strides and pool sizes."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (int(value), int(value))
    return value


Pair = Annotated[tuple[PosInt, PosInt], BeforeValidator(_pair)]
Image = tuple[PosInt, PosInt, PosInt]
Signal = tuple[PosInt, PosInt]
"""A 1-D input: ``(length, channels)`` (channels last) or ``(channels, length)``."""
Window = tuple[PosInt] | tuple[PosInt, PosInt]
"""A kernel size or stride: one value per spatial axis (1-D or 2-D)."""


class Transform(Spec, abstract=True):
    """Base of transforms; every transform knows its input and output shapes."""

    family: ClassVar[str] = "transform"

    @property
    def shape_in(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def shape_out(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def size_in(self) -> int:
        return math.prod(self.shape_in)

    @property
    def size_out(self) -> int:
        return math.prod(self.shape_out)

    def resolved(self, size_in: int) -> Transform:
        """A copy with everything that depends on the connection's input size filled in."""
        return self


def _check_bias(bias: Any, n: int, what: str) -> None:
    if isinstance(bias, np.ndarray) and bias.shape != (n,):
        raise FieldError("bias", bias, f"expected shape ({n},), one value per {what}")


class Dense(Transform):
    """A dense matrix of shape ``(size_out, size_in)``.

    ``Dense(10)`` gives only the output size; the input size is taken from the connection
    (or layer) it is used in. ``init`` defaults to 1 (identity, square shapes only); a
    scalar scales the identity, a 1-D array is a diagonal. ``autapses=False`` (square
    matrices, e.g. a recurrent connection) keeps the diagonal at zero, in the initial
    weights and through training (Norse's ``LIFRecurrentCell(autapses=False)``); it needs a
    full matrix or a Distribution as ``init``. ``bias`` defaults to none, in a Layer as on
    a Connection (``bias=True``: zeros, trained; an array or a Distribution: its values);
    see snngraph/params.py for what trains by default.
    """

    _positional: ClassVar[tuple[str, ...]] = ("shape", "init")

    shape: tuple[PosInt, PosInt] | PosInt
    """``(size_out, size_in)``, or only ``size_out`` (the input size then comes from the connection
    or layer)."""
    init: Float | Array | Distribution = 1.0
    """The weights: a scalar (times the identity), a 1-D array (a diagonal), a ``(size_out,
    size_in)`` array, or a Distribution drawn from."""
    bias: Array | bool | Distribution | None = None
    """An added vector: an array of ``size_out`` values, a Distribution, ``True`` (zeros, trained),
    or None for none."""
    autapses: Bool = True
    """``False`` keeps the diagonal of a square matrix at zero, also through training."""

    def __init__(self, *args: Any, **kwargs: Any):
        """Keras's spellings work too (snngraph/spellings.py): ``units`` for ``shape``,
        ``kernel_initializer`` for ``init``, ``use_bias``/``bias_initializer`` for
        ``bias``."""
        super().__init__(*args, **keras_to_transform(type(self), args, kwargs, "shape"))

    @model_validator(mode="after")
    def _init_fits(self) -> Dense:
        if isinstance(self.shape, int):
            return self  # input size still unknown
        out, inp = self.shape
        init = self.init
        if isinstance(init, float) or (isinstance(init, np.ndarray) and init.ndim <= 1):
            if out != inp:
                raise FieldError("init", init, f"expected a {out}x{inp} array or a "
                                 f"Distribution (a scalar or diagonal needs a square shape)")
            if isinstance(init, np.ndarray) and init.shape not in ((), (out,)):
                raise FieldError("init", init, f"expected a diagonal of length {out}")
        elif isinstance(init, np.ndarray) and init.shape != (out, inp):
            raise FieldError("init", init, f"expected shape {(out, inp)} (size_out, size_in)")
        _check_bias(self.bias, out, "output")
        if not self.autapses and out != inp:
            raise FieldError("autapses", False, f"only a square matrix has a diagonal to keep "
                             f"at zero (shape is {(out, inp)})",
                             fix="remove autapses=False, or use it on a connection from a "
                                 "layer to itself (size_out == size_in)")
        self._check_autapses_init()
        return self

    def _check_autapses_init(self) -> None:
        """A scalar or a diagonal lives only on the diagonal autapses=False zeroes."""
        init = self.init
        if not self.autapses and isinstance(init, float | np.ndarray) and np.ndim(init) < 2:
            raise FieldError("init", init, "expected a full matrix or a Distribution: with "
                             "autapses=False a scalar or diagonal init leaves every weight 0",
                             fix="give init=sg.dists.Glorot() (or a matrix), or drop "
                                 "autapses=False")

    @property
    def shape_in(self) -> tuple[int, ...]:
        return (self.shape[1],)

    @property
    def shape_out(self) -> tuple[int, ...]:
        return (self.shape if isinstance(self.shape, int) else self.shape[0],)

    def resolved(self, size_in: int) -> Dense:
        if not isinstance(self.shape, int):
            return self
        if not self.autapses and self.shape != size_in:  # blamed on the user of the Dense
            raise FieldError("autapses", False, f"only a square matrix has a diagonal to keep "
                             f"at zero; Dense({self.shape}) on an input of {size_in} values "
                             f"is shape {(self.shape, size_in)}",
                             fix="remove autapses=False, or use it on a connection from a "
                                 "layer to itself (size_out == size_in)")
        self._check_autapses_init()
        return Dense((self.shape, size_in), self.init, bias=self.bias, autapses=self.autapses,
                     _site=self.site)


class Sparse(Transform):
    """A sparse matrix: ``init[k]`` at row ``indices[k, 0]``, column ``indices[k, 1]``."""

    _positional: ClassVar[tuple[str, ...]] = ("shape", "indices", "init")

    shape: tuple[PosInt, PosInt]
    """``(size_out, size_in)``."""
    indices: Array
    """``(k, 2)`` integer array: the row and column of each non-zero weight."""
    init: Float | Array | Distribution = 1.0
    """The non-zero weights: a scalar for all, ``k`` values, or a Distribution."""

    @model_validator(mode="after")
    def _indices_fit(self) -> Sparse:
        idx = self.indices
        if idx.dtype.kind not in "iu" or idx.ndim != 2 or idx.shape[1] != 2:
            raise FieldError("indices", idx, "expected an integer array of shape (nnz, 2) "
                             "holding (row, column) pairs")
        if idx.size and (idx.min() < 0 or np.any(idx.max(axis=0) >= self.shape)):
            raise FieldError("indices", idx, f"expected rows < {self.shape[0]} and columns < "
                             f"{self.shape[1]} (shape={self.shape})")
        if isinstance(self.init, np.ndarray) and self.init.shape != (len(idx),):
            raise FieldError("init", self.init, f"expected shape ({len(idx)},), one value per "
                             "index pair")
        return self

    @property
    def shape_in(self) -> tuple[int, ...]:
        return (self.shape[1],)

    @property
    def shape_out(self) -> tuple[int, ...]:
        return (self.shape[0],)


conv_output_size = output_size
"""Output length along one axis (Keras/TensorFlow rules for 'valid' and 'same')."""


class _Spatial(Transform, abstract=True):
    """Shared shape logic of convolution and pooling over an image."""

    input_shape: Image
    """The input image, ``(height, width, channels)`` (channels last) or ``(channels, height,
    width)``."""
    strides: Pair = (1, 1)
    """Step of the window along height and width."""
    padding: Padding = "valid"
    """``'valid'`` (no padding) or ``'same'`` (zero padding keeping the size at stride 1)."""
    channels_last: Bool = True
    """Channel axis last (Keras, TensorFlow) rather than first (PyTorch)."""

    @property
    def _window(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def spatial_in(self) -> tuple[int, int]:
        s = self.input_shape
        return (s[0], s[1]) if self.channels_last else (s[1], s[2])

    @property
    def channels_in(self) -> int:
        return self.input_shape[2] if self.channels_last else self.input_shape[0]

    @property
    def channels_out(self) -> int:
        return self.channels_in

    @property
    def shape_in(self) -> tuple[int, ...]:
        return self.input_shape

    @property
    def shape_out(self) -> tuple[int, ...]:
        h, w = (conv_output_size(n, k, s, self.padding)
                for n, k, s in zip(self.spatial_in, self._window, self.strides))
        c = self.channels_out
        return (h, w, c) if self.channels_last else (c, h, w)

    def _check_window(self, field: str) -> None:
        if self.padding == "valid" and any(k > n for k, n in zip(self._window, self.spatial_in)):
            shape = self.input_shape
            fix = (f"snngraph images are channels-last (height, width, channels): a "
                   f"channels-first {shape} image is input_shape={channels_last(shape)} "
                   "(or pass channels_last=False)"
                   if self.channels_last and looks_channels_first(shape) else "")
            raise FieldError(field, self._window, f"expected a window no larger than the "
                             f"input image {self.spatial_in} with padding='valid'", fix=fix)


def looks_channels_first(shape: tuple[int, ...]) -> bool:
    """(1, 28, 28)-like: a few channels first, then an image (a channels-last image only
    a few pixels high but wider and deeper than that is rare)."""
    return len(shape) == 3 and shape[0] <= 4 and shape[1] > 4 and shape[2] > 4


def channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[1], shape[2], shape[0])


class Convolution(_Spatial):
    """Convolution of ``n_filters`` kernels over an image of ``input_shape`` (2-D), or over a
    signal (1-D, Nengo's rank-2 ``input_shape``: ``(length, channels)``, with one-element
    ``kernel_size`` and ``strides``). As in Nengo and Keras it is a correlation (the kernel
    is not flipped), and ``init`` (or a Distribution) has shape ``kernel_size +
    (in_channels, n_filters)``. A 1-D convolution runs as a 2-D one of height 1.
    """

    _positional: ClassVar[tuple[str, ...]] = ("n_filters", "input_shape")

    input_shape: Image | Signal
    """``(height, width, channels)`` or ``(length, channels)`` (channels last), or with the
    channels first."""
    n_filters: PosInt
    """Number of kernels (output channels)."""
    kernel_size: Window = (3, 3)
    """The kernel's extent along each spatial axis (an int: the same along each)."""
    strides: Window = (1, 1)
    """Step of the kernel along each spatial axis (an int: the same along each)."""
    init: Array | Distribution = Field(default_factory=lambda: Uniform(-1.0, 1.0))
    """The kernel ``kernel_size + (in_channels, n_filters)``, or a Distribution."""
    bias: Array | bool | Distribution | None = None
    """One value per filter: an array, a Distribution, ``True`` (zeros, trained), or None for
    none."""
    groups: PosInt = 1
    """Channel groups (Nengo's and Keras's): filter group ``g`` sees input channel group
    ``g`` only, and the kernel has ``in_channels / groups`` input channels."""

    def __init__(self, *args: Any, **kwargs: Any):
        """Keras's spellings work too (snngraph/spellings.py): ``filters``,
        ``kernel_initializer``, ``use_bias``, ``bias_initializer``."""
        super().__init__(*args, **keras_to_transform(type(self), args, kwargs, "n_filters"))

    @field_validator("kernel_size", "strides", mode="before")
    @classmethod
    def _per_axis(cls, value: Any, info: ValidationInfo) -> Any:
        """An int means the same along every spatial axis of the input."""
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            axes = len(info.data.get("input_shape", (0, 0, 0))) - 1
            return (int(value),) * axes
        return value

    @model_validator(mode="after")
    def _kernel_fits(self) -> Convolution:
        self._check_axes()
        self._check_window("kernel_size")
        return self

    def _check_axes(self) -> None:
        """One kernel size and stride per spatial axis; the kernel's and bias' shapes."""
        if "strides" not in self.model_fields_set:  # the default: 1 along every axis
            self.__dict__["strides"] = (1,) * self.dimensions
        for field in ("kernel_size", "strides"):
            if len(getattr(self, field)) != self.dimensions:
                raise FieldError(field, getattr(self, field), f"expected {self.dimensions} "
                                 f"value(s), one per spatial axis of input_shape "
                                 f"{self.input_shape}")
        if isinstance(self.init, np.ndarray) and self.init.shape != self.kernel_shape:
            raise FieldError("init", self.init, f"expected shape {self.kernel_shape} "
                             "(kernel size, in channels, filters)")
        _check_bias(self.bias, self.n_filters, "filter")
        for what, count in (("input channels", self.channels_in),
                            ("filters", self.n_filters)):
            if count % self.groups:
                raise FieldError("groups", self.groups, f"expected a divisor of the "
                                 f"{count} {what}")

    @property
    def dimensions(self) -> int:
        """1 for a signal, 2 for an image."""
        return len(self.input_shape) - 1

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return (*self.kernel_size, self.channels_in // self.groups, self.n_filters)

    def full_kernel(self, kernel: np.ndarray) -> np.ndarray:
        """A grouped kernel as the ordinary one it equals: zero between the groups."""
        if self.groups == 1:
            return kernel
        cin, nf = self.channels_in // self.groups, self.n_filters // self.groups
        full = np.zeros((*self.kernel_size, self.channels_in, self.n_filters), kernel.dtype)
        for g in range(self.groups):
            full[..., g * cin:(g + 1) * cin, g * nf:(g + 1) * nf] = \
                kernel[..., g * nf:(g + 1) * nf]
        return full

    @property
    def spatial_in(self) -> tuple[int, ...]:
        s = self.input_shape
        return tuple(s[:-1]) if self.channels_last else tuple(s[1:])

    @property
    def channels_in(self) -> int:
        return self.input_shape[-1] if self.channels_last else self.input_shape[0]

    @property
    def _window(self) -> tuple[int, ...]:
        return self.kernel_size

    @property
    def channels_out(self) -> int:
        return self.n_filters

    @property
    def shape_out(self) -> tuple[int, ...]:
        spatial = tuple(conv_output_size(n, k, s, self.padding)
                        for n, k, s in zip(self.spatial_in, self.kernel_size, self.strides))
        c = self.n_filters
        return (*spatial, c) if self.channels_last else (c, *spatial)

    def as_image(self) -> tuple[tuple[int, int, int], tuple[int, int], tuple[int, int]]:
        """``(input_shape, kernel_size, strides)`` of the 2-D convolution that computes
        this one (a 1-D one is an image of height 1), in the same memory layout."""
        if self.dimensions == 2:
            return self.input_shape, self.kernel_size, self.strides
        length, c = self.spatial_in[0], self.channels_in
        image = (1, length, c) if self.channels_last else (c, 1, length)
        return image, (1, self.kernel_size[0]), (1, self.strides[0])


class ConvolutionTranspose(Convolution):
    """The transpose of a ``Convolution`` (Nengo's ``ConvolutionTranspose``): the
    convolution with these ``kernel_size``, ``strides`` and ``padding`` maps an
    ``output_shape`` signal or image onto ``input_shape``; this maps back, each input
    value spreading its kernel slice over the output (upsampling when ``strides > 1``).
    ``n_filters`` is this transform's output channels; ``init`` has shape ``kernel_size +
    (input channels, n_filters)``. Several output shapes can map onto one input shape:
    ``output_shape`` picks one (default: the smallest)."""

    output_shape: Image | Signal | None = None
    """The output ``(height, width, n_filters)`` / ``(length, n_filters)`` (channels last),
    or None for the smallest valid one."""

    @model_validator(mode="after")
    def _kernel_fits(self) -> ConvolutionTranspose:
        self._check_axes()
        if self.output_shape is None:
            return self
        out = self.output_shape
        channels = out[-1] if self.channels_last else out[0]
        spatial = out[:-1] if self.channels_last else out[1:]
        if len(out) != len(self.input_shape) or channels != self.n_filters:
            raise FieldError("output_shape", out, f"expected {len(self.input_shape) - 1} "
                             f"spatial axes and {self.n_filters} channels (n_filters) "
                             f"{'last' if self.channels_last else 'first'}")
        back = tuple(conv_output_size(n, k, s, self.padding)
                     for n, k, s in zip(spatial, self.kernel_size, self.strides))
        if back != self.spatial_in:
            raise FieldError("output_shape", out, f"expected a shape that a Convolution with "
                             f"this kernel_size, strides and padding maps onto the input's "
                             f"{self.spatial_in} (it maps {tuple(spatial)} onto {back})")
        return self

    @property
    def shape_out(self) -> tuple[int, ...]:
        if self.output_shape is not None:
            return self.output_shape
        spatial = tuple(1 + (n - 1) * s + (k - 1 if self.padding == "valid" else 0)
                        for n, k, s in zip(self.spatial_in, self.kernel_size, self.strides))
        c = self.n_filters
        return (*spatial, c) if self.channels_last else (c, *spatial)

    def output_image(self) -> tuple[int, int, int]:
        """The output as an image (height 1 for a 1-D transform), in its layout."""
        out = self.shape_out
        if self.dimensions == 2:
            return out
        return (1, *out) if self.channels_last else (out[0], 1, out[1])


class Pooling(_Spatial):
    """2-D pooling (``kind`` 'avg', 'max' or 'sum') over windows of ``pool_size``;
    ``strides`` default to the pool size."""

    _positional: ClassVar[tuple[str, ...]] = ("input_shape", "pool_size")

    pool_size: Pair = (2, 2)
    """Height and width of each window."""
    kind: Literal["avg", "max", "sum"] = "avg"
    """``'avg'``, ``'max'`` or ``'sum'`` over each window."""
    strides: Pair | None = None  # type: ignore[assignment]
    """Step of the window; None uses ``pool_size``."""

    @model_validator(mode="after")
    def _window_fits(self) -> Pooling:
        self._check_window("pool_size")
        return self

    @property
    def _window(self) -> tuple[int, int]:
        return self.pool_size

    @property
    def shape_out(self) -> tuple[int, ...]:
        strides = self.strides or self.pool_size
        h, w = (conv_output_size(n, k, s, self.padding)
                for n, k, s in zip(self.spatial_in, self.pool_size, strides))
        c = self.channels_in
        return (h, w, c) if self.channels_last else (c, h, w)
