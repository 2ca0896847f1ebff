"""Gradients of the rate runtime (snngraph.runtimes.rate) against finite differences.

Every VJP rule (linear, conv2d, pool2d, slice, scatter, sum, neurons, synapse) is checked
through a compiled network: a scalar loss ``L = sum(w_out * y_probe)`` with a fixed random
``w_out``, analytic gradients from ``RateModel.backward`` with ``dy = w_out``, and central
differences of ``L`` for random entries of every trainable parameter. Input gradients
(``dx``) are checked through a trainable layer upstream of the op. The neuron types'
``rate_grad`` and the fused LIF kernel are checked against their closed forms.

Most checks run the model in float64 (``Model64``: parameters and work buffers in float64)
so that differences are exact; a few rules compute in float32 regardless (pooling, slices,
the neurons' input), and the LIF fast kernel is float32 only, so those use tolerances sized
for float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snngraph.compiler.passes.optimize import conv2d_reference
from snngraph.runtimes.numba_cpu import kernels as numba_kernels
from snngraph.runtimes.numba_cpu.backend import jit
from snngraph.runtimes.rate.model import RateModel
from snngraph.runtimes.rate.vjp import RULES
from snngraph.schemas import ir as ops

import snngraph as sg
from snngraph.neurons.lif import lif_curve, soft_lif_table
from snngraph.neurons.loihi import discretize_tau_rc, discretize_tau_ref
from snngraph.transforms import conv_output_size


# --------------------------------------------------------------------------- helpers
class Model64(RateModel):
    """A RateModel whose parameters and float32 work buffers are float64, so that the
    rules' arithmetic (BLAS products, im2col/col2im) is exact enough for differences."""

    def __init__(self, program, trainable=None):
        super().__init__(program, trainable)  # (its float32 copies, replaced here)
        self.params = {k: np.array(program.ir.params[k], np.float64) for k in self.params}

    def buffer(self, tag, shape, dtype=np.float32):
        if np.dtype(dtype) == np.float32:
            dtype = np.float64
        return super().buffer(tag, shape, dtype)


def f32(a):
    """Values exactly representable in float32 (inputs are fed as float32)."""
    return np.asarray(a, np.float32).astype(np.float64)


def compile_rate(net, **kw):
    kw.setdefault("lif_smoothing", 0)
    return sg.compile(net, target="rate", **kw)


def kinds(program):
    return [program.ir.op(n).op for n in program.ir.graph.nodes]


def op_of_kind(program, kind):
    found = [program.ir.op(n) for n in program.ir.graph.nodes if program.ir.op(n).op == kind]
    assert found, f"no {kind} op in\n{program.dump()}"
    return found


def loss_value(model, feeds, probe, w_out, rows):
    values, _ = model.forward(feeds, [probe], rows)
    return float(np.sum(w_out * np.asarray(values[probe], np.float64)))


def analytic(model, feeds, probe, rows, seed=0):
    """``(w_out, y, grads)``: a random cotangent, the probe's value and the gradients."""
    values, tape = model.forward(feeds, [probe], rows)
    y = np.array(values[probe], np.float64)
    w_out = np.random.default_rng(seed).standard_normal(y.shape)
    grads = model.backward(tape, {probe: w_out.astype(y.dtype)})
    return w_out, y, grads


def check_grads(model, feeds, probe, rows, *, h, tol, entries=3, directions=3,
                richardson=False, keys=None, seed=1):
    """Analytic gradients of every trainable parameter (or ``keys``) against central
    differences of ``L``, along ``entries`` single entries and ``directions`` random
    directions (which test every entry at once) per parameter.

    Plain differences compare ``L(p + h d) - L(p - h d)`` with ``<g, delta>``, ``delta``
    the step actually stored (exact for float32 parameters too); ``richardson`` removes
    the O(h^2) error of smooth losses: ``(4 D(h/2) - D(h)) / 3 = <g, d> + O(h^4)``.
    The error must be below ``tol`` times the size of the terms, ``sum |g * delta|``, plus
    the differences' own rounding noise: a loss is rounded by about ``u sum |w_out * y|``
    (u = 2^-24: some rules compute in float32 even in ``Model64``), a plain difference of
    two carries twice that, the Richardson estimate about 3/h times it.
    """
    w_out, y, grads = analytic(model, feeds, probe, rows)
    rounding = 2.0**-24 * float(np.abs(w_out * y).sum())
    noise = 3 * rounding / h if richardson else 2 * rounding
    keys = sorted(grads) if keys is None else keys
    rng = np.random.default_rng(seed)
    for key in keys:
        assert key in grads, f"no gradient for {key} (got {sorted(grads)})"
        p = model.params[key]
        g = np.asarray(grads[key], np.float64)
        assert g.shape == p.shape, key
        steps = []
        for i in rng.choice(p.size, size=min(entries, p.size), replace=False):
            e = np.zeros(p.shape)
            e.flat[i] = 1.0
            steps.append((f"entry {np.unravel_index(i, p.shape)}", e))
        steps += [(f"direction {k}", rng.standard_normal(p.shape)) for k in range(directions)]
        old = p.copy()

        def diff(step, d, p=p, old=old, w_out=w_out):
            p[...] = old + step * d
            up, plus = loss_value(model, feeds, probe, w_out, rows), p.astype(np.float64)
            p[...] = old - step * d
            down, minus = loss_value(model, feeds, probe, w_out, rows), p.astype(np.float64)
            p[...] = old
            return up - down, plus - minus

        for what, d in steps:
            if richardson:
                (d1, _), (d2, _) = diff(h, d), diff(h / 2, d)
                got = (4 * d2 / h - d1 / (2 * h)) / 3
                delta = d
            else:
                got, delta = diff(h, d)
            want = float((g * delta).sum())
            size = float(np.abs(g * delta).sum())
            assert abs(got - want) <= tol * size + noise, (
                f"gradient of {key} along {what}: differences {got:.9g}, analytic "
                f"{want:.9g} (error {abs(got - want) / max(size, 1e-300):.2e} > {tol:g})")
    return grads


def image_shape(h, w, c, channels_last):
    return (h, w, c) if channels_last else (c, h, w)


def to_nhwc(x, shape, channels_last):
    img = x.reshape(len(x), *shape)
    return img if channels_last else img.transpose(0, 2, 3, 1)


def from_nhwc(img, channels_last):
    img = img if channels_last else img.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(img).reshape(len(img), -1)


class FakeCtx:
    """What the rules read from a model, for calling one rule by itself (float64)."""

    def __init__(self, params, rows, dtype=np.float64):
        self.params, self.rows, self.dtype = params, rows, dtype
        self.dt, self.feeds, self.callables, self.ir, self.training = 0.001, {}, {}, None, True

    def param(self, key):
        return self.params[key]

    def buffer(self, tag, shape, dtype=np.float32):
        return np.empty(shape, self.dtype if np.dtype(dtype) == np.float32 else dtype)

    def curve(self, op):  # pragma: no cover - not used by the rules called here
        raise AssertionError("no neuron curves here")


