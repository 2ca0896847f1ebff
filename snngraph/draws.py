"""Counter-hash random draws: a draw depends only on (seed, op, example, step, index), so
results do not depend on how examples are batched or split across threads. Processes and
neuron types' kernels call these helpers (plain code: numpy runs them on uint64 arrays,
the runtimes compile the same functions with Numba)."""

from __future__ import annotations

import numpy as np


def _helper(fn):
    """``snngraph.neurons.kernel_helper`` (marked here: this module imports nothing of
    the package, so neuron modules and processes can both use it)."""
    fn.kernel_helper = True
    return fn


@_helper
def splitmix64(z):
    """splitmix64, a counter-based hash of uint64 values: random draws made from it depend
    only on their indices. Plain code on purpose: numpy runs it on uint64 arrays here, and
    the runtimes compile this same function with numba."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@_helper
def draw_key(seed, op_id, example, step):
    """The key of one example's draws at one step of op number ``op_id``."""
    base = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(op_id)))
    return splitmix64(base ^ splitmix64(np.uint64(example) + np.uint64(step) * np.uint64(7919)))


@_helper
def draw_uniform(key, i):
    """The uniform number in [0, 1) of input ``i`` under ``key`` (53 random bits)."""
    return (splitmix64(key ^ np.uint64(i)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
