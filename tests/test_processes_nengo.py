"""Nengo's built-in processes in snngraph (``sg.processes``): WhiteSignal, WhiteNoise,
FilteredNoise, BrownNoise, Piecewise, a synapse as a process (Filter) and ensemble noise.

Checked against Nengo 4.1 itself where the values can be equal (WhiteSignal's seeded
draws, Piecewise, filters, a deterministic ensemble noise), against the statistics of
the distribution where the draws are snngraph's own counter hash (the noises), and the
compiled network against each process's own NumPy ``run``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snngraph.runtimes.numba_cpu.backend import op_ids

import snngraph as sg
from snngraph import processes as P
from snngraph.errors import CompileError, ValidationError

DT = 0.001


def _nengo():
    return pytest.importorskip("nengo")


def _run_sg(net, n_steps, probes, fuse=False, **kwargs):
    """Each probe's data, ``[steps, n]`` (example 0), and the simulator."""
    sim = sg.Simulator(net, progress_bar=False, fuse=fuse, **kwargs)
    sim.run_steps(n_steps)
    return [np.asarray(sim.data[p])[0] for p in probes], sim


def _run_nengo(net, n_steps, probes):
    nengo = _nengo()
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(n_steps)
    return [sim.data[p] for p in probes]


# ------------------------------------------------------------------ WhiteSignal
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), period=st.floats(0.05, 2.0),
       high=st.floats(0.0, 1.0), d=st.integers(1, 3),
       y0=st.none() | st.floats(-0.5, 0.5))
def test_white_signal_is_nengos_for_the_same_seed(seed, period, high, d, y0):
    nengo = _nengo()
    high = 1.0 / period + high * (500.0 - 1.0 / period)  # from 1 / period to Nyquist
    ours = P.WhiteSignal(period, high, rms=0.3, y0=y0, seed=seed)
    theirs = nengo.processes.WhiteSignal(period, high, rms=0.3, y0=y0, seed=seed)
    np.testing.assert_array_equal(ours.run(0.3, d=d), theirs.run(0.3, d=d))


def test_white_signal_node_matches_nengo_simulator():
    nengo = _nengo()
    with nengo.Network() as net:
        u = nengo.Node(nengo.processes.WhiteSignal(0.2, high=20, seed=7), size_out=2)
        nengo_probe = nengo.Probe(u)
    (expected,) = _run_nengo(net, 450, [nengo_probe])
    with sg.Network(seed=0) as snet:
        v = sg.Node(P.WhiteSignal(0.2, high=20, seed=7), size_out=2)
        probe = sg.Probe(v, synapse=None)
    for fuse in (False, True):
        (got,), _ = _run_sg(snet, 450, [probe], fuse=fuse)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_white_signal_band_limit_and_rms():
    """No power above ``high``; the rms (over dimensions) is the one asked for."""
    period, high, rms = 1.0, 12.0, 0.4
    x = P.WhiteSignal(period, high, rms=rms, seed=3).run(period, d=200)
    power = np.abs(np.fft.rfft(x, axis=0)) ** 2
    freqs = np.fft.rfftfreq(len(x), d=DT)
    assert power[freqs > high].max() < 1e-20 * power.max()
    assert power[(freqs > 0) & (freqs <= high)].min() > 0
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(rms, rel=0.05)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)  # no DC component
    # periodic: the next period repeats this one
    y = P.WhiteSignal(period, high, rms=rms, seed=3).run(2 * period, d=200)
    np.testing.assert_array_equal(y[1000:], x)


