"""Non-negative least squares (Lawson and Hanson's active-set method) in numpy.

``nnls(A, b)`` minimises ``||A x - b||`` subject to ``x >= 0``: the algorithm SciPy's
``scipy.optimize.nnls`` implements, written here so the core needs no SciPy. It moves
one variable at a time from the active set (held at zero) to the passive set (free),
solving an unconstrained least squares problem on the passive set, and steps back
towards the previous point whenever that solution leaves the feasible region.
"""

from __future__ import annotations

import numpy as np


def nnls(A: np.ndarray, b: np.ndarray, max_iter: int | None = None) -> tuple[np.ndarray, float]:
    """``(x, ||A x - b||)`` with ``x >= 0``; ``max_iter`` outer iterations (default
    ``3 n``, as SciPy). Raises ``ValueError`` when the iterations run out."""
    A, b = np.asarray(A, float), np.asarray(b, float)
    if A.ndim != 2 or b.shape != (A.shape[0],):
        raise ValueError(f"nnls: expected A (m, n) and b (m,), got {A.shape} and {b.shape}")
    m, n = A.shape
    max_iter = 3 * n if max_iter is None else max_iter
    # the optimality test must ignore gradient entries at rounding level
    tol = 10 * max(m, n) * np.finfo(float).eps * max(np.abs(A).sum(axis=0).max(), 1e-300) \
        * max(np.abs(b).max(), 1e-300)
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = A.T @ b
    for _ in range(max_iter):
        if passive.all() or (w[~passive] <= tol).all():
            return x, float(np.linalg.norm(A @ x - b))
        passive[np.argmax(np.where(passive, -np.inf, w))] = True
        x = _feasible_step(A, b, x, passive)
        w = A.T @ (b - A @ x)
    raise ValueError(f"nnls: no solution after {max_iter} iterations")


def _feasible_step(A: np.ndarray, b: np.ndarray, x: np.ndarray, passive: np.ndarray
                   ) -> np.ndarray:
    """The inner loop: solve on the passive set, and while that solution has entries
    <= 0, step from ``x`` towards it as far as feasibility allows and drop the variables
    that reach zero. Updates ``passive`` in place."""
    while True:
        z = np.zeros_like(x)
        z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
        bad = passive & (z <= 0)
        if not bad.any():
            return z
        ratios = np.full_like(x, np.inf)
        ratios[bad] = x[bad] / (x[bad] - z[bad])
        first = np.argmin(ratios)
        x = x + ratios[first] * (z - x)
        # the variables the step brought to zero (the first exactly, others up to
        # rounding) leave the passive set
        passive &= x > np.finfo(float).eps * max(np.abs(x).max(), 1.0) * 10
        passive[first] = False
        x[~passive] = 0.0
        if not passive.any():
            return x
