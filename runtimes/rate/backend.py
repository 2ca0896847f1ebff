"""``backend="rate"``: the Simulator interface over a rate program. Every step is at
steady state, so a run evaluates each distinct input step once (all examples and steps
as one block of rows) and holds the result for steps whose input does not change."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.rate.model import RateModel


class RateBackend:
    def __init__(self, program: Any, seed: int, fuse: Any = "auto"):
        self.program = program
        self.model = RateModel(program, trainable=set())
        self.probes = [op for op in program.ir.ops() if op.op == "probe"]
        self.batch = 1

    def allocate(self, batch: int) -> None:
        self.batch = batch

    def reset(self, seed: int) -> None:
        pass  # stateless

    def run(self, n_steps: int, feeds: dict[str, np.ndarray], t0: int, example0: int,
            progress: Any) -> dict[str, np.ndarray]:
        steps = max((v.shape[1] for v in feeds.values()), default=1)
        rows = self.batch * steps
        fed = {k: np.broadcast_to(v, (self.batch, steps, v.shape[2])).reshape(rows, -1)
               for k, v in feeds.items()}
        values, _ = self.model.forward(fed, [p.name for p in self.probes], rows)
        out = {}
        for probe in self.probes:
            y = values[probe.name].reshape(self.batch, steps, *probe.shape)
            if steps != n_steps:  # constant input: the same steady state every step
                y = np.repeat(y[:, -1:], n_steps, axis=1)
            out[probe.name] = np.array(y, np.float32)  # a copy: the model reuses buffers
        if progress:
            progress.update(n_steps)
        return out
