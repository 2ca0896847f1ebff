"""NEF models on the Loihi target: the ``nef_to_chip`` pass (decoded connections folded
into full weights, host values encoded by on/off neurons) and decoded values read back."""

from __future__ import annotations

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import CompileError

LIF = sg.LoihiLIF()


def _lowpass(x: np.ndarray, tau: float, dt: float = 0.001) -> np.ndarray:
    """Nengo's Lowpass on a signal (its one-step delay included), as a reference."""
    a = np.exp(-dt / tau)
    y, out = 0.0, np.empty_like(x)
    for i, v in enumerate(x):
        out[i] = y
        y = a * y + (1 - a) * v
    return out


def _channel(n: int = 100, seed: int = 0):
    with sg.Network(seed=seed) as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * t), label="stim")
        a = sg.Ensemble(n, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(n, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        ab = sg.Connection(a, b)
        probe = sg.Probe(b, synapse=0.01, label="out")
    return net, a, b, ab, probe


def _weights_into(program, post) -> dict[str, np.ndarray]:
    """The folded weight matrices into ``post``'s neurons, by source op."""
    ir = program.ir
    name = program.op_of(post)
    out = {}
    for w in ir.inputs(name):
        op = ir.op(w)
        assert op.op == "linear" and op.made_by == "nef_to_chip", w
        src = ir.inputs(w)[0]
        src = ir.inputs(src)[0] if ir.op(src).op == "synapse" else src
        src = ir.inputs(src)[0] if ir.op(src).op == "spike_input" else src
        out[src] = ir.params[op.weights]
    return out


def test_decoded_connection_folds_into_encoders_times_decoders():
    """The chip weights are exactly the post's encoders / radius times the decoders
    (the gain is applied by the neurons, as for solver.weights=True)."""
    net, a, b, ab, _ = _channel()
    program = sg.compile(net, target="loihi")
    ir = program.ir
    enc = ir.built[id(b)]["encoders"] / b.radius
    dec = ir.built[id(ab)]["decoders"]
    w = _weights_into(program, b)[program.op_of(a)]
    np.testing.assert_allclose(w, enc @ dec.T, rtol=1e-12)
    text = str(program)
    assert "full weights [100x100] folded from %a.dec %b.enc" in text
    assert "choice: full weights, no more cores than decode neurons (auto" in text
    assert not any(op.role == "decoders" and op.chip for op in ir.ops() if op.op == "linear")


def test_slices_functions_transforms_and_recurrence_fold():
    """Sliced pre and post, a function, a transform and a recurrent connection: each
    folded matrix is the product the NEF prescribes, summed per pre ensemble."""
    with sg.Network(seed=1) as net:
        c = sg.Ensemble(60, 2, neuron_type=LIF, radius=1.5, label="c")
        d = sg.Ensemble(50, 3, neuron_type=LIF, label="d")
        f = sg.Connection(c, d[1], function=lambda x: x[0] * x[1], synapse=0.05)
        s = sg.Connection(c[1], d[0::2], transform=[[0.5], [-2.0]], synapse=0.05)
        r = sg.Connection(d, d, transform=0.9, synapse=0.05)
        sg.Probe(d, synapse=0.01)
    program = sg.compile(net, target="loihi")
    built = program.ir.built
    enc = built[id(d)]["encoders"] / d.radius
    want_c = enc[:, [1]] @ built[id(f)]["decoders"].T \
        + enc[:, [0, 2]] @ np.array([[0.5], [-2.0]]) @ built[id(s)]["decoders"].T
    want_d = 0.9 * enc @ built[id(r)]["decoders"].T
    got = _weights_into(program, d)
    np.testing.assert_allclose(got[program.op_of(c)], want_c, atol=1e-15)
    np.testing.assert_allclose(got[program.op_of(d)], want_d, atol=1e-15)
    taus = [float(op.synapse["tau"]) for op in program.ir.ops()
            if op.op == "synapse" and op.chip]
    assert taus == [0.05, 0.05]  # one synapse per pre ensemble, on the chip


def test_host_value_is_encoded_by_on_off_neurons():
    """A constant Node into a chip ensemble: two host neurons fire at rate * max(+-x, 0)
    (exactly, a spiking ReLU), and the chip weights are the encoders over that rate."""
    x = 0.5  # -0.5 x = -0.25: exact in binary, so the spike count is too
    with sg.Network(seed=0) as net:
        stim = sg.Node([x], label="stim")
        ens = sg.Ensemble(80, 1, neuron_type=LIF, label="ens")
        sg.Connection(stim, ens, transform=-0.5)  # the transform stays on the host
        probe = sg.Probe(ens, synapse=0.05)
    program = sg.compile(net, target="loihi")
    ir = program.ir
    onoff = [op for op in ir.ops() if op.op == "neurons" and op.made_by == "nef_to_chip"]
    assert len(onoff) == 1 and onoff[0].size == 2 and not onoff[0].chip
    rate = 1.0 / ir.dt
    w = _weights_into(program, ens)[onoff[0].name]
    host = ir.params[ir.op(ir.inputs(onoff[0].name)[0]).weights]  # [H; -H]
    enc = ir.built[id(ens)]["encoders"]
    np.testing.assert_allclose(w[:, :1], -w[:, 1:])  # on and off: opposite weights
    np.testing.assert_allclose(host[:1], -host[1:])
    np.testing.assert_allclose(rate * w[:, :1] @ host[:1], -0.5 * enc)  # the whole map
    assert np.isclose(np.abs(w).max() * rate, np.abs(enc).max())  # chip weights at full scale
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1000)
        decoded = sim.data[probe][0, 500:, 0].mean()
    assert abs(decoded - (-0.5 * x)) < 0.03
    # the host encoder alone, on the numba runtime: exact rates
    with sg.Network(seed=0) as host_net:
        neurons = sg.Ensemble(2, 1, neuron_type=sg.SpikingRectifiedLinear(),
                              encoders=[[1.0], [-1.0]], gain=[rate, rate], bias=[0.0, 0.0])
        sg.Connection(sg.Node([-0.5 * x]), neurons, synapse=None)
        p = sg.Probe(neurons.neurons)
    with sg.Simulator(host_net, progress_bar=False) as sim:
        sim.run_steps(1000)
        counts = (sim.data[p][0] > 0).sum(axis=0)
    assert list(counts) == [0, 250]


def test_input_rate_option_and_off_chip_ensemble_input():
    """compile(loihi_input_rate=...) sets the on/off neurons' gain (and the chip weights
    follow); an off-chip ensemble's decoded output is encoded the same way."""
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.4])
        host = sg.Ensemble(80, 1, neuron_type=LIF, label="host")
        chip = sg.Ensemble(80, 1, neuron_type=LIF, label="chip")
        net.config[host].on_chip = False
        sg.Connection(stim, host)
        sg.Connection(host, chip)
        probe = sg.Probe(chip, synapse=0.05)
    program = sg.compile(net, target="loihi", loihi_input_rate=250)
    ir = program.ir
    onoff = [op for op in ir.ops() if op.op == "neurons" and op.made_by == "nef_to_chip"]
    assert len(onoff) == 1 and np.all(ir.params[onoff[0].gain] == 250)
    reader = ir.op(ir.inputs(ir.inputs(onoff[0].name)[0])[0])
    assert reader.role == "decoders" and not reader.chip  # the host ensemble's decoders
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(800)
        assert abs(sim.data[probe][0, 400:, 0].mean() - 0.4) < 0.05
    with pytest.raises(CompileError, match=r"(?s)loihi_input_rate must be .*1/dt = 1000.*fix"):
        sg.compile(net, target="loihi", loihi_input_rate=2000)
    with pytest.raises(CompileError, match=r"loihi_input_rate=.*'nef_to_chip'"):
        sg.compile(net, target="cpu", loihi_input_rate=100)


