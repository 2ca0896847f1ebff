"""Training through time (method="bptt"): gradients against finite differences, the
forward pass against the numba runtime, losses, method choice and errors."""

from __future__ import annotations

import numpy as np
import pytest
from snngraph.runtimes.bptt.model import BpttModel, to_examples, to_time_major

import snngraph as sg
from snngraph.errors import CompileError, ValidationError

S = sg.surrogates


def _net(neuron, recurrent=True, n_in=12, n_h=10, n_out=4, readout=None, seed=0):
    with sg.Network(seed=seed) as net:
        net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
        net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])
        inp = sg.Node(np.zeros(n_in), label="input")
        h = sg.Ensemble(n_h, 1, neuron_type=neuron, label="h")
        sg.Connection(inp, h.neurons, synapse=None,
                      transform=sg.Dense((n_h, n_in), init=sg.dists.Uniform(-0.6, 0.6)))
        if recurrent:
            sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1),
                          transform=sg.Dense((n_h, n_h), init=sg.dists.Uniform(-0.3, 0.3)))
        o = sg.Ensemble(n_out, 1, neuron_type=readout or sg.LI(), label="o")
        sg.Connection(h.neurons, o.neurons, synapse=None,
                      transform=sg.Dense((n_out, n_h), init=sg.dists.Uniform(-1, 1)))
        probe = sg.Probe(o.neurons, label="p")
    return net, probe


def _conv_net(neuron):
    """W4 in miniature: conv -> max-pool -> spiking -> conv -> avg-pool -> spiking -> dense."""
    with sg.Network(seed=1) as net:
        net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
        net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])
        inp = sg.Node(np.zeros(8 * 8), label="input")
        x = sg.Layer(sg.Conv2D(3, 3))(inp, shape_in=(8, 8, 1))
        x = sg.Layer(sg.MaxPool2D(2))(x)
        x = sg.Layer(neuron)(x)
        x = sg.Layer(sg.Conv2D(4, 2))(x)
        x = sg.Layer(sg.AvgPool2D(2))(x)
        x = sg.Layer(neuron)(x)
        x = sg.Layer(sg.Dense(3))(x)
        out = sg.Layer(sg.LI())(x)
        probe = sg.Probe(out, label="p")
    return net, probe


def _directional_check(net, probe, steps, batch, static, n_in, eps=1e-4, rtol=1e-2):
    """For each trainable array: <BPTT gradient, d> equals the central difference of the
    loss along a random direction d, with spikes replaced by the surrogate's integral.

    The tolerance is relative to the value, plus the difference's own noise: the forward
    pass runs in float32, so each loss carries a rounding error of about 2^-24 times
    ``sum |coef * y|`` (measured: at most 0.7 times that), and the central difference
    divides it by ``eps``. Smooth networks (no reset) take a larger ``eps``."""
    program = sg.compile(net)
    model = BpttModel(program)
    model.smooth = True
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (batch, 1 if static else steps, n_in)).astype(np.float32)
    out = program.op_of(probe)
    coef = None

    def loss():
        values, tape = model.forward_steps({"%input": x}, [out], steps, batch)
        y = to_examples(values[out], steps, batch)
        return float((y.astype(np.float64) * coef).sum()), values, tape

    coef = rng.normal(size=(batch, steps, program.ir.op(out).size))
    _, values, tape = loss()
    y = to_examples(values[out], steps, batch)
    noise = 2 * 2.0**-24 * float(np.abs(y * coef).sum()) / eps
    grads = model.backward_steps(values, tape, {out: to_time_major(coef.astype(np.float32))})
    assert set(grads) == set(model.trainable)
    for key, g in grads.items():
        d = rng.normal(size=g.shape).astype(np.float32)
        p0 = model.params[key].copy()
        model.params[key][...] = p0 + eps * d
        up = loss()[0]
        model.params[key][...] = p0 - eps * d
        down = loss()[0]
        model.params[key][...] = p0
        fd, bp = (up - down) / (2 * eps), float((g.astype(np.float64) * d).sum())
        assert abs(fd - bp) <= rtol * abs(fd) + noise, (key, fd, bp, noise)


