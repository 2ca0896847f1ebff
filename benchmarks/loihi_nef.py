"""NEF models on the emulated Loihi: accuracy, cores and speed, against the numba runtime
and, with ``--peers``, side by side with NengoLoihi 1.1's emulator and Nengo 3.2.

The models of issue 19, as snngraph objects, each with a fixed input Node and a decoded
probe, written as ``peers/nengo_loihi_models.py`` writes them in Nengo (same neuron counts,
synapses, radii, functions, inputs and network seeds; the two libraries draw different
neurons from the same seed): communication channel (and a 2-D one of two 1000-neuron ensembles,
``channel_2d``), squaring, product (two 1-D ensembles into the slices of a 2-D one),
integrator, oscillator (2-D recurrent, 2.39 Hz), a neuron-to-neuron channel (weights
solver) read by an output Node, a PES-learned channel, the 10 x 500-neuron 16-D NEF chain,
and the integrator with its feedback through a Node (a chip -> host -> chip loop,
exchanged step by step). Neurons: LoihiLIF on the chip (decoders solved for the chip's
discretised rates, as NengoLoihi solves them for the nengo.LIF it puts on the chip), LIF
on numba (the float reference, like nengo.Simulator). Gains: Nengo's defaults, or
NengoLoihi's (``set_defaults()``: max_rates Uniform(100, 120), intercepts Uniform(-1, 0.5)).
Every ensemble is on the chip for the loihi backend.

Inputs, ideals and the error rule are in ``nef_signals.py`` (shared with the peer script):
RMSE of the decoded probe against the ideal (the input through the same Lowpass filters
and functions) after 0.1 s, after half the run for the PES channel; the oscillator
reports frequency and amplitude. Speed: simulated steps per wall second, median of
``--repeats`` runs after ``1 + --warmup`` untimed runs (build and kernel compilation
excluded), for the first of ``--seeds`` only: the other seeds run once, for accuracy.

    python benchmarks/loihi_nef.py [--models channel integrator] [--repeats 3]
    python benchmarks/loihi_nef.py --models channel_2d --loihi-decode weights
    python benchmarks/loihi_nef.py --peers /tmp/nl.jsonl   # peers' JSON lines from
        # /tmp/nengo-loihi-venv/bin/python benchmarks/peers/nengo_loihi_models.py
    python benchmarks/loihi_nef.py --seeds 0 1 2 3 4 > /tmp/ours.jsonl
    python benchmarks/loihi_nef.py --ours /tmp/ours.jsonl --peers /tmp/nl_seeds.jsonl

Prints one JSON line per model, gains, backend and seed, then (with ``--peers``) a table:
over several seeds, each accuracy is a mean ± sample standard deviation, and a second
table compares the means.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import nef_signals as sig
import numpy as np

import snngraph as sg
from snngraph.learning_rules import PES

BACKENDS = ("loihi", "numba")


def network(label: str, gains: str) -> sg.Network:
    """The seed is set by ``measure`` (read when the network is lowered)."""
    net = sg.Network(label=label)
    if gains == "nengoloihi":
        # NengoLoihi's set_defaults(): lower gains, so that with its one scale per core
        # the chip's weights keep their bits under long synapses (snngraph's threshold
        # profiles keep them at Nengo's gains too).
        net.config[sg.Ensemble].max_rates = sg.dists.Uniform(100, 120)
        net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, 0.5)
    return net


def ensemble(backend: str, *args, **kwargs) -> sg.Ensemble:
    """On the chip, LoihiLIF: its decoders are solved for the chip's discretised rates, as
    NengoLoihi solves them for a nengo.LIF it puts on the chip (plain LIF there keeps
    decoders for the float rates: 0.16 RMSE on the channel instead of 0.03). On numba,
    LIF: the float reference, as nengo.Simulator runs it."""
    neuron = sg.LoihiLIF() if backend == "loihi" else sg.LIF()
    return sg.Ensemble(*args, neuron_type=neuron, **kwargs)


def channel(gains: str, backend: str):
    with network("channel", gains) as net:
        stim = sg.Node(sig.sine, label="stim")
        a = ensemble(backend, 100, 1, label="A")
        b = ensemble(backend, 100, 1, label="B")
        sg.Connection(stim, a, synapse=0.005)
        sg.Connection(a, b, synapse=0.005)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, probe


def channel_2d(gains: str, backend: str):
    """A 2-D channel of two 1000-neuron ensembles (sine, cosine): full weights need 12
    cores, decode neurons 3 (docs/loihi_nef.md)."""
    with network("channel_2d", gains) as net:
        stim = sg.Node(lambda t: [sig.sine(t), sig.cosine(t)], label="stim")
        a = ensemble(backend, 1000, 2, label="A")
        b = ensemble(backend, 1000, 2, label="B")
        sg.Connection(stim, a, synapse=0.005)
        sg.Connection(a, b, synapse=0.005)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, probe


def squaring(gains: str, backend: str):
    with network("squaring", gains) as net:
        stim = sg.Node(sig.sine, label="stim")
        a = ensemble(backend, 100, 1, label="A")
        b = ensemble(backend, 100, 1, label="B")
        sg.Connection(stim, a, synapse=0.005)
        sg.Connection(a, b, function=np.square, synapse=0.005)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, probe


def product(gains: str, backend: str, sliced: bool = True):
    """Into the slices c[0], c[1]; ``product_transform`` writes the same model with
    transforms [[1], [0]] and [[0], [1]], the form NengoLoihi 1.1 accepts."""
    with network("product" if sliced else "product_transform", gains) as net:
        u = sg.Node(sig.sine, label="u")
        v = sg.Node(sig.cosine, label="v")
        a = ensemble(backend, 100, 1, label="A")
        b = ensemble(backend, 100, 1, label="B")
        c = ensemble(backend, 200, 2, radius=1.5, label="C")
        d = ensemble(backend, 100, 1, label="D")
        sg.Connection(u, a, synapse=0.005)
        sg.Connection(v, b, synapse=0.005)
        if sliced:
            sg.Connection(a, c[0], synapse=0.005)
            sg.Connection(b, c[1], synapse=0.005)
        else:
            sg.Connection(a, c, transform=[[1], [0]], synapse=0.005)
            sg.Connection(b, c, transform=[[0], [1]], synapse=0.005)
        sg.Connection(c, d, function=lambda x: x[0] * x[1], synapse=0.005)
        probe = sg.Probe(d, synapse=0.01, label="out")
    return net, probe


def product_transform(gains: str, backend: str):
    return product(gains, backend, sliced=False)


def integrator(gains: str, backend: str, tau: float = 0.1):
    with network("integrator", gains) as net:
        stim = sg.Node(sig.step_input, label="input")
        ens = ensemble(backend, 100, 1, label="integrator")
        sg.Connection(stim, ens, transform=tau, synapse=tau)
        sg.Connection(ens, ens, synapse=tau)
        probe = sg.Probe(ens, synapse=0.01, label="out")
    return net, probe


def node_integrator(gains: str, backend: str, tau: float = 0.1):
    """The integrator with its feedback through a Node function on the host (a chip ->
    host -> chip loop: the loihi backend exchanges spikes with the host every step)."""
    with network("node_integrator", gains) as net:
        stim = sg.Node(sig.step_input, label="input")
        ens = ensemble(backend, 100, 1, label="integrator")
        feedback = sg.Node(lambda t, x: x, size_in=1, label="feedback")
        sg.Connection(stim, ens, transform=tau, synapse=tau)
        sg.Connection(ens, feedback, synapse=0.005)
        sg.Connection(feedback, ens, synapse=tau)
        probe = sg.Probe(ens, synapse=0.01, label="out")
    return net, probe


def oscillator(gains: str, backend: str, tau: float = 0.1, kick_synapse: float = 0.005):
    """Nengo's oscillator at 2.39 Hz, kicked by [1, 0] for 0.1 s through a 5 ms synapse;
    ``oscillator_tau`` kicks through the recurrent synapse (0.1 s) instead, which gives
    the same state after the kick (the input enters as (1 - exp(-dt / tau)) u per step
    either way) and suits a chip compartment's single input filter."""
    w = sig.OSCILLATOR_OMEGA
    label = "oscillator" if kick_synapse != tau else "oscillator_tau"
    with network(label, gains) as net:
        stim = sg.Node(sig.kick, label="kick")
        ens = ensemble(backend, 200, 2, label="oscillator")
        sg.Connection(stim, ens, synapse=kick_synapse)
        sg.Connection(ens, ens, transform=[[1, w * tau], [-w * tau, 1]], synapse=tau)
        probe = sg.Probe(ens, synapse=0.01, label="out")
    return net, probe


