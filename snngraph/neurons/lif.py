"""Leaky integrate-and-fire: ``LIFRate`` (its rate curve) and ``LIF`` (spiking).

Membrane ODE: ``tau_rc dv/dt = J - v``; a spike when ``v`` crosses 1, then ``v = 0`` held
for ``tau_ref``. For a constant ``J > 1`` the firing rate is
``1 / (tau_ref + tau_rc * log(1 + 1 / (J - 1)))`` and 0 otherwise (Nengo's LIFRate).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snngraph.neurons.base import DT, Compartment, NeuronType, _as_float, kernel_helper, per_neuron
from snngraph.neurons.initial import SampledState
from snngraph.schemas.base import NonNegFloat, PosFloat


def lif_rate(J: Any, tau_rc: float, tau_ref: float) -> np.ndarray:
    """The LIF firing rate (Hz) for constant currents ``J``."""
    j = np.asarray(J, dtype=float) - 1.0
    out = np.zeros_like(j)
    on = j > 0
    out[on] = 1.0 / (tau_ref + tau_rc * np.log1p(1.0 / j[on]))
    return out


def lif_rate_grad(J: Any, tau_rc: float, tau_ref: float, sigma: float | None) -> np.ndarray:
    """``d lif_rate / d J``. With ``sigma`` > 0 the threshold is softened, as in
    Hunsberger & Eliasmith (2015) and NengoDL's ``SoftLIFRate``: ``j = sigma *
    softplus((J - 1) / sigma)`` replaces ``max(J - 1, 0)``, so the derivative is finite
    at the threshold and non-zero just below it. ``sigma`` 0 or None: the exact curve's
    derivative (infinite as J approaches 1 from above, zero below)."""
    J = np.asarray(J, dtype=float)
    far = np.zeros(J.shape, bool)
    if sigma:
        z = (J - 1.0) / sigma
        j = sigma * np.logaddexp(0.0, z)  # softplus, overflow-safe
        dj = np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z), without underflow to 0
        far = z < -BAND  # softplus(z) = sigmoid(z) = e^z to float32 precision: the
        # asymptotic form, which does not underflow (the same as the compiled kernel)
    else:
        j, dj = J - 1.0, (J > 1.0).astype(float)
    out = np.zeros_like(j)
    on = (j > 0) & ~far
    jj = j[on]
    r = 1.0 / (tau_ref + tau_rc * np.log1p(1.0 / jj))
    out[on] = tau_rc * r * r / (jj * (jj + 1.0)) * dj[on]
    if far.any():
        r = 1.0 / (tau_ref + tau_rc * (-np.log(sigma) - z[far]))
        out[far] = tau_rc * r * r / sigma
    return out


BAND = 12.0
"""Half-width of the soft threshold's band, in units of sigma: beyond it softplus and
sigmoid equal their limits to float32 precision (``e^-12``)."""
TABLE = 8192
"""Intervals of the tabulated soft-LIF derivative over the band."""


def soft_lif_table(tau_rc: float, tau_ref: float, sigma: float) -> np.ndarray:
    """``lif_rate_grad`` (amplitude 1) at ``TABLE + 1`` evenly spaced ``z = (J - 1) /
    sigma`` across the band, for linear interpolation (relative error below 1e-6: the
    derivative varies on the scale of one sigma, the grid is 1/340 of it)."""
    z = np.linspace(-BAND, BAND, TABLE + 1)
    return lif_rate_grad(1.0 + sigma * z, tau_rc, tau_ref, sigma).astype(np.float32)


TAU_RC, TAU_REF, AMPLITUDE, MIN_VOLTAGE, DECAY = range(5)
"""Rows of the LIF family's kernel parameters: ``tau_rc``, ``tau_ref``, ``amplitude`` (the
rate kernel's three), then for the step ``min_voltage`` and ``expm1(-dt / tau_rc)``."""


def lif_curve(x, gain, bias, out, grad, params, sigma, table):
    """``lif_rate`` and ``lif_rate_grad`` of ``J = gain * x + bias`` fused over ``x``
    [rows, n], in float32 (a large layer is read once). params rows: TAU_RC, TAU_REF,
    AMPLITUDE; ``sigma`` [1]; ``table``: ``soft_lif_table`` when every neuron shares
    its time constants (else empty). The rate is computed exactly (one logarithm); the
    soft derivative is exact outside the band (the softplus is at its limits there),
    and inside it read from the table, or computed (three transcendentals) without
    one. Divisions are folded: they cost nearly as much as a logarithm here."""
    one, zero = np.float32(1.0), np.float32(0.0)
    s = sigma[0]
    band = np.float32(BAND)
    log_sigma = np.log(s) if s > zero else zero
    n_table = table.shape[0]
    to_slot = np.float32((n_table - 1) / (2.0 * BAND))
    for r in range(x.shape[0]):
        for i in range(x.shape[1]):
            tau_rc, tau_ref, amplitude = params[TAU_RC, i], params[TAU_REF, i], params[AMPLITUDE, i]
            j = gain[i] * x[r, i] + bias[i] - one
            rate, g = zero, zero
            if j > zero:
                d = tau_ref + tau_rc * np.log((j + one) / j)
                rate = one / d
                if s <= zero or j >= band * s:  # the exact curve's derivative
                    g = tau_rc / (d * d * j * (j + one))
            elif s > zero and j <= -band * s:  # softplus(z) = sigmoid(z) = e^z
                d = tau_ref + tau_rc * (-log_sigma - j / s)
                g = tau_rc / (d * d * s)
            if s > zero and abs(j) < band * s:  # within the band: the softplus
                z = j / s
                if n_table > 1:
                    pos = (z + band) * to_slot
                    k = min(int(pos), n_table - 2)
                    g = table[k] + (pos - k) * (table[k + 1] - table[k])
                else:
                    e = np.exp(-abs(z))
                    soft = s * (max(z, zero) + np.log1p(e))
                    d = tau_ref + tau_rc * np.log((soft + one) / soft)
                    g = tau_rc * (one if z >= zero else e) / (
                        d * d * soft * (soft + one) * (one + e))
            out[r, i] = amplitude * rate
            grad[r, i] = amplitude * g


