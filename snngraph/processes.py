"""Processes: time-varying Node outputs. ``PresentInput`` shows each item of a dataset
for a fixed time; the encoders turn values into spike trains as Norse's do.

Every process has a NumPy reference implementation (``run``) that states its semantics
exactly, and brings the kernel the runtimes compile (``kernel``, a plain function over a
block of rows, and its named ``kernel_params``), as neuron types do: a runtime runs any
process without knowing its class.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import numpy as np
from pydantic import Field, field_validator, model_validator

from snngraph import splines
from snngraph.base import FieldError, Spec
from snngraph.dists import Choice, Distribution, Gaussian, Uniform
from snngraph.draws import draw_key, draw_uniform, splitmix64  # noqa: F401 (kernels' helpers)
from snngraph.errors import field_error
from snngraph.filters import discretize
from snngraph.neurons.base import kernel_helper
from snngraph.schemas.base import Array, Bool, Float, PosFloat, Seed
from snngraph.synapses import Alpha, LinearFilter, Lowpass, Synapse

DT = 0.001


class Process(Spec, abstract=True):
    """Base of processes. ``size_in``/``size_out`` of ``None`` mean 'take the node's'."""

    family: ClassVar[str] = "process"

    def default_size_in(self) -> int:
        return 0

    def default_size_out(self, size_in: int) -> int | None:
        return None

    def kernel(self) -> Any:
        """The update of one step as a plain function the runtimes compile (None: this
        process has none, and cannot run): ``step(x[B,n_in], out[B,n], *state,
        *kernel_params, seed, op_id, example0, t)`` for a block of ``B`` examples, the
        first numbered ``example0``, at step ``t``; ``state`` are the arrays of
        ``kernel_state`` (rows of the block), updated in place. ``seed`` and ``op_id``
        key the random draws (see ``draw_key``)."""
        return None

    def kernel_params(self, dt: float, n: int) -> tuple:
        """The kernel's parameters (a NamedTuple: read by name) for time step ``dt`` and
        ``n`` output values (a process whose size comes from its node learns it here)."""
        return ()

    def kernel_state(self, batch: int, n: int) -> tuple[np.ndarray, ...]:
        """Fresh state arrays, ``[batch, ...]`` each (reset to these values)."""
        return ()

    def lowered(self, rng: np.random.Generator) -> Process:
        """This process as compiled: its build-time random draws fixed from ``rng`` (the
        network's), e.g. a seed it was not given. Most processes draw nothing then."""
        return self

    def check_dt(self, dt: float) -> None:
        """Raise ``FieldError`` when the process cannot run at time step ``dt`` (checked
        when compiling, whether or not anything reads the process)."""


class PresentInput(Process):
    """Presents ``inputs[i]`` for ``presentation_time`` seconds each, cycling."""

    _positional: ClassVar[tuple[str, ...]] = ("inputs", "presentation_time")

    inputs: Array
    """The values presented, one row per presentation."""
    presentation_time: PosFloat
    """How long each row is presented, in seconds."""

    @field_validator("inputs")
    @classmethod
    def _has_items(cls, inputs: np.ndarray) -> np.ndarray:
        if inputs.ndim < 1 or len(inputs) == 0:
            raise ValueError("expected an array of at least one item, shape (n_items, ...)")
        return inputs

    def default_size_out(self, size_in: int) -> int:
        return math.prod(self.inputs.shape[1:])

    def run(self, n_steps: int, dt: float = DT) -> np.ndarray:
        """The output over ``n_steps``: shape ``[n_steps, size_out]``."""
        # Nengo's rule: at the end of step k (t = (k+1) dt) it shows item
        # int((t - dt) / presentation_time + 1e-7), so item i starts at t = i * T + dt
        t = (np.arange(n_steps) + 1) * dt
        item = ((t - dt) / self.presentation_time + 1e-7).astype(int) % len(self.inputs)
        return self.inputs.reshape(len(self.inputs), -1)[item]

    def kernel(self) -> Any:
        return present_step

    def kernel_params(self, dt: float, n: int) -> PresentParams:
        # float64: the runtime rounds each value once into its precision when it copies it
        items = np.ascontiguousarray(self.inputs.reshape(len(self.inputs), -1), float)
        return PresentParams(items, float(dt), float(self.presentation_time))


class PresentParams(NamedTuple):
    """``PresentInput``'s kernel parameters.

    Parameters
    ----------
    items : array
        The presented values, one flat float64 row per item.
    dt : float
        The time step, seconds.
    presentation_time : float
        How long each item is shown, seconds.
    """

    items: np.ndarray
    dt: float
    presentation_time: float


def present_step(x, out, items, dt, presentation_time, seed, op_id, example0, t):
    """PresentInput: item ``int(t dt / T + 1e-7)`` (cycling), every row."""
    item = int(t * dt / presentation_time + 1e-7) % items.shape[0]
    for b in range(out.shape[0]):
        out[b, :] = items[item]


class Encoder(Process, abstract=True):
    """Turns a value per input into a spike train of the same size (``amplitude`` per
    spike). The input comes from the Node's ``size_in``."""

    amplitude: PosFloat = 1.0
    """Height of each output spike."""

    def default_size_in(self) -> int:
        return -1  # must be given by the Node

    def default_size_out(self, size_in: int) -> int:
        return size_in

    def run(self, x: Any, n_steps: int, dt: float = DT,
            rng: np.random.Generator | None = None) -> np.ndarray:
        """Spikes for a constant input ``x`` (any shape): ``[n_steps, *x.shape]``."""
        raise NotImplementedError


