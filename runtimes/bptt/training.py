"""``fit`` by back-propagation through time: the rate Trainer's loop (minibatches,
optimizer, checkpoints, validation, non-finite checks) with a BpttModel underneath.

A minibatch of ``b`` examples runs all ``T`` steps at once in the model; feeds that do not
change over time (one step, or a broadcast view with stride 0 along the steps) stay one
row per example.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt.model import BpttModel, to_examples, to_time_major
from snngraph.runtimes.rate.training import Trainer


class BpttTrainer(Trainer):
    model: BpttModel

    def batch(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
              train: bool) -> tuple[float, dict, dict, dict, Any, dict]:
        fed = {k: (v[idx, :1] if v.shape[1] > 1 and v.strides[1] == 0 else v[idx])
               for k, v in feeds.items()}
        # random draws: those of ``predict`` for these examples when evaluating, new ones
        # every epoch when training
        self.model.examples = idx
        self.model.noise = getattr(self, "epoch", 0) + 1 if train else 0
        every = getattr(self.model, "checkpoint_every", None)
        if every and every < steps:
            values, tape = self.model.forward_segments(fed, self.outputs, steps, len(idx),
                                                       every)
            carried = tape
        else:
            values, tape = self.model.forward_steps(fed, self.outputs, steps, len(idx))
            carried = (values, tape)
        total, parts, metric, dys = 0.0, {}, {}, {}
        for obj in self.objectives:
            y = to_examples(values[obj.name], steps, len(idx))
            if obj.loss is not None:
                target = obj.target[idx] if obj.target is not None else None
                value, grad = obj.loss(y, target)
                total += value
                parts[f"{obj.label}_loss"] = value
                if train:
                    dys[obj.name] = to_time_major(np.asarray(grad, np.float32))
            for m in obj.metrics:
                metric[f"{obj.label}_{m.name}"] = m(y, obj.labels[idx])
        if len(parts) < 2:
            parts = {}
        return total, parts, metric, dys, carried, {k: v.data for k, v in values.items()}
