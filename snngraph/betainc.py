"""The regularised incomplete beta function and its inverse, in numpy (no SciPy).

``betainc(a, b, x)`` is ``I_x(a, b)``, the CDF of a Beta(a, b) variable; ``betaincinv``
inverts it in ``x``. The scattered hypersphere (``dists.ScatteredHypersphere``) maps
quasi-random points onto the sphere through them, and ``SqrtBeta`` gives its ``cdf`` and
``ppf`` with them. ``a`` and ``b`` are numbers, ``x`` (or ``y``) arrays.
"""

from __future__ import annotations

from math import lgamma

import numpy as np

_TINY = 1e-300
_EPS = np.finfo(float).eps


def _continued_fraction(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Lentz's evaluation of the continued fraction of ``I_x(a, b)`` (converges fast for
    ``x < (a + 1) / (a + b + 2)``), vectorised over ``x``."""
    def guard(v):
        return np.where(np.abs(v) < _TINY, _TINY, v)

    c = np.ones_like(x)
    d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    h = d.copy()
    for m in range(1, 5000):
        even = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m))
        d = 1.0 / guard(1.0 + even * d)
        c = guard(1.0 + even / c)
        h *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m))
        d = 1.0 / guard(1.0 + odd * d)
        c = guard(1.0 + odd / c)
        delta = d * c
        h *= delta
        if np.all(np.abs(delta - 1.0) < 5 * _EPS):  # its last factors hover around 1
            break
    return h


def betainc(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """``I_x(a, b)`` for ``0 <= x <= 1`` (``a, b > 0``)."""
    x = np.asarray(x, dtype=float)
    out = np.where(x >= 1.0, 1.0, 0.0)
    inside = (x > 0) & (x < 1)
    xi = x[inside]
    log_front = (lgamma(a + b) - lgamma(a) - lgamma(b) + a * np.log(xi)
                 + b * np.log1p(-xi))
    direct = xi < (a + 1.0) / (a + b + 2.0)
    value = np.empty_like(xi)
    with np.errstate(under="ignore"):
        value[direct] = np.exp(log_front[direct]) * _continued_fraction(
            a, b, xi[direct]) / a
        # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly
        value[~direct] = 1.0 - np.exp(log_front[~direct]) * _continued_fraction(
            b, a, 1.0 - xi[~direct]) / b
    # below the smallest normal number: zero, as SciPy gives (no denormals)
    out[inside] = np.where(value < np.finfo(float).tiny, 0.0, value)
    return out


def betaincinv(a: float, b: float, y: np.ndarray) -> np.ndarray:
    """``x`` with ``I_x(a, b) = y`` for ``0 <= y <= 1``. Above 1/2 it solves the
    complement ``I_{1-x}(b, a) = 1 - y`` (exact there), which keeps the digits of ``1 - y``
    that ``y`` itself has lost."""
    y = np.asarray(y, dtype=float)
    upper = y > 0.5
    x = np.empty_like(y)
    x[~upper] = _inverse(a, b, y[~upper])
    x[upper] = 1.0 - _inverse(b, a, 1.0 - y[upper])
    return x


def _inverse(a: float, b: float, y: np.ndarray) -> np.ndarray:
    """``betaincinv`` for ``y <= 1/2``: bracketed on a grid dense at both ends (where the
    Beta mass sits for large or small ``a``), then Newton's method kept inside the
    bracket (bisection when a step would leave it)."""
    grid = np.sin(0.5 * np.pi * np.linspace(0.0, 1.0, 1025)) ** 2
    cdf = np.maximum.accumulate(betainc(a, b, grid))
    i = np.clip(np.searchsorted(cdf, y), 1, len(grid) - 1)
    lo, hi = grid[i - 1], grid[i]
    x = 0.5 * (lo + hi)
    log_norm = lgamma(a + b) - lgamma(a) - lgamma(b)
    active = np.flatnonzero((y > 0) & (y < 1))
    for _ in range(100):  # only the points not yet settled are evaluated again
        xa, la, ha = x[active], lo[active], hi[active]
        f = betainc(a, b, xa) - y[active]
        la, ha = np.where(f < 0, xa, la), np.where(f > 0, xa, ha)
        with np.errstate(divide="ignore", under="ignore", over="ignore", invalid="ignore"):
            pdf = np.exp(log_norm + (a - 1) * np.log(xa) + (b - 1) * np.log1p(-xa))
            step = xa - f / pdf
        new = np.where(~np.isfinite(step) | (step <= la) | (step >= ha), 0.5 * (la + ha), step)
        # a root hit exactly, a step at rounding level or a bracket down to rounding
        settled = (f == 0) | (np.abs(new - xa) <= 4 * _EPS * np.maximum(new, _TINY)) \
            | (ha - la <= 4 * _EPS * np.maximum(ha, _TINY))
        x[active], lo[active], hi[active] = np.where(f == 0, xa, new), la, ha
        active = active[~settled]
        if not active.size:
            break
    return np.where(y <= 0, 0.0, np.where(y >= 1, 1.0, x))
