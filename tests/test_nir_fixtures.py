"""The NIR fixtures in tests/data/nir/ agree with the semantics their index documents.

Each graph recorded from snnTorch 1.0.0 or Norse 1.1.0 is read with the ``nir`` package and
re-run in plain numpy (tests/nir_reference.py) from its NIR parameters and the producer's dt,
with the per-step update fixtures.json names; it must give the spike trains the producer gave,
exactly, and its membrane to float32 tolerance. The published graphs from the NIR paper read
with type checking on, and the single-LIF graph reproduces its published traces. Needs only
numpy and nir (no torch, no snngraph.nir): it checks the fixtures, not a loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

import nir_reference as ref  # noqa: E402  (tests/nir_reference.py)

DATA = Path(__file__).parent / "data" / "nir"
INDEX = json.loads((DATA / "fixtures.json").read_text())
FIXTURES = {f["id"]: f for f in INDEX["fixtures"]}
REPRODUCIBLE = [i for i, f in FIXTURES.items() if f["reproducible_from_nir"]]


def load(fixture_id):
    entry = FIXTURES[fixture_id]
    graph = nir.read(DATA / entry["file"], type_check=entry["type_check"])
    return entry, graph, dict(np.load(DATA / entry["data"]))


def rerun(entry, graph, data, neurons=None, recurrent_t0=None):
    return ref.run(graph, data["input"], entry["dt"], neurons or entry["neurons"],
                   recurrent_t0 or entry["recurrent_t0"])


def test_index_and_files_match():
    on_disk = {f"{p.parent.name}/{p.stem}" for p in DATA.glob("*/*.nir")
               if p.parent.name != "published"}
    assert on_disk == set(FIXTURES)
    assert INDEX["versions"]["snntorch"] == "1.0.0"
    assert INDEX["versions"]["norse"] == "1.1.0"
    assert INDEX["versions"]["nir"] == "1.0.8"
    for entry in FIXTURES.values():
        assert (DATA / entry["data"]).exists()
        assert set(entry["neurons"]) == set(entry["update"])
        assert entry["nir_fields"] and entry["export_call"]


@pytest.mark.parametrize("fixture_id", sorted(FIXTURES))
def test_npz_layout(fixture_id):
    """input [T, B, *in] float32, time first; every recording [T, B, *node shape]; dt scalar."""
    entry, graph, data = load(fixture_id)
    assert data["dt"].shape == () and float(data["dt"]) == entry["dt"]
    x = data["input"]
    assert x.dtype == np.float32 and x.shape[:2] == (entry["steps"], entry["batch"])
    in_type = list(graph.nodes[entry["input_node"]].output_type.values())[0]
    assert x.shape[2:] == tuple(int(s) for s in in_type)
    for key, (node, _) in entry["recorded"].items():
        node_type = list(graph.nodes[node].output_type.values())[0]
        assert data[key].shape == x.shape[:2] + tuple(int(s) for s in node_type), key
        assert data[key].dtype == np.float32


@pytest.mark.parametrize("fixture_id", REPRODUCIBLE)
def test_fixture_reproduces_from_nir_parameters(fixture_id):
    entry, graph, data = load(fixture_id)
    out = rerun(entry, graph, data)
    for key, (node, quantity) in entry["recorded"].items():
        got, want = out[node][quantity], data[key]
        if quantity == "spikes":
            assert np.array_equal(got, want), f"{key}: {int((got != want).sum())} differ"
            assert want.sum() > 0, f"{key}: no spikes at all, the fixture tests nothing"
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=key)
    for node in entry["neurons"]:
        if "v_pre" in out[node]:  # no membrane near enough its threshold to flip on rounding
            assert ref.threshold_margin(out[node]) > 1e-5


def _neuron_nodes(graph, kind):
    return [n for n in graph.nodes.values() if type(n).__name__ == kind]


@pytest.mark.parametrize("fixture_id", [i for i in FIXTURES if i.startswith("snntorch/")])
def test_snntorch_fields_are_forward_euler_of_its_step(fixture_id):
    """snnTorch writes r = tau/dt (and w_in = tau_syn/dt) for dt = 1e-4, so that Euler's
    input gains are exactly 1, and v_leak = v_reset = 0 whatever the reset mechanism."""
    entry, graph, _ = load(fixture_id)
    dt = entry["dt"]
    assert dt == 1e-4
    for node in _neuron_nodes(graph, "LIF"):
        np.testing.assert_allclose(node.r * dt / node.tau, 1, rtol=1e-5)
    for node in _neuron_nodes(graph, "CubaLIF"):
        np.testing.assert_allclose(node.r * dt / node.tau_mem, 1, rtol=1e-5)
        np.testing.assert_allclose(node.w_in * dt / node.tau_syn, 1, rtol=1e-5)
    for node in _neuron_nodes(graph, "LIF") + _neuron_nodes(graph, "CubaLIF"):
        assert np.all(node.v_leak == 0) and np.all(node.v_reset == 0)


@pytest.mark.parametrize("fixture_id", [i for i in FIXTURES if i.startswith("norse/")])
def test_norse_fields(fixture_id):
    """Norse writes r = 1 and leaves w_in and v_reset at nir's defaults (1 and 0)."""
    _, graph, _ = load(fixture_id)
    for kind in ("LIF", "LI", "CubaLIF"):
        for node in _neuron_nodes(graph, kind):
            assert np.all(node.r == 1)
            if kind == "CubaLIF":
                assert np.all(node.w_in == 1) and np.all(node.v_reset == 0)


