"""Decoder solvers against Nengo 4.1's own solvers, NNLS against SciPy's, and full weight
matrices (``weights=True``) against the weights Nengo's builder makes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snngraph.compiler.lower import lower

import snngraph as sg
from snngraph.errors import CompileError, ValidationError
from snngraph.nnls import nnls

nengo = pytest.importorskip("nengo")


def activities(m=120, n=30, seed=0):
    """LIF-like rates of n neurons at m points on [-1, 1], and targets x and x^2."""
    rng = np.random.RandomState(seed)
    x = np.linspace(-1, 1, m)[:, None]
    enc = rng.choice([-1.0, 1.0], size=n)
    J = rng.uniform(0.5, 3, n) * (x * enc) + rng.uniform(0.5, 2, n)
    return np.where(J > 1, 1 / (0.002 - 0.02 * np.log1p(-1 / np.maximum(J, 1 + 1e-12))), 0.0), \
        np.hstack([x, x**2])


PAIRS = [
    (lambda n: n.Lstsq(), sg.Lstsq()),
    (lambda n: n.Lstsq(rcond=0.1), sg.Lstsq(0.1)),
    (lambda n: n.LstsqL2(), sg.LstsqL2()),
    (lambda n: n.LstsqL2(reg=0.01), sg.LstsqL2(reg=0.01)),
    (lambda n: n.LstsqL2nz(reg=0.05), sg.LstsqL2nz(reg=0.05)),
    (lambda n: n.LstsqNoise(noise=0.2), sg.LstsqNoise(noise=0.2)),
    (lambda n: n.LstsqMultNoise(noise=0.2), sg.LstsqMultNoise(noise=0.2)),
    (lambda n: n.LstsqDrop(drop=0.5), sg.LstsqDrop(drop=0.5)),
    (lambda n: n.LstsqDrop(solver1=n.Nnls(), solver2=n.Lstsq()),
     sg.LstsqDrop(solver1=sg.Nnls(), solver2=sg.Lstsq())),
    (lambda n: n.Nnls(), sg.Nnls()),
    (lambda n: n.NnlsL2(reg=0.02), sg.NnlsL2(reg=0.02)),
    (lambda n: n.NnlsL2nz(), sg.NnlsL2nz()),
    (lambda n: n.NoSolver(np.arange(60.0).reshape(30, 2)), sg.NoSolver(np.arange(60.0)
                                                                       .reshape(30, 2))),
    (lambda n: n.NoSolver(), sg.NoSolver()),
]


@pytest.mark.parametrize("pair", PAIRS, ids=[repr(p[1]) for p in PAIRS])
@pytest.mark.parametrize("wide", [False, True], ids=["tall", "wide"])
def test_solvers_match_nengo(pair, wide):
    make_nengo, ours = pair
    if wide and isinstance(ours, sg.LstsqNoise):
        pytest.skip("Nengo 4.1's Cholesky fails on wide systems with sigma=0 (int.size)")
    A, Y = activities(m=20 if wide else 120)
    theirs = make_nengo(nengo.solvers)
    X0, info0 = theirs(A, Y, rng=np.random.RandomState(5))
    # the same RandomState stream gives the noisy solvers the same noise
    X1, info1 = ours.solve_info(A, Y, rng=np.random.RandomState(5))
    np.testing.assert_allclose(X1, X0, rtol=1e-7, atol=1e-9 * np.abs(X0).max())
    assert info1.keys() >= info0.keys() - {"time"}
    if "rmses" in info0:
        np.testing.assert_allclose(info1["rmses"], info0["rmses"], rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(ours.solve(A, Y, np.random.RandomState(5)), X1)


def test_one_dimensional_targets_give_one_dimensional_decoders():
    A, Y = activities()
    X, info = sg.LstsqL2().solve_info(A, Y[:, 1])
    assert X.shape == (30,) and info["rmses"].shape == (1,)
    np.testing.assert_allclose(X, sg.LstsqL2().solve(A, Y)[:, 1])


def test_noisy_solvers_draw_from_the_rng_they_are_given():
    A, Y = activities()
    a = sg.LstsqNoise().solve(A, Y, np.random.default_rng(1))
    b = sg.LstsqNoise().solve(A, Y, np.random.default_rng(1))
    c = sg.LstsqNoise().solve(A, Y, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 25), st.integers(1, 25), st.integers(0, 2**31 - 1),
       st.sampled_from(["normal", "nonneg"]))
def test_nnls_matches_scipy(m, n, seed, kind):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    A = np.maximum(A, 0) if kind == "nonneg" else A
    b = rng.normal(size=m)
    x, r = nnls(A, b)
    xs, rs = scipy_optimize.nnls(A, b)
    assert (x >= 0).all()
    assert r == pytest.approx(rs, rel=1e-8, abs=1e-10)
    if m >= n and np.linalg.matrix_rank(A) == n:  # a unique solution
        np.testing.assert_allclose(x, xs, atol=1e-8 * max(1.0, np.abs(xs).max()))


def test_nnls_bad_shapes():
    with pytest.raises(ValueError, match="expected A"):
        nnls(np.ones((3, 2)), np.ones(2))


# ---------------------------------------------------------------- in networks
def nengo_pair(solver, transform, seed=1):
    """A Nengo a -> b connection computing x^2 (built), and the same in snngraph with
    Nengo's encoders, gains, biases and eval points."""
    with nengo.Network(seed=seed) as net:
        a = nengo.Ensemble(40, 2)
        b = nengo.Ensemble(30, 2, intercepts=nengo.dists.Uniform(0, 0.9))
        c = nengo.Connection(a, b, solver=solver, transform=transform, function=np.square)
    with nengo.Simulator(net, progress_bar=False) as sim:
        built = sim.data[a], sim.data[b], sim.data[c]
    return built


