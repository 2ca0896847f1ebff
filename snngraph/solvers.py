"""Decoder solvers for NEF connections (``function=``), with Nengo 4.1's definitions.

A solver finds ``X`` with ``A X ~ Y`` from the pre ensemble's activities ``A``
``(eval points, neurons)`` and targets ``Y`` ``(eval points, targets)``.
Positional arguments are each solver's own parameter (``LstsqL2(0.01)`` is ``reg``);
``weights`` is a keyword. ``solve(A, Y)`` returns ``X``; ``solve_info(A, Y, rng)``
returns ``(X, info)`` where ``info`` is Nengo's ``solver_info`` (``rmses`` always;
``rank``, ``residuals``, ... where Nengo reports them). ``rng`` (a
``numpy.random.Generator`` or a Nengo-style ``RandomState``) is what the noisy solvers
draw from; the lowering passes the pre ensemble's stream.

``weights=True`` asks for a full neuron-to-neuron weight matrix on an ensemble to
ensemble connection. A *compositional* solver's decoders are combined with the
transform and the post ensemble's encoders afterwards; a non-compositional one
(``LstsqDrop``, ``Nnls*``) solves for the weights directly, with targets already
mapped through the transform and the post ensemble's scaled encoders (Nengo's builder).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from snngraph.base import FieldError, Spec
from snngraph.nnls import nnls
from snngraph.schemas.base import Array, Bool, NonNegFloat

Info = dict[str, Any]


def rmses(A: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The root-mean-square error of ``A X`` against ``Y``, one per target."""
    return np.sqrt(np.mean((Y - A @ X) ** 2, axis=0))


class Solver(Spec, abstract=True):
    """Base of decoder solvers."""

    family: ClassVar[str] = "solver"
    compositional: ClassVar[bool] = True
    """Whether ``solve(A, L(Y)) == L(solve(A, Y))`` for linear maps ``L`` (Nengo's term):
    such solvers find decoders even when full weights are asked for."""

    weights: Bool = False
    """Solve for a full weight matrix (ensemble to ensemble connections): the post
    neurons receive ``encoders @ transform @ decoders.T`` from the pre neurons."""

    def solve(self, activities: np.ndarray, targets: np.ndarray, rng: Any = None
              ) -> np.ndarray:
        """The decoders ``X`` ``(neurons, targets)``."""
        return self.solve_info(activities, targets, rng)[0]

    def solve_info(self, activities: np.ndarray, targets: np.ndarray, rng: Any = None
                   ) -> tuple[np.ndarray, Info]:
        """``(X, info)``: the decoders and Nengo's ``solver_info`` (``rmses``, ``time``,
        and what the solver adds). A 1-D ``targets`` gives a 1-D ``X``."""
        A = np.asarray(activities, dtype=float)
        Y = np.asarray(targets, dtype=float)
        if A.ndim != 2 or Y.ndim not in (1, 2) or len(Y) != len(A):
            raise ValueError(f"{type(self).__name__}: expected activities (points, neurons) "
                             f"and targets (points, targets) with as many points, got "
                             f"{A.shape} and {Y.shape}")
        start = time.perf_counter()
        X, info = self._solve(A, Y if Y.ndim == 2 else Y[:, None],
                              rng if rng is not None else np.random.default_rng())
        info["time"] = time.perf_counter() - start
        return (X if Y.ndim == 2 else X[:, 0]), info

    def _solve(self, A: np.ndarray, Y: np.ndarray, rng: Any) -> tuple[np.ndarray, Info]:
        raise NotImplementedError