NEURONS = {
    "leaky-subtract": sg.Leaky(0.8, surrogate=S.FastSigmoid(1.0)),
    "leaky-subtract-atan": sg.Leaky(0.8, surrogate=S.ATan(1.0)),
    "leaky-zero": sg.Leaky(0.8, reset="zero", surrogate=S.ATan(1.0)),
    "leaky-none": sg.Leaky(0.8, reset="none", surrogate=S.FastSigmoid(1.0)),
    "leaky-no-delay": sg.Leaky(0.8, reset_delay=False, surrogate=S.SigmoidSurrogate(2.0)),
    "cuba-detached": sg.CubaLIF(v_th=0.3, surrogate=S.Triangle(2.0)),
    "cuba-attached": sg.CubaLIF(v_th=0.3, detach_reset=False, surrogate=S.FastSigmoid(1.0)),
}


@pytest.mark.parametrize("recurrent", [False, True], ids=["feed-forward", "recurrent"])
@pytest.mark.parametrize("name", list(NEURONS))
def test_gradients_match_finite_differences(name, recurrent):
    net, probe = _net(NEURONS[name], recurrent)
    _directional_check(net, probe, steps=12, batch=3, static=False, n_in=12)


def test_gradients_with_input_constant_over_time():
    net, probe = _net(sg.Leaky(0.8, reset="none", surrogate=S.FastSigmoid(1.0)))
    _directional_check(net, probe, steps=10, batch=2, static=True, n_in=12, eps=1e-3)


def test_gradients_through_conv_and_pooling():
    net, probe = _conv_net(sg.Leaky(0.7, reset="none", surrogate=S.FastSigmoid(1.0)))
    _directional_check(net, probe, steps=6, batch=2, static=True, n_in=64, eps=1e-3)


@pytest.mark.parametrize("neuron", [
    sg.Leaky(0.8, surrogate=S.FastSigmoid(25)), sg.Leaky(0.6, reset="zero"),
    sg.Leaky(0.9, reset_delay=False), sg.CubaLIF(v_th=0.3)], ids=repr)
def test_forward_pass_equals_the_numba_runtime(neuron):
    """Training sees exactly the spikes the simulator produces (real 0/1 events)."""
    net, probe = _net(neuron, recurrent=True, readout=sg.Leaky(0.5, threshold=0.2))
    program = sg.compile(net)
    x = np.random.default_rng(0).uniform(0, 2, (5, 20, 12)).astype(np.float32)
    model = BpttModel(program)
    out = program.op_of(probe)
    values, _ = model.forward_steps({"%input": x}, [out], 20, 5)
    with sg.Simulator(program, minibatch_size=5, progress_bar=False) as sim:
        ref = sim.predict(x)[out]
    ours = to_examples(values[out], 20, 5)
    assert ref.sum() > 10 and np.array_equal(ours, ref)


