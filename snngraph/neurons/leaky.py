"""``Leaky``: snnTorch's discrete-time leaky integrate-and-fire neuron.

Per step, with threshold ``θ`` and the previous step's spike ``S[t-1]``::

    U[t] = β U[t-1] + I[t] - θ S[t-1]        reset="subtract" (default)
    U[t] = β (1 - S[t-1]) U[t-1] + I[t]      reset="zero"
    U[t] = β U[t-1] + I[t]                   reset="none"
    S[t] = H(U[t] - θ)                       (H(x) = 1 for x > 0, else 0)

With ``reset_delay=False`` the reset is applied in the step that spikes instead of the
next one. The output is ``amplitude * S[t]`` (snnTorch's ``graded_spikes_factor``); the
input is added unscaled (no ``1 - β`` factor). ``beta`` may be one value or one per neuron.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator

from snngraph import surrogates
from snngraph.base import FieldError
from snngraph.neurons.base import DT, NeuronType, kernel_helper, per_neuron
from snngraph.schemas.base import Array, Bool, Float, PosFloat

SUBTRACT_STEPS = 4000
RESETS = {"subtract": 0.0, "zero": 1.0, "none": 2.0}


BETA, THRESHOLD, RESET, DELAYED, AMPLITUDE = range(5)
"""Rows of Leaky's kernel parameters: ``beta``, ``threshold``, ``reset`` (a code of
``RESETS``), ``reset_delay`` (1/0), ``amplitude``."""
SUBTRACT, ZERO, NONE = RESETS["subtract"], RESETS["zero"], RESETS["none"]


@kernel_helper
def leaky_subtract(u, j, beta, theta):
    """The membrane update of the subtract reset (the common case, which the training
    kernel runs vectorised): returns the membrane and R, the reset decided from the
    previous membrane."""
    r = 1.0 if u > theta else 0.0
    return beta * u + j - r * theta, r


@kernel_helper
def leaky_cell(u, j, params, i, fcode, fa):
    """One step of neuron ``i`` (snnTorch's ``Leaky.forward``), the one definition every
    kernel uses: returns ``(u, r, spike, u_next)``: the membrane before this step's own
    reset, R (from the previous membrane; detached), the spike
    (``surrogates.spike(fcode, fa, .)``, ``fcode = -1`` the true one) and the membrane
    carried to the next step."""
    beta, theta, mode = params[BETA, i], params[THRESHOLD, i], params[RESET, i]
    if mode == SUBTRACT:
        u, r = leaky_subtract(u, j, beta, theta)
    else:
        r = 1.0 if u > theta else 0.0
        u = beta * (1.0 - r) * u + j if mode == ZERO else beta * u + j
    spk = surrogates.spike(fcode, fa, u - theta)
    before = u
    if params[DELAYED, i] == 0.0:  # reset in the same step (snnTorch avoids a double one)
        if mode == SUBTRACT:
            u = u - (spk - r) * theta
        elif mode == ZERO:
            u = u - (spk - r) * u
    return before, r, spk, u


def leaky_step(dt, x, gain, bias, out, state, params):
    """``leaky_cell`` with true spikes for a block of examples."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            _, _, spk, state[b, 0, i] = leaky_cell(state[b, 0, i], gain[i] * x[b, i] + bias[i],
                                                   params, i, -1, 0.0)
            out[b, i] = params[AMPLITUDE, i] * spk


def leaky_forward(J, state, params, fcode, fa, out, saved, b0, b1):
    """``leaky_cell`` over T steps, keeping the membrane before this step's own reset and
    the (detached) reset R decided from the previous membrane. Time runs in the middle
    loop so every step reads and writes contiguous rows."""
    steps, _, n = out.shape
    one = J.shape[0] == 1  # an input constant over the steps: one row per example
    theta, amp = params[THRESHOLD, 0], params[AMPLITUDE, 0]
    if params[RESET, 0] == SUBTRACT and params[DELAYED, 0] != 0.0 and fcode < 0:
        # the common case (subtract, delayed reset, real spikes): branch-free, vectorised
        beta = params[BETA]
        for b in range(b0, b1):
            mem = state[b, 0]
            for t in range(steps):
                jt = J[0 if one else t, b]
                ut, rt, ot = saved[t, b, 0], saved[t, b, 1], out[t, b]
                for i in range(n):
                    u, r = leaky_subtract(mem[i], jt[i], beta[i], theta)
                    ut[i] = u
                    rt[i] = r
                    ot[i] = amp if u > theta else 0.0
                    mem[i] = u
        return
    for b in range(b0, b1):
        for t in range(steps):
            for i in range(n):
                u, r, spk, state[b, 0, i] = leaky_cell(state[b, 0, i], J[0 if one else t, b, i],
                                                       params, i, fcode, fa)
                saved[t, b, 0, i] = u
                saved[t, b, 1, i] = r
                out[t, b, i] = params[AMPLITUDE, i] * spk


