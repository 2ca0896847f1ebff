"""Data-parallel ``fit``: each minibatch split into one contiguous part per worker,
each worker computes the gradient of its part at the driver's current parameters, the
driver averages them (weighted by part size) and applies one optimizer step.

Because every loss is a mean over examples, the weighted average of the parts' mean
gradients is the whole minibatch's mean gradient: training equals single-process
training with the same global batch up to the order of the sums (float32 products
over fewer rows, then a float64 average). The optimizer, its state, the checkpoints,
the callbacks and the non-finite stop stay on the driver, in the single-process loop
(runtimes/training/loop.py: ``FitOptions.gradients`` replaces ``Trainer.gradient``).
The program, objectives (targets) and training inputs are scattered to every worker
once; each step ships the parameters and the examples' indices, and brings back one
gradient per worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from snngraph.runtimes.distributed.cluster import RETRIES, ClusterError, connect
from snngraph.runtimes.distributed.shards import gather_in_order, task_slots
from snngraph.runtimes.distributed.worker import TrainerSpec, part_gradient


@contextmanager
def data_parallel(client: Any, trainer: Any, program: Any, method: str,
                  feeds: dict[str, np.ndarray]) -> Iterator[Any]:
    """``FitOptions.gradients`` for ``client=`` (None: the single-process path)."""
    if client is None:
        yield None
        return
    with connect(client, "Simulator.fit") as c:
        model = trainer.model
        spec = TrainerSpec(uuid.uuid4().hex, program, method, set(model.trainable),
                           int(getattr(model, "seed", 0) or 0),
                           getattr(model, "checkpoint_every", None), trainer.objectives,
                           feeds)
        yield Parts(c, c.scatter(spec, broadcast=True, hash=False), model)


class Parts:
    """``(feeds, idx, steps, epoch) -> Gradient`` of a minibatch, computed in parts on
    the cluster's workers."""

    def __init__(self, client: Any, spec: Any, model: Any):
        self.client, self.spec, self.model = client, spec, model
        self.keys = sorted(k for k in model.trainable if k in model.params)
        # one part per task slot, fixed for the whole fit: the sums' order then does not
        # change when a worker is lost and its parts run elsewhere
        self.slots = task_slots(client)
        self.calls = 0  # minibatches so far (task keys), and this epoch's (messages)
        self.epoch, self.batch = -1, 0

    def __call__(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
                 epoch: int) -> Any:
        from snngraph.runtimes.training.loop import Gradient

        parts = [p for p in np.array_split(idx, min(self.slots, len(idx))) if len(p)]
        params = {k: self.model.params[k] for k in self.keys}
        self.calls += 1
        self.epoch, self.batch = epoch, (self.batch + 1 if epoch == self.epoch else 1)
        tag = f"{self.spec.key[-8:]}-{self.calls}"
        futures = [self.client.submit(part_gradient, self.spec, params, part, steps, epoch,
                                      key=f"snngraph-fit-{tag}-part-{i}", retries=RETRIES,
                                      pure=False)
                   for i, part in enumerate(parts)]
        names = [f"epoch {epoch + 1}, batch {self.batch}, part {i + 1} of {len(parts)} "
                 f"(examples {_examples(p)})" for i, p in enumerate(parts)]
        try:
            results = gather_in_order(self.client, futures, names, "Simulator.fit")
        except ClusterError as exc:
            raise ClusterError(f"{exc}; training stopped, the parameters are those after "
                               "the last completed minibatch") from exc.__cause__
        return Gradient.combine(results)


def _examples(idx: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:4])
    return shown + (f", ... ({len(idx)} in all)" if len(idx) > 4 else "")
