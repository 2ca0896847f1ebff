"""The pass manager: passes registered by name, a pipeline per target, ``compile``.

A pass is a plain function ``(ir, options) -> None``. The manager runs ``lower`` and
then the target's passes, times each, and can print or dump the IR after any of them.
The loihi pipeline adds ``split_host_chip``, ``partition`` and ``discretize``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from snngraph.compiler.history import snapshot
from snngraph.compiler.ir import IR
from snngraph.compiler.lower import lower
from snngraph.compiler.ops import refuse_unsupported
from snngraph.compiler.passes.decode_neurons import check_option as check_decode_option
from snngraph.compiler.passes.discretize import discretize
from snngraph.compiler.passes.insert_synapses import as_synapse, insert_synapses
from snngraph.compiler.passes.nef_to_chip import ENCODINGS, nef_to_chip
from snngraph.compiler.passes.optimize import optimize
from snngraph.compiler.passes.partition import partition
from snngraph.compiler.passes.pes_to_chip import pes_to_chip
from snngraph.compiler.passes.plan_bptt import plan_bptt
from snngraph.compiler.passes.schedule import schedule
from snngraph.compiler.passes.split_host_chip import split_host_chip
from snngraph.compiler.passes.steady_state import steady_state
from snngraph.compiler.passes.swap_neurons import check_scale, check_swap, swap_neurons
from snngraph.compiler.program import Program

from snngraph.errors import CompileError, closest, keywords_checked, short_repr

PASSES: dict[str, Callable[[IR, Any], None]] = {}


def register_pass(name: str, fn: Callable[[IR, Any], None]) -> None:
    """Add a pass (a later module registers the Loihi passes this way)."""
    PASSES[name] = fn


for _name, _fn in [("swap_neurons", swap_neurons), ("insert_synapses", insert_synapses),
                   ("optimize", optimize), ("steady_state", steady_state),
                   ("schedule", schedule), ("pes_to_chip", pes_to_chip),
                   ("nef_to_chip", nef_to_chip),
                   ("split_host_chip", split_host_chip),
                   ("partition", partition), ("discretize", discretize),
                   ("plan_bptt", plan_bptt)]:
    register_pass(_name, _fn)

PIPELINES: dict[str, list[str]] = {
    "cpu": ["swap_neurons", "insert_synapses", "optimize", "schedule"],
    "rate": ["swap_neurons", "insert_synapses", "optimize", "steady_state", "schedule"],
    "loihi": ["swap_neurons", "insert_synapses", "optimize", "pes_to_chip", "nef_to_chip",
              "split_host_chip",
              "partition", "discretize", "schedule"],
}


@dataclass
class Options:
    """What the passes may be asked to do (``compile``'s keyword arguments)."""

    target: str
    swap: Any = None
    scale_firing_rates: Any = None
    synapse: Any = None
    lif_smoothing: float | None = None
    params: dict[str, Any] | None = None
    loihi_input_rate: float | None = None
    loihi_decode: Any = "auto"
    loihi_decode_neurons: Any = None
    loihi_input_encoding: str = "rectified"
    loihi_vth_profiles: int = 7


def compile(net: Any, target: str = "cpu", passes: list[str] | None = None,
            print_after: str | list[str] | None = None, dump_dir: str | Path | None = None,
            dt: float = 0.001, swap: Any = None, scale_firing_rates: Any = None,
            synapse: Any = None, lif_smoothing: float | None = 0.01,
            params: dict[str, Any] | None = None, loihi_input_rate: float | None = None,
            loihi_decode: Any = "auto", loihi_decode_neurons: Any = None,
            loihi_input_encoding: str = "rectified", loihi_vth_profiles: int = 7,
            file: TextIO | None = None) -> Program:
    """Lower ``net`` and run the target's passes; return the Program.

    ``swap``: ``{NeuronClass: replacement}``, or ``"rate"``/``"spike"`` (the rate target
    defaults to ``"rate"``). ``scale_firing_rates``: a number or ``{ensemble: number}``.
    ``synapse``: a default synapse for connections leaving spiking neurons.
    ``lif_smoothing``: for the rate target, the soft-threshold width of LIF gradients
    (NengoDL's option; ``None`` or 0 for the exact curve's gradient).
    ``params``: trained arrays by parameter key (``Simulator.fit`` passes them), used in
    place of the lowered values.
    ``loihi_input_rate``: Loihi target, the firing rate (Hz) of the on/off neurons that
    encode a host value into a chip ensemble, at a value of 1 in the ensemble's units
    (its radius); at most and by default ``1 / dt`` (one spike per step, what an axon
    carries). See docs/loihi_nef.md.
    ``loihi_decode``: Loihi target, how a decoded connection between two chip ensembles
    runs: ``'weights'`` (full neuron-to-neuron weights), ``'decode_neurons'``
    (NengoLoihi's on/off decode neurons on the chip, ``loihi_decode_neurons=
    sg.DecodeNeurons(...)`` their parameters) or ``'auto'`` (decode neurons where they
    need fewer cores); ``net.config[conn].loihi_decode`` overrides it per connection.
    ``loihi_input_encoding``: Loihi target, the host's on/off neurons: ``'rectified'``
    (gain ``rate``, bias 0: silent at zero) or ``'nengo_loihi'`` (NengoLoihi's: gain and
    bias ``rate / 2``, its spikes exactly).
    ``loihi_vth_profiles``: Loihi target, how many threshold profiles (scales) a core's
    neurons may use, 1 to 7: with more than 1 the neurons of an ensemble with varied gains
    keep more bits in their weights (docs/loihi_nef.md); 1 is NengoLoihi's one scale per
    core (its integers exactly).
    ``print_after``: a pass name, a list of them, or ``"all"`` (``"lower"`` included).
    """
    names = _pipeline(target, passes)
    _check_options(names, dt, swap, scale_firing_rates, synapse)
    _check_input_rate(names, dt, loihi_input_rate)
    check_decode_option(loihi_decode, loihi_decode_neurons)
    for option, value, default, needs in (
            ("loihi_decode", loihi_decode, "auto", "nef_to_chip"),
            ("loihi_decode_neurons", loihi_decode_neurons, None, "nef_to_chip"),
            ("loihi_input_encoding", loihi_input_encoding, "rectified", "nef_to_chip"),
            ("loihi_vth_profiles", loihi_vth_profiles, 7, "discretize")):
        if value != default and needs not in names:
            raise CompileError(f"compile: {option}={short_repr(value)} needs the "
                               f"'{needs}' pass (target='loihi'), which passes={names} "
                               "leaves out")
    if loihi_input_encoding not in ENCODINGS:
        raise CompileError(f"compile: loihi_input_encoding must be one of "
                           f"{', '.join(map(repr, ENCODINGS))} (got "
                           f"{short_repr(loihi_input_encoding)})\n  fix: leave it out "
                           "('rectified'), or 'nengo_loihi' for NengoLoihi's input spikes")
    if isinstance(loihi_vth_profiles, bool) or not isinstance(loihi_vth_profiles, int) or \
            not 1 <= loihi_vth_profiles <= 7:
        raise CompileError(f"compile: loihi_vth_profiles must be an integer from 1 to 7 (got "
                           f"{short_repr(loihi_vth_profiles)})\n  fix: leave it out (7), or 1 "
                           "for NengoLoihi's one scale per core")
    if lif_smoothing is not None and (isinstance(lif_smoothing, bool) or not isinstance(
            lif_smoothing, int | float) or not 0 <= lif_smoothing < float("inf")):
        raise CompileError(f"compile: lif_smoothing must be a non-negative number (got "
                           f"{short_repr(lif_smoothing)})")
    options = Options(target, swap if swap is not None or target != "rate" else "rate",
                      scale_firing_rates, synapse, lif_smoothing, params, loihi_input_rate,
                      loihi_decode, loihi_decode_neurons, loihi_input_encoding,
                      loihi_vth_profiles)
    show = _selected(print_after, ["lower", *names])
    timings: dict[str, float] = {}
    start = time.perf_counter()
    ir = lower(net, dt, params)
    if target in ("rate", "loihi"):
        refuse_unsupported(ir, target)
    timings["lower"] = time.perf_counter() - start
    _emit(ir, "lower", 0, len(names), target, show, dump_dir, file)
    stages = [snapshot(ir, "lower", 0)]  # for `snngraph view`
    for i, name in enumerate(names, 1):
        start, logged = time.perf_counter(), len(ir.log)
        PASSES[name](ir, options)
        timings[name] = time.perf_counter() - start
        stages.append(snapshot(ir, name, logged))
        _emit(ir, name, i, len(names), target, show, dump_dir, file)
    return Program(ir, target=target, passes=names, timings=timings, stages=stages)


compile = keywords_checked(compile, "compile")  # a misspelled keyword gets "did you mean"


def valid_dt(dt: Any) -> bool:
    """A time step in seconds: a positive, finite real number (not a bool)."""
    return not isinstance(dt, bool) and isinstance(dt, int | float) and 0 < dt < float("inf")


def _check_options(names: list[str], dt: Any, swap: Any, scale: Any, synapse: Any) -> None:
    """Reject bad options before any work, and options the chosen passes would ignore."""
    if not valid_dt(dt):
        raise CompileError(f"compile: dt must be a positive, finite number of seconds "
                           f"(got {dt!r})\n  fix: pass a number, e.g. dt=0.001 (1 ms, the "
                           "default), or another time step in seconds")
    check_swap(swap)
    if scale is not None:
        check_scale(scale)
    if synapse is not None:
        as_synapse(synapse)
    for option, value, needs in [("swap", swap, "swap_neurons"),
                                 ("scale_firing_rates", scale, "swap_neurons"),
                                 ("synapse", synapse, "insert_synapses")]:
        if value is not None and needs not in names:
            raise CompileError(f"compile: {option}={short_repr(value)} needs the {needs!r} "
                               f"pass, which passes={names} leaves out")


def _check_input_rate(names: list[str], dt: float, rate: Any) -> None:
    if rate is None:
        return
    if "nef_to_chip" not in names:
        raise CompileError(f"compile: loihi_input_rate={short_repr(rate)} needs the "
                           f"'nef_to_chip' pass (target='loihi'), which passes={names} "
                           "leaves out")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not (
            0 < rate <= 1.0 / dt * (1 + 1e-12)):
        raise CompileError(f"compile: loihi_input_rate must be a rate in Hz in (0, 1/dt = "
                           f"{1.0 / dt:g}] (got {short_repr(rate)}): an on/off neuron sends "
                           "at most one spike per step to the chip\n  fix: leave it out "
                           f"(1/dt), or pass a smaller rate such as {0.5 / dt:g}")


def _pipeline(target: str, passes: list[str] | None) -> list[str]:
    if not isinstance(target, str) or target not in PIPELINES:
        near = closest(target, PIPELINES)
        raise CompileError(f"compile: unknown target {target!r}; expected one of "
                           f"{', '.join(PIPELINES)}\n  fix: "
                           + (f"did you mean target={near!r}?" if near else
                              "target='cpu' (numba), 'rate' (training) or 'loihi'"))
    if passes is not None and (isinstance(passes, str) or not isinstance(passes, list | tuple)
                               or not all(isinstance(p, str) for p in passes)):
        raise CompileError(f"compile: passes must be a list of pass names (got "
                           f"{short_repr(passes)}); registered: {', '.join(PASSES)}")
    names = list(PIPELINES[target] if passes is None else passes)
    unknown = [n for n in names if n not in PASSES]  # every pipeline's passes are registered
    if unknown:
        raise CompileError(f"compile: unknown pass {unknown[0]!r}; registered passes: "
                           f"{', '.join(PASSES)}")
    chip_only = [n for n in names if n in PIPELINES["loihi"] and n not in PIPELINES["cpu"]]
    if target != "loihi" and chip_only:
        raise CompileError(f"compile: {chip_only[0]!r} is a Loihi pass; it needs "
                           f"target='loihi' (got target={target!r})")
    if names and names[-1] != "schedule" and "schedule" in names:
        raise CompileError("compile: 'schedule' must be the last pass")
    return names


def _selected(print_after: Any, names: list[str]) -> set[str]:
    if print_after is None:
        return set()
    if print_after == "all":
        return set(names)
    if not isinstance(print_after, str | list | tuple) or not all(
            isinstance(w, str) for w in ([print_after] if isinstance(print_after, str)
                                         else print_after)):
        raise CompileError(f"compile: print_after must be a pass name, a list of them or "
                           f"'all' (got {short_repr(print_after)})")
    wanted = [print_after] if isinstance(print_after, str) else list(print_after)
    unknown = [w for w in wanted if w not in names]
    if unknown:
        near = closest(unknown[0], [*names, "all"])
        raise CompileError(f"compile: print_after names {short_repr(unknown[0])}, which is not "
                           f"a pass of this pipeline ({', '.join(names)})"
                           + (f"\n  fix: did you mean print_after={near!r}?" if near else
                              "\n  fix: name one of those passes, or print_after='all'"))
    return set(wanted)


def _emit(ir: IR, name: str, i: int, n: int, target: str, show: set[str],
          dump_dir: Any, file: TextIO | None) -> None:
    if name not in show and dump_dir is None:
        return
    from snngraph.compiler.printer import to_text

    text = to_text(ir, target=target, stage=f"after pass {i}/{n}: {name}")
    if name in show:
        print(text, file=file or sys.stdout)
    if dump_dir is not None:
        folder = Path(dump_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:02d}_{name}.ir").write_text(text)
