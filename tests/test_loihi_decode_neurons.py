"""Decode neurons on the emulated Loihi (compiler/passes/decode_neurons.py): NengoLoihi's
on/off pairs carrying a decoded connection between chip ensembles, chosen by resources,
by compile(loihi_decode=...) or per connection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from snngraph.compiler.passes.decode_neurons import is_decode_neurons
from snngraph.compiler.passes.partition import ResourceError

import snngraph as sg
from snngraph.errors import CompileError, ValidationError

LIF = sg.LoihiLIF()


def _channel(n: int, d: int, seed: int = 0):
    with sg.Network(seed=seed) as net:
        stim = sg.Node(lambda t: [np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)][:d],
                       label="stim")
        a = sg.Ensemble(n, d, neuron_type=LIF, label="a")
        b = sg.Ensemble(n, d, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        ab = sg.Connection(a, b)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, ab, probe


def _rmse(y: np.ndarray) -> float:
    """RMSE against the input after 0.2 s, at the best delay up to 40 steps (the filters
    and chip hops delay the output; decode neurons add a hop and their filter)."""
    d, n = y.shape[1], len(y)
    t = np.arange(1, n + 1) * 0.001
    ideal = np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)], 1)[:, :d]
    return min(float(np.sqrt(np.mean((y[200:] - ideal[200 - k:n - k]) ** 2)))
               for k in range(40))


def _decode_ops(program):
    return [op for op in program.ir.ops() if is_decode_neurons(op)]


def test_large_2d_channel_uses_decode_neurons_and_fewer_cores():
    """1000 x 1000 full weights fill 9 cores of synapse memory (and the pre needs 3 for
    its output axons): 12 cores. 'auto' takes decode neurons (40 compartments, 3 cores).
    Both decode the channel (full weights more accurately, 0.022 against 0.041: with
    threshold profiles the full weights keep their bits at Nengo's gains)."""
    net, _, probe = _channel(1000, 2)
    results = {}
    for mode in ("auto", "weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the full weights' precision warning
            program = sg.compile(net, target="loihi", loihi_decode=mode)
        with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
            sim.run_steps(1000)
        results[mode] = (program, program.resources().cores, _rmse(sim.data[probe][0]))
    auto, weights = results["auto"], results["weights"]
    assert [op.size for op in _decode_ops(auto[0])] == [40]  # 10 pairs x 2 x 2-D
    assert not _decode_ops(weights[0])
    assert (auto[1], weights[1]) == (3, 12)
    assert auto[2] < 0.06 and weights[2] < 0.04
    report = str(auto[0].resources())
    assert "decoders into decode neurons" in report and "encoders from decode neurons" in report
    assert "decode neurons, fewer cores (auto; full weights 1,000,000 synapses, about 12" \
        in report


def test_small_channel_keeps_full_weights_unless_asked():
    """100 x 100 weights fit the post's core: 'auto' keeps them; 'decode_neurons' (or the
    connection's config, which wins over compile's) puts 20 compartments on a core of
    their own, with NengoLoihi's 5 ms filter after them."""
    net, ab, probe = _channel(100, 1)
    program = sg.compile(net, target="loihi")
    assert not _decode_ops(program) and program.resources().cores == 2
    assert "full weights, no more cores than decode neurons (auto" in str(program)
    net.config[ab].loihi_decode = "decode_neurons"
    program = sg.compile(net, target="loihi", loihi_decode="weights")
    (dec,) = _decode_ops(program)
    assert dec.size == 20 and program.resources().cores == 3
    text = str(program)
    assert "decode neurons (set on the connection;" in text
    assert "filter after the decode neurons 5 ms" in text
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1000)
    assert _rmse(sim.data[probe][0]) < 0.07


def test_onoff_weights_decode_the_folded_matrix_exactly():
    """With identical pairs (gain = bias = rate / 2), the decode neurons' linear part is
    the folded NEF matrix: P diag(gain) D = E M (spikes of height 1 / dt in and out; the
    bias cancels between on and off: P bias = 0), whatever the pairs, the rate, a
    transform and a slice."""
    spec = sg.DecodeNeurons(kind="onoff", pairs_per_dim=3, rate=150)
    with sg.Network(seed=2) as net:
        a = sg.Ensemble(60, 2, neuron_type=LIF, label="a")
        b = sg.Ensemble(50, 3, neuron_type=LIF, radius=2.0, label="b")
        conn = sg.Connection(a, b[[0, 2]], transform=[[0.5, 0.0], [0.3, -0.8]],
                             synapse=0.02)
        sg.Probe(b)
    net.config[conn].loihi_decode = spec
    program = sg.compile(net, target="loihi")
    ir = program.ir
    (dec,) = _decode_ops(program)
    assert dec.size == 2 * 2 * 3
    w_in = ir.params[ir.op(ir.inputs(dec.name)[0]).weights]
    (out,) = [c for c in ir.consumers(dec.name) if ir.op(c).op == "synapse"]
    w_out = ir.params[ir.op(ir.consumers(out)[0]).weights]
    gain, bias = ir.params[dec.gain], ir.params[dec.bias]
    enc = ir.built[id(b)]["encoders"] / b.radius
    want = enc[:, [0, 2]] @ np.array([[0.5, 0.0], [0.3, -0.8]]) @ ir.built[id(conn)]["decoders"].T
    np.testing.assert_allclose(w_out @ np.diag(gain) @ w_in, want, atol=1e-12)
    np.testing.assert_allclose(w_out @ bias, 0, atol=1e-12)
    np.testing.assert_allclose(gain, 75.0)
    syn = [op for op in ir.ops() if op.op == "synapse" and op.chip]
    assert sorted(float(op.synapse["tau"]) for op in syn) == [0.005, 0.02]


def test_decode_filter_follows_the_posts_other_inputs():
    """A compartment has one filter: a post that also takes a Node through 10 ms gets
    the decode neurons' spikes through 10 ms too (said in the dump); a DecodeNeurons
    with tau=None and no other input adds no filter."""
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.3])
        a = sg.Ensemble(50, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(50, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        sg.Connection(a, b)
        sg.Connection(stim, b, synapse=0.01)
        sg.Probe(b)
    text = str(sg.compile(net, target="loihi", loihi_decode="decode_neurons"))
    assert "filter after the decode neurons 10 ms (the post's other inputs' filter" in text
    net, *_ = _channel(50, 1)
    program = sg.compile(net, target="loihi", loihi_decode=sg.DecodeNeurons(tau=None))
    assert "filter after the decode neurons none" in str(program)


def test_resource_error_suggests_decode_neurons():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(1000, 2, neuron_type=LIF, label="a")
        b = sg.Ensemble(1000, 2, neuron_type=LIF, label="b")
        sg.Connection(a, b)
        sg.Probe(b)
        net.config[b].block_shape = sg.BlockShape((500,), (1000,))
    with pytest.raises(ResourceError, match=r"(?s)synapse bits.*loihi_decode = "
                       r"'decode_neurons' on Connection from <Ensemble 'a'>"):
        sg.compile(net, target="loihi", loihi_decode="weights")
    program = sg.compile(net, target="loihi")  # the user's block shape now fits
    assert program.resources().cores == 4


def test_bad_settings_are_reported():
    with pytest.raises(CompileError, match=r"loihi_decode must be one of 'auto'"):
        sg.compile(_channel(20, 1)[0], target="loihi", loihi_decode="neurons")
    with pytest.raises(CompileError, match=r"loihi_decode='weights' needs the 'nef_to_chip'"):
        sg.compile(_channel(20, 1)[0], target="cpu", loihi_decode="weights")
    with pytest.raises(CompileError, match=r"loihi_input_encoding must be one of"):
        sg.compile(_channel(20, 1)[0], target="loihi", loihi_input_encoding="nengo")
    with pytest.raises(ValidationError, match=r"pairs_per_dim.*5 or 10.*kind='onoff'"):
        sg.DecodeNeurons(pairs_per_dim=4)
    with pytest.raises(ValidationError, match=r"rate.*kind='onoff'"):
        sg.DecodeNeurons(rate=100)
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(20, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(20, 1, neuron_type=LIF, label="b")
        c1 = sg.Connection(a, b)
        c2 = sg.Connection(a, b, transform=0.5)
        sg.Probe(b)
    net.config[c1].loihi_decode = "weights"
    net.config[c2].loihi_decode = "decode_neurons"
    with pytest.raises(CompileError, match=r"different loihi_decode settings"):
        sg.compile(net, target="loihi")


def test_preset_matches_nengo_loihi_numbers():
    """Preset10DecodeNeurons in NengoLoihi 1.1.0: these gains, biases and scale."""
    gain, bias, scale = sg.DecodeNeurons().pairs(0.001)
    np.testing.assert_allclose(gain[[0, -1]], [78.85122064, 144.6124031])
    np.testing.assert_allclose(bias[[0, -1]], [92.33477936, -69.9924031])
    assert np.isclose(scale, 0.8799452259429853)


def _oscillator():
    w, tau = 15.0, 0.1
    with sg.Network(seed=0) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Uniform(100, 120)
        net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, 0.5)
        kick = sg.Node(lambda t: [1.0, 0.0] if t < 0.1 else [0.0, 0.0], label="kick")
        ens = sg.Ensemble(200, 2, neuron_type=LIF, label="osc")
        sg.Connection(kick, ens, synapse=0.005)
        rec = sg.Connection(ens, ens, transform=[[1, w * tau], [-w * tau, 1]], synapse=tau)
        probe = sg.Probe(ens, synapse=0.01)
    return net, rec, probe


def _frequency_and_radius(program, probe) -> tuple[float, float]:
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(3000)
    y = sim.data[probe][0][500:]
    phase = np.unwrap(np.arctan2(y[:, 1], y[:, 0]))
    freq = abs(np.polyfit(np.arange(len(phase)) * 0.001, phase, 1)[0]) / (2 * np.pi)
    return freq, float(np.median(np.hypot(y[:, 0], y[:, 1])))


def test_oscillator_with_its_kick_on_a_second_synapse_runs():
    """Kick through 5 ms, recurrence through 100 ms: one compartment cannot filter both.
    By default the kick is retimed (compiler/passes/retime.py): the compartment keeps the
    recurrence's 100 ms on full weights, one core, and the kick's 5 ms runs on the host
    with the inverse of the chip's filter, sent as spike counts (measured 2.40 Hz /
    0.62, float 2.44 Hz / 0.71). Asked for decode neurons, the recurrence moves onto them
    as in NengoLoihi, its transform corrected for the 5 ms and the step they add (2.36
    Hz); uncorrected (NengoLoihi's way) it runs at 2.04 Hz, NengoLoihi's 1.96-2.02."""
    net, rec, probe = _oscillator()
    program = sg.compile(net, target="loihi")
    assert not _decode_ops(program) and program.resources().cores == 1
    assert "retimed: Ensemble 'osc'" in str(program)
    (link,) = [op for op in program.ir.ops() if op.op == "spike_input"]
    assert link.axons > 1 and link.size == 4 * link.axons
    freq, radius = _frequency_and_radius(program, probe)
    assert abs(freq - 15 / (2 * np.pi)) < 0.05 * 15 / (2 * np.pi) and 0.4 < radius < 1.0
    net.config[rec].loihi_decode = "weights"  # the same: the full weights stay
    assert not _decode_ops(sg.compile(net, target="loihi"))
    net.config[rec].loihi_decode = "decode_neurons"
    program = sg.compile(net, target="loihi")
    (dec,) = _decode_ops(program)
    assert dec.size == 40
    text = str(program)
    assert "recurrent transform corrected for the 6 ms the decode neurons add" in text
    freq, radius = _frequency_and_radius(program, probe)
    assert abs(freq - 15 / (2 * np.pi)) < 0.05 * 15 / (2 * np.pi) and 0.5 < radius < 1.2
    plain = sg.compile(net, target="loihi",
                       loihi_decode_neurons=sg.DecodeNeurons(compensate=False))
    assert "recurrent transform corrected" not in str(plain)
    assert _frequency_and_radius(plain, probe)[0] < 2.15


def test_clashing_host_inputs_are_still_refused_with_the_fix():
    """Two host values with different synapses into one chip ensemble: nothing on the
    chip sets the compartment's filter, so neither is retimed; refused, naming both."""
    with sg.Network(seed=0) as net:
        a = sg.Node(np.ones(1), label="a")
        b = sg.Node(np.ones(1), label="b")
        ens = sg.Ensemble(20, 1, neuron_type=LIF, label="ens")
        sg.Connection(a, ens, synapse=0.005)
        sg.Connection(b, ens, synapse=0.1)
        sg.Probe(ens, synapse=0.01)
    with pytest.raises(CompileError, match=r"(?s)different synapses.*5ms.*100ms.*fix: give "
                                           r"all connections into it the same Lowpass tau"):
        sg.compile(net, target="loihi")


def test_compensation_is_the_two_synapse_mapping():
    """The corrected decoded input is (I + (tau + dt) A) M D with A = (M - I) / tau_syn:
    checked on the decode neurons' input weights (on rows, one pair). The filter after
    them is the kick's 5 ms (the post has one), not the spec's 4 ms: tau + dt = 6 ms."""
    net, rec, probe = _oscillator()
    spec = sg.DecodeNeurons(kind="onoff", pairs_per_dim=1, rate=200, tau=0.004)
    net.config[rec].loihi_decode = spec
    program = sg.compile(net, target="loihi")
    ir = program.ir
    (dec,) = _decode_ops(program)
    w_in = ir.params[ir.op(ir.inputs(dec.name)[0]).weights]
    m = np.array([[1, 1.5], [-1.5, 1]])
    a = (m - np.eye(2)) / 0.1
    enc_scale = np.abs(ir.built[id(net.ensembles[0])]["encoders"]).max(axis=0)
    want = (np.eye(2) + 0.006 * a) @ m @ ir.built[id(rec)]["decoders"].T
    np.testing.assert_allclose(w_in[:2], enc_scale[:, None] * want, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(w_in[2:], -w_in[:2])
