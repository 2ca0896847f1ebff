"""What a pass through the data measures: each probe's ``Objective`` (loss, metrics and
their prepared targets), ``score`` of one minibatch's outputs against them, ``Totals``
over a pass, the per-epoch ``History`` and ``TrainingError``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snngraph.errors import SnnError


class TrainingError(SnnError, RuntimeError):
    """Training stopped: a non-finite loss or gradient."""


@dataclass
class Objective:
    """What ``fit``/``evaluate`` measure on one probe."""

    name: str  # the probe op
    label: str  # used in history keys: "<label>_loss", "<label>_accuracy"
    loss: Any = None
    metrics: list = field(default_factory=list)
    target: np.ndarray | None = None  # prepared for the loss
    labels: np.ndarray | None = None  # prepared for the metrics


@dataclass
class Score:
    """One minibatch scored: the summed loss, each probe's loss (``parts``), each
    metric's ``(total, count)``, and ``d loss / d output`` per probe when training."""

    loss: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    metric: dict[str, tuple] = field(default_factory=dict)
    dys: dict[str, np.ndarray] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # parts and metrics, probe by probe


def score(objectives: list[Objective], ys: dict[str, np.ndarray], pick: Any,
          gradient: Callable[[np.ndarray], np.ndarray] | None = None) -> Score:
    """Score ``ys`` (``{probe op: [examples, steps, size]}``) against the examples
    ``pick`` of each objective's targets; ``gradient`` (training) turns a loss's
    gradient into what the model's backward pass takes."""
    out = Score()
    for obj in objectives:
        y = ys[obj.name]
        if obj.loss is not None:
            target = obj.target[pick] if obj.target is not None else None
            value, grad = obj.loss(y, target)
            out.loss += value
            out.parts[f"{obj.label}_loss"] = value
            out.keys.append(f"{obj.label}_loss")
            if gradient is not None:
                out.dys[obj.name] = gradient(grad)
        for m in obj.metrics:
            out.metric[f"{obj.label}_{m.name}"] = m(y, obj.labels[pick])
            out.keys.append(f"{obj.label}_{m.name}")
    return out


class History:
    """Per-epoch results, as Keras's: ``history.history["loss"][epoch]``."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.method: str | None = None  # "rate" or "bptt", set by Simulator.fit
        self.method_reason = ""  # why fit chose that method

    def add(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs: {last})"


class Totals:
    """Running sums of losses and metrics over a pass through the data. Losses are
    weighted by minibatch size (a last partial minibatch counts for what it holds)."""

    def __init__(self, objectives: list[Objective]):
        self.objectives = objectives
        self.loss = 0.0
        self.sums: dict[str, list[float]] = {}
        self.batches = 0

    def add(self, loss: float, parts: dict[str, float], metric: dict[str, tuple],
            examples: int) -> None:
        self.batches += examples
        self.loss += loss * examples
        for key, value in parts.items():
            self.sums.setdefault(key, [0.0, 0])[0] += value * examples
            self.sums[key][1] += examples
        for key, (total, count) in metric.items():
            self.sums.setdefault(key, [0.0, 0])[0] += total
            self.sums[key][1] += count

    def logs(self, prefix: str = "") -> dict[str, float]:
        out = {}
        if any(o.loss is not None for o in self.objectives):
            out[f"{prefix}loss"] = self.loss / max(self.batches, 1)
        for key, (total, count) in self.sums.items():
            out[f"{prefix}{key}"] = total / max(count, 1)
        return out
