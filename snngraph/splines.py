"""Interpolating B-splines in NumPy, as SciPy's ``interp1d(kind='quadratic'|'cubic')``
builds them (``make_interp_spline`` with its default knots), for ``Piecewise``: snngraph
does not need SciPy."""

from __future__ import annotations

import numpy as np


def not_a_knot(x: np.ndarray, k: int) -> np.ndarray:
    """SciPy's default knots for degree ``k`` through the points ``x``: the not-a-knot
    condition (odd ``k``), or the Greville sites without the second and the second-to-last
    (even ``k``)."""
    if k % 2 == 1:
        inner = x[(k + 1) // 2:-((k + 1) // 2)]
    else:
        inner = ((x[1:] + x[:-1]) / 2)[k // 2:-(k // 2)]
    return np.concatenate([np.full(k + 1, x[0]), inner, np.full(k + 1, x[-1])])


def basis(t: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """The B-spline basis of degree ``k`` on knots ``t`` at the points ``x`` (inside
    ``[t[k], t[-k-1]]``): ``[len(x), len(t) - k - 1]``, by Cox-de Boor's recursion. A
    point on the last knot belongs to the last non-empty interval, as in SciPy."""
    x = np.asarray(x, float)[:, None]
    B = ((t[:-1] <= x) & (x < t[1:])).astype(float)
    last = np.flatnonzero(t[:-1] < t[1:])[-1]
    B[x[:, 0] == t[-1], last] = 1.0
    for d in range(1, k + 1):
        n = len(t) - d - 1
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 on repeated knots: 0
            left = np.where(t[d:d + n] > t[:n], (x - t[:n]) / (t[d:d + n] - t[:n]), 0.0)
            right = np.where(t[d + 1:d + 1 + n] > t[1:n + 1],
                             (t[d + 1:d + 1 + n] - x) / (t[d + 1:d + 1 + n] - t[1:n + 1]), 0.0)
        B = left * B[:, :n] + right * B[:, 1:n + 1]
    return B


def interpolate(x: np.ndarray, y: np.ndarray, k: int, at: np.ndarray) -> np.ndarray:
    """The degree-``k`` spline through ``(x, y)`` (``y``: ``[len(x), d]``) at the points
    ``at``; zeros outside ``[x[0], x[-1]]`` (``interp1d``'s ``fill_value=0``)."""
    t = not_a_knot(x, k)
    coefficients = np.linalg.solve(basis(t, k, x), y)
    inside = (at >= x[0]) & (at <= x[-1])
    out = np.zeros((len(at), y.shape[1]))
    out[inside] = basis(t, k, at[inside]) @ coefficients
    return out
