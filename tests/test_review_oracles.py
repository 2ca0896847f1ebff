"""Checks written against independent oracles (issue 16, item 18): each compares the
package with something it did not compute itself, so that a real bug makes it fail.

- convolution and pooling: a direct loop over output pixels and kernel taps (plain
  numpy, small sizes), for the numba runtime's forward pass, the rate runtime's forward
  pass and the rate and BPTT gradients (against differences of the oracle);
- optimizers: PyTorch's and Keras's published update rules, written out here;
- ``Accuracy``: hand-computed values on crafted outputs, ties included;
- the ``LI`` rate gradient: a difference of the loss through the rate runtime's forward
  pass, not the neuron's own ``rates``.
"""

from __future__ import annotations

import numpy as np
import pytest
from snngraph.runtimes.bptt.model import BpttModel, to_examples, to_time_major
from snngraph.runtimes.rate.model import RateModel

import snngraph as sg


# --------------------------------------------------------------------------- oracles
def out_size(n: int, k: int, s: int, padding: str) -> int:
    """Output length: 'same' keeps ceil(n / s); 'valid' fits whole windows only."""
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def before_pad(n: int, k: int, s: int, padding: str) -> int:
    """Padding before the first input (TensorFlow's 'same': the smaller half in front)."""
    if padding != "same":
        return 0
    return max((out_size(n, k, s, padding) - 1) * s + k - n, 0) // 2


def conv_oracle(img, kernel, bias, strides, padding):
    """y[r, oy, ox, co] = b[co] + sum over taps inside the image of
    img[r, oy*s - pad + ky, ox*s - pad + kx, ci] * kernel[ky, kx, ci, co] (NHWC)."""
    rows, h, w, _ = img.shape
    kh, kw, _, cout = kernel.shape
    (sh, sw) = strides
    oh, ow = out_size(h, kh, sh, padding), out_size(w, kw, sw, padding)
    pt, pl = before_pad(h, kh, sh, padding), before_pad(w, kw, sw, padding)
    y = np.zeros((rows, oh, ow, cout))
    for oy in range(oh):
        for ox in range(ow):
            y[:, oy, ox] = bias
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * sh - pt + ky, ox * sw - pl + kx
                    if 0 <= iy < h and 0 <= ix < w:
                        y[:, oy, ox] += img[:, iy, ix] @ kernel[ky, kx]
    return y


