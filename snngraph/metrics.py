"""Metrics for ``Simulator.fit`` and ``evaluate``: ``sg.metrics.Accuracy``.

A metric returns ``(total, count)`` for a batch, so results over a dataset are exact
averages however it was split into minibatches.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from snngraph.base import Spec
from snngraph.losses import labels
from snngraph.schemas.base import Bool


class Metric(Spec, abstract=True):
    family: ClassVar[str] = "metric"
    name: ClassVar[str] = "metric"

    def prepare(self, target: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        return labels(target, shape, where)

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        raise NotImplementedError


class Accuracy(Metric):
    """The fraction of predictions (argmax over classes) equal to the label.

    ``reduce_time`` says what is compared for an output over steps: ``None``, every step
    counts; ``"last"``, the last step (what a spiking network's filtered output is
    judged by; ``last_step=True`` is the same); ``"count"``, the spike count
    ``sum_t y[t]`` (snnTorch's ``accuracy_rate``); ``"max"``, ``max_t y[t]`` (Norse's
    readout decoding). Ties go to the lowest class index."""

    name: ClassVar[str] = "accuracy"

    last_step: Bool = False
    """Judge only the last step (the same as ``reduce_time='last'``)."""
    reduce_time: Literal["last", "count", "max"] | None = None
    """How an output over steps is reduced: None, ``'last'``, ``'count'`` or ``'max'``."""

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        how = self.reduce_time or ("last" if self.last_step else None)
        if how in ("count", "max"):
            z = y.sum(axis=1) if how == "count" else y.max(axis=1)
            guess, t = z.argmax(axis=-1), np.asarray(target)[:, -1]
            return float(np.sum(guess == t)), int(guess.size)
        t = np.broadcast_to(target, y.shape[:2])
        guess = y.argmax(axis=-1)
        if how == "last":
            guess, t = guess[:, -1:], t[:, -1:]
        return float(np.sum(guess == t)), int(guess.size)


__all__ = ["Accuracy", "Metric"]
