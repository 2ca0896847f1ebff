"""Keras spellings a NengoDL user types (issue 16, items 10 and 11): layer arguments,
string optimizers, losses and metrics, ``validation_split``, ``batch_size`` in
``evaluate``/``predict``, Keras callbacks and ``EarlyStopping``, ``verbose``; progress
output as whole lines when it does not go to a terminal; and the errors of bad
``fit``/``evaluate``/``predict`` arguments (each names the argument, the value and a fix).

Data: three Gaussian blobs in 4-D, as in test_training.py.
"""

from __future__ import annotations

import io
import sys
from functools import partial

import numpy as np
import pytest
from conftest import blobs
from conftest import quiet as quiet_simulator

import snngraph as sg

try:
    from snngraph.runtimes import progress as progress_mod
except ImportError:  # before the progress module existed
    progress_mod = None

GAIN, AMPLITUDE = 100.0, 0.01


def build_net(seed: int = 0):
    with sg.Network(seed=seed, label="blobs") as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([GAIN])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(16))(inp, label="dense")
        h = sg.Layer(sg.RectifiedLinear(amplitude=AMPLITUDE))(h, label="relu")
        out = sg.Layer(sg.Dense(3))(h, label="out")
        p = sg.Probe(out, label="out_p")
    return net, p


quiet = partial(quiet_simulator, minibatch_size=32)  # these tests train in minibatches of 32


@pytest.fixture(scope="module")
def data():
    return blobs(200)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# --------------------------------------------------------------- Dense / Conv2D names
def test_dense_takes_keras_names():
    assert sg.Dense(units=10) == sg.Dense(10)
    glorot = sg.dists.Glorot()
    assert sg.Dense(units=5, kernel_initializer=glorot) == sg.Dense(5, glorot)
    assert sg.Dense(5, use_bias=False).bias is False
    assert sg.Dense(5, use_bias=True).bias is True
    zeros = sg.dists.Uniform(-0.1, 0.1)
    assert sg.Dense(5, bias_initializer=zeros).bias == zeros
    assert sg.Dense(5, use_bias=True, bias_initializer=zeros).bias == zeros


def test_conv2d_takes_the_transform_names():
    glorot = sg.dists.Uniform(-0.2, 0.2)
    a = sg.Conv2D(4, 3, init=glorot, bias=False)
    assert a == sg.Conv2D(4, 3, kernel_initializer=glorot, use_bias=False)
    b = sg.Conv2D(4, 3, bias=glorot)
    assert b.use_bias and b.bias_initializer == glorot
    assert sg.Conv2D(4, 3, bias=True) == sg.Conv2D(4, 3)


def test_keras_initializer_names():
    assert sg.Dense(5, kernel_initializer="glorot_uniform").init == sg.dists.Glorot()
    assert sg.Dense(5, bias_initializer="zeros").bias is True
    assert sg.Conv2D(4, kernel_initializer="glorot_uniform", bias_initializer="zeros") == \
        sg.Conv2D(4)
    with pytest.raises(sg.ValidationError) as info:
        sg.Conv2D(4, kernel_initializer="he_normal")
    check(info, ["Conv2D.kernel_initializer", "'he_normal'", "'glorot_uniform'",
                 "sg.dists"])


def test_convolution_takes_keras_names():
    k = sg.dists.Uniform(-0.3, 0.3)
    assert sg.Convolution(4, (5, 5, 1), kernel_initializer=k, use_bias=True) == \
        sg.Convolution(4, (5, 5, 1), init=k, bias=True)


def test_layers_with_either_spelling_give_the_same_network():
    def make(conv, dense):
        with sg.Network(seed=1) as net:
            inp = sg.Node(np.zeros(36))
            x = sg.Layer(conv)(inp, shape_in=(6, 6, 1))
            sg.Layer(dense)(x)
        return sg.compile(net, target="rate").ir.params

    u = sg.dists.Uniform(-0.5, 0.5)
    a = make(sg.Conv2D(2, 3, kernel_initializer=u, use_bias=False),
             sg.Dense(units=3, kernel_initializer=u, use_bias=False))
    b = make(sg.Conv2D(2, 3, init=u, bias=False), sg.Dense(3, init=u, bias=False))
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not any(k.endswith(".b") for k in a)  # use_bias=False: no bias parameter


