"""Online learning rules (snngraph/learning_rules.py, the ``learn`` op): the same models
on Nengo 4.1's reference simulator and on the numba runtime, with identical gains,
biases, encoders, initial weights and initial voltages, so the runtime is the only
difference; the classic PES communication channel; bad inputs; documents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snngraph as sg
from snngraph.errors import CompileError, ValidationError

nengo = pytest.importorskip("nengo")

STEPS = 300
N_PRE, N_POST = 20, 15


class Model:
    """Random parameters shared by the Nengo and snngraph versions of a model."""

    def __init__(self, seed: int = 3, dims: int = 1):
        rng = np.random.default_rng(seed)
        self.dims = dims
        self.gain = [rng.uniform(1, 3, n) for n in (N_PRE, N_POST)]
        self.bias = [rng.uniform(-1, 1, n) for n in (N_PRE, N_POST)]
        self.enc = [_unit(rng.normal(size=(n, dims))) for n in (N_PRE, N_POST)]
        self.dec = [rng.normal(0, 1e-3, (n, dims)) for n in (N_PRE, N_POST)]
        self.w = rng.normal(0, 2e-3, (N_POST, N_PRE))

    def ensembles(self, lib, radius=1.0):
        """Two ensembles and the input node driving the first (``u(t)``); ``radius``:
        the second's."""
        kw = {"neuron_type": nengo.LIF(initial_state={"voltage": nengo.dists.Choice([0])})} \
            if lib is nengo else {}
        u = lib.Node(lambda t: np.sin(8 * t + np.arange(self.dims)), label="u")
        a, b = (lib.Ensemble(n, self.dims, gain=self.gain[i], bias=self.bias[i],
                             encoders=self.enc[i], label=name, radius=r, **kw)
                for i, (n, name, r) in enumerate([(N_PRE, "a", 1.0), (N_POST, "b", radius)]))
        lib.Connection(u, a, synapse=None)
        return u, a, b

    def solver(self, lib, i):
        return (nengo.solvers.NoSolver if lib is nengo else sg.NoSolver)(self.dec[i])


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rules(lib):
    return nengo.learning_rules if lib is nengo else sg.learning_rules


def run_both(build, steps=STEPS):
    """``build(lib) -> {name: probe}`` in each library; the recorded values by name."""
    out = {}
    for lib in (nengo, sg):
        with (nengo.Network(seed=0) if lib is nengo else sg.Network(seed=0)) as net:
            probes = build(lib)
        if lib is nengo:
            with nengo.Simulator(net, progress_bar=False) as sim:
                sim.run_steps(steps)
                out[lib] = {k: sim.data[p] for k, p in probes.items()}
        else:
            with sg.Simulator(net, progress_bar=False) as sim:
                sim.run_steps(steps)
                out[lib] = {k: sim.data[p][0] for k, p in probes.items()}
    return out[nengo], out[sg]


def assert_close(ref, got, rtol=1e-4):
    for key in ref:
        r, g = np.asarray(ref[key]), np.asarray(got[key])
        assert r.shape == g.shape, (key, r.shape, g.shape)
        scale = max(np.abs(r).max(), 1e-12)
        assert np.abs(r - g).max() <= rtol * scale, (key, np.abs(r - g).max(), scale)


# ------------------------------------------------------------------ against Nengo
def pes_decoded(model, **rule):
    def build(lib):
        u, a, b = model.ensembles(lib)
        conn = lib.Connection(a, b, solver=model.solver(lib, 0),
                              learning_rule_type=rules(lib).PES(**rule))
        err = lib.Node(size_in=model.dims)
        lib.Connection(u, err, transform=-1, synapse=None)
        lib.Connection(b.neurons, err, transform=model.dec[1].T, synapse=None)
        lib.Connection(err, conn.learning_rule)
        return {"weights": lib.Probe(conn, "weights"),
                "delta": lib.Probe(conn.learning_rule, "delta"),
                "error": lib.Probe(conn.learning_rule, "error"),
                "activities": lib.Probe(conn.learning_rule, "activities"),
                "b": lib.Probe(b.neurons)}
    return build


@pytest.mark.parametrize("rate, synapse, dims", [
    (1e-3, lambda lib: lib.Lowpass(0.005), 1),
    (5e-4, lambda lib: None, 1),
    (1e-3, lambda lib: lib.Alpha(0.01), 2)])
