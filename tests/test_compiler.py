"""The compiler end to end (issue 4): every workload network compiles for cpu and rate and
its text dump shows the expected ops, shapes, neuron types and modes; the dumps say what
the passes did (hoisting, swaps, scales, inserted synapses, folds, dead ops); compiling
is deterministic; programs survive save/load; ``print_after``/``dump_dir`` and the CLI
show the IR after every pass; and optimize's folds change no probed value."""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections import Counter
from functools import cache
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import load_example as example
from snngraph.compiler.pipeline import PIPELINES
from snngraph.compiler.program import Program
from snngraph.runtimes.reference import evaluate
from snngraph.schemas.export import load_schema

import snngraph as sg
from snngraph import cli

ROOT = Path(__file__).resolve().parents[1]
PASSES = ["swap_neurons", "insert_synapses", "optimize", "schedule"]
NO_OPTIMIZE = ["swap_neurons", "insert_synapses", "schedule"]


# ------------------------------------------------------------------ the workloads
IMAGES = (np.arange(3 * 784).reshape(3, 784) % 256).astype(np.float32)

# The variants of tests/test_examples.py: id -> (script, factory, kwargs).
CASES = {
    "w1": ("w1_spiking_mnist", "build", dict),
    "w1-lifrate": ("w1_spiking_mnist", "build",
                   lambda: {"neuron_type": sg.LIFRate(amplitude=0.01)}),
    "w2-relu": ("w2_keras_to_loihi", "build", dict),
    "w2-spiking-relu": ("w2_keras_to_loihi", "build",
                        lambda: {"neuron_type": sg.SpikingRectifiedLinear(),
                                 "scale_firing_rates": 100, "synapse": 0.005}),
    "w2-loihi-per-layer-scale": ("w2_keras_to_loihi", "build",
                                 lambda: {"neuron_type": sg.LoihiSpikingRectifiedLinear(),
                                          "synapse": 0.005,
                                          "scale_firing_rates": {"to-spikes": 2.5, "conv0": 4.0,
                                                                 "conv1": 8.0, "dense0": 20.0}}),
    "w2-loihi-on-chip": ("w2_keras_to_loihi", "build",
                         lambda: {"neuron_type": sg.LoihiSpikingRectifiedLinear(),
                                  "synapse": 0.005, "scale_firing_rates": 400,
                                  "block_shapes": True, "present_images": IMAGES}),
    "w3-constant-current": ("w3_norse_recurrent", "build",
                            lambda: {"encoder": "constant_current"}),
    "w3-poisson": ("w3_norse_recurrent", "build", lambda: {"encoder": "poisson"}),
    "w3-latency": ("w3_norse_recurrent", "build", lambda: {"encoder": "latency"}),
    "w3-conv": ("w3_norse_recurrent", "build_conv", dict),
    "w4": ("w4_snntorch_conv", "build", dict),
    "w5": ("w5_snntorch_recurrent", "build", dict),
}

W2_CONVS = [(28, 28, 3), (13, 13, 32), (6, 6, 64)]
W2_NEURONS = [2352, 5408, 2304, 100]
W3_RECURRENT = {"ops": {"linear": [(100,), (100,), (10,)], "process": [(784,)],
                        "delay": [(100,)]},
                "neurons": [("cubalif", 100), ("li", 10)]}

