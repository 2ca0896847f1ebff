"""Nengo's classic models, written as in Nengo's documentation, run unchanged on
snngraph's Nengo backend and on Nengo 4.1's reference simulator: each model's decoded
error against what it should compute, side by side (ratio = snngraph / Nengo, over
several seeds).

    pip install -e ".[test]"       # nengo 4.1 comes with the test extras
    python examples/nengo_classics.py [--seeds 3] [--plot classics.png]

The models: communication channel, squaring, product, integrator, oscillator and
learning a communication channel with PES. Each ``build_*`` below is plain Nengo code;
only the Simulator class differs between the two runs.
"""

from __future__ import annotations

import argparse
import json

import nengo
import numpy as np

import snngraph.nengo


def build_channel():
    with nengo.Network() as model:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        a = nengo.Ensemble(100, dimensions=1)
        b = nengo.Ensemble(100, dimensions=1)
        nengo.Connection(stim, a)
        nengo.Connection(a, b)
        probe = nengo.Probe(b, synapse=0.01)
    return model, probe, lambda t: np.sin(2 * np.pi * t)[:, None]


def build_squaring():
    with nengo.Network() as model:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        a = nengo.Ensemble(100, dimensions=1)
        b = nengo.Ensemble(100, dimensions=1)
        nengo.Connection(stim, a)
        nengo.Connection(a, b, function=np.square)
        probe = nengo.Probe(b, synapse=0.01)
    return model, probe, lambda t: np.sin(2 * np.pi * t)[:, None] ** 2


def build_product():
    with nengo.Network() as model:
        stim_a = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        stim_b = nengo.Node(lambda t: np.cos(2 * np.pi * t))
        combined = nengo.Ensemble(200, dimensions=2, radius=1.5)
        prod = nengo.Ensemble(100, dimensions=1)
        nengo.Connection(stim_a, combined[0])
        nengo.Connection(stim_b, combined[1])
        nengo.Connection(combined, prod, function=lambda x: x[0] * x[1])
        probe = nengo.Probe(prod, synapse=0.01)
    return model, probe, lambda t: (np.sin(2 * np.pi * t) * np.cos(2 * np.pi * t))[:, None]


def build_integrator():
    tau = 0.1
    with nengo.Network() as model:
        stim = nengo.Node(nengo.processes.Piecewise({0: 0, 0.2: 1, 0.5: 0, 0.7: -1, 0.9: 0}))
        a = nengo.Ensemble(100, dimensions=1)
        nengo.Connection(stim, a, transform=tau, synapse=tau)
        nengo.Connection(a, a, synapse=tau)
        probe = nengo.Probe(a, synapse=0.01)

    def ideal(t):
        rate = np.select([t < 0.2, t < 0.5, t < 0.7, t < 0.9], [0, 1, 0, -1], 0)
        return np.cumsum(rate * (t[1] - t[0]))[:, None]
    return model, probe, ideal


def build_oscillator():
    tau, freq = 0.1, 1.0
    with nengo.Network() as model:
        kick = nengo.Node(lambda t: [1, 0] if t < 0.1 else [0, 0])
        osc = nengo.Ensemble(200, dimensions=2)
        nengo.Connection(kick, osc)
        nengo.Connection(osc, osc, transform=[[1, -tau * 2 * np.pi * freq],
                                               [tau * 2 * np.pi * freq, 1]], synapse=tau)
        probe = nengo.Probe(osc, synapse=0.05)
    # the ideal: unit-frequency rotation of the state after the kick (amplitude free), so
    # the score is the error of the radius against its mean after the first cycle
    return model, probe, None


def build_pes_channel():
    with nengo.Network() as model:
        stim = nengo.Node(nengo.processes.WhiteSignal(10, high=5, rms=0.3, seed=1))
        pre = nengo.Ensemble(100, dimensions=1)
        post = nengo.Ensemble(100, dimensions=1)
        error = nengo.Ensemble(100, dimensions=1)
        nengo.Connection(stim, pre)
        conn = nengo.Connection(pre, post, function=lambda x: [0],
                                learning_rule_type=nengo.PES(learning_rate=2e-4))
        nengo.Connection(post, error)
        nengo.Connection(stim, error, transform=-1)
        nengo.Connection(error, conn.learning_rule)
        probe = nengo.Probe(post, synapse=0.01)
        stim_probe = nengo.Probe(stim, synapse=0.01)
    return model, probe, stim_probe


MODELS = {"channel": build_channel, "squaring": build_squaring, "product": build_product,
          "integrator": build_integrator, "oscillator": build_oscillator,
          "pes_channel": build_pes_channel}
SECONDS = {"pes_channel": 10.0, "oscillator": 2.0}


def error(name: str, sim, probe, ideal) -> float:
    t, y = sim.trange(), sim.data[probe]
    if name == "oscillator":
        radius = np.linalg.norm(y[t > 1.0], axis=1)
        return float(np.sqrt(np.mean((radius - radius.mean()) ** 2)))
    if name == "pes_channel":
        late = t > SECONDS[name] - 2.0  # after learning
        return float(np.sqrt(np.mean((y[late] - sim.data[ideal][late]) ** 2)))
    return float(np.sqrt(np.mean((y - ideal(t)) ** 2)))


def run(name: str, simulator, seed: int, plot=None) -> float:
    model, probe, ideal = MODELS[name]()
    model.seed = seed
    with simulator(model, progress_bar=False) as sim:
        sim.run(SECONDS.get(name, 1.0))
    if plot is not None:
        plot.plot(sim.trange(), sim.data[probe])  # Nengo's documented plotting code
    return error(name, sim, probe, ideal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=sorted(MODELS))
    parser.add_argument("--plot", help="write a figure of snngraph's runs to this file")
    args = parser.parse_args()
    axes = None
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(len(args.models), 1, figsize=(6, 2 * len(args.models)))
        axes = np.atleast_1d(axes)
    results = {}
    for i, name in enumerate(args.models):
        ours = [run(name, snngraph.nengo.Simulator, s, None if axes is None or s else axes[i])
                for s in range(args.seeds)]
        theirs = [run(name, nengo.Simulator, s) for s in range(args.seeds)]
        results[name] = {"snngraph_rmse": float(np.mean(ours)),
                         "nengo_rmse": float(np.mean(theirs)),
                         "ratio": float(np.mean(ours) / np.mean(theirs))}
        print(name, json.dumps(results[name]), flush=True)
        if axes is not None:
            axes[i].set_title(name)
    if args.plot:
        fig.tight_layout()
        fig.savefig(args.plot)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
