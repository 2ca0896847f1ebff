"""Malformed networks and compile options get a clear, tested error (issue 4).

- An algebraic loop (a cycle with no synapse or delay) fails at ``sg.compile`` with a
  ``sg.CompileError`` naming every user object on the loop with its creation site in this
  file and suggesting ``sg.Delay(1)``; the same loop with a delay or a Lowpass compiles.
- ``CASES``: other malformed inputs (bad targets, passes, options, networks, programs), each
  with the error type and the words its message must contain (the offending object, value
  or pass).
- A failing compile leaves the network as it was.

Cases where the package falls short are ``xfail(strict=True)`` with the reason; fixing the
package turns them into XPASS failures, which is the cue to drop the marker.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from snngraph.compiler.program import Program

import snngraph as sg
from snngraph.cli import main as cli_main

THIS_FILE = os.path.basename(__file__)


def _line() -> int:
    """The caller's line number (put it on the line that creates the object)."""
    return sys._getframe(1).f_lineno


def at(line: int) -> str:
    """How a message points at a line of this file."""
    return f"{THIS_FILE}:{line}"


# ====================================================================== algebraic loops
@dataclass
class Loop:
    """A network with one cycle; ``syn`` goes on the connection that may break it."""

    net: sg.Network
    objects: list[tuple[str, int]]
    """(name as messages show it, creation line) of the ensembles and nodes on the loop."""
    connections: list[tuple[str, int]]


def neurons_self_loop(syn: Any = None) -> Loop:
    w = 0.5 * np.eye(5)
    with sg.Network(seed=0, label="recurrent") as net:
        h, h_at = sg.Ensemble(5, 1, label="h"), _line()
        c_at = _line() + 1
        sg.Connection(h.neurons, h.neurons, transform=w, synapse=syn)
        sg.Probe(h.neurons, label="spikes")
    return Loop(net, [("Ensemble 'h'", h_at)],
                [("Connection from <Neurons of <Ensemble 'h'>> to <Neurons of <Ensemble 'h'>>",
                  c_at)])


def three_object_loop(syn: Any = None) -> Loop:
    with sg.Network(seed=0, label="triangle") as net:
        a, a_at = sg.Node(size_in=1, label="a"), _line()
        b, b_at = sg.Ensemble(20, 1, label="b"), _line()
        c, c_at = sg.Node(lambda t, x: -x, size_in=1, label="c"), _line()
        ab_at = _line() + 1
        sg.Connection(a, b, synapse=None, label="a_to_b")
        bc_at = _line() + 1
        sg.Connection(b, c, synapse=None, label="b_to_c")
        ca_at = _line() + 1
        sg.Connection(c, a, synapse=syn, label="c_to_a")
        sg.Probe(b, label="pb")
    return Loop(net, [("Node 'a'", a_at), ("Ensemble 'b'", b_at), ("Node 'c'", c_at)],
                [("Connection 'a_to_b'", ab_at), ("Connection 'b_to_c'", bc_at),
                 ("Connection 'c_to_a'", ca_at)])


def sliced_nested_loop(syn: Any = None) -> Loop:
    with sg.Network(seed=0, label="outer") as net:
        with sg.Network(label="sub"):
            x, x_at = sg.Node(size_in=2, label="x"), _line()
        y, y_at = sg.Node(size_in=2, label="y"), _line()
        xy_at = _line() + 1
        sg.Connection(x, y, transform=[[0.0, 1.0], [1.0, 0.0]], synapse=None, label="xy")
        yx_at = _line() + 1
        sg.Connection(y[0], x[1], synapse=syn, label="yx")
        sg.Probe(y, label="py")
    return Loop(net, [("Node 'x'", x_at), ("Node 'y'", y_at)],
                [("Connection 'xy'", xy_at), ("Connection 'yx'", yx_at)])


LOOPS = {"neurons-self-loop": neurons_self_loop, "three-objects": three_object_loop,
         "sliced-nested": sliced_nested_loop}


def _names_with_site(msg: str, name: str, line: int) -> bool:
    """Some line of ``msg`` names the object and where it was created."""
    return any(name in row and at(line) in row for row in msg.splitlines())


def _loop_error(build: Callable[..., Loop], target: str = "cpu") -> tuple[Loop, str]:
    loop = build()
    with pytest.raises(sg.CompileError) as info:
        sg.compile(loop.net, target=target)
    return loop, str(info.value)