class LIFRate(NeuronType):
    """Non-spiking LIF: outputs the LIF firing rate times ``amplitude``."""

    _positional: ClassVar[tuple[str, ...]] = ("tau_rc", "tau_ref")

    tau_rc: PosFloat = 0.02
    """Membrane time constant, seconds."""
    tau_ref: NonNegFloat = 0.002
    """Absolute refractory period, seconds."""

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        return self.amplitude * lif_rate(J, self.tau_rc, self.tau_ref)

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        return self.amplitude * lif_rate_grad(J, self.tau_rc, self.tau_ref, smoothing)

    def rate_kernel(self) -> Any:
        return lif_curve

    def rate_kernel_params(self, n: int, dt: float, smoothing: float) -> tuple:
        table = soft_lif_table(self.tau_rc, self.tau_ref, smoothing) if smoothing \
            else np.zeros(0, np.float32)
        rows = {TAU_RC: self.tau_rc, TAU_REF: self.tau_ref, AMPLITUDE: self.amplitude}
        return (per_neuron(rows, n),
                np.array([smoothing], np.float32), table)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Closed form: J(x=1) solves rate = max_rate, J(x=intercept) = 1."""
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        limit = np.inf if self.tau_ref == 0 else 1.0 / self.tau_ref
        self._check_max_rates(max_rates, limit, f"1/tau_ref with tau_ref={self.tau_ref:g}")
        x = 1.0 / (1.0 - np.exp((self.tau_ref - 1.0 / max_rates) / self.tau_rc))
        gain = (1.0 - x) / (intercepts - 1.0)
        return gain, 1.0 - gain * intercepts

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        gain, bias = _as_float(gain), _as_float(bias)
        intercepts = (1.0 - bias) / gain
        return lif_rate(gain + bias, self.tau_rc, self.tau_ref), intercepts


SERIES_LIMIT = 0.1
"""Below this ``dt / tau_rc`` the sub-step arguments of ``log1p`` and ``expm1`` are
smaller than it (see ``_spikes_series``), where 7 terms of their series are exact to
float32 rounding (measured: within 1.1e-7 relative of float64 libm)."""


@kernel_helper
def log1p_series(u):
    """``log1p(u)`` for ``|u| < SERIES_LIMIT`` in float32: no libm call, so the loop that
    uses it stays branch-free (a call in the loop costs more than the maths)."""
    c = np.float32
    return u * (c(1.0) + u * (c(-1 / 2) + u * (c(1 / 3) + u * (c(-1 / 4) + u * (
        c(1 / 5) + u * (c(-1 / 6) + u * c(1 / 7)))))))


@kernel_helper
def expm1_series(z):
    """``expm1(z)`` for ``|z| < SERIES_LIMIT`` in float32 (as ``log1p_series``)."""
    c = np.float32
    return z * (c(1.0) + z * c(1 / 2) * (c(1.0) + z * c(1 / 3) * (c(1.0) + z * c(1 / 4) * (
        c(1.0) + z * c(1 / 5) * (c(1.0) + z * c(1 / 6) * (c(1.0) + z * c(1 / 7)))))))


def lif_step(dt, x, gain, bias, out, state, params):
    """Nengo's LIF step: exact integration over the non-refractory part of the step,
    the spike time interpolated within the step, refractory period from that time.
    params rows: TAU_RC, TAU_REF, AMPLITUDE, MIN_VOLTAGE, DECAY.

    Two passes per row: a branch-free pass (vectorisable) integrates every neuron that
    is not refractory for the whole step, then a pass over the few that spiked or leave
    their refractory period within the step does the sub-step work, with the series of
    ``log1p``/``expm1`` where their arguments are provably small (the usual case, twice as
    fast: benchmarks/nengo_backend.py) and libm otherwise.
    """
    batch, n = x.shape
    # in the state's precision throughout (float32: the libm calls below are then the
    # fast ones; Numba compiles one kernel per precision)
    real = state.dtype.type
    step = real(dt)
    per_step = real(1.0 / dt)  # 1/dt rounded once (1/float32(dt) is not 1000)
    one, zero = real(1.0), real(0.0)
    single = real(1.0) + real(1e-9) == one  # float32: 7 terms of the series suffice;
    for b in range(batch):  # float64 needs libm's precision
        pending, wild = 0, 0
        for i in range(n):
            ref = state[b, 1, i] - step
            state[b, 1, i] = ref
            v = state[b, 0, i]
            wild += v > one  # above threshold before the step: only a given initial state
            integrated = v - (gain[i] * x[b, i] + bias[i] - v) * params[DECAY, i]
            v = integrated if ref <= zero else v
            v = max(v, params[MIN_VOLTAGE, i])
            wild += params[DECAY, i] < -SERIES_LIMIT  # dt / tau_rc too long for the series
            state[b, 0, i] = v
            out[b, i] = zero
            pending += (v > one) | ((ref > zero) & (ref < step))
        if pending == 0:
            continue
        if wild == 0 and single:
            _spikes_series(step, per_step, x[b], gain, bias, out[b], state[b], params)
        else:
            _spikes_libm(step, per_step, x[b], gain, bias, out[b], state[b], params)


lif_step.fastmath = {"contract"}  # fused multiply-adds: one rounding instead of two (as
# accurate or more), and a quarter of the step's time (benchmarks/nengo_backend.py)


@kernel_helper
def _spikes_series(step, per_step, x, gain, bias, out, state, params):
    """The sub-step work with the series: when no voltage started above threshold, the
    spike-time argument ``-(v - 1) / (J - 1)`` lies in ``(-(1 - exp(-dt / tau_rc)), 0]``
    and the refractory exit's ``-(dt - ref) / tau_rc`` in ``(-dt / tau_rc, 0)``, both
    within ``SERIES_LIMIT``. Branches here compile to selects: spikes are irregular, so
    real branches would be mispredicted (that cost twice the maths)."""
    one, zero = np.float32(1.0), np.float32(0.0)
    for i in range(x.shape[0]):
        ref = state[1, i]
        v = state[0, i]
        if not ((ref > zero and ref < step) or v > one):
            continue
        j = gain[i] * x[i] + bias[i]
        if ref > zero:  # the refractory period ends within this step
            v -= (j - v) * expm1_series(-(step - ref) / params[TAU_RC, i])
            v = max(v, params[MIN_VOLTAGE, i])
        if v > one:
            t_spike = step + params[TAU_RC, i] * log1p_series(-(v - one) / (j - one))
            out[i] = params[AMPLITUDE, i] * per_step
            v = zero
            ref = params[TAU_REF, i] + t_spike
        state[0, i] = v
        state[1, i] = ref


@kernel_helper
def _spikes_libm(step, per_step, x, gain, bias, out, state, params):
    """The same sub-step work with libm's ``expm1`` and ``log1p``, for any state."""
    one, zero = np.float32(1.0), np.float32(0.0)
    for i in range(x.shape[0]):
        ref = state[1, i]
        v = state[0, i]
        if not ((ref > zero and ref < step) or v > one):
            continue
        j = gain[i] * x[i] + bias[i]
        if ref > zero:
            v -= (j - v) * np.expm1(-(step - ref) / params[TAU_RC, i])
            v = max(v, params[MIN_VOLTAGE, i])
        if v > one:
            t_spike = step + params[TAU_RC, i] * np.log1p(-(v - one) / (j - one))
            out[i] = params[AMPLITUDE, i] * per_step
            v = zero
            ref = params[TAU_REF, i] + t_spike
        state[0, i] = v
        state[1, i] = ref