class PoissonEncoder(Encoder):
    """Independent Bernoulli spikes per step with probability ``dt * f_max * x``
    (``x`` in [0, 1]), as Norse's ``PoissonEncoder``."""

    _positional: ClassVar[tuple[str, ...]] = ("f_max",)

    f_max: PosFloat = 100.0
    """Rate (Hz) for an input of 1."""

    def run(self, x, n_steps, dt=DT, rng=None, *, seed=None, op_id=0, example0=0):
        """``seed`` given: the runtimes' draws for ``x`` of ``[examples, n]`` (or ``[n]``,
        one example), the op numbered ``op_id`` and examples from ``example0``; the
        result is ``[n_steps, *x.shape]``. Otherwise independent draws from ``rng``.

        The runtimes draw input ``i`` of example ``e`` at step ``t`` as ``uniform(seed,
        op, e, t, i) < dt f_max x`` (a counter hash: ``draw_key``, ``draw_uniform``), so
        the numba runtime and training through time draw the same spikes, whatever the
        minibatch."""
        x = np.asarray(x, dtype=float)
        p = dt * self.f_max * x
        if seed is None:
            rng = rng if rng is not None else np.random.default_rng()
            return self.amplitude * (rng.random((n_steps,) + x.shape) < p)
        rows = np.atleast_2d(x)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as it should
            examples = np.arange(example0, example0 + len(rows), dtype=np.uint64)
            steps = np.arange(n_steps, dtype=np.uint64)
            key = draw_key(seed, op_id, examples[None, :, None], steps[:, None, None])
            u = draw_uniform(key, np.arange(rows.shape[1], dtype=np.uint64))
        return self.amplitude * (u < dt * self.f_max * rows).reshape((n_steps,) + x.shape)

    def kernel(self) -> Any:
        return poisson_step

    def kernel_params(self, dt: float, n: int) -> PoissonParams:
        return PoissonParams(dt * self.f_max, self.amplitude)


class PoissonParams(NamedTuple):
    """``PoissonEncoder``'s kernel parameters.

    Parameters
    ----------
    p_scale : float
        The spike probability per step of an input of 1, ``dt f_max``.
    amplitude : float
        Height of each output spike.
    """

    p_scale: float
    amplitude: float


@kernel_helper
def poisson_row(x, out, p_scale, amplitude, seed, op_id, example, step):
    """``out = amplitude`` where ``uniform(seed, op, example, step, i) < p_scale * x``."""
    key = draw_key(seed, op_id, example, step)
    for i in range(x.shape[0]):
        out[i] = amplitude if draw_uniform(key, i) < p_scale * x[i] else 0.0


def poisson_step(x, out, p_scale, amplitude, seed, op_id, example0, t):
    for b in range(x.shape[0]):
        poisson_row(x[b], out[b], p_scale, amplitude, seed, op_id, example0 + b, t)


class ConstantCurrentLIFEncoder(Encoder):
    """A LIF neuron per input driven by the value as a constant current (Norse's
    ``ConstantCurrentLIFEncoder``): ``v += dt/tau_mem (v_leak - v + x)``, spike when
    ``v > v_th``, then ``v = v_reset``. ``v`` starts at 0."""

    tau_mem: PosFloat = 0.01
    """Membrane time constant in seconds."""
    v_th: PosFloat = 1.0
    """Firing threshold."""
    v_leak: Float = 0.0
    """Resting voltage."""
    v_reset: Float = 0.0
    """Voltage after a spike."""

    first_only: ClassVar[bool] = False
    """Keep only each input's first spike (the latency code)."""

    def kernel(self) -> Any:
        return lif_encode_step

    def kernel_params(self, dt: float, n: int) -> LIFEncoderParams:
        return LIFEncoderParams(dt / self.tau_mem, self.v_th, self.v_leak, self.v_reset,
                                self.amplitude, self.first_only)

    def kernel_state(self, batch: int, n: int) -> tuple[np.ndarray, ...]:
        """The voltage (float64, as ``run``) and whether each input has fired."""
        return np.zeros((batch, n)), np.zeros((batch, n), np.bool_)

    def run(self, x, n_steps, dt=DT, rng=None):
        x = np.asarray(x, dtype=float)
        v = np.zeros_like(x)
        out = np.zeros((n_steps,) + x.shape)
        for t in range(n_steps):  # vectorised over inputs; steps are sequential
            v = v + dt / self.tau_mem * (self.v_leak - v + x)
            z = v > self.v_th
            v = np.where(z, self.v_reset, v)
            out[t] = z
        return self.amplitude * out


class SpikeLatencyLIFEncoder(ConstantCurrentLIFEncoder):
    """Time-to-first-spike code: the constant-current LIF encoder keeping only each
    input's first spike (Norse's ``SpikeLatencyLIFEncoder``)."""

    first_only: ClassVar[bool] = True

    def run(self, x, n_steps, dt=DT, rng=None):
        spikes = super().run(x, n_steps, dt, rng) > 0
        first = np.cumsum(spikes, axis=0) == 1
        return self.amplitude * (spikes & first)


class LIFEncoderParams(NamedTuple):
    """The constant-current LIF encoders' kernel parameters.

    Parameters
    ----------
    a_mem : float
        ``dt / tau_mem``, the membrane's step.
    v_th : float
        Firing threshold.
    v_leak : float
        Resting voltage.
    v_reset : float
        Voltage after a spike.
    amplitude : float
        Height of each output spike.
    first_only : bool
        Keep only each input's first spike.
    """

    a_mem: float
    v_th: float
    v_leak: float
    v_reset: float
    amplitude: float
    first_only: bool


