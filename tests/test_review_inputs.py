"""Issue 16, items 3, 6, 8 and 12: the input current probe, run-time checks of Node
functions and data, messages for bad arguments, and one result key per probe. Every
message test checks that the message names the object or argument, the bad value and a
fix."""

from __future__ import annotations

import numpy as np
import pytest

import snngraph as sg


def quiet(net, **kwargs):
    return sg.Simulator(net, progress_bar=False, **kwargs)


# ------------------------------------------------------------------ 3. neuron input probe
def current_net(neuron_type=None, on_chip=None):
    """A constant input through a dense connection into 4 neurons and straight into
    the ensemble (encoders), with an input probe on the neurons."""
    with sg.Network(seed=3) as net:
        stim = sg.Node([0.5, -0.25, 1.0], label="stim")
        ens = sg.Ensemble(4, 1, neuron_type=neuron_type or sg.LIF(), label="ens")
        w = np.arange(12, dtype=float).reshape(4, 3) / 10 - 0.5
        sg.Connection(stim, ens.neurons, transform=w, synapse=None, label="dense")
        sg.Connection(stim[0], ens, synapse=None, label="decoded")
        probe = sg.Probe(ens.neurons, "input", label="J")
        spikes = sg.Probe(ens.neurons, label="spikes")
    if on_chip is not None:
        net.config[ens].on_chip = on_chip
    return net, ens, w, probe, spikes


def hand_current(program, ens, w):
    """J = gain * (W x + encoders x[0] / radius) + bias, Nengo's neuron input."""
    ir = program.ir
    neurons = ir.op(program.op_of(ens))
    gain, bias = ir.params[neurons.gain], ir.params[neurons.bias]
    enc = next(op for op in ir.ops() if op.op == "linear" and op.role == "encoders")
    x = np.array([0.5, -0.25, 1.0])
    return gain * (w @ x + ir.params[enc.weights] @ x[:1]) + bias


@pytest.mark.parametrize("neuron_type", [sg.LIF(), sg.RectifiedLinear(), sg.Leaky(beta=0.9)],
                         ids=["LIF", "ReLU", "Leaky"])
def test_neuron_input_probe_records_the_current_not_the_spikes(neuron_type):
    net, ens, w, probe, spikes = current_net(neuron_type)
    with quiet(net) as sim:
        sim.run_steps(5)
        J = sim.data[probe]
        expected = hand_current(sim.program, ens, w)
        assert J.shape == (1, 5, 4)
        np.testing.assert_allclose(J[0], np.tile(expected, (5, 1)), rtol=1e-5, atol=1e-6)
        assert not np.allclose(J, sim.data[spikes])


def test_neuron_input_probe_in_predict_fused_and_rate_runtimes():
    net, ens, w, probe, _ = current_net()
    for fuse in (True, False):
        with quiet(net, fuse=fuse) as sim:
            out = sim.predict(np.zeros((2, 3)) + [0.5, -0.25, 1.0], n_steps=3)
            expected = hand_current(sim.program, ens, w)
            np.testing.assert_allclose(out[probe], np.broadcast_to(expected, (2, 3, 4)),
                                       rtol=1e-5, atol=1e-6)
    with quiet(net, backend="rate") as sim:
        sim.run_steps(2)
        np.testing.assert_allclose(sim.data[probe][0, -1], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)


def test_neuron_input_probe_follows_scale_firing_rates():
    net, ens, w, probe, _ = current_net(sg.RectifiedLinear())
    with quiet(net, scale_firing_rates=4.0) as sim:
        sim.run_steps(1)
        np.testing.assert_allclose(sim.data[probe][0, 0], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sim.data[probe][0, 0],
                                   4.0 * hand_current(sg.compile(net), ens, w), rtol=1e-5,
                                   atol=1e-6)


def test_neuron_input_probe_of_a_chip_ensemble_is_refused_at_compile_time():
    net, *_ = current_net(sg.LoihiLIF(), on_chip=True)
    with pytest.raises(sg.CompileError, match=r"(?s)'J'.*input.*'ens'.*on_chip = False"):
        sg.compile(net, target="loihi")


def test_neuron_input_probe_of_a_host_ensemble_on_the_loihi_target():
    net, ens, w, probe, _ = current_net(sg.LoihiLIF(), on_chip=False)
    with quiet(net, backend="loihi") as sim:
        sim.run_steps(2)
        np.testing.assert_allclose(sim.data[probe][0, -1], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)


def test_input_probes_of_a_neuron_slice_and_of_an_ensemble():
    """``ens.neurons[1:3]`` records its part of J; ``Probe(ens, "input")`` records the
    vector fed to the ensemble (its dimensions, as Nengo), not the encoded one."""
    with sg.Network(seed=3) as net:
        stim = sg.Node([0.5, -0.25], label="stim")
        ens = sg.Ensemble(4, 2, label="ens")
        sg.Connection(stim, ens, synapse=None)
        sg.Connection(stim[1], ens[0], transform=2.0, synapse=None)
        part = sg.Probe(ens.neurons[1:3], "input", label="part")
        vec = sg.Probe(ens, "input", label="vec")
        first = sg.Probe(ens[1], "input", label="first")
    with quiet(net) as sim:
        sim.run_steps(2)
        ir = sim.program.ir
        enc = next(op for op in ir.ops() if op.op == "linear" and op.role == "encoders")
        current = next(op for op in ir.ops() if op.op == "linear" and op.role == "current")
        x = np.array([0.5 - 0.5, -0.25])
        J = ir.params[current.weights] * (ir.params[enc.weights] @ x) + ir.params[current.bias]
        np.testing.assert_allclose(sim.data[part][0, -1], J[1:3], rtol=1e-5)
        np.testing.assert_allclose(sim.data[vec][0, -1], x, rtol=1e-6)
        np.testing.assert_allclose(sim.data[first][0, -1], x[1:], rtol=1e-6)
