"""The viewer without a browser: the page data (passes, changes, ops, core map,
quantisation, activity), the history a program keeps, and that a bad parameters or data
file is reported, naming the file and the problem, before any page is written."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from snngraph.compiler.program import Program
from viewer_cases import W2_OPTIONS, data_file, load_example, w1_net, w2_net

import snngraph as sg
from snngraph import cli
from snngraph.params import public_names
from snngraph.view import ViewError, view
from snngraph.view.data import page_data


def embedded(path) -> dict:
    """The page data a written page carries."""
    text = path.read_text()
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_history_has_a_stage_per_pass_and_survives_save(tmp_path):
    program = sg.compile(w2_net(), target="loihi", **W2_OPTIONS)
    stages = program.history
    assert [s.name for s in stages] == ["lower", *program.passes]
    final = {o.name for o in stages[-1].ops}
    assert final == set(program.ir.graph.nodes)
    # the last stage reads as the dump does, op for op
    lines = {line.split()[0]: line for line in program.dump().splitlines()
             if line.startswith("%")}
    for op in stages[-1].ops:
        assert op.attrs in lines[op.name] and op.origin in lines[op.name]
    program.save(tmp_path / "p.json")
    again = Program.load(tmp_path / "p.json")
    assert again.history == stages
    assert again.quantization == program.quantization


def test_page_data_says_what_each_pass_changed():
    program = sg.compile(w2_net(), target="loihi", **W2_OPTIONS)
    data = page_data(program)
    by_name = {s["name"]: s for s in data["stages"]}
    split = by_name["split_host_chip"]
    added = {o["name"] for o in split["ops"] if o["status"] == "added"}
    assert added == {"%to_spikes.to_chip", "%conv0.to_host", "%conv1.to_host",
                     "%dense0.to_host"}
    partition = by_name["partition"]
    changed = {o["name"] for o in partition["ops"] if o["status"] == "changed"}
    assert changed == {"%conv0", "%conv1", "%dense0"}  # their blocks
    assert all(o["before"] for o in partition["ops"] if o["status"] == "changed")
    optimize = sg.compile(w1_net(), target="cpu")
    removed = page_data(optimize)["stages"][3]["removed"]  # optimize bypasses passthroughs
    assert {"%conv0", "%conv1", "%conv2"} <= set(removed) | {
        o["name"] for o in page_data(optimize)["stages"][3]["ops"] if o["status"] != "same"}


def test_page_data_has_the_chip_the_report_counts():
    program = sg.compile(w2_net(), target="loihi", **W2_OPTIONS)
    report = program.resources()
    loihi = page_data(program)["loihi"]
    assert len(loihi["cores"]) == report.cores == 11
    assert [layer["name"] for layer in loihi["layers"]] == ["%conv0", "%conv1", "%dense0"]
    for core, row in zip(loihi["cores"], report.rows):
        fractions = row["usage"].fractions()
        assert core["fullest"] == max(fractions, key=fractions.get)
        assert core["used"]["synapse_bits"] == row["usage"].synapse_bits
    quant = loihi["quantization"]
    assert [q["layer"] for q in quant] == ["%conv0", "%conv1", "%dense0"]
    assert quant[2]["n_weights"] == 100 * 2304
    # 8-bit mantissas: the largest rounding error is at most half a step of 255
    assert all(0 < q["max_error"] <= 0.5 / 127 + 1e-9 for q in quant)
    assert loihi["energy"] is None  # nothing measured


def test_measured_rates_match_a_run_of_the_same_network(tmp_path):
    path = view(w1_net(), tmp_path / "w1.html", data=data_file(tmp_path, 3, 4))
    activity = embedded(path)["activity"]
    assert activity["examples"] == 3 and activity["steps"] == 4 and activity["compared"]
    net = load_probed_w1()
    (_, _), (x, _) = sg.datasets.load_mnist(subset="bundled")
    with sg.Simulator(net, minibatch_size=3, progress_bar=False) as sim:
        out = sim.predict(x[:3].reshape(3, -1).astype(np.float32), n_steps=4)
    for row in activity["layers"]:
        probe = next(p for p in net.all_probes if p.label == row["object"].split("'")[1])
        expected = out[probe].mean() / 0.01  # amplitude 0.01: rate = output / amplitude
        assert row["mean_hz"] == pytest.approx(expected, rel=1e-5)
        assert sum(row["histogram"]["counts"]) == row["neurons"]


def load_probed_w1() -> sg.Network:
    net = w1_net()
    with net:
        for ens in net.ensembles:
            sg.Probe(ens.neurons, label=ens.label)
    return net


def test_loihi_energy_comes_from_the_measured_activity(tmp_path):
    path = view(w2_net(), tmp_path / "w2.html", target="loihi",
                data=data_file(tmp_path, 2, 5), **W2_OPTIONS)
    data = embedded(path)
    energy = data["loihi"]["energy"]
    assert energy["steps"] == 5 and energy["loihi_j"] > energy["loihi_dynamic_j"] > 0
    chip_layers = {r["layer"]: r for r in data["activity"]["layers"]}
    # the emulator's spike count per layer and the per-neuron rates agree
    spikes = sum(r["mean_hz"] * r["neurons"] for n, r in chip_layers.items()
                 if n != "%to_spikes") * 0.001 * 5  # per example
    assert spikes == pytest.approx(energy["spikes"], rel=1e-6)


# ------------------------------------------------------------------ bad files
def page_must_not_exist(tmp_path, call):
    out = tmp_path / "page.html"
    with pytest.raises(ViewError) as info:
        call(out)
    assert not out.exists()
    return str(info.value)


def test_a_data_file_that_is_not_npz_is_named(tmp_path):
    bad = tmp_path / "data.npz"
    bad.write_text("not a zip")
    message = page_must_not_exist(tmp_path, lambda out: view(w1_net(), out, data=bad))
    assert f"--data {bad}" in message and "np.savez" in message


def test_data_of_the_wrong_size_is_named(tmp_path):
    bad = tmp_path / "data.npz"
    np.savez(bad, x=np.zeros((2, 100), np.float32))
    message = page_must_not_exist(tmp_path, lambda out: view(w1_net(), out, data=bad))
    assert f"--data {bad}" in message and "784" in message


def test_data_for_an_unknown_input_is_named(tmp_path):
    bad = tmp_path / "data.npz"
    np.savez(bad, pixels=np.zeros((2, 784), np.float32))
    message = page_must_not_exist(tmp_path, lambda out: view(w1_net(), out, data=bad))
    assert "'pixels' is not an input" in message and "input" in message


def test_params_of_another_network_are_named(tmp_path):
    with sg.Simulator(w2_net(), progress_bar=False) as sim:
        sim.save_params(tmp_path / "w2_params.npz")
    message = page_must_not_exist(
        tmp_path, lambda out: view(w1_net(), out, params=tmp_path / "w2_params.npz"))
    assert f"--params {tmp_path / 'w2_params.npz'}" in message


def test_params_need_the_network_not_a_program(tmp_path):
    with sg.Simulator(w1_net(), progress_bar=False) as sim:
        sim.save_params(tmp_path / "w1_params.npz")
    program = sg.compile(w1_net())
    message = page_must_not_exist(
        tmp_path, lambda out: view(program, out, params=tmp_path / "w1_params.npz"))
    assert "needs the network" in message


def test_trained_params_are_what_the_page_shows(tmp_path):
    net = w1_net()
    with sg.Simulator(net, progress_bar=False) as sim:
        # parameters different from the initial values: the readout's weights doubled
        params = {k: v * 2 if k == "readout.weights" else v
                  for k, v in sim.trainable_params().items()}
        sim._set_trained({k: params[n] for k, n in public_names(
            sim._rate_program().ir.owners).items() if n in params})
        sim.save_params(tmp_path / "p.npz")
    path = view(w1_net(), tmp_path / "w1.html", params=tmp_path / "p.npz")
    readout = next(o for o in embedded(path)["stages"][-1]["ops"] if o["op"] == "linear")
    before = float(re.search(r"\|w\|max=([\d.]+)", readout["attrs"]).group(1))
    initial = next(o for o in page_data(sg.compile(w1_net()))["stages"][-1]["ops"]
                   if o["op"] == "linear")
    assert before == pytest.approx(
        2 * float(re.search(r"\|w\|max=([\d.]+)", initial["attrs"]).group(1)), rel=1e-2)


def test_cli_view_writes_a_page_and_reports_a_bad_file(tmp_path, capsys):
    program = sg.compile(w1_net())
    program.save(tmp_path / "w1.json")
    assert cli.main(["view", str(tmp_path / "w1.json"), "-o", str(tmp_path / "a.html")]) == 0
    assert embedded(tmp_path / "a.html")["target"] == "cpu"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 broken")
    code = cli.main(["view", str(tmp_path / "w1.json"), "--data", str(bad), "-o",
                     str(tmp_path / "b.html")])
    assert code == 1 and not (tmp_path / "b.html").exists()
    assert f"--data {bad}" in capsys.readouterr().err


def test_the_page_is_one_file_with_nothing_to_fetch(tmp_path):
    path = sg.compile(w1_net()).to_html(tmp_path / "w1.html")
    text = path.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text


def test_a_network_with_its_own_input_runs_for_steps(tmp_path):
    """Nengo's style: no data file, the network's Node makes the input; --steps runs it.
    The emulated chip's counted spikes and the page's rates agree."""
    with sg.Network(seed=0) as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * t))
        a = sg.Ensemble(50, 1, neuron_type=sg.LoihiLIF(), label="a")
        sg.Connection(stim, a)
        sg.Probe(a, synapse=0.01)
    path = view(net, tmp_path / "nef.html", target="loihi", steps=200)
    data = embedded(path)
    rows = {r["object"]: r for r in data["activity"]["layers"]}  # with the on/off encoders
    row = rows["Ensemble 'a'"]
    assert data["activity"]["steps"] == 200
    assert row["mean_hz"] * 50 * 0.2 == pytest.approx(data["loihi"]["energy"]["spikes"])
    assert "changes over time" in data["activity"]["no_rate"]


def test_rates_of_discrete_time_neurons_count_spikes_per_second(tmp_path):
    """snnTorch's Leaky outputs 1 per spike (not 1/dt): its rate is spikes per step / dt."""
    net = load_example("w5_snntorch_recurrent").build()
    (_, _), (x, _) = sg.datasets.load_mnist(subset="bundled")
    x = (x[:3].reshape(3, -1) / 255.0).astype(np.float32)
    from snngraph.view import measure_rates

    measured = measure_rates(net, x, steps=10)
    with net:
        probes = [sg.Probe(e.neurons) for e in net.ensembles]
    with sg.Simulator(net, minibatch_size=3, progress_bar=False) as sim:
        out = sim.predict(np.broadcast_to(x[:, None], (3, 10, 784)))
    for probe, rates in zip(probes, measured.spiking.values()):
        np.testing.assert_allclose(rates, sg.plot.firing_rates(out[probe]), rtol=1e-5)


@pytest.mark.parametrize("keyword", ["steps", "examples"])
def test_steps_and_examples_must_be_positive(tmp_path, keyword):
    message = page_must_not_exist(
        tmp_path, lambda out: view(w1_net(), out, data=data_file(tmp_path), **{keyword: 0}))
    assert f"--{keyword}: expected a positive whole number (got 0)" in message