def test_pes_decoded_matches_nengo(rate, synapse, dims):
    model = Model(dims=dims)

    def build(lib):
        return pes_decoded(model, learning_rate=rate, pre_synapse=synapse(lib))(lib)
    ref, got = run_both(build)
    assert np.abs(ref["delta"]).max() > 0  # it learned
    assert_close(ref, got)


def test_pes_into_neurons_and_from_neurons_matches_nengo():
    """Into neurons the error is projected through the post's scaled encoders; from
    neurons the transform is the weight matrix."""
    model = Model(dims=2)

    def build(lib):
        u, a, b = model.ensembles(lib)
        into = lib.Connection(a, b.neurons[2:9], solver=model.solver(lib, 0),
                              transform=model.enc[1][2:9] * 0.5,
                              learning_rule_type=rules(lib).PES(2e-3))
        out = lib.Connection(a.neurons, b, transform=model.dec[0].T,
                             learning_rule_type=rules(lib).PES(1e-3))
        lib.Connection(u, into.learning_rule, transform=-1)
        lib.Connection(u, out.learning_rule, transform=0.5)
        return {"into": lib.Probe(into, "weights"), "from": lib.Probe(out, "weights"),
                "b": lib.Probe(b.neurons)}
    ref, got = run_both(build)
    assert_close(ref, got)


def test_rls_matches_nengo():
    model = Model(dims=1)

    def build(lib):
        u, a, _ = model.ensembles(lib)
        y = lib.Node(size_in=1)
        conn = lib.Connection(a, y, solver=model.solver(lib, 0), synapse=None,
                              learning_rule_type=rules(lib).RLS(learning_rate=1e-3))
        err = lib.Node(size_in=1)
        lib.Connection(u, err, transform=-1, synapse=None)
        lib.Connection(y, err, synapse=None)
        lib.Connection(err, conn.learning_rule, synapse=0.005)
        return {"y": lib.Probe(y), "weights": lib.Probe(conn, "weights"),
                "delta": lib.Probe(conn.learning_rule, "delta"),
                "inv_gamma": lib.Probe(conn.learning_rule, "inv_gamma", sample_every=0.01),
                "pre": lib.Probe(conn.learning_rule, "pre_filtered")}
    ref, got = run_both(build)
    assert_close(ref, got, rtol=2e-4)
    assert np.abs(got["weights"][-1] - got["weights"][0]).max() > 1e-4  # it learned


@pytest.mark.parametrize("name", ["BCM", "Oja"])
def test_hebbian_rules_match_nengo(name):
    model = Model()
    rule = {"BCM": {"learning_rate": 1e-8, "theta_synapse": 0.05},
            "Oja": {"learning_rate": 1e-5, "beta": 0.5, "post_synapse": 0.01}}[name]

    def build(lib):
        _, a, b = model.ensembles(lib)
        conn = lib.Connection(a.neurons, b.neurons, transform=model.w,
                              learning_rule_type=getattr(rules(lib), name)(**rule))
        probes = {"weights": lib.Probe(conn, "weights"), "b": lib.Probe(b.neurons),
                  **{attr: lib.Probe(conn.learning_rule, attr)
                     for attr in conn.learning_rule.probeable}}
        return probes
    ref, got = run_both(build)
    assert np.abs(ref["weights"][-1] - model.w).max() > 1e-3 * np.abs(model.w).max()
    assert_close(ref, got)


@pytest.mark.parametrize("radius", [1.0, 2.5])
def test_voja_matches_nengo(radius):
    """Encoders move towards the input where the post neurons fire; the learning
    signal (1 + what is connected into the rule) switches it off half way."""
    model = Model(dims=2)

    def build(lib):
        u, _, b = model.ensembles(lib, radius)
        conn = lib.Connection(u, b, learning_rule_type=rules(lib).Voja(learning_rate=0.5))
        off = lib.Node(lambda t: -1.0 if t > 0.2 else 0.0)
        lib.Connection(off, conn.learning_rule, synapse=None)
        return {"enc": lib.Probe(conn.learning_rule, "scaled_encoders"),
                "delta": lib.Probe(conn.learning_rule, "delta"),
                "post": lib.Probe(conn.learning_rule, "post_filtered"),
                "b": lib.Probe(b.neurons)}
    ref, got = run_both(build)
    assert np.abs(ref["enc"][-1] - ref["enc"][0]).max() > 0.1
    assert np.array_equal(got["enc"][-1], got["enc"][205])  # off after 0.2 s
    assert_close(ref, got)


