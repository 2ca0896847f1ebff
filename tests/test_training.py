"""The training API (runtimes/training/): losses, optimizers
and metrics against hand computations; ``fit`` learning a small classifier (rate and
spiking); the rate backend against a numpy forward pass; parameter files (round trips,
also across processes, bad files, atomic writes); ``freeze_params``; non-finite
training; checkpoints and resuming; ``trainable``; and the errors of ``fit``.

Data: three Gaussian blobs in 4-D (separable), NengoDL's layout ``[examples, size]`` or
``[examples, steps, size]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import blobs
from conftest import quiet as quiet_simulator
from snngraph.runtimes.training import History, TrainingError

import snngraph as sg

TESTS = Path(__file__).resolve().parent
GAIN, AMPLITUDE = 100.0, 0.01  # every hidden neuron: 100 Hz at an input of 1, x 0.01


# --------------------------------------------------------------------------- helpers
def build_net(neuron: sg.NeuronType | None = None, hidden: int = 16, seed: int = 0,
              filtered: bool = False):
    """inp (4) -> Dense(hidden) -> ReLU-type neurons -> Dense(3); returns
    ``(net, probe)`` or, with ``filtered``, ``(net, probe, filtered probe)``."""
    neuron = neuron if neuron is not None else sg.RectifiedLinear(amplitude=AMPLITUDE)
    with sg.Network(seed=seed, label="blobs") as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([GAIN])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(hidden, bias=True))(inp, label="dense")
        h = sg.Layer(neuron)(h, label="relu")
        out = sg.Layer(sg.Dense(3, bias=True))(h, label="out")
        p = sg.Probe(out, label="out_p")
        if filtered:
            return net, p, sg.Probe(out, synapse=0.01, label="out_f")
    return net, p


quiet = partial(quiet_simulator, minibatch_size=32)  # these tests train in minibatches of 32


def objects(net) -> dict[str, object]:
    """The trainable objects of ``build_net``: both weight connections and the
    ensemble."""
    conns = net.all_connections
    return {"w1": next(c for c in conns if getattr(c.post, "label", None) == "dense"),
            "w2": next(c for c in conns if getattr(c.post, "label", None) == "out"),
            "ens": net.all_ensembles[0]}


def saved(sim, net, path) -> dict[tuple[int, str], np.ndarray]:
    """The simulator's parameters through its parameters file, by (id(owner), role)."""
    from snngraph.params import public_names

    sim.save_params(path)
    owners = sg.compile(net, target="rate").ir.owners  # keys are the same every compile
    names = public_names(owners)  # the file holds them under the user's labels
    with np.load(path) as f:
        return {(id(obj), role): f[f"param/{names[key]}"] for key, (obj, role) in owners.items()}


def fit(sim, x, y, probe, **kwargs) -> History:
    kwargs.setdefault("epochs", 3)
    kwargs.setdefault("optimizer", sg.optim.Adam(lr=0.01))
    kwargs.setdefault("verbose", 0)
    return sim.fit(x, {probe: y}, **kwargs)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numeric_grad(f, y, eps=1e-6):
    g = np.zeros_like(y)
    for i in np.ndindex(y.shape):
        a, b = y.copy(), y.copy()
        a[i] += eps
        b[i] -= eps
        g[i] = (f(a) - f(b)) / (2 * eps)
    return g


@pytest.fixture(scope="module")
def data():
    return blobs(300)


# --------------------------------------------------------------------------- 1. losses
N, T, K = 5, 3, 4
LOGITS = np.random.default_rng(1).standard_normal((N, T, K))
LABELS = np.random.default_rng(2).integers(0, K, (N, T))


def hand_ce(y, lab):
    """mean(logsumexp - logit[label]) and (softmax - onehot) / (N T)."""
    n, t, k = y.shape
    lse = np.log(np.exp(y).sum(-1))
    picked = np.take_along_axis(y, lab[..., None], -1)[..., 0]
    onehot = np.eye(k)[lab]
    return np.mean(lse - picked), (softmax(y) - onehot) / (n * t)