@pytest.mark.parametrize("make, parts", [
    (lambda: sg.Dense(10, units=10), ["units", "shape", "one of"]),
    (lambda: sg.Dense(units=3, init=1.0, kernel_initializer=sg.dists.Glorot()),
     ["kernel_initializer", "init", "one of"]),
    (lambda: sg.Dense(3, use_bias=False, bias_initializer=sg.dists.Glorot()),
     ["use_bias", "bias_initializer", "False"]),
    (lambda: sg.Dense(3, use_bias=True, bias=False), ["use_bias", "bias", "one of"]),
    (lambda: sg.Conv2D(3, init=sg.dists.Glorot(), kernel_initializer=sg.dists.Glorot()),
     ["kernel_initializer", "init", "one of"]),
    (lambda: sg.Conv2D(3, bias=False, use_bias=True), ["bias", "use_bias", "one of"]),
    (lambda: sg.Dense(units=3, unit=4), ["unit", "units"]),
])
def test_conflicting_spellings_are_named(make, parts):
    with pytest.raises(sg.ValidationError) as info:
        make()
    msg = str(info.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert "test_review_keras.py" in msg  # where it was created


# --------------------------------------------------------------- strings in fit
def test_string_optimizer_loss_and_metrics_are_keras_defaults(data):
    x, y = data
    net, p = build_net()
    results = {}
    for spelling in ["strings", "objects"]:
        sim = quiet(net)
        if spelling == "strings":
            kw = dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        else:
            kw = dict(optimizer=sg.optim.Adam(lr=0.001), loss=sg.losses.CrossEntropy(),
                      metrics=[sg.metrics.Accuracy()])
        history = sim.fit(x, {p: y}, epochs=2, verbose=0, shuffle=False, **kw)
        results[spelling] = history.history
    assert results["strings"]["loss"] == results["objects"]["loss"]
    assert results["strings"]["out_p_accuracy"] == results["objects"]["out_p_accuracy"]


@pytest.mark.parametrize("text, expected", [
    ("adam", sg.optim.Adam()), ("sgd", sg.optim.SGD()), ("rmsprop", sg.optim.RMSprop()),
    ("Adam", sg.optim.Adam()), ("RMSprop", sg.optim.RMSprop()),
])
def test_optimizer_names(text, expected):
    from snngraph.lookup import optimizer_from

    got = optimizer_from(text, "Simulator.fit")
    assert got == expected
    assert got.lr == {"sgd": 0.01}.get(text.lower(), 0.001)  # Keras's defaults


@pytest.mark.parametrize("text, expected", [
    ("sparse_categorical_crossentropy", sg.losses.CrossEntropy(from_logits=True)),
    ("categorical_crossentropy", sg.losses.CrossEntropy(from_logits=True)),
    ("mse", sg.losses.MSE()), ("mean_squared_error", sg.losses.MSE()),
])
def test_loss_names(text, expected):
    from snngraph.lookup import loss_from

    assert loss_from(text, "Simulator.fit") == expected


def test_compile_takes_strings_and_evaluate_uses_them(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    sim.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    sim.fit(x, {p: y}, epochs=1, verbose=0)
    assert set(sim.evaluate(x, {p: y}, verbose=0)) == {"loss", "out_p_loss",
                                                        "out_p_accuracy"}


def test_mse_string_trains_toward_one_hot(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    history = sim.fit(x, {p: np.eye(3)[y]}, epochs=2, loss="mse", optimizer="adam",
                      verbose=0)
    assert history["loss"][-1] < history["loss"][0]


# --------------------------------------------------------------- validation_split
def test_validation_split_is_the_last_fraction_unshuffled(data):
    x, y = data
    net, p = build_net()
    a = quiet(net)
    ha = a.fit(x, {p: y}, epochs=2, verbose=0, validation_split=0.25, metrics="accuracy",
               optimizer="adam")
    b = quiet(net)
    hb = b.fit(x[:150], {p: y[:150]}, epochs=2, verbose=0, optimizer="adam",
               validation_data=(x[150:], {p: y[150:]}), metrics="accuracy")
    assert ha.history.keys() == hb.history.keys()
    assert {"val_loss", "val_out_p_accuracy"} <= set(ha.history)
    for key in ha.history:
        if key != "epoch_seconds":
            assert ha[key] == hb[key], key


def test_validation_split_with_a_bare_y(data):
    x, y = data
    net, p = build_net()
    history = quiet(net).fit(x, y, epochs=1, verbose=0, validation_split=0.5)
    assert "val_loss" in history.history


# --------------------------------------------------------------- batch_size per call
def test_batch_size_in_predict_and_evaluate(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net, minibatch_size=7)
    ref = sim.predict(x)[p]
    for bs in (1, 50, 1000):
        np.testing.assert_array_equal(sim.predict(x, batch_size=bs)[p], ref)
    e1 = sim.evaluate(x, {p: y}, metrics="accuracy", batch_size=64)
    e2 = sim.evaluate(x, {p: y}, metrics="accuracy")
    assert e1 == e2
    assert sim.minibatch_size == 7
    sim.run_steps(2, np.zeros((7, 2, 4), np.float32))  # run_steps still uses minibatch_size


# --------------------------------------------------------------- callbacks
def test_keras_callback_hooks_are_called_in_order(data):
    x, y = data
    net, p = build_net()
    calls = []

    class Recorder(sg.callbacks.Callback):
        def on_train_begin(self, logs=None):
            calls.append(("train_begin",))

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("batch_end", batch, "loss" in logs))

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch, "val_loss" in logs))

        def on_train_end(self, logs=None):
            calls.append(("train_end", self.model is not None))

    cb = Recorder()
    quiet(net, minibatch_size=100).fit(x, {p: y}, epochs=2, verbose=0, callbacks=[cb],
                                       validation_split=0.5)
    assert calls == [("train_begin",),
                     ("epoch_begin", 0), ("batch_end", 0, True), ("epoch_end", 0, True),
                     ("epoch_begin", 1), ("batch_end", 0, True), ("epoch_end", 1, True),
                     ("train_end", True)]