@kernel_helper
def lif_encode_row(x, v, fired, out, a_mem, v_th, v_leak, v_reset, amplitude, first_only):
    """Norse's constant-current LIF encoder (and its first-spike-only variant). Written
    without branches (selects and bitwise ``&``/``|``), so the loop vectorises: 3.3x
    faster on W3's 256 x 784 pixels, the same bits."""
    for i in range(x.shape[0]):
        vi = v[i] + a_mem * ((v_leak - v[i]) + x[i])
        spike = vi > v_th
        emit = spike & (not (first_only & fired[i]))
        v[i] = v_reset if spike else vi
        fired[i] = fired[i] | spike
        out[i] = amplitude if emit else 0.0


def lif_encode_step(x, out, v, fired, a_mem, v_th, v_leak, v_reset, amplitude, first_only,
                    seed, op_id, example0, t):
    for b in range(x.shape[0]):
        lif_encode_row(x[b], v[b], fired[b], out[b], a_mem, v_th, v_leak, v_reset,
                       amplitude, first_only)


# ---------------------------------------------------------------- Nengo's processes
# Nengo's built-in processes (WhiteSignal, WhiteNoise, FilteredNoise, BrownNoise,
# Piecewise) and a synapse as a process (Filter). Each states its semantics in NumPy
# (``run_steps``) and brings the kernel the runtimes compile; tests hold the two equal.

OWN_SEED_OP = 2**32 - 1
"""The op number keying the draws of a process with its own ``seed`` (no op has it): two
processes with the same seed draw the same numbers, as in Nengo."""
# the distributions the noise kernels draw: a Choice of values draws each value apart,
# a Choice of rows draws one row (a whole output) per step
GAUSSIAN, UNIFORM, CHOICE_EACH, CHOICE_ROW = 0, 1, 2, 3


class Stepped(Process, abstract=True):
    """A process with Nengo's helpers: ``run(t)``, ``run_steps(n)``, ``apply(x)``,
    ``trange``/``ntrange`` (``t = (k + 1) dt`` at step ``k``, as Nengo), all from one
    NumPy reference (``reference``) that the runtimes' kernels reproduce."""

    default_dt: PosFloat = DT
    """The time step of ``run``, ``run_steps``, ``apply`` and ``trange`` when none is given."""

    def reference(self, x: np.ndarray | None, n_steps: int, n: int, dt: float,
                  key: tuple[int, int, int]) -> np.ndarray:
        """``[n_steps, n]`` outputs for inputs ``x`` (``[n_steps, size_in]`` or None)
        under the runtimes' draw key ``(seed, op_id, example)``."""
        raise NotImplementedError

    def run(self, t: float, d: int | None = None, dt: float | None = None,
            rng: np.random.RandomState | None = None, *, seed: int | None = None,
            op_id: int = 0, example: int = 0) -> np.ndarray:
        """The output over ``t`` seconds (Nengo's ``Process.run``): ``[steps, d]``."""
        dt = self.default_dt if dt is None else dt
        return self.run_steps(int(np.round(float(t) / dt)), d, dt, rng, seed=seed,
                              op_id=op_id, example=example)

    def run_steps(self, n_steps: int, d: int | None = None, dt: float | None = None,
                  rng: np.random.RandomState | None = None, *, seed: int | None = None,
                  op_id: int = 0, example: int = 0) -> np.ndarray:
        """The output over ``n_steps`` steps: ``[n_steps, d]`` (``d``: the size out,
        default 1). ``seed``, ``op_id`` and ``example`` give the draws the numba runtime
        makes for example ``example`` of op ``op_id`` in a run with that seed (see
        ``draw_key``). A process with its own ``seed`` ignores them; without either, the
        seed is drawn from ``rng`` as Nengo draws it (``rng.randint(2**31 - 1)``), or anew
        at each call."""
        d = self.default_size_out(0) if d is None else d
        dt = self.default_dt if dt is None else dt
        return self.reference(None, n_steps, d or 1, dt, _run_key(seed, rng, op_id, example))

    def apply(self, x: Any, d: int | None = None, dt: float | None = None,
              rng: np.random.RandomState | None = None, *, seed: int | None = None,
              op_id: int = 0, example: int = 0) -> np.ndarray:
        """The output for inputs ``x`` (``[n_steps, size_in]``), Nengo's ``apply``."""
        x = np.asarray(x, dtype=float).reshape(len(x), -1)
        dt = self.default_dt if dt is None else dt
        n = self.default_size_out(x.shape[1]) if d is None else d
        return self.reference(x, len(x), n or x.shape[1], dt,
                              _run_key(seed, rng, op_id, example))

    def ntrange(self, n_steps: int, dt: float | None = None) -> np.ndarray:
        """The times of ``n_steps`` steps: ``dt, 2 dt, ..., n_steps dt``."""
        dt = self.default_dt if dt is None else dt
        return dt * np.arange(1, n_steps + 1)

    def trange(self, t: float, dt: float | None = None) -> np.ndarray:
        """The times of a run of ``t`` seconds (those of ``run(t)``)."""
        dt = self.default_dt if dt is None else dt
        return self.ntrange(int(np.round(float(t) / dt)), dt)