# --------------------------------------------------------------------------- linear
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_linear_dense_weights_and_bias(precision):
    rng = np.random.default_rng(0)
    W1, b1 = 0.4 * rng.standard_normal((4, 5)), 0.1 * rng.standard_normal(4)
    W2, b2 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    gain, bias = rng.uniform(0.5, 1.5, 4), 0.2 * rng.standard_normal(4)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(5), label="inp")
        ens = sg.Ensemble(4, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain, bias=bias,
                          label="ens")
        out = sg.Node(size_in=3, label="out")
        sg.Connection(inp, ens.neurons, transform=sg.Dense((4, 5), init=W1, bias=b1))
        sg.Connection(ens.neurons, out, transform=sg.Dense((3, 4), init=W2, bias=b2))
        sg.Probe(out, label="p")
    program = compile_rate(net)
    linears = op_of_kind(program, "linear")
    assert sorted(op.shape for op in linears) == [(3,), (4,)]
    model = Model64(program) if precision == "float64" else RateModel(program)
    x = f32(rng.standard_normal((3, 5)))
    feeds = {"%inp": x}
    # forward against numpy
    values, _ = model.forward(feeds, ["%p"], 3)
    want = np.tanh(gain * (x @ W1.T + b1) + bias) @ W2.T + b2
    np.testing.assert_allclose(values["%p"], want, rtol=1e-5, atol=1e-6)
    # every trainable parameter of the network gets a gradient
    w_out, _, grads = analytic(model, feeds, "%p", 3)
    assert set(grads) == set(program.ir.owners)
    assert len(grads) == 5  # W1, b1, ens bias, W2, b2
    # closed form of the last layer's gradients
    hidden = np.tanh(gain * (x @ W1.T + b1) + bias)
    key_w2 = next(op.weights for op in linears if op.shape == (3,))
    key_b2 = next(op.bias for op in linears if op.shape == (3,))
    np.testing.assert_allclose(grads[key_w2], w_out.T @ hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[key_b2], w_out.sum(0), rtol=1e-5, atol=1e-6)
    if precision == "float64":
        check_grads(model, feeds, "%p", 3, h=2e-2, tol=1e-4, richardson=True)
    else:
        check_grads(model, feeds, "%p", 3, h=1e-2, tol=1e-2)


@pytest.mark.parametrize("transform", [0.5, np.array([0.3, -1.2, 0.8, 2.0])],
                         ids=["scalar", "diagonal"])
def test_linear_elementwise(transform):
    """A scalar or diagonal transform is a 1-D (elementwise) linear op: its weights'
    gradient is ``sum(dy * x)`` and its input gradient ``dy * w``."""
    rng = np.random.default_rng(1)
    W1, b1 = 0.5 * rng.standard_normal((4, 3)), 0.1 * rng.standard_normal(4)
    gain, bias = rng.uniform(0.5, 1.5, 4), 0.2 * rng.standard_normal(4)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(3), label="inp")
        mid = sg.Node(size_in=4, label="mid")
        ens = sg.Ensemble(4, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain, bias=bias,
                          label="ens")
        sg.Connection(inp, mid, transform=sg.Dense((4, 3), init=W1, bias=b1))
        sg.Connection(mid, ens.neurons, transform=transform)
        sg.Probe(ens.neurons, label="p")
    program = compile_rate(net)
    elementwise = [op for op in op_of_kind(program, "linear")
                   if program.ir.params[op.weights].ndim == 1]
    assert len(elementwise) == 1
    key = elementwise[0].weights
    assert key in program.ir.owners
    np.testing.assert_allclose(program.ir.params[key], np.broadcast_to(transform, (4,)))
    model = Model64(program)
    x = f32(rng.standard_normal((3, 3)))
    feeds = {"%inp": x}
    values, _ = model.forward(feeds, ["%p"], 3)
    want = np.tanh(gain * ((x @ W1.T + b1) * transform) + bias)
    np.testing.assert_allclose(values["%p"], want, rtol=1e-5, atol=1e-6)
    grads = check_grads(model, feeds, "%p", 3, h=2e-2, tol=1e-4, richardson=True)
    assert grads[key].shape == (4,)


# --------------------------------------------------------------------------- conv2d
CONV_CASES = [(s, p, cl) for s in [(1, 1), (2, 2)] for p in ["valid", "same"]
              for cl in [True, False]]