def test_white_signal_without_seed_gets_one_from_the_network():
    def build(seed):
        with sg.Network(seed=seed) as net:
            u = sg.Node(P.WhiteSignal(0.5, high=8), label="u")
            p = sg.Probe(u, synapse=None)
        return net, p
    net, p = build(1)
    program = sg.compile(net)
    spec = program.ir.op(program.op_of(net.all_nodes[0])).process
    assert spec["seed"] is not None  # drawn at compile time, shown in the dump
    assert f"seed={spec['seed']}" in str(program)
    (a,), _ = _run_sg(net, 300, [p], seed=5)
    (b,), _ = _run_sg(net, 300, [p], seed=6)
    np.testing.assert_array_equal(a, b)  # fixed by the network seed, not the run's
    net2, p2 = build(2)
    (c,), _ = _run_sg(net2, 300, [p2])
    assert not np.allclose(a, c)
    ref = P.WhiteSignal(0.5, high=8, seed=spec["seed"]).run_steps(300)
    np.testing.assert_allclose(a, ref, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ Piecewise
PIECES = {0.05: [1.0, -2.0], 0.1: [-1.0, 0.5], 0.175: [0.25, 3.0], 0.3: [0.0, 0.0]}


@pytest.mark.filterwarnings("ignore:'cubic' interpolation may fail")  # Nengo's, for t=0
@pytest.mark.parametrize("interpolation", ["zero", "linear", "slinear", "nearest",
                                           "quadratic", "cubic"])
def test_piecewise_matches_nengo(interpolation):
    nengo = _nengo()
    data = {t: np.array(v) for t, v in PIECES.items()}
    expected = nengo.processes.Piecewise(data, interpolation=interpolation).run(0.4)
    ours = P.Piecewise(data, interpolation)
    np.testing.assert_allclose(ours.run(0.4), expected, rtol=1e-12, atol=1e-12)
    with nengo.Network() as net:
        nengo_probe = nengo.Probe(nengo.Node(nengo.processes.Piecewise(
            data, interpolation=interpolation)))
    (in_nengo,) = _run_nengo(net, 400, [nengo_probe])
    with sg.Network(seed=0) as snet:
        probe = sg.Probe(sg.Node(P.Piecewise(data, interpolation)), synapse=None)
    (got,), _ = _run_sg(snet, 400, [probe])
    np.testing.assert_allclose(got, in_nengo, rtol=1e-6, atol=1e-7)


def test_piecewise_scalars_and_data():
    pw = P.Piecewise({0.5: 1, 0.25: -1})
    assert pw.default_size_out(0) == 1
    np.testing.assert_array_equal(pw.times, [0.25, 0.5])
    np.testing.assert_array_equal(pw.data, [[0.25, -1.0], [0.5, 1.0]])
    out = pw.run(0.6).ravel()
    assert out[200] == 0.0 and out[250] == -1.0 and out[499] == 1.0  # t = (k + 1) dt


# ------------------------------------------------------------------ filters
SYNAPSES = [(sg.Lowpass(0.01), "Lowpass", (0.01,)), (sg.Alpha(0.005), "Alpha", (0.005,)),
            (sg.LinearFilter([1.0, 2.0], [0.01, 1.0, 3.0]), "LinearFilter",
             ([1.0, 2.0], [0.01, 1.0, 3.0])),
            (sg.LinearFilter([0.5, 1.0], [0.02, 1.0]), "LinearFilter",  # a passthrough D
             ([0.5, 1.0], [0.02, 1.0])),
            (sg.Lowpass(0.0), "Lowpass", (0.0,))]


@pytest.mark.parametrize("synapse, name, args", SYNAPSES, ids=lambda v: str(v)[:30])
def test_filter_node_matches_nengo(synapse, name, args):
    """``nengo.Node(synapse, size_in=2)`` filters its input in the same step."""
    nengo = _nengo()
    data = {t: np.array(v) for t, v in PIECES.items()}
    with nengo.Network() as net:
        src = nengo.Node(nengo.processes.Piecewise(data))
        filt = nengo.Node(getattr(nengo, name)(*args), size_in=2, size_out=2)
        nengo.Connection(src, filt, synapse=None)
        nengo_probe = nengo.Probe(filt)
    (expected,) = _run_nengo(net, 400, [nengo_probe])
    with sg.Network(seed=0) as snet:
        src = sg.Node(P.Piecewise(data))
        filt = sg.Node(P.Filter(synapse), size_in=2)
        sg.Connection(src, filt, synapse=None)
        probe = sg.Probe(filt, synapse=None)
    for fuse in (False, True):
        (got,), _ = _run_sg(snet, 400, [probe], fuse=fuse)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    reference = P.Filter(synapse).apply(P.Piecewise(data).run_steps(400))
    np.testing.assert_allclose(reference, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ noise statistics
@pytest.mark.parametrize("dist, mean, var", [
    (sg.dists.Gaussian(0.5, 2.0), 0.5, 4.0), (sg.dists.Uniform(-1.0, 3.0), 1.0, 16 / 12)])
def test_white_noise_statistics(dist, mean, var):
    """Unscaled, the draws follow ``dist``; scaled, they are divided by sqrt(dt); they
    are white (no correlation between steps)."""
    x = P.WhiteNoise(dist, scale=False, seed=1).run_steps(400, d=250)
    assert x.mean() == pytest.approx(mean, abs=0.02 * np.sqrt(var) * 5)
    assert x.var() == pytest.approx(var, rel=0.03)
    lag = np.mean((x[1:] - mean) * (x[:-1] - mean)) / var
    assert abs(lag) < 0.02
    scaled = P.WhiteNoise(dist, seed=1).run_steps(400, d=250, dt=0.0025)
    np.testing.assert_allclose(scaled, x / np.sqrt(0.0025), rtol=1e-12)
    if isinstance(dist, sg.dists.Uniform):
        assert x.min() >= -1.0 and x.max() < 3.0


def test_choice_noise_draws_with_the_weights():
    """A Choice of values draws each value apart; of rows, one row per step."""
    each = P.WhiteNoise(sg.dists.Choice([-1.0, 2.0, 5.0], [0.2, 0.5, 0.3]), scale=False,
                        seed=1).run_steps(500, d=40)
    for value, weight in zip([-1.0, 2.0, 5.0], [0.2, 0.5, 0.3]):
        assert np.mean(each == value) == pytest.approx(weight, abs=0.01)
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = P.WhiteNoise(sg.dists.Choice(rows), scale=False, seed=1).run_steps(2000, d=3)
    picked = (x == rows[1]).all(axis=1)
    assert ((x == rows[0]).all(axis=1) | picked).all()
    assert picked.mean() == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValidationError, match=r"WhiteNoise.dist.*rows of 2 values"):
        P.WhiteNoise(sg.dists.Choice(rows)).run_steps(3, d=2)


def test_filtered_and_brown_noise_statistics():
    """A lowpass of scaled white noise has variance ``b^2 / dt / (1 - a^2)`` at steady
    state; Brown noise is its integral, variance ``t`` at time ``t``."""
    tau = 0.005
    x = P.FilteredNoise(sg.Lowpass(tau), seed=2).run_steps(500, d=400)[100:]
    a = np.exp(-DT / tau)
    assert x.var() == pytest.approx((1 - a) ** 2 / DT / (1 - a * a), rel=0.05)
    assert abs(x.mean()) < 0.05
    b = P.BrownNoise(seed=3).run_steps(400, d=2000)
    t = (np.arange(1, 401)) * DT
    np.testing.assert_allclose(b.var(axis=1)[[99, 199, 399]], t[[99, 199, 399]], rtol=0.1)
    increments = np.diff(b, axis=0)
    assert increments.var() == pytest.approx(DT, rel=0.03)


def test_noise_statistics_match_nengos():
    """Nengo's noises and ours: the same distribution (different numbers)."""
    nengo = _nengo()
    for ours, theirs in [
            (P.WhiteNoise(seed=4), nengo.processes.WhiteNoise(seed=4)),
            (P.FilteredNoise(sg.Alpha(0.01), seed=4),
             nengo.processes.FilteredNoise(synapse=nengo.Alpha(0.01), seed=4)),
            (P.BrownNoise(seed=4), nengo.processes.BrownNoise(seed=4))]:
        x, y = ours.run(0.2, d=300), theirs.run(0.2, d=300)
        assert not np.allclose(x, y)
        np.testing.assert_allclose(x.std(axis=1)[-50:].mean(), y.std(axis=1)[-50:].mean(),
                                   rtol=0.08)


def test_noise_in_the_network_is_the_reference_draws():
    """The numba runtime draws what ``run_steps`` does: per example (independent of the
    minibatch), per op, per run seed; a seeded process ignores the run's seed."""
    with sg.Network(seed=0) as net:
        nodes = [sg.Node(P.WhiteNoise(), size_out=3, label="wn"),
                 sg.Node(P.WhiteNoise(sg.dists.Choice([1.0, 2.0, 3.0])), size_out=4),
                 sg.Node(P.WhiteNoise(sg.dists.Choice([[1.0, 2.0], [3.0, 4.0]])), size_out=2),
                 sg.Node(P.FilteredNoise(sg.Alpha(0.004), sg.dists.Uniform(-1, 1)),
                         size_out=2, label="fn"),
                 sg.Node(P.BrownNoise(seed=9), size_out=2, label="bn")]
        probes = [sg.Probe(n, synapse=None) for n in nodes]
    program = sg.compile(net)
    ids = op_ids(program.ir)
    for fuse in (False, True):
        sim = sg.Simulator(program, progress_bar=False, fuse=fuse, minibatch_size=3, seed=11)
        sim.run_steps(150)
        for node, probe in zip(nodes, probes):
            got = np.asarray(sim.data[probe])
            for example in range(3):
                ref = node.output.run_steps(150, node.size_out, seed=11,
                                            op_id=ids[program.op_of(node)], example=example)
                np.testing.assert_allclose(got[example], ref, rtol=2e-5, atol=2e-5)
    assert not np.allclose(got[0], got[1])  # examples draw apart


# ------------------------------------------------------------------ ensemble noise
def _noisy_ensembles(nengo_noise, sg_noise, n=6):
    nengo = _nengo()
    rng = np.random.default_rng(0)
    gain, bias = rng.uniform(1, 3, n), rng.uniform(-1, 1.5, n)
    with nengo.Network(seed=0) as net:
        ens = nengo.Ensemble(n, 1, gain=gain, bias=bias, encoders=np.ones((n, 1)),
                             noise=nengo_noise)
        u = nengo.Node(0.3)
        nengo.Connection(u, ens, synapse=None)
        nengo_probes = [nengo.Probe(ens.neurons, "input"), nengo.Probe(ens.neurons)]
    with sg.Network(seed=0) as snet:
        sens = sg.Ensemble(n, 1, gain=gain, bias=bias, encoders=np.ones((n, 1)),
                           noise=sg_noise, label="ens")
        su = sg.Node(0.3)
        sg.Connection(su, sens, synapse=None)
        probes = [sg.Probe(sens.neurons, "input", synapse=None),
                  sg.Probe(sens.neurons, synapse=None)]
    return net, nengo_probes, snet, probes


@pytest.mark.parametrize("which", ["piecewise", "white_signal", "choice"])
def test_ensemble_noise_matches_nengo(which):
    """Nengo adds the noise to the neurons' current J; with deterministic noise the
    currents and spikes are Nengo's."""
    nengo = _nengo()
    n = 6
    if which == "piecewise":
        data = {0.02: np.linspace(-1, 1, n), 0.1: np.linspace(2, 0, n)}
        pair = (nengo.processes.Piecewise(data), P.Piecewise(data))
    elif which == "white_signal":
        pair = (nengo.processes.WhiteSignal(0.3, 10, rms=2.0, seed=5),
                P.WhiteSignal(0.3, 10, rms=2.0, seed=5))
    else:  # one row to choose: the filtered noise is deterministic (Nengo's own test)
        row = [np.linspace(-0.05, 0.05, n)]
        pair = (nengo.processes.FilteredNoise(nengo.Alpha(0.02), nengo.dists.Choice(row)),
                P.FilteredNoise(sg.Alpha(0.02), sg.dists.Choice(row)))
    net, nengo_probes, snet, probes = _noisy_ensembles(*pair, n=n)
    j_nengo, s_nengo = _run_nengo(net, 300, nengo_probes)
    for fuse in (False, True):
        (j, s), _ = _run_sg(snet, 300, probes, fuse=fuse)
        np.testing.assert_allclose(j, j_nengo, rtol=1e-5, atol=1e-5)
        # Nengo starts its LIF voltages at random: the spike counts agree, not the times
        np.testing.assert_allclose((s > 0).sum(axis=0), (s_nengo > 0).sum(axis=0), atol=2)


def test_ensemble_noise_is_one_named_op_feeding_the_neurons():
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(10, 1, noise=P.WhiteNoise(sg.dists.Gaussian(0, 0.1)), label="a")
        sg.Probe(ens, synapse=0.01)
    program = sg.compile(net)
    op = program.ir.op("%a.noise")
    assert op.op == "process" and op.divide_by == "%a.gain"
    assert program.ir.consumers("%a.noise") == ["%a"]
    assert "%a.noise" in str(program) and "WhiteNoise" in str(program)


def test_ensemble_noise_statistics_in_the_current():
    """White noise in J: the current's spread is the noise's (the gain does not scale it)."""
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(50, 1, noise=P.WhiteNoise(sg.dists.Gaussian(0.2, 0.5), scale=False),
                          gain=np.full(50, 4.0), bias=np.zeros(50))
        probe = sg.Probe(ens.neurons, "input", synapse=None)
    (j,), _ = _run_sg(net, 200, [probe])
    assert j.mean() == pytest.approx(0.2, abs=0.02)
    assert j.std() == pytest.approx(0.5, rel=0.05)


def test_other_runtimes_refuse_ensemble_noise():
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(10, 1, noise=P.WhiteNoise(), label="noisy")
        sg.Connection(sg.Node(0.5), ens)
        sg.Probe(ens, synapse=0.01)
    with pytest.raises(CompileError, match="noise .*WhiteNoise.* no steady state"):
        sim = sg.Simulator(net, backend="rate", progress_bar=False)
        sim.run_steps(2)
    with pytest.raises(CompileError, match="noise .WhiteNoise.: a Loihi core"):
        sg.Simulator(net, backend="loihi", progress_bar=False)


# ------------------------------------------------------------------ documents
def test_processes_round_trip_through_documents(tmp_path):
    with sg.Network(seed=3) as net:
        nodes = [sg.Node(P.WhiteSignal(0.5, 6, rms=0.2, y0=0.1), size_out=2),
                 sg.Node(P.WhiteNoise(sg.dists.Uniform(-1, 1), scale=False, seed=3)),
                 sg.Node(P.FilteredNoise(sg.LinearFilter([1.0], [0.01, 1.0]), seed=1)),
                 sg.Node(P.BrownNoise(seed=2, default_dt=0.002)),
                 sg.Node(P.Piecewise({0.1: [1, 2], 0.2: [3, 4]}, "nearest"))]
        filt = sg.Node(P.Filter(sg.Alpha(0.01)), size_in=2)
        sg.Connection(nodes[-1], filt, synapse=None)
        ens = sg.Ensemble(8, 1, noise=P.FilteredNoise(seed=5))
        probes = [sg.Probe(n, synapse=None) for n in [*nodes, filt]]
        probes.append(sg.Probe(ens.neurons, "input", synapse=None))
    sg.save(net, tmp_path / "net.json")
    back = sg.load(tmp_path / "net.json")
    for a, b in zip(net.all_nodes, back.all_nodes):
        assert a.output == b.output
    assert back.all_ensembles[0].noise == P.FilteredNoise(seed=5)
    before, _ = _run_sg(net, 120, probes)
    after, _ = _run_sg(back, 120, back.all_probes)
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ helpers and sizes
def test_run_helpers_follow_nengo():
    nengo = _nengo()
    ours = P.WhiteSignal(1.0, 5, seed=1, default_dt=0.002)
    theirs = nengo.processes.WhiteSignal(1.0, 5, seed=1, default_dt=0.002)
    np.testing.assert_array_equal(ours.run(0.5), theirs.run(0.5))
    np.testing.assert_array_equal(ours.run_steps(7, d=2), theirs.run_steps(7, d=2))
    np.testing.assert_allclose(ours.trange(0.5), theirs.trange(0.5))
    np.testing.assert_allclose(ours.ntrange(9), theirs.ntrange(9))
    # unseeded, the seed comes from the rng given, as Nengo takes it
    np.testing.assert_array_equal(
        P.WhiteSignal(0.5, 9).run(0.4, 2, None, np.random.RandomState(3)),
        nengo.processes.WhiteSignal(0.5, 9).run(0.4, 2, None, np.random.RandomState(3)))
    x = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(P.Filter(sg.Lowpass(0.01)).apply(x),
                               nengo.Lowpass(0.01).apply(x, d=3), rtol=1e-10)
    with pytest.raises(ValueError, match="filters its input"):
        P.Filter(sg.Lowpass(0.01)).run(0.1)


def test_node_sizes():
    with sg.Network():
        assert sg.Node(P.WhiteNoise()).size_out == 1  # Nengo's default
        assert sg.Node(P.WhiteSignal(1, 5), size_out=3).size_out == 3
        assert sg.Node(P.Piecewise({0: [1, 2, 3]})).size_out == 3
        assert sg.Node(P.Filter(sg.Lowpass(0.1)), size_in=4).size_out == 4
        with pytest.raises(ValidationError, match="size_in"):
            sg.Node(P.Filter(sg.Lowpass(0.1)))
        with pytest.raises(ValidationError, match="size_out"):
            sg.Node(P.Piecewise({0: [1, 2, 3]}), size_out=2)
        with pytest.raises(ValidationError, match="Node.size_in.*WhiteNoise takes no input"):
            sg.Node(P.WhiteNoise(), size_in=2)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("make, match", [
    (lambda: P.WhiteSignal(-1.0, 5), r"WhiteSignal.period"),
    (lambda: P.WhiteSignal(0.0, 5), r"WhiteSignal.period"),
    (lambda: P.WhiteSignal(1.0, 0.5), r"WhiteSignal.high.*1 / period = 1 Hz"),
    (lambda: P.WhiteSignal(1.0, 5, rms=0.0), r"WhiteSignal.rms"),
    (lambda: P.WhiteSignal(1.0, 5, seed=-1), r"WhiteSignal.seed"),
    (lambda: P.WhiteNoise(sg.dists.UniformHypersphere()), r"WhiteNoise.dist.*Gaussian"),
    (lambda: P.WhiteNoise(sg.dists.Uniform(0, 5, integer=True)), r"WhiteNoise.dist"),
    (lambda: P.FilteredNoise(sg.Delay(2)), r"FilteredNoise.synapse.*linear filter"),
    (lambda: P.Filter(sg.Delay(1)), r"Filter.synapse"),
    (lambda: P.Piecewise({}), r"Piecewise.data.*non-empty"),
    (lambda: P.Piecewise({"a": 1}), r"Piecewise.data.*times \(numbers\) as keys, got 'a'"),
    (lambda: P.Piecewise({0: [1, 2], 1: [1, 2, 3]}), r"Piecewise.data.*size 2.*has size 3"),
    (lambda: P.Piecewise({0: lambda t: t}), r"Piecewise.data.*callable"),
    (lambda: P.Piecewise({0: "x"}), r"Piecewise.data.*numbers at time 0"),
    (lambda: P.Piecewise({0: 1}, "spline"), r"Piecewise.interpolation.*one of 'zero'"),
    (lambda: P.Piecewise({0: 1, 1: 2, 2: 3}, "cubic"),
     r"Piecewise.interpolation.*at least 4 times.*there are 3"),
    (lambda: P.Piecewise({0: 1}, "linear"), r"Piecewise.interpolation.*at least 2 times"),
    (lambda: P.Piecewise(np.array([[1.0, 0.0], [0.5, 1.0]])), r"increasing time"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_bad_ensemble_noise_and_nyquist():
    with sg.Network(seed=0) as net:
        with pytest.raises(ValidationError, match=r"Ensemble.noise.*10 values.*makes 2"):
            sg.Ensemble(10, 1, noise=P.Piecewise({0: [1, 2]}))
        with pytest.raises(ValidationError, match=r"Ensemble.noise.*no input"):
            sg.Ensemble(10, 1, noise=P.Filter(sg.Lowpass(0.1)))
        with pytest.raises(CompileError, match=r"gain of 0"):
            sg.Ensemble(3, 1, noise=P.WhiteNoise(), gain=np.zeros(3), bias=np.zeros(3))
            sg.compile(net)
    with sg.Network(seed=0) as net:
        sg.Probe(sg.Node(P.WhiteSignal(1.0, 400)), synapse=None)
    with pytest.raises(ValidationError, match=r"WhiteSignal.high.*Nyquist.*250 Hz"):
        sg.Simulator(net, dt=0.002, progress_bar=False)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(4, 9), seed=st.integers(0, 2**31), kind=st.sampled_from(
    ["slinear", "quadratic", "cubic"]))
def test_splines_are_scipys(n, seed, kind):
    """Piecewise's splines in NumPy are SciPy's interp1d (fill 0 outside the data)."""
    interpolate = pytest.importorskip("scipy.interpolate")
    from snngraph import splines

    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.05, 1.0, n))
    y = rng.normal(size=(n, 2))
    at = np.concatenate([np.linspace(x[0] - 0.5, x[-1] + 0.5, 300), x])
    expected = interpolate.interp1d(x, y, axis=0, kind=kind, bounds_error=False,
                                    fill_value=0.0)(at)
    k = {"slinear": 1, "quadratic": 2, "cubic": 3}[kind]
    np.testing.assert_allclose(splines.interpolate(x, y, k, at), expected, rtol=1e-9,
                               atol=1e-9)
