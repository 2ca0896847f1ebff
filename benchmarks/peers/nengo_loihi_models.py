"""Issue 19's NEF models in plain Nengo (3.2 API), run on NengoLoihi 1.1's emulator and on
Nengo's own reference simulator; prints one JSON line per model, backend and gains.

Runs in the venv of ``setup_nengo_loihi.sh`` (NengoLoihi needs nengo 3.2 and numpy < 2; it
is never a dependency of snngraph):

    /tmp/nengo-loihi-venv/bin/python benchmarks/peers/nengo_loihi_models.py > /tmp/nl.jsonl
    python benchmarks/loihi_nef.py --peers /tmp/nl.jsonl     # snngraph's side, side by side

Models (inputs, ideals and the RMSE rule are in ``../nef_signals.py``, shared with
snngraph's runs): communication channel (and ``channel_2d``, two 1000-neuron 2-D
ensembles), squaring, product (two 1-D ensembles into the
slices of a 2-D one), integrator, oscillator (2-D, recurrent), a neuron-to-neuron channel
(weights solver) read by an output Node, a PES-learned channel, the 10 x 500-neuron
16-D NEF chain, and the integrator with its feedback through a Node (run without
precompute: host and chip exchange every step). Every ensemble is on the chip where
NengoLoihi allows it (its default).

Fields: ``rmse`` against the ideal (the oscillator: ``freq_hz`` and ``amplitude``);
``cores``: NengoLoihi's blocks after its splitting, one per core as its Greedy allocator
places them (``len(sim.model.blocks)``; the host-side spike inputs take none);
``steps_per_s``: median of ``--repeats`` runs, each in a new simulator, build excluded
(the first of ``--seeds`` only: the other seeds run once, for accuracy; ``seed`` is the
network's seed, 0 by default).
Gains: ``nengo`` (Nengo's defaults) or ``nengoloihi`` (``set_defaults()``'s max_rates
Uniform(100, 120) and intercepts Uniform(-1, 0.5), set on the network's config).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import nengo
import nengo_loihi
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import nef_signals as sig  # noqa: E402


def network(label: str, gains: str) -> nengo.Network:
    """The seed is set by ``measure`` (Nengo reads it when it builds the network)."""
    net = nengo.Network(label=label)
    if gains == "nengoloihi":
        net.config[nengo.Ensemble].max_rates = nengo.dists.Uniform(100, 120)
        net.config[nengo.Ensemble].intercepts = nengo.dists.Uniform(-1.0, 0.5)
    return net


def channel(gains: str):
    with network("channel", gains) as net:
        stim = nengo.Node(sig.sine, label="stim")
        a = nengo.Ensemble(100, 1, label="A")
        b = nengo.Ensemble(100, 1, label="B")
        nengo.Connection(stim, a, synapse=0.005)
        nengo.Connection(a, b, synapse=0.005)
        probe = nengo.Probe(b, synapse=0.01)
    return net, probe


def channel_2d(gains: str):
    """A 2-D channel of two 1000-neuron ensembles (sine, cosine)."""
    with network("channel_2d", gains) as net:
        stim = nengo.Node(lambda t: [sig.sine(t), sig.cosine(t)], label="stim")
        a = nengo.Ensemble(1000, 2, label="A")
        b = nengo.Ensemble(1000, 2, label="B")
        nengo.Connection(stim, a, synapse=0.005)
        nengo.Connection(a, b, synapse=0.005)
        probe = nengo.Probe(b, synapse=0.01)
    return net, probe


def squaring(gains: str):
    with network("squaring", gains) as net:
        stim = nengo.Node(sig.sine, label="stim")
        a = nengo.Ensemble(100, 1, label="A")
        b = nengo.Ensemble(100, 1, label="B")
        nengo.Connection(stim, a, synapse=0.005)
        nengo.Connection(a, b, function=np.square, synapse=0.005)
        probe = nengo.Probe(b, synapse=0.01)
    return net, probe


def product(gains: str, sliced: bool = True):
    """Nengo's product example: two 1-D ensembles into the slices ``c[0]``, ``c[1]`` of a
    2-D one, which decodes their product. NengoLoihi 1.1 refuses a post slice on any chip
    connection (a bare AssertionError, ``post_slice == slice(None)``), so
    ``product_transform`` writes the same model with transforms [[1], [0]] and [[0], [1]]."""
    with network("product" if sliced else "product_transform", gains) as net:
        u = nengo.Node(sig.sine, label="u")
        v = nengo.Node(sig.cosine, label="v")
        a = nengo.Ensemble(100, 1, label="A")
        b = nengo.Ensemble(100, 1, label="B")
        c = nengo.Ensemble(200, 2, radius=1.5, label="C")
        d = nengo.Ensemble(100, 1, label="D")
        nengo.Connection(u, a, synapse=0.005)
        nengo.Connection(v, b, synapse=0.005)
        if sliced:
            nengo.Connection(a, c[0], synapse=0.005)
            nengo.Connection(b, c[1], synapse=0.005)
        else:
            nengo.Connection(a, c, transform=[[1], [0]], synapse=0.005)
            nengo.Connection(b, c, transform=[[0], [1]], synapse=0.005)
        nengo.Connection(c, d, function=lambda x: x[0] * x[1], synapse=0.005)
        probe = nengo.Probe(d, synapse=0.01)
    return net, probe


def product_transform(gains: str):
    return product(gains, sliced=False)


def integrator(gains: str, tau: float = 0.1):
    with network("integrator", gains) as net:
        stim = nengo.Node(sig.step_input, label="input")
        ens = nengo.Ensemble(100, 1, label="integrator")
        nengo.Connection(stim, ens, transform=tau, synapse=tau)
        nengo.Connection(ens, ens, synapse=tau)
        probe = nengo.Probe(ens, synapse=0.01)
    return net, probe


def node_integrator(gains: str, tau: float = 0.1):
    """The integrator with its feedback through a Node function on the host (NengoLoihi
    runs it without precompute, exchanging with the chip every step)."""
    with network("node_integrator", gains) as net:
        stim = nengo.Node(sig.step_input, label="input")
        ens = nengo.Ensemble(100, 1, label="integrator")
        feedback = nengo.Node(lambda t, x: x, size_in=1, label="feedback")
        nengo.Connection(stim, ens, transform=tau, synapse=tau)
        nengo.Connection(ens, feedback, synapse=0.005)
        nengo.Connection(feedback, ens, synapse=tau)
        probe = nengo.Probe(ens, synapse=0.01)
    return net, probe


def oscillator(gains: str, tau: float = 0.1, kick_synapse: float = 0.005):
    """Nengo's oscillator at 2.39 Hz, kicked by [1, 0] for 0.1 s through a 5 ms synapse;
    ``oscillator_tau`` kicks through the recurrent synapse (0.1 s) instead, which gives
    the same state after the kick (the input enters as (1 - exp(-dt / tau)) u per step
    either way) and suits a chip compartment's single input filter."""
    w = sig.OSCILLATOR_OMEGA
    label = "oscillator" if kick_synapse != tau else "oscillator_tau"
    with network(label, gains) as net:
        stim = nengo.Node(sig.kick, label="kick")
        ens = nengo.Ensemble(200, 2, label="oscillator")
        nengo.Connection(stim, ens, synapse=kick_synapse)
        nengo.Connection(ens, ens, transform=[[1, w * tau], [-w * tau, 1]], synapse=tau)
        probe = nengo.Probe(ens, synapse=0.01)
    return net, probe