def _data(n=256, steps=10, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    proto = rng.uniform(0, 1, (classes, d))
    y = rng.integers(0, classes, n)
    x = (proto[y] + 0.3 * rng.normal(size=(n, d))).clip(0, 1).astype(np.float32)
    return x, y


def test_fit_through_time_learns_and_predict_agrees():
    x, y = _data()
    net, probe = _net(sg.Leaky(0.9, surrogate=S.FastSigmoid(25)), n_h=24,
                      readout=sg.Leaky(0.9, surrogate=S.FastSigmoid(25)))
    net.config[sg.Ensemble].trainable = True  # its Dense have no bias: train the neurons'
    with sg.Simulator(net, minibatch_size=32, progress_bar=False) as sim:
        history = sim.fit(x, {probe: y}, epochs=4, n_steps=10, verbose=0,
                          optimizer=sg.optim.Adam(lr=5e-3), loss=sg.losses.MSECount(0.8, 0.2),
                          metrics=sg.metrics.Accuracy(reduce_time="count"))
        out = sim.predict(np.broadcast_to(x[:, None], (len(x), 10, 12)))[probe]
    assert history.method == "bptt"
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert np.mean(out.sum(1).argmax(-1) == y) > 0.7
    assert "method=bptt" in str(sim.training_program)


def test_method_is_rate_without_surrogates_or_with_one_step():
    x, y = _data(n=64)
    net, probe = _net(sg.LIF(), recurrent=False, readout=sg.LIFRate())
    with sg.Simulator(net, progress_bar=False) as sim:
        assert sim.fit(x, {probe: y}, epochs=1, verbose=0).method == "rate"


def test_bptt_errors_name_the_problem():
    x, y = _data(n=16)
    net, probe = _net(sg.Leaky(0.9, surrogate=S.FastSigmoid(25)))
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(ValidationError,
                                                                      match="1 step"):
        sim.fit(x, {probe: y}, method="bptt", verbose=0)
    net, probe = _net(sg.LIF(), recurrent=False)
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(CompileError,
                                                                      match="LIF neurons"):
        sim.fit(x, {probe: y}, method="bptt", n_steps=5, verbose=0)
    with pytest.raises(ValidationError, match="does not spike"):
        sg.LI(surrogate=S.ATan())
    with sg.Network() as net:
        inp = sg.Node(np.zeros(3))
        h = sg.Ensemble(4, 1, neuron_type=sg.Leaky(0.9, surrogate=S.ATan()))
        sg.Connection(inp, h.neurons, transform=sg.Dense((4, 3), init=sg.dists.Uniform(-1, 1)))
        probe = sg.Probe(h.neurons)
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(CompileError,
                                                                      match="synapse=None"):
        sim.fit(np.zeros((4, 3)), {probe: np.zeros(4, int)}, n_steps=3, verbose=0)


def test_spike_train_losses():
    rng = np.random.default_rng(0)
    spikes = rng.integers(0, 2, (3, 10, 5)).astype(np.float32)
    labels = np.array([[1], [0], [4]])
    counts = spikes.sum(1)
    value, grad = sg.losses.MSECount(0.8, 0.2)(spikes, labels)
    goal = np.full((3, 5), 2.0)
    goal[[0, 1, 2], [1, 0, 4]] = 8.0
    assert value == pytest.approx(np.mean((counts - goal) ** 2) / 10)
    assert np.allclose(grad[:, 0], 2 * (counts - goal) / (15 * 10))
    value, grad = sg.losses.CrossEntropyCount()(spikes, labels)
    logp = counts - np.log(np.exp(counts).sum(1, keepdims=True))
    assert value == pytest.approx(-np.mean(logp[[0, 1, 2], [1, 0, 4]]))
    value, grad = sg.losses.CrossEntropy(reduce_time="max")(spikes * rng.normal(size=spikes.shape),
                                                            labels)
    assert (np.count_nonzero(grad, axis=1) <= 1).all()  # only the first maximum
    right = counts.argmax(1) == labels[:, 0]  # the first of tied counts
    assert sg.metrics.Accuracy(reduce_time="count")(spikes, labels) == (float(right.sum()), 3)


@pytest.mark.parametrize("strides,padding", [((1, 1), "valid"), ((2, 1), "same"),
                                             ((1, 2), "same"), ((2, 3), "valid")])
def test_event_driven_conv_and_linear_equal_the_dense_rules(strides, padding):
    """The spike-input kernels give the dense rules' values and gradients."""
    from snngraph.runtimes.rate.vjp import RULES

    rng = np.random.default_rng(0)
    for kind in ("conv2d", "linear"):
        with sg.Network(seed=2) as net:
            inp = sg.Node(np.zeros(7 * 6 * 3), label="input")
            if kind == "conv2d":
                x = sg.Layer(sg.Conv2D(4, (3, 2), strides=strides, padding=padding,
                                       bias_initializer=sg.dists.Uniform(-1, 1)))(
                    inp, shape_in=(7, 6, 3))
            else:
                x = sg.Layer(sg.Dense(9, bias=sg.dists.Uniform(-1, 1)))(inp)
            sg.Probe(x)
        program = sg.compile(net)
        op = next(o for o in program.ir.ops() if o.op == kind)
        model = BpttModel(program)
        model.rows = 40
        x = (rng.random((40, 7 * 6 * 3)) < 0.05).astype(np.float32)
        dense, saved = RULES[kind].forward(model, op, x)
        dense = np.array(dense)
        events = model._sparse_conv(op, x) if kind == "conv2d" else model._sparse_linear(op, x)
        assert np.allclose(events, dense, atol=1e-5)
        # a dense output gradient, and one with 3 in 4 zeros (as behind a 2 x 2 max-pool,
        # where the conv's input gradient runs event by event too)
        for keep in (1.0, 0.25):
            saved = RULES[kind].forward(model, op, x)[1]  # its backward reuses saved buffers
            dy = rng.normal(size=dense.shape).astype(np.float32)
            dy *= rng.random(dy.shape) < keep
            dx_ref, g_ref = RULES[kind].backward(model, op, saved, dy, True)
            dx_ref, g_ref = np.array(dx_ref), {k: np.array(v) for k, v in g_ref.items()}
            back = model._sparse_conv_backward if kind == "conv2d" else \
                model._sparse_linear_backward
            dx, g = back(op, x, dy, True)
            assert np.allclose(dx, dx_ref, atol=1e-4)
            for key in g_ref:
                assert np.allclose(g[key], g_ref[key], atol=1e-4), key


@pytest.mark.parametrize("neuron", [sg.Leaky(0.8, surrogate=S.ATan()),
                                    sg.CubaLIF(v_th=0.3, surrogate=S.SuperSpike(1.0))], ids=repr)
def test_fused_recurrent_layer_equals_the_step_by_step_unit(neuron):
    net, probe = _net(neuron, recurrent=True)
    program = sg.compile(net)
    out = program.op_of(probe)
    x = np.random.default_rng(1).uniform(0, 2, (4, 15, 12)).astype(np.float32)
    coef = np.random.default_rng(2).normal(size=(4, 15, 4)).astype(np.float32)
    results = []
    for fuse in (True, False):
        model = BpttModel(program)
        model.fuse = fuse
        values, tape = model.forward_steps({"%input": x}, [out], 15, 4)
        grads = model.backward_steps(values, tape, {out: to_time_major(coef)})
        results.append((to_examples(values[out], 15, 4).copy(), grads))
    (y1, g1), (y2, g2) = results
    assert y1.any() and np.array_equal(y1, y2)
    assert set(g1) == set(g2)
    for key in g1:
        np.testing.assert_allclose(g1[key], g2[key], rtol=1e-4, atol=1e-5, err_msg=key)


def _delayed_net():
    """A delay outside any loop (a connection read two steps late) and an encoder."""
    with sg.Network(seed=3) as net:
        net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
        net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])
        inp = sg.Node(np.zeros(12), label="input")
        enc = sg.Node(sg.ConstantCurrentLIFEncoder(), size_in=12)
        sg.Connection(inp, enc, synapse=None, transform=3.0)
        a = sg.Ensemble(8, 1, neuron_type=sg.Leaky(0.8, surrogate=S.ATan()))
        sg.Connection(enc, a.neurons, synapse=None,
                      transform=sg.Dense((8, 12), init=sg.dists.Uniform(-1, 1.5)))
        o = sg.Ensemble(4, 1, neuron_type=sg.LI())
        sg.Connection(a.neurons, o.neurons, synapse=sg.Delay(2),
                      transform=sg.Dense((4, 8), init=sg.dists.Uniform(-1, 1)))
        probe = sg.Probe(o.neurons)
    return net, probe