def oscillator_tau(gains: str, backend: str):
    return oscillator(gains, backend, kick_synapse=0.1)


def neuron_channel(gains: str, backend: str):
    with network("neuron_channel", gains) as net:
        stim = sg.Node(sig.sine, label="stim")
        a = ensemble(backend, 100, 1, label="A")
        b = ensemble(backend, 100, 1, label="B")
        out = sg.Node(size_in=1, label="out")
        sg.Connection(stim, a, synapse=0.005)
        sg.Connection(a, b, solver=sg.LstsqL2(weights=True), synapse=0.005)
        sg.Connection(b, out, synapse=0.01)
        probe = sg.Probe(out, synapse=None, label="out")
    return net, probe


def pes_channel(gains: str, backend: str):
    with network("pes_channel", gains) as net:
        stim = sg.Node(sig.sine, label="stim")
        a = ensemble(backend, 100, 1, label="A")
        b = ensemble(backend, 100, 1, label="B")
        error = ensemble(backend, 100, 1, label="error")
        sg.Connection(stim, a, synapse=0.005)
        conn = sg.Connection(a, b, function=lambda x: 0.0, synapse=0.005,
                             learning_rule_type=PES(learning_rate=1e-4))
        sg.Connection(b, error, synapse=0.005)
        sg.Connection(stim, error, transform=-1, synapse=0.005)
        sg.Connection(error, conn.learning_rule, synapse=0.005)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, probe


