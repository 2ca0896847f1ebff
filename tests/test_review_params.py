"""Issue 16, items 4, 5, 16 and 17: what is trained, under which name, with which default.

- ``Dense(autapses=False)`` keeps its diagonal at zero from the start (also when only the
  output size is given) and through ``freeze_params`` and a second ``fit``;
- neuron types that take their input current directly (Leaky, CubaLIF, LI) train no
  ensemble bias unless asked (``net.config[ens].trainable = True``), so the snnTorch
  examples have exactly snnTorch's parameters;
- ``fit`` chooses its method from the neurons' documented default surrogate and says why;
- ``sim.trainable_params()`` lists what training changes under the user's labels, and
  ``sg.summary`` counts trainable and frozen values apart;
- bad inputs of this area name the object, the field, the value and a fix.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import SerializationError, ValidationError


def _data(n=32, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    proto = rng.uniform(0, 1, (classes, d))
    y = rng.integers(0, classes, n)
    x = (proto[y] + 0.3 * rng.normal(size=(n, d))).clip(0, 1).astype(np.float32)
    return x, y


def _recurrent_net(transform, n_in=6, n=5, neuron=None):
    """input -> fc -> Leaky layer with a recurrent connection -> readout -> Leaky."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n_in), label="input")
        x = sg.Layer(sg.Dense(n, init=sg.dists.Uniform(-1, 1)))(inp, label="fc1")
        h = sg.Layer(neuron or sg.Leaky(beta=0.9))(x, label="lif1")
        rec = sg.Connection(h, h, transform=transform, synapse=sg.Delay(1), label="rec")
        x = sg.Layer(sg.Dense(3, init=sg.dists.Uniform(-1, 1)))(h, label="fc2")
        out = sg.Layer(sg.Leaky(beta=0.9))(x, label="lif2")
        probe = sg.Probe(out, label="spikes")
    return net, rec, probe


def _fit(sim, probe, epochs=1, **kwargs):
    x, y = _data()
    kwargs.setdefault("verbose", 0)
    return sim.fit(x, {probe: y}, epochs=epochs, n_steps=10,
                   optimizer=sg.optim.Adam(lr=0.05), loss=sg.losses.MSECount(0.8, 0.2),
                   **kwargs)


def _diagonal(sim, key):
    return np.diag(sim.trainable_params()[key])


# --------------------------------------------------------------------------- item 4
def test_output_size_only_dense_keeps_autapses_false():
    t = sg.Dense(5, init=sg.dists.Uniform(-1, 1), autapses=False)
    net, rec, _ = _recurrent_net(t)
    assert rec.transform.autapses is False and rec.transform.shape == (5, 5)
    with sg.Simulator(net, progress_bar=False) as sim:
        w = sim.trainable_params()["rec.weights"]
    assert w.shape == (5, 5) and np.all(np.diag(w) == 0) and np.any(w != 0)


@pytest.mark.parametrize("shape", [5, (5, 5)])
def test_freeze_keeps_autapses_false_through_a_second_fit(shape):
    net, rec, probe = _recurrent_net(sg.Dense(shape, init=sg.dists.Uniform(-1, 1),
                                              autapses=False))
    with sg.Simulator(net, progress_bar=False) as sim:
        assert np.all(_diagonal(sim, "rec.weights") == 0)
        before = sim.trainable_params()["rec.weights"].copy()
        _fit(sim, probe)
        sim.freeze_params()
    assert rec.transform.autapses is False
    assert np.all(np.diag(rec.transform.init) == 0)
    with sg.Simulator(net, progress_bar=False) as sim:
        _fit(sim, probe, epochs=2)
        after = sim.trainable_params()["rec.weights"]
        sim.freeze_params()
    assert np.all(np.diag(after) == 0), "the second fit trained the recurrent diagonal"
    assert not np.allclose(after, before), "the recurrent weights did not train"
    assert np.all(np.diag(rec.transform.init) == 0) and rec.transform.autapses is False


# --------------------------------------------------------------------------- item 5
def test_direct_current_neurons_train_no_ensemble_bias_by_default():
    net, _, probe = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    with sg.Simulator(net, progress_bar=False) as sim:
        keys = set(sim.trainable_params())
        _fit(sim, probe)
        sim.freeze_params()
    assert keys == {"fc1.weights", "rec.weights", "fc2.weights"}
    for ens in net.all_ensembles:  # gain 1 and bias 0, untouched by training
        assert np.all(ens.gain == 1.0) and np.all(ens.bias == 0.0)


