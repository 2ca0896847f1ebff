"""Activity for the viewer: each layer's firing rates on the user's data, in the spiking
program and (for a network) in its rate equivalent, plus the chip's energy estimate.

Everything that can be wrong with the files is checked before anything runs, and the
page is written only after all of it succeeded, so a bad file never leaves a half page:
the data file must be an ``.npz`` holding the input (``x``, or one array per input
Node's label), the parameters file must have been saved from this network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snngraph.errors import SerializationError, SnnError

DEFAULT_STEPS = 30  # the workloads hold each test image for 30 steps of 1 ms
MAX_EXAMPLES = 50  # enough for rates; keeps a page quick to make


class ViewError(SnnError, ValueError):
    """A view cannot be made from the given files (names the file and the problem)."""


@dataclass
class Measured:
    """Per-neuron firing rates (Hz, mean over examples and steps) by spiking layer op."""

    examples: int
    steps: int
    spiking: dict[str, np.ndarray]
    rate: dict[str, np.ndarray] = field(default_factory=dict)
    """The rate network's rates for the same layers (empty for a compiled program)."""
    objects: dict[str, str] = field(default_factory=dict)
    """Layer op -> the user object it came from (``Ensemble 'conv0'``)."""
    activity: Any = None
    """The chip's counts (``loihi_report.Activity``) on the Loihi target."""
    no_rate: str = ""
    """Why there is no rate network to compare with (a recurrent loop, a program)."""


BACKENDS = {"cpu": "numba", "loihi": "loihi", "rate": "rate"}


def read_data(path: Any) -> dict[str, np.ndarray]:
    """The arrays of a data file: ``x`` (or arrays named by input Node labels), and
    optionally ``n_steps``. In memory, an array (the input ``x``) or a dict of them."""
    from snngraph import files

    if isinstance(path, np.ndarray):
        return {"x": path}
    if isinstance(path, dict):
        return {k: np.asarray(v) for k, v in path.items()}
    expected = "a data file (.npz with the input array 'x', written by np.savez)"
    if Path(path).suffix.lower() != ".npz":
        raise ViewError(f"--data {path}: expected an .npz file of input arrays (np.savez("
                        f"'{Path(path).stem}.npz', x=images)), got a "
                        f"{Path(path).suffix or 'suffix-less'} file")
    try:
        arrays = files.load_npz(path, expected)
    except SerializationError as exc:  # missing, truncated, pickled: said on its first line
        if not Path(path).is_file():
            raise ViewError(f"--data {exc}") from None  # its fix: check the path
        raise ViewError(f"--data {str(exc).splitlines()[0]}\n  fix: write it with np.savez("
                        f"'{Path(path).name}', x=images)") from None
    if not arrays:
        raise ViewError(f"--data {path}: holds no arrays; expected 'x' (the input, "
                        "[examples, size] or [examples, steps, size])")
    return arrays


def feeds_of(arrays: dict[str, np.ndarray], inputs: dict[str, Any], path: Any) -> Any:
    """The input to ``predict``: ``x`` for a network with one input, else the arrays
    named by the input Nodes' labels (``inputs``: label -> what ``predict`` takes)."""
    named = {k: v for k, v in arrays.items() if k != "n_steps"}
    if set(named) == {"x"}:
        if len(inputs) > 1:
            raise ViewError(f"--data {path}: 'x' is ambiguous, the network has "
                            f"{len(inputs)} inputs ({', '.join(inputs)})\n  fix: name each "
                            "array after its input Node's label")
        return named["x"]
    unknown = sorted(set(named) - set(inputs))
    if unknown:
        raise ViewError(f"--data {path}: array {unknown[0]!r} is not an input of the network "
                        f"(inputs: {', '.join(inputs) or 'none'}); expected 'x' or the input "
                        "Nodes' labels")
    return {inputs[k]: v for k, v in named.items()}


def steps_of(arrays: dict[str, np.ndarray], steps: int | None, path: Any) -> int | None:
    """Steps to run: ``steps`` if given, else the file's ``n_steps``, else the data's own
    (3-D arrays) or ``DEFAULT_STEPS``. None: the data's own steps."""
    if steps is None and "n_steps" in arrays:
        value = arrays["n_steps"]
        if value.shape != () or value.dtype.kind not in "iu" or int(value) < 1:
            raise ViewError(f"--data {path}: 'n_steps' must be one positive integer (got "
                            f"{value.dtype} of shape {value.shape})")
        steps = int(value)
    x = next(v for k, v in arrays.items() if k != "n_steps")
    if steps is None and x.ndim == 2:
        steps = DEFAULT_STEPS
    return steps


