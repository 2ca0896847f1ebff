"""NIR's neuron primitives (I, IF, LI, LIF, CubaLI, CubaLIF, Threshold) in NIR's own
parameters, stepped with an explicit discretisation.

NIR (the Neuromorphic Intermediate Representation) states each neuron as a
continuous-time system; a simulator must choose how to step it. Every type here keeps
NIR's fields as they are (per neuron, a scalar or one value per neuron) plus
``discretisation``:

- ``"euler"``: forward Euler with the input held over the step, in the order snnTorch
  and Norse step (the synaptic current first, the voltage then integrating the updated
  current)::

      I <- I + dt/tau_syn * (-I + w_in x)
      v <- v + dt/tau_mem * (v_leak - v + r I)          (LI/LIF: r x instead of r I)

- ``"exact"``: the linear ODEs solved exactly over the step with the input held
  constant (zero-order hold); for the current-based types the voltage integrates the
  exponentially decaying current exactly.

The integrators (I, IF: ``dv/dt = r x``) are the same both ways: ``v <- v + dt r x``.
After the update a spiking type fires when ``v > v_threshold`` (strict, as NIR states)
and then sets ``v <- v_reset``; its output is the spike (times ``amplitude``), a
non-spiking type's output is ``v``. ``Threshold`` is stateless: ``z = H(x - threshold)``.
State starts at ``v = 0`` and ``I = 0``, as NIR's reference simulation of its LIF
(``paper/01_lif/lif_exact_sim.py``), snnTorch and Sinabs start (Norse starts at
``v_leak``).

All seven share one step, written once (``nir_cell``): per neuron,
``I' = a_i I + b_i x`` and ``v' = a_v v + c_vi I + b_v x + k_v`` with the coefficients
of the chosen discretisation (``coefficients``), then the threshold and the reset.

Two producers run these nodes differently from a literal reading, and the files do not
say so (docs/nir_peers.md); the fields below state it, for ``sg.nir.load(...,
convention=...)``:

- ``reset`` (spiking types): ``"value"`` is NIR's ``v <- v_reset`` right after the
  spike. The others are snnTorch's reset one step later, decided from the stored
  membrane (``R = v[t-1] > v_threshold``, last step's spike), the stored and reported
  membrane being the value before it: ``"subtract_next"``
  ``v[t] = step(v[t-1]) - v_threshold R``; ``"zero_next"`` the decayed membrane
  restarts from ``v_reset`` (``v[t] = step(v_reset if R else v[t-1])``, snnTorch's
  Leaky); ``"clear_next"`` the whole new membrane is ``v_reset``, input included
  (snnTorch's RLeaky, Synaptic, RSynaptic: a silent step after each spike).
- ``start_at``: ``"zero"``, or ``"v_leak"`` (Norse's cells start at rest).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import field_validator

from snngraph import surrogates
from snngraph.base import FieldError
from snngraph.neurons.base import DT, Compartment, NeuronType, kernel_helper, per_neuron
from snngraph.schemas.base import Array, Float

A_I, B_I, A_V, C_VI, B_V, K_V, V_TH, V_RESET, SPIKES, AMPLITUDE, RESET = range(11)
"""Rows of the kernel parameters: the current's decay and input gain, the voltage's
decay, its gain on the previous current and on the input, its constant drive, the
threshold, the reset value, 1 for a spiking type (0: the output is ``v``), amplitude,
the reset rule (an index into ``RESETS``)."""

Discretisation = Literal["euler", "exact"]
DISCRETISATIONS = ("euler", "exact")
Reset = Literal["value", "subtract_next", "zero_next", "clear_next"]
RESETS = ("value", "subtract_next", "zero_next", "clear_next")
"""How a spiking cell resets (module docstring); the kernel reads the index."""
StartAt = Literal["zero", "v_leak"]


@kernel_helper
def nir_cell(v, c, x, params, i, fcode, fa):
    """One step of neuron ``i``: returns ``(output, v before the reset, v, I)``, the
    output before ``amplitude`` (the spike ``surrogates.spike(fcode, fa, .)``,
    ``fcode = -1`` the true one, or the voltage of a non-spiking type). The reset is the
    true spike's, detached from the gradient (as snnTorch and Norse's recurrent cell)."""
    mode = params[RESET, i]
    late = mode != 0.0 and v > params[V_TH, i]  # a reset one step later: last step's spike
    if late and mode == 2.0:  # zero_next: the decay restarts from v_reset
        v = params[V_RESET, i]
    c_new = params[A_I, i] * c + params[B_I, i] * x
    # the drive summed first: with snnTorch's parameters it is its current, I = a I + x,
    # so U = b U + I rounds as snnTorch's Synaptic does
    v = params[A_V, i] * v + (params[C_VI, i] * c + params[B_V, i] * x) + params[K_V, i]
    if late:
        v = v - params[V_TH, i] if mode == 1.0 else (params[V_RESET, i] if mode == 3.0
                                                      else v)
    if params[SPIKES, i] == 0.0:
        return v, v, v, c_new
    z = surrogates.spike(fcode, fa, v - params[V_TH, i])
    if mode == 0.0 and v > params[V_TH, i]:
        return z, v, params[V_RESET, i], c_new
    return z, v, v, c_new


def nir_cell_step(dt, x, gain, bias, out, state, params):
    """``nir_cell`` with true spikes for a block of examples (state: voltage, current)."""
    batch, n = x.shape
    for b in range(batch):
        for i in range(n):
            y, _, state[b, 0, i], state[b, 1, i] = nir_cell(
                state[b, 0, i], state[b, 1, i], gain[i] * x[b, i] + bias[i], params, i,
                -1, 0.0)
            out[b, i] = params[AMPLITUDE, i] * y


def nir_cell_forward(J, state, params, fcode, fa, out, saved, b0, b1):
    """``nir_cell`` over T steps, keeping the voltage before the reset and whether a
    reset one step later acted (last step's spike: the tape may be read one step at a
    time)."""
    steps, _, n = out.shape
    one = J.shape[0] == 1  # an input constant over the steps: one row per example
    for b in range(b0, b1):
        for t in range(steps):
            for i in range(n):
                late = params[RESET, i] != 0.0 and state[b, 0, i] > params[V_TH, i]
                saved[t, b, 1, i] = 1.0 if late else 0.0
                y, saved[t, b, 0, i], state[b, 0, i], state[b, 1, i] = nir_cell(
                    state[b, 0, i], state[b, 1, i], J[0 if one else t, b, i], params, i,
                    fcode, fa)
                out[t, b, i] = params[AMPLITUDE, i] * y


def nir_cell_backward(dy, saved, params, code, a, fcode, fa, adj, dJ, b0, b1):
    """The reverse of ``nir_cell_forward``: the step is linear in (v, I, x) before the
    threshold; the surrogate stands in for the spike's derivative; the reset is
    detached, so the voltage carries its gradient on only where no spike reset it
    (for the resets one step later: ``zero_next`` cuts the decayed term, ``clear_next``
    the whole step, after a spike). ``adj`` holds d loss / d (voltage, current) carried
    into the next step."""
    steps, _, n = dy.shape
    for b in range(b0, b1):
        for t in range(steps - 1, -1, -1):
            for i in range(n):
                v = saved[t, b, 0, i]
                amp = params[AMPLITUDE, i]
                mode = params[RESET, i]
                if params[SPIKES, i] == 0.0:
                    g_v = dy[t, b, i] * amp + adj[b, 0, i]
                else:
                    x = v - params[V_TH, i]
                    kept = 0.0 if (x > 0.0 and mode == 0.0) else 1.0
                    g_v = dy[t, b, i] * amp * surrogates.grad(code, a, x) + adj[b, 0, i] * kept
                late = saved[t, b, 1, i] != 0.0  # a reset one step later acted
                if late and mode == 3.0:
                    g_v = 0.0
                g_c = adj[b, 1, i]  # d loss / d (the current this step made)
                dJ[t, b, i] = g_v * params[B_V, i] + g_c * params[B_I, i]
                adj[b, 0, i] = 0.0 if late and mode == 2.0 else g_v * params[A_V, i]
                adj[b, 1, i] = g_v * params[C_VI, i] + g_c * params[A_I, i]


def _positive(name: str, value: Any) -> Any:
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1:
        raise ValueError("expected a scalar or a 1-D array (one value per neuron)")
    if arr.size == 0:
        raise FieldError(name, value, "expected one value per neuron, or a scalar for all",
                         fix=f"{name}=0.01 (every neuron), or one value per neuron")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("expected positive finite values (a time constant in seconds)")
    return value


def _finite(name: str, value: Any) -> Any:
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1:
        raise ValueError("expected a scalar or a 1-D array (one value per neuron)")
    if arr.size == 0:
        raise FieldError(name, value, "expected one value per neuron, or a scalar for all",
                         fix=f"{name}=1.0 (every neuron), or one value per neuron")
    if not np.all(np.isfinite(arr)):
        raise ValueError("expected finite values")
    return value


def leak_coefficients(tau: np.ndarray, dt: float, how: str) -> tuple[np.ndarray, np.ndarray]:
    """``(decay, drive)`` of ``tau dv/dt = -v + u`` over one step with ``u`` held:
    ``v <- decay v + drive u`` (Euler: ``1 - dt/tau``, ``dt/tau``; exact:
    ``e^(-dt/tau)``, ``1 - e^(-dt/tau)``)."""
    if how == "euler":
        return 1.0 - dt / tau, dt / tau
    decay = np.exp(-dt / tau)
    return decay, -np.expm1(-dt / tau)


def cuba_coefficients(tau_syn: np.ndarray, tau_mem: np.ndarray, r: np.ndarray,
                      w_in: np.ndarray, dt: float, how: str) -> dict[int, np.ndarray]:
    """The rows ``A_I, B_I, A_V, C_VI, B_V`` and the voltage's leak drive (returned
    under ``K_V``, to be multiplied by ``v_leak``) of the current-based pair
    ``tau_syn dI/dt = -I + w_in x``, ``tau_mem dv/dt = v_leak - v + r I``."""
    a_i, d_i = leak_coefficients(tau_syn, dt, how)
    a_v, d_v = leak_coefficients(tau_mem, dt, how)
    if how == "euler":  # the voltage integrates the updated current
        return {A_I: a_i, B_I: d_i * w_in, A_V: a_v, C_VI: d_v * r * a_i,
                B_V: d_v * r * d_i * w_in, K_V: d_v}
    # exact: v(dt) = a_v v + d_v (v_leak + r w_in x) + r k (I - w_in x), with
    # k = int_0^dt e^(-(dt-s)/tau_mem) e^(-s/tau_syn) ds / tau_mem
    same = np.isclose(tau_syn, tau_mem, rtol=1e-9, atol=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(same, dt / tau_mem * np.exp(-dt / tau_mem),
                     tau_syn * (a_i - a_v) / (tau_syn - tau_mem))
    return {A_I: a_i, B_I: d_i * w_in, A_V: a_v, C_VI: r * k,
            B_V: r * w_in * (d_v - k), K_V: d_v}


class NIRCell(NeuronType, abstract=True):
    """The shared step of NIR's neuron primitives (see the module docstring)."""

    discrete: ClassVar[bool] = True
    state: ClassVar[tuple[str, ...]] = ("voltage", "current")
    nir_type: ClassVar[str] = ""
    """The NIR node type this class stands for."""
    bptt_saved: ClassVar[int] = 2
    """The voltage before the reset, and 1 where a reset one step later acted."""
    default_surrogate: ClassVar[surrogates.Surrogate | None] = None
    """Spiking types: snnTorch's default (``atan``, alpha 2), set below."""

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        """The kernel rows of this type at time step ``dt`` (all but amplitude)."""
        raise NotImplementedError

    def step_kernel(self) -> Any:
        return nir_cell_step

    def bptt_kernels(self) -> tuple[Any, Any]:
        return nir_cell_forward, nir_cell_backward

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        rows = {A_I: 0.0, B_I: 0.0, A_V: 0.0, C_VI: 0.0, B_V: 0.0, K_V: 0.0, V_TH: 0.0,
                V_RESET: 0.0, SPIKES: float(self.spiking)}
        rows.update(self.coefficients(n, dt))
        rows[AMPLITUDE] = self.amplitude
        return per_neuron(rows, n)

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        raise self._no_curve("has no rate curve (a NIR primitive runs step by step only)")

    def compartment(self, dt: float) -> Compartment | None:
        """The Loihi compartment running this cell exactly (before the chip's integers),
        or None (``chip_problem`` says why). A compartment is ``u <- (1 - d_u) u + d_u w s``
        then ``v <- (1 - d_v) v + d_v (u + bias)``, a spike when ``v > vth`` and ``v <- 0``:
        Euler's CubaLIF with ``d_u = dt/tau_syn``, ``d_v = dt/tau_mem``, the input scaled
        by ``r w_in`` and ``v_leak`` as a bias; LIF with ``d_u = 1`` (either
        discretisation: both are ``v <- (1 - d) v + d (r x + v_leak)``); IF without a
        leak and the input scaled by ``r dt``; Threshold with ``d_v = 1``."""
        if self.chip_problem(dt) is not None:
            return None
        return self._compartment(dt)

    def _compartment(self, dt: float) -> Compartment:
        raise NotImplementedError

    def chip_problem(self, dt: float) -> str | None:
        if not self.spiking:
            return (f"NIR's {self.nir_type} outputs its voltage, and a Loihi core sends only "
                    "spikes")
        problems = []
        if getattr(self, "reset", "value") != "value":
            problems.append(f"reset={self.reset!r} (snnTorch's reset one step later): a "
                            "core resets to 0 at the spike")
        if np.any(_arr(getattr(self, "v_reset", 0.0)) != 0.0):
            problems.append("v_reset != 0: a core resets its voltage to 0")
        if getattr(self, "start_at", "zero") != "zero" and np.any(_arr(self.v_leak) != 0.0):
            problems.append("start_at='v_leak' (Norse's): a core starts at rest, v = 0")
        if getattr(self, "discretisation", "euler") == "exact" and self.nir_type == "CubaLIF":
            problems.append("discretisation='exact': a core steps the current and the "
                            "voltage by the Euler cascade; load with discretisation='euler'")
        for name in ("tau", "tau_syn", "tau_mem"):
            if hasattr(self, name) and np.any(dt / _arr(getattr(self, name)) > 1.0):
                problems.append(f"{name} < dt: the per-step decay dt/{name} exceeds 1")
        if self.nir_type == "Threshold" and np.any(_arr(self.threshold) <= 0.0):
            problems.append("threshold <= 0: a core's threshold is positive")
        return "; ".join(problems) or None


