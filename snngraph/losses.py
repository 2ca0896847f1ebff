"""Losses for ``Simulator.fit`` and ``evaluate``: ``sg.losses.CrossEntropy``, ``MSE``,
``RateRegularizer``, and for spike trains ``CrossEntropyRate``, ``CrossEntropyCount`` and
``MSECount`` (snnTorch's ``ce_rate_loss``, ``ce_count_loss``, ``mse_count_loss``).

A loss maps a probe's output ``y`` [examples, steps, size] and its target data to the
mean loss and ``d loss / d y`` (float32, same shape as ``y``). Targets follow NengoDL's
layout: ``[examples, steps, size]``, ``[examples, size]`` (the same at every step), and
for classification sparse labels ``[examples, steps, 1]``, ``[examples, steps]`` or
``[examples]``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

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
    """Softmax cross-entropy, averaged over examples (and steps): ``mean(logsumexp(z) -
    z[label])`` from logits (``from_logits=True``), or ``mean(-log z[label])`` when the
    output already holds probabilities. Labels are sparse class indices or one-hot rows.

    ``reduce_time`` says what ``z`` is for an output ``y[t]`` over steps: ``None``, every
    step's ``y[t]`` (the loss averages over steps); ``"max"``, ``max_t y[t]`` (Norse's
    decoding of a leaky-integrator readout; the gradient goes to the first maximum);
    ``"sum"``, ``sum_t y[t]`` (spike counts); ``"mean"``; ``"last"``, ``y[T-1]``."""

    from_logits: Bool = True
    """The output holds logits (softmax applied here); False: probabilities."""
    reduce_time: Literal["max", "sum", "mean", "last"] | None = None
    """How an output over steps is reduced first: None, ``'max'``, ``'sum'``, ``'mean'`` or
    ``'last'``."""

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        out = labels(target, shape, where)
        if self.reduce_time is not None:
            return _per_example(out, where, type(self).__name__)
        return out

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        if self.reduce_time is None:
            return self._per_row(y, target)
        z, back = reduce_time(y, self.reduce_time)
        loss, grad = self._per_row(z[:, None], target)
        return loss, back(grad[:, 0])

    def _per_row(self, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
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


class CrossEntropyRate(CrossEntropy):
    """snnTorch's ``ce_rate_loss``: the softmax cross-entropy of the output spikes at each
    step, averaged over steps and examples: ``mean_t mean_b (logsumexp(S[t]) -
    S[t, label])``."""

    reduce_time: None = None
    """Always None: every step is a softmax of its own."""


class CrossEntropyCount(CrossEntropy):
    """snnTorch's ``ce_count_loss``: the softmax cross-entropy of the spike counts
    ``N = sum_t S[t]`` used as logits, averaged over examples."""

    reduce_time: Literal["sum"] = "sum"
    """Always ``'sum'``: spike counts over the steps."""


class MSECount(Loss):
    """snnTorch's ``mse_count_loss``: spike counts ``N = sum_t S[t]`` against target counts
    ``int(T * correct_rate)`` for the label and ``int(T * incorrect_rate)`` for the other
    classes: ``mean_{b,c} (N - target)^2 / T``."""

    _positional: ClassVar[tuple[str, ...]] = ("correct_rate", "incorrect_rate")
    correct_rate: NonNegFloat = 1.0
    """Target fraction of steps with a spike for the label's class."""
    incorrect_rate: NonNegFloat = 0.0
    """Target fraction of steps with a spike for the other classes."""

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        return _per_example(labels(target, shape, where), where, type(self).__name__)

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        n, steps, k = y.shape
        counts = y.sum(axis=1, dtype=np.float64)
        goal = np.full((n, k), float(int(steps * self.incorrect_rate)))
        goal[np.arange(n), target.reshape(-1)] = float(int(steps * self.correct_rate))
        diff = counts - goal
        loss = float(np.mean(diff ** 2) / steps)
        grad = (2.0 / (diff.size * steps)) * diff
        return loss, np.broadcast_to(grad[:, None, :], y.shape).astype(np.float32)


def reduce_time(y: np.ndarray, how: str) -> tuple[np.ndarray, Any]:
    """``z[b, c]`` from ``y[b, t, c]`` and the function taking ``dz`` back to ``dy``."""
    n, steps, k = y.shape
    if how == "max":
        arg = y.argmax(axis=1)  # the first maximum, as torch's max
        z = np.take_along_axis(y, arg[:, None], axis=1)[:, 0]

        def back(dz):
            dy = np.zeros(y.shape, np.float32)
            np.put_along_axis(dy, arg[:, None], dz[:, None].astype(np.float32), axis=1)
            return dy
        return z, back
    if how == "last":
        def back_last(dz):
            dy = np.zeros(y.shape, np.float32)
            dy[:, -1] = dz
            return dy
        return y[:, -1], back_last
    scale = 1.0 / steps if how == "mean" else 1.0
    z = y.sum(axis=1, dtype=np.float64) * scale
    return z, lambda dz: np.broadcast_to((dz * scale)[:, None], y.shape).astype(np.float32)


def _per_example(arr: np.ndarray, where: str, name: str) -> np.ndarray:
    """Labels ``[n, steps or 1]`` as one per example ``[n, 1]`` (a loss over the whole
    spike train has one label per example)."""
    if arr.shape[1] > 1 and not np.all(arr == arr[:, :1]):
        raise ValidationError(f"{where}: {name} scores the whole spike train, so it needs one "
                              "label per example; these labels change over the steps",
                              obj="Simulator", field="y", value="labels over time")
    return arr[:, :1]


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
    """Target firing rate, in Hz times the neurons' amplitude."""
    weight: PosFloat = 1.0
    """Multiplies the penalty."""

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
        fix = ("pass real targets (np.real(y) or np.abs(y))"
               if arr is not None and arr.dtype.kind == "c" else "pass numbers")
        raise ValidationError(f"{where}: expected a numeric array of targets, got "
                              f"{short_repr(target)}\n  fix: {fix}", obj="Simulator",
                              field="y", value=short_repr(target))
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        index = tuple(int(i) for i in bad[0])
        raise ValidationError(f"{where}: targets contain NaN or inf ({len(bad)} value(s); "
                              f"the first, {arr[index]}, at index {index})\n  fix: replace "
                              "or drop those examples (e.g. np.nan_to_num(y))",
                              obj="Simulator", field="y", value="non-finite")
    return arr


__all__ = ["MSE", "CrossEntropy", "CrossEntropyCount", "CrossEntropyRate", "Loss", "MSECount",
           "RateRegularizer", "reduce_time"]