def pool_oracle(img, kind, pool, strides, padding):
    """Each window's inputs inside the image, listed one by one: their max, sum, or mean
    (padding is never counted, as in TensorFlow)."""
    rows, h, w, c = img.shape
    (ph, pw), (sh, sw) = pool, strides
    oh, ow = out_size(h, ph, sh, padding), out_size(w, pw, sw, padding)
    pt, pl = before_pad(h, ph, sh, padding), before_pad(w, pw, sw, padding)
    y = np.zeros((rows, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            inside = [img[:, oy * sh - pt + ky, ox * sw - pl + kx]
                      for ky in range(ph) for kx in range(pw)
                      if 0 <= oy * sh - pt + ky < h and 0 <= ox * sw - pl + kx < w]
            if kind == "max":
                y[:, oy, ox] = np.max(inside, axis=0)
            else:
                y[:, oy, ox] = np.sum(inside, axis=0) / (len(inside) if kind == "avg" else 1)
    return y


def differences(f, p, coef, step, affine=False):
    """Central differences of ``sum(coef * f(p))`` for every entry of ``p`` (float64);
    forward differences where ``f`` is affine in ``p`` (exact, and half the calls)."""
    out = np.zeros(p.shape)
    base = f(p) if affine else None
    for i in range(p.size):
        e = np.zeros(p.shape)
        e.flat[i] = step
        if affine:
            out.flat[i] = ((f(p + e) - base) * coef).sum() / step
        else:
            out.flat[i] = ((f(p + e) - f(p - e)) * coef).sum() / (2 * step)
    return out


def input_differences(f, img, coef, step, affine=False):
    """The same for the input, summed over rows (what the identity layer's bias gradient
    is): one pixel moved in every row at once, the rows being independent."""
    return differences(lambda d: f(img + d), np.zeros((1, *img.shape[1:])), coef, step, affine)


def close(got, want, what, rtol=1e-5):
    """Relative to each value, with a floor of float32 rounding of the largest term (the
    runtimes compute in float32: sums of a few dozen products, relative error ~1e-7)."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 0.1 * np.abs(want).max(),
                               err_msg=what)


# --------------------------------------------------------------------------- networks
SHAPE = (5, 6, 2)  # odd height, even width: 'same' pads unevenly on one side
N = int(np.prod(SHAPE))


def spatial_net(transform, front_layer):
    """input -> [identity Dense, whose bias gradient is sum_rows(dx)] -> transform -> out.
    Without the front layer the transform reads the input directly (the numba runtime's
    event-driven path sees the spikes)."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(N), label="inp")
        src = inp
        if front_layer:
            src = sg.Node(size_in=N, label="mid")
            sg.Connection(inp, src, synapse=None,
                          transform=sg.Dense((N, N), init=np.eye(N), bias=np.zeros(N)))
        out = sg.Node(size_in=transform.size_out, label="out")
        sg.Connection(src, out, transform=transform, synapse=None)
        probe = sg.Probe(out, label="p")
    return net, probe


def op_of_kind(program, kind):
    (op,) = [program.ir.op(n) for n in program.ir.graph.nodes if program.ir.op(n).op == kind]
    return op


def numba_forward(net, probe, x):
    with sg.Simulator(net, minibatch_size=len(x), progress_bar=False) as sim:
        return np.asarray(sim.predict(x[:, None, :])[probe])[:, -1]


def rate_forward_and_grads(net, x, coef):
    """The rate runtime: its output and the gradients of ``sum(coef * y)``."""
    program = sg.compile(net, target="rate", lif_smoothing=0)
    model = RateModel(program)
    values, tape = model.forward({"%inp": x}, ["%p"], len(x))
    grads = model.backward(tape, {"%p": coef.reshape(len(x), -1).astype(np.float32)})
    return program, np.asarray(values["%p"]), grads


def bptt_grads(net, probe, x, coef):
    """Training through time over one step: the same loss's gradients."""
    program = sg.compile(net)
    model = BpttModel(program)
    out = program.op_of(probe)
    values, tape = model.forward_steps({"%inp": x[:, None, :]}, [out], 1, len(x))
    y = to_examples(values[out], 1, len(x))[:, 0]
    dy = to_time_major(coef.reshape(len(x), 1, -1).astype(np.float32))
    return program, y, model.backward_steps(values, tape, {out: dy})


CONV_CASES = [((3, 3), 1, "valid"), ((3, 3), 1, "same"), ((3, 3), 2, "valid"),
              ((3, 3), 2, "same"), ((2, 2), 1, "same"), ((2, 2), 2, "valid"),
              ((2, 2), 2, "same"), ((3, 2), 2, "same"), ((4, 3), 1, "same")]
conv_ids = [f"{k[0]}x{k[1]}-s{s}-{p}" for k, s, p in CONV_CASES]


def conv_case(case, seed=0):
    kernel_size, stride, padding = case
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((*kernel_size, SHAPE[2], 3))
    bias = rng.standard_normal(3)
    conv = sg.Convolution(3, input_shape=SHAPE, kernel_size=kernel_size,
                          strides=(stride, stride), padding=padding, init=kernel, bias=bias)
    return rng, conv, kernel, bias, (stride, stride), padding


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
def test_numba_conv2d_equals_a_direct_loop(case):
    rng, conv, kernel, bias, strides, padding = conv_case(case)
    net, probe = spatial_net(conv, front_layer=False)
    x = np.concatenate([rng.standard_normal((2, N)),  # real values: the dense path
                        rng.random((2, N)) < 0.15]).astype(np.float32)  # spikes: events
    want = conv_oracle(x.reshape(-1, *SHAPE).astype(np.float64), kernel, bias, strides,
                       padding)
    assert conv.shape_out == want.shape[1:]
    close(numba_forward(net, probe, x), want.reshape(len(x), -1), "numba conv2d")


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_ids)
@pytest.mark.parametrize("runtime", ["rate", "bptt"])
def test_conv2d_forward_and_gradients_equal_the_direct_loop(case, runtime):
    rng, conv, kernel, bias, strides, padding = conv_case(case)
    net, probe = spatial_net(conv, front_layer=True)
    x = rng.standard_normal((2, N)).astype(np.float32)
    img = x.reshape(2, *SHAPE).astype(np.float64)
    want = conv_oracle(img, kernel, bias, strides, padding)
    coef = rng.standard_normal(want.shape)
    if runtime == "rate":
        program, y, grads = rate_forward_and_grads(net, x, coef)
    else:
        program, y, grads = bptt_grads(net, probe, x, coef)
    close(y, want.reshape(2, -1), f"{runtime} conv2d forward")
    op, dense = op_of_kind(program, "conv2d"), op_of_kind(program, "linear")
    # the oracle is linear in each argument: differences with unit steps are exact
    fd_k = differences(lambda k: conv_oracle(img, k, bias, strides, padding), kernel, coef,
                       1.0, affine=True)
    fd_b = differences(lambda b: conv_oracle(img, kernel, b, strides, padding), bias, coef,
                       1.0, affine=True)
    fd_x = input_differences(lambda i: conv_oracle(i, kernel, bias, strides, padding), img,
                             coef, 1.0, affine=True)
    close(grads[op.kernel], fd_k, f"{runtime} kernel gradient")
    close(grads[op.bias], fd_b, f"{runtime} bias gradient")
    close(grads[dense.bias], fd_x.reshape(-1), f"{runtime} input gradient")


POOL_CASES = [("avg", (2, 2), (2, 2), "valid"), ("sum", (2, 2), (2, 2), "valid"),
              ("max", (2, 2), (2, 2), "valid"), ("avg", (3, 3), (2, 2), "same"),
              ("max", (3, 3), (2, 2), "same"), ("sum", (3, 3), (2, 2), "same"),
              ("avg", (2, 2), (1, 1), "same"), ("max", (3, 2), (1, 2), "valid"),
              ("sum", (2, 3), (2, 1), "same")]
pool_ids = [f"{k}-{p[0]}x{p[1]}-s{s[0]}{s[1]}-{pad}" for k, p, s, pad in POOL_CASES]


def pool_case(case, seed=1):
    kind, pool, strides, padding = case
    rng = np.random.default_rng(seed)
    tr = sg.Pooling(SHAPE, pool_size=pool, kind=kind, strides=strides, padding=padding)
    # distinct values a whole unit apart: a small step never changes a max's winner
    x = np.stack([rng.permutation(N) for _ in range(2)]).astype(np.float32) - N / 2
    return rng, tr, x, lambda img: pool_oracle(img, kind, pool, strides, padding)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_ids)
