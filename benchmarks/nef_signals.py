"""The NEF benchmark models' inputs, ideal signals and error rule, shared by snngraph's
runs (``loihi_nef.py``) and NengoLoihi's (``peers/nengo_loihi_models.py``, which runs in
its own venv without snngraph): numpy only.

Every model has a fixed input Node and a decoded probe. The ideal is the model's own
mathematics with every synapse applied exactly as Nengo applies a Lowpass (zero-order hold,
one step of delay): what a network of ideal (Direct) ensembles outputs (checked against
Nengo's Direct mode to 1e-14; the integrator's ideal is the exact integral, which Direct
ensembles undershoot by 0.5 %, at most 0.005, since Nengo's discrete Lowpass scales the
recurrent input by (1 - exp(-dt / tau)) tau rather than dt). The error is
the RMSE of the decoded probe against that ideal after ``SKIP_S`` (0.1 s; the PES channel
after half its run, once learnt).
"""

from __future__ import annotations

import numpy as np

DT = 0.001
SKIP_S = 0.1
STEPS = {"channel": 2000, "channel_2d": 2000, "squaring": 2000, "product": 2000,
         "product_transform": 2000, "integrator": 6000, "oscillator": 3000,
         "oscillator_tau": 3000, "neuron_channel": 2000, "pes_channel": 4000,
         "nef_chain": 1000, "node_integrator": 6000}
INTEGRATOR_INPUT = [(0.2, 1.0), (1.0, 0.0), (2.0, -1.5), (3.0, 0.0), (4.0, 1.0), (5.0, 0.0)]
"""(time, value): Nengo's integrator example's input (piecewise constant from 0), with
-1.5 in place of its -2 so that the integral (0.8, -0.7, 0.3) stays inside the radius."""
OSCILLATOR_OMEGA = 15.0
"""rad/s: 2.39 Hz, the oscillator of issue 19."""
OSCILLATOR_KICK_S = 0.1
"""The oscillator's input is [1, 0] for its first 0.1 s, then 0 (Nengo's example)."""
CHAIN_DIMENSIONS = 16


def times(model: str) -> np.ndarray:
    """The simulation times of each step, as a Node sees them (dt, 2 dt, ...)."""
    return np.arange(1, STEPS[model] + 1) * DT


def lowpass(x: np.ndarray, tau: float) -> np.ndarray:
    """Nengo's Lowpass (zero-order hold, one step of delay) applied along axis 0."""
    x = np.asarray(x, dtype=float)
    a = np.exp(-DT / tau)
    out, y = np.empty_like(x), np.zeros_like(x[0])
    for i, v in enumerate(x):
        out[i] = y
        y = a * y + (1 - a) * v
    return out


def sine(t: float) -> float:
    return float(np.sin(2 * np.pi * t))


def cosine(t: float) -> float:
    return float(np.cos(2 * np.pi * t))


def step_input(t: float) -> float:
    value = 0.0
    for start, v in INTEGRATOR_INPUT:
        if t >= start:
            value = v
    return value


def kick(t: float) -> list[float]:
    return [1.0, 0.0] if t < OSCILLATOR_KICK_S else [0.0, 0.0]


def chain_input(t: float) -> np.ndarray:
    return np.sin(2 * np.pi * t * np.arange(1, CHAIN_DIMENSIONS + 1) / 4)


def ideal(model: str) -> np.ndarray:
    """The ideal probe signal (steps x dimensions) of a model. Synapses: 5 ms on every
    connection, 10 ms on the probe (the neuron channel's 10 ms is its connection into the
    output Node, whose probe has none); the integrator's tau is 0.1 s (the node
    integrator, whose feedback runs through a Node, has the same ideal)."""
    t = times(model)
    u = np.sin(2 * np.pi * t)[:, None]
    if model in ("channel", "neuron_channel", "pes_channel"):
        return lowpass(lowpass(lowpass(u, 0.005), 0.005), 0.01)
    if model == "channel_2d":
        uv = np.hstack([u, np.cos(2 * np.pi * t)[:, None]])
        return lowpass(lowpass(lowpass(uv, 0.005), 0.005), 0.01)
    if model == "squaring":
        return lowpass(lowpass(lowpass(u, 0.005) ** 2, 0.005), 0.01)
    if model in ("product", "product_transform"):
        v = np.cos(2 * np.pi * t)[:, None]
        a, b = (lowpass(lowpass(s, 0.005), 0.005) for s in (u, v))
        return lowpass(lowpass(a * b, 0.005), 0.01)
    if model in ("integrator", "node_integrator"):
        steps = np.array([step_input(s) for s in t])[:, None]
        return lowpass(np.cumsum(steps, axis=0) * DT, 0.01)
    if model == "nef_chain":
        x = np.array([chain_input(s) for s in t])
        for _ in range(10):
            x = lowpass(x, 0.005)
        return lowpass(x, 0.01)
    raise ValueError(f"ideal: no ideal signal for model {model!r} (the oscillator is "
                     "judged by its frequency and amplitude, see oscillation())")


def rmse(model: str, y: np.ndarray) -> float:
    """RMSE of a probe's decoded output (steps x dimensions) against ``ideal(model)``,
    after SKIP_S (after half the run for the PES channel, which learns first)."""
    y = np.asarray(y, dtype=float).reshape(STEPS[model], -1)
    skip = STEPS[model] // 2 if model == "pes_channel" else int(round(SKIP_S / DT))
    return float(np.sqrt(np.mean((y[skip:] - ideal(model)[skip:]) ** 2)))


def oscillation(y: np.ndarray, settle_s: float = 0.5) -> dict:
    """Frequency (Hz, the slope of the unwrapped phase of the decoded 2-D state) and
    amplitude (median radius) of an oscillator's decoded output after ``settle_s``."""
    y = np.asarray(y, dtype=float)[int(round(settle_s / DT)):]
    phase = np.unwrap(np.arctan2(y[:, 1], y[:, 0]))
    slope = np.polyfit(np.arange(len(phase)) * DT, phase, 1)[0]
    return {"freq_hz": round(float(abs(slope) / (2 * np.pi)), 4),
            "amplitude": round(float(np.median(np.hypot(y[:, 0], y[:, 1]))), 4),
            "ideal_freq_hz": round(OSCILLATOR_OMEGA / (2 * np.pi), 4)}
