"""What runs on a worker: a range of examples of ``predict``, one sweep setting, the
gradient of a part of a minibatch.

The driver scatters a job's ``SimulatorSpec`` or ``TrainerSpec`` to every worker once;
each worker builds the Simulator (or the training model) from it on its first task and
keeps it for the job's later tasks (``_built``, by the job's token), so the Numba
kernels and buffers are made once per worker, not once per task.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_built: OrderedDict[str, Any] = OrderedDict()
_KEEP = 2  # jobs whose Simulator or trainer a worker keeps (the current one, and one more)


def _cached(token: str, make: Any) -> Any:
    if token not in _built:
        _built[token] = make()
        while len(_built) > _KEEP:
            _built.popitem(last=False)
    _built.move_to_end(token)
    return _built[token]


@dataclass
class SimulatorSpec:
    """What a worker needs to build the driver's Simulator: the compiled Program (with
    the current parameters) and the Simulator's settings."""

    token: str
    program: Any
    backend: str
    minibatch_size: int
    seed: int
    fuse: Any
    dtype: str

    @classmethod
    def of(cls, sim: Any, token: str) -> SimulatorSpec:
        return cls(token, sim.program, sim.backend_name, sim.minibatch_size, sim.seed,
                   sim.fuse, sim.dtype.name)

    def simulator(self) -> Any:
        from snngraph.runtimes.simulator import Simulator

        return _cached(self.token, lambda: Simulator(
            self.program, backend=self.backend, minibatch_size=self.minibatch_size,
            seed=self.seed, progress_bar=False, fuse=self.fuse, dtype=self.dtype))


def run_range(spec: SimulatorSpec, part: dict[str, Any], steps: int, size: int,
              first: int) -> dict[str, np.ndarray]:
    """Examples ``first ..`` (``part``: each input op's rows for them, as given: a NumPy
    slice or a dask.array's computed slice) run as the single-process ``predict`` runs
    them: the same minibatches, the same per-example random draws."""
    sim = spec.simulator()
    feeds, _ = sim._feeds(part, steps, None, exact=False)
    return sim._run_examples(feeds, steps, size, first)


def run_setting(job: Any, setting: dict[str, Any]) -> dict[str, float]:
    """One point of ``sg.sweep``: ``job.build(**setting)``, evaluated on its data."""
    return job.evaluate(setting)


@dataclass
class TrainerSpec:
    """What a worker needs to compute gradients as the driver's fit does: the program
    being trained, the method and its model's settings, the objectives (targets
    included) and the training inputs (every example: minibatches are drawn anywhere
    in the data)."""

    token: str
    program: Any
    method: str
    trainable: set[str]
    seed: int
    checkpoint_every: int | None
    objectives: list
    feeds: dict[str, np.ndarray] = field(default_factory=dict)

    def trainer(self) -> Any:
        return _cached(self.token, self._make)

    def _make(self) -> Any:
        from snngraph.runtimes.training.loop import Trainer
        from snngraph.runtimes.training.methods import method_for

        if self.method == "rate":
            from snngraph.runtimes.rate.model import RateModel

            model = RateModel(self.program, self.trainable)
        else:
            from snngraph.runtimes.bptt.model import BpttModel

            model = BpttModel(self.program, self.trainable, seed=self.seed)
        model.checkpoint_every = self.checkpoint_every
        return Trainer(method_for(self.method, model), self.objectives, str)


def part_gradient(spec: TrainerSpec, params: dict[str, np.ndarray], idx: np.ndarray,
                  steps: int, epoch: int) -> Any:
    """The gradient of examples ``idx`` (a part of the driver's minibatch) at the
    driver's current ``params``: the single-process ``Trainer.gradient``."""
    trainer = spec.trainer()
    from snngraph.runtimes.training.loop import one_blas_thread

    for key, value in params.items():
        trainer.model.params[key][...] = value
    with one_blas_thread():
        return trainer.gradient(spec.feeds, idx, steps, epoch)
