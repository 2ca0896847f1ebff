"""Convolution transforms against Nengo 4.1: 1-D and 2-D convolutions (and transposed
convolutions) give Nengo's outputs in the numba runtime; shapes, bad inputs, documents."""

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import ValidationError

nengo = pytest.importorskip("nengo")


def run_both(make_nengo, make_sg, x):
    """One step of ``x -> transform -> node`` in Nengo and in snngraph (numba)."""
    tn = make_nengo()
    with nengo.Network() as net:
        a = nengo.Node(x)
        b = nengo.Node(size_in=tn.size_out)
        nengo.Connection(a, b, transform=tn, synapse=None)
        p = nengo.Probe(b)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(1)
    ts = make_sg()
    with sg.Network(seed=0) as snet:
        a = sg.Node(x)
        b = sg.Node(size_in=int(np.prod(ts.shape_out)))
        sg.Connection(a, b, transform=ts, synapse=None)
        q = sg.Probe(b)
    with sg.Simulator(snet, progress_bar=False) as ssim:
        ssim.run_steps(1)
        return sim.data[p][-1], ssim.data[q][0, -1]


def kernel_for(cls, kw, in_shape, seed=1):
    return getattr(nengo, cls)(input_shape=in_shape, **kw).sample(
        rng=np.random.RandomState(seed))


CONV_CASES = [(dims, cl, pad, st) for dims in (1, 2) for cl in (True, False)
              for pad in ("valid", "same") for st in (1, 2)]


@pytest.mark.parametrize("dims,channels_last,padding,stride", CONV_CASES)
def test_convolution_matches_nengo(dims, channels_last, padding, stride):
    spatial = (9,) if dims == 1 else (7, 6)
    in_shape = (*spatial, 2) if channels_last else (2, *spatial)
    kw = dict(n_filters=3, kernel_size=(3,) * dims, strides=(stride,) + (1,) * (dims - 1),
              padding=padding, channels_last=channels_last)
    kernel = kernel_for("Convolution", kw, in_shape)
    x = np.random.RandomState(0).uniform(-1, 1, int(np.prod(in_shape)))
    theirs, ours = run_both(lambda: nengo.Convolution(input_shape=in_shape, init=kernel, **kw),
                            lambda: sg.Convolution(input_shape=in_shape, init=kernel, **kw), x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert sg.Convolution(input_shape=in_shape, **kw).shape_out == \
        nengo.Convolution(input_shape=in_shape, **kw).output_shape.shape


def test_one_dimensional_convolution_shapes_and_int_sizes():
    t = sg.Convolution(4, (20, 3), kernel_size=5, strides=2)
    assert t.kernel_size == (5,) and t.strides == (2,) and t.dimensions == 1
    assert t.kernel_shape == (5, 3, 4) and t.shape_out == (8, 4)
    assert sg.Convolution(4, (3, 20), kernel_size=5, channels_last=False).shape_out == (4, 16)


@pytest.mark.parametrize("make,field", [
    (lambda: sg.Convolution(2, (10, 3)), "kernel_size"),  # (3, 3) on a 1-D signal
    (lambda: sg.Convolution(2, (10, 3), kernel_size=(3,), strides=(1, 1)), "strides"),
    (lambda: sg.Convolution(2, (10, 3), kernel_size=(11,)), "kernel_size"),
    (lambda: sg.Convolution(2, (10, 3), kernel_size=(3,), init=np.ones((3, 3, 3, 2))),
     "init"),
])
def test_bad_convolutions_name_the_field(make, field):
    with pytest.raises(ValidationError, match=field):
        make()


def test_one_dimensional_convolution_round_trips(tmp_path):
    with sg.Network(seed=0) as net:
        a = sg.Node(np.ones(20))
        t = sg.Convolution(2, (10, 2), kernel_size=(3,), padding="same")
        b = sg.Node(size_in=20)
        sg.Connection(a, b, transform=t, synapse=None)
    loaded = sg.load(sg.save(net, tmp_path / "net.json"))
    assert loaded.all_connections[0].transform == t
    p0, p1 = sg.compile(net), sg.compile(loaded)
    assert all(np.array_equal(p0.params[k], p1.params[k]) for k in p0.params)


# ------------------------------------------------------------------ ConvolutionTranspose
TRANSPOSE_CASES = [(dims, cl, pad, st) for dims in (1, 2) for cl in (True, False)
                   for pad in ("valid", "same") for st in (1, 2)]


@pytest.mark.parametrize("dims,channels_last,padding,stride", TRANSPOSE_CASES)
def test_convolution_transpose_matches_nengo(dims, channels_last, padding, stride):
    spatial = (6,) if dims == 1 else (4, 5)
    in_shape = (*spatial, 2) if channels_last else (2, *spatial)
    kw = dict(n_filters=3, kernel_size=(3,) * dims, strides=(stride,) * dims,
              padding=padding, channels_last=channels_last)
    kernel = kernel_for("ConvolutionTranspose", kw, in_shape)
    x = np.random.RandomState(0).uniform(-1, 1, int(np.prod(in_shape)))
    x[::3] = 0.0  # silent inputs: the numba kernel skips them
    theirs, ours = run_both(
        lambda: nengo.ConvolutionTranspose(input_shape=in_shape, init=kernel, **kw),
        lambda: sg.ConvolutionTranspose(input_shape=in_shape, init=kernel, **kw), x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert sg.ConvolutionTranspose(input_shape=in_shape, **kw).shape_out == \
        nengo.ConvolutionTranspose(input_shape=in_shape, **kw).output_shape.shape


def test_convolution_transpose_with_a_chosen_output_shape():
    kw = dict(n_filters=2, kernel_size=(3, 3), strides=(2, 2), padding="same")
    kernel = kernel_for("ConvolutionTranspose", dict(kw, output_shape=(8, 7, 2)), (4, 4, 3))
    x = np.random.RandomState(3).uniform(-1, 1, 48)
    theirs, ours = run_both(
        lambda: nengo.ConvolutionTranspose(input_shape=(4, 4, 3), output_shape=(8, 7, 2),
                                           init=kernel, **kw),
        lambda: sg.ConvolutionTranspose(input_shape=(4, 4, 3), output_shape=(8, 7, 2),
                                        init=kernel, **kw), x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make,field", [
    (lambda: sg.ConvolutionTranspose(2, (4, 4, 3), output_shape=(9, 9, 2)), "output_shape"),
    (lambda: sg.ConvolutionTranspose(2, (4, 4, 3), output_shape=(6, 6, 3)), "output_shape"),
    (lambda: sg.ConvolutionTranspose(2, (4, 4, 3), output_shape=(6, 2)), "output_shape"),
    (lambda: sg.ConvolutionTranspose(2, (4, 3), kernel_size=(3, 3)), "kernel_size"),
    (lambda: sg.ConvolutionTranspose(2, (4, 4, 3), init=np.ones((3, 3, 2, 2))), "init"),
])
def test_bad_convolution_transposes_name_the_field(make, field):
    with pytest.raises(ValidationError, match=field):
        make()


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("padding,stride", [("valid", 1), ("same", 2)])
def test_convolution_transpose_rate_gradients(channels_last, padding, stride):
    """The rate rule's kernel, bias and input gradients (through a trainable dense layer in
    front) against finite differences; its value against the reference oracle."""
    from snngraph.runtimes.reference import evaluate
    from test_rate_gradients import Model64, check_grads, f32

    shape = (3, 4, 2) if channels_last else (2, 3, 4)
    rng = np.random.default_rng(0)
    t = sg.ConvolutionTranspose(3, shape, kernel_size=(3, 2), strides=stride, padding=padding,
                                channels_last=channels_last,
                                init=rng.standard_normal((3, 2, 2, 3)),
                                bias=rng.standard_normal(3))
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(5), label="inp")
        mid = sg.Node(size_in=24, label="mid")
        out = sg.Node(size_in=int(np.prod(t.shape_out)), label="out")
        sg.Connection(inp, mid, transform=sg.Dense((24, 5), init=sg.dists.Gaussian(0, 1)),
                      synapse=None)
        sg.Connection(mid, out, transform=t, synapse=None)
        sg.Probe(out, label="p")
    program = sg.compile(net, target="rate")
    model = Model64(program)
    x = f32(rng.standard_normal((2, 5)))
    values, _ = model.forward({"%inp": x}, ["%p"], 2)
    expected = evaluate(program.ir, {"%inp": x}, batch=2)["%p"]
    np.testing.assert_allclose(values["%p"], expected, rtol=1e-9, atol=1e-9)
    grads = check_grads(model, {"%inp": x}, "%p", 2, h=1.0, tol=1e-6)
    (op,) = [o for o in program.ir.ops() if o.op == "conv_transpose2d"]
    assert {op.kernel, op.bias} <= set(grads) and len(grads) == 3  # and the dense layer's