@pytest.mark.parametrize("neuron", [sg.Leaky(beta=0.9), sg.CubaLIF(), sg.LI()])
def test_each_direct_current_type_starts_at_gain_one_bias_zero_frozen(neuron):
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="input")
        x = sg.Layer(sg.Dense(3, init=sg.dists.Uniform(-1, 1)))(inp, label="fc")
        sg.Probe(sg.Layer(neuron)(x, label="cells"), label="p")
    with sg.Simulator(net, progress_bar=False) as sim:
        assert set(sim.trainable_params()) == {"fc.weights"}
        program = sim._rate_program()
    ir = program.ir
    gains = [ir.params[k] for k in ir.params if k.endswith(".gain")]
    biases = [ir.params[k] for k in ir.params if k.endswith(".bias")]
    assert all(np.all(g == 1) for g in gains) and all(np.all(b == 0) for b in biases)


def test_trainable_true_asks_for_the_ensemble_bias():
    net, _, probe = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    lif1 = next(e for e in net.all_ensembles if e.label == "lif1")
    net.config[lif1].trainable = True
    with sg.Simulator(net, progress_bar=False) as sim:
        assert set(sim.trainable_params()) == {"fc1.weights", "rec.weights", "fc2.weights",
                                               "lif1.bias"}
        _fit(sim, probe, epochs=2)
        assert np.any(sim.trainable_params()["lif1.bias"] != 0)
    # and by class: every ensemble's bias
    net.config[sg.Ensemble].trainable = True
    with sg.Simulator(net, progress_bar=False) as sim:
        assert {"lif1.bias", "lif2.bias"} <= set(sim.trainable_params())


def test_nengo_neuron_types_still_train_their_bias():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="input")
        x = sg.Layer(sg.Dense(3, init=sg.dists.Uniform(-1, 1)))(inp, label="fc")
        sg.Probe(sg.Layer(sg.RectifiedLinear())(x, label="relu"), label="p")
    with sg.Simulator(net, progress_bar=False) as sim:
        assert set(sim.trainable_params()) == {"fc.weights", "relu.bias"}


def _count(params):
    return sum(int(np.size(v)) for v in params.values())


def _summary_counts(net):
    text = sg.summary(net)
    line = next(ln for ln in text.splitlines() if "parameters:" in ln)
    numbers = [int(s.replace(",", "")) for s in line.split() if s.replace(",", "").isdigit()]
    return numbers[0], numbers[1], text


def test_w5_has_exactly_snntorchs_parameters(example):
    w5 = example("w5_snntorch_recurrent")
    hidden = 8
    net = w5.build(hidden=hidden)
    # nn.Linear(784, h), RLeaky's Linear(h, h), nn.Linear(h, 10), RLeaky's Linear(10, 10);
    # snnTorch's Leaky has no learnable parameter (learn_beta=False, learn_threshold=False)
    torch_count = (784 * hidden + hidden) + (hidden * hidden + hidden) + (hidden * 10 + 10) \
        + (10 * 10 + 10)
    with sg.Simulator(net, progress_bar=False) as sim:
        params = sim.trainable_params()
    assert _count(params) == torch_count
    assert set(params) == {"fc1.weights", "fc1.bias", "rlif1.recurrent.weights",
                           "rlif1.recurrent.bias", "fc2.weights", "fc2.bias",
                           "rlif2.recurrent.weights", "rlif2.recurrent.bias"}
    trainable, _, _ = _summary_counts(net)
    assert trainable == torch_count


def test_w4_has_exactly_snntorchs_parameters(example):
    w4 = example("w4_snntorch_conv")
    net = w4.build()
    # Conv2d(1, 12, 5), Conv2d(12, 64, 5), Linear(64*4*4, 10): weights and biases
    torch_count = (12 * 25 + 12) + (64 * 12 * 25 + 64) + (1024 * 10 + 10)
    trainable, _, text = _summary_counts(net)
    assert trainable == torch_count, text


def test_w3_has_exactly_norses_parameters(example):
    w3 = example("w3_norse_recurrent")
    hidden = 8
    net = w3.build(hidden=hidden)
    # LIFRecurrentCell(784, h): input and recurrent weights (no bias); Linear(h, 10,
    # bias=False); LICell has no parameter
    norse = 784 * hidden + hidden * hidden + hidden * 10
    with sg.Simulator(net, progress_bar=False) as sim:
        assert _count(sim.trainable_params()) == norse
    assert _summary_counts(net)[0] == norse


