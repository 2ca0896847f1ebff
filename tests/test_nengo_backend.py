"""snngraph.nengo: Nengo models converted and run with Nengo's Simulator interface.

Numbers are checked against Nengo 4.1's own reference simulator on the same model, or
against what the model computes (a communication channel passes its input on)."""

from __future__ import annotations

import numpy as np
import pytest

nengo = pytest.importorskip("nengo")

import snngraph as sg  # noqa: E402
from snngraph.nengo import Simulator, UnsupportedNengo, from_nengo  # noqa: E402


def channel(seed=0, function=None):
    with nengo.Network(seed=seed, label="channel") as net:
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t), label="stim")
        a = nengo.Ensemble(100, 1, label="a")
        b = nengo.Ensemble(100, 1, label="b")
        nengo.Connection(stim, a)
        conn = nengo.Connection(a, b, function=function)
        p = nengo.Probe(b, synapse=0.01, label="p")
        spikes = nengo.Probe(a.neurons, sample_every=0.003)
    return net, stim, a, b, conn, p, spikes


def test_conversion_keeps_labels_seeds_and_the_object_map():
    net, stim, a, b, conn, p, spikes = channel(seed=3)
    converted = from_nengo(net)
    assert isinstance(converted.network, sg.Network)
    assert converted.network.seed == 3
    assert converted[a].label == "a" and converted[a].n_neurons == 100
    assert converted.nengo(converted[b]) is b
    assert isinstance(converted[conn], sg.Connection)
    assert converted[p].target is converted[b]
    assert sg.from_nengo(net).network.seed == 3  # also at the top level
    assert converted[spikes].sample_every == 0.003  # kept for snngraph's own Simulator
    sg.compile(converted.network)  # an ordinary network: it compiles


def test_channel_matches_nengo_reference():
    net, stim, a, b, conn, p, _ = channel(function=lambda x: x**2)
    with Simulator(net, progress_bar=False) as sim:
        sim.run(1.0)
    with nengo.Simulator(net, progress_bar=False) as ref:
        ref.run(1.0)
    target = np.sin(2 * np.pi * sim.trange()) ** 2
    ours = np.sqrt(np.mean((sim.data[p][:, 0] - target) ** 2))
    theirs = np.sqrt(np.mean((ref.data[p][:, 0] - target) ** 2))
    assert ours < 1.25 * theirs + 0.01


def test_data_layout_follows_nengo():
    net, stim, a, b, conn, p, spikes = channel()
    with Simulator(net, progress_bar=False) as sim:
        sim.run(0.1)
        sim.run_steps(5)
    assert sim.n_steps == 105 and np.isclose(sim.time, 0.105)
    assert sim.data[p].shape == (105, 1)                     # no batch axis
    assert sim.data[spikes].shape == (35, 100)               # every 3 steps
    assert np.allclose(sim.trange(sample_every=0.003), 0.003 * np.arange(1, 36))
    assert set(np.unique(sim.data[spikes])) == {0.0, 1000.0}  # spikes are exactly 1/dt
    assert sim.data[p].flags.writeable is False
    assert len(sim.data[p]) == len(sim.trange())             # readable after close


def test_built_parameters():
    net, stim, a, b, conn, p, _ = channel()
    with Simulator(net, progress_bar=False) as sim:
        pass
    built = sim.data[a]
    assert built.encoders.shape == (100, 1)
    assert np.allclose(np.linalg.norm(built.encoders, axis=1), 1)
    assert np.allclose(built.scaled_encoders, built.encoders * built.gain[:, None])
    assert built.eval_points.shape[1] == 1 and built.max_rates.shape == (100,)
    w = sim.data[conn].weights
    assert w.shape == (1, 100)
    assert sim.data[conn].solver_info["rmses"].shape == (1,)
    assert sim.data[conn].eval_points is sim.data[a].eval_points  # shared, as Nengo's


def test_sample_every_not_a_whole_number_of_steps():
    with nengo.Network() as net:
        node = nengo.Node(lambda t: t)
        p = nengo.Probe(node, sample_every=0.0025)
    with Simulator(net, progress_bar=False) as sim, nengo.Simulator(
            net, progress_bar=False) as ref:
        sim.run(0.02)
        ref.run(0.02)
    assert np.allclose(sim.data[p], ref.data[p])
    assert np.allclose(sim.trange(sample_every=0.0025), ref.trange(sample_every=0.0025))