def test_two_rules_on_one_connection_match_nengo():
    """A list of rules: PES on the decoders and Voja on the post's encoders."""
    model = Model(dims=2)

    def build(lib):
        u, a, b = model.ensembles(lib)
        r = rules(lib)
        conn = lib.Connection(a, b, solver=model.solver(lib, 0),
                              learning_rule_type=[r.PES(1e-3), r.Voja(0.2)])
        lib.Connection(u, conn.learning_rule[0], transform=-1)
        lib.Connection(u[1], conn.learning_rule[0][0], transform=0.5)  # part of the error
        return {"w": lib.Probe(conn, "weights"),
                "enc": lib.Probe(conn.learning_rule[1], "scaled_encoders")}
    ref, got = run_both(build)
    assert_close(ref, got)


# ------------------------------------------------------------------ kernels, any shapes
@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 3), st.integers(0, 2**31))
def test_kernels_follow_nengos_operators(n_out, n_in, batch, seed):
    """Each kernel against the numpy of Nengo's Sim* operator, example by example."""
    from snngraph.runtimes.numba_cpu import learning as k

    rng = np.random.default_rng(seed)
    f = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    pre, post, theta, w = f(batch, n_in), f(batch, n_out), f(batch, n_out), f(batch, n_out, n_in)
    err, delta = f(batch, n_out), np.zeros((batch, n_out, n_in), np.float32)
    k.pes(pre, err, np.zeros((0, 0), np.float32), np.float32(-0.1), delta)
    np.testing.assert_allclose(delta, -0.1 * err[:, :, None] * pre[:, None], rtol=1e-5)
    k.bcm(pre, post, theta, np.float32(0.2), delta)
    np.testing.assert_allclose(delta, (0.2 * post * (post - theta))[:, :, None] * pre[:, None],
                               rtol=1e-5, atol=1e-6)
    k.oja(pre, post, w, np.float32(0.3), np.float32(0.7), delta)
    expect = -0.7 * w * (0.3 * post**2)[:, :, None] + (0.3 * post)[:, :, None] * pre[:, None]
    np.testing.assert_allclose(delta, expect, rtol=1e-4, atol=1e-5)
    P = np.stack([np.eye(n_in) * 0.5] * batch)
    P0 = P.copy()
    k.rls(pre, err, P, delta, np.zeros(n_in))
    for b in range(batch):
        Pr = P0[b] @ pre[b]
        scale = 1 / (1 + pre[b] @ Pr)
        np.testing.assert_allclose(P[b], P0[b] - np.outer(Pr, Pr) * scale, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(delta[b], err[b][:, None] * (-scale * Pr)[None],
                                   rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ the classic model
def channel(lib):
    """Nengo's "learning a communication channel" example, written for ``lib``."""
    with (nengo.Network(seed=0) if lib is nengo else sg.Network(seed=0)) as net:
        u = lib.Node(lambda t: np.sin(2 * np.pi * t))
        pre, post = lib.Ensemble(60, 1), lib.Ensemble(60, 1)
        lib.Connection(u, pre)
        conn = lib.Connection(pre, post, function=lambda x: [0.0],
                              learning_rule_type=rules(lib).PES())
        error = lib.Node(size_in=1)
        lib.Connection(post, error)
        lib.Connection(pre, error, transform=-1)
        lib.Connection(error, conn.learning_rule)
        probe = lib.Probe(error, synapse=0.03)
    return net, probe


def test_pes_learns_a_communication_channel():
    """Decoders start at zero; the error (post - pre) falls as PES runs, to about where
    Nengo's falls (the ensembles differ: each library draws its own)."""
    net, probe = channel(sg)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run(2.0)
        e = np.abs(sim.data[probe][0, :, 0])
    net, probe = channel(nengo)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run(2.0)
        ref = np.abs(sim.data[probe][:, 0])
    assert e[1500:].mean() < 0.4 * e[100:500].mean()
    assert e[1500:].mean() < 1.25 * ref[1500:].mean()


def test_weights_probe_changes_and_each_example_learns_alone():
    """Learned weights are per example: a minibatch gives each example what it gets
    alone, and a reset restores the weights before learning."""
    with sg.Network(seed=2) as net:
        x = sg.Node(np.zeros(1))
        a = sg.Ensemble(30, 1)
        y = sg.Node(size_in=1)
        sg.Connection(x, a)
        conn = sg.Connection(a, y, learning_rule_type=sg.learning_rules.PES(1e-3))
        sg.Connection(x, conn.learning_rule)
        p = sg.Probe(conn, "weights")
    data = np.array([[0.5], [-0.5], [0.0]])
    with sg.Simulator(net, minibatch_size=3, progress_bar=False) as sim:
        together = sim.predict(data, n_steps=50)[p]
        alone = np.concatenate([sim.predict(data[i:i + 1], n_steps=50)[p] for i in range(3)])
        sim.run_steps(50, data=data)
        w = sim.data[p]
        sim.reset()
        sim.run_steps(1, data=data)
        first = sim.data[p]
    np.testing.assert_array_equal(together, alone)
    assert np.abs(w[0, -1] - w[0, 0]).max() > 0 and np.array_equal(w[2, -1], w[2, 0])
    np.testing.assert_array_equal(first[:, 0], w[:, 0])


# ------------------------------------------------------------------ the IR and other runtimes
def small_net(rule=None):
    with sg.Network(seed=0) as net:
        a, b = sg.Ensemble(10, 1, label="a"), sg.Ensemble(10, 1, label="b")
        conn = sg.Connection(a, b, label="ab",
                             learning_rule_type=rule or sg.learning_rules.PES(2e-4))
        sg.Probe(b)
    return net, conn


def test_dump_shows_the_rule_and_its_rate():
    text = str(sg.compile(small_net()[0]))
    assert "learn(" in text and "PES(learning_rate=0.0002" in text
    assert "modifies=decoders of %ab.w" in text and "pre=%ab.pre_filtered" in text


def test_the_rate_runtime_refuses_a_learning_rule():
    """(The Loihi target runs PES on the host: tests/test_loihi_learning.py.)"""
    with pytest.raises(CompileError, match=r"(?s)learn.*PES.*ab.*numba runtime"):
        sg.Simulator(small_net()[0], backend="rate", progress_bar=False)


def test_training_through_time_refuses_a_learning_rule():
    with sg.Network(seed=0) as net:
        x = sg.Node(np.zeros(3))
        leaky = sg.Leaky(0.9, surrogate=sg.surrogates.FastSigmoid(25))
        a, b = sg.Ensemble(3, 1, neuron_type=leaky), sg.Ensemble(2, 1, neuron_type=leaky)
        sg.Connection(x, a.neurons, synapse=None)
        conn = sg.Connection(a.neurons, b.neurons, transform=np.ones((2, 3)), synapse=None,
                             learning_rule_type=sg.learning_rules.PES(pre_synapse=None))
        sg.Connection(x[0], conn.learning_rule, synapse=None)
        probe = sg.Probe(b.neurons)
    with sg.Simulator(net, progress_bar=False) as sim:
        with pytest.raises(CompileError, match=r"(?s)learn.*training through time"):
            sim.fit(np.ones((4, 5, 3)), {probe: np.ones((4, 5, 2))}, epochs=1,
                    method="bptt", verbose=0)


def test_learning_ops_survive_optimize_without_probes_of_their_connection():
    net, _ = small_net()
    ir = sg.compile(net).ir
    assert [op.op for op in ir.ops()].count("learn") == 1


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("make, match", [
    (lambda a, b, n: sg.Connection(n, b, learning_rule_type=sg.learning_rules.PES()),
     r"learning_rule_type.*PES needs 'pre' to be an Ensemble or ens.neurons.*Node"),
    (lambda a, b, n: sg.Connection(a, b, learning_rule_type=sg.learning_rules.BCM()),
     r"learning_rule_type.*BCM needs a neuron-to-neuron weight matrix"),
    (lambda a, b, n: sg.Connection(a.neurons, b.neurons[:3], transform=np.ones((3, 9)),
                                   learning_rule_type=sg.learning_rules.Oja()),
     r"learning_rule_type.*Oja needs a neuron-to-neuron weight matrix.*unsliced"),
    (lambda a, b, n: sg.Connection(a, n, learning_rule_type=sg.learning_rules.Voja()),
     r"learning_rule_type.*Voja needs 'post' to be an Ensemble.*Node"),
    (lambda a, b, n: sg.Connection(a, b.neurons, transform=np.ones((7, 1)),
                                   learning_rule_type=sg.learning_rules.Voja()),
     r"learning_rule_type.*Voja cannot learn encoders on a connection into ens.neurons"),
    (lambda a, b, n: sg.Connection(a.neurons, a.neurons,
                                   learning_rule_type=sg.learning_rules.PES()),
     r"learning_rule_type.*PES needs a 2-D transform"),
    (lambda a, b, n: sg.Connection(a, b, learning_rule_type=sg.learning_rules.PES(-1.0)),
     r"learning_rate.*greater than or equal to 0"),
    (lambda a, b, n: sg.Connection(a, b, learning_rule_type="PES"),
     r"learning_rule_type"),
    (lambda a, b, n: sg.Connection(a, b.neurons, transform=np.ones((7, 1)),
                                   learning_rule_type=sg.learning_rules.RLS()),
     r"learning_rule_type.*RLS cannot learn a connection into ens.neurons"),
    (lambda a, b, n: sg.Probe(sg.Connection(a, b, learning_rule_type=sg.learning_rules.PES()
                                            ).learning_rule, "theta"),
     r"attr.*expected one of error, activities, delta"),
])
def test_bad_learning_inputs_name_the_field_and_value(make, match):
    with sg.Network():
        a, b, n = sg.Ensemble(9, 1), sg.Ensemble(7, 1), sg.Node(size_in=1)
        with pytest.raises(ValidationError, match=match):
            make(a, b, n)


def test_assigning_a_rule_is_checked_and_leaves_the_connection_as_it_was():
    with sg.Network():
        n, b = sg.Node(size_in=1), sg.Ensemble(7, 1)
        conn = sg.Connection(n, b)
        with pytest.raises(ValidationError, match="learning_rule_type.*PES needs 'pre'"):
            conn.learning_rule_type = sg.learning_rules.PES()
        assert conn.learning_rule_type is None and conn.learning_rule is None


def test_nothing_connects_from_a_learning_rule_and_bcm_takes_no_error():
    with sg.Network():
        a, b = sg.Ensemble(9, 1), sg.Ensemble(7, 1)
        conn = sg.Connection(a.neurons, b.neurons, transform=np.zeros((7, 9)),
                             learning_rule_type=sg.learning_rules.BCM())
        with pytest.raises(ValidationError, match="pre"):
            sg.Connection(conn.learning_rule, b)
        with pytest.raises(ValidationError, match="post.*takes input"):
            sg.Connection(a, conn.learning_rule)


def test_rule_defaults_are_nengos():
    r = sg.learning_rules
    for ours, theirs in [(r.PES(), nengo.PES()), (r.RLS(), nengo.RLS()), (r.BCM(), nengo.BCM()),
                         (r.Oja(), nengo.Oja()), (r.Voja(), nengo.Voja())]:
        assert ours.learning_rate == theirs.learning_rate
        for field in ("pre_synapse", "post_synapse", "theta_synapse"):
            if hasattr(theirs, field):
                assert getattr(ours, field).tau == getattr(theirs, field).tau
        assert ours.probeable == theirs.probeable
    assert r.BCM(pre_synapse=0.01).post_synapse == sg.Lowpass(0.01)
    assert r.Oja(post_synapse=None).post_synapse is None


# ------------------------------------------------------------------ documents
def test_learning_rules_round_trip_through_a_document(tmp_path):
    with sg.Network(seed=0) as net:
        a, b = sg.Ensemble(10, 1, label="a"), sg.Ensemble(12, 1, label="b")
        conn = sg.Connection(a, b, label="ab", learning_rule_type={
            "pes": sg.learning_rules.PES(3e-4, pre_synapse=None),
            "voja": sg.learning_rules.Voja(post_synapse=sg.Alpha(0.01))})
        c2 = sg.Connection(a.neurons, b.neurons, transform=np.zeros((12, 10)),
                           learning_rule_type=[sg.learning_rules.Oja(beta=2.0)])
        sg.Connection(a, conn.learning_rule["pes"])
        sg.Probe(conn.learning_rule["voja"], "scaled_encoders", label="enc")
        sg.Probe(c2.learning_rule[0], "delta", label="delta")
    path = sg.save(net, tmp_path / "net.json")
    back = sg.load(path)
    conns = back.all_connections
    assert conns[0].learning_rule_type == conn.learning_rule_type
    assert conns[1].learning_rule_type == c2.learning_rule_type
    assert conns[2].post == conns[0].learning_rule["pes"]
    assert back.all_probes[0].target == conns[0].learning_rule["voja"]
    assert str(sg.compile(back)) .replace(str(path), "") .count("learn(") == 3
