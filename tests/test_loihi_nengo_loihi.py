"""The emulator against NengoLoihi 1.1.0's emulator, spike for spike.

``fixtures/loihi/spikes.npz`` holds the parameters and the spike trains recorded by
``fixtures/loihi/make_spikes.py`` (which documents the two networks); here the same
networks are built in snngraph from the stored parameters and run on ``backend="loihi"``.
"""

from pathlib import Path

import numpy as np
import pytest

import snngraph as sg

DATA = np.load(Path(__file__).parent / "fixtures/loihi/spikes.npz")
STEPS, TAU = int(DATA["steps"]), float(DATA["tau"])


def _ens(n, neuron_type, gain, bias, label):
    return sg.Ensemble(n, 1, neuron_type=neuron_type, gain=gain, bias=bias, label=label)


def _chip_net(p):
    with sg.Network(seed=0) as net:
        a = _ens(72, sg.LoihiLIF(), np.ones(72), p["a.bias"], "a")
        b = _ens(64, sg.LoihiSpikingRectifiedLinear(), p["b.gain"], p["b.bias"], "b")
        c = _ens(40, sg.LoihiLIF(), p["c.gain"], p["c.bias"], "c")
        conv = sg.Convolution(4, (6, 6, 2), kernel_size=(3, 3), init=p["ab.kernel"])
        sg.Connection(a.neurons, b.neurons, transform=conv, synapse=TAU)
        sg.Connection(b.neurons, b.neurons, transform=p["bb.weights"], synapse=TAU)
        sg.Connection(b.neurons, c.neurons, transform=p["bc.weights"], synapse=TAU)
        net.config[b].block_shape = sg.BlockShape((2, 4, 4), (4, 4, 4))
        net.config[c].block_shape = sg.BlockShape((20,), (40,))
        probes = {k: sg.Probe(e.neurons) for k, e in (("a", a), ("b", b), ("c", c))}
    return net, probes


def _host_net(p):
    with sg.Network(seed=0) as net:
        inp = sg.Node(p["inp.value"])
        host = _ens(30, sg.SpikingRectifiedLinear(), np.ones(30), np.zeros(30), "host")
        net.config[host].on_chip = False
        sg.Connection(inp, host.neurons, synapse=None)
        a = _ens(50, sg.LoihiLIF(), p["a.gain"], p["a.bias"], "a")
        b = _ens(20, sg.LoihiSpikingRectifiedLinear(), p["b.gain"], p["b.bias"], "b")
        sg.Connection(host.neurons, a.neurons, transform=p["ha.weights"], synapse=TAU)
        sg.Connection(a.neurons, a.neurons, transform=p["aa.weights"], synapse=TAU)
        sg.Connection(a.neurons, b.neurons, transform=p["ab.weights"], synapse=TAU)
        probes = {k: sg.Probe(e.neurons) for k, e in (("a", a), ("b", b))}
    return net, probes


def _params(prefix):
    return {k[len(prefix) + 1:]: DATA[k] for k in DATA.files
            if k.startswith(prefix + ".") and ".spikes." not in k}


def _run(make, prefix):
    net, probes = make(_params(prefix))
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(STEPS)
        return {k: (sim.data[p][0] > 0).astype(np.uint8) for k, p in probes.items()}


def _first_difference(ours, theirs):
    steps, neurons = np.nonzero(ours != theirs)
    return None if steps.size == 0 else (int(steps[0]), int(neurons[0]))


@pytest.mark.parametrize("layer", ["a", "b", "c"])
def test_chip_only_conv_recurrent_split_equals_nengo_loihi(layer):
    ours = _run(_chip_net, "chip")[layer]
    theirs = DATA[f"chip.spikes.{layer}"]
    assert theirs.sum() > 100  # the layer is active
    assert _first_difference(ours, theirs) is None


@pytest.mark.parametrize("layer", ["a", "b"])
def test_host_to_chip_recurrent_equals_nengo_loihi(layer):
    ours = _run(_host_net, "host")[layer]
    for precompute in (False, True):
        theirs = DATA[f"host.spikes.{layer}.precompute={precompute}"]
        assert _first_difference(ours, theirs) is None, precompute
