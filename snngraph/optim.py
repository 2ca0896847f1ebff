"""Optimizers for ``Simulator.fit``: ``sg.optim.SGD``, ``Adam`` and ``RMSprop``, with
Keras's update rules and defaults (so learning rates carry over from NengoDL).

An optimizer is a value (its settings); its per-parameter state lives in a plain dict
of arrays that ``fit`` owns and checkpoints: ``state = opt.init(params)``, then
``opt.update(params, grads, state)`` changes ``params`` in place.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from snngraph.base import Spec
from snngraph.schemas.base import Bool, NonNegFloat, PosFloat

Arrays = dict[str, np.ndarray]


class Optimizer(Spec, abstract=True):
    family: ClassVar[str] = "optimizer"
    slots: ClassVar[tuple[str, ...]] = ()

    lr: PosFloat = 0.001
    """Learning rate."""

    def init(self, params: Arrays) -> dict[str, np.ndarray]:
        """Zeroed state: ``{"<slot>/<param key>": array}`` plus ``"step"``."""
        state = {f"{slot}/{k}": np.zeros_like(v) for slot in self.slots for k, v in params.items()}
        state["step"] = np.zeros((), np.int64)
        return state

    def update(self, params: Arrays, grads: Arrays, state: dict[str, np.ndarray]) -> None:
        state["step"] = state["step"] + 1
        for key, g in grads.items():
            self._apply(key, params[key], g.astype(params[key].dtype, copy=False), state,
                        int(state["step"]))

    def _apply(self, key: str, p: np.ndarray, g: np.ndarray, state: dict, step: int) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """``v = momentum * v - lr * g``; ``p += v`` (Nesterov: ``p += momentum * v - lr * g``)."""

    slots: ClassVar[tuple[str, ...]] = ("velocity",)
    _positional: ClassVar[tuple[str, ...]] = ("lr",)

    lr: PosFloat = 0.01
    """Learning rate."""
    momentum: NonNegFloat = 0.0
    """Momentum (0: plain gradient descent)."""
    nesterov: Bool = False
    """Use Nesterov's momentum."""

    def _apply(self, key, p, g, state, step):
        if self.momentum == 0.0:
            p -= np.float32(self.lr) * g
            return
        v = state[f"velocity/{key}"]
        v *= np.float32(self.momentum)
        v -= np.float32(self.lr) * g
        if self.nesterov:
            p += np.float32(self.momentum) * v - np.float32(self.lr) * g
        else:
            p += v


class Adam(Optimizer):
    """Adam with bias correction: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``, then
    Keras's step ``p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + epsilon)`` or, with
    ``epsilon_style="torch"``, PyTorch's ``p -= lr/(1-b1^t) m / (sqrt(v/(1-b2^t)) +
    epsilon)``. They differ only in where epsilon enters, which matters when gradients
    are tiny (a silent spiking layer early in training): use the style, and the epsilon
    (Keras 1e-7, torch 1e-8), of the library a workload comes from."""

    slots: ClassVar[tuple[str, ...]] = ("m", "v")
    _positional: ClassVar[tuple[str, ...]] = ("lr",)

    beta_1: PosFloat = 0.9
    """Decay of the first-moment (mean) estimate."""
    beta_2: PosFloat = 0.999
    """Decay of the second-moment estimate."""
    epsilon: PosFloat = 1e-7
    """Added to the denominator (Keras 1e-7, PyTorch 1e-8)."""
    epsilon_style: Literal["keras", "torch"] = "keras"
    """``'keras'`` or ``'torch'``: where epsilon enters the step."""

    def _apply(self, key, p, g, state, step):
        m, v = state[f"m/{key}"], state[f"v/{key}"]
        f32 = np.float32
        b1, b2, a1, a2 = (f32(b) for b in (self.beta_1, self.beta_2, 1 - self.beta_1,
                                           1 - self.beta_2))
        if self.epsilon_style == "torch":  # Keras: sqrt(v / 1), the same bits as sqrt(v)
            lr, c2 = f32(self.lr / (1 - self.beta_1**step)), f32(1 - self.beta_2**step)
        else:
            lr = f32(self.lr * np.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step))
            c2 = f32(1.0)
        eps = f32(self.epsilon)
        if all(a.flags.c_contiguous and a.dtype == p.dtype for a in (g, m, v, p)):
            _adam_kernel()(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), b1, b2,
                           a1, a2, eps, lr, c2)
            return
        m *= b1
        m += a1 * g
        v *= b2
        v += a2 * g * g
        p -= lr * m / (np.sqrt(v / c2) + eps)


def _adam_kernel():
    """``_adam`` compiled by Numba, on first use (importing snngraph does not import
    Numba)."""
    global _ADAM
    if _ADAM is None:
        from numba import njit

        _ADAM = njit(cache=True)(_adam)
    return _ADAM


_ADAM = None


def _adam(p, g, m, v, b1, b2, a1, a2, eps, lr, c2):  # pragma: no cover - compiled
    """``Adam._apply`` in one pass over the arrays, with the operations of its numpy form
    in their order (the same bits; one kernel instead of about ten array passes)."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i] * b1 + a1 * gi
        vi = v[i] * b2 + a2 * gi * gi
        m[i], v[i] = mi, vi
        p[i] -= lr * mi / (np.sqrt(vi / c2) + eps)


class RMSprop(Optimizer):
    """``ms = rho ms + (1-rho) g^2``; ``p -= lr g / (sqrt(ms) + epsilon)``, with optional
    momentum on the step. Epsilon is where PyTorch and Keras 2 (without momentum) put it;
    Keras 3 divides by ``sqrt(ms + epsilon)``, which differs only when ``g^2`` is not much
    larger than epsilon."""

    slots: ClassVar[tuple[str, ...]] = ("ms", "momentum")
    _positional: ClassVar[tuple[str, ...]] = ("lr",)

    rho: PosFloat = 0.9
    """Decay of the mean square."""
    momentum: NonNegFloat = 0.0
    """Momentum on the step."""
    epsilon: PosFloat = 1e-7
    """Added to the denominator."""

    def _apply(self, key, p, g, state, step):
        ms = state[f"ms/{key}"]
        ms *= np.float32(self.rho)
        ms += np.float32(1 - self.rho) * g * g
        delta = np.float32(self.lr) * g / (np.sqrt(ms) + np.float32(self.epsilon))
        if self.momentum:
            mom = state[f"momentum/{key}"]
            mom *= np.float32(self.momentum)
            mom += delta
            delta = mom
        p -= delta


__all__ = ["SGD", "Adam", "Optimizer", "RMSprop"]