def leaky_backward(dy, saved, params, code, a, fcode, fa, adj, dJ, b0, b1):  # noqa: C901 - the
    # vectorised common case and the general one, as leaky_forward
    """The reverse of ``leaky_forward``: the surrogate stands in for dS/dU; R is detached
    (snnTorch's ``mem_reset``), the same-step reset of ``reset_delay=False`` is not.
    ``adj`` holds d loss / d (membrane carried into the next step)."""
    steps, _, n = dy.shape
    theta, amp = params[THRESHOLD, 0], params[AMPLITUDE, 0]
    if params[RESET, 0] != ZERO and params[DELAYED, 0] != 0.0 and code <= 1:
        # subtract or no reset, delayed, fast sigmoid or atan: branch-free, vectorised
        c = 0.5 * np.pi * a
        for b in range(b0, b1):
            for t in range(steps - 1, -1, -1):
                for i in range(n):
                    x = saved[t, b, 0, i] - theta
                    if code == 0:
                        d = a * abs(x) + 1.0
                        s = 1.0 / (d * d)
                    else:
                        s = 0.5 * a / (1.0 + (c * x) * (c * x))
                    g = dy[t, b, i] * amp * s + adj[b, 0, i]
                    dJ[t, b, i] = g
                    adj[b, 0, i] = params[BETA, i] * g
        return
    for b in range(b0, b1):
        for t in range(steps - 1, -1, -1):
            for i in range(n):
                beta, theta, mode = params[BETA, i], params[THRESHOLD, i], params[RESET, i]
                g_next = adj[b, 0, i]
                u, r = saved[t, b, 0, i], saved[t, b, 1, i]
                s = surrogates.grad(code, a, u - theta)
                g = dy[t, b, i] * params[AMPLITUDE, i] * s
                if params[DELAYED, i] != 0.0 or mode == NONE:
                    g += g_next
                elif mode == SUBTRACT:
                    g += g_next * (1.0 - theta * s)
                else:
                    spk = surrogates.spike(fcode, fa, u - theta)
                    g += g_next * ((1.0 - spk + r) - u * s)
                dJ[t, b, i] = g
                adj[b, 0, i] = beta * (1.0 - r) * g if mode == ZERO else beta * g


