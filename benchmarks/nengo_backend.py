"""Nengo models on Nengo 4.1's reference simulator and on snngraph.nengo.Simulator, side
by side in one run (the same nengo.Network object goes to both). Prints JSON: steps per
second of each (median of several runs, build excluded) and their ratio.

    pip install -e ".[test]"     # nengo 4.1 is a test/benchmark tool, not a dependency
    python benchmarks/nengo_backend.py [--repeats 5] [--seconds 1] [--model nef_chain]
                                       [--dtype float64]

Models: nef_chain (10 ensembles x 500 LIF neurons x 16 dimensions, 5 ms synapses, the
issue's measure), channel (one 100-neuron channel) and integrator (a recurrent ensemble).
snngraph runs op by op (``fuse=False``, as the Nengo suite runs it) and with the fused
loop (``fuse=True``); both are reported. ``--dtype float64`` runs snngraph in float64,
as Nengo computes (default: snngraph's float32).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import nengo
import numpy as np

import snngraph.nengo


def nef_chain(n_ensembles: int = 10, n_neurons: int = 500, dimensions: int = 16):
    with nengo.Network(seed=0, label="nef_chain") as net:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t * np.arange(1, dimensions + 1) / 4))
        prev = stim
        for _ in range(n_ensembles):
            ens = nengo.Ensemble(n_neurons, dimensions)
            nengo.Connection(prev, ens, synapse=0.005)
            prev = ens
        nengo.Probe(prev, synapse=0.01)
    return net


def channel():
    with nengo.Network(seed=0) as net:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        a, b = nengo.Ensemble(100, 1), nengo.Ensemble(100, 1)
        nengo.Connection(stim, a)
        nengo.Connection(a, b)
        nengo.Probe(b, synapse=0.01)
    return net


def integrator():
    with nengo.Network(seed=0) as net:
        stim = nengo.Node(lambda t: 1.0 if t < 0.1 else 0.0)
        a = nengo.Ensemble(200, 1)
        nengo.Connection(stim, a, transform=0.1, synapse=0.1)
        nengo.Connection(a, a, synapse=0.1)
        nengo.Probe(a, synapse=0.01)
    return net


MODELS = {"nef_chain": nef_chain, "channel": channel, "integrator": integrator}


def steps_per_s(make_sim, seconds: float, repeats: int) -> tuple[float, list[float]]:
    sim = make_sim()
    with sim:
        sim.run(seconds)  # warm up: kernels compiled, caches filled
        times = []
        for _ in range(repeats):
            sim.reset()
            start = time.perf_counter()
            sim.run(seconds)
            times.append(time.perf_counter() - start)
    steps = int(round(seconds / sim.dt))
    return steps / statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--model", choices=sorted(MODELS), default="nef_chain")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=None,
                        help="snngraph's precision (default: float32, its default)")
    args = parser.parse_args()
    net = MODELS[args.model]()
    runs = {
        "nengo": lambda: nengo.Simulator(net, progress_bar=False),
        "snngraph_op_by_op": lambda: snngraph.nengo.Simulator(
            net, progress_bar=False, fuse=False, dtype=args.dtype),
        "snngraph_fused": lambda: snngraph.nengo.Simulator(
            net, progress_bar=False, fuse=True, dtype=args.dtype),
    }
    result = {"benchmark": f"nengo_backend/{args.model}", "nengo": nengo.__version__,
              "snngraph_dtype": args.dtype or "float32"}
    for name, make in runs.items():
        rate, times = steps_per_s(make, args.seconds, args.repeats)
        result[f"{name}_steps_per_s"] = rate
        result[f"{name}_run_s_all"] = times
    for name in ("snngraph_op_by_op", "snngraph_fused"):
        result[f"{name}_vs_nengo"] = result[f"{name}_steps_per_s"] / result["nengo_steps_per_s"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