def test_channel_matches_numba_runtime():
    """Node -> A -> B -> decoded probe, every ensemble on the chip: as accurate as the
    numba runtime on the same network (within 25%), against the ideal filtered signal."""
    net, *_, probe = _channel()
    errors = {}
    for backend in ("numba", "loihi"):
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1000)
            t = sim.trange()
            y = sim.data[probe][0, :, 0]
        ideal = _lowpass(_lowpass(_lowpass(np.sin(2 * np.pi * t), 0.005), 0.005), 0.01)
        delay = 2 if backend == "loihi" else 0  # host -> chip link and chip -> chip hop
        ideal = np.concatenate([np.zeros(delay), ideal[:len(ideal) - delay]])
        errors[backend] = np.sqrt(np.mean((y[100:] - ideal[100:]) ** 2))
    assert errors["loihi"] < 0.06
    assert errors["loihi"] < 1.25 * errors["numba"], errors


def _integrator(loihi_defaults: bool):
    tau = 0.1
    with sg.Network(seed=0) as net:
        if loihi_defaults:  # NengoLoihi's set_defaults(): lower gains, smaller biases
            net.config[sg.Ensemble].max_rates = sg.dists.Uniform(100, 120)
            net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, 0.5)
        stim = sg.Node(lambda t: 1.0 if 0.1 < t < 0.5 else 0.0)
        ens = sg.Ensemble(100, 1, neuron_type=LIF, label="integrator")
        sg.Connection(stim, ens, transform=tau, synapse=tau)
        sg.Connection(ens, ens, synapse=tau)
        probe = sg.Probe(ens, synapse=0.01)
    return net, probe


