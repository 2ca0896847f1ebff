"""The executor base of the Numba CPU backend: one executor per op, registered by op
kind (``executes``), plus the thread pool that runs row blocks of a minibatch."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from snngraph.schemas import ir as ops

if TYPE_CHECKING:
    from snngraph.runtimes.numba_cpu.backend import NumbaBackend

F32 = np.float32
EXECUTORS: dict[str, type[Executor]] = {}


def executes(*kinds: str) -> Callable:
    def register(cls: type) -> type:
        for kind in kinds:
            EXECUTORS[kind] = cls
        return cls
    return register


THREADS = max(1, min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS))
_POOL: ThreadPoolExecutor | None = None
SERIAL_BELOW = 8
"""Minibatches smaller than this run the serial forms of the batch kernels."""


def row_blocks(batch: int, size: int) -> list[tuple[int, int]]:
    """Row ranges run in parallel threads (one block when the work is small)."""
    k = THREADS if batch >= 2 and batch * size >= 4096 else 1
    bounds = np.linspace(0, batch, min(k, batch) + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def parallel(calls: list[tuple]) -> None:
    """Run ``(fn, *args)`` calls on the thread pool (fn must release the GIL)."""
    global _POOL
    if len(calls) == 1:
        calls[0][0](*calls[0][1:])
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(THREADS)
    for job in [_POOL.submit(*c) for c in calls]:
        job.result()

class Executor:
    """Runs one op. ``out`` holds its value for the current step, ``[batch, size]``."""

    delayed = False  # True: output last step's value; update() after the step

    def __init__(self, op: ops.Op, backend: NumbaBackend):
        self.op, self.backend = op, backend
        self.params = backend.program.params

    def allocate(self, batch: int) -> None:
        self.out = np.zeros((batch, self.op.size), F32)

    def reset(self) -> None:
        self.out[:] = 0.0

    def compute(self, x: np.ndarray | None, t: int) -> None:
        raise NotImplementedError

    def emit(self, g: Any) -> bool:
        """Add this op's step to fused code (see fused.py); False if it cannot be."""
        return False

    @property
    def zeros_in(self) -> np.ndarray:
        """A zero input for ops that nothing feeds."""
        return self.backend.zero_input(self.op.name)

    def param(self, key: str | None) -> np.ndarray | None:
        return None if key is None else np.ascontiguousarray(self.params[key], dtype=F32)