class Leaky(NeuronType):
    """Discrete-time leaky neuron (snnTorch ``Leaky``). ``rates(J)`` is spikes per step."""

    spiking: ClassVar[bool] = True
    discrete: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage",)
    _positional: ClassVar[tuple[str, ...]] = ("beta",)
    default_surrogate: ClassVar[surrogates.Surrogate] = surrogates.ATan(alpha=2.0)
    """snnTorch's default ``spike_grad``."""
    bptt_saved: ClassVar[int] = 2

    beta: Float | Array = 0.9
    """Membrane decay per step, in [0, 1]; a scalar or one value per neuron."""
    threshold: PosFloat = 1.0
    """Firing threshold of the membrane."""
    reset: Literal["subtract", "zero", "none"] = "subtract"
    """After a spike: ``'subtract'`` the threshold, reset to ``'zero'``, or ``'none'``."""
    reset_delay: Bool = True
    """Apply the reset one step after the spike, as snnTorch does by default."""

    @field_validator("beta")
    @classmethod
    def _beta_in_unit_interval(cls, beta: Any) -> Any:
        arr = np.asarray(beta)
        if arr.ndim > 1:
            raise ValueError("expected a scalar or a 1-D array (one beta per neuron)")
        if arr.size == 0:
            raise FieldError("beta", beta, "expected one value per neuron, or a scalar for "
                             "all of them; the array is empty",
                             fix="beta=0.9 (every neuron), or one value per neuron")
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError("expected values in [0, 1] (beta is a per-step decay factor)")
        return beta

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Long-run output per step for a constant input ``J`` per step.

        Closed forms exist for ``reset="zero"`` (the membrane restarts from 0, so the
        period is the first ``n`` with ``J (1 - β^n) / (1 - β) > θ``), for ``"none"``
        (fires every step once ``J / (1 - β) > θ``) and for ``β = 1`` with subtraction
        (``clip(J / θ, 0, 1)``). Subtraction with ``β < 1`` has none: its rate is measured
        by iterating the update itself (``SUBTRACT_STEPS`` steps, the second half
        counted), so it is exact to about 1 / SUBTRACT_STEPS.
        """
        # one beta per neuron lines up with J's last axis (neurons); a J of one value
        # (a probe of the curve) gives every neuron's rate
        J, beta = np.broadcast_arrays(np.asarray(J, dtype=float),
                                      np.asarray(self.beta, dtype=float))  # read-only views
        theta = self.threshold
        if self.reset == "subtract":
            if np.any(beta < 1):
                return self.amplitude * self._iterated_subtract_rate(J, beta)
            return self.amplitude * np.clip(J / theta, 0.0, 1.0)
        if self.reset == "none":
            # the membrane tends to J / (1 - β); with β = 1 it grows without bound if J > 0
            with np.errstate(divide="ignore"):
                limit = np.where(beta < 1, J / np.maximum(1 - beta, 1e-300),
                                 np.where(J > 0, np.inf, -np.inf))
            return self.amplitude * (limit > theta).astype(float)
        return self.amplitude / _zero_reset_period(J, beta, theta)

    def _iterated_subtract_rate(self, J: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Long-run spikes per step of the subtract-reset map, vectorised over ``J``:
        whole inter-spike intervals in the second half of the run (spikes - 1 over the
        steps from the first to the last), which is exact for periodic trains."""
        theta, mem, spikes = self.threshold, np.zeros_like(J), np.zeros_like(J)
        count, first, last = np.zeros_like(J), np.full(J.shape, -1.0), np.zeros_like(J)
        for t in range(SUBTRACT_STEPS):
            if self.reset_delay:
                mem = beta * mem + J - spikes * theta  # the previous step's spike resets
                spikes = (mem > theta).astype(float)
            else:
                mem = beta * mem + J
                spikes = (mem > theta).astype(float)
                mem = mem - spikes * theta
            if t >= SUBTRACT_STEPS // 2:
                count += spikes
                fired = spikes > 0
                first = np.where(fired & (first < 0), t, first)
                last = np.where(fired, t, last)
        span = last - first
        window = SUBTRACT_STEPS - SUBTRACT_STEPS // 2
        return np.where(count >= 2, (count - 1) / np.maximum(span, 1), count / window)

    def step_kernel(self) -> Any:
        return leaky_step

    def bptt_kernels(self) -> tuple[Any, Any]:
        return leaky_forward, leaky_backward

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({BETA: self.beta, THRESHOLD: self.threshold,
                           RESET: RESETS[self.reset], DELAYED: float(self.reset_delay),
                           AMPLITUDE: self.amplitude}, n)



def _zero_reset_period(J: np.ndarray, beta: np.ndarray, theta: float) -> np.ndarray:
    """Steps between spikes with reset to zero (inf where the neuron never fires)."""
    period = np.full(J.shape, np.inf)
    fires = J > theta * np.where(beta < 1, 1 - beta, 0.0)
    fires &= J > 0
    b, j = beta[fires], J[fires]
    with np.errstate(divide="ignore", invalid="ignore"):
        # smallest n >= 1 with j (1 - b^n) / (1 - b) > theta; b = 1 gives n j > theta
        ratio = np.log1p(-theta * (1 - b) / j) / np.log(b)
        n_leaky = np.floor(ratio) + 1
        n_perfect = np.floor(theta / j) + 1
    n = np.where(b >= 1, n_perfect, np.where(b <= 0, 1.0, n_leaky))
    period[fires] = np.maximum(n, 1.0)
    return period
