"""Graphs exported by snnTorch 1.0.0 and Norse 1.1.0 reproduce their producer's runs.

Each fixture in tests/data/nir/ (fixtures.json) is a NIR file one of the libraries wrote
and the spike trains (and membranes) its own model gave on a fixed input. Read with
``sg.nir.load(path, convention=<producer>)`` (the producer's step, reset, initial state
and input convention, which the files do not carry) and run on the numba runtime, every
recorded spike must come out exactly, step for step, and every membrane to float32
tolerance. The producers' updates are documented in docs/nir_peers.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import ValidationError

pytest.importorskip("nir")
pytest.importorskip("h5py")

from conftest import quiet  # noqa: E402

DATA = Path(__file__).parent / "data" / "nir"
FIXTURES = {f["id"]: f for f in json.loads((DATA / "fixtures.json").read_text())["fixtures"]}
REPRODUCIBLE = sorted(i for i, f in FIXTURES.items() if f["reproducible_from_nir"])
ATTR = {"spikes": None, "v": "voltage", "syn": "current"}


def channels_last(arr: np.ndarray) -> np.ndarray:
    """[T, B, *NIR shape] -> [B, T, n] in snngraph's flat order (images channels-last)."""
    arr = np.moveaxis(arr, 1, 0)
    if arr.ndim == 5:
        arr = arr.transpose(0, 1, 3, 4, 2)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def run_fixture(entry, net, data):
    """Run ``net`` on the fixture's input; {npz key: [B, T, n]} for every recording."""
    ens = {e.label: e for e in net.all_ensembles}
    with net:
        probes = {key: sg.Probe(ens[node].neurons, *([ATTR[q]] if ATTR[q] else []),
                                label=f"rec.{key}")
                  for key, (node, q) in entry["recorded"].items()}
    inp = next(o for o in net.all_nodes if o.label == entry["input_node"])
    x = channels_last(data["input"])
    with quiet(net, minibatch_size=x.shape[0], dt=net.nir_dt) as sim:
        sim.run_steps(x.shape[1], data={inp: x})
        return {key: sim.data[p] for key, p in probes.items()}


def load(fixture_id, **kwargs):
    entry = FIXTURES[fixture_id]
    data = dict(np.load(DATA / entry["data"]))
    kwargs.setdefault("reset", entry["reset"][next(iter(entry["reset"]))])
    net = sg.nir.load(DATA / entry["file"], convention=entry["producer"], **kwargs)
    return entry, net, data


@pytest.mark.parametrize("fixture_id", REPRODUCIBLE)
def test_fixture_spikes_and_membranes(fixture_id):
    entry, net, data = load(fixture_id)
    assert net.nir_dt == entry["dt"]  # the convention's step is the producer's
    got = run_fixture(entry, net, data)
    for key, (_, quantity) in entry["recorded"].items():
        want = channels_last(data[key])
        if quantity == "spikes":
            assert want.sum() > 0
            differ = int((got[key] != want).sum())
            assert differ == 0, f"{key}: {differ} of {want.size} spikes differ"
        else:
            np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=2e-5, err_msg=key)


def test_norse_default_dt_export_reads_at_scaled_step():
    """Norse's ``to_nir`` with its default dt writes ``tau = 1e-3 * tau`` (Norse #411). Euler
    depends on dt/tau only, so loading it at ``dt = 1e-3 * 1e-3`` gives Norse's spikes; the
    fixture index marks it as not reproducible from the file as written."""
    entry = FIXTURES["norse/lif_box_to_nir_default_dt"]
    assert not entry["reproducible_from_nir"]
    _, net, data = load(entry["id"], dt=1e-6)
    got = run_fixture(entry, net, data)
    np.testing.assert_array_equal(got["spikes"], channels_last(data["spikes"]))


@pytest.mark.parametrize("fixture_id, other", [
    ("snntorch/leaky", dict(convention="nir", dt=1e-4)),
    ("snntorch/rleaky_zero", dict(reset="zero", convention="nir", dt=1e-4)),
    ("snntorch/synaptic_zero", dict(reset="zero", convention="nir", dt=1e-4)),
    ("norse/lif", dict(convention="nir", dt=1e-3)),
    ("norse/lif_box", dict(convention="nir", dt=1e-3)),
])
def test_the_convention_matters(fixture_id, other):
    """Read as NIR states it, the same files give other spikes: the convention is needed."""
    entry = FIXTURES[fixture_id]
    data = dict(np.load(DATA / entry["data"]))
    net = sg.nir.load(DATA / entry["file"], **other)
    got = run_fixture(entry, net, data)
    assert not np.array_equal(got["spikes"], channels_last(data["spikes"]))


def test_convention_is_reported_and_checked():
    entry, net, _ = load("snntorch/rleaky_zero")
    report = "\n".join(net.nir_report)
    assert "dt = 0.0001 s (snntorch's step, not in the file)" in report
    assert "convention snntorch" in report and "reset='clear_next'" in report
    _, net, _ = load("norse/lif")
    report = "\n".join(net.nir_report)
    assert "start_at='v_leak'" in report and "w_in read times tau_syn/dt" in report
    path = DATA / entry["file"]
    with pytest.raises(ValidationError, match="convention must be one of"):
        sg.nir.load(path, convention="lava")
    with pytest.raises(ValidationError, match="reset='subtract' is not a reset of convention "
                                              "'norse'"):
        sg.nir.load(path, convention="norse", reset="subtract")
    with pytest.raises(ValidationError, match="steps by forward Euler"):
        sg.nir.load(path, convention="snntorch", discretisation="exact")


@pytest.mark.parametrize("model", ["snntorch_rleaky", "norse_conv_conv"])
def test_export_check_files_read_back(tmp_path, model):
    """benchmarks/nir_export_check.py writes what the peers' importers are checked against:
    read back by snngraph, each file gives the spikes stored beside it (NIR layout)."""
    import importlib.util

    path = Path(__file__).parent.parent / "benchmarks" / "nir_export_check.py"
    spec = importlib.util.spec_from_file_location("nir_export_check", path)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    check.write(model, tmp_path)
    data = dict(np.load(tmp_path / f"{model}.npz"))
    net = sg.nir.load(tmp_path / f"{model}.nir", restore=False)
    inp = next(o for o in net.all_nodes if o.label == "input")
    out = next(p for p in net.all_probes if p.label == "output")
    x = channels_last(data["input"])
    with quiet(net, minibatch_size=x.shape[0], dt=net.nir_dt) as sim:
        sim.run_steps(x.shape[1], data={inp: x})
        got = sim.data[out]
    assert data["spikes"].sum() > 0 and float(data["dt"]) == 1e-4
    np.testing.assert_array_equal(got, channels_last(data["spikes"]))
