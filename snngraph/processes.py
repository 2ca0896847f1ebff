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
from pydantic import field_validator

from snngraph.base import Spec
from snngraph.draws import draw_key, draw_uniform, splitmix64  # noqa: F401 (kernels' helpers)
from snngraph.neurons.base import kernel_helper
from snngraph.schemas.base import Array, Float, PosFloat

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

    def kernel_params(self, dt: float) -> tuple:
        """The kernel's parameters (a NamedTuple: read by name)."""
        return ()

    def kernel_state(self, batch: int, n: int) -> tuple[np.ndarray, ...]:
        """Fresh state arrays, ``[batch, ...]`` each (reset to these values)."""
        return ()


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

    def kernel_params(self, dt: float) -> PresentParams:
        items = np.ascontiguousarray(self.inputs.reshape(len(self.inputs), -1), np.float32)
        return PresentParams(items, float(dt), float(self.presentation_time))


class PresentParams(NamedTuple):
    """``PresentInput``'s kernel parameters.

    Parameters
    ----------
    items : array
        The presented values, one flat float32 row per item.
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

    def kernel_params(self, dt: float) -> PoissonParams:
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

    def kernel_params(self, dt: float) -> LIFEncoderParams:
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