def sg_pair(built, solver, transform):
    da, db, dc = built
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(40, 2, encoders=da.encoders, gain=da.gain, bias=da.bias)
        b = sg.Ensemble(30, 2, encoders=db.encoders, gain=db.gain, bias=db.bias)
        c = sg.Connection(a, b, solver=solver, eval_points=dc.eval_points, function=np.square,
                          transform=transform)
    return net, c


WEIGHT_SOLVERS = ["LstsqL2", "Lstsq", "LstsqL2nz", "LstsqDrop", "Nnls", "NnlsL2", "NnlsL2nz"]


@pytest.mark.parametrize("name", WEIGHT_SOLVERS)
def test_full_weights_match_nengo(name):
    transform = np.array([[0.5, 1.0], [-1.0, 0.3]])
    built = nengo_pair(getattr(nengo.solvers, name)(weights=True), transform)
    net, conn = sg_pair(built, getattr(sg, name)(weights=True), transform)
    ir = lower(net)
    ours = ir.built[id(conn)]
    np.testing.assert_allclose(ours["weights"], built[2].weights, rtol=1e-9,
                               atol=1e-11 * np.abs(built[2].weights).max())
    np.testing.assert_allclose(ours["solver_info"]["rmses"], built[2].solver_info["rmses"],
                               rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(ours["eval_points"], built[2].eval_points)
    # the op carries Nengo's weights over the post gains: the post neurons multiply by it
    op = ir.op(ir.objects[id(conn)])
    gain = built[1].gain[:, None]
    np.testing.assert_allclose(ir.params[op.weights] * gain, ours["weights"], rtol=1e-12,
                               atol=1e-14 * np.abs(built[2].weights).max())


def test_full_weights_decode_in_the_numba_runtime():
    """x -> a -(weights=True, x^2)-> b: b's decoded value follows Nengo's."""
    with nengo.Network(seed=3) as net:
        stim = nengo.Node(0.5)
        a, b = nengo.Ensemble(60, 1), nengo.Ensemble(50, 1)
        nengo.Connection(stim, a, synapse=None)
        c = nengo.Connection(a, b, solver=nengo.solvers.LstsqL2(weights=True),
                             function=np.square)
        p = nengo.Probe(b, synapse=0.02)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run(0.3)
    da, db, dc = sim.data[a], sim.data[b], sim.data[c]
    with sg.Network(seed=0) as snet:
        s = sg.Node([0.5])
        A = sg.Ensemble(60, 1, encoders=da.encoders, gain=da.gain, bias=da.bias)
        B = sg.Ensemble(50, 1, encoders=db.encoders, gain=db.gain, bias=db.bias)
        sg.Connection(s, A, synapse=None)
        sg.Connection(A, B, solver=sg.LstsqL2(weights=True), function=np.square,
                      eval_points=dc.eval_points)
        probe = sg.Probe(B, synapse=0.02)
    with sg.Simulator(snet, progress_bar=False) as ssim:
        ssim.run_steps(300)
        ours = ssim.data[probe][0, :, 0]
    assert abs(ours[-100:].mean() - sim.data[p][-100:, 0].mean()) < 0.01
    assert abs(ours[-100:].mean() - 0.25) < 0.03


def test_weights_true_on_a_node_is_refused_for_weight_solvers():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1)
        out = sg.Node(size_in=1)
        sg.Connection(a, out, solver=sg.Nnls(weights=True))
    with pytest.raises(CompileError, match="Nnls.weights=True.*post is"):
        lower(net)


