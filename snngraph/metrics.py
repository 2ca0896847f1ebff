"""Metrics for ``Simulator.fit`` and ``evaluate``: ``sg.metrics.Accuracy``.

A metric returns ``(total, count)`` for a batch, so results over a dataset are exact
averages however it was split into minibatches.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
    """The fraction of predictions (argmax of the output) equal to the label. For
    outputs over time, every step counts, or only the last one with ``last_step=True``
    (what a spiking network's filtered output is judged by)."""

    name: ClassVar[str] = "accuracy"

    last_step: Bool = False

    def __call__(self, y: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        t = np.broadcast_to(target, y.shape[:2])
        guess = y.argmax(axis=-1)
        if self.last_step:
            guess, t = guess[:, -1:], t[:, -1:]
        return float(np.sum(guess == t)), int(guess.size)


__all__ = ["Accuracy", "Metric"]
