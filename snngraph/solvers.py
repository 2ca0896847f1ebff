"""Decoder solvers for NEF connections (``function=``): Nengo's regularised least squares."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from snngraph.base import Spec
from snngraph.schemas.base import Array, Bool, NonNegFloat


class Solver(Spec, abstract=True):
    """Base of decoder solvers: ``solve(A, Y)`` returns decoders ``D`` with ``A @ D ~ Y``."""

    family: ClassVar[str] = "solver"

    def solve(self, activities: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LstsqL2(Solver):
    """Least squares with L2 regularisation ``sigma = reg * max(A)``, as Nengo's default:
    ``D = (A^T A + m sigma^2 I)^-1 A^T Y`` for ``m`` evaluation points."""

    _positional: ClassVar[tuple[str, ...]] = ("reg",)

    reg: NonNegFloat = 0.1
    """Regularisation, relative to the largest activity."""
    weights: Bool = False
    """Solve for full weights (decoders times the post ensemble's encoders)."""

    def solve(self, activities: np.ndarray, targets: np.ndarray) -> np.ndarray:
        A, Y = np.asarray(activities, float), np.asarray(targets, float)
        sigma = self.reg * A.max()
        gram = A.T @ A
        gram[np.diag_indices_from(gram)] += A.shape[0] * sigma**2
        return np.linalg.solve(gram, A.T @ Y)


class NoSolver(Solver):
    """Given decoders ``values`` ``(n_neurons, dimensions out)``, used as they are (Nengo's
    ``NoSolver``; ``freeze_params`` writes trained decoders this way)."""

    _positional: ClassVar[tuple[str, ...]] = ("values",)

    values: Array
    """The decoders, ``(n_neurons, dimensions out)``."""

    def solve(self, activities: np.ndarray, targets: np.ndarray) -> np.ndarray:
        n, d = np.shape(activities)[1], np.shape(targets)[1]
        if self.values.shape != (n, d):
            raise ValueError(f"NoSolver.values: expected shape ({n}, {d}) (neurons, "
                             f"dimensions) (got {self.values.shape})")
        return np.asarray(self.values, float)
