"""Sliding-window geometry (convolution and pooling): output sizes and zero padding.

One definition, the one Keras and TensorFlow use, for every part of snngraph that needs
it (shape checks, lowering, the numba, rate, BPTT and Loihi runtimes, the reference):

- ``'valid'``: no padding; ``out = (n - k) // s + 1`` (windows that fit wholly inside).
- ``'same'``: ``out = ceil(n / s)``; the input is padded with
  ``total = max((out - 1) * s + k - n, 0)`` zeros, ``total // 2`` before and the rest
  after (the odd one goes at the end).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Padding = Literal["valid", "same"]
"""The padding modes (the type of every ``padding`` field)."""
PADDINGS = ("valid", "same")


def output_size(n: int, kernel: int, stride: int, padding: str) -> int:
    """Output length along one axis of an input of length ``n``."""
    if padding == "same":
        return -(-n // stride)
    return (n - kernel) // stride + 1


def pad_amounts(n: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added ``(before, after)`` along one axis."""
    if padding != "same":
        return (0, 0)
    total = max((output_size(n, kernel, stride, padding) - 1) * stride + kernel - n, 0)
    return (total // 2, total - total // 2)


def pad_before(n: int, kernel: int, stride: int, padding: str) -> int:
    """Zeros added before the first input along one axis (top or left)."""
    return pad_amounts(n, kernel, stride, padding)[0]


def output_shape(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 padding: str) -> tuple[int, ...]:
    """Output sizes over several axes (e.g. ``(height, width)``)."""
    return tuple(output_size(n, k, s, padding) for n, k, s in zip(spatial, kernel, strides))


def leading_pads(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 padding: str) -> np.ndarray:
    """``pad_before`` over several axes, as the int64 array the kernels take."""
    return np.array([pad_before(n, k, s, padding) for n, k, s in zip(spatial, kernel, strides)],
                    dtype=np.int64)


def same_pads(spatial: Sequence[int], kernel: Sequence[int],
              strides: Sequence[int]) -> np.ndarray:
    """``leading_pads`` for ``'same'`` padding: (top, left)."""
    return leading_pads(spatial, kernel, strides, "same")


def pad_images(x: np.ndarray, kernel: Sequence[int], strides: Sequence[int], padding: str,
               fill: float = 0.0) -> np.ndarray:
    """A batch of channels-last images ``[n, h, w, c]`` with its padding added."""
    pads = [pad_amounts(n, k, s, padding) for n, k, s in zip(x.shape[1:3], kernel, strides)]
    return np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