@pytest.mark.parametrize("target", ["cpu", "rate"])
@pytest.mark.parametrize("build", LOOPS.values(), ids=LOOPS.keys())
def test_algebraic_loop_names_every_object_and_its_site(build, target):
    loop, msg = _loop_error(build, target)
    assert "algebraic loop" in msg
    for name, line in loop.objects:
        assert _names_with_site(msg, name, line), f"{name} at {at(line)} missing from:\n{msg}"
    assert "sg.Delay(1)" in msg


@pytest.mark.parametrize("build", LOOPS.values(), ids=LOOPS.keys())
def test_algebraic_loop_names_every_connection_and_its_site(build):
    loop, msg = _loop_error(build)
    for name, line in loop.connections:
        assert _names_with_site(msg, name, line), f"{name} at {at(line)} missing from:\n{msg}"


@pytest.mark.parametrize("target", ["cpu", "rate"])
@pytest.mark.parametrize("syn", [sg.Delay(1), sg.Lowpass(0.01)], ids=["Delay", "Lowpass"])
@pytest.mark.parametrize("build", LOOPS.values(), ids=LOOPS.keys())
def test_a_delay_or_synapse_on_the_loop_makes_it_compile(build, syn, target):
    program = sg.compile(build(syn).net, target=target)
    assert sorted(program.schedule) == sorted(program.ir.graph.nodes)
    assert any(op.op in ("synapse", "delay") for op in program.ir.ops())


def test_default_synapse_option_breaks_a_spiking_loop():
    """``synapse=0.005`` filters spikes leaving neurons, which breaks the loop on cpu."""
    program = sg.compile(neurons_self_loop().net, target="cpu", synapse=0.005)
    assert any(op.made_by == "insert_synapses" for op in program.ir.ops())


# ====================================================================== other bad inputs
def small(label: str = "small") -> sg.Network:
    """A valid network: a constant into a 1-D LIF ensemble decoded into a probed node."""
    with sg.Network(seed=0, label=label) as net:
        stim = sg.Node([0.5], label="stim")
        ens = sg.Ensemble(10, 1, label="ens")
        out = sg.Node(size_in=1, label="out")
        sg.Connection(stim, ens, label="in_conn")
        sg.Connection(ens, out, label="out_conn")
        sg.Probe(out, label="p")
    return net


def foreign_ensemble() -> sg.Ensemble:
    with sg.Network(label="other"):
        return sg.Ensemble(5, 1, label="foreign")


def leaky_decoded(probe: bool = False) -> sg.Network:
    with sg.Network(seed=0) as net:
        lk = sg.Ensemble(10, 1, neuron_type=sg.CubaLIF(tau_mem=0.0005), label="lk")
        if probe:
            sg.Probe(lk, label="pdec")
        else:
            sg.Connection(lk, sg.Node(size_in=1, label="o"), function=np.square, label="sq")
    return net


def decoded(function: Callable, label: str) -> sg.Network:
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(10, 1, label="e")
        out = sg.Node(size_in=1, label="o")
        sg.Connection(ens, out, function=function, label=label)
        sg.Probe(out, label="po")
    return net


def _boom_above_half(x: np.ndarray) -> np.ndarray:
    if x[0] > 0.5:
        raise ZeroDivisionError("boom")
    return x


def _ragged(x: np.ndarray) -> np.ndarray:
    return x if x[0] <= 0 else np.r_[x, x]


def _nan_above_half(x: np.ndarray) -> np.ndarray:
    return x if x[0] <= 0.5 else np.array([np.nan])


def too_fast(max_rates: Any) -> sg.Network:
    with sg.Network(seed=0) as net:
        sg.Ensemble(3, 1, neuron_type=sg.LIF(tau_ref=0.002), max_rates=max_rates, label="fast")
    return net


def cuba_decoded() -> sg.Network:
    with sg.Network(seed=0) as net:
        cb = sg.Ensemble(5, 1, neuron_type=sg.CubaLIF(), label="cb")
        sg.Connection(cb, sg.Node(size_in=1, label="o"), label="cbo")
    return net


def same_labels() -> sg.Network:
    with sg.Network(seed=0) as net:
        sg.Probe(sg.Ensemble(5, 1, label="ens").neurons)
        sg.Probe(sg.Ensemble(5, 1, label="ens").neurons)
    return net


