"""snngraph on a local Dask cluster against one process, side by side in one run:

1. W1 spiking inference (``predict``) on the MNIST test images (default 10,000) for 30
   steps: one process (its default threads), then 1 and 2 local worker processes of
   one thread each (``client=``); scaling efficiency = t(1 worker) / (2 x t(2 workers)).
2. A 16-point conversion sweep of W1 (``scale_firing_rates`` x ``synapse``, each point
   compiled and evaluated on ``--sweep-images`` test images): the same three ways.
3. Data-parallel training (``fit(client=)``): seconds per optimizer step for W1's rate
   training (minibatch 200) and for a tiny network whose compute is next to nothing,
   whose cluster time per step is the fixed overhead of one step (shipping the
   parameters, two tasks, gathering two gradients).

Every timing is the median of ``--repeats`` rounds, in which the three take turns (a
change in the machine's load then touches all three), after a warm-up job (compiling
here and on the workers is not timed). Prints JSON. The numbers depend on how busy the machine is.

    SNNGRAPH_DATA=/path/to/data python benchmarks/dask_scaling.py [--images 10000]

(Not benchmarks/distributed.py: run as a script, its folder comes first on the import
path, and a file of that name would hide the ``distributed`` package itself.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import numpy as np
from common import example, timed

import snngraph as sg

w1 = example("w1_spiking_mnist")


def cluster(workers: int) -> Any:
    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None)
    return local, Client(local)


def side_by_side(job: Any, warm: Any, repeats: int, clients: dict[str, Any]
                 ) -> dict[str, Any]:
    """``job(client)``'s median seconds with each client (None: one process), each
    after ``warm(client)`` (a small job that compiles here and on every worker). The
    clients take turns, round after round, so a change in the machine's load touches
    all of them alike."""
    for c in clients.values():
        warm(c)
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(repeats):
        for name, c in clients.items():
            times[name] += timed(lambda c=c: job(c), 1)[0]
    out: dict[str, Any] = {name: statistics.median(t) for name, t in times.items()}
    out["all"] = times
    out["speedup_2_workers_vs_1"] = out["1 worker"] / out["2 workers"]
    out["scaling_efficiency"] = out["speedup_2_workers_vs_1"] / 2
    out["speedup_2_workers_vs_one_process"] = out["one process"] / out["2 workers"]
    return out


def predict_job(x: np.ndarray, steps: int, minibatch: int) -> Any:
    sim = sg.Simulator(w1.build(), minibatch_size=minibatch, progress_bar=False)
    return lambda client: sim.predict(x, n_steps=steps, verbose=0, client=client)


GRID = {"scale_firing_rates": [1, 3, 10, 30], "synapse": [None, 0.001, 0.005, 0.01]}


def sweep_job(x: np.ndarray, y: np.ndarray, steps: int, grid: dict = GRID) -> Any:
    """Each point builds and compiles its own network (cached on disk by Numba after
    this script's first run) and evaluates it: that is what a sweep costs."""

    def build(scale_firing_rates: float = 1, synapse: float | None = None) -> sg.Simulator:
        return sg.Simulator(w1.build(), scale_firing_rates=scale_firing_rates,
                            synapse=synapse, minibatch_size=100, progress_bar=False)

    data = (np.broadcast_to(x[:, None], (len(x), steps, 784)), {"out_p_filt": y})
    return lambda client: sg.sweep(build, grid, data, client=client, verbose=0,
                                   metric=sg.metrics.Accuracy(last_step=True))


def tiny_net() -> tuple[sg.Network, sg.Probe]:
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4))
        h = sg.Layer(sg.Dense(8))(inp)
        h = sg.Layer(sg.RectifiedLinear())(h)
        probe = sg.Probe(sg.Layer(sg.Dense(3))(h))
    return net, probe


def training_job(net_of: Any, x: np.ndarray, y: np.ndarray, batch: int) -> Any:
    """Seconds per optimizer step of one epoch over ``x``."""
    def job(client: Any) -> float:
        net, probe = net_of()
        with sg.Simulator(net, minibatch_size=batch, progress_bar=False) as sim:
            start = time.perf_counter()
            sim.fit(x, {probe: y}, epochs=1, verbose=0, client=client, method="rate",
                    optimizer=sg.optim.RMSprop(lr=0.001), shuffle=False)
            return (time.perf_counter() - start) / (len(x) // batch)
    return job


def w1_net() -> tuple[sg.Network, sg.Probe]:
    net = w1.build()
    return net, next(p for p in net.all_probes if p.label == "out_p")


def per_step(job: Any, repeats: int, clients: dict[str, Any]) -> dict[str, Any]:
    """Median seconds per step of each client's fit, in turns as ``side_by_side``."""
    for c in clients.values():
        job(c)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(repeats):
        for name, c in clients.items():
            times[name].append(job(c))
    out: dict[str, Any] = {f"{name}_s_per_step": statistics.median(t)
                           for name, t in times.items()}
    out["all"] = times
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--minibatch", type=int, default=200)
    parser.add_argument("--sweep-images", type=int, default=500)
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    x = x_test[:args.images].reshape(-1, 784).astype(np.float32)  # raw 0..255 as W1
    one, two = cluster(1), cluster(2)
    clients = {"one process": None, "1 worker": one[1], "2 workers": two[1]}
    try:
        report: dict[str, Any] = {"benchmark": "distributed", "cpus": os.cpu_count(),
                                  "images": len(x), "steps": args.steps}
        warm = predict_job(x[:4 * args.minibatch], args.steps, args.minibatch)
        report["w1_predict_seconds"] = side_by_side(
            predict_job(x, args.steps, args.minibatch), warm, args.repeats, clients)
        report["w1_predict_seconds"]["images_per_s_2_workers"] = \
            len(x) / report["w1_predict_seconds"]["2 workers"]
        sx = x[:args.sweep_images]
        warm = sweep_job(sx[:100], y_test[:100], args.steps, {"synapse": [None, 0.005]})
        report["sweep_16_points_seconds"] = side_by_side(
            sweep_job(sx, y_test[:len(sx)], args.steps), warm, args.repeats, clients)
        n = args.train_images
        report["w1_rate_training"] = per_step(training_job(
            w1_net, x_train[:n].reshape(n, 1, 784).astype(np.float32), y_train[:n],
            args.minibatch), args.repeats, clients)
        rng = np.random.default_rng(0)
        tx = rng.random((400, 4)).astype(np.float32)
        report["tiny_net_training"] = per_step(training_job(
            tiny_net, tx, rng.integers(0, 3, 400), 20), args.repeats, clients)
    finally:
        for local, client in (one, two):
            client.close()
            local.close()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