def test_weights_true_on_a_node_is_ignored_for_compositional_solvers():
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(10, 1)
        out = sg.Node(size_in=1)
        c = sg.Connection(a, out, solver=sg.LstsqL2(weights=True), synapse=None)
    ir = lower(net)
    assert ir.op(ir.objects[id(c)]).role == "decoders"
    assert ir.built[id(c)]["decoders"].shape == (10, 1) and "weights" not in ir.built[id(c)]


def test_weights_true_refuses_a_dense_bias():
    with sg.Network(seed=0) as net:
        a, b = sg.Ensemble(10, 1), sg.Ensemble(10, 1)
        sg.Connection(a, b, solver=sg.LstsqL2(weights=True),
                      transform=sg.Dense((1, 1), init=2.0, bias=True))
    with pytest.raises(CompileError, match="Dense bias"):
        lower(net)


def test_bad_solver_arguments():
    with pytest.raises(ValidationError, match="drop"):
        sg.LstsqDrop(drop=1.5)
    with pytest.raises(ValidationError, match="reg"):
        sg.LstsqL2(reg=-1.0)
    with pytest.raises(ValidationError, match="values"):
        sg.NoSolver(np.ones(3))
    with pytest.raises(ValidationError, match="weights"):
        sg.Nnls(weights=1.0)
    with pytest.raises(ValueError, match="as many points"):
        sg.LstsqL2().solve(np.ones((5, 3)), np.ones((4, 1)))


def test_solvers_round_trip_through_documents(tmp_path):
    solvers = [sg.LstsqDrop(0.3, sg.Nnls(), sg.LstsqL2nz(reg=0.2), weights=True),
               sg.LstsqNoise(noise=0.05), sg.LstsqMultNoise(), sg.Lstsq(0.001),
               sg.NnlsL2nz(weights=True), sg.NoSolver(np.ones((10, 1)), weights=True)]
    with sg.Network(seed=0) as net:
        a, b = sg.Ensemble(10, 1), sg.Ensemble(10, 1)
        for solver in solvers:
            sg.Connection(a, b, solver=solver)
    loaded = sg.load(sg.save(net, tmp_path / "net.json"))
    assert [c.solver for c in loaded.all_connections] == solvers
    ir0, ir1 = lower(net), lower(loaded)
    assert all(np.array_equal(ir0.params[k], ir1.params[k]) for k in ir0.params)


@pytest.mark.parametrize("name", ["LstsqL2", "Nnls"])
def test_full_weights_between_slices_match_nengo(name):
    """a[[0, 2]] -> b[1] with a function: eval points span the whole pre ensemble (as in
    Nengo), targets use the slice, encoders the post slice."""
    with nengo.Network(seed=2) as net:
        a, b = nengo.Ensemble(30, 3), nengo.Ensemble(25, 2)
        c = nengo.Connection(a[[0, 2]], b[1], solver=getattr(nengo.solvers, name)(weights=True),
                             function=lambda x: x[0] * x[1], transform=[[1.5]])
    with nengo.Simulator(net, progress_bar=False) as sim:
        da, db, dc = sim.data[a], sim.data[b], sim.data[c]
    with sg.Network(seed=0) as snet:
        A = sg.Ensemble(30, 3, encoders=da.encoders, gain=da.gain, bias=da.bias)
        B = sg.Ensemble(25, 2, encoders=db.encoders, gain=db.gain, bias=db.bias)
        C = sg.Connection(A[[0, 2]], B[1], solver=getattr(sg, name)(weights=True),
                          function=lambda x: x[0] * x[1], transform=[[1.5]],
                          eval_points=dc.eval_points)
    ours = lower(snet).built[id(C)]["weights"]
    np.testing.assert_allclose(ours, dc.weights, rtol=1e-9, atol=1e-11 * np.abs(ours).max())


def test_probing_full_weights_records_the_matrix():
    """``Probe(conn, "weights")`` in the numba runtime: the matrix the post neurons get
    (Nengo's weights over the post gains), every step."""
    with sg.Network(seed=0) as net:
        a, b = sg.Ensemble(20, 1), sg.Ensemble(15, 1)
        conn = sg.Connection(a, b, solver=sg.LstsqL2(weights=True))
        probe = sg.Probe(conn, "weights")
    ir = lower(net)
    expected = ir.params[ir.op(ir.objects[id(conn)]).weights]
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(3)
        recorded = np.asarray(sim.data[probe])
    assert recorded.shape == (1, 3, 15, 20)
    np.testing.assert_allclose(recorded[0, -1], expected, rtol=1e-6)