def test_a_plain_object_with_hooks_is_honoured(data):
    x, y = data
    net, p = build_net()
    seen = []

    class Plain:
        def on_train_begin(self, logs=None):
            seen.append("begin")

        def on_train_end(self, logs=None):
            seen.append("end")

    quiet(net).fit(x, {p: y}, epochs=1, verbose=0, callbacks=Plain())
    assert seen == ["begin", "end"]


def test_stop_training_from_a_batch_hook(data):
    x, y = data
    net, p = build_net()

    class StopAfterTwoBatches(sg.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    sim = quiet(net, minibatch_size=20)
    history = sim.fit(x, {p: y}, epochs=3, verbose=0, callbacks=[StopAfterTwoBatches()])
    assert history.epoch == [0]
    assert sim.stop_training is False


class Scripted(sg.callbacks.Callback):
    """Overwrites the epoch's val_loss with a scripted sequence (EarlyStopping sees it)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_waits_patience_epochs_and_restores_the_best(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    weights = []

    class Snapshot(sg.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())

    stop = sg.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                      restore_best_weights=True)
    values = [1.0, 0.5, 0.6, 0.7, 0.1, 0.1]
    history = sim.fit(x, {p: y}, epochs=6, verbose=0, optimizer="adam",
                      validation_split=0.2,
                      callbacks=[Scripted(values), Snapshot(), stop])
    assert history.epoch == [0, 1, 2, 3]  # best at epoch 1, two epochs without improving
    assert stop.stopped_epoch == 3 and stop.best == 0.5 and stop.best_epoch == 1
    best = weights[1]
    current = sim._current_params()
    assert set(best) <= set(current)
    for key, value in best.items():
        np.testing.assert_array_equal(current[key], value)


def test_early_stopping_keeps_the_last_weights_without_restore(data):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    weights = []

    class Snapshot(sg.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())

    stop = sg.callbacks.EarlyStopping(patience=0)
    history = sim.fit(x, {p: y}, epochs=5, verbose=0, validation_split=0.2,
                      callbacks=[Scripted([1.0, 2.0, 3.0, 4.0, 5.0]), Snapshot(), stop])
    assert history.epoch == [0, 1]
    for key, value in weights[-1].items():
        np.testing.assert_array_equal(sim._current_params()[key], value)


def test_early_stopping_finds_keras_names_of_a_single_probe(data):
    x, y = data
    net, p = build_net()
    stop = sg.callbacks.EarlyStopping(monitor="val_accuracy", patience=0)
    quiet(net).fit(x, {p: y}, epochs=2, verbose=0, validation_split=0.2,
                   metrics=["accuracy"], optimizer="adam", callbacks=[stop])
    assert stop.mode_resolved == "max" and 0 < stop.best <= 1


def test_early_stopping_mode_and_min_delta():
    es = sg.callbacks.EarlyStopping(monitor="val_out_p_accuracy")
    assert es.mode_resolved == "max"
    es = sg.callbacks.EarlyStopping(monitor="loss", min_delta=0.1, patience=0)

    class Model:
        stop_training = False

        def get_weights(self):
            return {}

    es.set_model(Model())
    es.on_train_begin()
    es.on_epoch_end(0, {"loss": 1.0})
    es.on_epoch_end(1, {"loss": 0.95})  # improves by less than min_delta
    assert es.model.stop_training and es.stopped_epoch == 1


# --------------------------------------------------------------- verbose and progress
def run_fit(data, verbose, stream_cls=io.StringIO, progress_bar=True, monkeypatch=None,
            epochs=2):
    x, y = data
    net, p = build_net()
    sim = sg.Simulator(net, minibatch_size=32, progress_bar=progress_bar)
    out, err = stream_cls(), stream_cls()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress_mod, "DELAY", 0.0)
    try:
        sim.fit(x, {p: y}, epochs=epochs, verbose=verbose, validation_split=0.2)
        sim.predict(x, verbose=verbose)
        sim.evaluate(x, {p: y}, metrics="accuracy", verbose=verbose)
        sim.run_steps(3)
    finally:
        monkeypatch.undo()
    return out.getvalue(), err.getvalue()


def test_verbose_0_and_no_progress_bar_print_nothing(data, monkeypatch):
    out, err = run_fit(data, 0, monkeypatch=monkeypatch, progress_bar=False)
    assert out == "" and err == ""
    out, err = run_fit(data, 0, monkeypatch=monkeypatch, stream_cls=Tty)
    assert out == "", out
    # run_steps has no verbose: the Simulator's progress_bar governs it
    assert "fit" not in err and "predict" not in err and "evaluate" not in err


def test_non_terminal_output_is_whole_lines(data, monkeypatch):
    out, err = run_fit(data, 1, monkeypatch=monkeypatch, epochs=3)
    text = out + err
    assert "\r" not in text
    assert "minibatchs" not in text and "1 steps" not in text
    lines = out.splitlines()
    epoch_lines = [ln for ln in lines if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in epoch_lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("val_loss" in ln for ln in epoch_lines)
    err_lines = err.splitlines()
    for what in ("predict", "evaluate"):
        mine = [ln for ln in err_lines if ln.startswith(what + ":")]
        assert len(mine) == 2, (what, err_lines)
        assert "minibatches" in mine[0] and "200 examples" in mine[0], mine
        assert "done" in mine[1] and " s" in mine[1], mine
    assert len(err_lines) <= 8  # a few lines, not one per minibatch
    assert not any("minibatch " in ln and " 1 minibatches" in ln for ln in err_lines)


def test_verbose_2_is_one_line_per_epoch_even_on_a_terminal(data, monkeypatch):
    out, err = run_fit(data, 2, monkeypatch=monkeypatch, stream_cls=Tty)
    assert "\r" not in out + err.split("run_steps")[0].rstrip("\r")  # run_steps: a bar
    assert len([ln for ln in out.splitlines() if ln.startswith("epoch ")]) == 2


def test_terminal_gets_a_tqdm_bar(data, monkeypatch):
    out, err = run_fit(data, 1, monkeypatch=monkeypatch, stream_cls=Tty)
    assert "\r" in err and "minibatch" in err  # tqdm redraws in place
    assert "minibatchs" not in err


def test_plural_words():
    assert progress_mod.plural(1, "minibatch") == "1 minibatch"
    assert progress_mod.plural(3, "minibatch") == "3 minibatches"
    assert progress_mod.plural(2, "step") == "2 steps"
    assert progress_mod.plural(0, "example") == "0 examples"


def test_no_hand_written_bar_left():
    import snngraph.runtimes.simulator as simulator

    assert not hasattr(simulator, "_Bar")


def test_tqdm_is_a_core_dependency():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    core = text.split("dependencies = [", 1)[1].split("]", 1)[0]  # the first list: core
    assert '"tqdm' in core


# --------------------------------------------------------------- bad arguments
def check(exc, parts):
    msg = str(exc.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert "fix:" in msg or "did you mean" in msg, msg


BAD_FIT = [
    ({"epochs": "3"}, "epochs", ["epochs", "'3'", "epochs=3"]),
    ({"validation_split": 1.5}, "validation_split", ["validation_split", "1.5", "0.2"]),
    ({"validation_split": 0.999}, "validation_split",
     ["validation_split", "0.999", "no example to train on"]),
    ({"validation_split": 0.2, "validation_data": "xy"}, "validation_split",
     ["validation_split", "validation_data", "one of"]),
    ({"optimizer": "adamm"}, "optimizer", ["optimizer", "'adamm'", "did you mean 'adam'",
                                           "rmsprop", "sgd"]),
    ({"loss": "sparse_categorical_crossentropyy"}, "loss",
     ["loss", "did you mean 'sparse_categorical_crossentropy'", "mse"]),
    ({"metrics": ["acuracy"]}, "metrics", ["metrics", "'acuracy'", "did you mean 'accuracy'"]),
    ({"callbacks": [object()]}, "callbacks",
     ["callbacks", "object object", "on_epoch_end", "sg.callbacks.Callback"]),
    ({"callbacks": "early_stopping"}, "callbacks",
     ["callbacks", "'early_stopping'", "sg.callbacks.EarlyStopping"]),
    ({"verbose": 3}, "verbose", ["verbose", "3", "0, 1 or 2"]),
    ({"verbose": "loud"}, "verbose", ["verbose", "'loud'", "0, 1 or 2"]),
]


@pytest.mark.parametrize("change, field, parts", BAD_FIT,
                         ids=[f"{k}" for k, _, _ in [(str(c), f, p) for c, f, p in BAD_FIT]])
def test_bad_fit_arguments(data, change, field, parts):
    x, y = data
    net, p = build_net()
    sim = quiet(net)
    with pytest.raises(sg.ValidationError) as info:
        sim.fit(x, {p: y}, **{"epochs": 1, "verbose": 0, **change})
    assert info.value.field == field
    check(info, parts)


def test_tf_loss_object_gets_the_snngraph_spelling(data):
    x, y = data
    net, p = build_net()

    class SparseCategoricalCrossentropy:  # what tf.losses would hand over
        __module__ = "keras.src.losses.losses"
        from_logits = True

    with pytest.raises(sg.ValidationError) as info:
        quiet(net).fit(x, {p: y}, epochs=1, verbose=0, loss=SparseCategoricalCrossentropy())
    check(info, ["loss", "SparseCategoricalCrossentropy",
                 "'sparse_categorical_crossentropy'", "sg.losses.CrossEntropy"])


def test_early_stopping_on_a_missing_key_names_the_keys(data):
    x, y = data
    net, p = build_net()
    with pytest.raises(sg.ValidationError) as info:
        quiet(net).fit(x, {p: y}, epochs=2, verbose=0,
                       callbacks=[sg.callbacks.EarlyStopping(monitor="val_loss")])
    check(info, ["EarlyStopping", "monitor", "'val_loss'", "loss", "validation_split"])


@pytest.mark.parametrize("kwargs, parts", [
    ({"patience": -1}, ["patience", "-1", ">= 0"]),
    ({"mode": "smallest"}, ["mode", "'smallest'", "'min'"]),
    ({"monitor": 3}, ["monitor", "3", "val_loss"]),
])
def test_bad_early_stopping_arguments(kwargs, parts):
    with pytest.raises(sg.ValidationError) as info:
        sg.callbacks.EarlyStopping(**kwargs)
    check(info, ["EarlyStopping", *parts])


@pytest.mark.parametrize("call, field, parts", [
    (lambda sim, x, y, p: sim.predict(x, batch_size=0), "batch_size",
     ["predict", "batch_size", "0", ">= 1"]),
    (lambda sim, x, y, p: sim.evaluate(x, {p: y}, metrics="accuracy", batch_size=2.5),
     "batch_size", ["evaluate", "batch_size", "2.5"]),
    (lambda sim, x, y, p: sim.evaluate(x, {p: y}, metrics=["acc", "precision"]),
     "metrics", ["evaluate", "'precision'", "accuracy"]),
    (lambda sim, x, y, p: sim.predict(x, verbose=5), "verbose",
     ["predict", "verbose", "5", "0, 1 or 2"]),
])
def test_bad_predict_and_evaluate_arguments(data, call, field, parts):
    x, y = data
    net, p = build_net()
    with pytest.raises(sg.ValidationError) as info:
        call(quiet(net), x, y, p)
    assert info.value.field == field
    check(info, parts)


def test_training_through_time_honours_the_same_keras_arguments():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (48, 6)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(int)
    surrogate = sg.surrogates.FastSigmoid(slope=25)
    with sg.Network(seed=0) as net:
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(6), label="inp")
        h = sg.Layer(sg.Dense(8))(inp)
        h = sg.Layer(sg.Leaky(beta=0.9, surrogate=surrogate))(h)
        out = sg.Layer(sg.Dense(2))(h)
        p = sg.Probe(out, label="out")
    seen = []
    stop = sg.callbacks.EarlyStopping(monitor="val_loss", patience=5,
                                      restore_best_weights=True)
    with sg.Simulator(net, minibatch_size=16, progress_bar=False) as sim:
        history = sim.fit(x, {p: y}, epochs=2, n_steps=5, verbose=0, optimizer="adam",
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                          validation_split=0.25,
                          callbacks=[stop, lambda epoch, logs: seen.append(epoch)])
    assert history.method == "bptt"
    assert seen == [0, 1] and {"val_loss", "val_out_accuracy"} <= set(history.history)
    assert stop.best == min(history["val_loss"])
