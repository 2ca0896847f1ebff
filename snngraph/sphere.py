"""Mapping points of the unit cube onto the unit sphere, for ``dists.ScatteredHypersphere``.

The spherical coordinate transform (SCT, Fang and Wang 1994, as Nengo 4.1 uses it) takes
``d - 1`` coordinates in ``[0, 1)`` to a point of the sphere in ``d`` dimensions; each
coordinate goes through the inverse CDF of its angle, ``betaincinv(k / 2, 1 / 2, .)``.
``method="sct-approx"`` (Nengo's default) reads that inverse from a table interpolated
linearly, built here by the recipe Nengo used for its table (the same dimensions, points
and random fill from ``RandomState(0)``), from this package's own ``betaincinv``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from snngraph.betainc import betainc, betaincinv


def table_dims(n_dims: int = 50) -> np.ndarray:
    """The dimensions tabulated: 1 to 25, then 25 steps spaced in log up to 1000."""
    n_log = n_dims // 2
    linear = np.arange(1, n_dims - n_log + 1)
    logs = np.round(np.logspace(np.log10(linear[-1] + 1), 3, n_log)).astype(linear.dtype)
    return np.unique(np.concatenate([linear, logs]))


@cache
def _points() -> dict[int, np.ndarray]:
    """``{dims: x}``, the 200 points tabulated per dimension: 40 even in the domain, 160 at
    the CDF of points even in the range, topped up with uniform draws when some coincide
    (one ``RandomState(0)`` stream through the dimensions in order, as Nengo's recipe)."""
    n_interp, n_range = 200, 160
    rng = np.random.RandomState(0)
    points = {}
    for dims in table_dims():
        x0 = np.linspace(0, 1, n_interp - n_range)
        y0 = np.linspace(1e-16, 1 - 1e-7, n_range)
        x = np.unique(np.concatenate([x0, betainc(dims / 2.0, 0.5, y0)]))
        while len(x) < n_interp:
            x = np.unique(np.concatenate([x, rng.uniform(size=n_interp - len(x))]))
        points[int(dims)] = x
    return points


@cache
def _curve(dims: int) -> tuple[np.ndarray, np.ndarray]:
    """One tabulated curve ``(x, betaincinv(dims / 2, 1 / 2, x))``, computed when first
    needed (the inverse is the slow part)."""
    x = _points()[dims]
    return x, betaincinv(dims / 2.0, 0.5, x)


def betaincinv22(dims: int, x: np.ndarray) -> np.ndarray:
    """``betaincinv(dims / 2, 1 / 2, x)`` from the table: dimensions between two tabulated
    ones average the two curves; above the largest, the largest is used."""
    known = np.array(list(_points()))
    if dims in _points():
        xp, yp = _curve(dims)
    else:
        i = int(np.searchsorted(known, dims))
        if i >= len(known):
            xp, yp = _curve(int(known[-1]))
        else:
            d0, d1 = int(known[i - 1]), int(known[i])
            (xp0, yp0), (xp1, yp1) = _curve(d0), _curve(d1)
            w0 = (d1 - dims) / (d1 - d0)
            xp = w0 * xp0 + (1 - w0) * xp1 if len(xp0) == len(xp1) else xp0
            yp = w0 * np.interp(xp, xp0, yp0) + (1 - w0) * np.interp(xp, xp1, yp1)
    return np.interp(x, xp, yp)


def coords_ppf(dims: int, y: np.ndarray, approx: bool) -> np.ndarray:
    """The inverse CDF of one SCT angle (in units of pi) for ``dims`` remaining
    dimensions, symmetric about 1/2."""
    low = np.where(y < 0.5, y, 1 - y)
    z_sq = betaincinv22(dims, 2 * low) if approx else betaincinv(dims / 2.0, 0.5, 2 * low)
    x = np.arcsin(np.sqrt(z_sq)) / np.pi
    return np.where(y < 0.5, x, 1 - x)


def spherical_transform(samples: np.ndarray, approx: bool) -> np.ndarray:
    """``(n, d)`` points of the cube -> ``(n, d + 1)`` points of the sphere (SCT)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[:, None] if samples.ndim == 1 else samples
    n, d = samples.shape
    coords = np.empty_like(samples)
    for j in range(d):  # one angle per dimension (d is small)
        coords[:, j] = coords_ppf(d - j, samples[:, j], approx)
    mapped = np.ones((n, d + 1))
    i = np.ones(d)
    i[-1] = 2.0  # the last angle goes round the full circle
    mapped[:, 1:] = np.cumprod(np.sin(i * np.pi * coords), axis=1)
    mapped[:, :-1] *= np.cos(i * np.pi * coords)
    return mapped


def random_orthogonal(d: int, rng) -> np.ndarray:
    """A random rotation: the orthogonal factor of a Gaussian matrix (Nengo's)."""
    u, _, v = np.linalg.svd(rng.standard_normal((d, d)))
    return u @ v


def tfww_transform(cube: np.ndarray) -> np.ndarray:
    """``(n, s - 1)`` points of the cube -> ``(n, s)`` points of the sphere by the
    transform of Fang, Wang et al. (``method="tfww"``): pairs of coordinates on circles
    whose radii come from products of the cube's first coordinates."""
    cube = np.asarray(cube, dtype=float)
    cube = cube[:, None] if cube.ndim == 1 else cube
    n, s = cube.shape[0], cube.shape[1] + 1
    out = np.zeros((n, s))
    if s == 2:
        phi = 2 * np.pi * cube[:, 0]
        out[:, 0], out[:, 1] = np.cos(phi), np.sin(phi)
        return out
    even = s % 2 == 0
    m = s // 2 if even else (s - 1) // 2
    g = np.zeros((n, m + 1))
    g[:, -1] = 1
    for j in range(m - 1, 0, -1):
        g[:, j] = g[:, j + 1] * cube[:, j - 1] ** ((1.0 / j) if even else (2.0 / (2 * j + 1)))
    d = np.sqrt(np.diff(g, axis=1))
    phi = cube[:, m - 1:].copy()
    if even:
        phi *= 2 * np.pi
        out[:, 0::2], out[:, 1::2] = d * np.cos(phi), d * np.sin(phi)
        return out
    phi[:, 1:] *= 2 * np.pi
    f = 2 * d[:, 0] * np.sqrt(phi[:, 0] * (1 - phi[:, 0]))
    out[:, 0] = d[:, 0] * (1 - 2 * phi[:, 0])
    out[:, 1], out[:, 2] = f * np.cos(phi[:, 1]), f * np.sin(phi[:, 1])
    if s > 3:
        out[:, 3::2] = d[:, 1:] * np.cos(phi[:, 2:])
        out[:, 4::2] = d[:, 1:] * np.sin(phi[:, 2:])
    return out