def from_outside() -> sg.Network:
    ext = foreign_ensemble()
    with sg.Network(seed=0, label="main") as net:
        out = sg.Node(size_in=1, label="o")
        sg.Connection(ext, out, label="from_ext")
        sg.Probe(out)
    return net


def into_outside() -> sg.Network:
    with sg.Network(label="other"):
        ext = sg.Node(size_in=1, label="ext")
    with sg.Network(seed=0, label="main") as net:
        sg.Connection(sg.Node([1.0], label="o"), ext, label="to_ext")
    return net


def probe_outside() -> sg.Network:
    with sg.Network(label="other"):
        ext = sg.Node([1.0], label="ext")
    with sg.Network(seed=0, label="main") as net:
        sg.Node([1.0], label="o")
        sg.Probe(ext, label="pext")
    return net


def probe_connection_input() -> sg.Network:
    with sg.Network(seed=0) as net:
        a, b = sg.Node([1.0], label="a"), sg.Node(size_in=1, label="b")
        sg.Probe(sg.Connection(a, b, transform=2.0, label="c"), "input", label="pin")
    return net


def probed_neurons(neuron_type: sg.NeuronType) -> sg.Network:
    with sg.Network(seed=0) as net:
        sg.Probe(sg.Ensemble(5, 1, neuron_type=neuron_type, label="ens").neurons, label="pn")
    return net


def python_program(kind: str) -> Program:
    with sg.Network(seed=0) as net:
        out = sg.Node(size_in=1, label="o")
        if kind == "node":
            sg.Connection(sg.Node(lambda t: np.sin(t), label="sine"), out)
        else:
            sg.Connection(sg.Node([1.0], label="c"), out, function=np.square, label="sqconn")
        sg.Probe(out)
    return sg.compile(net)


def saved_program(tmp: Path, edit: Callable[[dict], Any] | None = None) -> Path:
    """``small()`` compiled and saved to ``tmp``; ``edit`` changes the saved JSON."""
    path = sg.compile(small()).save(tmp / "prog.json")
    if edit is not None:
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))
    return path


def _ghost_edge(doc: dict) -> None:
    doc["edges"].append(["%ghost", doc["ops"][0]["name"]])


def _ghost_schedule(doc: dict) -> None:
    doc["schedule"].append("%ghost")


def _ghost_param(doc: dict) -> None:
    for op in doc["ops"]:
        if op["op"] == "neurons":
            op["gain"] = "%ghost.gain"


def load_then_dump(path: Path) -> str:
    return Program.load(path).dump("text")


def network_document(tmp: Path) -> Path:
    with sg.Network(seed=0) as net:
        sg.Ensemble(5, 1)
    path = tmp / "net.json"
    sg.save(net, path)
    return path


def write(tmp: Path, name: str, text: str) -> Path:
    (tmp / name).write_text(text)
    return tmp / name


def bad_slice(kind: str) -> None:
    with sg.Network():
        a = sg.Ensemble(10, 3, label="a")
        n = sg.Node(np.zeros(20), label="img")
        b, c = sg.Node(size_in=3, label="b"), sg.Ensemble(8, 4, label="c")
        if kind == "pre":
            sg.Connection(n[:2], b, transform=np.ones((3, 3)), label="sl")
        elif kind == "post":
            sg.Connection(a, c[1:], transform=np.ones((2, 3)), label="sp")
        elif kind == "neurons":
            sg.Connection(a.neurons[:5], c.neurons[::2], transform=np.ones((5, 5)), label="sn")
        elif kind == "conv":
            conv = sg.Convolution(2, (4, 4, 1), kernel_size=(3, 3))
            sg.Connection(n[:15], sg.Node(size_in=8), transform=conv, label="cv")
        elif kind == "function":
            sg.Connection(a[1:], sg.Node(size_in=1), function=lambda x: x[2], label="oob")
        elif kind == "eval_points":
            sg.Connection(a[:2], b[:2], eval_points=np.zeros((10, 2)), label="ep")
        elif kind == "probe":
            sg.Probe(a[5], label="p5")


def bad_probe(kind: str) -> None:
    with sg.Network():
        ens = sg.Ensemble(10, 1, label="e")
        relu = sg.Ensemble(10, 1, neuron_type=sg.RectifiedLinear(), label="r")
        if kind == "ensemble":
            sg.Probe(ens, "spikes", label="ps")
        else:
            sg.Probe(relu.neurons, "voltage", label="pv")