# What each dump must show. "ops": the shapes of every op of these kinds (exactly;
# conv2d, pool2d and linear are always checked, absent = none); "neurons": (type, size) of
# every neuron op, its mode following from the target and whether the type spikes.
EXPECTED = {
    "w1": {"ops": {"conv2d": [(26, 26, 32), (12, 12, 64), (5, 5, 128)], "linear": [(10,)]},
           "neurons": [("lif", 21632), ("lif", 9216), ("lif", 3200)]},
    "w1-lifrate": {"ops": {"conv2d": [(26, 26, 32), (12, 12, 64), (5, 5, 128)],
                           "linear": [(10,)]},
                   "neurons": [("lifrate", 21632), ("lifrate", 9216), ("lifrate", 3200)]},
    "w2-relu": {"ops": {"conv2d": W2_CONVS, "linear": [(100,), (10,)]},
                "neurons": [("rectifiedlinear", n) for n in W2_NEURONS]},
    "w2-spiking-relu": {"ops": {"conv2d": W2_CONVS, "linear": [(100,), (10,)],
                                "synapse": [(2352,), (5408,), (2304,), (100,)]},
                        "neurons": [("spikingrectifiedlinear", n) for n in W2_NEURONS]},
    "w2-loihi-per-layer-scale": {
        "ops": {"conv2d": W2_CONVS, "linear": [(100,), (10,)],
                "synapse": [(2352,), (5408,), (2304,), (100,)]},
        "neurons": [("loihispikingrectifiedlinear", n) for n in W2_NEURONS]},
    "w2-loihi-on-chip": {
        "ops": {"conv2d": W2_CONVS, "linear": [(100,), (10,)], "process": [(784,)],
                "input": [], "synapse": [(2352,), (5408,), (2304,), (100,)]},
        "neurons": [("loihispikingrectifiedlinear", n) for n in W2_NEURONS]},
    "w3-constant-current": W3_RECURRENT,
    "w3-poisson": W3_RECURRENT,
    "w3-latency": W3_RECURRENT,
    "w3-conv": {"ops": {"conv2d": [(24, 24, 20), (8, 8, 50)],
                        "pool2d": [(12, 12, 20), (4, 4, 50)], "linear": [(500,), (10,)],
                        "process": [(784,)]},
                # the rate target does not fold (training keeps every parameter): the
                # elementwise scale in front of the LIF layer stays
                "rate_ops": {"conv2d": [(24, 24, 20), (8, 8, 50)],
                             "pool2d": [(12, 12, 20), (4, 4, 50)],
                             "linear": [(500,), (10,), (3200,)], "process": [(784,)]},
                "neurons": [("cubalif", 11520), ("cubalif", 3200), ("cubalif", 500),
                            ("li", 10)]},
    "w4": {"ops": {"conv2d": [(24, 24, 12), (8, 8, 64)], "pool2d": [(12, 12, 12), (4, 4, 64)],
                   "linear": [(10,)]},
           "neurons": [("leaky", 1728), ("leaky", 1024), ("leaky", 10)]},
    "w5": {"ops": {"linear": [(128,), (128,), (10,), (10,)], "delay": [(128,), (10,)]},
           "neurons": [("leaky", 128), ("leaky", 10)]},
}
SPIKING_TYPES = {"lif", "spikingrectifiedlinear", "loihispikingrectifiedlinear", "cubalif",
                 "leaky"}
ALWAYS_CHECKED = ("conv2d", "pool2d", "linear")


@cache
def network(case: str) -> sg.Network:
    script, factory, kwargs = CASES[case]
    return getattr(example(script), factory)(**kwargs())


@cache
def compiled(case: str, target: str) -> Program:
    """Each workload compiled once per target (W1 and W2 are the big ones)."""
    return sg.compile(network(case), target=target)


# ------------------------------------------------------------------ reading the dump
OP_LINE = re.compile(r"^(%\S+)\s+: (real|spikes)\[([0-9,]*)\]\s+= ([\w.]+)\(([^)]*)\)\s*(.*)$")
FOOTER = re.compile(r"^# (\d+) ops, (\d+) edges; ([\d,]+) neurons; ([\d,]+) stored weights")


def parse(text: str) -> list[dict]:
    """The op lines of a text dump (with the notes printed under each)."""
    rows: list[dict] = []
    for line in text.splitlines():
        m = OP_LINE.match(line)
        if m:
            name, kind, shape, op, inputs, rest = m.groups()
            rows.append({"name": name, "kind": kind,
                         "shape": tuple(int(s) for s in shape.split(",") if s), "op": op,
                         "inputs": [i for i in inputs.split(", ") if i], "rest": rest,
                         "notes": []})
        elif line.startswith(" ") and line.strip().startswith("# ") and rows:
            rows[-1]["notes"].append(line.strip()[2:])
    return rows


