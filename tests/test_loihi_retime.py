"""Host inputs retimed to a chip ensemble's compartment filter (compiler/passes/retime.py):
their own synapse and the inverse of the chip's filter on the host, spike counts over
several axons per on/off neuron."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from snngraph.compiler.passes.retime import chip_decay, inverse_filter
from snngraph.runtimes.loihi.backend import _count_spikes

import snngraph as sg
from snngraph.document import spec_to_dict
from snngraph.filters import discretize

LIF = sg.LoihiLIF()


def _filter(spec, x: np.ndarray, dt: float = 0.001) -> np.ndarray:
    """``x`` through a synapse spec as the runtime steps it (direct term before the
    update)."""
    A, B, C, D = discretize(spec_to_dict(spec), dt)
    s, out = np.zeros((len(A), 1)), np.empty_like(x)
    for k, u in enumerate(x):
        out[k] = (C @ s)[0, 0] + D[0, 0] * u
        s = A @ s + B * u
    return out


@settings(max_examples=20, deadline=None)
@given(tau=st.sampled_from([0.02, 0.05, 0.1, 0.3]), seed=st.integers(0, 2**16))
def test_the_chips_filter_undoes_the_inverse(tau, seed):
    """The chip's current filter (its integer decay ``a``) after the host's inverse
    filter gives back the signal, one step later (the host link's step)."""
    x = np.random.default_rng(seed).normal(size=300)
    v = _filter(inverse_filter(tau, 0.001), x)
    a = chip_decay(tau, 0.001)
    u, y = 0.0, np.empty_like(v)
    for k, vk in enumerate(v):  # the compartment: u = a u + (1 - a) v (unit gain at rest)
        u = a * u + (1 - a) * vk
        y[k] = u
    np.testing.assert_allclose(y, x, atol=1e-9)


def test_counts_fire_the_first_axons_and_clip():
    per_spike = np.float32(1000.0)
    values = np.array([[0.0, 3000.0, 100000.0, -2000.0]], np.float32)
    out = np.zeros((1, 4 * 5), np.uint8)
    _count_spikes(values, per_spike, 5, out)
    np.testing.assert_array_equal(out.reshape(4, 5), [[0, 0, 0, 0, 0], [1, 1, 1, 0, 0],
                                                      [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]])


def test_spiky_values_get_axons_for_a_steps_count_and_smooth_ones_do_not():
    """Spikes through decoders (an off-chip ensemble) get several axons per on/off
    neuron, bounded by every positive-weight neuron spiking at once and by 8; a Node's
    value gets one."""
    with sg.Network(seed=1) as net:
        stim = sg.Node(lambda t: np.sin(6 * t), label="stim")
        h = sg.Ensemble(60, 1, neuron_type=LIF, label="h")
        net.config[h].on_chip = False
        b = sg.Ensemble(50, 1, neuron_type=LIF, label="b")
        c = sg.Ensemble(50, 1, neuron_type=LIF, label="c")
        sg.Connection(stim, h)
        sg.Connection(h, b)
        sg.Connection(stim, c)
        sg.Probe(b, synapse=0.01)
        sg.Probe(c, synapse=0.01)
    program = sg.compile(net, target="loihi")
    axons = {op.name: op.axons for op in program.ir.ops() if op.op == "spike_input"}
    spiky = [v for k, v in axons.items() if k.startswith("%h.")]
    smooth = [v for k, v in axons.items() if k.startswith("%stim.")]
    assert spiky and 1 < spiky[0] <= 8 and smooth == [1]


def _mixed(kick_tau: float = 0.005):
    """``b`` reads chip ensemble ``a`` through 100 ms and a host sine through 5 ms."""
    with sg.Network(seed=2) as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * 3 * t), label="stim")
        hold = sg.Node(lambda t: 0.4, label="hold")
        a = sg.Ensemble(100, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(100, 1, neuron_type=LIF, label="b")
        sg.Connection(hold, a, synapse=0.1)
        sg.Connection(a, b, transform=0.5, synapse=0.1)
        sg.Connection(stim, b, synapse=kick_tau)
        probe = sg.Probe(b, synapse=0.01)
    return net, probe


def test_a_retimed_input_decodes_as_on_the_float_network():
    """No decode neurons (2 cores, not 3); the dump says how the input was retimed; the
    chip's decoded ``b`` follows the float network's (measured RMSE between them 0.024,
    against 0.046 with the connection from ``a`` on decode neurons, on 3 cores)."""
    net, probe = _mixed()
    program = sg.compile(net, target="loihi")
    text = str(program)
    assert "retimed: Ensemble 'b'" in text and "the inverse of the chip's filter" in text
    assert program.resources().cores == 2
    (link,) = [op for op in program.ir.ops() if op.op == "spike_input"
               and "stim" in op.name]
    assert link.axons > 10
    runs = {}
    for backend, prog in (("loihi", program), ("numba", net)):
        with sg.Simulator(prog, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1000)
            runs[backend] = sim.data[probe][0, 100:, 0]
    assert np.sqrt(np.mean((runs["loihi"] - runs["numba"]) ** 2)) < 0.05
    assert np.corrcoef(runs["loihi"], runs["numba"])[0, 1] > 0.97


def test_a_retimed_input_in_a_host_loop_sends_counts_every_step():
    """The value comes from a Node reading the chip (a host loop): the loop stage sends
    its counts step by step, and the output matches the precomputed-input run's shape."""
    with sg.Network(seed=3) as net:
        stim = sg.Node(lambda t: 0.5 if t > 0.05 else 0.0, label="stim")
        ens = sg.Ensemble(100, 1, neuron_type=LIF, label="ens")
        relay = sg.Node(lambda t, x: 0.5 * x, size_in=1, label="relay")
        sg.Connection(stim, ens, transform=0.1, synapse=0.1)
        sg.Connection(ens, ens, transform=0.5, synapse=0.1)
        sg.Connection(ens, relay, synapse=0.01)
        sg.Connection(relay, ens, synapse=0.005)
        probe = sg.Probe(ens, synapse=0.01)
    program = sg.compile(net, target="loihi")
    assert program.resources().exchange.startswith("host/chip exchange: step by step")
    assert "retimed: Ensemble 'ens'" in str(program)
    runs = {}
    for backend, prog in (("loihi", program), ("numba", net)):
        with sg.Simulator(prog, backend=backend, progress_bar=False) as sim:
            sim.run_steps(800)
            runs[backend] = sim.data[probe][0, :, 0]
    assert abs(runs["loihi"][-200:].mean() - runs["numba"][-200:].mean()) < 0.08


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), dims=st.integers(1, 2), tau_in=st.sampled_from(
    [0.005, 0.02]), tau_rec=st.sampled_from([0.05, 0.1]), high=st.floats(0.5, 0.9),
    feedback=st.floats(0.2, 0.7))