def measure(source: Any, target: str, params: Any, data: Any, steps: int | None = None,
            examples: int | None = None, **options: Any) -> tuple[Any, Measured | None]:
    """The program to show (compiled with the trained ``params`` when given) and, when
    ``data`` is given, what it measured. ``source``: a Network or a Program."""
    from snngraph.compiler.program import Program

    for flag, value in (("--steps", steps), ("--examples", examples)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ViewError(f"{flag}: expected a positive whole number (got {value!r})")
    examples = MAX_EXAMPLES if examples is None else examples
    if isinstance(source, Program) and params is not None:
        raise ViewError(f"--params {params}: a parameters file needs the network it was "
                        "saved from (a model .py or description document), not a compiled "
                        "program\n  fix: pass the model, or compile it with its parameters")
    arrays = read_data(data) if data is not None else None
    backend = BACKENDS[source.target if isinstance(source, Program) else target]
    sim = _simulator(source, backend, options)
    if params is not None:
        try:
            sim.load_params(params)
        except SnnError as exc:
            raise ViewError(f"--params {params}: {exc}") from None
    if arrays is None and steps is None:
        return sim.program, None
    if arrays is None:  # a network that makes its own input (Nengo's style): just run it
        return sim.program, _run(sim, source, None, steps, backend, options, params)
    label = data if isinstance(data, str | os.PathLike) else "(in memory)"
    x = _checked_feeds(sim, source, arrays, steps, examples, label)
    n_steps = steps_of(arrays, steps, label)
    return sim.program, _run(sim, source, x, n_steps, backend, options, params)


def _simulator(source: Any, backend: str, options: dict[str, Any]) -> Any:
    import snngraph as sg

    try:
        return sg.Simulator(source, backend=backend, progress_bar=False, **options)
    except SnnError as exc:
        raise ViewError(f"view: {exc}") from None


def _inputs(source: Any, program: Any) -> dict[str, Any]:
    """Input label -> what predict takes for it (the Node, or the input op's name)."""
    ir = program.ir
    if hasattr(source, "all_nodes"):
        ops = {i: ir.objects.get(id(node)) for i, node in enumerate(source.all_nodes)}
        return {(node.label or f"node{i}"): node for i, node in enumerate(source.all_nodes)
                if ops[i] in ir.graph and ir.op(ops[i]).op == "input"}
    return {op.name.lstrip("%"): op.name for op in ir.ops() if op.op == "input"}


def _checked_feeds(sim: Any, source: Any, arrays: dict[str, np.ndarray], steps: int | None,
                   examples: int, path: Any) -> Any:
    """The first ``examples`` examples of the data, checked against the network's inputs
    by the Simulator's own rules (before anything runs)."""
    x = feeds_of(arrays, _inputs(source, sim.program), path)
    x = {k: v[:examples] for k, v in x.items()} if isinstance(x, dict) else x[:examples]
    n_steps = steps_of(arrays, steps, path)
    try:
        sim._feeds(x, n_steps, None, exact=False)  # the Simulator's own checks, run early
    except SnnError as exc:
        raise ViewError(f"--data {path}: {exc}") from None
    return x


def _run(sim: Any, source: Any, x: Any, n_steps: int | None, backend: str,
         options: dict[str, Any], params: Any) -> Measured:
    import snngraph as sg

    program = sim.program
    probed, probes = with_probes(program, _measured_layers(program))
    with sg.Simulator(probed, backend=backend, progress_bar=False,
                      minibatch_size=_count(x)) as run:
        out = _predict(run, x, n_steps)
        chip = getattr(run._backend, "last_chip", None)  # the loihi backend's layer spikes
        activity = run.resources().activity if backend == "loihi" else None
    steps = n_steps or next(iter(out.values())).shape[1]
    spiking = {layer: _rates(program, layer, out[probe], program.ir.dt)
               for layer, probe in probes.items()}
    for layer, spikes in (chip or {}).items():  # per-neuron counts of every chip layer
        spiking[layer] = spikes.mean(axis=(0, 1)) / program.ir.dt
    order = [n for n in program.ir.schedule if n in spiking]
    measured = Measured(_count(x), steps, {n: spiking[n] for n in order}, activity=activity,
                        objects={n: _object(program.ir.op(n)) for n in order})
    if backend == "rate":
        measured.no_rate = "this is the rate network"
    elif not hasattr(source, "all_nodes"):
        measured.no_rate = "a compiled program; the rate network needs the model"
    elif _varies(x):
        measured.no_rate = ("the input changes over time, and the rate network computes "
                            "one steady state per input")
    else:
        try:
            measured.rate = _rate_rates(source, x, params, measured.objects, options)
        except SnnError as exc:  # e.g. a recurrent loop: no steady state to compare with
            measured.no_rate = str(exc).split("\n")[0]
    return measured


def _predict(sim: Any, x: Any, n_steps: int | None) -> Any:
    """``predict``'s results; without data, one run of ``n_steps`` of its own inputs."""
    if x is not None:
        return sim.predict(x, n_steps=n_steps, verbose=0)
    sim.run_steps(n_steps)
    return sim.data


def _count(x: Any) -> int:
    if x is None:
        return 1
    return len(next(iter(x.values())) if isinstance(x, dict) else x)


def _object(op: Any) -> str:
    return op.src[0].obj if op.src else op.name


def _measured_layers(program: Any) -> list[str]:
    """The neurons ops a probe can read: all of them, except on-chip ones (the emulator
    hands those over itself)."""
    return [op.name for op in program.ir.ops() if op.op == "neurons" and not op.chip]


def _rates(program: Any, layer: str, values: np.ndarray, dt: float) -> np.ndarray:
    """Per-neuron rate (Hz). A Nengo-style neuron outputs ``amplitude / dt`` per spike
    (``amplitude * rate`` as a rate neuron), so its mean output over the amplitude is
    its rate; a discrete-time type (snnTorch's, Norse's) outputs ``amplitude`` per
    spike, so that is spikes per step, divided by dt."""
    from snngraph.document import spec_from_dict

    op = program.ir.op(layer)
    neuron = spec_from_dict(op.neuron)
    amplitude = float(getattr(neuron, "amplitude", 1.0) or 1.0)
    per_step = 1.0 / dt if getattr(neuron, "discrete", False) else 1.0
    flat = values.reshape(values.shape[0], values.shape[1], -1)
    return flat.mean(axis=(0, 1)) / amplitude * per_step


def with_probes(program: Any, layers: list[str]) -> tuple[Any, dict[str, str]]:
    """A copy of ``program`` with a probe on each op of ``layers``; and layer -> probe."""
    from snngraph.compiler.passes.schedule import schedule
    from snngraph.compiler.program import Program
    from snngraph.schemas import ir as ops

    ir = program.ir.copy()
    probes = {}
    for name in layers:
        op = ir.op(name)
        probe = ir.fresh(f"{name.lstrip('%')}.view_probe")
        ir.add(ops.Probe(name=probe, shape=op.shape, kind=op.kind, target=name,
                         attr="output", label=probe.lstrip("%")), [name])
        probes[name] = probe
    schedule(ir, None)
    return Program(ir, program.target, program.passes, program.timings), probes


def _rate_rates(net: Any, x: Any, params: Any, objects: dict[str, str],
                options: dict[str, Any]) -> dict[str, np.ndarray]:
    """The rate network's per-neuron rates for the layers of ``objects`` (matched by the
    user object they came from), one step per example with the data held."""
    import snngraph as sg

    with sg.Simulator(net, backend="rate", progress_bar=False, **options) as rsim:
        if params is not None:
            rsim.load_params(params)  # checked already, by the spiking Simulator
        program = rsim.program
    layers = [op.name for op in program.ir.ops() if op.op == "neurons"]
    probed, probes = with_probes(program, layers)
    held = {k: _first_step(v) for k, v in x.items()} if isinstance(x, dict) else \
        None if x is None else _first_step(x)
    with sg.Simulator(probed, backend="rate", progress_bar=False,
                      minibatch_size=_count(x)) as run:
        out = _predict(run, held, 1)
    by_object = {_object(program.ir.op(n)): _rates(program, n, out[p], program.ir.dt)
                 for n, p in probes.items()}
    return {layer: by_object[obj] for layer, obj in objects.items() if obj in by_object}


def _first_step(a: np.ndarray) -> np.ndarray:
    """The rate network sees one step: a held input (``_varies`` is false)."""
    return a[:, :1] if a.ndim == 3 else a


def _varies(x: Any) -> bool:
    """Inputs that change over the steps (or none: the network's own, time-varying)."""
    if x is None:
        return True
    arrays = x.values() if isinstance(x, dict) else [x]
    return any(a.ndim == 3 and not np.array_equal(a, np.broadcast_to(a[:, :1], a.shape))
               for a in map(np.asarray, arrays))


def summary_rows(m: Measured) -> list[dict[str, Any]]:
    """Per layer: mean and maximum rate, the fraction of silent neurons and, with the
    rate network, its mean rate, the correlation of per-neuron rates and their RMS gap."""
    rows = []
    for layer, r in m.spiking.items():
        row = {"layer": layer, "object": m.objects.get(layer, layer), "neurons": int(r.size),
               "mean_hz": float(r.mean()), "max_hz": float(r.max()) if r.size else 0.0,
               "silent": float(np.mean(r == 0)) if r.size else 0.0,
               "histogram": histogram(r)}
        if layer in m.rate:
            q = m.rate[layer]
            row.update(rate_mean_hz=float(q.mean()), rms_gap_hz=float(
                np.sqrt(np.mean((q - r) ** 2))), correlation=_correlation(q, r))
        rows.append(row)
    return rows


def histogram(rates: np.ndarray, bins: int = 20) -> dict[str, Any]:
    top = float(rates.max()) if rates.size and rates.max() > 0 else 1.0
    counts, edges = np.histogram(rates, bins=bins, range=(0.0, top))
    return {"counts": counts.tolist(), "top": top}


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