def test_integrator_on_chip_integrates_and_holds():
    """A step of 0.4 s into a recurrent integrator, all on the chip: it ramps to 0.4 and
    holds there (the float run's accuracy; NengoLoihi's leaks)."""
    net, probe = _integrator(loihi_defaults=True)
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1000)
        y = sim.data[probe][0, :, 0]
    t = np.arange(1, 1001) * 0.001
    ideal = np.clip(t - 0.1, 0, 0.4)
    assert np.sqrt(np.mean((y - ideal) ** 2)) < 0.06
    assert abs(y[900:].mean() - 0.4) < 0.08  # holds 0.4 s after the input stops


def test_coarse_folded_weights_are_warned_about_with_the_fix():
    """Nengo's default gains with a 100 ms synapse and NengoLoihi's one scale per core
    (``loihi_vth_profiles=1``): the block's largest biases force weight exponents so low
    that most folded weights round to zero; compile says so and names the fixes. With
    the default threshold profiles, or NengoLoihi's gains, the weights keep their bits."""
    import warnings

    net, _ = _integrator(loihi_defaults=False)
    with pytest.warns(UserWarning, match=r"(?s)Ensemble 'integrator'.*folded NEF weights.*"
                                         r"lose \d+%.*fix:.*loihi_vth_profiles.*"
                                         r"Uniform\(100, 120\)"):
        program = sg.compile(net, target="loihi", loihi_vth_profiles=1)
    assert "lose" in str(program)
    fixed, _ = _integrator(loihi_defaults=True)
    for model, options in ((net, {}), (fixed, {"loihi_vth_profiles": 1})):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sg.compile(model, target="loihi", **options)


def test_decoded_probe_is_decoders_on_host_applied_to_chip_spikes():
    """A probe of a chip ensemble's decoded output reads its spikes on the host: the
    same as the ensemble's spikes (probed) through the decoders and the probe's filter."""
    net, a, b, ab, probe = _channel(n=40)
    with net:
        spikes = sg.Probe(b.neurons)
    program = sg.compile(net, target="loihi")
    ir = program.ir
    dec_op = ir.op(ir.inputs(ir.inputs(program.op_of(probe))[0])[0])
    assert dec_op.role == "decoders" and not dec_op.chip
    assert ir.op(ir.inputs(dec_op.name)[0]).op == "spike_output"
    decoders = ir.params[dec_op.weights]
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(300)
        s, y = sim.data[spikes][0], sim.data[probe][0, :, 0]
    ref = _lowpass(s @ decoders[0], 0.01)
    np.testing.assert_allclose(y, ref, atol=1e-4)


def test_node_reading_chip_output():
    """A connection from a chip ensemble into a Node runs on the host on its spikes."""
    seen = []
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.5])
        a = sg.Ensemble(60, 1, neuron_type=LIF)
        out = sg.Node(lambda t, x: seen.append(float(x[0])), size_in=1)
        sg.Connection(stim, a)
        sg.Connection(a, out, synapse=0.05)
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(500)
    assert abs(np.mean(seen[-200:]) - 0.5) < 0.05