def oscillator_tau(gains: str):
    return oscillator(gains, kick_synapse=0.1)


def neuron_channel(gains: str):
    """A -> B as a full neuron-to-neuron weight matrix (a weights solver), B's decoded
    value read by a host Node (passthrough), probed without a synapse."""
    with network("neuron_channel", gains) as net:
        stim = nengo.Node(sig.sine, label="stim")
        a = nengo.Ensemble(100, 1, label="A")
        b = nengo.Ensemble(100, 1, label="B")
        out = nengo.Node(size_in=1, label="out")
        nengo.Connection(stim, a, synapse=0.005)
        nengo.Connection(a, b, solver=nengo.solvers.LstsqL2(weights=True), synapse=0.005)
        nengo.Connection(b, out, synapse=0.01)
        probe = nengo.Probe(out, synapse=None)
    return net, probe


def pes_channel(gains: str):
    """Nengo's learned communication channel: A -> B starts at 0 and learns B = u by PES
    from the error B - u, computed by an error ensemble."""
    with network("pes_channel", gains) as net:
        stim = nengo.Node(sig.sine, label="stim")
        a = nengo.Ensemble(100, 1, label="A")
        b = nengo.Ensemble(100, 1, label="B")
        error = nengo.Ensemble(100, 1, label="error")
        nengo.Connection(stim, a, synapse=0.005)
        conn = nengo.Connection(a, b, function=lambda x: 0.0, synapse=0.005,
                                learning_rule_type=nengo.PES(learning_rate=1e-4))
        nengo.Connection(b, error, synapse=0.005)
        nengo.Connection(stim, error, transform=-1, synapse=0.005)
        nengo.Connection(error, conn.learning_rule, synapse=0.005)
        probe = nengo.Probe(b, synapse=0.01)
    return net, probe


