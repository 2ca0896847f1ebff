"""Graphs exported by snngraph, for the peers' NIR importers to re-run (issue 20).

Run with snngraph's python; it writes ``<out>/<name>.nir`` and ``<out>/<name>.npz`` (the
layout ``benchmarks/peers/nir_fixtures.py check`` reads: ``input`` and ``spikes`` as
``[T, B, *NIR shape]``, ``dt``), the spikes being what snngraph's numba runtime gave on a
fixed input. Then the peers' python imports each file with snnTorch's and Norse's importers
and counts the spikes that differ:

    python benchmarks/nir_export_check.py --out /tmp/nir_export
    /tmp/peers/bin/python benchmarks/peers/nir_fixtures.py check /tmp/nir_export

Every model is exported at ``dt = 1e-4`` by forward Euler with neurons reset to zero in the
step of the spike, the only reading the two importers share (docs/nir_peers.md). Each is
written in the form one importer reads: ``snntorch_*`` as snnTorch writes its layers
(``sg.Leaky``: a LIF with ``r = tau/dt``, snnTorch's importer assumes ``dt = 1e-4``);
``norse_*`` as Norse writes them (``sg.NIRLIF`` with ``r = 1``, the input gain in the weights).
The table and what each importer fails on are in docs/nir_peers.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import snngraph as sg

DT = 1e-4
STEPS, BATCH = 60, 2


def _leaky(beta):
    return sg.Leaky(beta=beta, reset="zero")


def _norse_lif(tau):
    return sg.NIRLIF(tau=tau, r=1.0, v_threshold=1.0, v_reset=0.0)


def dense(neuron, gain, recurrent=False, n_in=8, n=6, seed=0):
    """input(8) -> Dense -> 6 neurons (-> Dense -> the same neurons, one step late)."""
    rng = np.random.default_rng(seed)
    with sg.Network(label="dense", seed=seed) as net:
        inp = sg.Node(np.zeros(n_in), label="input")
        ens = sg.Ensemble(n, 1, neuron_type=neuron, label="lif")
        sg.Connection(inp, ens.neurons, synapse=None,
                      transform=gain * rng.uniform(0.0, 0.6, (n, n_in)))
        if recurrent:
            sg.Connection(ens.neurons, ens.neurons, synapse=sg.Delay(1),
                          transform=gain * rng.normal(0.0, 0.3, (n, n)))
        sg.Probe(ens.neurons, label="output")
    return net


def conv(neuron, gain, seed=0):
    """input (8, 8, 1) -> Conv 3x3 'same' -> 4 channels of neurons -> Dense -> 5 neurons."""
    rng = np.random.default_rng(seed)
    with sg.Network(label="conv", seed=seed) as net:
        inp = sg.Node(np.zeros(64), label="input")
        c = sg.Ensemble(256, 1, neuron_type=neuron, label="conv_lif")
        kernel = gain * rng.uniform(-0.2, 0.8, (3, 3, 1, 4))
        sg.Connection(inp, c.neurons, synapse=None,
                      transform=sg.Convolution(4, (8, 8, 1), kernel_size=3, padding="same",
                                               init=kernel))
        out = sg.Ensemble(5, 1, neuron_type=neuron, label="lif")
        sg.Connection(c.neurons, out.neurons, synapse=None,
                      transform=gain * rng.uniform(-0.02, 0.03, (5, 256)))
        sg.Probe(out.neurons, label="output")
    return net


def conv_conv(neuron, gain, seed=0):
    """input (8, 8, 1) -> Conv 3x3 'same' -> 4 channels -> Conv 4x4 stride 4 -> (2, 2, 3):
    no Flatten (both importers flatten the batch with it)."""
    rng = np.random.default_rng(seed)
    with sg.Network(label="conv_conv", seed=seed) as net:
        inp = sg.Node(np.zeros(64), label="input")
        c = sg.Ensemble(256, 1, neuron_type=neuron, label="conv_lif")
        sg.Connection(inp, c.neurons, synapse=None, transform=sg.Convolution(
            4, (8, 8, 1), kernel_size=3, padding="same",
            init=gain * rng.uniform(-0.2, 0.8, (3, 3, 1, 4))))
        out = sg.Ensemble(12, 1, neuron_type=neuron, label="lif")
        sg.Connection(c.neurons, out.neurons, synapse=None, transform=sg.Convolution(
            3, (8, 8, 4), kernel_size=4, strides=4,
            init=gain * rng.uniform(-0.04, 0.05, (4, 4, 4, 3))))
        sg.Probe(out.neurons, label="output")
    return net


BETA = np.linspace(0.8, 0.95, 6)
TAU = DT / (1 - BETA)  # the same leak in both forms
MODELS = {
    # snnTorch's form: Leaky(beta) -> LIF(tau = dt/(1-beta), r = tau/dt); input gain 1
    "snntorch_leaky": lambda: dense(_leaky(BETA), 1.0),
    "snntorch_if": lambda: dense(_leaky(1.0), 0.5),
    "snntorch_rleaky": lambda: dense(_leaky(BETA), 1.0, recurrent=True),
    "snntorch_conv": lambda: conv(_leaky(0.9), 1.0),
    "snntorch_conv_conv": lambda: conv_conv(_leaky(0.9), 1.0),
    # Norse's form: LIF(tau, r = 1); the per-step gain dt/tau moved into the weights, so
    # tau is shared in the layers whose weights cannot carry a per-neuron gain
    "norse_lif": lambda: dense(_norse_lif(TAU), 1.0 / (DT / TAU[:, None])),
    "norse_lif_recurrent": lambda: dense(_norse_lif(TAU), 1.0 / (DT / TAU[:, None]),
                                         recurrent=True),
    "norse_conv": lambda: conv(_norse_lif(10 * DT), 10.0),
    "norse_conv_conv": lambda: conv_conv(_norse_lif(10 * DT), 10.0),
}


def input_for(net, seed=0):
    inp = next(o for o in net.all_nodes if o.label == "input")
    rng = np.random.default_rng(seed)
    return (rng.random((BATCH, STEPS, inp.size_out)) < 0.3).astype(np.float32)


def run(net, x):
    inp = next(o for o in net.all_nodes if o.label == "input")
    probe = next(p for p in net.all_probes if p.label == "output")
    with sg.Simulator(net, dt=DT, progress_bar=False, minibatch_size=len(x)) as sim:
        sim.run_steps(x.shape[1], data={inp: x})
        return sim.data[probe]


def nir_layout(arr, shape):
    """[B, T, n] (snngraph's flat, channels-last order) -> [T, B, *NIR shape]."""
    arr = np.moveaxis(arr, 0, 1)
    if len(shape) == 3:
        c, h, w = shape
        return arr.reshape(*arr.shape[:2], h, w, c).transpose(0, 1, 4, 2, 3)
    return arr.reshape(*arr.shape[:2], *shape)


def write(name, out):
    import nir

    net = MODELS[name]()
    path = out / f"{name}.nir"
    report = sg.nir.export(net, path, dt=DT, discretisation="euler")
    graph = nir.read(path)
    in_shape = tuple(int(s) for s in graph.nodes["input"].input_type["input"])
    out_shape = tuple(int(s) for s in graph.nodes["output"].output_type["output"])
    x = input_for(net)
    spikes = run(net, x)
    np.savez(out / f"{name}.npz", input=nir_layout(x, in_shape),
             spikes=nir_layout(spikes, out_shape), dt=np.float64(DT))
    print(f"{name:22s} {int(spikes.sum()):5d} spikes; " + "; ".join(
        line.split(" -> ", 1)[-1] for line in report.lines if "LIF" in line or "IF" in line))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/nir_export"))
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        write(name, args.out)


if __name__ == "__main__":
    main()