def nef_chain(gains: str, backend: str):
    """nef_chain.py's chain: 10 ensembles x 500 neurons x 16-D, 5 ms synapses."""
    with network("nef_chain", gains) as net:
        prev = sg.Node(sig.chain_input, label="stim")
        for i in range(10):
            ens = ensemble(backend, 500, sig.CHAIN_DIMENSIONS, label=f"e{i}")
            sg.Connection(prev, ens, synapse=0.005)
            prev = ens
        probe = sg.Probe(prev, synapse=0.01, label="out")
    return net, probe


MODELS = {f.__name__: f for f in (channel, channel_2d, squaring, product, product_transform,
                                   integrator, oscillator, oscillator_tau, neuron_channel,
                                   pes_channel, nef_chain, node_integrator)}


def measure(model: str, gains: str, backend: str, seed: int, repeats: int, warmup: int,
            decode: str = "auto") -> dict:
    """``repeats=0``: accuracy only, from the first (untimed) run."""
    net, probe = MODELS[model](gains, backend)
    net.seed = seed
    steps = sig.STEPS[model]
    start = time.perf_counter()
    options = {"loihi_decode": decode} if backend == "loihi" else {}
    sim = sg.Simulator(net, backend=backend, progress_bar=False, **options)
    sim.run_steps(steps)  # untimed: compiles the kernels
    build_s = time.perf_counter() - start
    y = np.array(sim.data[probe][0])
    # More untimed runs: fuse='auto' compiles the fused step loop on a later run than the
    # first (a timed run right after the first one was 100x slower).
    for _ in range(warmup):
        sim.reset()
        sim.run_steps(steps)
    times = []
    for _ in range(repeats):
        sim.reset()
        start = time.perf_counter()
        sim.run_steps(steps)
        times.append(time.perf_counter() - start)
    out = {"peer": f"snngraph-{backend}", "model": model, "gains": gains, "seed": seed,
           "steps": steps, "build_and_first_run_s": round(build_s, 2)}
    if times:
        out["steps_per_s"] = round(steps / statistics.median(times))
        out["steps_per_s_all"] = [round(steps / t) for t in times]
    if model.startswith("oscillator"):
        out.update(sig.oscillation(y))
    else:
        out["rmse"] = round(sig.rmse(model, y), 5)
    if backend == "loihi":
        report = sim.resources()
        out["cores"] = report.cores
        out["synapses"] = sum(r["synapses"] for r in report.nef)
        out["host_onoff_neurons"] = sum(r["host_neurons"] for r in report.nef)
        out["loihi_decode"] = decode
        out["decode_neurons"] = sum(r["shape"][0] for r in report.nef
                                    if r["kind"] == "decoders into decode neurons")
        out["exchange"] = report.exchange.split(" (")[0].split(":")[1].strip()
        out["learning_synapses"] = sum(r["weights"] for r in report.learning
                                       if r["where"] == "chip")
    sim.close()
    return out