# --------------------------------------------------------------------------- item 16
def test_leaky_without_a_surrogate_trains_through_time_and_says_why():
    net, _, probe = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    out = io.StringIO()
    with sg.Simulator(net, progress_bar=False) as sim, contextlib.redirect_stdout(out):
        history = _fit(sim, probe, verbose=1)
    assert history.method == "bptt"
    reason = history.method_reason
    assert "Leaky" in reason and "ATan" in reason and "10 steps" in reason, reason
    assert reason in out.getvalue()
    assert reason in str(sim.training_program)


def test_method_reason_for_rate_and_quiet_when_verbose_0():
    net, probe = _lif_net()
    x, y = _data()
    out = io.StringIO()
    with sg.Simulator(net, progress_bar=False) as sim, contextlib.redirect_stdout(out):
        history = sim.fit(np.repeat(x[:, None], 4, axis=1), {probe: y}, epochs=1, verbose=0)
        assert history.method == "rate"
        assert "LIF" in history.method_reason and "surrogate" in history.method_reason
        one_step = sim.fit(x, {probe: y}, epochs=1, verbose=0)
        assert "1 step" in one_step.method_reason
        chosen = sim.fit(x, {probe: y}, epochs=1, verbose=0, method="rate")
        assert "method='rate'" in chosen.method_reason
    assert out.getvalue() == ""


def _lif_net():
    with sg.Network(seed=0) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(6), label="input")
        x = sg.Layer(sg.Dense(8, init=sg.dists.Glorot()))(inp, label="fc1")
        x = sg.Layer(sg.LIF(amplitude=0.01))(x, label="lif")
        out = sg.Layer(sg.Dense(3, init=sg.dists.Glorot()))(x, label="fc2")
        probe = sg.Probe(out, label="out")
    return net, probe


# --------------------------------------------------------------------------- item 17
def test_trainable_params_follow_the_users_labels():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="input")
        x = sg.Layer(sg.Dense(3, bias=True))(inp, label="fc1")
        x = sg.Layer(sg.Dense(3, init=sg.dists.Glorot()))(x, label="fc1")  # a second fc1
        sg.Probe(x)
        a = sg.Ensemble(10, 1, label="a")
        sg.Connection(inp[0], a)
        b = sg.Ensemble(10, 1)
        sg.Connection(a, b, transform=2.0)
        sg.Probe(b)
    with sg.Simulator(net, progress_bar=False) as sim:
        params = sim.trainable_params()
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"fc1.weights": (3, 4), "fc1.bias": (3,), "fc1_2.weights": (3, 3),
                      "a.encoders": (10, 1), "a.bias": (10,), "a_ensemble.decoders": (1, 10),
                      "a_ensemble.weights": (1,), "ensemble.encoders": (10, 1),
                      "ensemble.bias": (10,)}
    assert all(not k.startswith("%") for k in params)


def test_summary_counts_trainable_and_frozen_apart():
    net, _, _ = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    trainable, frozen, text = _summary_counts(net)
    with sg.Simulator(net, progress_bar=False) as sim:
        assert trainable == _count(sim.trainable_params())
    assert "trainable" in text and "frozen" in text
    assert frozen == 2 * (5 + 3)  # each Leaky neuron's gain and bias
    conn = next(c for c in net.all_connections if c.label == "rec")
    net.config[conn].trainable = False
    trainable2, frozen2, _ = _summary_counts(net)
    assert (trainable2, frozen2) == (trainable - 25, frozen + 25)
    with sg.Simulator(net, progress_bar=False) as sim:
        assert trainable2 == _count(sim.trainable_params())


def test_summary_and_trainable_params_agree_on_a_nef_network():
    with sg.Network(seed=0) as net:
        stim = sg.Node(np.zeros(2), label="stim")
        a = sg.Ensemble(20, 2, label="a")
        b = sg.Ensemble(15, 1, label="b")
        sg.Connection(stim, a)
        sg.Connection(a, b, function=lambda x: x[0] * x[1])
        sg.Connection(b.neurons, a.neurons, transform=sg.Sparse((20, 15), np.array([[0, 1]])))
        sg.Probe(b, synapse=0.01)
    trainable, frozen, _ = _summary_counts(net)
    with sg.Simulator(net, progress_bar=False) as sim:
        assert trainable == _count(sim.trainable_params())
    # frozen: every gain (35), the Sparse transform's one weight (sparse transforms are
    # not trained), the probe's decoders (15)
    assert frozen == 35 + 1 + 15