def conv_ids(case):
    s, p, cl = case
    return f"s{s[0]}-{p}-{'nhwc' if cl else 'nchw'}"


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_conv2d_kernel_and_bias(case):
    strides, padding, channels_last = case
    h, w, cin, cout = 5, 6, 2, 3
    rng = np.random.default_rng(2)
    shape = image_shape(h, w, cin, channels_last)
    kernel, cbias = rng.standard_normal((3, 3, cin, cout)), rng.standard_normal(cout)
    conv = sg.Convolution(cout, input_shape=shape, kernel_size=(3, 3), strides=strides,
                          padding=padding, channels_last=channels_last, init=kernel,
                          bias=cbias)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(h * w * cin), label="inp")
        out = sg.Node(size_in=conv.size_out, label="out")
        sg.Connection(inp, out, transform=conv)
        sg.Probe(out, label="p")
    program = compile_rate(net)
    (op,) = op_of_kind(program, "conv2d")
    assert op.kernel in program.ir.owners and op.bias in program.ir.owners
    model = Model64(program)
    rows = 2
    x = f32(rng.standard_normal((rows, h * w * cin)))
    feeds = {"%inp": x}
    values, _ = model.forward(feeds, ["%p"], rows)
    img = x.reshape(rows, *shape)
    ref = conv2d_reference(img, kernel, op)
    ref = ref + (cbias if channels_last else cbias[:, None, None])
    np.testing.assert_allclose(values["%p"], ref.reshape(rows, -1), rtol=1e-10, atol=1e-10)
    # the loss is affine in each single parameter: differences are exact for any step
    grads = check_grads(model, feeds, "%p", rows, h=1.0, tol=1e-6)  # float32 bias sums
    assert set(grads) == {op.kernel, op.bias}
    assert grads[op.kernel].shape == kernel.shape


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_conv2d_input_gradient(case):
    """dx of a convolution, through a trainable dense + tanh layer in front of it."""
    strides, padding, channels_last = case
    h, w, cin, cout = 5, 4, 2, 2
    n = h * w * cin
    rng = np.random.default_rng(3)
    shape = image_shape(h, w, cin, channels_last)
    kernel = rng.standard_normal((3, 3, cin, cout))
    conv = sg.Convolution(cout, input_shape=shape, kernel_size=(3, 3), strides=strides,
                          padding=padding, channels_last=channels_last, init=kernel, bias=True)
    W1, b1 = 0.3 * rng.standard_normal((n, 6)), 0.1 * rng.standard_normal(n)
    gain, bias = rng.uniform(0.5, 1.5, n), 0.2 * rng.standard_normal(n)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(6), label="inp")
        ens = sg.Ensemble(n, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain, bias=bias,
                          label="ens")
        out = sg.Node(size_in=conv.size_out, label="out")
        sg.Connection(inp, ens.neurons, transform=sg.Dense((n, 6), init=W1, bias=b1))
        sg.Connection(ens.neurons, out, transform=conv)
        sg.Probe(out, label="p")
    program = compile_rate(net)
    (op,) = op_of_kind(program, "conv2d")
    (neurons,) = op_of_kind(program, "neurons")
    model = Model64(program)
    rows = 2
    x = f32(rng.standard_normal((rows, 6)))
    feeds = {"%inp": x}
    check_grads(model, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)
    # the neurons' bias gradient is sum_rows(dx_conv * tanh'): dx_conv exactly
    w_out, _, grads = analytic(model, feeds, "%p", rows)
    J = gain * (x @ W1.T + b1) + bias
    # dx by the adjoint of the (linear) convolution, one basis image at a time
    basis = conv2d_reference(np.eye(n).reshape(n, *shape), kernel, op).reshape(n, -1)
    dx = w_out @ basis.T
    np.testing.assert_allclose(grads[neurons.bias], (dx / np.cosh(J) ** 2).sum(0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels_last", [True, False], ids=["nhwc", "nchw"])
def test_conv2d_many_rows(channels_last):
    """Enough rows (rows * oh * ow >= 256) that the rule's matrix products are split in
    row blocks across threads; float32 (production) agrees with float64."""
    h, w, cin, cout, rows = 6, 6, 2, 3, 12
    n = h * w * cin
    rng = np.random.default_rng(13)
    shape = image_shape(h, w, cin, channels_last)
    kernel = rng.standard_normal((3, 3, cin, cout))
    conv = sg.Convolution(cout, input_shape=shape, kernel_size=(3, 3), padding="same",
                          channels_last=channels_last, init=kernel, bias=True)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n), label="inp")
        mid = sg.Node(size_in=n, label="mid")
        out = sg.Node(size_in=conv.size_out, label="out")
        sg.Connection(inp, mid, transform=sg.Dense((n, n), init=np.eye(n), bias=np.zeros(n)))
        sg.Connection(mid, out, transform=conv)
        sg.Probe(out, label="p")
    program = compile_rate(net)
    (op,) = op_of_kind(program, "conv2d")
    (dense,) = op_of_kind(program, "linear")
    assert rows * op.shape[0 if channels_last else 1] * op.shape[1 if channels_last else 2] \
        >= 256
    x = f32(rng.standard_normal((rows, n)))
    feeds = {"%inp": x}
    model = Model64(program)
    values, _ = model.forward(feeds, ["%p"], rows)
    np.testing.assert_allclose(values["%p"], conv2d_reference(
        x.reshape(rows, *shape), kernel, op).reshape(rows, -1), rtol=1e-10, atol=1e-10)
    grads = check_grads(model, feeds, "%p", rows, h=1.0, tol=1e-6, keys=[op.kernel, op.bias])
    w_out, _, grads = analytic(model, feeds, "%p", rows)
    basis = conv2d_reference(np.eye(n).reshape(n, *shape), kernel, op).reshape(n, -1)
    np.testing.assert_allclose(grads[dense.bias], (w_out @ basis.T).sum(0), rtol=1e-9,
                               atol=1e-9)
    _, _, grads32 = analytic(RateModel(program), feeds, "%p", rows)
    for key in (op.kernel, op.bias, dense.bias, dense.weights):
        scale = np.abs(grads[key]).max()
        np.testing.assert_allclose(grads32[key], grads[key], rtol=1e-4, atol=1e-5 * scale,
                                   err_msg=key)


