"""Synapses as discrete state-space filters: ``x' = A x + B u``, ``y = C x + D u``.

Analog filters (Lowpass, Alpha, LinearFilter with ``analog=True``) are discretised with
a zero-order hold, as Nengo does (or the LinearFilter's ``method``); digital ones are used
as given. ``Triangle`` is a digital FIR filter: its state holds the past inputs.

The step follows Nengo's: without a direct term (``D = 0``) the state is advanced first
and the output read from it (``x = A x + B u``, ``y = C x``); with one, the output is
read first (``y = C x + D u``, then ``x = A x + B u``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def state_space(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, ...]:
    """Controllable canonical form of ``num(s) / den(s)`` (highest order first)."""
    num = np.trim_zeros(np.asarray(num, float), "f")
    den = np.trim_zeros(np.asarray(den, float), "f")
    num, den = num / den[0], den / den[0]
    order = len(den) - 1
    num = np.concatenate([np.zeros(len(den) - len(num)), num])
    D = np.array([[num[0]]])
    if order == 0:
        return np.zeros((0, 0)), np.zeros((0, 1)), np.zeros((1, 0)), D
    A = np.zeros((order, order))
    A[0, :] = -den[1:]
    A[1:, :-1] = np.eye(order - 1)
    B = np.zeros((order, 1))
    B[0, 0] = 1.0
    C = (num[1:] - num[0] * den[1:])[None, :]
    return A, B, C, D


def expm(M: np.ndarray) -> np.ndarray:
    """Matrix exponential by scaling and squaring a Taylor series (small matrices)."""
    norm = np.abs(M).sum(axis=1).max() if M.size else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.25))) if norm > 0.25 else 0)
    X = M / 2**s
    term, out = np.eye(len(M)), np.eye(len(M))
    for k in range(1, 25):
        term = term @ X / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def discretize(spec: dict[str, Any], dt: float) -> tuple[np.ndarray, ...]:
    """(A, B, C, D) of a synapse spec dict for time step ``dt``."""
    kind = spec["type"]
    if kind == "Lowpass":
        if spec["tau"] == 0:
            return np.zeros((0, 0)), np.zeros((0, 1)), np.zeros((1, 0)), np.ones((1, 1))
        num, den, analog = [1.0], [spec["tau"], 1.0], True
    elif kind == "Alpha":
        tau = spec["tau"]
        num, den, analog = [1.0], [tau * tau, 2 * tau, 1.0], True
    elif kind == "LinearFilter":
        num, den, analog = _coeffs(spec["num"]), _coeffs(spec["den"]), spec["analog"]
    elif kind == "TriangleSynapse":
        from snngraph.document import spec_from_dict  # documents import processes

        num = spec_from_dict(spec).taps(dt)
        den, analog = np.eye(len(num))[0], False  # z^(n-1): a pure FIR filter
    else:
        raise ValueError(f"no discretisation for synapse {kind}")
    A, B, C, D = state_space(num, den)
    if analog and len(A):
        A, B, C, D = _continuous_to_discrete(A, B, C, D, dt, spec.get("method", "zoh"))
    return A, B, C, D


GBT_ALPHA = {"euler": 0.0, "backward_diff": 1.0, "bilinear": 0.5}


def _continuous_to_discrete(A, B, C, D, dt: float, method: str) -> tuple[np.ndarray, ...]:
    """Zero-order hold, or the generalised bilinear transform (Nengo's ``cont2discrete``)."""
    n = len(A)
    if method == "zoh":
        M = np.zeros((n + 1, n + 1))
        M[:n, :n], M[:n, n:] = A, B
        E = expm(M * dt)
        return E[:n, :n], E[:n, n:], C, D
    alpha = GBT_ALPHA[method]
    ima = np.eye(n) - alpha * dt * A
    Ad = np.linalg.solve(ima, np.eye(n) + (1.0 - alpha) * dt * A)
    Bd = np.linalg.solve(ima, dt * B)
    Cd = np.linalg.solve(ima.T, C.T).T
    return Ad, Bd, Cd, D + alpha * (C @ Bd)


def _coeffs(value: Any) -> np.ndarray:
    if isinstance(value, dict):  # an inline array from the spec dict
        return np.asarray(value["data"], float).reshape(value["shape"])
    return np.asarray(value, float)