def test_numba_pool2d_equals_a_direct_loop(case):
    rng, tr, x, oracle = pool_case(case)
    net, probe = spatial_net(tr, front_layer=False)
    want = oracle(x.reshape(2, *SHAPE).astype(np.float64))
    assert tr.shape_out == want.shape[1:]
    close(numba_forward(net, probe, x), want.reshape(2, -1), "numba pool2d")


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_ids)
@pytest.mark.parametrize("runtime", ["rate", "bptt"])
def test_pool2d_forward_and_input_gradient_equal_the_direct_loop(case, runtime):
    rng, tr, x, oracle = pool_case(case)
    net, probe = spatial_net(tr, front_layer=True)
    img = x.reshape(2, *SHAPE).astype(np.float64)
    want = oracle(img)
    coef = rng.standard_normal(want.shape)
    if runtime == "rate":
        program, y, grads = rate_forward_and_grads(net, x, coef)
    else:
        program, y, grads = bptt_grads(net, probe, x, coef)
    close(y, want.reshape(2, -1), f"{runtime} pool2d forward")
    dense = op_of_kind(program, "linear")
    fd_x = input_differences(oracle, img, coef, 0.25)  # piecewise linear: exact in a piece
    close(grads[dense.bias], fd_x.reshape(-1), f"{runtime} pool input gradient")


# --------------------------------------------------------------------------- optimizers
# The published update rules, written out here in float64 for a few steps on fixed
# gradients. PyTorch: torch.optim.SGD / Adam / RMSprop documentation (its algorithm boxes);
# Keras: keras.optimizers.SGD / Adam / RMSprop update_step.
def torch_sgd(p, grads, lr, momentum=0.0, nesterov=False):
    buf = None
    for g in grads:
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g  # dampening 0
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def keras_sgd(p, grads, lr, momentum=0.0, nesterov=False):
    m = np.zeros_like(p)
    for g in grads:
        if momentum:
            m = momentum * m - lr * g
            p = p + (momentum * m - lr * g if nesterov else m)
        else:
            p = p - lr * g
    return p


def torch_adam(p, grads, lr, beta_1, beta_2, epsilon):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + epsilon)
    return p


def keras_adam(p, grads, lr, beta_1, beta_2, epsilon):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        p = p - alpha * m / (np.sqrt(v) + epsilon)
    return p


def torch_rmsprop(p, grads, lr, rho, epsilon, momentum=0.0):
    """torch's ``alpha`` is Keras's ``rho``; its momentum buffer holds g / (sqrt(v) + eps)
    and the step is lr times it (the same as Keras's for a constant lr)."""
    v, buf = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        avg = np.sqrt(v) + epsilon
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def keras3_rmsprop(p, grads, lr, rho, epsilon, momentum=0.0):
    """Keras 3 (and tf.keras since TF 2.11) divide by sqrt(v + epsilon); Keras 2's
    OptimizerV2 (without momentum) and PyTorch by sqrt(v) + epsilon."""
    v, mom = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        increment = lr * g / np.sqrt(v + epsilon)
        mom = momentum * mom + increment
        p = p - (mom if momentum else increment)
    return p