@dataclass
class Case:
    id: str
    run: Callable[[Path], Any]
    exc: type[Exception]
    parts: tuple[str, ...]
    """Text the message must contain (the object, value or pass it is about)."""
    site: bool = False
    """The message must also point at this file (a user object's creation site)."""
    xfail: str | None = None


def compile_case(id: str, parts: tuple[str, ...], net: Callable[[], Any] = small,
                 exc: type[Exception] = sg.CompileError, site: bool = False,
                 xfail: str | None = None, **kwargs: Any) -> Case:
    return Case(id, lambda tmp: sg.compile(net(), **kwargs), exc, parts, site, xfail)


def case(id: str, run: Callable[[Path], Any], exc: type[Exception], *parts: str,
         site: bool = False, xfail: str | None = None) -> Case:
    return Case(id, run, exc, parts, site, xfail)


CE, VE, SE = sg.CompileError, sg.ValidationError, sg.SerializationError
LOIHI_WITHOUT_NEF = ["swap_neurons", "insert_synapses", "optimize", "split_host_chip",
                     "partition", "discretize", "schedule"]
"""The loihi pipeline without ``nef_to_chip``: a Node into a chip ensemble then fails."""

CASES = [
    # ---------------------------------------------------------------- targets and passes
    compile_case("target-unknown", ("'gpu'", "cpu", "rate", "loihi"), target="gpu"),
    compile_case("target-not-a-string", ("target", "['cpu']"), target=["cpu"]),
    compile_case("target-loihi-real-valued-input-to-chip-without-nef_to_chip",
                 ("Ensemble 'ens'", "real-valued input", "Node 'stim'", "'nef_to_chip'",
                  "on_chip = False"), target="loihi",
                 passes=LOIHI_WITHOUT_NEF),
    compile_case("pass-unknown", ("'fold'", "swap_neurons", "schedule"),
                 passes=["swap_neurons", "fold"]),
    compile_case("pass-loihi-only-on-cpu", ("'partition'",), passes=["partition"]),
    compile_case("passes-a-string-not-a-list", ("passes", "'optimize'"), passes="optimize"),
    compile_case("schedule-not-last", ("'schedule'", "last"), passes=["schedule", "optimize"]),
    compile_case("print-after-pass-not-in-pipeline", ("'optimize'", "lower, schedule"),
                 passes=["schedule"], print_after="optimize"),
    compile_case("print-after-unknown-in-list", ("'bogus'",), print_after=["lower", "bogus"]),
    compile_case("print-after-not-a-name", ("print_after", "3"), print_after=3),
    # ---------------------------------------------------------------- swap
    compile_case("swap-key-not-a-neuron-class", ("swap", "'LIF'"),
                 swap={"LIF": sg.LIFRate()}),
    compile_case("swap-value-a-synapse", ("swap", "Lowpass"), swap={sg.LIF: sg.Lowpass(0.1)}),
    compile_case("swap-value-a-number", ("swap", "3"), swap={sg.LIF: 3}),
    compile_case("swap-value-abstract-neuron-type", ("swap", "NeuronType"),
                 net=lambda: probed_neurons(sg.LIF()), swap={sg.LIF: sg.NeuronType}),
    compile_case("swap-unknown-string", ("'spiking'", "'rate'", "'spike'"), swap="spiking"),
    compile_case("swap-a-list", ("swap", "LIF"), swap=[sg.LIF]),
    # ---------------------------------------------------------------- scale_firing_rates
    *[compile_case(f"scale-firing-rates-{name}", ("scale_firing_rates", shown),
                   scale_firing_rates=value)
      for name, value, shown in [("zero", 0, "got 0"), ("negative", -2, "-2"),
                                 ("nan", float("nan"), "nan"), ("inf", float("inf"), "inf"),
                                 ("string", "2", "'2'"), ("bool", True, "True")]],
    compile_case("scale-firing-rates-foreign-ensemble",
                 ("scale_firing_rates", "Ensemble 'foreign'"),
                 scale_firing_rates={foreign_ensemble(): 2.0}),
    compile_case("scale-firing-rates-unknown-label", ("scale_firing_rates", "'nope'"),
                 scale_firing_rates={"nope": 2.0}),
    case("scale-firing-rates-a-node", lambda tmp: _scale_node(), CE,
         "scale_firing_rates", "Node 'stim'"),
    compile_case("scale-firing-rates-ambiguous-label", ("'ens'", "ambiguous"),
                 net=same_labels, scale_firing_rates={"ens": 2.0}),
    compile_case("scale-firing-rates-dict-value-zero",
                 ("scale_firing_rates['ens']", "got 0"),
                 scale_firing_rates={"ens": 0}),
    compile_case("scale-firing-rates-ignored-without-swap-pass", ("scale_firing_rates", "-1"),
                 passes=["schedule"], scale_firing_rates=-1),
    # ---------------------------------------------------------------- synapse and dt
    compile_case("synapse-a-word", ("synapse", "'fast'"), synapse="fast"),
    compile_case("synapse-negative", ("synapse", "-0.01"), synapse=-0.01),
    compile_case("synapse-nan", ("synapse", "nan"), synapse=float("nan")),
    compile_case("synapse-ignored-without-insert-pass", ("synapse", "'fast'"),
                 passes=["schedule"], synapse="fast"),
    compile_case("dt-zero", ("dt", "0"), dt=0),
    compile_case("dt-negative", ("dt", "-0.001"), dt=-0.001),
    compile_case("dt-nan", ("dt", "nan"), dt=float("nan")),
    compile_case("dt-string", ("dt", "'0.001'"), dt="0.001"),
    compile_case("dt-inf", ("dt", "inf"), dt=float("inf")),
    compile_case("dt-bool", ("dt", "True"), dt=True),
    # ---------------------------------------------------------------- what is compiled
    compile_case("not-a-network-ensemble", ("expected a Network", "Ensemble 'ens'"),
                 net=lambda: small().ensembles[0]),
    compile_case("not-a-network-document", ("expected a Network", "'format'"),
                 net=lambda: small().to_dict()),
    compile_case("not-a-network-none", ("expected a Network", "None"), net=lambda: None),
    compile_case("empty-network", ("Network 'empty'", "nothing to compile"),
                 net=lambda: sg.Network(label="empty")),
    compile_case("only-empty-subnetworks", ("Network 'outer'", "nothing to compile"),
                 net=lambda: _nested_empty()),
    compile_case("connection-from-outside-the-network", ("Connection 'from_ext'", "'foreign'"),
                 net=from_outside),
    compile_case("connection-into-outside-the-network", ("Connection 'to_ext'", "Node 'ext'"),
                 net=into_outside),
    compile_case("probe-outside-the-network", ("Probe 'pext'", "Node 'ext'"),
                 net=probe_outside),
    compile_case("loop-with-only-optimize", ("algebraic loop", "Node 'a'"),
                 net=lambda: three_object_loop().net, passes=["optimize", "schedule"]),
    # ---------------------------------------------------------------- neurons and NEF
    compile_case("decode-without-rate-curve", ("Connection 'sq'", "Ensemble 'lk'", "rate curve"),
                 net=leaky_decoded, site=True),
    compile_case("decoded-probe-without-rate-curve", ("Probe 'pdec'", "Ensemble 'lk'"),
                 net=lambda: leaky_decoded(probe=True), site=True),
    compile_case("decode-cuba-dt-too-long", ("Connection 'cbo'", "Ensemble 'cb'", "dt"),
                 net=cuba_decoded, dt=0.5, site=True),
    compile_case("rate-target-without-rate-curve", ("Ensemble 'ens'", "rate"),
                 net=lambda: probed_neurons(sg.CubaLIF(tau_mem=0.0005)), target="rate",
                 site=True),
    compile_case("function-raises-on-eval-points",
                 ("Connection 'fc'", "ZeroDivisionError", "boom", "evaluation point"),
                 net=lambda: decoded(_boom_above_half, "fc"), site=True),
    compile_case("function-ragged-on-eval-points", ("Connection 'rg'", "evaluation point"),
                 net=lambda: decoded(_ragged, "rg"), site=True),
    compile_case("function-nan-on-eval-points", ("Connection 'nan'", "nan"),
                 net=lambda: decoded(_nan_above_half, "nan"), site=True),
    compile_case("gain-bias-max-rates-above-1/tau_ref",
                 ("Ensemble 'fast'", "max_rates", "500"), site=True,
                 net=lambda: too_fast(sg.dists.Uniform(600, 700))),
    compile_case("gain-bias-one-max-rate-above-1/tau_ref",
                 ("Ensemble 'fast'", "max_rates", "600"), site=True,
                 net=lambda: too_fast([100.0, 200.0, 600.0])),
    # ---------------------------------------------------------------- construction
    case("probe-missing-attr-ensemble", lambda tmp: bad_probe("ensemble"), VE,
         "Probe 'ps'", "attr", "'spikes'", "decoded_output", site=True),
    case("probe-missing-attr-neurons", lambda tmp: bad_probe("neurons"), VE,
         "Probe 'pv'", "'voltage'", "output, input", site=True),
    case("probe-slice-out-of-range", lambda tmp: bad_slice("probe"), VE,
         "Ensemble 'a'", "[-3, 3)", "got 5", site=True),
    case("slice-pre-hides-shape", lambda tmp: bad_slice("pre"), VE,
         "Connection 'sl'", "(3, 2)", "shape=(3, 3)", site=True),
    case("slice-post-hides-shape", lambda tmp: bad_slice("post"), VE,
         "Connection 'sp'", "(3, 3)", "shape=(2, 3)", site=True),
    case("slice-neurons-hides-shape", lambda tmp: bad_slice("neurons"), VE,
         "Connection 'sn'", "(4, 5)", "shape=(5, 5)", site=True),
    case("slice-into-convolution", lambda tmp: bad_slice("conv"), VE,
         "Connection 'cv'", "15", "(4, 4, 1) (16)", site=True),
    case("slice-function-index", lambda tmp: bad_slice("function"), VE,
         "Connection 'oob'", "IndexError", "size 2", site=True),
    case("slice-eval-points", lambda tmp: bad_slice("eval_points"), VE,
         "Connection 'ep'", "(n_points, 3)", site=True),
    # ---------------------------------------------------------------- programs
    case("save-python-node", lambda tmp: python_program("node").save(tmp / "p.json"), SE,
         "%sine", "Node 'sine'", "Python function"),
    case("save-python-connection-function",
         lambda tmp: python_program("function").save(tmp / "p.json"), SE,
         "%sqconn.fn", "Connection 'sqconn'"),
    case("load-network-document", lambda tmp: Program.load(network_document(tmp)), SE,
         "net.json", "not a snngraph program"),
    case("load-not-json", lambda tmp: Program.load(write(tmp, "g.json", "{not json")), SE,
         "g.json", "not a snngraph program"),
    case("load-json-list", lambda tmp: Program.load(write(tmp, "l.json", "[1, 2]")), SE,
         "l.json", "not a snngraph program"),
    case("load-missing-file", lambda tmp: Program.load(tmp / "nope.json"), SE, "nope.json"),
    case("load-missing-npz",
         lambda tmp: Program.load(_without_npz(saved_program(tmp))), SE, "prog.npz"),
    case("load-edge-to-unknown-op",
         lambda tmp: load_then_dump(saved_program(tmp, _ghost_edge)), SE, "%ghost"),
    case("load-schedule-unknown-op",
         lambda tmp: load_then_dump(saved_program(tmp, _ghost_schedule)), SE, "%ghost"),
    case("load-missing-parameter",
         lambda tmp: load_then_dump(saved_program(tmp, _ghost_param)), SE, "%ghost.gain"),
    case("dump-unknown-format", lambda tmp: sg.compile(small()).dump("yaml"), VE,
         "'yaml'", "text, json or dot"),
]