def test_convolution_transpose_round_trips_and_prints(tmp_path):
    with sg.Network(seed=0) as net:
        a = sg.Node(np.ones(12))
        t = sg.ConvolutionTranspose(2, (6, 2), kernel_size=(3,), strides=(2,))
        b = sg.Node(size_in=int(np.prod(t.shape_out)))
        sg.Connection(a, b, transform=t, synapse=None)
        sg.Probe(b)
    loaded = sg.load(sg.save(net, tmp_path / "net.json"))
    assert loaded.all_connections[0].transform == t
    p0, p1 = sg.compile(net), sg.compile(loaded)
    assert all(np.array_equal(p0.params[k], p1.params[k]) for k in p0.params)
    assert "conv_transpose2d" in str(p0) and "transpose k=1x3" in str(p0)


# ------------------------------------------------------------------ Sparse
@pytest.mark.parametrize("init", ["values", "scalar", "dist"])
def test_sparse_matches_nengo(init):
    """Nengo's ``Sparse(shape, indices=..., init=...)`` (a ``SparseMatrix``): repeated
    index pairs add up, a scalar is every entry, a Distribution draws one per entry."""
    idx = np.array([[0, 1], [2, 3], [1, 0], [2, 3]])
    value = {"values": np.array([1.5, -2.0, 0.5, 1.0]), "scalar": 0.7,
             "dist": None}[init]
    if value is None:  # the same draws: Uniform samples one value per index pair
        value = nengo.dists.Uniform(-1, 1).sample(4, rng=np.random.RandomState(2))
    x = np.array([1.0, 2.0, 3.0, 4.0])
    theirs, ours = run_both(lambda: nengo.Sparse((3, 4), indices=idx, init=value),
                            lambda: sg.Sparse((3, 4), idx, value), x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