def nef_chain(gains: str):
    """benchmarks/nef_chain.py's chain: 10 ensembles x 500 neurons x 16-D, 5 ms synapses."""
    with network("nef_chain", gains) as net:
        prev = nengo.Node(sig.chain_input, label="stim")
        for i in range(10):
            ens = nengo.Ensemble(500, sig.CHAIN_DIMENSIONS, label=f"e{i}")
            nengo.Connection(prev, ens, synapse=0.005)
            prev = ens
        probe = nengo.Probe(prev, synapse=0.01)
    return net, probe


MODELS = {f.__name__: f for f in (channel, channel_2d, squaring, product, product_transform,
                                   integrator, oscillator, oscillator_tau, neuron_channel,
                                   pes_channel, nef_chain, node_integrator)}


def simulator(backend: str, net: nengo.Network):
    if backend == "nengo_loihi":
        return nengo_loihi.Simulator(net, dt=sig.DT, target="sim", progress_bar=False)
    return nengo.Simulator(net, dt=sig.DT, progress_bar=False)


def measure(model: str, gains: str, backend: str, repeats: int, seed: int) -> dict:
    """``repeats=0``: accuracy only, one untimed run."""
    steps = sig.STEPS[model]
    times, y, cores = [], None, None
    # NengoLoihi's simulator cannot reset, so each timed run is a new simulator; the
    # first run also warms up and is not timed.
    for i in range(repeats + 1):
        net, probe = MODELS[model](gains)
        net.seed = seed
        start = time.perf_counter()
        with simulator(backend, net) as sim:
            build_s = time.perf_counter() - start
            start = time.perf_counter()
            sim.run_steps(steps)
            if i:
                times.append(time.perf_counter() - start)
            else:
                y = np.array(sim.data[probe])
                first_build_s = build_s
                if backend == "nengo_loihi":
                    cores = len(sim.model.blocks)
    out = {"peer": backend, "model": model, "gains": gains, "seed": seed, "steps": steps,
           "build_s": round(first_build_s, 2)}
    if times:
        out["steps_per_s"] = round(steps / statistics.median(times))
        out["steps_per_s_all"] = [round(steps / t) for t in times]
    if model.startswith("oscillator"):
        out.update(sig.oscillation(y))
    else:
        out["rmse"] = round(sig.rmse(model, y), 5)
    if cores is not None:
        out["cores"] = cores
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--gains", nargs="+", default=["nengo", "nengoloihi"],
                        choices=["nengo", "nengoloihi"])
    parser.add_argument("--backends", nargs="+", default=["nengo_loihi", "nengo"],
                        choices=["nengo_loihi", "nengo"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="network seeds; the first is timed, the others run once for "
                             "accuracy only")
    args = parser.parse_args()
    versions = {"nengo": nengo.__version__, "nengo_loihi": nengo_loihi.__version__,
                "numpy": np.__version__}
    for i, seed in enumerate(args.seeds):
        repeats = args.repeats if i == 0 else 0
        for model in args.models:
            for gains in args.gains:
                for backend in args.backends:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            out = measure(model, gains, backend, repeats, seed)
                        except Exception as exc:  # a model NengoLoihi refuses is a result
                            out = {"peer": backend, "model": model, "gains": gains,
                                   "seed": seed, "error": f"{type(exc).__name__}: {exc}"}
                    out["versions"] = versions
                    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
