"""NEF models on the emulated Loihi: accuracy, cores and speed against the numba runtime.

Two models, every ensemble on the chip (LoihiLIF neurons, the same network on both
backends), each with Nengo's default gains and with NengoLoihi's (``set_defaults()``:
max_rates Uniform(100, 120), intercepts Uniform(-1, 0.5)): the communication channel
(a 1 Hz sine Node -> A -> B -> decoded probe) and the integrator (Nengo's step input
into one recurrently connected ensemble, tau 0.1 s).
The error is the RMSE of the decoded probe against the ideal signal (the input through
the same Lowpass filters for the channel; the integral of the input, filtered by the
probe's synapse, for the integrator), after the first 0.1 s. Speed: simulated steps per
wall second, median of ``--repeats`` runs after one untimed run. Prints JSON.

    python benchmarks/loihi_nef.py [--neurons 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

import snngraph as sg

DT = 0.001
STEPS = {"channel": 2000, "integrator": 6000}
INTEGRATOR_INPUT = [(0.2, 1.0), (1.0, 0.0), (2.0, -1.5), (3.0, 0.0), (4.0, 1.0), (5.0, 0.0)]
"""(time, value): Nengo's integrator example's input (piecewise constant from 0), with
-1.5 in place of its -2 so that the integral (0.8, -0.7, 0.3) stays inside the radius."""


def loihi_defaults(net: sg.Network) -> None:
    """NengoLoihi's ``set_defaults()``: lower gains, so the chip's weights keep their bits
    under long synapses (without them the integrator's folded weights lose a third; the
    compiler warns)."""
    net.config[sg.Ensemble].max_rates = sg.dists.Uniform(100, 120)
    net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, 0.5)


def lowpass(x: np.ndarray, tau: float) -> np.ndarray:
    """Nengo's Lowpass (zero-order hold, one step of delay) applied to a signal."""
    a = np.exp(-DT / tau)
    out, y = np.empty_like(x), 0.0
    for i, v in enumerate(x):
        out[i] = y
        y = a * y + (1 - a) * v
    return out


def step_input(t: float) -> float:
    value = 0.0
    for start, v in INTEGRATOR_INPUT:
        if t >= start:
            value = v
    return value


def channel(n: int, gains: str) -> tuple[sg.Network, sg.Probe, np.ndarray]:
    with sg.Network(seed=0, label="channel") as net:
        if gains == "nengoloihi":
            loihi_defaults(net)
        stim = sg.Node(lambda t: np.sin(2 * np.pi * t), label="stim")
        a = sg.Ensemble(n, 1, neuron_type=sg.LoihiLIF(), label="A")
        b = sg.Ensemble(n, 1, neuron_type=sg.LoihiLIF(), label="B")
        sg.Connection(stim, a, synapse=0.005)
        sg.Connection(a, b, synapse=0.005)
        probe = sg.Probe(b, synapse=0.01, label="out")
    t = np.arange(1, STEPS["channel"] + 1) * DT
    ideal = lowpass(lowpass(lowpass(np.sin(2 * np.pi * t), 0.005), 0.005), 0.01)
    return net, probe, ideal


def integrator(n: int, gains: str, tau: float = 0.1) -> tuple[sg.Network, sg.Probe,
                                                               np.ndarray]:
    with sg.Network(seed=0, label="integrator") as net:
        if gains == "nengoloihi":
            loihi_defaults(net)
        stim = sg.Node(step_input, label="input")
        ens = sg.Ensemble(n, 1, neuron_type=sg.LoihiLIF(), label="integrator")
        sg.Connection(stim, ens, transform=tau, synapse=tau)
        sg.Connection(ens, ens, synapse=tau)
        probe = sg.Probe(ens, synapse=0.01, label="out")
    t = np.arange(1, STEPS["integrator"] + 1) * DT
    ideal = lowpass(np.cumsum([step_input(s) for s in t]) * DT, 0.01)
    return net, probe, ideal


def measure(net: sg.Network, probe: sg.Probe, ideal: np.ndarray, backend: str,
            repeats: int) -> dict:
    steps = len(ideal)
    start = time.perf_counter()
    sim = sg.Simulator(net, backend=backend, progress_bar=False)
    sim.run_steps(steps)  # untimed: compiles the kernels
    build_s = time.perf_counter() - start
    y = sim.data[probe][0, :, 0]
    times = []
    for _ in range(repeats):
        sim.reset()
        start = time.perf_counter()
        sim.run_steps(steps)
        times.append(time.perf_counter() - start)
    skip = int(0.1 / DT)
    out = {"rmse": float(np.sqrt(np.mean((y[skip:] - ideal[skip:]) ** 2))),
           "steps_per_s": round(steps / statistics.median(times)),
           "build_and_first_run_s": round(build_s, 2)}
    if backend == "loihi":
        report = sim.resources()
        out["cores"] = report.cores
        out["synapses"] = sum(r["synapses"] for r in report.nef)
        out["host_onoff_neurons"] = sum(r["host_neurons"] for r in report.nef)
    sim.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for name, build in (("channel", channel), ("integrator", integrator)):
        for gains in ("nengo", "nengoloihi"):
            with warnings.catch_warnings():  # the integrator at Nengo's gains warns
                warnings.simplefilter("ignore")
                net, probe, ideal = build(args.neurons, gains)
                results[f"{name}, {gains} gains"] = {
                    backend: measure(net, probe, ideal, backend, args.repeats)
                    for backend in ("numba", "loihi")}
    print(json.dumps({"neurons": args.neurons, "dt": DT, "results": results}, indent=2))


if __name__ == "__main__":
    main()