# ------------------------------------------------------------------ what is refused
def test_noise_on_a_chip_ensemble_is_still_refused():
    """Noise is not a host value to encode: a core adds no noise to its current."""
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.3])
        ens = sg.Ensemble(20, 1, neuron_type=LIF, noise=sg.processes.WhiteNoise(),
                          label="noisy")
        sg.Connection(stim, ens)
        sg.Probe(ens)
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'noisy'.*noise.*on_chip = False"):
        sg.compile(net, target="loihi")


def _relay(host: bool, synapses=(0.005, 0.01), seed=0):
    """stim (or chip ensemble a) -> relay Node -> b, a synapse on each side of the relay."""
    with sg.Network(seed=seed) as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * t), label="stim")
        a = sg.Ensemble(60, 1, neuron_type=LIF, label="a")
        relay = sg.Node(size_in=1, label="relay")
        b = sg.Ensemble(60, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, relay if host else a, synapse=synapses[0])
        if not host:
            sg.Connection(a, relay, synapse=synapses[0])
        sg.Connection(relay, b, synapse=synapses[1])
        probe = sg.Probe(b, synapse=0.01)
    return net, probe


@pytest.mark.parametrize("host", [False, True])
def test_two_filters_on_one_path_run_and_match_numba(host):
    """A passthrough Node filtered on both sides: from a chip ensemble the decode neurons
    take one filter and put the other after them; from the host the second filter runs on
    the host before the on/off neurons. Either way the decoded output follows the float
    network's."""
    net, probe = _relay(host)
    program = sg.compile(net, target="loihi")
    text = str(program)
    if host:
        assert "filters the value on the host, before the on/off neurons" in text
    else:
        assert "decode neurons: the path is filtered twice" in text
        assert "filter after the decode neurons 5 ms" in text
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1500)
    with sg.Simulator(net, progress_bar=False) as ref:
        ref.run_steps(1500)
    y, want = sim.data[probe][0, 200:, 0], ref.data[probe][0, 200:, 0]
    assert np.sqrt(np.mean((y - want) ** 2)) < 0.06


def test_two_filters_refused_where_nothing_can_take_one():
    net, _ = _relay(False)
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'b'.*filtered twice.*"
                       r"loihi_decode='weights'.*fix: give one of the connections synapse=None"):
        sg.compile(net, target="loihi", loihi_decode="weights")
    with sg.Network(seed=0) as net3:  # three filters in series
        a = sg.Ensemble(30, 1, neuron_type=LIF, label="a")
        r1, r2 = sg.Node(size_in=1), sg.Node(size_in=1)
        b = sg.Ensemble(30, 1, neuron_type=LIF, label="b")
        sg.Connection(a, r1, synapse=0.005)
        sg.Connection(r1, r2, synapse=0.005)
        sg.Connection(r2, b, synapse=0.01)
        sg.Probe(b)
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'b'.*filtered three times"):
        sg.compile(net3, target="loihi")
    with net:  # the filter after the decode neurons must be the post's
        sg.Connection(sg.Node([0.2]), net.ensembles[1], synapse=0.02)
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'b'.*filtered twice.*second filter "
                       r"\(5 ms, after decode neurons .*not the 20 ms of its other inputs"):
        sg.compile(net, target="loihi")
    with sg.Network(seed=0) as net2:  # the fix
        a = sg.Ensemble(30, 1, neuron_type=LIF, label="a")
        relay = sg.Node(size_in=1, label="relay")
        b = sg.Ensemble(30, 1, neuron_type=LIF, label="b")
        sg.Connection(a, relay, synapse=None)
        sg.Connection(relay, b, synapse=0.01)
        sg.Probe(b)
    sg.compile(net2, target="loihi", loihi_decode="weights")


def test_resource_report_counts_folded_synapses():
    net, *_ = _channel()
    report = sg.compile(net, target="loihi").resources()
    kinds = {r["layer"]: (r["kind"], r["synapses"], r["host_neurons"]) for r in report.nef}
    assert kinds["Ensemble 'b'"][1:] == (10000, 0)
    assert kinds["Ensemble 'a'"][1:] == (200, 2)
    assert "full weights" in str(report) and "on/off neurons on the host" in str(report)
    assert report.cores == 2


