"""NEF chain: 10 ensembles x 500 LIF neurons x 16 dimensions, identity connections with
5 ms synapses, 1 s simulated. Prints JSON: simulated seconds per wall second (median).

    python benchmarks/nef_chain.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import snngraph as sg


def build(n_ensembles: int = 10, n_neurons: int = 500, dimensions: int = 16) -> sg.Network:
    with sg.Network(seed=0, label="nef_chain") as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * t * np.arange(1, dimensions + 1) / 4),
                       label="stim")
        prev = stim
        for i in range(n_ensembles):
            ens = sg.Ensemble(n_neurons, dimensions, label=f"e{i}")
            sg.Connection(prev, ens, synapse=0.005)
            prev = ens
        sg.Probe(prev, synapse=0.01, label="out")
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    start = time.perf_counter()
    net = build()
    sim = sg.Simulator(net, progress_bar=False)
    build_s = time.perf_counter() - start
    sim.run(args.seconds)  # compile the kernels (and the fused step) before timing
    times = []
    for _ in range(args.repeats):
        sim.reset()
        start = time.perf_counter()
        sim.run(args.seconds)
        times.append(time.perf_counter() - start)
    run_s = statistics.median(times)
    steps = int(round(args.seconds / sim.dt))
    print(json.dumps({"benchmark": "nef_chain", "build_s": build_s, "run_s_median": run_s,
                      "run_s_all": times, "steps_per_s": steps / run_s,
                      "simulated_s_per_wall_s": args.seconds / run_s,
                      "nengo_reference_steps_per_s": 1860,
                      "ratio_to_nengo": steps / run_s / 1860}, indent=1))


if __name__ == "__main__":
    main()