def footer(text: str) -> tuple[int, int, int]:
    m = FOOTER.match(text.splitlines()[-1])
    assert m, text.splitlines()[-1]
    return int(m[1]), int(m[2]), int(m[3].replace(",", ""))


def log_lines(text: str) -> list[str]:
    """The ``# pass: ...`` log lines under the header."""
    return [line[2:] for line in text.splitlines()[1:] if line.startswith("# ")
            and not FOOTER.match(line)]


# ------------------------------------------------------------------ 1. every workload
TARGET_CASES = [pytest.param(case, target, id=f"{case}-{target}")
                for case in CASES for target in ("cpu", "rate")]


@pytest.mark.parametrize(("case", "target"), TARGET_CASES)
def test_workload_dump_shows_ops_shapes_and_neurons(case, target):
    program = compiled(case, target)
    text = program.dump(source=False)
    rows = parse(text)
    expected = EXPECTED[case]

    assert text.splitlines()[0].startswith("# snngraph IR") and f"target={target}" in text
    assert len(rows) == program.ir.graph.number_of_nodes()
    assert [r["name"] for r in rows] == program.schedule  # printed in schedule order

    for kind in {*ALWAYS_CHECKED, *expected["ops"]}:
        if target == "rate" and kind in ("synapse", "delay"):
            continue  # steady_state removes those not on a loop (checked below)
        shapes = sorted(r["shape"] for r in rows if r["op"] == kind)
        want_ops = expected.get(f"{target}_ops", expected["ops"])
        assert shapes == sorted(want_ops.get(kind, [])), (kind, text)
    if target == "rate":
        import networkx as nx

        on_loops = {n for c in nx.simple_cycles(program.ir.graph) for n in c}
        assert all(r["name"] in on_loops for r in rows if r["op"] in ("synapse", "delay"))

    neurons = [r for r in rows if "." in r["op"]]
    want = []
    for ntype, size in expected["neurons"]:
        mode = "spike" if target == "cpu" and ntype in SPIKING_TYPES else "rate"
        want.append((f"{ntype}.{mode}", (size,)))
    assert sorted((r["op"], r["shape"]) for r in neurons) == sorted(want), text
    for r in neurons:  # a neuron op's value kind follows its mode
        assert r["kind"] == ("spikes" if r["op"].endswith(".spike") else "real"), r

    n_ops, n_edges, n_neurons = footer(text)
    assert n_ops == len(rows)
    assert n_edges == program.ir.graph.number_of_edges()
    assert n_neurons == network(case).n_neurons
    assert f"{n_neurons:,} neurons" in program.summary()

    doc = json.loads(program.dump("json"))
    validator = jsonschema.Draft202012Validator(load_schema("ir.schema.json"))
    assert [e.message for e in validator.iter_errors(doc)] == []
    assert doc["target"] == target and doc["passes"] == PIPELINES[target]
    assert len(doc["ops"]) == n_ops and len(doc["edges"]) == n_edges


KIND_CASES = [
    pytest.param("w4", "cpu", None, id="w4-cpu-nothing-swapped"),
    pytest.param("w4", "rate", None, id="w4-rate"),
    pytest.param("w3-conv", "rate", None, id="w3-conv-rate"),
    pytest.param("w2-relu", "cpu", "swap", id="w2-swapped-to-spikes"),
]


@pytest.mark.parametrize(("case", "target", "swap"), KIND_CASES)
def test_value_kinds_follow_the_neurons_after_swapping(case, target, swap):
    """A probe of a neuron op's output, and a max-pool of it, carry that op's kind."""
    if swap:
        program = sg.compile(network(case), target=target,
                             swap={sg.RectifiedLinear: sg.SpikingRectifiedLinear()})
    else:
        program = compiled(case, target)
    ir = program.ir
    stale = []
    for name in program.schedule:
        op = ir.op(name)
        passes_on = (op.op == "probe" and op.attr == "output") or (
            op.op == "pool2d" and op.pool == "max")
        if passes_on:
            source = ir.op(ir.inputs(name)[0])
            if source.op in ("neurons", "pool2d") and source.kind != op.kind:
                stale.append(f"{name}: {op.kind}, reads {source.name}: {source.kind}")
    assert stale == []