def cholesky(A: np.ndarray, Y: np.ndarray, sigma: float | np.ndarray) -> tuple[np.ndarray, Info]:
    """Regularised least squares ``(A^T A + m sigma^2 I)^-1 A^T Y`` (``sigma`` a number or
    one per neuron), through the smaller Gram matrix ``A A^T`` when ``A`` is wide and
    ``sigma`` is a number (Nengo's ``Cholesky`` least-squares solver)."""
    m, n = A.shape
    sigma = np.asarray(sigma, dtype=float)
    wide = m < n and sigma.size == 1
    gram, rhs = (A @ A.T, Y) if wide else (A.T @ A, A.T @ Y)
    gram[np.diag_indices_from(gram)] += m * sigma**2
    X = np.linalg.solve(gram, rhs)
    X = A.T @ X if wide else X
    return X, {"rmses": rmses(A, X, Y)}


class Lstsq(Solver):
    """Unregularised least squares (``numpy.linalg.lstsq`` with cut-off ``rcond``)."""

    _positional: ClassVar[tuple[str, ...]] = ("rcond",)

    rcond: NonNegFloat = 0.01
    """Singular values below ``rcond`` times the largest are treated as zero."""

    def _solve(self, A, Y, rng):
        X, residuals2, rank, s = np.linalg.lstsq(A, Y, rcond=self.rcond)
        return X, {"rmses": rmses(A, X, Y), "residuals": np.sqrt(residuals2), "rank": rank,
                   "singular_values": s}


class LstsqNoise(Solver):
    """Least squares after adding Gaussian noise of standard deviation
    ``noise * max|A|`` to the activities (drawn from the lowering's ``rng``)."""

    _positional: ClassVar[tuple[str, ...]] = ("noise",)

    noise: NonNegFloat = 0.1
    """Noise, relative to the largest activity."""

    def _solve(self, A, Y, rng):
        sigma = self.noise * np.max(np.abs(A))
        return cholesky(A + rng.normal(scale=sigma, size=A.shape), Y, 0.0)


class LstsqMultNoise(LstsqNoise):
    """Least squares after multiplying each activity by ``1 + noise * N(0, 1)``."""

    def _solve(self, A, Y, rng):
        return cholesky(A + rng.normal(scale=self.noise, size=A.shape) * A, Y, 0.0)


class LstsqL2(Solver):
    """Least squares with L2 regularisation ``sigma = reg * max(A)`` (Nengo's default):
    ``D = (A^T A + m sigma^2 I)^-1 A^T Y`` for ``m`` evaluation points."""

    _positional: ClassVar[tuple[str, ...]] = ("reg",)

    reg: NonNegFloat = 0.1
    """Regularisation, relative to the largest activity."""

    def _solve(self, A, Y, rng):
        return cholesky(A, Y, self.reg * A.max())


class LstsqL2nz(LstsqL2):
    """L2-regularised least squares with each neuron's ``sigma`` scaled by the square root
    of the fraction of evaluation points where it is active (never-active neurons get
    the largest)."""

    def _solve(self, A, Y, rng):
        sigma = self.reg * np.max(np.abs(A)) * np.sqrt((np.abs(A) > 0).mean(axis=0))
        sigma[sigma == 0] = sigma.max()
        return cholesky(A, Y, sigma)


class LstsqDrop(Solver):
    """Sparser decoders: solve with ``solver1``, set the fraction ``drop`` of the
    coefficients nearest zero to zero, and solve again with ``solver2`` for each target
    on the neurons left."""

    compositional: ClassVar[bool] = False
    _positional: ClassVar[tuple[str, ...]] = ("drop", "solver1", "solver2")

    drop: NonNegFloat = 0.25
    """Fraction of the coefficients set to zero, in [0, 1]."""
    solver1: Solver = Field(default_factory=lambda: LstsqL2(reg=0.001))
    """Finds the first coefficients."""
    solver2: Solver = Field(default_factory=lambda: LstsqL2(reg=0.1))
    """Solves again on the coefficients kept."""

    @model_validator(mode="after")
    def _fraction(self) -> LstsqDrop:
        if self.drop > 1:
            raise FieldError("drop", self.drop, "expected a fraction in [0, 1]")
        return self

    def _solve(self, A, Y, rng):
        X, info0 = self.solver1.solve_info(A, Y, rng)
        magnitudes = np.sort(np.abs(X.ravel()))
        # Nengo's threshold: the magnitude at the dropped fraction (drop=1 drops all)
        at = int(np.round(self.drop * magnitudes.size))
        X[np.abs(X) < (magnitudes[at] if at < magnitudes.size else np.inf)] = 0.0
        info1s = []
        for i in range(X.shape[1]):  # one small solve per target, as Nengo
            kept = X[:, i] != 0
            info1 = None
            if kept.any():
                X[kept, i], info1 = self.solver2.solve_info(A[:, kept], Y[:, i], rng)
            info1s.append(info1)
        return X, {"rmses": rmses(A, X, Y), "info0": info0, "info1s": info1s}