def test_random_recurrent_ensembles_with_fast_host_input_follow_the_float_network(
        seed, dims, tau_in, tau_rec, high, feedback):
    """Random NEF ensembles with a recurrent connection (``tau_rec``) and a host sine
    through a faster synapse (``tau_in``): profiles and retiming together, on the chip,
    decode what the float network decodes (no integer overflow warned), on one core
    (measured 0.012-0.017 RMSE between the two over 12 random draws)."""
    import warnings

    with sg.Network(seed=seed) as net:
        net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, high)
        stim = sg.Node(lambda t: 0.5 * np.sin(2 * np.pi * 2 * t + np.arange(dims)),
                       label="stim")
        ens = sg.Ensemble(80 * dims, dims, neuron_type=LIF, label="ens")
        sg.Connection(stim, ens, synapse=tau_in)
        sg.Connection(ens, ens, transform=feedback, synapse=tau_rec)
        probe = sg.Probe(ens, synapse=0.02)
    program = sg.compile(net, target="loihi")
    assert "retimed" in str(program) and program.resources().cores == 1
    runs = {}
    for backend, prog in (("loihi", program), ("numba", net)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an integer overflow on the chip warns
            with sg.Simulator(prog, backend=backend, progress_bar=False) as sim:
                sim.run_steps(600)
        runs[backend] = sim.data[probe][0, 100:]
    err = np.sqrt(np.mean((runs["loihi"] - runs["numba"]) ** 2))
    assert err < 0.05, err