def test_dense_bias_default_is_the_same_on_a_layer_and_a_connection():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="input")
        layer = sg.Layer(sg.Dense(3))(inp, label="layer")
        node = sg.Node(size_in=3, label="node")
        sg.Connection(inp, node, transform=sg.Dense((3, 4), init=sg.dists.Glorot()),
                      label="conn")
        layer_b = sg.Layer(sg.Dense(3, bias=True))(inp, label="layer_b")
        node_b = sg.Node(size_in=3, label="node_b")
        sg.Connection(inp, node_b, transform=sg.Dense((3, 4), init=sg.dists.Glorot(),
                                                      bias=True), label="conn_b")
        for out in (layer, node, layer_b, node_b):
            sg.Probe(out)
    with sg.Simulator(net, progress_bar=False) as sim:
        keys = set(sim.trainable_params())
    assert keys == {"layer.weights", "conn.weights", "layer_b.weights", "layer_b.bias",
                    "conn_b.weights", "conn_b.bias"}


def test_save_params_writes_labels_and_load_params_reads_old_files(tmp_path):
    net, _, probe = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    with sg.Simulator(net, progress_bar=False) as sim:
        _fit(sim, probe)
        trained = sim.trainable_params()
        path = sim.save_params(tmp_path / "p.npz")
        internal = sim._current_params()
    from snngraph.runtimes.training import params as params_io

    saved, _, _ = params_io.read(path)
    assert set(saved) >= set(trained) and not any(k.startswith("%") for k in saved)
    old = tmp_path / "old.npz"  # a file from before: internal keys ('%fc1_2.w')
    params_io.write(old, internal, {"network": None})
    for file in (path, old):
        with sg.Simulator(net, progress_bar=False) as sim:
            sim.load_params(file)
            loaded = sim.trainable_params()
        assert set(loaded) == set(trained)
        for k in trained:
            np.testing.assert_array_equal(loaded[k], trained[k])


# --------------------------------------------------------------------------- bad inputs
def _check(msg: str, *parts: str) -> None:
    for part in parts:
        assert part in msg, f"{part!r} not in:\n{msg}"


def test_bad_trainable_on_a_node_names_the_node_and_the_fix():
    with sg.Network() as net:
        node = sg.Node(np.zeros(3), label="pixels")
        with pytest.raises(ValidationError) as err:
            net.config[node].trainable = True
    _check(str(err.value), "'pixels'", "trainable", "True", "fix:", "Connection")


def test_bad_trainable_true_on_a_connection_with_nothing_to_train():
    with sg.Network(seed=0) as net:
        a = sg.Node(np.zeros(3), label="a")
        b = sg.Node(size_in=3, label="b")
        conn = sg.Connection(a, b, transform=sg.Sparse((3, 3), np.array([[0, 1]])),
                             label="sparse_link")
        sg.Probe(b)
        net.config[conn].trainable = True
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(ValidationError) as err:
        sim.trainable_params()
    _check(str(err.value), "'sparse_link'", "trainable", "True", "Sparse", "fix:")


def test_bad_load_params_with_an_unknown_key_names_it_and_suggests(tmp_path):
    net, _, _ = _recurrent_net(sg.Dense((5, 5), init=sg.dists.Uniform(-1, 1)))
    with sg.Simulator(net, progress_bar=False) as sim:
        good = sim.trainable_params()
        bad = dict(good)
        bad["fc_1.weights"] = bad.pop("fc1.weights")
        path = tmp_path / "typo.npz"
        from snngraph.runtimes.training import params as params_io

        params_io.write(path, bad, {"network": None})
        with pytest.raises(SerializationError) as err:
            sim.load_params(path)
    _check(str(err.value), "typo.npz", "fc_1.weights", "fc1.weights", "fix:")


def test_bad_autapses_false_on_a_non_square_layer():
    with sg.Network():
        inp = sg.Node(np.zeros(4), label="input")
        with pytest.raises(ValidationError) as err:
            sg.Layer(sg.Dense(6, autapses=False))(inp, label="fc")
    _check(str(err.value), "'fc'", "autapses", "False", "(6, 4)", "fix:")


def test_bad_autapses_false_on_a_non_square_connection():
    with sg.Network():
        a = sg.Node(np.zeros(4), label="a")
        b = sg.Node(size_in=6, label="b")
        with pytest.raises(ValidationError) as err:
            sg.Connection(a, b, transform=sg.Dense(6, autapses=False))
    _check(str(err.value), "<Node 'a'>", "<Node 'b'>", "autapses", "False", "(6, 4)", "fix:")


def test_bad_autapses_false_with_the_identity_init():
    with pytest.raises(ValidationError) as err:
        sg.Dense((4, 4), autapses=False)
    _check(str(err.value), "Dense", "init", "1.0", "autapses=False", "fix:")
    assert math.isfinite(1.0)