def nnls_columns(M: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative ``X`` with ``M X ~ R``, one column of ``R`` at a time, and each
    column's residual."""
    X = np.zeros((M.shape[1], R.shape[1]))
    residuals = np.zeros(R.shape[1])
    for i in range(R.shape[1]):
        X[:, i], residuals[i] = nnls(M, R[:, i])
    return X, residuals


class Nnls(Solver):
    """Non-negative least squares (Lawson-Hanson, ``snngraph.nnls``): decoders >= 0. With
    ``weights=True``, give the post ensemble non-negative intercepts (Nengo's advice)."""

    compositional: ClassVar[bool] = False

    def _solve(self, A, Y, rng):
        X, residuals = nnls_columns(A, Y)
        return X, {"rmses": rmses(A, X, Y), "residuals": residuals}


class NnlsL2(Nnls):
    """Non-negative least squares with L2 regularisation ``sigma = reg * max(A)``, solved
    on the regularised Gram matrix (targets clipped at zero there, as Nengo does)."""

    _positional: ClassVar[tuple[str, ...]] = ("reg",)

    reg: NonNegFloat = 0.1
    """Regularisation, relative to the largest activity."""

    def _sigma(self, A: np.ndarray) -> float | np.ndarray:
        return self.reg * A.max()

    def _solve(self, A, Y, rng):
        gram = A.T @ A
        gram[np.diag_indices_from(gram)] += A.shape[0] * np.asarray(self._sigma(A)) ** 2
        X, residuals = nnls_columns(gram, A.T @ np.maximum(Y, 0))
        return X, {"rmses": rmses(A, X, Y), "residuals": residuals}


class NnlsL2nz(NnlsL2):
    """``NnlsL2`` with each neuron's ``sigma`` scaled by the square root of the fraction of
    evaluation points where it is active (never-active neurons get ``sigma = 1``)."""

    def _sigma(self, A):
        sigma = self.reg * A.max() * np.sqrt((A > 0).mean(axis=0))
        sigma[sigma == 0] = 1.0
        return sigma


class NoSolver(Solver):
    """Given decoders ``values`` ``(n_neurons, dimensions out)``, used as they are (Nengo's
    ``NoSolver``; ``freeze_params`` writes trained decoders this way). ``None``: zeros."""

    _positional: ClassVar[tuple[str, ...]] = ("values", "weights")

    values: Array | None = None
    """The decoders, ``(n_neurons, dimensions out)``; None decodes zeros."""

    @model_validator(mode="after")
    def _matrix(self) -> NoSolver:
        if self.values is not None and self.values.ndim != 2:
            raise FieldError("values", self.values, "expected a 2-D array (n_neurons, "
                             "dimensions out)")
        return self

    def solve_info(self, activities, targets, rng=None):
        """The values (checked against the system's shape), and an empty ``info``."""
        n, d = np.shape(activities)[1], np.shape(targets)[1]
        if self.values is None:
            return np.zeros((n, d)), {}
        if self.values.shape != (n, d):
            raise ValueError(f"NoSolver.values: expected shape ({n}, {d}) (neurons, "
                             f"dimensions) (got {self.values.shape})")
        return np.asarray(self.values, float), {}