@pytest.mark.parametrize("decode", ["weights", "decode_neurons"])
def test_saved_nef_program_runs_the_same(tmp_path, decode):
    """A compiled NEF program (folded weights or decode neurons, on/off neurons) saves
    and loads, and the loaded one gives the same decoded values bit for bit."""
    from snngraph.compiler.program import Program

    with sg.Network(seed=0) as net:  # a constant Node: a Python function is not saved
        stim = sg.Node([0.5])
        a = sg.Ensemble(40, 1, neuron_type=LIF)
        b = sg.Ensemble(40, 1, neuron_type=LIF)
        sg.Connection(stim, a)
        sg.Connection(a, b, function=lambda x: -x)
        sg.Probe(b, synapse=0.01, label="out")
    program = sg.compile(net, target="loihi", loihi_decode=decode)
    program.save(tmp_path / "channel.json")
    loaded = Program.load(tmp_path / "channel.json")
    assert str(loaded) == str(program)
    out = []
    for p in (program, loaded):
        with sg.Simulator(p, backend="loihi", progress_bar=False) as sim:
            sim.run_steps(200)
            out.append(np.array(sim.data["out"]))
    np.testing.assert_array_equal(out[0], out[1])


def test_dense_bias_becomes_a_constant_current():
    """A transform's bias on a folded connection is the post's encoders times it, added
    as a constant current (discretize's bias): 0.2 + 0.3 decodes as 0.5."""
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.2])
        a = sg.Ensemble(100, 1, neuron_type=LIF)
        b = sg.Ensemble(100, 1, neuron_type=LIF)
        sg.Connection(stim, a)
        sg.Connection(a, b, transform=sg.transforms.Dense((1, 1), init=1.0, bias=[0.3]))
        probe = sg.Probe(b, synapse=0.05)
    program = sg.compile(net, target="loihi")
    ir = program.ir
    folded = [ir.op(w) for w in ir.inputs(program.op_of(b))]
    assert [op.bias is not None for op in folded] == [True]
    np.testing.assert_allclose(ir.params[folded[0].bias],
                               ir.built[id(b)]["encoders"][:, 0] * 0.3 / b.radius)
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(800)
        assert abs(sim.data[probe][0, 400:, 0].mean() - 0.5) < 0.03


def test_node_into_a_sliced_chip_ensemble():
    """A Node into ``c[1]`` of a 2-D chip ensemble: one on/off pair (only the dimension it
    feeds), and the ensemble decodes (0, x)."""
    with sg.Network(seed=0) as net:
        stim = sg.Node([0.6])
        c = sg.Ensemble(200, 2, neuron_type=LIF, label="c")
        sg.Connection(stim, c[1])
        probe = sg.Probe(c, synapse=0.05)
    program = sg.compile(net, target="loihi")
    onoff = [op for op in program.ir.ops() if op.made_by == "nef_to_chip" and
             op.op == "neurons"]
    assert [op.size for op in onoff] == [2]
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(800)
        decoded = sim.data[probe][0, 400:].mean(axis=0)
    np.testing.assert_allclose(decoded, [0.0, 0.6], atol=0.05)


def test_solver_weights_between_chip_ensembles():
    """A connection whose solver gives full weights (weights=True) between two chip
    ensembles leaves the post's encoders op without inputs: it folds like a decoded one
    (it used to raise a bare IndexError) and decodes as well as on the numba runtime."""
    with sg.Network(seed=0) as net:
        u = sg.Node(lambda t: np.sin(2 * np.pi * t))
        kw = dict(neuron_type=sg.LoihiLIF(), max_rates=sg.dists.Uniform(100, 120),
                  intercepts=sg.dists.Uniform(-1, 0.5))
        a, b = sg.Ensemble(50, 1, **kw), sg.Ensemble(50, 1, **kw)
        sg.Connection(u, a)
        sg.Connection(a, b, solver=sg.solvers.LstsqL2(weights=True))
        probe = sg.Probe(b, synapse=0.01)
    errors = {}
    for backend in ("numba", "loihi"):
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1000)
            t, y = sim.trange(), sim.data[probe][0, :, 0]
        errors[backend] = np.sqrt(np.mean((y[100:] - np.sin(2 * np.pi * t[100:])) ** 2))
    assert errors["loihi"] < 1.25 * errors["numba"], errors