class LIF(LIFRate, SampledState):
    """Spiking LIF (Nengo's): exact sub-step spike times, refractory period, outputs
    ``amplitude / dt`` on a spike step. ``min_voltage`` bounds the membrane from below.
    Starts at rest unless ``initial_state`` says otherwise (Nengo 4 draws the voltage from
    U(0, 1); its models converted by ``snngraph.nengo`` say so)."""

    spiking: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "refractory_time")
    state_defaults: ClassVar[dict[str, Any]] = {"voltage": 0.0, "refractory_time": 0.0}

    def sample_state(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        return self.given_state(n, rng)

    def initial_state(self, n: int) -> np.ndarray:
        return NeuronType.initial_state(self, n)

    min_voltage: float = 0.0
    """Lower bound of the membrane voltage (0, as Nengo; negative values let inhibition build
    up)."""

    def step_kernel(self) -> Any:
        return lif_step

    def compartment(self, dt: float) -> Compartment:
        """NengoLoihi's ``configure_lif``: voltage decay from ``tau_rc``, threshold 1,
        the refractory period in whole steps plus the spike's own."""
        return Compartment(decay_v=-np.expm1(-dt / self.tau_rc), vth=1.0,
                           refractory=round(self.tau_ref / dt) + 1,
                           vmin=float(self.min_voltage), scale_v=True)

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        return per_neuron({TAU_RC: self.tau_rc, TAU_REF: self.tau_ref,
                           AMPLITUDE: self.amplitude, MIN_VOLTAGE: self.min_voltage,
                           DECAY: np.expm1(-dt / self.tau_rc)}, n)