def _run_key(seed: int | None, rng: np.random.RandomState | None, op_id: int,
             example: int) -> tuple[int, int, int]:
    if seed is None and rng is not None:  # Nengo's Process.get_rng
        seed = rng.randint(np.iinfo(np.int32).max)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    return int(seed), int(op_id), int(example)


@kernel_helper
def draw_source(own_seed, seed, op_id):
    """The (seed, op) keying a process's draws: its own seed when it has one (-1: none)."""
    if own_seed >= 0:
        return own_seed, OWN_SEED_OP
    return seed, op_id


@kernel_helper
def choose(cdf, u):
    """The first option whose cumulative weight reaches ``u`` (``searchsorted``)."""
    j = 0
    while j < cdf.shape[0] - 1 and cdf[j] < u:
        j += 1
    return j


def _dist_code(dist: Distribution) -> tuple[int, float, float, np.ndarray, np.ndarray]:
    """(kind, p0, p1, options, cdf): what the kernels read of a distribution."""
    none = np.zeros((1, 1)), np.ones(1)
    if isinstance(dist, Gaussian):
        return GAUSSIAN, float(dist.mean), float(dist.std), *none
    if isinstance(dist, Uniform):
        return UNIFORM, float(dist.low), float(dist.high), *none
    weights = np.ones(len(dist.options)) if dist.weights is None else dist.weights
    cdf = np.cumsum(weights / weights.sum())
    kind = CHOICE_ROW if dist.options.ndim == 2 else CHOICE_EACH
    options = np.asarray(dist.options, float).reshape(len(dist.options), -1)
    return kind, 0.0, 0.0, np.ascontiguousarray(options), cdf


def _check_dist(dist: Distribution) -> Distribution:
    if isinstance(dist, Gaussian | Choice) or (isinstance(dist, Uniform)
                                               and not dist.integer):
        return dist
    raise ValueError("expected Gaussian(mean, std), Uniform(low, high) or Choice(options): "
                     "the noise kernels draw these per step")


class Noise(Stepped, abstract=True):
    """White noise drawn per step: ``dist`` times ``1 / sqrt(dt)`` when ``scale``.

    The draws are a counter hash of (seed, op, example, step, index) (``draw_key``), so
    they do not depend on the minibatch or on how a run is split. They are not the
    numbers of Nengo's ``RandomState`` stream for the same seed: the distribution is
    the same, the values differ."""

    dist: Distribution = Field(default_factory=lambda: Gaussian(0.0, 1.0))
    """The distribution of the white noise: Gaussian, Uniform, or Choice (of values, each
    drawn apart; or of rows, one output per row)."""
    scale: Bool = True
    """Divide by ``sqrt(dt)``, so the integral of the noise does not depend on ``dt``."""
    seed: Seed | None = None
    """This process's own seed (the same noise in every run); None: the run's seed."""

    @field_validator("dist")
    @classmethod
    def _drawable(cls, dist: Distribution) -> Distribution:
        return _check_dist(dist)

    def default_size_out(self, size_in: int) -> int | None:
        return None

    def kernel_noise(self, dt: float, n: int) -> NoiseParams:
        kind, p0, p1, options, cdf = _dist_code(self.dist)
        if kind == CHOICE_ROW and options.shape[1] != n:
            raise field_error(self._describe(), "dist", self.dist, f"expected Choice rows of "
                              f"{n} values (one per output), not {options.shape[1]}", self.site)
        own = -1 if self.seed is None else int(self.seed)
        alpha = 1.0 / math.sqrt(dt) if self.scale else 1.0
        return NoiseParams(kind, p0, p1, alpha, own, options, cdf)

    def white(self, n_steps: int, n: int, dt: float, key: tuple[int, int, int]) -> np.ndarray:
        """The white noise the kernels draw, ``[n_steps, n]`` (``noise_row``'s draws)."""
        kind, p0, p1, alpha, own, options, cdf = self.kernel_noise(dt, n)
        seed, op_id, example = key
        seed, op_id = draw_source(own, seed, op_id)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as it should
            k = draw_key(seed, op_id, example, np.arange(n_steps, dtype=np.uint64)[:, None])
            if kind == GAUSSIAN:
                even = np.arange(0, n, 2, dtype=np.uint64)
                r = p1 * np.sqrt(-2.0 * np.log(1.0 - draw_uniform(k, even)))
                a = 2.0 * np.pi * draw_uniform(k, even + np.uint64(1))
            else:
                u = draw_uniform(k, np.arange(n, dtype=np.uint64))
        if kind == GAUSSIAN:  # Box-Muller: each pair of uniforms makes two normals
            z = np.empty((n_steps, 2 * len(even)))
            z[:, 0::2], z[:, 1::2] = p0 + r * np.cos(a), p0 + r * np.sin(a)
            return alpha * z[:, :n]
        if kind == UNIFORM:
            return alpha * (p0 + (p1 - p0) * u)
        if kind == CHOICE_EACH:
            return alpha * options[_choose(cdf, u), 0]
        return alpha * options[_choose(cdf, u[:, :1]), np.arange(n)]