def firing_period(J: Any, params: np.ndarray) -> np.ndarray:
    """Steps between spikes for a constant input ``J`` of a spiking type without a
    current (LIF, IF): from ``v_reset``, ``v_n = u + (v_reset - u) a^n`` with
    ``u = (b J + k) / (1 - a)`` (``a = 1``: ``v_n = v_reset + n (b J + k)``); the period
    is the first ``n`` with ``v_n > v_threshold`` (inf when it never fires)."""
    J = np.asarray(J, dtype=float)
    a, b, k = params[A_V], params[B_V], params[K_V]
    th, reset = params[V_TH], params[V_RESET]
    drive = b * J + k
    period = np.full(np.broadcast(J, a).shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        perfect = np.floor((th - reset) / drive) + 1
        u = drive / (1.0 - a)
        leaky = np.floor(np.log((u - th) / (u - reset)) / np.log(a)) + 1
    fires = np.where(a >= 1.0, drive > 0, u > th)
    n = np.where(a >= 1.0, perfect, np.where(a <= 0.0, 1.0, leaky))
    period[fires] = np.maximum(n, 1.0)[fires]
    return period


def _arr(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=float)


class _Leaking(NIRCell, abstract=True):
    """LI and LIF: ``tau dv/dt = v_leak - v + r x``."""

    tau: Float | Array = 0.01
    """Membrane time constant in seconds (a scalar or one per neuron)."""
    r: Float | Array = 1.0
    """Resistance: the input's gain."""
    v_leak: Float | Array = 0.0
    """Leak (resting) voltage."""
    discretisation: Discretisation = "euler"
    """How the ODE is stepped: ``'euler'`` (snnTorch's and Norse's) or ``'exact'``."""
    start_at: StartAt = "zero"
    """Where the voltage starts: ``'zero'`` (NIR's reference, snnTorch) or ``'v_leak'``
    (Norse)."""

    def initial_state(self, n: int) -> np.ndarray:
        return _start_voltage(self, n)

    @field_validator("tau")
    @classmethod
    def _tau(cls, value: Any) -> Any:
        return _positive("tau", value)

    @field_validator("r", "v_leak")
    @classmethod
    def _finite_fields(cls, value: Any, info: Any) -> Any:
        return _finite(info.field_name, value)

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        decay, drive = leak_coefficients(_arr(self.tau), dt, self.discretisation)
        return {A_V: decay, B_V: drive * _arr(self.r), K_V: drive * _arr(self.v_leak)}


class _Firing(NIRCell, abstract=True):
    """The spiking half of LIF, IF and CubaLIF: a threshold and a reset, on top of the
    subthreshold step of the class it is listed before (``class NIRLIF(_Firing,
    _Leaking)``)."""

    spiking: ClassVar[bool] = True
    v_threshold: Float | Array = 1.0
    """Firing threshold: a spike when ``v > v_threshold``."""
    v_reset: Float | Array = 0.0
    """Voltage after a spike."""
    reset: Reset = "value"
    """``'value'``: NIR's ``v <- v_reset`` after the spike; ``'subtract_next'``,
    ``'zero_next'``, ``'clear_next'``: snnTorch's resets one step later (module
    docstring)."""

    @field_validator("v_threshold", "v_reset")
    @classmethod
    def _finite_firing(cls, value: Any, info: Any) -> Any:
        return _finite(info.field_name, value)

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        return {**super().coefficients(n, dt), **_firing_rows(self)}


def _firing_rows(cell: Any) -> dict[int, Any]:
    """The threshold and reset rows of a spiking type."""
    return {V_TH: _arr(cell.v_threshold), V_RESET: _arr(cell.v_reset),
            RESET: float(RESETS.index(cell.reset))}


def _start_voltage(cell: Any, n: int) -> np.ndarray:
    """``initial_state``: the current at 0, the voltage at 0 or at ``v_leak``."""
    state = np.zeros((2, n))
    if getattr(cell, "start_at", "zero") == "v_leak":
        state[0] = np.broadcast_to(_arr(cell.v_leak), (n,))
    return state


def _decay(tau: Any, dt: float, how: str) -> np.ndarray:
    return leak_coefficients(_arr(tau), dt, how)[1]


class NIRLI(_Leaking):
    """NIR's ``LI``: ``tau dv/dt = v_leak - v + r x``; the output is ``v``."""

    nir_type: ClassVar[str] = "LI"
    _positional: ClassVar[tuple[str, ...]] = ("tau",)


class NIRLIF(_Firing, _Leaking):
    """NIR's ``LIF``: LI plus a spike when ``v > v_threshold``, then ``v <- v_reset``."""

    nir_type: ClassVar[str] = "LIF"
    _positional: ClassVar[tuple[str, ...]] = ("tau",)

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Spikes per step (times amplitude) for a constant input per step ``J`` (one value
        per neuron, or one for all), from the closed-form period."""
        return _rates(self, J, dt)

    def _compartment(self, dt: float) -> Compartment:
        return Compartment(decay_v=_decay(self.tau, dt, self.discretisation),
                           vth=_arr(self.v_threshold), refractory=1, vmin=-np.inf,
                           scale_v=True, decay_u=1.0, input_scale=_arr(self.r),
                           drive=_arr(self.v_leak))


def _rates(cell: NIRCell, J: Any, dt: float) -> np.ndarray:
    J = np.asarray(J, dtype=float)
    n = J.shape[-1] if J.ndim else 1
    params = cell.kernel_params(n, dt)
    return cell.amplitude / firing_period(J, params)


class NIRIntegrator(NIRCell):
    """NIR's ``I``: ``dv/dt = r x`` (``v <- v + dt r x``); the output is ``v``."""

    nir_type: ClassVar[str] = "I"
    r: Float | Array = 1.0
    """Resistance: the input's gain."""

    @field_validator("r")
    @classmethod
    def _r(cls, value: Any) -> Any:
        return _finite("r", value)

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        return {A_V: 1.0, B_V: dt * _arr(self.r)}


class NIRIF(_Firing, NIRIntegrator):
    """NIR's ``IF``: ``dv/dt = r x``, a spike when ``v > v_threshold``, then
    ``v <- v_reset``."""

    nir_type: ClassVar[str] = "IF"

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Spikes per step (times amplitude) for a constant input per step ``J``."""
        return _rates(self, J, dt)

    def _compartment(self, dt: float) -> Compartment:
        return Compartment(decay_v=0.0, vth=_arr(self.v_threshold), refractory=1,
                           vmin=-np.inf, scale_v=False, decay_u=1.0,
                           input_scale=dt * _arr(self.r))


class NIRCubaLI(NIRCell):
    """NIR's ``CubaLI``: ``tau_syn dI/dt = -I + w_in x``,
    ``tau_mem dv/dt = v_leak - v + r I``; the output is ``v``."""

    nir_type: ClassVar[str] = "CubaLI"
    _positional: ClassVar[tuple[str, ...]] = ("tau_syn", "tau_mem")
    tau_syn: Float | Array = 0.005
    """Synaptic current time constant in seconds."""
    tau_mem: Float | Array = 0.01
    """Membrane time constant in seconds."""
    r: Float | Array = 1.0
    """Resistance: the current's gain into the voltage."""
    v_leak: Float | Array = 0.0
    """Leak (resting) voltage."""
    w_in: Float | Array = 1.0
    """Input weight into the current (elementwise)."""
    discretisation: Discretisation = "euler"
    """How the ODEs are stepped: ``'euler'`` (snnTorch's and Norse's) or ``'exact'``."""
    start_at: StartAt = "zero"
    """Where the voltage starts: ``'zero'`` (NIR's reference, snnTorch) or ``'v_leak'``
    (Norse; the current starts at 0)."""

    def initial_state(self, n: int) -> np.ndarray:
        return _start_voltage(self, n)

    @field_validator("tau_syn", "tau_mem")
    @classmethod
    def _taus(cls, value: Any, info: Any) -> Any:
        return _positive(info.field_name, value)

    @field_validator("r", "v_leak", "w_in")
    @classmethod
    def _finite_fields(cls, value: Any, info: Any) -> Any:
        return _finite(info.field_name, value)

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        rows = cuba_coefficients(_arr(self.tau_syn), _arr(self.tau_mem), _arr(self.r),
                                 _arr(self.w_in), dt, self.discretisation)
        rows[K_V] = rows[K_V] * _arr(self.v_leak)
        return rows


class NIRCubaLIF(_Firing, NIRCubaLI):
    """NIR's ``CubaLIF``: CubaLI plus a spike when ``v > v_threshold``, then
    ``v <- v_reset``."""

    nir_type: ClassVar[str] = "CubaLIF"

    def _compartment(self, dt: float) -> Compartment:
        return Compartment(decay_v=_decay(self.tau_mem, dt, "euler"),
                           vth=_arr(self.v_threshold), refractory=1, vmin=-np.inf,
                           scale_v=True, decay_u=_decay(self.tau_syn, dt, "euler"),
                           input_scale=_arr(self.r) * _arr(self.w_in),
                           drive=_arr(self.v_leak))


class NIRThreshold(NIRCell):
    """NIR's ``Threshold``: ``z = H(x - threshold)`` (strict), no state, no reset."""

    spiking: ClassVar[bool] = True
    nir_type: ClassVar[str] = "Threshold"
    _positional: ClassVar[tuple[str, ...]] = ("threshold",)
    threshold: Float | Array = 0.0
    """A spike when the input exceeds it."""

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        return _finite("threshold", value)

    def coefficients(self, n: int, dt: float) -> dict[int, Any]:
        return {B_V: 1.0, V_TH: _arr(self.threshold)}  # v is the input, read this step

    def _compartment(self, dt: float) -> Compartment:
        return Compartment(decay_v=1.0, vth=_arr(self.threshold), refractory=1,
                           vmin=-np.inf, scale_v=False, decay_u=1.0)


for _spiking in (NIRLIF, NIRIF, NIRCubaLIF, NIRThreshold):
    _spiking.default_surrogate = surrogates.ATan(alpha=2.0)  # snnTorch's default spike_grad

NIR_CELLS: dict[str, type[NIRCell]] = {
    cls.nir_type: cls for cls in (NIRLI, NIRLIF, NIRIntegrator, NIRIF, NIRCubaLI,
                                  NIRCubaLIF, NIRThreshold)}
"""NIR node type -> the class that runs it."""