def run(model: str, gains: str, backend: str, seed: int, repeats: int, warmup: int,
        decode: str = "auto") -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = measure(model, gains, backend, seed, repeats, warmup, decode)
        except Exception as exc:  # a model the target refuses is a result too
            first = str(exc).splitlines()[0] if str(exc) else ""
            out = {"peer": f"snngraph-{backend}", "model": model, "gains": gains,
                   "seed": seed, "error": f"{type(exc).__name__}: {first}"}
    if caught:
        out["warnings"] = sorted({str(w.message).splitlines()[0][:160] for w in caught})
    return out


COLUMNS = (("nengo_loihi", "NengoLoihi emulator"), ("snngraph-loihi", "snngraph loihi"),
           ("nengo", "Nengo reference"), ("snngraph-numba", "snngraph numba"))


def cell(row: dict | None, field: str) -> str:
    """A speed or size field of one run."""
    value = None if row is None else row.get(field)
    return "-" if value is None else f"{value:,}"


def spread(values: list[float], digits: int) -> str:
    """The mean; over several seeds, ± their sample standard deviation."""
    mean = f"{statistics.fmean(values):.{digits}f}"
    return mean if len(values) == 1 else f"{mean} ± {statistics.stdev(values):.{digits}f}"


def accuracy(runs: list[dict], field: str) -> str:
    """RMSE (oscillator: frequency / amplitude) over a model's seeds: mean ± spread."""
    if not runs:
        return "-"
    failed = [r for r in runs if "error" in r]
    if failed:
        # A refusal names the object and a fix; anything else is a crash.
        error = failed[0]["error"]
        refused = error.startswith(("CompileError", "AssertionError"))
        return "refused" if refused else f"crash ({error.split(':')[0]})"
    if field == "freq":
        text = (f"{spread([r['freq_hz'] for r in runs], 2)} Hz / "
                f"{spread([r['amplitude'] for r in runs], 2)}")
    else:
        text = spread([r["rmse"] for r in runs], 4)
    warned = sum(bool(r.get("warnings")) for r in runs)
    if len(runs) > 1:
        text += f" ({len(runs)} seeds)"
    if warned:
        text += " (warned)" if len(runs) == 1 else f" (warned {warned}/{len(runs)})"
    return text


def group(rows: list[dict]) -> dict:
    """(model, gains, peer) -> its runs, one per seed, in the files' order (the first is
    the timed one), in the order of ``sig.STEPS``."""
    runs: dict = {}
    for r in sorted(rows, key=lambda r: (list(sig.STEPS).index(r["model"]), r["gains"])):
        runs.setdefault((r["model"], r["gains"], r["peer"]), []).append(r)
    return runs