@pytest.mark.parametrize("every", [1, 3, 5])
@pytest.mark.parametrize("which", ["fused", "step-by-step", "delay-and-encoder"])
def test_checkpoint_every_gives_the_same_gradients(which, every):
    if which == "delay-and-encoder":
        net, probe = _delayed_net()
        x = np.random.default_rng(0).uniform(0, 1, (3, 1, 12)).astype(np.float32)
        if every == 1:
            every = 2  # segments at least as long as the delay
    else:
        net, probe = _net(sg.Leaky(0.8, surrogate=S.FastSigmoid(4)), recurrent=True)
        x = np.random.default_rng(0).uniform(0, 1.5, (3, 11, 12)).astype(np.float32)
    program = sg.compile(net)
    out = program.op_of(probe)
    coef = np.random.default_rng(5).normal(size=(3, 11, 4)).astype(np.float32)
    results = []
    for segmented in (False, True):
        model = BpttModel(program)
        model.fuse = which != "step-by-step"
        if segmented:
            values, tape = model.forward_segments({"%input": x}, [out], 11, 3, every)
        else:
            values, tape = model.forward_steps({"%input": x}, [out], 11, 3)
            tape = (values, tape)
        grads = model.backward(tape, {out: to_time_major(coef)})
        results.append((to_examples(values[out], 11, 3).copy(), grads))
    (y1, g1), (y2, g2) = results
    assert np.abs(y1).sum() > 0 and np.allclose(y1, y2)
    assert set(g1) == set(g2)
    for key in g1:
        np.testing.assert_allclose(g2[key], g1[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_fit_with_checkpoint_every_trains_the_same():
    x, y = _data(n=64)
    params = []
    for every in (None, 4):
        net, probe = _net(sg.Leaky(0.9, surrogate=S.FastSigmoid(25)), n_h=16,
                          readout=sg.Leaky(0.9, surrogate=S.FastSigmoid(25)))
        with sg.Simulator(net, minibatch_size=16, progress_bar=False) as sim:
            sim.fit(x, {probe: y}, epochs=1, n_steps=10, verbose=0, checkpoint_every=every,
                    optimizer=sg.optim.Adam(lr=5e-3), loss=sg.losses.MSECount(0.8, 0.2))
            params.append(dict(sim._trained))
    for key in params[0]:
        np.testing.assert_allclose(params[1][key], params[0][key], rtol=1e-4, atol=1e-6)
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(ValidationError,
                                                                      match="checkpoint_every"):
        sim.fit(x, {probe: y}, epochs=1, method="rate", checkpoint_every=2, verbose=0)


@pytest.mark.parametrize("rows", [(0, 7), (3, 8), (2, 3)])
def test_the_fused_reverse_pass_product_equals_a_matrix_product(rows):
    """``ROWS_TIMES_MATRIX`` (sgemm from inside the kernel when OpenBLAS is found) and the
    loop it replaces compute ``out[b0:b1] = g[b0:b1] @ w`` and leave other rows alone."""
    from snngraph.runtimes.bptt import kernels as K

    rng = np.random.default_rng(0)
    g = rng.normal(size=(8, 13)).astype(np.float32)
    g[:, 4:8] = 0.0  # a block of zeros: the loop skips it
    w = rng.normal(size=(13, 6)).astype(np.float32)
    b0, b1 = rows
    for product in (K.ROWS_TIMES_MATRIX, K.rows_times_matrix):
        out = np.full((8, 6), 7.0, np.float32)
        product(g, w, out, b0, b1)
        assert np.allclose(out[b0:b1], g[b0:b1] @ w, atol=1e-5)
        assert (np.delete(out, np.s_[b0:b1], axis=0) == 7.0).all()