# ------------------------------------------------------------------ 2. W1 hoisting
@pytest.mark.parametrize("target", ["cpu", "rate"])
def test_w1_input_convolution_is_hoisted_out_of_the_step(target):
    program = compiled("w1", target)
    text = program.dump(source=False)
    rows = parse(text)
    convs = [r for r in rows if r["op"] == "conv2d"]
    first, later = convs[0], convs[1:]
    assert first["inputs"] == ["%input"] and first["shape"] == (26, 26, 32)
    assert "every=presentation" in first["rest"]
    assert any(n.startswith("hoisted") for n in first["notes"])
    assert f"optimize: hoisted {first['name']} out of the per-step loop" in log_lines(text)
    assert program.ir.op(first["name"]).every == "presentation"

    assert len(later) == 2
    for r in later + [r for r in rows if "." in r["op"] or r["op"] == "linear"]:
        assert "every=presentation" not in r["rest"], r
        assert not any("hoisted" in n for n in r["notes"]), r
        assert program.ir.op(r["name"]).every == "step"
    dot = program.dump("dot")
    assert re.search(rf'"{re.escape(first["name"])}" \[label=.*style=dashed\];', dot)

    unoptimized = sg.compile(network("w1"), target=target, passes=NO_OPTIMIZE)
    assert "every=presentation" not in unoptimized.dump(source=False)
    assert "hoisted" not in unoptimized.dump(source=False)


# ------------------------------------------------------------------ 3. swaps and scales
def w2_ensemble(net: sg.Network, label: str) -> sg.Ensemble:
    return next(e for e in net.all_ensembles if e.label == label)


@cache
def w2_swapped(target: str = "cpu", synapse=None) -> Program:
    return sg.compile(network("w2-relu"), target=target,
                      swap={sg.RectifiedLinear: sg.SpikingRectifiedLinear()},
                      scale_firing_rates=100, synapse=synapse)


def test_w2_swap_and_scale_are_visible_in_the_dump():
    program = w2_swapped()
    text = program.dump(source=False)
    neurons = [r for r in parse(text) if "." in r["op"]]
    assert [r["op"] for r in neurons] == ["spikingrectifiedlinear.spike"] * 4
    for r in neurons:
        assert r["kind"] == "spikes"
        assert "swapped RectifiedLinear -> SpikingRectifiedLinear [swap_neurons]" in r["notes"]
        assert any(n.startswith("scaled firing rates x100") for n in r["notes"]), r["notes"]
        assert "SpikingRectifiedLinear(amplitude=0.01)" in r["rest"]
        assert "gain~[100,100]" in r["rest"]
        op = program.ir.op(r["name"])
        assert np.all(program.params[op.gain] == 100.0)
        assert op.neuron == {"type": "SpikingRectifiedLinear", "amplitude": 0.01, "surrogate": None,
                             "state_init": []}  # starts at rest (no initial_state given)
    assert "rectifiedlinear.rate" not in text
    assert "SpikingRectifiedLinear 4" in program.summary()