def _choose(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``choose`` over an array of uniforms."""
    return np.minimum(np.searchsorted(cdf, u), len(cdf) - 1)


class WhiteNoise(Noise):
    """Full-spectrum white noise (Nengo's ``WhiteNoise``), one draw per value per step."""

    _positional: ClassVar[tuple[str, ...]] = ("dist", "scale")

    def reference(self, x, n_steps, n, dt, key):
        return self.white(n_steps, n, dt, key)

    def kernel(self) -> Any:
        return white_noise_step

    def kernel_params(self, dt: float, n: int) -> NoiseParams:
        return self.kernel_noise(dt, n)


class NoiseParams(NamedTuple):
    """The noise kernels' parameters.

    Parameters
    ----------
    kind : int
        ``GAUSSIAN``, ``UNIFORM``, ``CHOICE_EACH`` or ``CHOICE_ROW``.
    p0 : float
        The mean (Gaussian) or the low end (Uniform).
    p1 : float
        The standard deviation (Gaussian) or the high end (Uniform).
    alpha : float
        The factor on every draw (``1 / sqrt(dt)`` when scaled).
    own_seed : int
        The process's own seed, or -1 (the run's seed keys the draws).
    options : array
        A Choice's options, float64 ``[k, 1]`` (values) or ``[k, n]`` (rows).
    cdf : array
        A Choice's cumulative weights, float64 ``[k]``, ending at 1.
    """

    kind: int
    p0: float
    p1: float
    alpha: float
    own_seed: int
    options: np.ndarray
    cdf: np.ndarray


@kernel_helper
def noise_row(out, kind, p0, p1, alpha, own_seed, options, cdf, seed, op_id, example, step):
    """One example's white noise at one step (the draws ``Noise.white`` makes): uniform
    ``i`` of the key is value ``i``'s, or a Gaussian pair's (Box-Muller)."""
    s, o = draw_source(own_seed, seed, op_id)
    key = draw_key(s, o, example, step)
    n = out.shape[0]
    if kind == GAUSSIAN:
        for j in range(0, n, 2):
            r = p1 * np.sqrt(-2.0 * np.log(1.0 - draw_uniform(key, j)))
            a = 2.0 * np.pi * draw_uniform(key, j + 1)
            out[j] = alpha * (p0 + r * np.cos(a))
            if j + 1 < n:
                out[j + 1] = alpha * (p0 + r * np.sin(a))
    elif kind == UNIFORM:
        for i in range(n):
            out[i] = alpha * (p0 + (p1 - p0) * draw_uniform(key, i))
    elif kind == CHOICE_EACH:
        for i in range(n):
            out[i] = alpha * options[choose(cdf, draw_uniform(key, i)), 0]
    else:
        row = choose(cdf, draw_uniform(key, 0))
        for i in range(n):
            out[i] = alpha * options[row, i]


def white_noise_step(x, out, kind, p0, p1, alpha, own_seed, options, cdf, seed, op_id,
                     example0, t):
    for b in range(out.shape[0]):
        noise_row(out[b], kind, p0, p1, alpha, own_seed, options, cdf, seed, op_id,
                  example0 + b, t)


# ------------------------------------------------------------------ filtering processes
class FilterParams(NamedTuple):
    """A discrete filter ``x' = A x + B u``, ``y = C x + D u`` (a scalar input and
    output per value; ``A`` is ``[k, k]``, ``B`` and ``C`` are ``[k]``).

    Parameters
    ----------
    A : array
        The state transition, float64 ``[k, k]``.
    B : array
        The input into the state, float64 ``[k]``.
    C : array
        The state into the output, float64 ``[k]``.
    D : float
        The input straight to the output.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: float


def filter_params(synapse: Synapse, dt: float) -> FilterParams:
    """The discrete form of ``synapse`` for step ``dt`` (zero-order hold, as Nengo)."""
    A, B, C, D = discretize({"type": type(synapse).__name__, **dict(synapse)}, dt)
    return FilterParams(np.ascontiguousarray(A, float), np.ascontiguousarray(B[:, 0], float),
                        np.ascontiguousarray(C[0], float), float(D[0, 0]))


def filter_state(params: FilterParams, batch: int, n: int) -> tuple[np.ndarray, ...]:
    """The filter's state ``[batch, k, n]`` (float64, zero: Nengo's ``y0=0``) and a
    scratch row ``[batch, k]``."""
    k = len(params.A)
    return np.zeros((batch, k, n)), np.zeros((batch, k))


@kernel_helper
def lti_row(u, X, tmp, out, A, B, C, D):
    """One step of the filter for each value ``i`` of a row, as Nengo's LinearFilter steps:
    with no passthrough (``D = 0``) the state takes the input first and the output reads
    the new state (no extra delay); otherwise the output reads the old state plus
    ``D u``. ``u`` and ``out`` may be the same row."""
    k = A.shape[0]
    for i in range(u.shape[0]):
        ui = u[i]
        y = D * ui
        if D != 0.0:
            for r in range(k):
                y += C[r] * X[r, i]
        for r in range(k):
            acc = B[r] * ui
            for c in range(k):
                acc += A[r, c] * X[c, i]
            tmp[r] = acc
        for r in range(k):
            X[r, i] = tmp[r]
            if D == 0.0:
                y += C[r] * tmp[r]
        out[i] = y


def lti_reference(u: np.ndarray, p: FilterParams) -> np.ndarray:
    """``lti_row`` over the steps of ``u`` (``[n_steps, n]``), vectorised over values."""
    X = np.zeros((len(p.A), u.shape[1]))
    y = np.empty_like(u, dtype=float)
    for t in range(len(u)):  # steps are sequential; values are vectorised
        if p.D != 0.0:
            y[t] = p.C @ X + p.D * u[t]
            X = p.A @ X + p.B[:, None] * u[t]
        else:
            X = p.A @ X + p.B[:, None] * u[t]
            y[t] = p.C @ X
    return y


def _check_filter(synapse: Synapse) -> Synapse:
    if isinstance(synapse, Lowpass | Alpha | LinearFilter):
        return synapse
    raise ValueError("expected a linear filter (Lowpass, Alpha or LinearFilter)")


class Filtered(Noise, abstract=True):
    """White noise through a linear filter (``filter()``), in the same step."""

    def filter(self) -> Synapse:
        raise NotImplementedError

    def reference(self, x, n_steps, n, dt, key):
        return lti_reference(self.white(n_steps, n, dt, key), filter_params(self.filter(), dt))

    def kernel(self) -> Any:
        return filtered_noise_step

    def kernel_params(self, dt: float, n: int) -> tuple:
        return self.kernel_noise(dt, n) + filter_params(self.filter(), dt)

    def kernel_state(self, batch: int, n: int) -> tuple[np.ndarray, ...]:
        return filter_state(filter_params(self.filter(), DT), batch, n)


class FilteredNoise(Filtered):
    """White noise through a synapse (Nengo's ``FilteredNoise``; Nengo's default synapse
    is ``Lowpass(0.005)``)."""

    _positional: ClassVar[tuple[str, ...]] = ("synapse", "dist", "scale")

    synapse: Synapse = Field(default_factory=lambda: Lowpass(0.005))
    """The filter the noise goes through (Lowpass, Alpha or LinearFilter)."""

    @field_validator("synapse")
    @classmethod
    def _linear(cls, synapse: Synapse) -> Synapse:
        return _check_filter(synapse)

    def filter(self) -> Synapse:
        return self.synapse


class BrownNoise(Filtered):
    """Brownian noise, the integral of white noise (Nengo's ``BrownNoise``: white noise
    through ``1 / s``, Euler's and the zero-order hold's discretisation being the same)."""

    _positional: ClassVar[tuple[str, ...]] = ("dist",)

    def filter(self) -> Synapse:
        return LinearFilter([1.0], [1.0, 0.0])


def filtered_noise_step(x, out, X, tmp, kind, p0, p1, alpha, own_seed, options, cdf,
                        A, B, C, D, seed, op_id, example0, t):
    for b in range(out.shape[0]):
        noise_row(out[b], kind, p0, p1, alpha, own_seed, options, cdf, seed, op_id,
                  example0 + b, t)
        lti_row(out[b], X[b], tmp[b], out[b], A, B, C, D)


class Filter(Stepped):
    """A synapse as a process on its node's input: ``sg.Node(Filter(Lowpass(0.1)),
    size_in=2)`` outputs its input filtered, in the same step (Nengo's
    ``nengo.Node(nengo.Lowpass(0.1), size_in=2)``)."""

    _positional: ClassVar[tuple[str, ...]] = ("synapse",)

    synapse: Synapse
    """The filter (Lowpass, Alpha or LinearFilter)."""

    @field_validator("synapse")
    @classmethod
    def _linear(cls, synapse: Synapse) -> Synapse:
        return _check_filter(synapse)

    def default_size_in(self) -> int:
        return -1  # must be given by the Node

    def default_size_out(self, size_in: int) -> int:
        return size_in

    def reference(self, x, n_steps, n, dt, key):
        if x is None:
            raise ValueError(f"{self!r} filters its input: use apply(x), not run")
        return lti_reference(x, filter_params(self.synapse, dt))

    def kernel(self) -> Any:
        return filter_step

    def kernel_params(self, dt: float, n: int) -> FilterParams:
        return filter_params(self.synapse, dt)

    def kernel_state(self, batch: int, n: int) -> tuple[np.ndarray, ...]:
        return filter_state(filter_params(self.synapse, DT), batch, n)


def filter_step(x, out, X, tmp, A, B, C, D, seed, op_id, example0, t):
    for b in range(out.shape[0]):
        lti_row(x[b], X[b], tmp[b], out[b], A, B, C, D)


# ------------------------------------------------------------------ table processes
class TableParams(NamedTuple):
    """A precomputed signal, one row per step.

    Parameters
    ----------
    table : array
        float64 ``[rows, n]``: the output at step ``t`` is row ``(t + 1) % rows``.
    """

    table: np.ndarray


def table_step(x, out, table, seed, op_id, example0, t):
    """Row ``(t + 1) % rows`` of the table (Nengo's ``signal[round(t / dt) % rows]``, its
    ``t`` being ``(step + 1) dt``), every example."""
    row = (t + 1) % table.shape[0]
    for b in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[b, i] = table[row, i]


class WhiteSignal(Stepped):
    """An ideal low-pass white-noise signal (Nengo's ``WhiteSignal``): equal power at
    every frequency up to ``high`` Hz, none above, periodic with ``period`` seconds.

    Its coefficients are drawn as Nengo draws them from ``RandomState(seed)``, so a
    seeded WhiteSignal gives Nengo's values. Without a seed, compiling a network draws one
    from the network's seed (the dump shows it): the signal is the same in every run and
    for every example."""

    _positional: ClassVar[tuple[str, ...]] = ("period", "high", "rms", "y0")

    period: PosFloat
    """The signal repeats after this many seconds."""
    high: PosFloat
    """The cut-off frequency in Hz (at least ``1 / period``, at most ``0.5 / dt``)."""
    rms: PosFloat = 0.5
    """The root mean square of the signal."""
    y0: Float | None = None
    """Start each dimension where it is closest to this value (None: no alignment)."""
    seed: Seed | None = None
    """The seed of the coefficients (Nengo's ``RandomState(seed)``); None: compiling
    draws one from the network's seed."""

    @model_validator(mode="after")
    def _band(self) -> WhiteSignal:
        if self.high < 1.0 / self.period:
            raise FieldError("high", self.high, f"expected high >= 1 / period = "
                             f"{1.0 / self.period:g} Hz (lower leaves no frequency: the "
                             "signal would be zero)")
        return self

    def lowered(self, rng: np.random.Generator) -> Process:
        return self if self.seed is not None else self.model_copy(
            update={"seed": int(rng.integers(2**31))})

    def check_dt(self, dt: float) -> None:
        if self.high > 0.5 / dt:
            raise FieldError("high", self.high, f"High must not exceed the Nyquist frequency "
                             f"0.5 / dt = {0.5 / dt:g} Hz for dt={dt:g}",
                             fix="lower high, or simulate with a smaller dt")

    def signal(self, n: int, dt: float, seed: int | None = None) -> np.ndarray:
        """One period, ``[rows, n]``: Nengo's ``WhiteSignal.make_step`` table."""
        try:
            self.check_dt(dt)
        except FieldError as exc:
            raise field_error(self._describe(), "high", self.high, exc.expected, self.site,
                              exc.fix) from None
        seed = self.seed if self.seed is not None else seed
        return white_signal(self.period, self.high, self.rms, self.y0, n, dt,
                            np.random.RandomState(seed))

    def reference(self, x, n_steps, n, dt, key):
        table = self.signal(n, dt, key[0])
        return table[(np.arange(n_steps) + 1) % len(table)]

    def kernel(self) -> Any:
        return table_step

    def kernel_params(self, dt: float, n: int) -> TableParams:
        if self.seed is None:
            raise ValueError(f"{self!r}: no seed (compiling a network gives it one)")
        return TableParams(np.ascontiguousarray(self.signal(n, dt)))


def white_signal(period: float, high: float, rms: float, y0: float | None, n: int,
                 dt: float, rng: np.random.RandomState) -> np.ndarray:
    """Nengo 4.1's WhiteSignal table, the same draws in the same order."""
    n_coefficients = int(np.ceil(period / dt / 2.0))
    shape = (n_coefficients + 1, n)
    sigma = rms * np.sqrt(0.5)
    coefficients = 1j * rng.normal(0.0, sigma, size=shape)
    coefficients += rng.normal(0.0, sigma, size=shape)
    coefficients[0] = 0.0
    coefficients[-1].imag = 0.0
    set_to_zero = np.fft.rfftfreq(2 * n_coefficients, d=dt) > high
    coefficients[set_to_zero] = 0.0
    power_correction = np.sqrt(1.0 - np.sum(set_to_zero, dtype=float) / n_coefficients)
    if power_correction > 0.0:
        coefficients /= power_correction
    coefficients *= np.sqrt(2 * n_coefficients)
    signal = np.fft.irfft(coefficients, axis=0)
    if y0 is not None:  # each dimension starts where it is closest to y0 (t starts at dt)
        starts = np.argmin(np.abs(y0 - signal), axis=0)
        rows = (np.arange(len(signal))[:, None] + starts[None, :] - 1) % len(signal)
        signal = np.take_along_axis(signal, rows, axis=0)
    return signal


INTERPOLATIONS = ("zero", "linear", "nearest", "slinear", "quadratic", "cubic")
"""Piecewise's interpolations, Nengo's ('slinear', a first-order spline, is 'linear')."""
ZERO, LINEAR, NEAREST = 0, 1, 2
SPLINE_DEGREE = {"quadratic": 2, "cubic": 3}
MIN_TIMES = {"zero": 1, "linear": 2, "slinear": 2, "nearest": 2, "quadratic": 3, "cubic": 4}
"""The fewest times each interpolation takes (a spline of degree k: k + 1)."""


class Piecewise(Stepped):
    """A piecewise signal from ``{time: value}`` (Nengo's ``Piecewise``): with
    ``'zero'`` each value holds from its time on (zeros before the first); with
    ``'linear'``/``'slinear'``, ``'nearest'``, ``'quadratic'`` and ``'cubic'`` the values
    are interpolated as SciPy's ``interp1d`` does (in NumPy: ``snngraph.splines``), zeros
    outside the first and last times.

    ``Piecewise({0.5: 1, 0.75: -1})`` stores its data as rows ``[time, *value]``
    sorted by time (``times`` and ``values`` read them)."""

    _positional: ClassVar[tuple[str, ...]] = ("data", "interpolation")

    data: Array
    """``{time: value}`` (values: numbers or 1-D arrays, all the same size), stored as
    rows ``[time, *value]`` with increasing times."""
    interpolation: str = "zero"
    """'zero', 'linear', 'slinear', 'nearest', 'quadratic' or 'cubic'."""

    @field_validator("data", mode="before")
    @classmethod
    def _from_dict(cls, data: Any) -> Any:
        return piecewise_rows(data) if isinstance(data, dict) else data

    @field_validator("interpolation")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in INTERPOLATIONS:
            raise ValueError(f"one of {', '.join(map(repr, INTERPOLATIONS))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Piecewise:
        data = self.data
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] < 2:
            raise FieldError("data", data, "expected a non-empty dict {time: value} (or rows "
                             "[time, *value])")
        if np.any(np.diff(data[:, 0]) <= 0):
            raise FieldError("data", data, "expected rows in increasing time, each time once")
        needs = MIN_TIMES[self.interpolation]
        if len(data) < needs:
            raise FieldError("interpolation", self.interpolation,
                             f"expected at least {needs} times to interpolate "
                             f"{self.interpolation!r} (there are {len(data)}); or 'zero'")
        return self

    @property
    def times(self) -> np.ndarray:
        return self.data[:, 0]

    @property
    def values(self) -> np.ndarray:
        return self.data[:, 1:]

    def default_size_out(self, size_in: int) -> int:
        return self.values.shape[1]

    def reference(self, x, n_steps, n, dt, key):
        if self.interpolation in SPLINE_DEGREE:
            table = self.spline_table(dt)
            return table[np.minimum(np.arange(n_steps), len(table) - 1)]
        t = (np.arange(n_steps) + 1) * dt
        return np.stack([piecewise_value(ti, dt, self.times, self.values, self.mode())
                         for ti in t]).reshape(n_steps, -1)

    def spline_table(self, dt: float) -> np.ndarray:
        """The spline at the times of the steps until one past the last time (zeros
        from there on), ``[rows, n]``: the output at step ``t`` is row ``min(t, rows - 1)``."""
        rows = int(np.ceil(self.times[-1] / dt)) + 2
        at = (np.arange(rows) + 1) * dt
        return splines.interpolate(self.times, self.values,
                                   SPLINE_DEGREE[self.interpolation], at)

    def mode(self) -> int:
        return {"zero": ZERO, "linear": LINEAR, "slinear": LINEAR,
                "nearest": NEAREST}[self.interpolation]

    def kernel(self) -> Any:
        return held_table_step if self.interpolation in SPLINE_DEGREE else piecewise_step

    def kernel_params(self, dt: float, n: int) -> PiecewiseParams | TableParams:
        if self.interpolation in SPLINE_DEGREE:
            return TableParams(np.ascontiguousarray(self.spline_table(dt)))
        return PiecewiseParams(np.ascontiguousarray(self.times, float),
                               np.ascontiguousarray(self.values, float), self.mode(), float(dt))


def piecewise_rows(data: dict) -> np.ndarray:
    """``{time: value}`` as rows ``[time, *value]`` sorted by time."""
    if not data:
        raise FieldError("data", data, "expected a non-empty dict {time: value}")
    rows = []
    for time, value in data.items():
        if isinstance(time, bool) or not isinstance(time, int | float | np.integer |
                                                    np.floating):
            raise FieldError("data", data, f"expected times (numbers) as keys, got {time!r}")
        if callable(value):
            raise FieldError("data", data, f"expected numbers at time {time}, got a "
                             "callable (a description cannot hold code; use a Node "
                             "function for a signal that calls Python)")
        try:
            row = np.ravel(np.asarray(value, dtype=float))
        except (TypeError, ValueError):
            raise FieldError("data", data, f"expected numbers at time {time}, got "
                             f"{value!r}") from None
        if rows and row.size != rows[0].size - 1:
            raise FieldError("data", data, f"expected values of size {rows[0].size - 1} at "
                             f"every time; time {time} has size {row.size}")
        rows.append(np.concatenate([[float(time)], row]))
    return np.stack(sorted(rows, key=lambda r: r[0]))


class PiecewiseParams(NamedTuple):
    """``Piecewise``'s kernel parameters.

    Parameters
    ----------
    times : array
        The times, increasing, float64 ``[k]``.
    values : array
        The values, float64 ``[k, n]``.
    mode : int
        ``ZERO``, ``LINEAR`` or ``NEAREST``.
    dt : float
        The time step, seconds.
    """

    times: np.ndarray
    values: np.ndarray
    mode: int
    dt: float


@kernel_helper
def piecewise_row(t, dt, times, values, mode):
    """The (row, weight, row2) the value at time ``t`` mixes, or row -1 for zeros: Nengo's
    ``searchsorted(tp, t + dt / 2) - 1`` for 'zero', SciPy's ``interp1d`` indices
    otherwise (zeros outside ``[times[0], times[-1]]``)."""
    k = times.shape[0]
    if mode == ZERO:
        return np.searchsorted(times, t + 0.5 * dt) - 1, 0.0, 0
    if t < times[0] or t > times[k - 1]:
        return -1, 0.0, 0
    if mode == NEAREST:  # the first time whose midpoint with the next is not below t
        j = 0
        while j < k - 1 and 0.5 * (times[j] + times[j + 1]) < t:
            j += 1
        return j, 0.0, j
    lo = min(max(np.searchsorted(times, t) - 1, 0), k - 2)
    return lo, (t - times[lo]) / (times[lo + 1] - times[lo]), lo + 1


def piecewise_value(t: float, dt: float, times: np.ndarray, values: np.ndarray,
                    mode: int) -> np.ndarray:
    """The value at time ``t`` (``piecewise_row``'s rows mixed as SciPy does)."""
    j, w, j2 = piecewise_row(t, dt, times, values, mode)
    if j < 0:
        return np.zeros(values.shape[1])
    return values[j] + w * (values[j2] - values[j])


def held_table_step(x, out, table, seed, op_id, example0, t):
    """Row ``min(t, rows - 1)`` of the table, every example (the last row holds)."""
    row = min(t, table.shape[0] - 1)
    for b in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[b, i] = table[row, i]


def piecewise_step(x, out, times, values, mode, dt, seed, op_id, example0, t):
    j, w, j2 = piecewise_row((t + 1) * dt, dt, times, values, mode)
    for i in range(out.shape[1]):
        v = 0.0 if j < 0 else values[j, i] + w * (values[j2, i] - values[j, i])
        for b in range(out.shape[0]):
            out[b, i] = v