def test_norse_default_to_nir_writes_dt_times_tau():
    """Norse #411: to_nir(..., dt=1e-3) writes tau = 1e-3/tau_mem_inv, read literally it does
    not give the producer's spikes; with dt=1.0 tau is in seconds."""
    _, good, data = load("norse/lif_box")
    entry, bad, bad_data = load("norse/lif_box_to_nir_default_dt")
    np.testing.assert_allclose(bad.nodes["1"].tau, 1e-3 * good.nodes["1"].tau, rtol=1e-6)
    np.testing.assert_array_equal(bad_data["spikes"], data["spikes"])
    with np.errstate(over="ignore", invalid="ignore"):
        literal = rerun(entry, bad, bad_data)["1"]["spikes"]
    assert not np.array_equal(literal, bad_data["spikes"])


def test_snntorch_reset_mode_is_not_in_the_file():
    """The subtract and zero Leaky files hold the same fields; only the reset rule, which the
    file does not carry, tells their spike trains apart."""
    entry, graph, data = load("snntorch/leaky")
    _, zero_graph, _ = load("snntorch/leaky_zero")
    for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        np.testing.assert_array_equal(getattr(graph.nodes["1"], field),
                                      getattr(zero_graph.nodes["1"], field))
    as_zero = rerun(entry, graph, data, neurons={"1": {"rule": "snntorch.Leaky",
                                                       "reset": "zero"}})
    assert not np.array_equal(as_zero["1"]["spikes"], data["spikes"])


def test_rleaky_recurrent_bias_arrives_at_step_zero():
    """snnTorch adds the recurrent Linear's bias from t = 0; reading the cycle edge as zero at
    t = 0 (as NIRTorch does) changes the membrane from the first step."""
    entry, graph, data = load("snntorch/rleaky")
    as_nirtorch = rerun(entry, graph, data, recurrent_t0="zero")
    assert not np.allclose(as_nirtorch["1.lif"]["v"][0], data["v"][0])
    np.testing.assert_allclose(rerun(entry, graph, data)["1.lif"]["v"][0], data["v"][0],
                               rtol=1e-5, atol=1e-6)


# --- published graphs (neuromorphs/NIR, paper/) -----------------------------------------------

PUBLISHED = DATA / "published"


@pytest.mark.parametrize("name, kinds", [
    ("lif_norse", {"Affine", "LIF"}),
    ("cnn_sinabs", {"Conv2d", "IF", "SumPool2d", "Flatten", "Affine"}),
    ("braille_noDelay_bias_zero", {"Affine", "CubaLIF"}),
    ("braille_noDelay_noBias_subtract", {"Linear", "CubaLIF"}),
])
def test_published_graph_reads_with_type_checks(name, kinds):
    graph = nir.read(PUBLISHED / f"{name}.nir")
    assert {type(n).__name__ for n in graph.nodes.values()} - {"Input", "Output"} == kinds
    assert name in (PUBLISHED / "README.md").read_text()


def test_braille_recurrence_is_a_flat_cycle():
    graph = nir.read(PUBLISHED / "braille_noDelay_bias_zero.nir")
    _, back = ref.schedule(graph)
    assert back == {("lif1.w_rec", "lif1.lif")}


def test_lif_norse_matches_its_published_norse_trace():
    """lif_norse.nir run as Norse's LIFBoxCell at dt = 1e-4 (the paper's) gives the csv's
    voltage to float32 precision and its 4 spikes exactly. Columns: input, v, spike."""
    graph = nir.read(PUBLISHED / "lif_norse.nir")
    csv = np.loadtxt(PUBLISHED / "lif_norse.csv", delimiter=",")
    out = ref.run(graph, csv[:, :1, None], 1e-4, {"1": {"rule": "norse.LIFBoxCell"}})
    np.testing.assert_allclose(out["1"]["v"][:, 0, 0], csv[:, 1], atol=1e-6)
    np.testing.assert_array_equal(out["1"]["spikes"][:, 0, 0], csv[:, 2])
    assert csv[:, 2].sum() == 4


def test_lif_norse_matches_the_published_exact_solution():
    """The paper's exact solution (input held over each step, reset by subtraction at the
    crossing time) from the same graph's parameters."""
    graph = nir.read(PUBLISHED / "lif_norse.nir")
    lif = graph.nodes["1"]
    exact = np.loadtxt(PUBLISHED / "lif_exact.csv", delimiter=",")
    v, spikes = ref.exact_lif_trace(exact[:, 0], 1e-4, float(lif.tau[0]), float(lif.r[0]),
                                    float(lif.v_leak[0]), float(lif.v_threshold[0]))
    np.testing.assert_allclose(v, exact[:, 1], atol=1e-6)
    np.testing.assert_array_equal(spikes, exact[:, 2])
