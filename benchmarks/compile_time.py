"""Compile time of the workload networks (W1..W5), median of several runs, as JSON.

    python benchmarks/compile_time.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import example

import snngraph as sg

NETWORKS = {
    "W1": ("w1_spiking_mnist", "build", {}),
    "W2": ("w2_keras_to_loihi", "build", {}),
    "W3": ("w3_norse_recurrent", "build", {}),
    "W3-conv": ("w3_norse_recurrent", "build_conv", {}),
    "W4": ("w4_snntorch_conv", "build", {}),
    "W5": ("w5_snntorch_recurrent", "build", {}),
}


def measure(net, target: str, repeats: int) -> dict:
    times, passes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        program = sg.compile(net, target=target)
        times.append(time.perf_counter() - start)
        passes.append(program.timings)
    per_pass = {k: statistics.median(p[k] for p in passes) for k in passes[0]}
    return {"median_s": statistics.median(times), "min_s": min(times),
            "per_pass_median_s": per_pass, "ops": len(program.ir.graph)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    results = {}
    for name, (script, factory, kwargs) in NETWORKS.items():
        net = getattr(example(script), factory)(**kwargs)
        for target in ("cpu", "rate"):
            sg.compile(net, target=target)  # warm caches (imports) before timing
            results[f"{name}/{target}"] = measure(net, target, args.repeats)
    print(json.dumps({"benchmark": "compile_time", "repeats": args.repeats,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
