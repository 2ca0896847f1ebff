"""Description documents: exact round trips, JSON Schema, drift, CLI, safety."""

import json

import jsonschema
import numpy as np
import pytest
from snngraph.schemas import export

import snngraph as sg
from snngraph.cli import main as cli


def small_net():
    with sg.Network(label="small", seed=3) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100, 200], weights=[1, 3])
        stim = sg.Node(sg.PresentInput(np.arange(12.0).reshape(3, 4), 0.03), label="stim")
        ens = sg.Ensemble(8, 4, neuron_type=sg.LIFRate(tau_rc=0.03), label="ens",
                          intercepts=np.linspace(-0.5, 0.5, 8))
        with sg.Network(label="sub", seed=5) as sub:
            leaky = sg.Ensemble(5, 1, neuron_type=sg.Leaky(np.linspace(0.1, 0.9, 5)),
                                gain=np.ones(5), bias=np.zeros(5), label="leaky")
        sg.Connection(stim, ens, synapse=sg.Alpha(0.01))
        sg.Connection(ens[:2], leaky.neurons[1:3], transform=np.ones((2, 2)) * 0.5,
                      synapse=sg.LinearFilter([1.0], [0.01, 1.0]))
        sg.Connection(leaky.neurons, leaky.neurons, synapse=sg.Delay(1),
                      transform=sg.Sparse((5, 5), np.array([[0, 1], [1, 0]]), init=[0.5, -0.5]))
        sg.Probe(leaky.neurons, "voltage", label="v")
        sg.Probe(ens, synapse=0.01, sample_every=0.002)
        net.config[leaky].on_chip = False
        sub.config[sg.Connection].synapse = 0.02
    return net


def arrays_of(net):
    arrays = {}
    doc = net.to_dict(arrays)
    return doc, arrays


def assert_same(net_a, net_b):
    doc_a, arr_a = arrays_of(net_a)
    doc_b, arr_b = arrays_of(net_b)
    assert doc_a == doc_b
    assert arr_a.keys() == arr_b.keys()
    for key in arr_a:
        assert arr_a[key].dtype == arr_b[key].dtype and np.array_equal(arr_a[key], arr_b[key])


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_save_load_round_trip_is_exact(tmp_path, suffix):
    net = small_net()
    path = sg.save(net, tmp_path / f"model{suffix}")
    assert (tmp_path / "model.npz").exists()
    loaded = sg.load(path)
    assert_same(net, loaded)
    assert [type(o) for o in loaded.all_objects] == [type(o) for o in net.all_objects]
    assert [o.label for o in loaded.all_objects] == [o.label for o in net.all_objects]
    leaky = loaded.all_ensembles[1]
    assert loaded.config[leaky].on_chip is False
    assert loaded.networks[0].config[sg.Connection].synapse == sg.Lowpass(0.02)


def test_inline_arrays_round_trip_through_json_text():
    net = small_net()
    doc = json.loads(json.dumps(net.to_dict()))
    assert_same(net, sg.Network.from_dict(doc))


def test_loading_inside_a_with_block_does_not_add_to_it(tmp_path):
    path = sg.save(small_net(), tmp_path / "m.json")
    with sg.Network() as outer:
        sg.load(path)
    assert outer.all_objects == []


def test_documents_validate_against_the_committed_schema():
    validator = jsonschema.Draft202012Validator(export.load_schema())
    for arrays in (None, {}):
        doc = small_net().to_dict(arrays)
        assert list(validator.iter_errors(doc)) == []


def test_schema_rejects_bad_documents():
    validator = jsonschema.Draft202012Validator(export.load_schema())
    doc = small_net().to_dict()
    ens = doc["network"]["objects"][1]
    ens["neuron_type"] = {"type": "LIFRate", "tau_rc": "fast"}
    ens["n_neurons"] = 0
    paths = {tuple(e.absolute_path) for e in validator.iter_errors(doc)}
    assert ("network", "objects", 1, "n_neurons") in paths


def test_committed_schemas_match_the_models():
    """Fails when a model changes without `snngraph schema` being run."""
    for name, schema in export.schemas().items():
        committed = (export.SCHEMA_DIR / name).read_text()
        assert committed == export.render(schema), f"{name} drifted: run `snngraph schema`"


def test_callables_cannot_be_saved(tmp_path):
    with sg.Network() as net:
        sg.Node(lambda t: np.sin(t), label="sine")
    with pytest.raises(sg.SerializationError, match="Node 'sine'.output.*callable"):
        sg.save(net, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_failed_save_leaves_the_old_file(tmp_path):
    path = sg.save(small_net(), tmp_path / "m.json")
    before = path.read_text()
    with sg.Network() as net:
        sg.Node(np.sin, label="f")
    with pytest.raises(sg.SerializationError):
        sg.save(net, path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_loading_never_resolves_names_to_code(tmp_path):
    doc = small_net().to_dict()
    doc["network"]["objects"][0]["output"] = {"type": "os.system"}
    with pytest.raises(sg.SerializationError, match="unknown type 'os.system'"):
        sg.Network.from_dict(doc)


def test_missing_sidecar_is_reported(tmp_path):
    path = sg.save(small_net(), tmp_path / "m.json")
    (tmp_path / "m.npz").unlink()
    with pytest.raises(sg.SerializationError, match="m.npz is missing"):
        sg.load(path)


def test_cli_validate_lists_every_problem(tmp_path, capsys):
    path = sg.save(small_net(), tmp_path / "m.json")
    assert cli(["validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out
    doc = json.loads(path.read_text())
    doc["network"]["objects"][1]["n_neurons"] = -8
    doc["network"]["objects"][1]["radius"] = 0
    path.write_text(json.dumps(doc))
    assert cli(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Ensemble 'ens'.radius" in err or "Ensemble 'ens'.n_neurons" in err
    assert "n_neurons" in err and "refers to an invalid object" in err


def test_cli_schema_check_and_write(tmp_path, capsys):
    assert cli(["schema", "--check"]) == 0
    assert cli(["schema", "--out", str(tmp_path)]) == 0
    written = (tmp_path / "description.schema.json").read_text()
    assert written == (export.SCHEMA_DIR / "description.schema.json").read_text()