def test_lifetime_and_reset():
    net, *_, p, _ = channel()
    sim = Simulator(net, progress_bar=False)
    sim.run(0.05)
    first = sim.data[p].copy()
    sim.reset()
    assert sim.n_steps == 0 and len(sim.data[p]) == 0
    sim.run(0.05)
    assert np.allclose(sim.data[p], first)
    sim.close()
    with pytest.raises(nengo.exceptions.SimulatorClosed):
        sim.run(0.01)
    with pytest.raises(nengo.exceptions.SimulatorClosed):
        sim.reset()
    assert len(sim.data[p]) == 50
    with pytest.raises(nengo.exceptions.ReadonlyError):
        sim.dt = 0.002


def test_node_functions_run_every_step_even_unread():
    calls = []
    with nengo.Network() as net:
        nengo.Node(lambda t: calls.append(t) or [0.0], size_out=1)
    with Simulator(net, progress_bar=False) as sim:
        sim.run_steps(4)
    assert np.allclose(calls, [0.001, 0.002, 0.003, 0.004])  # not called at build time


def test_user_process_runs_its_own_make_step():
    class Ramp(nengo.Process):
        def make_step(self, shape_in, shape_out, dt, rng, state):
            return lambda t: np.full(shape_out, t * 2)

    with nengo.Network() as net:
        node = nengo.Node(Ramp(), size_out=2)
        p = nengo.Probe(node)
    with Simulator(net, progress_bar=False) as sim:
        sim.run_steps(3)
        sim.reset()
        sim.run_steps(2)
    assert np.allclose(sim.data[p], [[0.002, 0.002], [0.004, 0.004]])