def table(rows: list[dict]) -> str:
    """Markdown: per model and gains, each peer's RMSE (oscillator: frequency /
    amplitude) over its seeds, cores and steps/s of its first seed, and snngraph loihi's
    speed over NengoLoihi's."""
    runs = group(rows)
    keys = list(dict.fromkeys(k[:2] for k in runs))
    head = ["model", "gains"]
    for _, title in COLUMNS:
        head += [f"{title} RMSE"]
    head += ["cores NengoLoihi", "cores snngraph"]
    head += [f"{title} steps/s" for _, title in COLUMNS]
    head += ["speed snngraph loihi / NengoLoihi"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, gains in keys:
        field = "freq" if model.startswith("oscillator") else "rmse"
        row = [model, gains] + [accuracy(runs.get((model, gains, p), []), field)
                                for p, _ in COLUMNS]
        got = {p: runs.get((model, gains, p), [None])[0] for p, _ in COLUMNS}
        row += [cell(got["nengo_loihi"], "cores"), cell(got["snngraph-loihi"], "cores")]
        row += [cell(got[p], "steps_per_s") for p, _ in COLUMNS]
        nl, us = got["nengo_loihi"], got["snngraph-loihi"]
        ok = nl and us and "steps_per_s" in nl and "steps_per_s" in us
        row.append(f"{us['steps_per_s'] / nl['steps_per_s']:.1f}x" if ok else "-")
        lines.append("| " + " | ".join(row) + " |")
    if any(len(r) > 1 for r in runs.values()):
        lines += ["", comparison(runs, keys)]
    return "\n".join(lines)


def errors(runs: list[dict], model: str) -> list[float]:
    """Per seed: the RMSE, or the oscillator's frequency error (Hz)."""
    if model.startswith("oscillator"):
        return [abs(r["freq_hz"] - r["ideal_freq_hz"]) for r in runs if "error" not in r]
    return [r["rmse"] for r in runs if "error" not in r]


def comparison(runs: dict, keys: list) -> str:
    """Markdown: per model and gains, whether snngraph loihi's mean error is at most
    NengoLoihi's (the difference ± its standard error over the seeds), and snngraph
    loihi's mean over Nengo reference's; oscillators: frequency error |f - 2.39 Hz| and
    amplitude."""
    lines = ["| model | gains | seeds (snngraph loihi / NengoLoihi / Nengo) | "
             "snngraph loihi <= NengoLoihi (difference of means ± s.e.) | "
             "snngraph loihi / Nengo reference |", "|---|---|---|---|---|"]
    for model, gains in keys:
        us, nl, ref = (runs.get((model, gains, p), [])
                       for p in ("snngraph-loihi", "nengo_loihi", "nengo"))
        e_us, e_nl, e_ref = (errors(r, model) for r in (us, nl, ref))
        seeds = f"{len(e_us)} / {len(e_nl)} / {len(e_ref)}"
        verdict = ratio = "-"
        if e_us and e_nl:
            diff = statistics.fmean(e_us) - statistics.fmean(e_nl)
            se = sum(statistics.variance(e) / len(e) for e in (e_us, e_nl) if len(e) > 1)
            verdict = f"{'yes' if diff <= 0 else 'no'} ({diff:+.4f} ± {se ** 0.5:.4f})"
        if e_us and e_ref:
            if model.startswith("oscillator"):
                amp = [statistics.fmean(r["amplitude"] for r in side if "error" not in r)
                       for side in (us, ref)]
                ratio = (f"Δf {statistics.fmean(e_us):.3f} vs {statistics.fmean(e_ref):.3f} "
                         f"Hz, amplitude {amp[0] / amp[1]:.2f}x")
            else:
                ratio = f"{statistics.fmean(e_us) / statistics.fmean(e_ref):.2f}x"
        lines.append(f"| {model} | {gains} | {seeds} | {verdict} | {ratio} |")
    lines += ["", "Oscillators: the error is the frequency's, Δf = abs(f - 2.39 Hz); the "
              "amplitude is snngraph loihi's mean over Nengo reference's."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--gains", nargs="+", default=["nengo", "nengoloihi"],
                        choices=["nengo", "nengoloihi"])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed runs after the first, before the timed ones")
    parser.add_argument("--loihi-decode", default="auto",
                        choices=["auto", "weights", "decode_neurons"],
                        help="decoded connections between chip ensembles: full weights, "
                             "decode neurons, or the one needing fewer cores")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="network seeds; the first is timed, the others run once for "
                             "accuracy only")
    parser.add_argument("--peers", metavar="FILE",
                        help="JSON lines from peers/nengo_loihi_models.py: print a table "
                             "of theirs and these runs side by side")
    parser.add_argument("--ours", metavar="FILE",
                        help="JSON lines of an earlier run of this script, instead of "
                             "running the models again (with --peers)")
    args = parser.parse_args()
    rows = []
    if args.ours:
        with open(args.ours) as f:
            rows = [json.loads(line) for line in f if line.startswith("{")]
    else:
        for i, seed in enumerate(args.seeds):
            timed = (args.repeats, args.warmup) if i == 0 else (0, 0)
            for model in args.models:
                for gains in args.gains:
                    for backend in args.backends:
                        out = run(model, gains, backend, seed, *timed, args.loihi_decode)
                        rows.append(out)
                        print(json.dumps(out), flush=True)
    if args.peers:
        with open(args.peers) as f:
            rows += [json.loads(line) for line in f if line.startswith("{")]
        print(table(rows))


if __name__ == "__main__":
    main()
