"""The executor base of the Numba CPU backend: one executor per op, registered by op
kind (``executes``). Row blocks of a minibatch run on runtimes/parallel.py's pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from snngraph.runtimes.parallel import THREADS, parallel, row_blocks  # noqa: F401 (this runtime's names)
from snngraph.schemas import ir as ops
from snngraph.schemas.ir import registrar

if TYPE_CHECKING:
    from snngraph.runtimes.numba_cpu.backend import NumbaBackend

F32 = np.float32
"""The runtime's default precision (``NumbaBackend(dtype=...)`` may choose float64)."""
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The precisions the runtime computes in: every value, state and parameter array of a
backend has one of them (Numba compiles each kernel once per precision)."""
EXECUTORS: dict[str, type[Executor]] = {}


executes = registrar(EXECUTORS)
"""``@executes("sum", ...)``: register an executor class for op kinds."""


SERIAL_BELOW = 8
"""Minibatches smaller than this run the serial forms of the batch kernels."""


class Executor:
    """Runs one op. ``out`` holds its value for the current step, ``[batch, size]``."""

    delayed = False  # True: output last step's value; update() after the step
    probed_attrs: tuple[str, ...] = ()
    """What a probe of this op reads from ``probed(attr)`` (not its output)."""

    def __init__(self, op: ops.Op, backend: NumbaBackend):
        self.op, self.backend = op, backend
        self.params = backend.program.params
        self.dtype = backend.dtype
        """The backend's precision: every array this executor allocates has it."""

    def allocate(self, batch: int) -> None:
        self.out = np.zeros((batch, self.op.size), self.dtype)

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

    def probed(self, attr: str) -> np.ndarray:
        """The value of ``attr`` (one of ``probed_attrs``) for each example, ``[batch or
        1, ...]``."""
        raise NotImplementedError

    def param(self, key: str | None) -> np.ndarray | None:
        """The program's array ``key`` in the backend's precision (None for None)."""
        return None if key is None else np.ascontiguousarray(self.params[key],
                                                             dtype=self.dtype)

    def zeros(self, *shape: int) -> np.ndarray:
        """A zero array in the backend's precision."""
        return np.zeros(shape, self.dtype)
