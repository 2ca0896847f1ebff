"""Nengo's neuron types on the numba runtime, against Nengo 4.1's reference simulator.

Both simulators get the same gains, biases, input and initial state, so they see the same
currents; spike trains and state traces must agree step by step (float32 here, float64 in
Nengo). Rate curves are checked against long runs, gain/bias against Nengo's numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snngraph as sg
from snngraph.errors import CompileError, ValidationError

nengo = pytest.importorskip("nengo")

N = 8


@pytest.fixture(autouse=True)
def _quiet_nengo():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nengo 4.1 under numpy 2: deprecations
        yield


def currents(scale=1.0, seed=1):
    """Gains, biases, inputs and initial voltages for N neurons (the same for both)."""
    rng = np.random.default_rng(seed)
    return (scale * rng.uniform(1, 3, N), scale * rng.uniform(-1, 2, N),
            rng.uniform(-0.5, 1.5, N), rng.uniform(0, 1, N))


def run_nengo(ntype, gain, bias, x, attrs, steps):
    with nengo.Network(seed=0) as net:
        stim = nengo.Node(x)
        ens = nengo.Ensemble(N, 1, neuron_type=ntype, gain=gain, bias=bias)
        nengo.Connection(stim, ens.neurons, synapse=None)
        probes = {a: nengo.Probe(ens.neurons, a) for a in attrs}
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(steps)
    return {a: sim.data[p] for a, p in probes.items()}


def sg_net(ntype, gain, bias, x, attrs):
    with sg.Network(seed=0) as net:
        stim = sg.Node(x)
        ens = sg.Ensemble(N, 1, neuron_type=ntype, gain=gain, bias=bias)
        sg.Connection(stim, ens.neurons, synapse=None)
        probes = {a: sg.Probe(ens.neurons, a) for a in attrs}
    return net, probes


def run_sg(ntype, gain, bias, x, attrs, steps):
    net, probes = sg_net(ntype, gain, bias, x, attrs)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(steps)
        return {a: np.asarray(sim.data[p])[0] for a, p in probes.items()}


def assert_same_run(ref, got, tols):
    """Spikes on the same steps; each state trace within its tolerance."""
    np.testing.assert_array_equal(ref["output"] > 0, got["output"] > 0)
    for attr, tol in tols.items():
        np.testing.assert_allclose(got[attr], ref[attr], rtol=1e-4, atol=tol, err_msg=attr)


def test_adaptive_lif_matches_nengo():
    gain, bias, x, v0 = currents()
    attrs = ["output", "voltage", "refractory_time", "adaptation"]
    kw = {"tau_n": 0.1, "inc_n": 0.05, "tau_rc": 0.03, "tau_ref": 0.003}
    ref = run_nengo(nengo.AdaptiveLIF(**kw, initial_state={"voltage": v0}), gain, bias, x,
                    attrs, 800)
    got = run_sg(sg.AdaptiveLIF(**kw, initial_state={"voltage": v0}), gain, bias, x, attrs, 800)
    assert (ref["output"] > 0).sum() > 50  # the adaptation is exercised
    assert_same_run(ref, got, {"voltage": 1e-4, "refractory_time": 1e-4, "adaptation": 1e-5})


def test_adaptive_lif_rate_matches_nengo():
    gain, bias, x, _ = currents()
    attrs = ["output", "adaptation"]
    ref = run_nengo(nengo.AdaptiveLIFRate(tau_n=0.1, inc_n=0.05), gain, bias, x, attrs, 500)
    got = run_sg(sg.AdaptiveLIFRate(tau_n=0.1, inc_n=0.05), gain, bias, x, attrs, 500)
    # float32 here: near the threshold (J - n just above 1) the log magnifies rounding
    np.testing.assert_allclose(got["output"], ref["output"], rtol=2e-3, atol=1e-3)
    np.testing.assert_allclose(got["adaptation"], ref["adaptation"], rtol=1e-4, atol=1e-5)
    assert ref["adaptation"][-1].max() > 0.5  # adapted well away from the start


def test_izhikevich_matches_nengo():
    gain, bias, x, v0 = currents(scale=8.0)
    attrs = ["output", "voltage", "recovery"]
    kw = {"tau_recovery": 0.1, "coupling": 0.25, "reset_voltage": -55, "reset_recovery": 4}
    ref = run_nengo(nengo.Izhikevich(**kw, initial_state={"voltage": v0}), gain, bias, x,
                    attrs, 600)
    got = run_sg(sg.Izhikevich(**kw, initial_state={"voltage": v0}), gain, bias, x, attrs, 600)
    assert (ref["output"] > 0).sum() > 100
    # the same trajectories until float32 rounding (here) against float64 (Nengo) moves a
    # threshold crossing by a step; after that the same spike counts within one
    early = slice(0, 25)
    np.testing.assert_array_equal(got["output"][early] > 0, ref["output"][early] > 0)
    for attr in ("voltage", "recovery"):
        np.testing.assert_allclose(got[attr][early], ref[attr][early], rtol=1e-4, atol=1e-2)
    counts, ref_counts = (got["output"] > 0).sum(0), (ref["output"] > 0).sum(0)
    assert np.abs(counts - ref_counts).max() <= 1


@pytest.mark.parametrize("base", ["LIFRate", "AdaptiveLIFRate", "RectifiedLinear", "Tanh"])
def test_regular_spiking_matches_nengo(base):
    gain, bias, x, v0 = currents(scale=40.0 if base == "RectifiedLinear" else 1.0)
    if base == "Tanh":  # a rate in Hz: 1 / tau_ref times tanh, negative below 0
        bias = bias - 1.0
    attrs = ["output", "voltage"] + (["adaptation"] if base == "AdaptiveLIFRate" else [])
    ref = run_nengo(nengo.RegularSpiking(getattr(nengo, base)(),
                                         initial_state={"voltage": v0}), gain, bias, x,
                    attrs, 500)
    got = run_sg(sg.RegularSpiking(getattr(sg, base)(), initial_state={"voltage": v0}), gain,
                 bias, x, attrs, 500)
    np.testing.assert_allclose(got["output"], ref["output"], rtol=1e-5)  # signed spikes
    np.testing.assert_allclose(got["voltage"], ref["voltage"], atol=1e-4)
    assert (ref["output"] != 0).sum() > 50


@pytest.mark.parametrize("wrapper", ["PoissonSpiking", "StochasticSpiking"])
def test_stochastic_wrappers_fire_at_the_base_rate(wrapper):
    """A long run's spike count per neuron against the base rate (Poisson: variance
    ``mean``; stochastic rounding: less), and the sign of a negative rate."""
    gain = np.full(N, 1.0)
    bias = np.linspace(-0.4, 0.9, N)
    steps = 4000
    base = sg.Tanh(tau_ref=0.002)  # up to 500 Hz, both signs
    got = run_sg(getattr(sg, wrapper)(base, amplitude=0.5), gain, bias, np.zeros(N),
                 ["output"], steps)["output"]
    rate = base.rates(bias)
    expected = rate * steps * 0.001
    counts = got.sum(0) * 0.001 / 0.5  # spikes of amplitude / dt, signed
    assert np.all(np.abs(counts - expected) <= 4 * np.sqrt(np.abs(expected)) + 1)
    assert np.all(np.sign(got.sum(0)) == np.sign(np.round(expected)))
    spikes = np.abs(got) * 0.001 / 0.5
    np.testing.assert_allclose(spikes, np.round(spikes), atol=1e-6)  # whole spikes


@pytest.mark.parametrize("wrapper", ["PoissonSpiking", "StochasticSpiking"])
def test_stochastic_draws_do_not_depend_on_batching(wrapper):
    gain, bias, _, _ = currents()
    with sg.Network(seed=3) as net:
        stim = sg.Node(np.zeros(N))
        ens = sg.Ensemble(N, 1, neuron_type=getattr(sg, wrapper)(sg.LIFRate()), gain=gain,
                          bias=bias)
        sg.Connection(stim, ens.neurons, synapse=None)
        probe = sg.Probe(ens.neurons, "spikes")
    x = np.random.default_rng(0).uniform(0, 2, (5, N))
    with sg.Simulator(net, progress_bar=False) as sim:
        whole = sim.predict({stim: x}, n_steps=50, batch_size=5)[probe]
        one = sim.predict({stim: x}, n_steps=50, batch_size=1)[probe]
    np.testing.assert_array_equal(whole, one)
    assert not np.array_equal(whole[0], whole[1])  # examples draw differently


def test_poisson_large_means_are_poisson():
    """Rates above 1 / dt: several spikes per step, the count's mean and variance both
    ``dt r`` (the draw is split into parts of mean <= 16)."""
    with sg.Network(seed=1) as net:
        ens = sg.Ensemble(2000, 1, neuron_type=sg.PoissonSpiking(sg.RectifiedLinear()),
                          gain=np.ones(2000), bias=np.full(2000, 40000.0))
        probe = sg.Probe(ens.neurons)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(3)
        counts = np.asarray(sim.data[probe])[0] * 0.001
    assert abs(counts.mean() - 40.0) < 0.3
    assert abs(counts.var() - 40.0) < 4.0


# ------------------------------------------------------------------ rate curves
def long_run_rates(ntype, J, seconds=2.0, tail=0.5):
    net, probes = sg_net(ntype, np.ones(len(J)), J, np.zeros(len(J)), ["output"])
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run(seconds)
        out = np.asarray(sim.data[probes["output"]])[0]
    return out[-int(tail * len(out)):].mean(0)  # the end of the run: settled


def test_adaptive_rates_are_nengos_lif_curve_and_adapted_rates_the_long_run():
    J = np.linspace(0.5, 4.0, N)
    ntype = sg.AdaptiveLIF(tau_n=0.2, inc_n=0.01)
    np.testing.assert_allclose(ntype.rates(J), nengo.AdaptiveLIF(tau_n=0.2, inc_n=0.01)
                               .rates(1.0, J, np.zeros(N))[0], rtol=1e-12)
    adapted = ntype.adapted_rates(J)
    assert np.all(adapted <= ntype.rates(J)) and adapted[-1] < 0.8 * ntype.rates(J)[-1]
    np.testing.assert_allclose(long_run_rates(ntype, J), adapted, rtol=0.02, atol=1.0)
    rate_type = sg.AdaptiveLIFRate(tau_n=0.2, inc_n=0.01)
    np.testing.assert_allclose(long_run_rates(rate_type, J, 2.0, 0.01), adapted, rtol=1e-3,
                               atol=1e-3)


def test_izhikevich_rates_match_nengo_and_the_long_run():
    J = np.linspace(-2.0, 30.0, N)
    ntype = sg.Izhikevich()
    ref = nengo.Izhikevich().rates(1.0, J, np.zeros(N))[0]
    np.testing.assert_array_equal(ntype.rates(J), ref)
    np.testing.assert_allclose(long_run_rates(ntype, J), ref, atol=3.0, rtol=0.02)


def test_regular_spiking_rates_are_the_base_rates():
    J = np.linspace(0.5, 4.0, N)
    ntype = sg.RegularSpiking(sg.LIFRate())
    np.testing.assert_array_equal(ntype.rates(J), sg.LIFRate().rates(J))
    np.testing.assert_allclose(long_run_rates(ntype, J), ntype.rates(J), atol=1.0)


# ------------------------------------------------------------------ gain and bias
def test_gain_bias_match_nengo():
    rng = np.random.default_rng(0)
    max_rates, intercepts = rng.uniform(100, 200, 6), rng.uniform(-0.9, 0.9, 6)
    pairs = [(sg.AdaptiveLIF(tau_rc=0.03), nengo.AdaptiveLIF(tau_rc=0.03)),
             (sg.AdaptiveLIFRate(), nengo.AdaptiveLIFRate()),
             (sg.RegularSpiking(sg.LIFRate()), nengo.RegularSpiking(nengo.LIFRate())),
             (sg.PoissonSpiking(sg.RectifiedLinear()),
              nengo.PoissonSpiking(nengo.RectifiedLinear()))]
    for ours, theirs in pairs:
        for a, b in zip(ours.gain_bias(max_rates, intercepts),
                        theirs.gain_bias(max_rates, intercepts)):
            np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=type(ours).__name__)
        gain, bias = theirs.gain_bias(max_rates, intercepts)
        for a, b in zip(ours.max_rates_intercepts(gain, bias),
                        theirs.max_rates_intercepts(gain, bias)):
            np.testing.assert_allclose(a, b, rtol=1e-9, err_msg=type(ours).__name__)


def test_izhikevich_gain_bias_is_nengos_numeric_solution():
    max_rates, intercepts = np.array([20.0, 35.0, 50.0]), np.array([-0.5, 0.0, 0.4])
    ours, theirs = sg.Izhikevich(coupling=0.25), nengo.Izhikevich(coupling=0.25)
    gain, bias = ours.gain_bias(max_rates, intercepts)
    ref_gain, ref_bias = theirs.gain_bias(max_rates, intercepts)
    np.testing.assert_array_equal(gain, ref_gain)
    np.testing.assert_array_equal(bias, ref_bias)
    for a, b in zip(ours.max_rates_intercepts(gain, bias),
                    theirs.max_rates_intercepts(gain, bias)):
        np.testing.assert_array_equal(a, b)


def test_izhikevich_ensemble_decodes():
    """An ensemble from max_rates and intercepts (the numeric gain/bias) represents x."""
    with sg.Network(seed=0) as net:
        stim = sg.Node(0.5)
        ens = sg.Ensemble(30, 1, neuron_type=sg.Izhikevich(), max_rates=sg.dists.Uniform(
            20, 40), intercepts=sg.dists.Uniform(-0.8, 0.8))
        sg.Connection(stim, ens)
        probe = sg.Probe(ens, synapse=0.05)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run(0.6)
        out = np.asarray(sim.data[probe])[0, 300:, 0]
    assert abs(out.mean() - 0.5) < 0.15


# ------------------------------------------------------------------ initial state
def test_initial_state_defaults_are_nengos_and_seeded():
    assert sg.AdaptiveLIF().state == ("voltage", "refractory_time", "adaptation")
    assert sg.RegularSpiking(sg.AdaptiveLIFRate()).state == ("rate_out", "voltage",
                                                             "adaptation")
    for ours, theirs in [(sg.AdaptiveLIF(), nengo.AdaptiveLIF()),
                         (sg.Izhikevich(), nengo.Izhikevich()),
                         (sg.RegularSpiking(sg.LIFRate()),
                          nengo.RegularSpiking(nengo.LIFRate()))]:
        assert tuple(ours.state_defaults) == tuple(theirs.state)
        init = dict(zip(ours.state, ours.sample_state(1000, np.random.default_rng(0))))
        ref = theirs.make_state(1000, np.random.RandomState(0))
        for name in ours.state_defaults:
            row = init[name]
            assert abs(row.mean() - ref[name].mean()) < 0.05
            assert (row.min() >= ref[name].min() - 0.01) and row.max() <= ref[name].max() + 0.01
    net, probes = sg_net(sg.AdaptiveLIF(), np.ones(N), np.zeros(N), np.zeros(N), ["voltage"])
    first = []
    for _ in range(2):
        with sg.Simulator(net, progress_bar=False) as sim:
            sim.run_steps(1)
            first.append(np.asarray(sim.data[probes["voltage"]])[0, 0])
    np.testing.assert_array_equal(first[0], first[1])  # drawn from the network's seed
    assert np.ptp(first[0]) > 0.1  # uniform on [0, 1), decayed one step


@settings(max_examples=20, deadline=None)
@given(v=st.floats(0.0, 0.99), n=st.floats(0.0, 5.0))
def test_initial_state_values_are_used(v, n):
    ntype = sg.AdaptiveLIF(initial_state={"voltage": v, "adaptation": np.full(3, n)})
    init = ntype.sample_state(3, np.random.default_rng(0))
    np.testing.assert_allclose(init, [[v] * 3, [0.0] * 3, [n] * 3])


# ------------------------------------------------------------------ Direct mode
def direct_net(nengo_mode=False):
    lib = nengo if nengo_mode else sg
    with lib.Network(seed=0) as net:
        stim = lib.Node(lambda t: [np.sin(6 * t), np.cos(4 * t)])
        a = lib.Ensemble(1, 2, neuron_type=lib.Direct())
        b = lib.Ensemble(1, 1, neuron_type=lib.Direct())
        out = lib.Node(size_in=1)
        lib.Connection(stim, a, synapse=None)
        lib.Connection(a, b, function=lambda x: x[0] * x[1], synapse=0.01)
        lib.Connection(a[1], b, transform=2.0, synapse=None)
        lib.Connection(b, out, function=lambda x: x ** 2, synapse=None)
        probes = [lib.Probe(a), lib.Probe(b, "input"), lib.Probe(out), lib.Probe(a[0])]
    return net, probes


def test_direct_mode_computes_functions_exactly():
    net, probes = direct_net()
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run(0.3)
        got = [np.asarray(sim.data[p])[0] for p in probes]
        t = sim.trange()
    ref_net, ref_probes = direct_net(nengo_mode=True)
    with nengo.Simulator(ref_net, progress_bar=False) as ref_sim:
        ref_sim.run(0.3)
    for g, p in zip(got, ref_probes):
        np.testing.assert_allclose(g, ref_sim.data[p], atol=1e-5)
    np.testing.assert_allclose(got[0], np.c_[np.sin(6 * t), np.cos(4 * t)], atol=1e-6)
    np.testing.assert_allclose(got[2][:, 0], got[1][:, 0] ** 2, rtol=1e-5, atol=1e-7)


def test_direct_mode_integrator_matches_nengo():
    """A recurrent Direct ensemble (an integrator): exact, so Nengo's numbers."""
    results = []
    for lib in (sg, nengo):
        with lib.Network(seed=0) as net:
            stim = lib.Node(lambda t: 1.0 if t < 0.2 else 0.0)
            a = lib.Ensemble(1, 1, neuron_type=lib.Direct())
            lib.Connection(stim, a, transform=0.1, synapse=0.1)
            lib.Connection(a, a, synapse=0.1)
            probe = lib.Probe(a)
        with lib.Simulator(net, progress_bar=False) as sim:
            sim.run(0.5)
            results.append(np.asarray(sim.data[probe]).reshape(-1))
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
    assert results[1][-1] > 0.19


