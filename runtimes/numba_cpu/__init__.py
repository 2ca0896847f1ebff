"""The Numba CPU runtime (``backend="numba"``): minibatched, event-driven simulation."""

from snngraph.runtimes.numba_cpu.backend import NumbaBackend

__all__ = ["NumbaBackend"]
