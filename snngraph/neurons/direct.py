"""``Direct``: an ensemble without neurons (Nengo's direct mode).

The ensemble represents its input vector exactly: connections out of it compute their
``function`` of that vector each step (a Python call, as a Node's function) or pass it on
unchanged, and probing it records it. The compiler lowers such an ensemble to the sum of its
inputs and nothing else (``compiler/lower.py``); it has no neurons to connect to or probe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.neurons.base import DT, NeuronType


class Direct(NeuronType):
    """Direct mode: no neurons; the ensemble's decoded value is its input, exactly."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Nengo's: the input itself."""
        return np.asarray(np.atleast_1d(J), dtype=float)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[None, None]:
        """Nengo's: no gain or bias (there are no neurons)."""
        return None, None

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[None, None]:
        return None, None