def test_w2_swap_and_scale_leave_the_rate_output_unchanged():
    base, swapped = compiled("w2-relu", "rate"), w2_swapped()
    x = np.random.default_rng(0).uniform(0, 1, size=(2, 784))
    a = evaluate(base.ir, {"%input": x}, batch=2)
    b = evaluate(swapped.ir, {"%input": x}, batch=2)
    probes = [n for n in base.schedule if base.ir.op(n).op == "probe"]
    assert len(probes) == 5
    for name in probes:
        assert np.abs(a[name]).max() > 0, name
        np.testing.assert_allclose(b[name], a[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("key", ["ensemble", "neurons", "label"])
def test_per_object_scaling_scales_only_that_op(key):
    net = network("w2-relu")
    conv0 = w2_ensemble(net, "conv0")
    target = {"ensemble": conv0, "neurons": conv0.neurons, "label": "conv0"}[key]
    plain = compiled("w2-relu", "cpu")
    program = sg.compile(net, target="cpu", scale_firing_rates={target: 4.0})
    rows = {r["name"]: r for r in parse(program.dump(source=False))}
    scaled = [n for n, r in rows.items() if any("scaled firing rates" in x for x in r["notes"])]
    assert scaled == ["%conv0"]
    assert rows["%conv0"]["notes"] == [
        "scaled firing rates x4: gain and bias x4, amplitude /4 [swap_neurons]"]
    assert "RectifiedLinear(amplitude=0.25)" in rows["%conv0"]["rest"]
    op = program.ir.op("%conv0")
    assert np.all(program.params[op.gain] == 4.0)
    for name in ("%to_spikes", "%conv1", "%dense0"):
        assert "RectifiedLinear(amplitude=1.0)" in rows[name]["rest"]
    changed = [k for k in plain.params if not np.array_equal(plain.params[k], program.params[k])]
    assert changed == ["%conv0.gain"]  # bias 0 x 4 is still 0


def test_default_synapse_is_inserted_after_spiking_neurons():
    program = w2_swapped("cpu", 0.005)
    text = program.dump(source=False)
    rows = {r["name"]: r for r in parse(text)}
    inserted = [r for r in rows.values() if r["rest"].endswith("[insert_synapses]")]
    assert len(inserted) == 4
    ir = program.ir
    for r in inserted:
        assert r["op"] == "synapse" and "Lowpass(tau=5ms)" in r["rest"] and r["kind"] == "real"
        (src,) = r["inputs"]
        assert rows[src]["op"] == "spikingrectifiedlinear.spike"
        assert rows[src]["shape"] == r["shape"]
        consumers = [ir.op(c).op for c in ir.consumers(r["name"])]
        assert consumers and set(consumers) <= {"conv2d", "linear"}
        assert ir.op(r["name"]).made_by == "insert_synapses"
        assert (f"insert_synapses: {r['name']} filters the spikes of {src} (Lowpass)"
                in log_lines(text))
    # the probes still record the unfiltered spikes
    for name in ("%to_spikes_p", "%conv0_p", "%conv1_p", "%dense0_p"):
        assert rows[name]["inputs"][0] in {r["inputs"][0] for r in inserted}
    # nothing is inserted in front of rate neurons
    rate = sg.compile(network("w2-relu"), target="rate", synapse=0.005)
    assert "[insert_synapses]" not in rate.dump(source=False)
    assert not any(op.op == "synapse" for op in rate.ir.ops())


# ------------------------------------------------------------------ 4. determinism
def without_timings(program: Program) -> dict:
    doc = json.loads(program.dump("json"))
    assert set(doc.pop("timings")) == {"lower", *program.passes}
    return doc


@pytest.mark.parametrize("case", ["w1", "w2-loihi-per-layer-scale", "w5"])
def test_compiling_twice_is_bit_for_bit_the_same(case):
    first = compiled(case, "cpu")
    again = sg.compile(network(case), target="cpu")  # the same network object
    script, factory, kwargs = CASES[case]
    fresh = sg.compile(getattr(example(script), factory)(**kwargs()), target="cpu")
    for other in (again, fresh):
        # JSON dumps match except for the measured pass timings
        assert without_timings(other) == without_timings(first)
        assert other.dump() == first.dump()
        assert other.params.keys() == first.params.keys()
        for key, value in first.params.items():
            assert other.params[key].dtype == value.dtype, key
            assert np.array_equal(other.params[key], value), key


@pytest.mark.parametrize("case", ["w1", "w2-relu", "w4", "w5"])
def test_a_different_seed_changes_the_parameters(case):
    script, factory, kwargs = CASES[case]
    other = sg.compile(getattr(example(script), factory)(**kwargs(), seed=1), target="cpu")
    first = compiled(case, "cpu")
    assert other.params.keys() == first.params.keys()
    assert any(not np.array_equal(other.params[k], first.params[k]) for k in first.params)
    assert parse(other.dump(source=False))[0]["op"] == parse(first.dump(source=False))[0]["op"]


# ------------------------------------------------------------------ 5. save / load, dot
@pytest.mark.parametrize("case", ["w1", "w2-loihi-on-chip", "w3-poisson", "w5"])
def test_program_round_trip_and_dot(tmp_path, case):
    program = compiled(case, "cpu")
    path = program.save(tmp_path / "p.json")
    assert path.exists() and (tmp_path / "p.npz").exists()
    loaded = Program.load(path)
    assert loaded.dump("text", source=True) == program.dump("text", source=True)
    assert loaded.dump("json") == program.dump("json")
    assert (loaded.target, loaded.passes, loaded.schedule) == (
        program.target, program.passes, program.schedule)
    assert loaded.params.keys() == program.params.keys()
    for key, value in program.params.items():
        assert loaded.params[key].dtype == value.dtype, key
        assert np.array_equal(loaded.params[key], value), key

    for p in (program, loaded):
        dot = p.dump("dot").splitlines()
        assert dot[0].startswith("digraph ") and dot[0].endswith("{") and dot[-1] == "}"
        nodes = [m[1] for line in dot if (m := re.match(r'^  "([^"]+)" \[label="', line))]
        edges = [(m[1], m[2]) for line in dot
                 if (m := re.match(r'^  "([^"]+)" -> "([^"]+)";$', line))]
        assert sorted(nodes) == sorted(program.ir.graph.nodes)
        assert len(nodes) == len(set(nodes))
        assert sorted(edges) == sorted(program.ir.graph.edges)
        assert len(dot) == 3 + len(nodes) + len(edges) + 1


# ------------------------------------------------------------------ 6. print_after, dump_dir
def sections(text: str) -> list[str]:
    """A stream of printed IRs split at their headers."""
    parts = re.split(r"(?m)^(?=# snngraph IR )", text)
    return [p.rstrip("\n") for p in parts if p.strip()]


def test_print_after_all_prints_each_pass_and_dump_dir_writes_them(tmp_path):
    out = io.StringIO()
    program = sg.compile(network("w4"), target="cpu", print_after="all", file=out,
                         dump_dir=tmp_path)
    printed = sections(out.getvalue())
    names = ["lower", *PASSES]
    assert len(printed) == len(names)
    for i, (name, text) in enumerate(zip(names, printed)):
        assert text.splitlines()[0].endswith(f"after pass {i}/{len(PASSES)}: {name}")
        assert FOOTER.match(text.splitlines()[-1])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{i:02d}_{n}.ir" for i, n in enumerate(names)]
    for name, text in zip(files, printed):
        assert (tmp_path / name).read_text() == text
    # lower keeps the passthrough Nodes; optimize bypasses them
    assert "= sum(" in printed[0] and "= sum(" not in printed[3]
    assert "bypassed passthrough" in printed[3] and "bypassed passthrough" not in printed[2]
    # the last one is the program's own dump
    assert printed[-1].splitlines()[1:] == program.dump().splitlines()[1:]
    assert set(program.timings) == set(names)


def test_print_after_selects_passes_and_dump_dir_alone_prints_nothing(tmp_path):
    out = io.StringIO()
    sg.compile(network("w4"), print_after=["lower", "optimize"], file=out)
    headers = [s.splitlines()[0].split("  ")[-1] for s in sections(out.getvalue())]
    assert headers == ["after pass 0/4: lower", "after pass 3/4: optimize"]

    out = io.StringIO()
    sg.compile(network("w4"), passes=["swap_neurons", "schedule"], print_after="all",
               file=out)
    headers = [s.splitlines()[0].split("  ")[-1] for s in sections(out.getvalue())]
    assert headers == ["after pass 0/2: lower", "after pass 1/2: swap_neurons",
                       "after pass 2/2: schedule"]

    out = io.StringIO()
    sg.compile(network("w4"), dump_dir=tmp_path / "ir", file=out)
    assert out.getvalue() == ""
    assert len(list((tmp_path / "ir").iterdir())) == 5


# ------------------------------------------------------------------ 7. the CLI
MODEL = """\
import numpy as np
import snngraph as sg

{head}
    with sg.Network(seed=0, label="tiny") as net:
        inp = sg.Node(np.zeros(4), label="inp")
        ens = sg.Ensemble(8, 1, neuron_type=sg.LIF(), label="hidden")
        sg.Connection(inp, ens.neurons,
                      transform=sg.Dense((8, 4), init=sg.dists.Uniform(-1, 1)))
        sg.Probe(ens.neurons, label="spikes")
{tail}
"""


def model_file(tmp_path: Path, kind: str) -> Path:
    if kind == "net":
        text = MODEL.format(head="if True:", tail="")
    else:
        text = MODEL.format(head="def build():", tail="    return net")
    path = tmp_path / f"model_{kind}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_cli_compile_file_defining_net_prints_every_pass(tmp_path, capsys):
    assert cli.main(["compile", str(model_file(tmp_path, "net")), "--print-after", "all"]) == 0
    out, err = capsys.readouterr()
    printed = sections(out)
    assert [s.splitlines()[0].split("  ")[-1] for s in printed] == [
        f"after pass {i}/4: {n}" for i, n in enumerate(["lower", *PASSES])]
    assert all("lif.spike" in s and "net='tiny'" in s for s in printed)
    assert "model_net.py:" in printed[0]  # ops point back to the user's lines
    assert "5 ops (" in err and "8 neurons (LIF 1)" in err


def test_cli_compile_build_function_and_selected_pass(tmp_path, capsys):
    model = str(model_file(tmp_path, "build"))
    assert cli.main(["compile", model]) == 0
    out, _ = capsys.readouterr()
    assert len(sections(out)) == 1 and "after 4 passes" in out and "lif.spike" in out

    assert cli.main(["compile", model, "--target", "rate", "--print-after", "lower,schedule"]) == 0
    out, _ = capsys.readouterr()
    headers = [s.splitlines()[0].split("  ")[-1] for s in sections(out)]
    assert headers == ["after pass 0/5: lower", "after pass 5/5: schedule"]
    assert "lif.rate" in sections(out)[1]


def test_cli_compile_description_document_matches_compiling_the_network(tmp_path, capsys):
    net = network("w4")
    doc = sg.save(net, tmp_path / "w4.json")
    assert cli.main(["compile", str(doc), "--target", "rate"]) == 0
    out, _ = capsys.readouterr()
    assert out.rstrip("\n") == compiled("w4", "rate").dump()


def test_cli_dump_json_then_inspect(tmp_path, capsys):
    model = str(model_file(tmp_path, "net"))
    out_path = tmp_path / "p.json"
    assert cli.main(["compile", model, "--dump", "json", "-o", str(out_path)]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {out_path}" in out and "5 ops (" in err
    assert (tmp_path / "p.npz").exists()
    validator = jsonschema.Draft202012Validator(load_schema("ir.schema.json"))
    assert list(validator.iter_errors(json.loads(out_path.read_text()))) == []

    assert cli.main(["inspect", str(out_path)]) == 0
    out, _ = capsys.readouterr()
    program = Program.load(out_path)
    assert out.startswith(program.dump("text") + "\n")
    summary = out.rstrip("\n").splitlines()[-1]
    assert summary == program.summary()
    assert summary.startswith("5 ops (") and "8 neurons (LIF 1)" in summary
    assert "1 synapses" in summary and "32 parameters" in summary and "target cpu" in summary

    assert cli.main(["compile", model, "--dump", "dot"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith('digraph "tiny" {') and '"%hidden" -> "%spikes";' in out


# ------------------------------------------------------------------ 8. optimize is exact
def folding_net() -> sg.Network:
    """Dense -> passthrough -> Dense -> ReLU -> x(-1.5) -> ReLU, and Conv -> passthrough
    -> Dense, every layer with a bias; plus an ensemble nobody probes."""
    rng = np.random.default_rng(1)

    def normal(*shape):
        return rng.standard_normal(shape)

    with sg.Network(seed=3, label="folds") as net:
        net.config[sg.Connection].synapse = None
        relu = {"neuron_type": sg.RectifiedLinear(), "gain": sg.dists.Choice([1.0]),
                "bias": sg.dists.Choice([0.5])}
        a = sg.Node(np.zeros(4), label="a")
        mid = sg.Node(size_in=6, label="mid")
        b = sg.Node(size_in=3, label="b")
        sg.Connection(a, mid, transform=sg.Dense((6, 4), init=normal(6, 4), bias=normal(6)),
                      label="d1")
        sg.Connection(mid, b, transform=sg.Dense((3, 6), init=normal(3, 6), bias=normal(3)),
                      label="d2")
        h = sg.Ensemble(3, 1, label="relu", **relu)
        sg.Connection(b, h.neurons, label="b_relu")
        h2 = sg.Ensemble(3, 1, label="relu2", **relu)
        sg.Connection(h.neurons, h2.neurons, transform=-1.5, label="scale")
        sg.Probe(h.neurons, label="relu_p")
        sg.Probe(h2.neurons, label="relu2_p")

        img = sg.Node(np.zeros(6 * 6 * 2), label="img")
        conv_out = sg.Node(size_in=4 * 4 * 3, label="conv_out")
        sg.Connection(img, conv_out, label="conv", transform=sg.Convolution(
            3, (6, 6, 2), kernel_size=3, init=normal(3, 3, 2, 3), bias=normal(3)))
        dense_out = sg.Node(size_in=5, label="dense_out")
        sg.Connection(conv_out, dense_out, label="fc",
                      transform=sg.Dense((5, 48), init=normal(5, 48), bias=normal(5)))
        sg.Probe(dense_out, label="fc_p")

        unused = sg.Ensemble(7, 1, neuron_type=sg.RectifiedLinear(), label="unused")
        sg.Connection(a, unused.neurons, transform=sg.Dense((7, 4), init=sg.dists.Uniform(-1, 1)),
                      label="to_unused")
    return net


def test_optimize_folds_are_exact_and_say_so():
    net = folding_net()
    optimized = sg.compile(net, target="cpu")  # the rate target never folds
    plain = sg.compile(net, target="cpu", passes=NO_OPTIMIZE)

    rng = np.random.default_rng(0)
    x = {"%a": rng.standard_normal((6, 4)), "%img": rng.standard_normal((6, 72))}
    got, want = evaluate(optimized.ir, x, batch=6), evaluate(plain.ir, x, batch=6)
    probes = sorted(n for n in plain.schedule if plain.ir.op(n).op == "probe")
    assert probes == ["%fc_p", "%relu2_p", "%relu_p"]
    for name in probes:
        assert np.abs(want[name]).max() > 0.1, name
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-10, err_msg=name)

    text, before = optimized.dump(source=False), plain.dump(source=False)
    kinds = Counter(r["op"] for r in parse(text))
    kinds_before = Counter(r["op"] for r in parse(before))
    assert kinds_before["linear"] + kinds_before["conv2d"] == 6  # d1 d2 scale fc to_unused conv
    assert kinds["linear"] + kinds["conv2d"] == 2 and kinds["conv2d"] == 0
    rows = {r["name"]: r for r in parse(text)}
    assert rows["%d2"]["inputs"] == ["%a"] and rows["%d2"]["shape"] == (3,)
    assert "folded linear %d1 into this linear [optimize]" in rows["%d2"]["notes"]
    assert rows["%fc"]["inputs"] == ["%img"] and "w=f64[5,72]" in rows["%fc"]["rest"]
    assert "folded conv2d %conv into this linear [optimize]" in rows["%fc"]["notes"]
    assert "folded elementwise scale %scale into gain [optimize]" in rows["%relu2"]["notes"]
    log = log_lines(text)
    for line in ("optimize: folded linear %d1 into this linear %d2",
                 "optimize: folded conv2d %conv into this linear %fc",
                 "optimize: folded elementwise scale %scale into the gain of %relu2",
                 "optimize: removed %unused (Ensemble 'unused'): no probe reads it",
                 "optimize: removed %to_unused (Connection 'to_unused'): no probe reads it"):
        assert line in log, log
    assert "%unused" not in rows and "%to_unused" not in rows
    assert not any(k.startswith(("%unused", "%to_unused", "%d1.", "%conv."))
                   for k in optimized.params)
    assert footer(text)[2] == 6 and footer(before)[2] == 13