def _nested_empty() -> sg.Network:
    with sg.Network(label="outer") as net:
        sg.Network(label="inner")
    return net


def _scale_node() -> Any:
    net = small()
    return sg.compile(net, scale_firing_rates={net.nodes[0]: 2.0})


def _without_npz(path: Path) -> Path:
    path.with_suffix(".npz").unlink()
    return path


def _param(c: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("c", [_param(c) for c in CASES])
def test_malformed_input_gets_a_clear_error(c: Case, tmp_path: Path):
    with pytest.raises(c.exc) as info:
        c.run(tmp_path)
    msg = str(info.value)
    for part in c.parts:
        assert part in msg, f"{part!r} missing from:\n{msg}"
    if c.site:
        assert f"{THIS_FILE}:" in msg, f"no creation site in:\n{msg}"


def test_there_are_at_least_15_other_malformed_inputs():
    assert len({c.id for c in CASES}) == len(CASES) >= 15


def test_probe_of_weights_without_weights_is_rejected_or_has_their_shape():
    with sg.Network(seed=0) as net:
        conn = sg.Connection(sg.Node([1.0], label="a"), sg.Node(size_in=1, label="b"),
                             label="c")
        sg.Probe(conn, "weights", label="pw")
    try:
        program = sg.compile(net, passes=["schedule"])
    except sg.CompileError as exc:
        assert "Probe 'pw'" in str(exc) and "Connection 'c'" in str(exc)
    else:
        probe = program.ir.op(program.op_of(net.probes[0]))
        assert probe.shape != (0,)


# ====================================================================== the command line
def _model(tmp: Path, body: str) -> str:
    path = tmp / "model.py"
    path.write_text("import numpy as np\nimport snngraph as sg\n" + body)
    return str(path)


PYTHON_NODE = ("with sg.Network(seed=0) as net:\n"
               "    out = sg.Node(size_in=1, label='o')\n"
               "    sg.Connection(sg.Node(lambda t: np.sin(t), label='sine'), out)\n"
               "    sg.Probe(out)\n")


@pytest.mark.parametrize("body, args, parts", [
    pytest.param(PYTHON_NODE, ["--print-after", "bogus"], ["CompileError", "'bogus'"],
                 id="print-after-unknown-pass"),
    pytest.param(PYTHON_NODE, ["--dump", "json", "-o", "{tmp}/out.json"],
                 ["SerializationError", "Node 'sine'"], id="save-python-node"),
])
def test_cli_compile_reports_errors_and_exits_1(body, args, parts, tmp_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert cli_main(["compile", _model(tmp_path, body), *args]) == 1
    err = capsys.readouterr().err
    for part in parts:
        assert part in err


def test_cli_compile_of_a_file_without_a_network(tmp_path, capsys):
    assert cli_main(["compile", _model(tmp_path, "x = 1\n")]) == 1
    assert "neither a Network named `net` nor a `build()`" in capsys.readouterr().err


def test_cli_inspect_of_a_network_document(tmp_path, capsys):
    assert cli_main(["inspect", str(network_document(tmp_path))]) == 1
    assert "not a snngraph program" in capsys.readouterr().err


# ====================================================================== nothing changes
def _unchanged_cases() -> dict[str, tuple[Callable[[], sg.Network], dict]]:
    loop = lambda: neurons_self_loop().net  # noqa: E731
    return {
        "algebraic-loop-after-swap-and-scale":
            (loop, {"target": "rate", "swap": {sg.LIF: sg.LIFRate()},
                    "scale_firing_rates": 2.0}),
        "gain-bias": (lambda: too_fast([600.0, 700.0, 800.0]), {}),
        "scale-firing-rates-unknown-label": (small, {"scale_firing_rates": {"nope": 2.0}}),
        "decode-without-rate-curve": (lambda: _leaky_plain(), {}),
        "loihi": (small, {"target": "loihi", "passes": LOIHI_WITHOUT_NEF}),
    }


def _leaky_plain() -> sg.Network:
    with sg.Network(seed=0) as net:
        lk = sg.Ensemble(10, 1, neuron_type=sg.CubaLIF(tau_mem=0.0005), label="lk")
        sg.Connection(lk, sg.Node(size_in=1, label="o"), label="lk_o")
    return net


@pytest.mark.parametrize("name", _unchanged_cases())
def test_a_failing_compile_leaves_the_network_unchanged(name):
    build, kwargs = _unchanged_cases()[name]
    net = build()
    before, objects = net.to_dict(), net.all_objects
    types = [e.neuron_type for e in net.all_ensembles]
    with pytest.raises(sg.CompileError) as first:
        sg.compile(net, **kwargs)
    assert net.to_dict() == before
    assert net.all_objects == objects
    assert [e.neuron_type for e in net.all_ensembles] == types
    with pytest.raises(sg.CompileError) as second:  # and the same error again
        sg.compile(net, **kwargs)
    assert str(second.value) == str(first.value)


def test_probe_of_a_connection_input_reads_its_pre_value():
    """Probing a connection's input is supported (as in Nengo): it reads the pre value."""
    program = sg.compile(probe_connection_input())
    probe = next(op for op in program.ir.ops() if op.op == "probe")
    assert probe.attr == "input" and program.ir.op(probe.target).op != "probe"
