"""Losses for ``Simulator.fit`` and ``evaluate``: ``sg.losses.CrossEntropy``, ``MSE`` and
``RateRegularizer``.

A loss maps a probe's output ``y`` [examples, steps, size] and its target data to the
mean loss and ``d loss / d y`` (float32, same shape as ``y``). Targets follow NengoDL's
layout: ``[examples, steps, size]``, ``[examples, size]`` (the same at every step), and
for classification sparse labels ``[examples, steps, 1]``, ``[examples, steps]`` or
``[examples]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.base import Spec
from snngraph.errors import ValidationError, short_repr
from snngraph.schemas.base import Bool, NonNegFloat, PosFloat


class Loss(Spec, abstract=True):
    """Base of losses. ``needs_data``: False when the loss needs no target (a
    regulariser)."""

    family: ClassVar[str] = "loss"
    needs_data: ClassVar[bool] = True

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> np.ndarray | None:
        """Check ``target`` against the output shape ``[examples, steps, size]`` once,
        before training, and return it in the form ``__call__`` takes."""
        return dense_target(target, shape, where)

    def __call__(self, y: np.ndarray, target: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError


class CrossEntropy(Loss):
    """Softmax cross-entropy, averaged over examples and steps:
    ``mean(logsumexp(y) - y[label])`` from logits (``from_logits=True``), or
    ``mean(-log y[label])`` when ``y`` already holds probabilities. Labels are sparse
    class indices or one-hot rows."""

    from_logits: Bool = True

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        return labels(target, shape, where)

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        n, steps, k = y.shape
        t = np.broadcast_to(target, (n, steps))
        rows = y.reshape(-1, k).astype(np.float64)
        idx = t.reshape(-1)
        if self.from_logits:
            shifted = rows - rows.max(axis=1, keepdims=True)
            log_z = np.log(np.exp(shifted).sum(axis=1))
            loss = log_z - shifted[np.arange(len(idx)), idx]
            grad = np.exp(shifted - log_z[:, None])
            grad[np.arange(len(idx)), idx] -= 1.0
        else:
            p = np.clip(rows[np.arange(len(idx)), idx], 1e-7, None)
            loss = -np.log(p)
            grad = np.zeros_like(rows)
            grad[np.arange(len(idx)), idx] = -1.0 / p
        grad /= len(idx)
        return float(loss.mean()), grad.reshape(y.shape).astype(np.float32)


class MSE(Loss):
    """Mean squared error ``mean((y - target)^2)`` over examples, steps and outputs."""

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        diff = y - np.broadcast_to(target, y.shape)
        return float(np.mean(np.square(diff, dtype=np.float64))), \
            (2.0 / diff.size * diff).astype(np.float32)


class RateRegularizer(Loss):
    """Pulls a probe's firing rates toward ``target`` (Hz times amplitude, the value the
    probe reports): ``weight * mean((y - target)^2)``. Put it on a probe of a layer's
    neurons; it needs no data."""

    needs_data: ClassVar[bool] = False
    _positional: ClassVar[tuple[str, ...]] = ("target", "weight")

    target: NonNegFloat
    weight: PosFloat = 1.0

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> None:
        return None

    def __call__(self, y: np.ndarray, target: Any = None) -> tuple[float, np.ndarray]:
        diff = y - np.float32(self.target)
        return float(self.weight * np.mean(np.square(diff, dtype=np.float64))), \
            (2.0 * self.weight / diff.size * diff).astype(np.float32)


# ------------------------------------------------------------------ target checks
def dense_target(target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A dense target as ``[examples, steps or 1, size]`` float32."""
    n, steps, size = shape
    arr = _array(target, where)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[0] != n or arr.shape[1] not in (1, steps) \
            or arr.shape[2] != size:
        raise ValidationError(f"{where}: expected targets of shape [{n}, {steps}, {size}] "
                              f"or [{n}, {size}], got {arr.shape}", obj="Simulator",
                              field="y", value=arr.shape)
    return arr.astype(np.float32)


def labels(target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """Class indices as ``[examples, steps or 1]`` int64, from sparse labels or one-hot
    rows (``size`` > 1 entries in the last axis)."""
    n, steps, size = shape
    arr = _array(target, where)
    if _one_hot(arr, steps, size):
        arr = arr.argmax(axis=-1)  # one-hot (or probabilities): the class is the argmax
    elif arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] not in (1, steps):
        raise ValidationError(f"{where}: expected labels of shape [{n}], [{n}, {steps}, 1] "
                              f"or one-hot [{n}, {steps}, {size}], got {np.shape(target)}",
                              obj="Simulator", field="y", value=np.shape(target))
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValidationError(f"{where}: labels must be whole numbers (class indices), got "
                              f"{short_repr(arr[arr != np.round(arr)][:3])}", obj="Simulator",
                              field="y", value="non-integer labels")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= size)
    if bad.any():
        raise ValidationError(f"{where}: labels must be in [0, {size}) for an output of size "
                              f"{size}, got {short_repr(np.unique(arr[bad])[:5])}",
                              obj="Simulator", field="y", value="label out of range")
    return arr


def _one_hot(arr: np.ndarray, steps: int, size: int) -> bool:
    """One-hot rows ([n, steps, size] or [n, size]) rather than sparse labels. [n, k] with
    k equal to both the steps and the classes is read as one-hot only if every row is."""
    if size < 2 or arr.shape[-1] != size or arr.ndim not in (2, 3):
        return False
    if arr.ndim == 3 or steps != size:
        return True
    return bool(np.all((arr == 0) | (arr == 1)) and np.all(arr.sum(axis=-1) == 1))


def _array(target: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(target)
    except Exception:
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise ValidationError(f"{where}: expected a numeric array of targets, got "
                              f"{short_repr(target)}", obj="Simulator", field="y",
                              value=short_repr(target))
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValidationError(f"{where}: targets contain NaN or inf", obj="Simulator",
                              field="y", value="non-finite")
    return arr


__all__ = ["MSE", "CrossEntropy", "Loss", "RateRegularizer"]