# --------------------------------------------------------------------------- pool2d
def pool_reference(img, kind, pool, strides, padding):
    """Pooling of NHWC images; avg over the window's valid inputs (TensorFlow's, and the
    numba backend's, convention)."""
    rows, h, w, c = img.shape
    oh, ow = (conv_output_size(n, k, s, padding) for n, k, s in zip((h, w), pool, strides))
    pt = max((oh - 1) * strides[0] + pool[0] - h, 0) // 2 if padding == "same" else 0
    pl = max((ow - 1) * strides[1] + pool[1] - w, 0) // 2 if padding == "same" else 0
    out = np.zeros((rows, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * strides[0] - pt, ox * strides[1] - pl
            win = img[:, max(y0, 0):y0 + pool[0], max(x0, 0):x0 + pool[1], :]
            win = win.reshape(rows, -1, c)
            out[:, oy, ox] = {"max": win.max(1), "sum": win.sum(1), "avg": win.mean(1)}[kind]
    return out


POOL_CASES = [("avg", (2, 2), None, "valid", True), ("sum", (2, 2), None, "valid", False),
              ("max", (2, 2), None, "valid", True), ("max", (3, 3), (2, 2), "same", False),
              ("sum", (3, 3), (2, 2), "same", True), ("avg", (3, 2), (1, 2), "valid", False),
              ("avg", (3, 3), (2, 2), "same", True)]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-{c[1][0]}x{c[1][1]}-{c[3]}")
def test_pool2d_gradients(case):
    """Pooling has no parameters: its dx is checked through a trainable dense layer in
    front of it. Max pooling is piecewise linear: with distinct values (gaps of 1) and
    small steps the winners do not change."""
    kind, pool, strides, padding, channels_last = case
    h, w, c = 6, 5, 2
    n = h * w * c
    shape = image_shape(h, w, c, channels_last)
    rng = np.random.default_rng(4)
    tr = sg.Pooling(shape, pool_size=pool, kind=kind, strides=strides, padding=padding,
                    channels_last=channels_last)
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n), label="inp")
        mid = sg.Node(size_in=n, label="mid")
        out = sg.Node(size_in=tr.size_out, label="out")
        sg.Connection(inp, mid, transform=sg.Dense((n, n), init=np.eye(n), bias=np.zeros(n)))
        sg.Connection(mid, out, transform=tr)
        sg.Probe(out, label="p")
    program = compile_rate(net)
    (op,) = op_of_kind(program, "pool2d")
    (dense,) = op_of_kind(program, "linear")
    assert op.pool == kind
    model = Model64(program)
    rows = 2
    x = np.stack([rng.permutation(n) for _ in range(rows)]).astype(np.float64) - n / 2
    feeds = {"%inp": x}

    def reference(x):
        out = pool_reference(to_nhwc(x, shape, channels_last), kind, pool, strides or pool,
                             padding)
        return from_nhwc(out, channels_last)

    # avg with 'same' padding: see test_pool2d_avg_same_padding_matches_numba_backend
    compare = not (kind == "avg" and padding == "same")
    values, _ = model.forward(feeds, ["%p"], rows)
    if compare:
        np.testing.assert_allclose(values["%p"], reference(x), rtol=1e-6)
    # steps small against the gaps between values (|x| <= n/2): winners stay put
    check_grads(model, feeds, "%p", rows, h=2**-10, tol=1e-3)
    # dx itself: the dense bias gradient is sum_rows(dx); the reference pool is linear
    # given the winners, so unit differences of it give dx exactly
    w_out, _, grads = analytic(model, feeds, "%p", rows)
    if not compare:
        return
    base = reference(x)
    dx = np.zeros((rows, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1e-3
        dx[:, i] = ((reference(x + e) - base) * w_out).sum(1) / 1e-3
    np.testing.assert_allclose(grads[dense.bias], dx.sum(0), rtol=1e-6, atol=1e-6)
    if kind == "max":  # each window's gradient goes to one input
        assert np.count_nonzero(dx) <= w_out.size


def test_pool2d_avg_same_padding_matches_numba_backend():
    h, w, c = 5, 5, 1
    shape = (h, w, c)
    tr = sg.Pooling(shape, pool_size=(3, 3), kind="avg", strides=(2, 2), padding="same")
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(h * w * c), label="inp")
        out = sg.Node(size_in=tr.size_out, label="out")
        sg.Connection(inp, out, transform=tr)
        sg.Probe(out, label="p")
    program = compile_rate(net)
    x = np.arange(h * w * c, dtype=np.float32)[None] + 1.0
    values, _ = RateModel(program).forward({"%inp": x}, ["%p"], 1)
    img = x.reshape(1, *shape)
    want = np.zeros((1, *tr.shape_out), np.float32)
    pads = np.array([1, 1], np.int64)  # TensorFlow's 'same' for 5 -> 3 with 3x3, stride 2
    numba_kernels.pool2d(img, want, np.array([3, 3], np.int64), np.array([2, 2], np.int64),
                         pads, 0)
    np.testing.assert_allclose(want, pool_reference(img, "avg", (3, 3), (2, 2), "same"),
                               rtol=1e-6)
    np.testing.assert_allclose(values["%p"], want.reshape(1, -1), rtol=1e-6)


# --------------------------------------------------------------------------- slice/scatter
def test_slice_and_scatter():
    """Neuron views (slices, with repeated indices) into node views (scatters)."""
    rng = np.random.default_rng(5)
    W1, b1 = 0.5 * rng.standard_normal((6, 3)), 0.1 * rng.standard_normal(6)
    W2 = rng.standard_normal((3, 3))
    W3 = rng.standard_normal((4, 4))
    gain, bias = rng.uniform(0.5, 1.5, 6), 0.2 * rng.standard_normal(6)
    sel = [0, 5, 5, 2]
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(3), label="inp")
        ens = sg.Ensemble(6, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain, bias=bias,
                          label="ens")
        out = sg.Node(size_in=7, label="out")
        sg.Connection(inp, ens.neurons, transform=sg.Dense((6, 3), init=W1, bias=b1))
        sg.Connection(ens.neurons[1:4], out[4:7], transform=sg.Dense((3, 3), init=W2))
        sg.Connection(ens.neurons[sel], out[[0, 1, 1, 3]], transform=sg.Dense((4, 4), init=W3))
        sg.Probe(out, label="p")
    program = compile_rate(net)
    assert "slice" in kinds(program) and "scatter" in kinds(program)
    model = Model64(program)
    rows = 3
    x = f32(rng.standard_normal((rows, 3)))
    feeds = {"%inp": x}
    values, _ = model.forward(feeds, ["%p"], rows)
    a = np.tanh(gain * (x @ W1.T + b1) + bias)
    want = np.zeros((rows, 7))
    want[:, 4:7] += a[:, 1:4] @ W2.T
    np.add.at(want, (slice(None), [0, 1, 1, 3]), a[:, sel] @ W3.T)
    np.testing.assert_allclose(values["%p"], want, rtol=1e-5, atol=1e-6)
    grads = check_grads(model, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)
    assert len(grads) == 5  # W1, b1, ens bias, W2, W3


def test_slice_and_scatter_rules_repeated_indices():
    """The rules by themselves: a slice's backward adds repeated picks, a scatter's
    forward adds repeated targets (adjoint pair: <S x, y> = <x, S^T y>)."""
    rng = np.random.default_rng(6)
    ctx = FakeCtx({}, rows=2)
    sl = ops.Slice(name="%s", shape=(5,), indices=(3, 0, 3, 3, 1), size_in=4)
    sc = ops.Scatter(name="%c", shape=(6,), indices=(5, 5, 0, 2, 5))
    x = f32(rng.standard_normal((2, 4)))
    y, saved = RULES["slice"].forward(ctx, sl, x)
    dy = rng.standard_normal((2, 5))
    dx, g = RULES["slice"].backward(ctx, sl, saved, dy, True)
    assert g == {}
    np.testing.assert_allclose(y, x[:, [3, 0, 3, 3, 1]])
    np.testing.assert_allclose((y * dy).sum(), (x * dx).sum(), rtol=1e-6)
    np.testing.assert_allclose(dx[:, 2], 0.0)
    np.testing.assert_allclose(dx[:, 3], dy[:, [0, 2, 3]].sum(1), rtol=1e-6)
    u = rng.standard_normal((2, 5))
    z, saved = RULES["scatter"].forward(ctx, sc, u)
    dz = rng.standard_normal((2, 6))
    du, g = RULES["scatter"].backward(ctx, sc, saved, dz, True)
    assert g == {}
    np.testing.assert_allclose(z[:, 5], u[:, [0, 1, 4]].sum(1), rtol=1e-6)
    np.testing.assert_allclose(z[:, [1, 3, 4]], 0.0)
    np.testing.assert_allclose((z * dz).sum(), (u * du).sum(), rtol=1e-6)


# --------------------------------------------------------------------------- sums
def build_sum_net(rng, variant):
    """Three connections summed: into a probed passthrough node (a ``sum`` op), straight
    into an ensemble's neurons (a neurons op with three inputs), or into a passthrough
    node that compile bypasses (its consumers sum the inputs)."""
    gain1, bias1 = rng.uniform(0.5, 1.5, 5), 0.2 * rng.standard_normal(5)
    gain2, bias2 = rng.uniform(0.5, 1.5, 4), 0.2 * rng.standard_normal(4)
    syn = sg.Lowpass(0.005) if variant == "default-synapse" else None
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(3), label="inp")
        e1 = sg.Ensemble(5, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain1, bias=bias1,
                         label="e1")
        total = sg.Node(size_in=4, label="total")
        e2 = sg.Ensemble(4, 1, neuron_type=sg.Sigmoid(tau_ref=1.0), gain=gain2, bias=bias2,
                         label="e2")
        target = e2.neurons if variant == "neurons" else total
        sg.Connection(inp, e1.neurons, transform=sg.Dense(
            (5, 3), init=0.5 * rng.standard_normal((5, 3)), bias=np.zeros(5)))
        sg.Connection(inp, target, synapse=syn, transform=sg.Dense(
            (4, 3), init=0.5 * rng.standard_normal((4, 3)), bias=0.1 * rng.standard_normal(4)))
        sg.Connection(e1.neurons, target, synapse=syn,
                      transform=sg.Dense((4, 5), init=0.5 * rng.standard_normal((4, 5))))
        sg.Connection(e1.neurons[:4], target, synapse=syn,
                      transform=sg.Dense((4, 4), init=0.5 * rng.standard_normal((4, 4))))
        if variant != "neurons":
            sg.Connection(total, e2.neurons, synapse=syn)
        if variant == "probed-node":
            sg.Probe(total, label="ptotal")
        sg.Probe(e2.neurons, label="p")
    return net