@pytest.mark.parametrize("pre_neurons", [True, False])
@pytest.mark.parametrize("post_neurons", [True, False])
@pytest.mark.parametrize("weights", [True, False])
@pytest.mark.parametrize("sliced", [True, False])
def test_pes_on_every_pre_post_variety(pre_neurons, post_neurons, weights, sliced):
    """Nengo's test_pes_pre_post_varieties without its look at Nengo's operators: PES
    from and to ensembles or neurons, whole or sliced, with or without a weight solver,
    builds and steps, and its error reaches the weights."""
    with nengo.Network(seed=1) as net:
        pre, post = nengo.Ensemble(10, 12), nengo.Ensemble(20, 22)
        pre_size = pre.n_neurons if pre_neurons else pre.dimensions
        post_size = post.n_neurons if post_neurons else post.dimensions
        cut = (lambda n: slice(0, n // 2)) if sliced else (lambda n: slice(None))
        size = (lambda n: n // 2) if sliced else (lambda n: n)
        nengo.Connection(nengo.Node(np.ones(12)), pre)
        conn = nengo.Connection(
            (pre.neurons if pre_neurons else pre)[cut(pre_size)],
            (post.neurons if post_neurons else post)[cut(post_size)],
            solver=nengo.solvers.LstsqL2(weights=weights), learning_rule_type=nengo.PES(),
            transform=np.ones((size(post_size), size(pre_size))))
        error = nengo.Node(np.ones(conn.learning_rule.size_in))
        nengo.Connection(error, conn.learning_rule)
        delta = nengo.Probe(conn.learning_rule, "delta")
    with Simulator(net, progress_bar=False) as sim:
        sim.run_steps(20)
    assert np.any(sim.data[delta] != 0)


def test_repeated_indices_add_up():
    with nengo.Network() as net:
        node = nengo.Node([1, 1, 1])
        ens = nengo.Ensemble(5, 1, bias=nengo.dists.Choice([0]), gain=nengo.dists.Choice([1]))
        nengo.Connection(node, ens.neurons[[0, 0, 2]], synapse=None)
        p = nengo.Probe(ens.neurons, "input")
    with Simulator(net, progress_bar=False) as sim:
        sim.run(0.001)
    assert np.allclose(sim.data[p], [[2, 0, 1, 0, 0]])


def test_empty_network_runs():
    with Simulator(nengo.Network(), progress_bar=False) as sim:
        sim.run(0.01)
    assert sim.n_steps == 10


# ---------------------------------------------------------------- bad input
def test_errors_name_the_nengo_object():
    with nengo.Network() as net:
        nengo.Ensemble(10, 1, neuron_type=nengo.LIF(), label="mine",
                       intercepts=nengo.dists.Uniform(-1, 0.5),
                       encoders=nengo.dists.Gaussian(0, 1), eval_points=nengo.dists.Gaussian(0, 1))
        nengo.Ensemble(10, 1, label="weird", eval_points=nengo.dists.Gaussian(0, 1),
                       encoders=nengo.dists.Gaussian(0, 1),
                       neuron_type=nengo.neurons.SpikingRectifiedLinear())
    Simulator(net, progress_bar=False).close()  # supported: no error

    class MyNeurons(nengo.neurons.LIFRate):
        def step(self, dt, J, output):  # its own dynamics: snngraph cannot know them
            output[:] = J

    class Renamed(nengo.neurons.LIFRate):  # only its defaults differ: it runs as LIFRate
        def __init__(self):
            super().__init__(tau_rc=0.03)

    with nengo.Network() as net:
        nengo.Ensemble(10, 1, neuron_type=Renamed(), encoders=nengo.dists.Gaussian(0, 1),
                       eval_points=nengo.dists.Gaussian(0, 1))
    assert from_nengo(net).network.all_ensembles[0].neuron_type == sg.LIFRate(tau_rc=0.03)

    with nengo.Network() as net:
        nengo.Ensemble(10, 1, neuron_type=MyNeurons(), label="custom")
    with pytest.raises(UnsupportedNengo, match='Ensemble "custom".*neuron_type.*MyNeurons'):
        Simulator(net)


@pytest.mark.parametrize("kwargs, match", [
    ({"dt": 0}, "dt"), ({"dt": float("nan")}, "dt"), ({"dt": "1ms"}, "dt"),
    ({"dt": True}, "dt"), ({"seed": "x"}, "seed.*'x'"), ({"seed": 1.5}, "seed.*1.5"),
])
def test_bad_simulator_arguments(kwargs, match):
    with pytest.raises(nengo.exceptions.ValidationError, match=match):
        Simulator(nengo.Network(), **kwargs)


def test_bad_network_and_model():
    with pytest.raises(nengo.exceptions.ValidationError, match="nengo.Network"):
        Simulator(sg.Network())
    with pytest.raises(nengo.exceptions.BuildError, match="prebuilt"):
        Simulator(nengo.Network(), model=nengo.builder.Model())
    with pytest.raises(sg.ValidationError, match="nengo.Network"):
        from_nengo("net")


def test_node_function_returning_garbage_is_a_simulation_error():
    with nengo.Network() as net:
        node = nengo.Node(lambda t: [1.0] if t < 0.003 else None, label="flaky")
        ens = nengo.Ensemble(10, 1)
        nengo.Connection(node, ens)
    with Simulator(net, progress_bar=False) as sim, pytest.raises(
            nengo.exceptions.SimulationError, match="flaky"):
        sim.run(0.01)


def test_function_given_as_values_at_eval_points():
    points = np.linspace(-1, 1, 50)[:, None]
    with nengo.Network(seed=0) as net:
        a = nengo.Ensemble(100, 1)
        b = nengo.Node(size_in=1)
        nengo.Connection(nengo.Node(0.5), a)
        nengo.Connection(a, b, eval_points=points, function=points**2)
        p = nengo.Probe(b, synapse=0.05)
    with Simulator(net, progress_bar=False) as sim:
        sim.run(0.5)
    assert abs(sim.data[p][-1, 0] - 0.25) < 0.05
    with sg.Network() as native:  # snngraph's own: values need their points
        ens = sg.Ensemble(10, 1)
        with pytest.raises(sg.ValidationError, match="function.*one row of values per eval"):
            sg.Connection(ens, sg.Node(size_in=1), function=points**2)
    assert native is not None


def test_zero_encoder_is_a_build_error():
    with nengo.Network() as net:
        nengo.Ensemble(2, 1, encoders=[[1.0], [0.0]], label="zeros")
    with pytest.raises(nengo.exceptions.BuildError, match="zeros.*zero-length"):
        Simulator(net)


def test_a_synapse_with_its_own_dynamics_is_refused():
    class Mine(nengo.synapses.LinearFilter):
        def make_step(self, *args, **kwargs):  # its own step: snngraph cannot know it
            return super().make_step(*args, **kwargs)

    with nengo.Network() as net:
        node = nengo.Node([1.0])
        out = nengo.Node(size_in=1)
        nengo.Connection(node, out, synapse=Mine([1], [0.01, 1]), label="own")
    with pytest.raises(UnsupportedNengo, match='Connection "own".*synapse.*Mine'):
        Simulator(net)


def test_probe_of_an_object_outside_the_network():
    with nengo.Network():
        far = nengo.Node([1.0])
    with nengo.Network() as net:
        nengo.Probe(far, label="lost")
    with pytest.raises(UnsupportedNengo, match='Probe "lost".*not part of the network'):
        Simulator(net)


# ---------------------------------------------------------------- more Nengo-side bad input
class OwnNeurons(nengo.neurons.RectifiedLinear):
    def step(self, dt, J, output):  # its own dynamics
        output[:] = J


class OwnRule(nengo.learning_rules.LearningRuleType):
    modifies = "decoders"


class OwnDist(nengo.dists.Distribution):
    def sample(self, n, d=None, rng=np.random):
        return np.ones((n, d or 1))


class OwnNoise(nengo.processes.Process):
    def make_step(self, shape_in, shape_out, dt, rng, state):
        return lambda t: np.zeros(shape_out)


def _ens(label, **kwargs):
    return nengo.Ensemble(10, 1, label=label, **kwargs)


def _bad_neurons():
    _ens("own", neuron_type=OwnNeurons())


def _bad_rule():
    a, b = _ens("a"), _ens("b")
    nengo.Connection(a, b, learning_rule_type=OwnRule(), label="own rule")


def _bad_dist():
    _ens("own", encoders=OwnDist())


def _bad_noise():
    _ens("own", noise=OwnNoise())


def _rls_into_neurons():
    a, b = _ens("a"), _ens("b")
    nengo.Connection(a, b.neurons, transform=np.ones((10, 1)),
                     learning_rule_type=nengo.RLS(), label="rls")


class OwnSynapse(nengo.synapses.Lowpass):
    def make_step(self, *args, **kwargs):  # its own step
        return super().make_step(*args, **kwargs)


def _own_probe_synapse():
    nengo.Probe(nengo.Node([1.0]), synapse=OwnSynapse(0.01), label="filtered")


def _lif_intercept_one():
    _ens("high", intercepts=nengo.dists.Choice([1.0]))


def _nyquist():
    nengo.Node(nengo.processes.WhiteSignal(1.0, high=400), size_out=1, label="fast")



def _identity_weights_probe():
    a, b = _ens("a"), _ens("b")
    conn = nengo.Connection(a.neurons, b.neurons, label="plain")
    nengo.Probe(conn, "weights", label="w")


BAD = [
    (_bad_neurons, nengo.exceptions.BuildError, 'Ensemble "own".*OwnNeurons'),
    (_bad_rule, nengo.exceptions.BuildError, 'Connection "own rule".*OwnRule'),
    (_bad_dist, nengo.exceptions.BuildError, 'Ensemble "own".*OwnDist'),
    (_bad_noise, nengo.exceptions.BuildError, 'Ensemble "own".*noise'),
    (_rls_into_neurons, nengo.exceptions.BuildError, 'Connection "rls".*RLS'),
    (_own_probe_synapse, nengo.exceptions.BuildError, 'Probe "filtered".*OwnSynapse'),
    (_lif_intercept_one, nengo.exceptions.BuildError, "high.*intercepts.*outside"),
    (_nyquist, nengo.exceptions.ValidationError, "fast.*Nyquist"),
    (_identity_weights_probe, nengo.exceptions.BuildError, "w.*plain.*no weights"),
]


@pytest.mark.parametrize("make, error, match", BAD, ids=[b[0].__name__ for b in BAD])
def test_nengo_side_bad_input_names_the_object(make, error, match):
    with nengo.Network() as net:
        make()
    with pytest.raises(error, match=match):
        Simulator(net, dt=0.002 if make is _nyquist else 0.001, progress_bar=False)


@pytest.mark.parametrize("value, what", [(lambda t: [np.nan], "non-finite"),
                                         (lambda t: [1.0, 2.0], "2 value"),
                                         (lambda t: "x", "not numbers")])
def test_node_function_errors_name_the_node(value, what):
    with nengo.Network() as net:
        node = nengo.Node(value, size_out=1, label="culprit")
        nengo.Connection(node, nengo.Ensemble(10, 1))
    with Simulator(net, progress_bar=False) as sim, pytest.raises(
            nengo.exceptions.SimulationError, match=f"culprit.*{what}"):
        sim.run_steps(2)


def test_misuse_of_the_simulator():
    with nengo.Network() as net:
        p = nengo.Probe(nengo.Node([1.0]))
    sim = Simulator(net, progress_bar=False)
    with pytest.raises(nengo.exceptions.ValidationError, match="positive"):
        sim.run(-1)
    with pytest.raises(KeyError):
        sim.data[nengo.Ensemble(3, 1, add_to_container=False)]
    sim.close()
    with pytest.raises(nengo.exceptions.SimulatorClosed):
        sim.step()
    with pytest.raises(nengo.exceptions.SimulatorClosed):
        sim.__enter__()
    assert sim.data[p].shape == (0, 1)


@pytest.mark.parametrize("rule", ["BCM", "Oja"])
def test_hebbian_rule_on_solver_weights_matches_nengo(rule):
    """BCM/Oja on a connection whose weights a solver gives (weights=True) learn Nengo's
    full matrix (post gains included) as Nengo's reference simulator does. Ensemble
    parameters are given, so both build the same matrix; rate neurons, so no random
    initial state: the learned weights agree to float32 rounding."""
    rng = np.random.RandomState(0)
    with nengo.Network(seed=3) as net:
        u = nengo.Node(lambda t: [np.sin(8 * t), np.cos(5 * t)])
        ens = []
        for n in (40, 41):
            enc = rng.randn(n, 2)
            ens.append(nengo.Ensemble(
                n, 2, neuron_type=nengo.LIFRate(), encoders=enc, gain=rng.uniform(5, 20, n),
                bias=rng.uniform(-5, 5, n), eval_points=rng.uniform(-1, 1, (300, 2))))
        nengo.Connection(u, ens[0])
        conn = nengo.Connection(ens[0], ens[1], solver=nengo.solvers.LstsqL2(weights=True),
                                learning_rule_type=getattr(nengo, rule)(learning_rate=1e-6))
        p = nengo.Probe(conn, "weights", sample_every=0.05)
    with nengo.Simulator(net, progress_bar=False) as reference:
        reference.run(0.2)
    with Simulator(net, progress_bar=False) as sim:
        sim.run(0.2)
    expected = reference.data[p]
    assert sim.data[p].shape == expected.shape == (4, 41, 40)
    assert np.abs(expected[-1] - expected[0]).max() > 0.01  # it learned
    scale = np.abs(expected).max()
    np.testing.assert_allclose(sim.data[p], expected, rtol=0, atol=1e-5 * scale)


# ------------------------------------------------------------------------- precision
def test_float64_agrees_with_float32_and_with_nengo_more_closely():
    """dtype=None computes in float32, 'float64' as Nengo does: both agree with each
    other to float32 rounding, and float64 follows Nengo's exact Node values (a Node's
    x is the float64 value Nengo passes: x == t holds exactly)."""
    with nengo.Network(seed=0) as net:
        clock = nengo.Node(lambda t: t)
        seen = []
        echo = nengo.Node(lambda t, x: seen.append((t, float(x[0]))) or x, size_in=1)
        nengo.Connection(clock, echo, synapse=None)
        a = nengo.Ensemble(50, 1)
        nengo.Connection(clock, a)
        p = nengo.Probe(a, synapse=0.01)
    out = {}
    for dtype in (None, "float64"):
        seen.clear()
        with Simulator(net, dtype=dtype, progress_bar=False) as sim:
            sim.run(0.2)
        out[dtype] = sim.data[p]
        exact = [x == t for t, x in seen]
        assert all(exact) if dtype == "float64" else not all(exact)
    assert out[None].dtype == out["float64"].dtype == np.float64  # Nengo's data type
    np.testing.assert_allclose(out["float64"], out[None], atol=1e-5)


@pytest.mark.parametrize("dtype,data", [(None, np.float64), ("float32", np.float32),
                                        ("float64", np.float64)])
def test_dtype_of_data_built_arrays_and_signals(dtype, data):
    net, stim, a, b, conn, p, spikes = channel()
    with Simulator(net, dtype=dtype, progress_bar=False) as sim:
        assert sim.dtype == (np.float64 if dtype == "float64" else np.float32)
        sim.run_steps(5)
        assert sim.data[p].dtype == data and sim.data[spikes].dtype == data
        built = [x for obj in (a, conn) for x in sim.data[obj] if isinstance(x, np.ndarray)]
        assert built and all(x.dtype == data for x in built)
        assert sim.data[conn].eval_points is sim.data[a].eval_points  # still shared
        signals = sim.signals
        assert signals and all(v.dtype == sim.dtype for v in signals.values())
        voltage = next(v for k, v in signals.items() if k.endswith(".voltage"))
        assert voltage.shape == (100,) and not voltage.flags.writeable
        before = voltage.copy()
        sim.step()  # a live view: it follows the run
        assert not np.array_equal(before, voltage)
        with pytest.raises(TypeError):
            signals["x"] = 0  # and the mapping is read-only


@pytest.mark.parametrize("bad", ["float16", "int64", True, 32])
def test_bad_dtype_names_the_argument(bad):
    net = channel()[0]
    with pytest.raises(nengo.exceptions.ValidationError,
                       match=r"Simulator.dtype: expected None, 'float32' or 'float64'"):
        Simulator(net, dtype=bad)


def test_nengos_suite_loads_the_simulator_in_nengos_precision(monkeypatch, request):
    """tests/nengo/snngraph_simloader.py reads nengo.rc's precision when the test builds
    its Simulator (after the test has set it), as Nengo's reference simulator does."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "nengo" / "snngraph_simloader.py"
    spec = importlib.util.spec_from_file_location("snngraph_simloader", path)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    make = loader.load(request)
    net = channel()[0]
    bits = nengo.rc.get("precision", "bits")
    request.addfinalizer(lambda: nengo.rc.set("precision", "bits", str(bits)))
    for bits_now, dtype in (("64", np.float64), ("32", np.float32)):
        nengo.rc.set("precision", "bits", bits_now)
        with make(net, progress_bar=False) as sim:
            assert sim.dtype == dtype and sim.data_dtype == dtype
    nengo.rc.set("precision", "bits", "16")
    with pytest.raises(nengo.exceptions.ValidationError, match="'float16'"):
        make(net)


def test_registered_as_nengo_backend():
    """Nengo finds the backend by its entry point (what Nengo's test_entry_point checks;
    Nengo's suite here builds Simulators through a loader instead)."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.load() for ep in entry_points(group="nengo.backends")}
    assert found["snngraph"] is Simulator


# ------------------------------------------------------------------------- pickling
def _learning_net():
    with nengo.Network(seed=5) as net:
        u = nengo.Node(nengo.processes.WhiteSignal(1.0, high=5), size_out=1)
        a, b = nengo.Ensemble(50, 1), nengo.Ensemble(50, 1)
        nengo.Connection(u, a)
        conn = nengo.Connection(a, b, learning_rule_type=nengo.PES(learning_rate=1e-3))
        err = nengo.Node(size_in=1)
        nengo.Connection(b, err)
        nengo.Connection(u, err, transform=-1)
        nengo.Connection(err, conn.learning_rule)
        p = nengo.Probe(b, synapse=0.01)
    return net, p


@pytest.mark.parametrize("fuse", [False, True])
def test_pickled_simulator_continues_exactly(fuse):
    """A pickled Simulator resumes from the same state (voltages, filters, learned
    weights, time): its second half equals an uninterrupted run's."""
    import pickle

    net, p = _learning_net()
    with Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run(0.3)
        blob = pickle.dumps({"sim": sim, "p": p})
        sim.run(0.3)
        whole = sim.data[p].copy()
    loaded = pickle.loads(blob)
    with loaded["sim"] as again:
        assert again.n_steps == 300
        again.run(0.3)
        np.testing.assert_array_equal(again.data[loaded["p"]], whole)


def test_pickled_closed_simulator_stays_closed_with_its_data():
    import pickle

    net, p = _learning_net()
    with Simulator(net, progress_bar=False) as sim:
        sim.run(0.01)
    loaded = pickle.loads(pickle.dumps({"sim": sim, "p": p}))
    assert loaded["sim"].closed
    np.testing.assert_array_equal(loaded["sim"].data[loaded["p"]], sim.data[p])