@pytest.mark.parametrize("layout", ["[N]", "[N,T]", "[N,T,1]", "onehot[N,T,K]", "onehot[N,K]"])
def test_cross_entropy_from_logits_matches_hand_computation(layout):
    ce = sg.losses.CrossEntropy()
    lab = LABELS if "T" in layout else np.broadcast_to(LABELS[:, :1], (N, T))
    given = {"[N]": LABELS[:, 0], "[N,T]": LABELS, "[N,T,1]": LABELS[..., None],
             "onehot[N,T,K]": np.eye(K)[LABELS], "onehot[N,K]": np.eye(K)[LABELS[:, 0]]}[layout]
    target = ce.prepare(given, (N, T, K), "test")
    value, grad = ce(LOGITS.astype(np.float32), target)
    want_value, want_grad = hand_ce(LOGITS.astype(np.float32).astype(np.float64), lab)
    assert value == pytest.approx(want_value, rel=1e-6)
    assert grad.dtype == np.float32 and grad.shape == (N, T, K)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-8)


def test_cross_entropy_gradients_match_finite_differences():
    for ce in (sg.losses.CrossEntropy(), sg.losses.CrossEntropy(from_logits=False)):
        y = LOGITS if ce.from_logits else softmax(LOGITS)
        target = ce.prepare(LABELS, (N, T, K), "test")
        _, grad = ce(y, target)
        num = numeric_grad(lambda v, ce=ce, target=target: ce(v, target)[0], y)
        np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-7)


def test_cross_entropy_from_probabilities_matches_hand_computation():
    probs = softmax(LOGITS)
    ce = sg.losses.CrossEntropy(from_logits=False)
    value, grad = ce(probs, ce.prepare(LABELS[..., None], (N, T, K), "test"))
    picked = np.take_along_axis(probs, LABELS[..., None], -1)[..., 0]
    assert value == pytest.approx(np.mean(-np.log(picked)), rel=1e-6)
    want = -np.eye(K)[LABELS] / picked[..., None] / (N * T)
    np.testing.assert_allclose(grad, want, rtol=1e-5)
    # the same value as from logits
    from_logits, _ = sg.losses.CrossEntropy()(LOGITS, LABELS)
    assert value == pytest.approx(from_logits, rel=1e-6)


@pytest.mark.parametrize("target_shape", [(N, T, K), (N, K), (N, 1, K)])
def test_mse_matches_hand_computation_and_finite_differences(target_shape):
    mse = sg.losses.MSE()
    raw = np.random.default_rng(3).standard_normal(target_shape)
    target = mse.prepare(raw, (N, T, K), "test")
    value, grad = mse(LOGITS, target)
    full = np.broadcast_to(raw.reshape(N, -1, K), (N, T, K))
    assert value == pytest.approx(np.mean((LOGITS - full) ** 2), rel=1e-6)
    np.testing.assert_allclose(grad, 2 * (LOGITS - full) / (N * T * K), rtol=1e-5)
    np.testing.assert_allclose(grad, numeric_grad(lambda v: mse(v, target)[0], LOGITS),
                               rtol=1e-4, atol=1e-7)


def test_rate_regularizer_matches_hand_computation_and_finite_differences():
    reg = sg.losses.RateRegularizer(0.5, 2.0)
    assert (reg.target, reg.weight) == (0.5, 2.0)
    assert reg.prepare(None, (N, T, K), "test") is None
    value, grad = reg(LOGITS)
    assert value == pytest.approx(2.0 * np.mean((LOGITS - 0.5) ** 2), rel=1e-6)
    np.testing.assert_allclose(grad, 2.0 * 2 * (LOGITS - 0.5) / LOGITS.size, rtol=1e-5)
    np.testing.assert_allclose(grad, numeric_grad(lambda v: reg(v)[0], LOGITS),
                               rtol=1e-4, atol=1e-7)


def test_sparse_labels_with_as_many_steps_as_classes_are_not_argmaxed():
    t = np.array([[2, 2, 2], [1, 1, 1]])  # sparse labels: not one-hot rows (a 2 in them)
    try:
        got = sg.losses.CrossEntropy().prepare(t, (2, 3, 3), "test")
    except sg.ValidationError:
        return  # refusing the ambiguous layout would be fine too
    np.testing.assert_array_equal(np.broadcast_to(got, (2, 3)), t)