P0 = np.array([0.5, -1.25, 2.0, 0.0, 1e-6, -2e-8])  # tiny where the gradient is
# four steps; the last entries are tiny (epsilon matters) and change sign
GRADS = [np.array([0.3, -1.2, 0.5, 2.0, 1e-6, -3e-8]),
         np.array([-0.7, -0.9, 0.4, 1.5, 2e-6, 4e-8]),
         np.array([0.2, 0.1, -0.6, -1.0, -5e-7, 1e-8]),
         np.array([1.1, -0.3, 0.3, 0.8, 1e-6, -1e-8])]


def run_optimizer(opt, grads=GRADS, dtype=np.float64):
    """The parameter after each step (the optimizer's own float32 constants)."""
    params = {"w": P0.astype(dtype)}
    state = opt.init(params)
    out = []
    for g in grads:
        opt.update(params, {"w": g.astype(dtype)}, state)
        out.append(params["w"].astype(np.float64).copy())
    return out


def assert_steps(opt, formula, grads=GRADS, rtol=1e-6, **kw):
    """Each step's change from P0 equals the formula's, relative to its size."""
    for t, got in enumerate(run_optimizer(opt, grads), start=1):
        want = formula(P0, grads[:t], **kw)
        # atol: a billionth of a step, for float32 constants where steps cancel
        np.testing.assert_allclose(got - P0, want - P0, rtol=rtol, atol=1e-9 * opt.lr,
                                   err_msg=f"{opt!r} after step {t}")


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.8, False), (0.8, True)])
def test_sgd_follows_pytorch_and_keras(momentum, nesterov):
    opt = sg.optim.SGD(lr=0.05, momentum=momentum, nesterov=nesterov)
    for formula in (torch_sgd, keras_sgd):
        assert_steps(opt, formula, lr=0.05, momentum=momentum, nesterov=nesterov)


@pytest.mark.parametrize("style,formula", [("torch", torch_adam), ("keras", keras_adam)])
@pytest.mark.parametrize("epsilon", [1e-8, 1e-7, 1e-3])
def test_adam_follows_the_published_formula_of_its_style(style, formula, epsilon):
    """Non-default betas, so that neither bias correction (1 - beta^t) is hidden by a
    default; epsilon large enough in one case to matter for every entry."""
    kw = dict(lr=0.02, beta_1=0.8, beta_2=0.95, epsilon=epsilon)
    opt = sg.optim.Adam(**kw, epsilon_style=style)
    assert_steps(opt, formula, **kw)
    other = keras_adam if formula is torch_adam else torch_adam
    with pytest.raises(AssertionError):  # the two styles are told apart
        assert_steps(opt, other, **kw)


def test_adam_defaults_match_keras_and_torch_takes_its_own_epsilon():
    assert_steps(sg.optim.Adam(), keras_adam, lr=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7)
    assert_steps(sg.optim.Adam(epsilon=1e-8, epsilon_style="torch"), torch_adam, lr=0.001,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8)


@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_rmsprop_follows_pytorch(momentum):
    kw = dict(lr=0.01, rho=0.8, epsilon=1e-7, momentum=momentum)
    assert_steps(sg.optim.RMSprop(**kw), torch_rmsprop, **kw)


@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_rmsprop_follows_keras3_where_epsilon_does_not_matter(momentum):
    """Keras 3 puts epsilon inside the square root: the same steps once g^2 >> epsilon
    (the first four entries), different for tiny gradients (documented in
    ``sg.optim.RMSprop``: PyTorch's placement)."""
    kw = dict(lr=0.01, rho=0.8, epsilon=1e-7, momentum=momentum)
    opt = sg.optim.RMSprop(**kw)
    big = [g[:4] for g in GRADS]
    for t, got in enumerate(run_optimizer(opt), start=1):
        want = keras3_rmsprop(P0[:4], big[:t], **kw)
        np.testing.assert_allclose(got[:4] - P0[:4], want - P0[:4], rtol=1e-5, atol=1e-5 * kw["lr"])


