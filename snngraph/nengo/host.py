"""A Nengo ``Process`` the user wrote, run on the host by its own ``make_step``.

A process written by the user is user code, like a Node's function: Nengo runs its
``make_step`` in Python every step, and so does snngraph (as a Node callable). Nengo's
built-in processes are not run this way: they map onto snngraph's own (params.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class HostProcess:
    """Calls ``process.make_step``'s step function each step; made anew when time
    starts again (after a reset), with a RandomState seeded as Nengo seeds it: the
    process's own seed, else one drawn from the run's seed."""

    def __init__(self, process: Any, size_in: int, size_out: int):
        self.process, self.size_in, self.size_out = process, size_in, size_out
        self.dt: float | None = None
        self.seed = 0
        self._step: Any = None
        self._t = np.inf

    def bind(self, dt: float, seed: int) -> None:
        """The run's step and seed (set by the Simulator; a new seed on each reset)."""
        self.dt, self.seed = dt, seed
        self._step = None

    def _make(self, t: float) -> None:
        dt = self.dt if self.dt is not None else t  # the first step ends at t = dt
        p = self.process
        rng = np.random.RandomState(p.seed if p.seed is not None else self.seed)
        shape_in, shape_out = (self.size_in,), (self.size_out,)
        state = p.make_state(shape_in, shape_out, dt)
        self._step = p.make_step(shape_in, shape_out, dt, rng, state)

    def __call__(self, t: float, x: np.ndarray | None = None) -> Any:
        if self._step is None or t <= self._t:
            self._make(t)
        self._t = t
        return self._step(t) if self.size_in == 0 else self._step(t, x)