def test_direct_ensemble_has_no_neurons():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1, neuron_type=sg.Direct(), label="a")
        b = sg.Ensemble(10, 1, label="b")
        sg.Connection(a.neurons, b.neurons, transform=np.eye(10))
    with pytest.raises(CompileError, match=r"Ensemble 'a' runs in Direct mode.*no neurons"):
        sg.compile(net)
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1, neuron_type=sg.Direct(), label="a")
        sg.Probe(a.neurons[:3])
    with pytest.raises(CompileError, match=r"Probe.target: Ensemble 'a' runs in Direct"):
        sg.compile(net)


# ------------------------------------------------------------------ probes
def test_spikes_probe_is_the_output():
    gain, bias, x, _ = currents()
    for ntype in (sg.AdaptiveLIF(), sg.LIF(), sg.PoissonSpiking(sg.LIFRate())):
        got = run_sg(ntype, gain, bias, x, ["spikes", "output"], 100)
        np.testing.assert_array_equal(got["spikes"], got["output"])
        assert got["spikes"].any()
    with sg.Network():
        ens = sg.Ensemble(3, 1, neuron_type=sg.AdaptiveLIFRate())
        with pytest.raises(ValidationError, match=r"Probe.attr: expected one of output, "
                                                  r"input, adaptation .*got 'spikes'"):
            sg.Probe(ens.neurons, "spikes")


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("make, match", [
    (lambda: sg.AdaptiveLIF(tau_n=-1.0), r"AdaptiveLIF.tau_n: expected a value greater than 0"),
    (lambda: sg.AdaptiveLIFRate(tau_rc=0.0), r"AdaptiveLIFRate.tau_rc: expected a value"),
    (lambda: sg.AdaptiveLIF(inc_n=-0.1), r"inc_n: expected a value greater than or equal"),
    (lambda: sg.AdaptiveLIF(min_voltage=0.5), r"min_voltage: expected a value less than or"),
    (lambda: sg.Izhikevich(tau_recovery=-0.02), r"Izhikevich.tau_recovery: expected a value"),
    (lambda: sg.Izhikevich(initial_state={"v": 0.0}),
     r"initial_state: expected one of the state variables of Izhikevich: voltage, recovery"),
    (lambda: sg.AdaptiveLIF(initial_state={"voltage": "high"}),
     r"initial_state: expected a Distribution, a finite number"),
    (lambda: sg.RegularSpiking(sg.Direct()), r"base_type: expected a rate neuron type"),
    (lambda: sg.PoissonSpiking(sg.RegularSpiking(sg.LIFRate())), r"not a wrapper"),
    (lambda: sg.StochasticSpiking("LIFRate"), r"StochasticSpiking.base_type"),
    (lambda: sg.RegularSpiking(sg.LIFRate(), initial_state={"adaptation": 0.0}),
     r"expected one of the state variables of RegularSpiking: voltage"),
])
def test_bad_neuron_arguments(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_initial_state_of_the_wrong_length():
    with sg.Network(seed=0) as net:
        sg.Ensemble(4, 1, neuron_type=sg.AdaptiveLIF(initial_state={"voltage": np.zeros(3)}))
    with pytest.raises(CompileError, match=r"Ensemble.neuron_type.initial_state: expected "
                                           r"one value per neuron \(4\) for 'voltage'; got 3"):
        sg.compile(net)


def test_rate_runtime_refuses_adaptation_and_izhikevich_rate_training():
    with sg.Network(seed=0) as net:
        stim = sg.Node(np.zeros(1))
        ens = sg.Ensemble(5, 1, neuron_type=sg.AdaptiveLIF(), label="adapt")
        sg.Connection(stim, ens)
        sg.Probe(ens)
    with pytest.raises(CompileError, match=r"adapt.*cannot run in rate mode: AdaptiveLIF's "
                                           r"rates\(\) is the LIF curve without adaptation"):
        sg.compile(net, target="rate")
    ens.neuron_type = sg.Izhikevich()
    with pytest.raises(CompileError, match=r"cannot run in rate mode: Izhikevich's rates\(\) "
                                           r"is Nengo's estimate, a one-second simulation"):
        sg.compile(net, target="rate")
    with pytest.raises(ValidationError, match="cannot be trained with method='rate'"):
        sg.Izhikevich().rate_grad(np.ones(2))
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(5, 1, neuron_type=sg.Izhikevich(), label="izh")
        sg.Probe(ens.neurons)
    with pytest.raises(CompileError, match=r"izh.*Izhikevich \(spike mode\) cannot run on a "
                                           r"Loihi core"):
        sg.compile(net, target="loihi")


# ------------------------------------------------------------------ documents
def test_save_load_round_trip(tmp_path):
    types = [sg.AdaptiveLIF(tau_n=0.5, initial_state={"voltage": sg.dists.Uniform(0, 0.5),
                                                       "adaptation": np.arange(4.0)}),
             sg.AdaptiveLIFRate(inc_n=0.1, amplitude=0.5), sg.Izhikevich(reset_voltage=-50),
             sg.RegularSpiking(sg.AdaptiveLIFRate(tau_n=0.2), initial_state={"voltage": 0.3}),
             sg.PoissonSpiking(sg.LIFRate(tau_rc=0.03), amplitude=0.5),
             sg.StochasticSpiking(sg.Tanh()), sg.Direct()]
    with sg.Network(seed=2) as net:
        stim = sg.Node(0.3)
        probes = []
        for ntype in types:
            ens = sg.Ensemble(4, 1, neuron_type=ntype)
            sg.Connection(stim, ens)
            probes.append(sg.Probe(ens))
    program = sg.compile(net)
    program.save(tmp_path / "program.json")
    sg.save(net, tmp_path / "net.json")
    loaded = sg.load(tmp_path / "net.json")
    assert [e.neuron_type for e in loaded.all_ensembles] == types
    runs = []
    from snngraph.compiler.program import Program

    reloaded = Program.load(tmp_path / "program.json")
    for network, keys in ((net, net.all_probes), (loaded, loaded.all_probes),
                          (reloaded, [program.op_of(p) for p in net.all_probes])):
        with sg.Simulator(network, progress_bar=False) as sim:
            sim.run_steps(50)
            runs.append([np.asarray(sim.data[k]) for k in keys])
    assert len(runs[0]) == len(types)
    for a, b, c in zip(*runs):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("ntype", [sg.AdaptiveLIF(), sg.AdaptiveLIFRate(), sg.Izhikevich(),
                                   sg.PoissonSpiking(sg.AdaptiveLIFRate())],
                         ids=lambda t: type(t).__name__)
def test_fused_loop_equals_op_by_op(ntype):
    """The fused time loop (a wrapper is never fused: the whole run goes op by op) gives
    the same run, initial state included."""
    gain, bias, x, _ = currents(scale=8.0 if isinstance(ntype, sg.Izhikevich) else 1.0)
    net, probes = sg_net(ntype, gain, bias, x, ["output", ntype.state[0]])
    runs = []
    for fuse in (False, True):
        with sg.Simulator(net, fuse=fuse, progress_bar=False) as sim:
            sim.run_steps(200)
            runs.append([np.asarray(sim.data[p]) for p in probes.values()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_wrapper_rate_mode_and_scaled_firing_rates():
    """Rate mode runs the base type's curve; scale_firing_rates keeps a wrapper's output
    (in spike mode the wrapper's amplitude takes the scale, in rate mode the base's); a
    wrapper amplitude other than 1 has no rate curve (Nengo's leaves it out)."""
    with sg.Network(seed=0) as net:
        stim = sg.Node(np.full(N, 0.5))
        ens = sg.Ensemble(N, 1, neuron_type=sg.RegularSpiking(sg.RectifiedLinear()),
                          gain=np.linspace(50, 200, N), bias=np.zeros(N))
        sg.Connection(stim, ens.neurons, synapse=None)
        probe = sg.Probe(ens.neurons)
    rates = []
    for target, scale in (("rate", None), ("rate", 3.0), ("cpu", None), ("cpu", 3.0)):
        program = sg.compile(net, target=target, scale_firing_rates=scale)
        with sg.Simulator(program, progress_bar=False) as sim:
            sim.run_steps(1000)
            rates.append(np.asarray(sim.data[program.op_of(probe)])[0].mean(0))
    expected = np.linspace(50, 200, N) * 0.5
    for got in rates:
        np.testing.assert_allclose(got, expected, atol=1.0)
    ens.neuron_type = sg.RegularSpiking(sg.RectifiedLinear(), amplitude=2.0)
    with pytest.raises(CompileError, match=r"leaves out the wrapper's amplitude 2"):
        sg.compile(net, target="rate")


def test_probeable_names_are_nengos():
    """``ens.neurons``' probeable names: Nengo's (``rate_out`` for wrappers), plus
    ``spikes`` for spiking types; ``rate_out`` records the base type's output."""
    with sg.Network(seed=0):
        for ours, theirs in [(sg.AdaptiveLIF(), nengo.AdaptiveLIF()),
                             (sg.AdaptiveLIFRate(), nengo.AdaptiveLIFRate()),
                             (sg.Izhikevich(), nengo.Izhikevich()),
                             (sg.RegularSpiking(sg.LIFRate()),
                              nengo.RegularSpiking(nengo.LIFRate())),
                             (sg.StochasticSpiking(sg.AdaptiveLIFRate()),
                              nengo.StochasticSpiking(nengo.AdaptiveLIFRate())),
                             (sg.PoissonSpiking(sg.LIFRate()),
                              nengo.PoissonSpiking(nengo.LIFRate()))]:
            probeable = sg.Ensemble(3, 1, neuron_type=ours).neurons.probeable
            assert set(probeable) - {"spikes"} == set(theirs.probeable) | {"input"}
    gain, bias, x, v0 = currents()
    ntype = sg.RegularSpiking(sg.AdaptiveLIFRate(), initial_state={"voltage": v0})
    got = run_sg(ntype, gain, bias, x, ["rate_out", "output"], 300)
    ref = run_nengo(nengo.RegularSpiking(nengo.AdaptiveLIFRate(),
                                         initial_state={"voltage": v0}), gain, bias, x,
                    ["rate_out", "output"], 300)
    np.testing.assert_allclose(got["rate_out"], ref["rate_out"], rtol=1e-4, atol=1e-3)


def nengo_steps(ntype, J, state, steps, dt=0.001):
    """Nengo's own step function, ``steps`` times: the outputs ``[steps, n]``."""
    out = np.zeros((steps, len(J)))
    for t in range(steps):
        ntype.step(dt, J, out[t], **state)
    return out


@settings(max_examples=5, deadline=None)
@given(tau_n=st.floats(0.02, 2.0), inc_n=st.one_of(st.just(0.0), st.floats(1e-3, 0.2)),
       tau_rc=st.floats(0.005, 0.1), tau_ref=st.floats(0.0, 0.005),
       min_voltage=st.floats(-1.0, 0.0), amplitude=st.floats(0.1, 2.0))
def test_adaptive_lif_parameters_match_nengos_step(tau_n, inc_n, tau_rc, tau_ref,
                                                   min_voltage, amplitude):
    kw = {"tau_n": tau_n, "inc_n": inc_n, "tau_rc": tau_rc, "tau_ref": tau_ref,
          "min_voltage": min_voltage, "amplitude": amplitude}
    gain, bias, x, v0 = currents(scale=2.0)
    J = gain * x + bias
    state = {"voltage": v0.copy(), "refractory_time": np.zeros(N), "adaptation": np.zeros(N)}
    ref = nengo_steps(nengo.AdaptiveLIF(**kw), J, state, 300)
    got = run_sg(sg.AdaptiveLIF(**kw, initial_state={"voltage": v0}), gain, bias, x,
                 ["output", "adaptation"], 300)
    counts, ref_counts = (got["output"] > 0).sum(0), (ref > 0).sum(0)
    assert np.abs(counts - ref_counts).max() <= 1  # float32 may move a spike by a step
    np.testing.assert_allclose(got["adaptation"][-1], state["adaptation"], rtol=0.05,
                               atol=inc_n * amplitude / tau_n * 1.01 + 1e-6)  # one spike


def test_positional_arguments_follow_nengo():
    assert sg.AdaptiveLIF(0.5, 0.02, 0.03, 0.001, -0.5, 2.0) == sg.AdaptiveLIF(
        tau_n=0.5, inc_n=0.02, tau_rc=0.03, tau_ref=0.001, min_voltage=-0.5, amplitude=2.0)
    assert sg.AdaptiveLIFRate(0.5, 0.02, 0.03, 0.001, 2.0).amplitude == 2.0
    assert sg.Izhikevich(0.1, 0.25, -55, 4).reset_recovery == 4.0
    assert sg.PoissonSpiking(sg.LIFRate(), 0.5).amplitude == 0.5