@pytest.mark.parametrize("variant", ["probed-node", "neurons", "bypassed-node"])
def test_sum_of_several_inputs(variant):
    rng = np.random.default_rng(7)
    program = compile_rate(build_sum_net(rng, variant))
    summed = [op for op in (program.ir.op(n) for n in program.ir.graph.nodes)
              if len(program.ir.inputs(op.name)) == 3]
    assert len(summed) == 1, program.dump()
    assert summed[0].op == {"probed-node": "sum"}.get(variant, "neurons"), program.dump()
    model = Model64(program)
    rows = 3
    feeds = {"%inp": f32(rng.standard_normal((rows, 3)))}
    grads = check_grads(model, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)
    assert len(grads) == 8  # 4 dense weights, 2 dense biases, 2 ensemble biases


def test_sum_into_passthrough_node_with_default_synapses():
    program = compile_rate(build_sum_net(np.random.default_rng(7), "default-synapse"))
    assert "synapse" not in kinds(program)


# --------------------------------------------------------------------------- neurons
NEURON_CASES = {
    "tanh": (sg.Tanh(tau_ref=0.5), (-1.5, 1.5)),
    "sigmoid": (sg.Sigmoid(tau_ref=0.5), (-3.0, 3.0)),
    "relu": (sg.RectifiedLinear(amplitude=0.7), (0.3, 2.0)),  # |bias|; signs alternate
    "lifrate": (sg.LIFRate(tau_rc=0.02, tau_ref=0.002, amplitude=0.01), (1.5, 4.0)),
}


@pytest.mark.parametrize("name", list(NEURON_CASES))
def test_neurons_rule_bias_and_input_gradient(name):
    """The neurons rule: bias gradient and dx (through the dense layer in front), with
    currents kept away from the curves' kinks (ReLU's 0, LIF's threshold J=1)."""
    neuron, (lo, hi) = NEURON_CASES[name]
    n, rows = 6, 3
    rng = np.random.default_rng(8)
    W1, b1 = 0.03 * rng.standard_normal((n, 4)), 0.01 * rng.standard_normal(n)
    gain = rng.uniform(0.5, 1.5, n)
    bias = rng.uniform(lo, hi, n)
    if name == "relu":
        bias *= np.where(np.arange(n) % 2, 1.0, -1.0)  # some silent, none near 0
    W2 = rng.standard_normal((2, n))
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="inp")
        ens = sg.Ensemble(n, 1, neuron_type=neuron, gain=gain, bias=bias, label="ens")
        out = sg.Node(size_in=2, label="out")
        sg.Connection(inp, ens.neurons, transform=sg.Dense((n, 4), init=W1, bias=b1))
        sg.Connection(ens.neurons, out, transform=sg.Dense((2, n), init=W2))
        sg.Probe(out, label="p")
    program = compile_rate(net)
    (op,) = op_of_kind(program, "neurons")
    x = f32(rng.standard_normal((rows, 4)))
    J = gain * (x @ W1.T + b1) + bias
    if name == "lifrate":
        assert J.min() > 1.3
    if name == "relu":
        assert np.abs(J).min() > 0.2
    feeds = {"%inp": x}
    fast = name == "lifrate"  # the fused kernel: float32 only
    model = RateModel(program) if fast else Model64(program)
    values, _ = model.forward(feeds, ["%p"], rows)
    np.testing.assert_allclose(values["%p"], neuron.rates(J) @ W2.T, rtol=1e-5, atol=1e-5)
    # closed form of the neurons' bias gradient
    w_out, _, grads = analytic(model, feeds, "%p", rows)
    np.testing.assert_allclose(grads[op.bias], ((w_out @ W2) * neuron.rate_grad(J)).sum(0),
                               rtol=1e-4, atol=1e-6)
    if fast:
        check_grads(model, feeds, "%p", rows, h=3e-3, tol=1e-2)
    else:
        check_grads(model, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)


