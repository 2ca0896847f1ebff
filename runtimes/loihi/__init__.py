"""The Loihi runtime: an integer emulator of the chip, with the host on numba."""

from snngraph.runtimes.loihi.backend import LoihiBackend

__all__ = ["LoihiBackend"]
