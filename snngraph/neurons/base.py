"""The neuron type base: amplitude, rate curve, gain/bias solution (Nengo's conventions).

A neuron type's own module holds all of its math. ``x`` is the input
projected onto the encoders (1 at the top of the range), ``J = gain * x + bias`` the input
current, ``rates(J)`` the steady-state output for a constant current.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
from pydantic import model_validator

from snngraph.base import FieldError, Spec
from snngraph.errors import ValidationError, short_repr, where
from snngraph.schemas.base import PosFloat
from snngraph.surrogates import Surrogate

DT = 0.001  # seconds; the default time step everywhere, as in Nengo


class Compartment(NamedTuple):
    """How a Loihi core runs a neuron type (NengoLoihi's ``Compartment.configure_*``), as
    floats before the chip's integers (``compiler/passes/discretize.py``)."""

    decay_v: float
    """Fraction of the voltage lost per step, ``1 - e^(-dt / tau_rc)`` (0: no leak)."""
    vth: float
    """Firing threshold of the voltage, for a unit input current integrated per step."""
    refractory: int
    """Steps a compartment stays silent after a spike, the spike's step included."""
    vmin: float
    """Lower bound of the voltage."""
    scale_v: bool
    """The voltage leaks: thresholds and biases are scaled by its decay's magnitude (the
    sum of the decayed series), so a constant current gives the same voltage."""
    decay_u: Any = None
    """The neuron's own current decay per step (NIR's CubaLIF: a value per neuron, 1 for
    no current filter); None: the input connection's Lowpass synapse sets it."""
    input_scale: Any = 1.0
    """Per neuron, a factor on the input current (weights and the bias ``J``), e.g.
    NIR's ``r``."""
    drive: Any = 0.0
    """Per neuron, a constant added to the current the voltage integrates (NIR's
    ``v_leak``)."""


class NeuronType(Spec, abstract=True):
    """Base of all neuron types. ``amplitude`` scales the output (spikes or rates)."""

    family: ClassVar[str] = "neuron"
    spiking: ClassVar[bool] = False
    """True when the output is a spike train (events), False for a rate or a voltage."""
    discrete: ClassVar[bool] = False
    """True for discrete-time types (snnTorch/Norse style) whose ``rates`` is per step."""

    state: ClassVar[tuple[str, ...]] = ()
    """Per-neuron state variables (probeable on ``ens.neurons``), e.g. ``voltage``."""
    intercept_is_threshold: ClassVar[bool] = True
    """An intercept is where the neuron starts firing, so it must lie in [-1, 1) to fire
    inside the radius. False for curves without a threshold (Sigmoid: the inflection
    point), whose intercepts are checked by the sign of the gain they give instead."""

    amplitude: PosFloat = 1.0
    """Scales the output: each spike (or the rate) is multiplied by it."""
    surrogate: Surrogate | None = None
    """Spiking types: the derivative that stands in for the spike's when training through
    time (``method="bptt"``); None uses ``default_surrogate``. ``fit`` on data with several
    steps per example trains through time when a neuron has one, given or by default
    (``history.method_reason`` says why it chose)."""

    default_surrogate: ClassVar[Surrogate | None] = None
    bptt_saved: ClassVar[int] = 1
    """Values per neuron and step that ``bptt_kernels``' forward keeps for the reverse pass."""

    @model_validator(mode="after")
    def _surrogate_needs_spikes(self) -> NeuronType:
        if self.surrogate is not None and not self.spiking:
            raise FieldError("surrogate", self.surrogate,
                             f"{type(self).__name__} does not spike (its output is a "
                             f"{'voltage' if 'voltage' in self.state else 'rate'}), so it has "
                             "no spike derivative to replace; remove the surrogate")
        return self

    def bptt_kernels(self) -> tuple[Any, Any] | None:
        """Training through time: plain functions ``(forward, backward)`` the runtime
        compiles, or None when this type cannot be trained through time.

        ``forward(J[T,B,n], state[B,S,n], params[P,n], fcode, fa, out[T,B,n],
        saved[T,B,K,n], b0, b1)`` runs examples ``b0:b1`` for T steps from ``state`` (updated
        in place), writing the outputs and the values per step the reverse pass needs (``J``
        may have one step, ``[1,B,n]``: the same input at every step); its
        spikes are ``surrogates.spike(fcode, fa, x)`` (``fcode = -1``: the true step).
        ``backward(dy[T,B,n], saved, params, code, a, fcode, fa, adj[B,S,n], dJ[T,B,n], b0,
        b1)``
        runs the steps backwards: ``adj`` carries ``d loss / d state`` from the step after
        the last one (zeros at the end of the data) and holds it for the step before the
        first one on return; ``dJ`` receives ``d loss / d J``; ``K = bptt_saved``. ``code, a``
        select the
        surrogate (``snngraph.surrogates.grad``). ``params`` is ``kernel_params``.
        """
        return None

    def training_surrogate(self) -> Surrogate | None:
        """The surrogate training through time uses (None for non-spiking types)."""
        return self.surrogate if self.surrogate is not None else self.default_surrogate

    def rates(self, J: Any, dt: float = DT) -> np.ndarray:
        """Steady-state output for a constant input current ``J`` (Hz times amplitude)."""
        raise self._no_curve("has no analytic rate curve")

    def rate_grad(self, J: Any, dt: float = DT, smoothing: float | None = None) -> np.ndarray:
        """``d rates / d J``, the derivative rate training back-propagates. Types with a
        closed form override this; the fallback is a central difference of ``rates``
        (exact for piecewise-linear curves away from their kinks). ``smoothing`` is the
        soft-threshold width the LIF family uses (ignored here)."""
        J = np.asarray(J, dtype=float)
        h = 1e-4 * np.maximum(1.0, np.abs(J))
        return (self.rates(J + h, dt) - self.rates(J - h, dt)) / (2.0 * h)

    def rate_kernel(self) -> Any:
        """Optional fast path for training: a plain function ``f(x[rows,n], gain[n],
        bias[n], out, grad, *params)`` writing the rate curve of ``J = gain * x + bias``
        and its derivative in one pass (the runtime compiles it and runs blocks of rows
        in parallel). None: ``rates`` and ``rate_grad``."""
        return None

    def rate_kernel_params(self, n: int, dt: float, smoothing: float) -> tuple:
        """The arrays ``rate_kernel`` takes after ``grad`` (the rate runtime casts them to
        float32, its precision)."""
        return ()

    def step_kernel(self) -> Any:
        """The spiking (or stateful) update as a plain function over arrays, compiled by
        the runtime: ``step(dt, x[B,n], gain[n], bias[n], out[B,n], state[B,S,n],
        params[P,n])`` with input current ``J = gain * x + bias``, updating ``out`` and
        ``state`` in place (state is row-major by example, so a block of rows is one
        contiguous array). None for stateless rate types, which the runtime evaluates
        through ``rates``.

        Every array has the runtime's precision (float32 by default, float64 with
        ``sg.Simulator(dtype="float64")``), and Numba compiles the kernel once per
        precision: a constant that must stay in that precision is made from an array's,
        e.g. ``one = state.dtype.type(1.0)``, never ``np.float32(1.0)``. ``dt`` is a
        Python float (float64)."""
        return None

    def kernel_params(self, n: int, dt: float) -> np.ndarray:
        """Per-neuron parameters ``[P, n]`` for ``step_kernel`` (float64; each runtime
        casts them to its precision)."""
        return np.zeros((0, n))

    def compartment(self, dt: float) -> Compartment | None:
        """The Loihi compartment that runs this type at time step ``dt``; None when a
        Loihi core cannot run it."""
        return None

    def chip_problem(self, dt: float) -> str | None:
        """Why a Loihi core cannot run this type with these parameters, and the fix (None:
        it can, or the type has no compartment at all)."""
        return None

    def spike_value(self, dt: float) -> float:
        """The value one spike carries on a connection: ``amplitude / dt`` (Nengo's
        convention: a spike's integral over its step is ``amplitude``), or ``amplitude``
        for the discrete-time types (snnTorch's, Norse's and NIR's spike is 1 held for
        one step)."""
        return self.amplitude if self.discrete else self.amplitude / dt

    def initial_state(self, n: int) -> np.ndarray:
        """Initial values of ``state`` per variable, ``[S, n]`` (float64; each runtime
        casts them to its precision)."""
        return np.zeros((len(self.state), n))

    def sample_state(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """Initial state ``[S, n]`` drawn when the network is compiled (from the ensemble's
        seed); None: every example starts from ``initial_state(n)``."""
        return None

    def rate_target_problem(self) -> str | None:
        """Why the rate runtime cannot run this type on its ``rates`` curve (None: it can):
        e.g. the curve is not the type's steady state."""
        return None

    def current(self, x: Any, gain: Any, bias: Any) -> np.ndarray:
        """Input current ``gain * x + bias`` for projected inputs ``x``."""
        return np.asarray(gain, float) * np.asarray(x, float) + np.asarray(bias, float)

    def gain_bias(self, max_rates: Any, intercepts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Gain and bias giving ``max_rates`` at x=1 and zero rate at x=``intercepts``.

        Discrete-time types (snnTorch/Norse style) use the deep-learning convention,
        gain 1 and bias 0: max_rates and intercepts are Nengo ideas that do not apply.
        Otherwise the generic solution (Nengo's idea, made exact): bracket the threshold
        current and the current of each max rate on a grid, refine both by bisection
        (the curve is assumed monotonic), and solve the two linear equations. Types with
        a closed form override this.
        """
        if self.discrete:
            n = np.broadcast(np.atleast_1d(max_rates), np.atleast_1d(intercepts)).shape
            return np.ones(n), np.zeros(n)
        max_rates, intercepts = _as_float(max_rates), _as_float(intercepts)
        J = np.linspace(-10.0, 10.0, 2001)
        for _ in range(12):
            rate = self.rates(J) / self.amplitude
            if (rate <= 0).any() and (rate >= max_rates.max()).any():
                break
            J = J * 2.0
        else:
            raise self._no_curve(f"cannot reach max_rates up to {max_rates.max():g}")
        silent = np.nonzero(rate <= 0)[0][-1]
        j_threshold = self._bisect(np.array([J[silent]]), np.array([J[silent + 1]]),
                                   np.zeros(1))[0]
        j_top = self._bisect(np.full(max_rates.shape, j_threshold),
                             np.full(max_rates.shape, J[rate >= max_rates.max()][0]), max_rates)
        gain = (j_threshold - j_top) / (intercepts - 1.0)
        return gain, j_top - gain

    def _bisect(self, lo: np.ndarray, hi: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The smallest J in [lo, hi] with rate(J) > target (to float precision)."""
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            above = self.rates(mid) / self.amplitude > target
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        return hi

    def max_rates_intercepts(self, gain: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
        """The inverse of ``gain_bias``: rate at x=1 and the x where firing starts."""
        gain, bias = _as_float(gain), _as_float(bias)
        max_rates = self.rates(gain + bias) / self.amplitude
        x = np.linspace(-1, 1, 201)[:, None]
        firing = self.rates(gain * x + bias) > 0
        last_silent = np.maximum(np.argmax(firing, axis=0) - 1, 0)
        return max_rates, x[last_silent, 0]

    def _no_curve(self, why: str) -> ValidationError:
        name = type(self).__name__
        return ValidationError(f"{name}: {why}{where(self.site)}", obj=name)

    def _check_max_rates(self, max_rates: np.ndarray, limit: float, why: str) -> None:
        if np.any(max_rates >= limit):
            bad = max_rates[max_rates >= limit]
            raise ValidationError(
                f"{type(self).__name__}: max_rates must be below {limit:g} Hz ({why}); "
                f"got {short_repr(bad)}{where(self.site)}",
                obj=type(self).__name__, field="max_rates", value=bad, site=self.site)


def _as_float(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=float))


def kernel_helper(fn: Any) -> Any:
    """Marks a plain function a kernel calls (e.g. one neuron's single step, shared by its
    step kernel and its training kernels): the runtime compiles it along with the kernel
    (``runtimes.numba_cpu.jit``), so model modules never import Numba."""
    fn.kernel_helper = True
    return fn


def per_neuron(rows: dict[int, Any], n: int) -> np.ndarray:
    """Kernel parameters ``[len(rows), n]`` (float64: each runtime rounds them once to its
    precision) from ``{row: value}``, rows named by the type's constants (``{V_TH:
    self.v_th, ...}``): each value (a scalar, or one per neuron) repeated per neuron.
    Kernels read them by the same names (``params[V_TH, i]``)."""
    if sorted(rows) != list(range(len(rows))):
        raise ValueError(f"kernel parameter rows {sorted(rows)} are not 0..{len(rows) - 1}")
    out = np.empty((len(rows), n))
    for row, value in rows.items():
        out[row] = np.broadcast_to(np.asarray(value, float), (n,))
    return out


def positive_part(J: Any) -> np.ndarray:
    """``max(J, 0)`` as a float array."""
    return np.maximum(np.asarray(J, dtype=float), 0.0)