def test_lif_smoothing_reaches_the_gradient():
    """compile(lif_smoothing=s): the forward pass is the exact LIF curve, the backward
    pass the soft-LIF derivative (non-zero for silent neurons)."""
    rng = np.random.default_rng(12)
    n, rows, s = 8, 3, 0.05
    neuron = sg.LIFRate(amplitude=0.01)
    gain = rng.uniform(0.5, 1.5, n)
    bias = np.r_[rng.uniform(0.6, 0.95, n // 2), rng.uniform(1.05, 3, n // 2)]
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(2), label="inp")
        ens = sg.Ensemble(n, 1, neuron_type=neuron, gain=gain, bias=bias, label="ens")
        sg.Connection(inp, ens.neurons, transform=sg.Dense(
            (n, 2), init=0.01 * rng.standard_normal((n, 2)), bias=np.zeros(n)))
        sg.Probe(ens.neurons, label="p")
    program = compile_rate(net, lif_smoothing=s)
    (op,) = op_of_kind(program, "neurons")
    assert op.smoothing == s
    (lin,) = op_of_kind(program, "linear")
    model = RateModel(program)
    x = f32(rng.standard_normal((rows, 2)))
    J = gain * (x @ program.ir.params[lin.weights].T) + bias
    assert np.all(np.abs(J - 1) > 0.02)
    values, _ = model.forward({"%inp": x}, ["%p"], rows)
    np.testing.assert_allclose(values["%p"], neuron.rates(J), rtol=1e-5, atol=1e-6)
    assert np.all(values["%p"][:, : n // 2] == 0)
    w_out, _, grads = analytic(model, {"%inp": x}, "%p", rows)
    want = (w_out * neuron.rate_grad(J, smoothing=s)).sum(0)
    np.testing.assert_allclose(grads[op.bias], want, rtol=1e-4, atol=1e-7)
    assert np.all(grads[op.bias][: n // 2] != 0)


# --------------------------------------------------------------------------- synapse
def test_synapse_dc_gain_scales_gradient():
    """A filter with DC gain 2 is kept by compile (steady state: y = 2 x) and doubles
    the gradient flowing through it."""
    rng = np.random.default_rng(9)
    W, b = 0.3 * rng.standard_normal((4, 3)), 0.1 * rng.standard_normal(4)
    gain, bias = rng.uniform(0.5, 1.5, 4), 0.2 * rng.standard_normal(4)

    def build(scale, synapse):
        with sg.Network(seed=0) as net:
            inp = sg.Node(np.zeros(3), label="inp")
            mid = sg.Node(size_in=4, label="mid")
            ens = sg.Ensemble(4, 1, neuron_type=sg.Tanh(tau_ref=1.0), gain=gain, bias=bias,
                              label="ens")
            sg.Connection(inp, mid, transform=sg.Dense((4, 3), init=scale * W,
                                                       bias=scale * b))
            sg.Connection(mid, ens.neurons, synapse=synapse)
            sg.Probe(ens.neurons, label="p")
        return compile_rate(net)

    program = build(1.0, sg.LinearFilter([2.0], [1.0, 1.0]))
    (syn,) = op_of_kind(program, "synapse")
    assert RULES["synapse"].forward(None, syn, np.ones((1, 4)))[1] == pytest.approx(2.0)
    plain = build(2.0, None)
    assert "synapse" not in kinds(plain)
    rows = 3
    feeds = {"%inp": f32(rng.standard_normal((rows, 3)))}
    m_syn, m_plain = Model64(program), Model64(plain)
    w1, y_syn, g_syn = analytic(m_syn, feeds, "%p", rows)
    w2, y_plain, g_plain = analytic(m_plain, feeds, "%p", rows)
    np.testing.assert_allclose(w1, w2)
    np.testing.assert_allclose(y_syn, y_plain, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(y_syn, np.tanh(gain * 2 * (feeds["%inp"] @ W.T + b) + bias),
                               rtol=1e-6, atol=1e-7)
    (lin_syn,) = op_of_kind(program, "linear")
    (lin_plain,) = op_of_kind(plain, "linear")
    (n_syn,) = op_of_kind(program, "neurons")
    (n_plain,) = op_of_kind(plain, "neurons")
    # d L / d W (through the synapse) = 2 * d L / d W' with W' = 2 W (no synapse)
    np.testing.assert_allclose(g_syn[lin_syn.weights], 2 * g_plain[lin_plain.weights],
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g_syn[lin_syn.bias], 2 * g_plain[lin_plain.bias],
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g_syn[n_syn.bias], g_plain[n_plain.bias], rtol=1e-6, atol=1e-8)
    check_grads(m_syn, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)


# --------------------------------------------------------------------------- end to end
def build_deep_net(rng):
    """dense -> tanh -> conv (stride 2, same, bias) -> tanh -> avg pool -> dense."""
    h, w, c1, c2 = 6, 6, 2, 3
    n1 = h * w * c1
    conv = sg.Convolution(c2, input_shape=(h, w, c1), kernel_size=(3, 3), strides=(1, 1),
                          padding="same", init=0.3 * rng.standard_normal((3, 3, c1, c2)),
                          bias=0.1 * rng.standard_normal(c2))
    n2 = conv.size_out
    pool = sg.Pooling(conv.shape_out, pool_size=(2, 2), kind="avg")
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(10), label="inp")
        e1 = sg.Ensemble(n1, 1, neuron_type=sg.Tanh(tau_ref=1.0),
                         gain=rng.uniform(0.5, 1.5, n1), bias=0.2 * rng.standard_normal(n1),
                         label="e1")
        e2 = sg.Ensemble(n2, 1, neuron_type=sg.Tanh(tau_ref=1.0),
                         gain=rng.uniform(0.5, 1.5, n2), bias=0.2 * rng.standard_normal(n2),
                         label="e2")
        pooled = sg.Node(size_in=pool.size_out, label="pooled")
        out = sg.Node(size_in=4, label="out")
        sg.Connection(inp, e1.neurons, transform=sg.Dense(
            (n1, 10), init=0.3 * rng.standard_normal((n1, 10)),
            bias=0.1 * rng.standard_normal(n1)))
        sg.Connection(e1.neurons, e2.neurons, transform=conv)
        sg.Connection(e2.neurons, pooled, transform=pool)
        sg.Connection(pooled, out, transform=sg.Dense(
            (4, pool.size_out), init=rng.standard_normal((4, pool.size_out)),
            bias=rng.standard_normal(4)))
        sg.Probe(out, label="p")
    return net


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_multilayer_network_end_to_end(precision):
    rng = np.random.default_rng(10)
    net = build_deep_net(rng)
    program = compile_rate(net)
    for kind in ("linear", "neurons", "conv2d", "pool2d"):
        op_of_kind(program, kind)
    model = Model64(program) if precision == "float64" else RateModel(program)
    rows = 4
    feeds = {"%inp": f32(rng.standard_normal((rows, 10)))}
    _, _, grads = analytic(model, feeds, "%p", rows)
    assert set(grads) == set(program.ir.owners)
    assert len(grads) == 8  # W1 b1 e1.bias kernel conv-bias e2.bias W3 b3
    if precision == "float64":
        check_grads(model, feeds, "%p", rows, h=2e-2, tol=1e-4, richardson=True)
    else:  # the production float32 path: differences limited by rounding
        check_grads(model, feeds, "%p", rows, h=1e-2, tol=1e-2)


# --------------------------------------------------------------------------- rate_grad
SMOOTH_TYPES = [
    (sg.LIFRate(), np.r_[np.linspace(-2, 0.95, 7), np.linspace(1.05, 10, 11)]),
    (sg.LIFRate(tau_rc=0.05, tau_ref=0.001, amplitude=0.5), np.linspace(1.02, 5, 9)),
    (sg.LIF(tau_rc=0.03, amplitude=2.0), np.linspace(1.1, 8, 9)),
    (sg.RectifiedLinear(amplitude=2.0), np.r_[-np.geomspace(0.01, 5, 6), np.geomspace(0.01, 5, 6)]),
    (sg.SpikingRectifiedLinear(amplitude=0.5), np.linspace(-3, 3, 8)),
    (sg.Sigmoid(tau_ref=0.01), np.linspace(-8, 8, 17)),
    (sg.Tanh(tau_ref=0.2, amplitude=3.0), np.linspace(-4, 4, 17)),
    (sg.LI(), np.linspace(-3, 3, 7)),  # the generic (central difference) fallback
]


@pytest.mark.parametrize("neuron,J", SMOOTH_TYPES,
                         ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else "")
def test_rate_grad_matches_rates(neuron, J):
    h = 1e-6 * np.maximum(1.0, np.abs(J))
    fd = (neuron.rates(J + h) - neuron.rates(J - h)) / (2 * h)
    got = neuron.rate_grad(J)
    assert got.shape == J.shape
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-9 * np.abs(fd).max())
    if isinstance(neuron, sg.LIFRate):
        assert np.all(got[J < 1] == 0) and np.all(got[J > 1] > 0)
    if isinstance(neuron, sg.LI):  # the fallback differences rates: check the closed form
        np.testing.assert_allclose(got, neuron.amplitude * neuron.tau_syn / 0.001, rtol=1e-7)


@pytest.mark.parametrize("dt", [0.001, 0.0005])
@pytest.mark.parametrize("smoothing", [None, 0.05])
def test_loihi_rate_grads_are_straight_through(dt, smoothing):
    J = np.r_[np.linspace(-2, 0.9, 5), np.linspace(1.01, 12, 15)]
    lif = sg.LoihiLIF(tau_rc=0.017, tau_ref=0.0023, amplitude=0.8)
    tau_rc, tau_ref = discretize_tau_rc(0.017, dt), discretize_tau_ref(0.0023, dt)
    assert tau_rc != 0.017 and tau_ref != 0.0023  # discretisation changed them
    cont = sg.LIFRate(tau_rc=tau_rc, tau_ref=tau_ref, amplitude=0.8)
    np.testing.assert_allclose(lif.rate_grad(J, dt, smoothing), cont.rate_grad(J, dt, smoothing),
                               rtol=1e-12, atol=0)
    # the aliased staircase itself has a zero derivative almost everywhere
    steps = lif.rates(J + 1e-7, dt) - lif.rates(J, dt)
    assert np.count_nonzero(steps) <= 1
    assert np.any(lif.rate_grad(J, dt, smoothing) > 0)
    relu = sg.LoihiSpikingRectifiedLinear(amplitude=1.5)
    Jr = np.linspace(-3, 200, 41) + 0.013
    np.testing.assert_array_equal(relu.rate_grad(Jr, dt, smoothing),
                                  sg.RectifiedLinear(amplitude=1.5).rate_grad(Jr, dt))
    np.testing.assert_array_equal(relu.rate_grad(Jr, dt), 1.5 * (Jr > 0))


def soft_lif_rate(J, tau_rc, tau_ref, s):
    """The soft LIF curve: ``j = s * softplus((J - 1) / s)`` in place of ``max(J - 1, 0)``."""
    j = s * np.logaddexp(0.0, (np.asarray(J, float) - 1.0) / s)
    return 1.0 / (tau_ref + tau_rc * np.log1p(1.0 / j))


@pytest.mark.parametrize("s", [0.01, 0.05, 0.2])
def test_lif_rate_grad_soft_threshold(s):
    """With smoothing s, LIFRate.rate_grad is the derivative of the soft LIF curve,
    below the threshold as well as above it."""
    tau_rc, tau_ref, amp = 0.03, 0.004, 0.7
    neuron = sg.LIFRate(tau_rc=tau_rc, tau_ref=tau_ref, amplitude=amp)
    J = np.r_[1 - s * np.array([30.0, 8.0, 2.0, 0.5]), 1.0, 1 + s * np.array([0.5, 2.0, 8.0]),
              1.5, 3.0, 10.0]
    below, above = J < 1, J > 1
    h = 1e-4 * s
    fd = amp * (soft_lif_rate(J + h, tau_rc, tau_ref, s)
                - soft_lif_rate(J - h, tau_rc, tau_ref, s)) / (2 * h)
    got = neuron.rate_grad(J, smoothing=s)
    np.testing.assert_allclose(got, fd, rtol=1e-6)
    assert np.all(got[below] > 0) and np.all(got[above] > 0)
    # far above the threshold it is the exact curve's derivative
    far = J >= 1.5
    np.testing.assert_allclose(got[far], neuron.rate_grad(J[far]), rtol=1e-4 if s < 0.1 else 0.1)
    assert np.all(neuron.rate_grad(J[below]) == 0)


# --------------------------------------------------------------------------- LIF kernel
@pytest.fixture(scope="module")
def lif_kernel():
    return jit(lif_curve)


def run_kernel(kernel, x, gain, bias, params, sigma, table=None):
    """The kernel as the runtime calls it: with the soft-derivative table when every
    neuron shares its time constants (as LIFRate.rate_kernel_params builds it), unless
    ``table`` says otherwise."""
    x, gain, bias = (np.ascontiguousarray(a, np.float32) for a in (x, gain, bias))
    params = np.ascontiguousarray(params, np.float32)
    if table is None:
        shared = np.all(params[:2] == params[:2, :1])
        table = soft_lif_table(float(params[0, 0]), float(params[1, 0]), sigma) \
            if sigma and shared else np.zeros(0)
    out, grad = np.empty_like(x), np.empty_like(x)
    kernel(x, gain, bias, out, grad, params, np.array([sigma], np.float32),
           np.ascontiguousarray(table, np.float32))
    return out, grad


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_lif_kernel_table_and_computed_band_agree(lif_kernel, sigma):
    J = (1.0 + sigma * np.linspace(-12.5, 12.5, 4001)).astype(np.float32)
    n = J.size
    params = np.array([[0.02] * n, [0.002] * n, [0.01] * n])
    _, tabled = run_kernel(lif_kernel, J[None], np.ones(n), np.zeros(n), params, sigma)
    _, computed = run_kernel(lif_kernel, J[None], np.ones(n), np.zeros(n), params, sigma,
                             table=np.zeros(0))
    np.testing.assert_allclose(tabled, computed, rtol=1e-5)


@pytest.mark.parametrize("sigma", [0.0, 0.01, 0.05, 0.3])
def test_lif_kernel_matches_rates_and_rate_grad(lif_kernel, sigma):
    # exact float32 currents (gain 1, bias 0, |J - 1| exact), close to the threshold too
    J = np.array([-5.0, -1.0, 0.0, 0.5, 0.9, 0.99, 0.999, 1.0, 1.001, 1.01, 1.1, 1.5,
                  2.0, 3.0, 10.0, 50.0], np.float32)
    taus = [(0.02, 0.002, 1.0), (0.05, 0.0, 0.3), (0.01, 0.004, 2.5)]
    for tau_rc, tau_ref, amp in taus:
        neuron = sg.LIFRate(tau_rc=tau_rc, tau_ref=tau_ref, amplitude=amp)
        n = J.size
        params = np.array([[tau_rc] * n, [tau_ref] * n, [amp] * n])
        out, grad = run_kernel(lif_kernel, J[None], np.ones(n), np.zeros(n), params, sigma)
        J64 = J.astype(np.float64)
        want_r = neuron.rates(J64)
        want_g = neuron.rate_grad(J64, smoothing=sigma or None)
        np.testing.assert_allclose(out[0], want_r, rtol=1e-5, atol=1e-6 * want_r.max())
        np.testing.assert_allclose(grad[0], want_g, rtol=1e-5, atol=0)
        if sigma:
            assert np.all(grad[0] > 0)
        else:
            assert np.all(grad[0][J <= 1] == 0)


def test_lif_kernel_gain_bias_and_per_neuron_params(lif_kernel):
    rng = np.random.default_rng(11)
    rows, n = 7, 40
    gain, bias = rng.uniform(0.5, 3, n), rng.uniform(-2, 3, n)
    x = rng.uniform(-2, 2, (rows, n)).astype(np.float32)
    J = f32(gain) * x + f32(bias)
    keep = np.abs(J - 1) > 0.05  # float32 current rounding is amplified at the threshold
    params = np.stack([rng.uniform(0.01, 0.05, n), rng.uniform(0, 0.004, n),
                       rng.uniform(0.5, 2, n)]).astype(np.float32)
    for sigma in (0.0, 0.02):
        out, grad = run_kernel(lif_kernel, x, gain, bias, params, sigma)
        for i in range(n):
            neuron = sg.LIFRate(tau_rc=float(params[0, i]), tau_ref=float(params[1, i]),
                                amplitude=float(params[2, i]))
            k = keep[:, i]
            np.testing.assert_allclose(out[k, i], neuron.rates(J[k, i]), rtol=1e-5,
                                       atol=1e-4)
            want = neuron.rate_grad(J[k, i], smoothing=sigma or None)
            np.testing.assert_allclose(grad[k, i], want, rtol=1e-5, atol=1e-6)


def test_lif_rate_grad_far_below_threshold(lif_kernel):
    sigma, tau_rc, tau_ref = 0.01, 0.02, 0.002
    J = np.array([-6.5, -8.0, -20.0])
    z = (J - 1.0) / sigma
    assert np.all(z < -745)
    r = 1.0 / (tau_ref + tau_rc * (-np.log(sigma) - z))  # log1p(1 / (s e^z)) = -log s - z
    expected = tau_rc * r * r / sigma
    _, grad = run_kernel(lif_kernel, J[None], np.ones(3), np.zeros(3),
                         np.array([[tau_rc] * 3, [tau_ref] * 3, [1.0] * 3]), sigma)
    np.testing.assert_allclose(grad[0], expected, rtol=1e-5)
    got = sg.LIFRate(tau_rc=tau_rc, tau_ref=tau_ref).rate_grad(J, smoothing=sigma)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# --------------------------------------------------------------------------- property
@pytest.mark.slow  # drawn geometries; the fixed cases above cover each stride, padding, layout
@settings(max_examples=15, deadline=None)
@given(size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.sampled_from(["valid", "same"]), channels_last=st.booleans(),
       cin=st.integers(1, 2), cout=st.integers(1, 3), rows=st.integers(1, 2),
       seed=st.integers(0, 2**16))
def test_conv2d_rule_random_geometry(size, k, s, padding, channels_last, cin, cout, rows,
                                     seed):
    """The conv2d rule by itself: forward against conv2d_reference, backward (kernel,
    bias and dx) against differences; the rule is affine in each input, so unit steps
    give exact differences."""
    rng = np.random.default_rng(seed)
    (h, w) = size
    oh, ow = (conv_output_size(n, kk, ss, padding) for n, kk, ss in zip(size, k, s))
    shape_in = image_shape(h, w, cin, channels_last)
    op = ops.Conv2d(name="%c", shape=image_shape(oh, ow, cout, channels_last), kernel="%c.k",
                    bias="%c.b", shape_in=shape_in, strides=s, padding=padding,
                    channels_last=channels_last)
    params = {"%c.k": rng.standard_normal((*k, cin, cout)), "%c.b": rng.standard_normal(cout)}
    ctx = FakeCtx(params, rows)
    rule = RULES["conv2d"]
    x = f32(rng.standard_normal((rows, h * w * cin)))
    dy = rng.standard_normal((rows, op.size))

    def loss(x):
        y, _ = rule.forward(ctx, op, x)
        return float((np.array(y) * dy).sum())

    y, saved = rule.forward(ctx, op, x)
    y = np.array(y)
    ref = conv2d_reference(x.reshape(rows, *shape_in), params["%c.k"], op)
    ref = ref + (params["%c.b"] if channels_last else params["%c.b"][:, None, None])
    np.testing.assert_allclose(y, ref.reshape(rows, -1), rtol=1e-10, atol=1e-10)
    dx, grads = rule.backward(ctx, op, saved, dy, True)
    dx = np.array(dx)
    assert set(grads) == {"%c.k", "%c.b"}
    base = loss(x)
    for key in ("%c.k", "%c.b"):
        flat = params[key].reshape(-1)
        for i in rng.choice(flat.size, min(6, flat.size), replace=False):
            flat[i] += 1.0
            fd = loss(x) - base
            flat[i] -= 1.0
            assert grads[key].reshape(-1)[i] == pytest.approx(fd, rel=1e-5, abs=1e-4)
    for i in rng.choice(x.size, min(12, x.size), replace=False):
        e = np.zeros(x.size)
        e[i] = 1.0
        fd = loss(x + e.reshape(x.shape)) - base
        assert dx.reshape(-1)[i] == pytest.approx(fd, rel=1e-9, abs=1e-9)
    # need_dx=False: parameter gradients only
    none, again = rule.backward(ctx, op, rule.forward(ctx, op, x)[1], dy, False)
    assert none is None
    np.testing.assert_allclose(again["%c.k"], grads["%c.k"])


@pytest.mark.parametrize("pool,strides,pad", [((2, 2), (2, 2), (0, 0)), ((2, 2), (2, 2), (1, 1)),
                                              ((3, 2), (1, 2), (0, 0))])
def test_max_pool_kernel_keeps_the_first_winner_of_each_window(pool, strides, pad):
    """The 2 x 2 fast path and the general loop: the maximum, and the offset
    ``ky * pw + kx`` of the first input in the window that reaches it (ties are common
    on spike counts)."""
    from snngraph.runtimes.rate import kernels

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (3, 7, 6, 5)).astype(np.float32)  # many ties
    (ph, pw), (sh, sw), (pt, pl) = pool, strides, pad
    oh = (7 + 2 * pt - ph) // sh + 1
    ow = (6 + 2 * pl - pw) // sw + 1
    y = np.empty((3, oh, ow, 5), np.float32)
    arg = np.empty(y.shape, np.int16)
    kernels.max_pool(x, ph, pw, sh, sw, pt, pl, y, arg)
    padded = np.full((3, 7 + 2 * pt + ph, 6 + 2 * pl + pw, 5), -np.inf, np.float32)
    padded[:, pt:pt + 7, pl:pl + 6] = x
    for oy in range(oh):
        for ox in range(ow):
            win = padded[:, oy * sh:oy * sh + ph, ox * sw:ox * sw + pw].reshape(3, -1, 5)
            np.testing.assert_array_equal(y[:, oy, ox], win.max(1))
            np.testing.assert_array_equal(arg[:, oy, ox], win.argmax(1))
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = np.full_like(x, np.nan)  # the kernel writes every input
    kernels.max_pool_grad(dy, arg, ph, pw, sh, sw, pt, pl, dx)
    expect = np.zeros_like(x)
    for oy in range(oh):
        for ox in range(ow):
            for b in range(3):
                for k in range(5):
                    ky, kx = divmod(int(arg[b, oy, ox, k]), pw)
                    expect[b, oy * sh + ky - pt, ox * sw + kx - pl, k] += dy[b, oy, ox, k]
    np.testing.assert_allclose(dx, expect, rtol=1e-6, atol=1e-6)