# --------------------------------------------------------------------------- Accuracy
# Three examples, four steps, three classes, written so that the ways of reducing time
# judge the examples differently, and ties (the first maximum wins) decide some of them.
Y = np.array([
    [[1, 0, 0], [0, 2, 0], [0, 1, 0], [0, 0, 1]],  # steps 0 1 1 2; count [1 3 1]; max [1 2 1]
    [[0, 0, 0], [0, 0, 1], [1, 0, 1], [1, 1, 0]],  # steps 0 2 0 0 (ties); count [2 1 2] -> 0
    [[0.2, -0.5, 0.1], [0.1, 0.9, 0.3], [-1.0, 0.3, 0.85], [0.5, 0.5, 0.2]],  # 0 1 2 0 (tie)
], dtype=np.float32)  # ex2: counts [-0.2 1.2 1.45] -> 2; maxima [0.5 0.9 0.85] -> 1
LABELS = np.array([2, 0, 1])
# correct predictions of each example, by hand
BY_HAND = {"every-step": ([1, 3, 1], 4), "last": ([1, 1, 0], 1), "count": ([0, 1, 0], 1),
           "max": ([0, 1, 1], 1)}


@pytest.mark.parametrize("metric,mode", [
    (sg.metrics.Accuracy(), "every-step"), (sg.metrics.Accuracy(last_step=True), "last"),
    (sg.metrics.Accuracy(reduce_time="last"), "last"),
    (sg.metrics.Accuracy(reduce_time="count"), "count"),
    (sg.metrics.Accuracy(reduce_time="max"), "max"),
], ids=["every-step", "last_step", "last", "count", "max"])
def test_accuracy_by_hand(metric, mode):
    correct, per_example = BY_HAND[mode]
    for labels in (LABELS, np.eye(3)[LABELS]):  # sparse and one-hot
        target = metric.prepare(labels, Y.shape, "test")
        assert metric(Y, target) == (float(sum(correct)), 3 * per_example)
        for i in range(3):
            assert metric(Y[i:i + 1], target[i:i + 1]) == (correct[i], per_example), i


def test_accuracy_with_labels_that_change_over_time():
    per_step = np.array([[0, 1, 0, 2], [1, 2, 2, 1], [0, 0, 2, 1]])
    target = sg.metrics.Accuracy().prepare(per_step, Y.shape, "test")
    assert sg.metrics.Accuracy()(Y, target) == (6.0, 12)  # steps 0 1 3; 1; 0 2
    assert sg.metrics.Accuracy(reduce_time="last")(Y, target) == (1.0, 3)  # ex0 only
    # count and max are judged by the last step's label (2, 1, 1)
    assert sg.metrics.Accuracy(reduce_time="count")(Y, target) == (0.0, 3)  # 1, 0, 2
    assert sg.metrics.Accuracy(reduce_time="max")(Y, target) == (1.0, 3)  # 1, 0, 1: ex2


# --------------------------------------------------------------------------- LI readout
def li_steady_state(neuron, x, dt, steps=1000):
    """The LI dynamics themselves (the numba runtime's per-step update, run in Python)
    driven by a constant input until they settle: the value ``rates`` must return."""
    from snngraph.neurons.li import li_step

    x = np.atleast_2d(np.asarray(x, np.float64))
    n = x.shape[1]
    state = np.repeat(neuron.initial_state(n)[None].astype(np.float64), len(x), axis=0)
    out = np.zeros_like(x)
    params = neuron.kernel_params(n, dt).astype(np.float64)
    for _ in range(steps):
        li_step(dt, x, np.ones(n), np.zeros(n), out, state, params)
    return out


def test_li_rates_and_rate_gradient_follow_its_dynamics():
    """``LI.rate_grad`` (the generic central-difference fallback) against differences of
    the settled output of the LI update, and against the closed form
    ``amplitude * tau_syn / dt``: not against ``LI.rates`` itself."""
    neuron = sg.LI(tau_syn=0.004, tau_mem=0.02, v_leak=0.3, amplitude=1.5)
    dt = 0.002
    J = np.linspace(-3, 3, 7)
    settled = li_steady_state(neuron, J, dt)[0]
    # the update runs on float32 parameter rows (0.3 and dt / tau rounded): 1e-7
    np.testing.assert_allclose(neuron.rates(J, dt), settled, rtol=1e-7, atol=1e-7)
    h = 1e-3  # the output is affine in J: differences are exact up to rounding
    fd = (li_steady_state(neuron, J + h, dt) - li_steady_state(neuron, J - h, dt))[0] / (2 * h)
    np.testing.assert_allclose(neuron.rate_grad(J, dt), fd, rtol=1e-7)
    np.testing.assert_allclose(neuron.rate_grad(J, dt), 1.5 * 0.004 / dt, rtol=1e-7)