@pytest.mark.parametrize("bad, match", [
    ("range", r"in \[0, 3\)"),
    ("negative", r"in \[0, 3\)"),
    ("fraction", "whole numbers"),
    ("shape", "expected labels of shape"),
    ("nan", "NaN"),
    ("text", "numeric array"),
])
def test_bad_labels_raise_validation_errors_naming_the_probe(data, bad, match):
    x, y = data
    y = y.astype(float)
    labels = {"range": np.where(np.arange(len(y)) == 7, 3, y),
              "negative": np.where(np.arange(len(y)) == 7, -1, y),
              "fraction": np.where(np.arange(len(y)) == 7, 1.5, y),
              "shape": y[:-1], "nan": np.where(np.arange(len(y)) == 7, np.nan, y),
              "text": np.array(["a"] * len(y))}[bad]
    net, p = build_net()
    sim = quiet(net)
    with pytest.raises(sg.ValidationError, match=match) as info:
        fit(sim, x, labels, p, epochs=1)
    assert "out_p" in str(info.value)
    assert info.value.field == "y"
    with pytest.raises(sg.ValidationError, match="out_p"):
        sim.evaluate(x, {p: labels}, metrics=sg.metrics.Accuracy())


# --------------------------------------------------------------------------- 2. optimizers
def keras_steps(name, p, grads, lr, **kw):
    """Keras's update rules written out in float64."""
    p = p.astype(np.float64).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if name == "sgd":
            mom = kw.get("momentum", 0.0)
            m = mom * m - lr * g
            p = p + (mom * m - lr * g if kw.get("nesterov") else m)
        elif name == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-7
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        elif name == "rmsprop":
            rho, eps, mom = 0.9, 1e-7, kw.get("momentum", 0.0)
            v = rho * v + (1 - rho) * g * g
            step = lr * g / (np.sqrt(v) + eps)
            m = mom * m + step
            p = p - (m if mom else step)
    return p


OPTIMIZERS = [
    ("sgd", sg.optim.SGD(lr=0.1), {}),
    ("sgd", sg.optim.SGD(lr=0.1, momentum=0.9), {"momentum": 0.9}),
    ("sgd", sg.optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
     {"momentum": 0.9, "nesterov": True}),
    ("adam", sg.optim.Adam(lr=0.01), {}),
    ("rmsprop", sg.optim.RMSprop(lr=0.01), {}),
    ("rmsprop", sg.optim.RMSprop(lr=0.01, momentum=0.5), {"momentum": 0.5}),
]


