"""swap_neurons: swapping rate <-> spike types and scaling firing rates keep what the
rate network computes (exactly, for ReLU networks)."""

import numpy as np
import pytest
from snngraph.runtimes.reference import evaluate

import snngraph as sg


def relu_net():
    rng = np.random.default_rng(0)
    with sg.Network(seed=1) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        inp = sg.Node(np.zeros(20), label="in")
        h1 = sg.Layer(sg.RectifiedLinear())(
            sg.Layer(sg.Dense(30, init=rng.normal(size=(30, 20))))(inp), label="h1")
        h2 = sg.Layer(sg.RectifiedLinear(amplitude=0.5))(
            sg.Layer(sg.Dense(15, init=rng.normal(size=(15, 30))))(h1), label="h2")
        out = sg.Layer(sg.Dense(5, init=rng.normal(size=(5, 15))))(h2)
        probe = sg.Probe(out)
    return net, inp, probe


def output(program, inp, probe, x):
    return evaluate(program.ir, {program.op_of(inp): x}, batch=len(x))[program.op_of(probe)]


X = np.random.default_rng(2).uniform(-1, 1, size=(8, 20))


@pytest.mark.parametrize("scale", [1, 100, 7.5])
def test_swap_and_uniform_scale_leave_output_unchanged(scale):
    net, inp, probe = relu_net()
    base = output(sg.compile(net, target="rate"), inp, probe, X)
    swapped = sg.compile(net, target="cpu", swap={sg.RectifiedLinear: sg.SpikingRectifiedLinear},
                         scale_firing_rates=scale)
    assert "spikingrectifiedlinear.spike" in swapped.dump()
    np.testing.assert_allclose(output(swapped, inp, probe, X), base, rtol=1e-10, atol=1e-12)


def test_per_ensemble_scale_leaves_output_unchanged_and_scales_rates():
    net, inp, probe = relu_net()
    h1, h2 = net.all_ensembles
    base = sg.compile(net, target="rate")
    scaled = sg.compile(net, target="rate", scale_firing_rates={h1: 200.0, "h2": 3.0})
    np.testing.assert_allclose(output(scaled, inp, probe, X), output(base, inp, probe, X),
                               rtol=1e-10)
    values = evaluate(scaled.ir, {scaled.op_of(inp): X}, batch=len(X))
    plain = evaluate(base.ir, {base.op_of(inp): X}, batch=len(X))
    op = scaled.op_of(h1)
    gain = scaled.params[scaled.ir.op(op).gain] / base.params[base.ir.op(op).gain]
    np.testing.assert_allclose(gain, 200.0)
    J_ratio = values[op] / np.where(plain[op] == 0, 1, plain[op])  # amplitude / s undoes s
    np.testing.assert_allclose(J_ratio[plain[op] > 0], 1.0)


def test_default_spike_mapping_and_back():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1, neuron_type=sg.LIFRate(tau_rc=0.03), label="a")
        b = sg.Ensemble(10, 1, neuron_type=sg.Sigmoid(), label="b")
        sg.Connection(a, b)
        sg.Probe(b)
    text = sg.compile(net, swap="spike").dump()
    assert "lif.spike" in text and "tau_rc=30ms" in text  # parameters carried over
    assert "sigmoid.rate" in text  # no spiking counterpart: unchanged
    assert "lifrate.rate" in sg.compile(net, swap="rate").dump()  # declared type, rate mode


def test_rate_target_runs_every_spiking_type_on_its_rate_curve():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1, neuron_type=sg.LoihiLIF(), label="a")
        sg.Probe(a.neurons)
    text = sg.compile(net, target="rate").dump()
    assert "loihilif.rate" in text and "runs its rate curve" in text