@pytest.mark.parametrize("name, opt, kw", OPTIMIZERS, ids=[repr(o[1]) for o in OPTIMIZERS])
def test_optimizer_updates_match_keras_formulas(name, opt, kw):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 2)).astype(np.float32)
    grads = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(3)]
    params = {"w": p0.copy()}
    state = opt.init(params)
    assert int(state["step"]) == 0
    for i, g in enumerate(grads, start=1):
        opt.update(params, {"w": g}, state)
        assert int(state["step"]) == i
        assert params["w"].dtype == np.float32
        want = keras_steps(name, p0, grads[:i], opt.lr, **kw)
        np.testing.assert_allclose(params["w"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, opt, kw", OPTIMIZERS, ids=[repr(o[1]) for o in OPTIMIZERS])
def test_optimizer_minimises_a_quadratic(name, opt, kw):
    a = np.array([1.0, 3.0, 0.5], np.float32)
    c = np.array([2.0, -1.0, 0.5], np.float32)
    params = {"w": np.zeros(3, np.float32)}
    state = opt.init(params)
    for _ in range(1500):
        opt.update(params, {"w": a * (params["w"] - c)}, state)
    np.testing.assert_allclose(params["w"], c, atol=0.03)


def test_optimizer_defaults_are_keras_defaults():
    assert sg.optim.SGD().lr == 0.01 and sg.optim.SGD().momentum == 0.0
    adam = sg.optim.Adam()
    assert (adam.lr, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    rms = sg.optim.RMSprop()
    assert (rms.lr, rms.rho, rms.epsilon) == (0.001, 0.9, 1e-7)


# --------------------------------------------------------------------------- 3. metrics
def test_accuracy_every_step_and_last_step():
    y = np.zeros((2, 3, 4))
    y[0, :, 1] = 1  # example 0 always guesses 1
    y[1, 0, 0] = y[1, 1, 2] = y[1, 2, 3] = 1  # example 1 guesses 0, 2, 3
    sparse = np.array([[1], [3]])  # [examples, 1]
    every = sg.metrics.Accuracy().prepare(sparse[:, 0], (2, 3, 4), "test")
    assert sg.metrics.Accuracy()(y, every) == (4.0, 6)
    assert sg.metrics.Accuracy(last_step=True)(y, every) == (2.0, 2)
    per_step = np.array([[1, 1, 0], [0, 2, 2]])  # labels that change over time
    assert sg.metrics.Accuracy()(y, per_step) == (4.0, 6)
    assert sg.metrics.Accuracy(last_step=True)(y, per_step) == (0.0, 2)
    assert sg.metrics.Accuracy.name == "accuracy"


# --------------------------------------------------------------------------- 4. fit learns
def test_fit_learns_the_blobs(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    history = fit(sim, x, y, p, epochs=4, metrics=sg.metrics.Accuracy())
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2, 3]
    assert set(history.history) == {"loss", "out_p_accuracy", "epoch_seconds"}
    assert all(len(v) == 4 for v in history.history.values())
    losses = history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert history["out_p_accuracy"][-1] >= 0.9
    assert all(s > 0 for s in history["epoch_seconds"])
    out = sim.predict(x)[p]
    assert out.shape == (len(x), 1, 3)
    assert np.mean(out[:, -1].argmax(-1) == y) >= 0.9
    result = sim.evaluate(x, {p: y}, metrics=sg.metrics.Accuracy(),
                          loss=sg.losses.CrossEntropy())
    assert result["out_p_accuracy"] >= 0.9
    assert result["loss"] < losses[0]


def test_compile_sets_defaults_for_fit_and_evaluate(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    sim.compile(optimizer=sg.optim.Adam(lr=0.01), loss=sg.losses.CrossEntropy(),
                metrics=sg.metrics.Accuracy())
    history = sim.fit(x, {p: y}, epochs=3, verbose=0)
    assert history["out_p_accuracy"][-1] >= 0.9
    assert set(sim.evaluate(x, {p: y})) == {"loss", "out_p_loss", "out_p_accuracy"}


def test_callbacks_see_every_epoch_and_can_stop_training(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    seen = []

    class Stop:
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, sorted(logs)))
            if epoch == 1:
                sim.stop_training = True

    history = fit(sim, x, y, p, epochs=5, callbacks=[Stop(), lambda e, logs: None])
    assert [e for e, _ in seen] == [0, 1]
    assert history.epoch == [0, 1] and len(history["loss"]) == 2
    assert seen[0][1] == ["epoch_seconds", "loss"]


def test_spiking_network_trained_through_rates_classifies_with_spikes(data):
    x, y = data
    net, p, pf = build_net(sg.SpikingRectifiedLinear(amplitude=AMPLITUDE), filtered=True)
    sim = quiet(net, minibatch_size=100)
    history = fit(sim, x, y, p, epochs=8, metrics=sg.metrics.Accuracy())
    assert history["out_p_accuracy"][-1] >= 0.9
    tiled = np.tile(x[:, None], (1, 40, 1))
    result = sim.evaluate(tiled, {pf: y}, metrics=sg.metrics.Accuracy(last_step=True))
    assert set(result) == {"out_f_accuracy"}
    assert result["out_f_accuracy"] >= 0.85
    # it is the spiking network that ran: the unfiltered output jumps from step to step
    out = sim.predict(tiled[:20])
    assert out[p].shape == (20, 40, 3) and out[pf].shape == (20, 40, 3)
    assert np.ptp(out[p][:, 10:], axis=1).max() > 0.5


# --------------------------------------------------------------------------- 5. rate backend
def test_rate_backend_predict_is_the_numpy_forward_pass(data, tmp_path):
    x, y = data
    net, p = build_net()
    sim = quiet(net, backend="rate")
    objs = objects(net)

    def forward(params):
        w1 = params[id(objs["w1"]), "transform"]
        b1 = params[id(objs["w1"]), "transform_bias"]
        bias = params[id(objs["ens"]), "bias"]
        w2 = params[id(objs["w2"]), "transform"]
        b2 = params[id(objs["w2"]), "transform_bias"]
        h = x.astype(np.float64) @ w1.T + b1
        r = AMPLITUDE * np.maximum(GAIN * h + bias, 0)
        return r @ w2.T + b2

    before = saved(sim, net, tmp_path / "before.npz")
    np.testing.assert_allclose(sim.predict(x)[p][:, 0], forward(before), rtol=1e-4, atol=1e-4)
    xv, yv = blobs(50, seed=1)
    history = fit(sim, x, y, p, metrics=sg.metrics.Accuracy(), validation_data=(xv, {p: yv}))
    assert set(history.history) == {"loss", "out_p_accuracy", "val_loss",
                                    "val_out_p_accuracy", "epoch_seconds"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history["val_out_p_accuracy"][-1] >= 0.9
    after = saved(sim, net, tmp_path / "after.npz")
    assert not np.array_equal(after[id(objs["w1"]), "transform"],
                              before[id(objs["w1"]), "transform"])
    np.testing.assert_allclose(sim.predict(x)[p][:, 0], forward(after), rtol=1e-4, atol=1e-4)
    # held for several steps: the same steady state every step
    held = sim.predict(x[:5], n_steps=4)[p]
    assert held.shape == (5, 4, 3)
    np.testing.assert_array_equal(held, np.repeat(held[:, :1], 4, axis=1))
    # validation accuracy is exact whatever the minibatches: evaluate agrees with it
    result = sim.evaluate(xv, {p: yv}, metrics=sg.metrics.Accuracy())
    assert result["out_p_accuracy"] == history["val_out_p_accuracy"][-1]


def test_val_loss_is_the_loss_over_the_whole_validation_set(data):
    x, y = data
    xv, yv = blobs(50, seed=1)  # 50 = 32 + 18: a partial last minibatch
    net, p = build_net()
    sim = quiet(net, backend="rate", minibatch_size=32)
    history = fit(sim, x, y, p, epochs=1, validation_data=(xv, {p: yv}))
    result = sim.evaluate(xv, {p: yv}, loss=sg.losses.CrossEntropy())
    assert history["val_loss"][-1] == pytest.approx(result["loss"], rel=1e-6)


# --------------------------------------------------------------------------- 6. parameter files
def trained_sim(x, y, hidden=16):
    net, p = build_net(hidden=hidden)
    sim = quiet(net)
    fit(sim, x, y, p, epochs=2)
    return sim, net, p


def test_save_then_load_in_a_new_simulator_reproduces_predictions(data, tmp_path):
    x, y = data
    sim, _, p = trained_sim(x, y)
    path = sim.save_params(tmp_path / "params.npz")
    assert Path(path) == tmp_path / "params.npz"
    want = sim.predict(x)[p]
    net2, p2 = build_net()
    sim2 = quiet(net2)
    fresh = sim2.predict(x)[p2]
    assert not np.allclose(fresh, want)  # training changed something
    sim2.load_params(path)
    assert np.array_equal(sim2.predict(x)[p2], want)
    rate = quiet(build_net()[0], backend="rate")  # the file serves any backend
    rate.load_params(path)
    np.testing.assert_allclose(rate.predict(x)["out_p"], want, rtol=1e-5, atol=1e-5)
    with np.load(path) as f:
        meta = json.loads(f["meta"].tobytes().decode())
    assert meta["format"] == "snngraph-params/1" and meta["network"] == "blobs"
    assert set(meta["shapes"]) == set(meta["owners"])


def test_load_params_in_another_process_reproduces_predictions(data, tmp_path):
    x, y = data
    sim, _, p = trained_sim(x, y)
    sim.save_params(tmp_path / "params.npz")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import numpy as np
        import snngraph as sg
        from test_training import blobs, build_net
        net, p = build_net()
        sim = sg.Simulator(net, minibatch_size=32, progress_bar=False)
        sim.load_params({str(tmp_path / "params.npz")!r})
        np.save({str(tmp_path / "out.npy")!r}, sim.predict(blobs(300)[0])[p])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(tmp_path / "out.npy"), sim.predict(x)[p])


def test_truncated_or_foreign_files_raise_and_change_nothing(data, tmp_path):
    x, y = data
    sim, _, p = trained_sim(x, y)
    good = sim.save_params(tmp_path / "good.npz")
    blob = good.read_bytes()
    (tmp_path / "half.npz").write_bytes(blob[: len(blob) // 2])
    other, _, _ = trained_sim(x, y, hidden=8)
    other.save_params(tmp_path / "other.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))

    target, _ = build_net()
    victim = quiet(target)
    before = victim.predict(x)
    key = next(iter(before))
    with pytest.raises(sg.SerializationError, match="half.npz.*(truncated|not a complete)"):
        victim.load_params(tmp_path / "half.npz")
    with pytest.raises(sg.SerializationError) as info:
        victim.load_params(tmp_path / "other.npz")
    message = str(info.value)
    assert "other.npz" in message and "shape" in message
    assert "Connection from <Node 'inp'> to <Node 'dense'>" in message or "Ensemble 'relu'" \
        in message
    with pytest.raises(sg.SerializationError, match="not a snngraph parameters file"):
        victim.load_params(tmp_path / "plain.npz")
    with pytest.raises(sg.SerializationError, match="does not exist"):
        victim.load_params(tmp_path / "missing.npz")
    after = victim.predict(x)
    assert np.array_equal(after[key], before[key])
    victim.load_params(good)  # still usable
    assert np.array_equal(victim.predict(x)[key], sim.predict(x)[p])


def test_save_params_replaces_files_atomically(data, tmp_path, monkeypatch):
    x, y = data
    sim, _, _ = trained_sim(x, y)
    path = tmp_path / "params.npz"
    path.write_bytes(b"old contents " * 10000)  # bigger than the new file
    inode = os.stat(path).st_ino
    sim.save_params(path)
    assert os.listdir(tmp_path) == ["params.npz"]  # no temporary file left
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one
    sim.save_params(tmp_path / "copy.npz")
    assert path.stat().st_size == (tmp_path / "copy.npz").stat().st_size
    good = path.read_bytes()

    def failing(fh, **entries):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing)
    with pytest.raises(OSError, match="disk full"):
        sim.save_params(path)
    monkeypatch.undo()
    assert path.read_bytes() == good  # the good file is intact
    assert sorted(os.listdir(tmp_path)) == ["copy.npz", "params.npz"]
    with pytest.raises(sg.SerializationError, match="does not exist"):
        sim.save_params(tmp_path / "no" / "such" / "params.npz")


# --------------------------------------------------------------------------- 7. freeze
def test_freeze_params_writes_the_trained_values_into_the_network(data, tmp_path):
    x, y = data
    sim, net, p = trained_sim(x, y)
    want = sim.predict(x)[p]
    sim.freeze_params(net)
    fresh = quiet(net)  # no parameters loaded
    assert np.array_equal(fresh.predict(x)[p], want)
    sg.save(net, tmp_path / "net.json")
    loaded = sg.load(tmp_path / "net.json")
    again = quiet(loaded)
    assert np.array_equal(again.predict(x)["out_p"], want)
    # freezing does not change what the trained simulator runs
    assert np.array_equal(sim.predict(x)[p], want)


def test_freeze_params_refuses_another_network(data):
    x, y = data
    sim, _, _ = trained_sim(x, y)
    other, _ = build_net()
    with pytest.raises(sg.ValidationError, match="not part of"):
        sim.freeze_params(other)


# --------------------------------------------------------------------------- 8. non-finite
@pytest.mark.parametrize("case", ["huge lr", "huge inputs"])
def test_non_finite_training_stops_with_an_error_and_finite_parameters(data, case):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    opt = sg.optim.SGD(lr=1e6) if case == "huge lr" else sg.optim.SGD(lr=0.1)
    with np.errstate(all="ignore"), pytest.raises(TrainingError) as info:
        fit(sim, x if case == "huge lr" else x * 1e30, y, p, epochs=5, optimizer=opt)
    message = str(info.value)
    assert "not finite" in message
    assert "epoch 1" in message and "batch " in message
    assert "fix:" in message
    out = sim.predict(x)[p]
    assert np.all(np.isfinite(out))


def test_fit_never_returns_parameters_with_non_finite_outputs(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net, minibatch_size=len(x))  # one minibatch: its update is the last
    with np.errstate(all="ignore"):
        try:
            fit(sim, x, y, p, epochs=1, optimizer=sg.optim.SGD(lr=1e30))
        except TrainingError:
            pass
        out = sim.predict(x)[p]
    assert np.all(np.isfinite(out))


# --------------------------------------------------------------------------- 9. checkpoints
@pytest.mark.parametrize("opt", [sg.optim.Adam(lr=0.01),
                                 sg.optim.SGD(lr=0.05, momentum=0.9, nesterov=True)],
                         ids=["adam", "sgd-nesterov"])
def test_checkpoint_resumes_to_the_same_parameters(data, tmp_path, opt):
    x, y = data
    ckpt = tmp_path / "ckpt.npz"

    def run(epochs, checkpoint=None):
        net, p = build_net()
        sim = quiet(net)
        history = fit(sim, x, y, p, epochs=epochs, optimizer=opt, checkpoint=checkpoint,
                      metrics=sg.metrics.Accuracy())
        return sim, p, history

    _, _, first = run(2, ckpt)
    assert first.epoch == [0, 1]
    with np.load(ckpt) as f:
        assert json.loads(f["meta"].tobytes())["checkpoint"]["epochs_done"] == 2
    seen = []
    net, p = build_net()
    resumed_sim = quiet(net)
    resumed = fit(resumed_sim, x, y, p, epochs=4, optimizer=opt, checkpoint=ckpt,
                  metrics=sg.metrics.Accuracy(), callbacks=[lambda e, logs: seen.append(e)])
    assert seen == [2, 3]  # only epochs 2 and 3 were trained
    assert resumed.epoch == [0, 1, 2, 3]
    assert resumed["loss"][:2] == first["loss"]
    with np.load(ckpt) as f:
        info = json.loads(f["meta"].tobytes())["checkpoint"]
    assert info["epochs_done"] == 4 and info["epoch"] == [0, 1, 2, 3]
    straight_sim, sp, straight = run(4)
    np.testing.assert_allclose(resumed["loss"], straight["loss"], rtol=1e-12)
    a, b = resumed_sim.predict(x)[p], straight_sim.predict(x)[sp]
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.array_equal(a, b)


def test_checkpoint_with_another_optimizer_or_a_params_file_is_refused(data, tmp_path):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    fit(sim, x, y, p, epochs=1, optimizer=sg.optim.Adam(lr=0.01), checkpoint=tmp_path / "c.npz")
    with pytest.raises(TrainingError, match="same optimizer"):
        fit(sim, x, y, p, epochs=2, optimizer=sg.optim.Adam(lr=0.02),
            checkpoint=tmp_path / "c.npz")
    sim.save_params(tmp_path / "params.npz")
    with pytest.raises(TrainingError, match="not a checkpoint"):
        fit(sim, x, y, p, epochs=2, checkpoint=tmp_path / "params.npz")


# --------------------------------------------------------------------------- 10. trainable
@pytest.mark.parametrize("frozen", ["w1", "ens"])
def test_trainable_false_keeps_an_objects_parameters(data, tmp_path, frozen):
    x, y = data
    net, p = build_net()
    objs = objects(net)
    net.config[objs[frozen]].trainable = False
    sim = quiet(net)
    before = saved(sim, net, tmp_path / "before.npz")
    fit(sim, x, y, p, epochs=2)
    after = saved(sim, net, tmp_path / "after.npz")
    for (oid, role), value in before.items():
        same = np.array_equal(after[oid, role], value)
        assert same == (oid == id(objs[frozen])), (role, frozen)


# --------------------------------------------------------------------------- 11. errors
def test_fit_errors_name_the_field(data):
    x, y = data
    net, p, pf = build_net(filtered=True)
    _, stranger = build_net()
    sim = quiet(net)
    cases = [
        ({"y": {stranger: y}}, "y", "not a probe of this network"),
        ({"y": y}, "y", "bare value needs exactly one probe"),
        ({"epochs": 0}, "epochs", "fit.epochs"),
        ({"epochs": 1.5}, "epochs", "fit.epochs"),
        ({"batch_size": 0}, "batch_size", "fit.batch_size"),
        ({"optimizer": "adamm"}, "optimizer", "fit.optimizer"),
        ({"method": "sgd"}, "method", "fit.method"),
        ({"method": "bptt"}, "method", "1 step per example"),
        ({"loss": "msee"}, "loss", "fit.loss"),
        ({"metrics": "accurate"}, "metrics", "fit.metrics"),
        ({"validation_data": x}, "validation_data", "fit.validation_data"),
    ]
    for change, field, match in cases:
        kwargs = {"y": {p: y}, "epochs": 1, "verbose": 0, **change}
        with pytest.raises(sg.ValidationError, match=match) as info:
            sim.fit(x, **kwargs)
        assert info.value.field == field, change
    with pytest.raises(sg.ValidationError, match="give a loss or metrics"):
        sim.evaluate(x, {p: y})


def test_a_regularizer_needs_no_data_but_cannot_be_trained_on_alone(data):
    x, y = data
    with sg.Network(seed=0) as net:
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(8))(inp, label="dense")
        h = sg.Layer(sg.RectifiedLinear(amplitude=AMPLITUDE))(h, label="relu")
        out = sg.Layer(sg.Dense(3))(h, label="out")
        p = sg.Probe(out, label="out_p")
        rates = sg.Probe(h, label="rates")
    sim = quiet(net)
    history = sim.fit(x, {p: y}, epochs=2, verbose=0, optimizer=sg.optim.Adam(lr=0.01),
                      loss={p: sg.losses.CrossEntropy(),
                            rates: sg.losses.RateRegularizer(0.0, 1e-3)})
    assert {"loss", "out_p_loss", "rates_loss"} <= set(history.history)
    np.testing.assert_allclose(history["loss"],
                               np.add(history["out_p_loss"], history["rates_loss"]))
    with pytest.raises(sg.ValidationError, match="nothing to train"):
        sim.fit(x, {}, epochs=1, verbose=0, loss={rates: None})


@pytest.mark.parametrize("style", ["torch", "keras"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_kernel_gives_the_bits_of_its_numpy_form(style, dtype):
    """Contiguous arrays take the one-pass kernel; others the numpy operations it mirrors.
    Both must agree to the bit, gradients spanning many magnitudes (epsilon matters)."""
    opt = sg.optim.Adam(lr=2e-3, epsilon=1e-8, epsilon_style=style)
    rng = np.random.default_rng(0)
    fast = {"w": rng.normal(size=(30, 7)).astype(dtype), "b": rng.normal(size=13).astype(dtype)}
    slow = {k: v.copy() for k, v in fast.items()}
    s_fast, s_slow = opt.init(fast), opt.init(slow)
    for _ in range(20):
        g = {k: (rng.normal(size=v.shape) * 10.0 ** rng.integers(-9, 2, v.shape)).astype(dtype)
             for k, v in fast.items()}
        opt.update(fast, g, s_fast)
        strided = {k: np.repeat(v, 2, axis=-1)[..., ::2] for k, v in g.items()}  # not contiguous
        assert not any(v.flags.c_contiguous for v in strided.values())
        opt.update(slow, strided, s_slow)
    for k in fast:
        assert np.array_equal(fast[k], slow[k]), k
    for k in s_fast:
        assert np.array_equal(s_fast[k], s_slow[k]), k
