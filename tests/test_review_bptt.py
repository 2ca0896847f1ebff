"""Review of training through time (issue 16, items 1 and 2).

1. The BPTT forward pass runs the network ``predict`` runs at any ``dt``: the same spikes
   for every neuron type BPTT supports and every encoder process, at two values of dt.
2. Per-neuron parameters (``Leaky(beta=array)``) have a rate curve, so everything that
   compiles such a network for the rate target works.
Also: bad inputs around ``dt`` and per-neuron parameters name the object, field, value and
a fix.
"""

from __future__ import annotations

import numpy as np
import pytest
from snngraph.runtimes.bptt.model import BpttModel, to_examples

import snngraph as sg

S = sg.surrogates
DTS = [0.001, 0.002]
STEPS, BATCH, N_IN, N_H = 16, 3, 6, 8
BETAS = np.linspace(0.55, 0.95, N_H)

NEURONS = {
    "leaky-subtract": lambda: sg.Leaky(0.8, threshold=0.7),
    "leaky-subtract-same-step": lambda: sg.Leaky(0.8, threshold=0.7, reset_delay=False),
    "leaky-zero": lambda: sg.Leaky(0.8, threshold=0.7, reset="zero"),
    "leaky-zero-same-step": lambda: sg.Leaky(0.8, threshold=0.7, reset="zero",
                                             reset_delay=False),
    "leaky-none": lambda: sg.Leaky(0.8, threshold=0.7, reset="none"),
    "leaky-per-neuron-beta": lambda: sg.Leaky(BETAS, threshold=0.7),
    "leaky-amplitude": lambda: sg.Leaky(0.8, threshold=0.7, amplitude=0.5),
    "cuba-detached": lambda: sg.CubaLIF(v_th=0.3),
    "cuba-attached": lambda: sg.CubaLIF(v_th=0.3, v_leak=0.05, v_reset=-0.1,
                                        detach_reset=False),
    "cuba-slow": lambda: sg.CubaLIF(tau_syn=0.008, tau_mem=0.02, v_th=0.2),
    "li": lambda: sg.LI(tau_syn=0.004, tau_mem=0.008),
    # stateless rate neurons run their rate curve in both (no dynamics to train through)
    "relu": lambda: sg.RectifiedLinear(amplitude=0.1),
    "lif-rate": lambda: sg.LIFRate(amplitude=0.01),
}
RATE = {"relu", "lif-rate"}
VOLTAGE_OR_RATE = {"li"} | RATE
LAYERS = [(name, recurrent) for name in NEURONS for recurrent in (False, True)
          if not (recurrent and name in RATE)]  # BPTT runs rate neurons outside loops only


def _fixed_gain(net: sg.Network) -> None:
    net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
    net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])


def _layer_net(neuron, recurrent: bool):
    """input -> dense -> neuron (-> delayed dense back into itself); probes the layer."""
    with sg.Network(seed=4) as net:
        _fixed_gain(net)
        inp = sg.Node(np.zeros(N_IN), label="input")
        h = sg.Ensemble(N_H, 1, neuron_type=neuron, label="h")
        sg.Connection(inp, h.neurons, synapse=None,
                      transform=sg.Dense((N_H, N_IN), init=sg.dists.Uniform(-0.4, 1.0)))
        if recurrent:
            sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1),
                          transform=sg.Dense((N_H, N_H), init=sg.dists.Uniform(-0.3, 0.3)))
        probes = [sg.Probe(h.neurons, label="h")]
    return net, probes


def _bptt_and_numba(bptt_forward, net, probes, x, dt, seed=0):
    """Each probe's output from the BPTT forward pass (the ``bptt_forward`` fixture,
    tests/conftest.py) and from ``predict``."""
    program = sg.compile(net, dt=dt)
    steps = x.shape[1] if x.ndim == 3 and x.shape[1] > 1 else STEPS
    ours = bptt_forward(program, x, probes, steps, seed=seed)
    with sg.Simulator(program, minibatch_size=2, seed=seed, progress_bar=False) as sim:
        ref = sim.predict(x, n_steps=steps)
    return [(o, ref[p]) for o, p in zip(ours, probes)]


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("name,recurrent", LAYERS,
                         ids=[f"{n}-{'recurrent' if r else 'feed-forward'}" for n, r in LAYERS])
def test_bptt_forward_equals_predict_for_every_neuron_type_and_dt(name, recurrent, dt,
                                                                  bptt_forward):
    """Item 1: BPTT used to build its kernels' parameters for dt = 1 ms whatever the
    program's dt (CubaLIF and LI integrate dt / tau)."""
    net, probes = _layer_net(NEURONS[name](), recurrent)
    x = np.random.default_rng(1).uniform(0, 1.5, (BATCH, STEPS, N_IN)).astype(np.float32)
    for ours, ref in _bptt_and_numba(bptt_forward, net, probes, x, dt):
        if name in VOLTAGE_OR_RATE:  # real values: the dense map's sums (BLAS here, a
            # loop there) may round differently in the last bit; the dynamics are the same
            assert np.abs(ref).max() > 0.1
            np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=1e-7)
            continue
        assert ref.sum() > 5 and not np.all(ref == ref.max())  # spikes, not saturated
        np.testing.assert_array_equal(ours, ref)


def _encoder_net(process, size_in: bool = True):
    """input -> encoder node -> dense -> Leaky; probes the encoder and the layer. A
    PresentInput (no input) is added to the input's current instead."""
    with sg.Network(seed=5) as net:
        _fixed_gain(net)
        inp = sg.Node(np.zeros(N_IN), label="input")
        h = sg.Ensemble(N_H, 1, neuron_type=sg.Leaky(0.8, threshold=0.7), label="h")
        if size_in:
            enc = sg.Node(process, size_in=N_IN, label="enc")
            sg.Connection(inp, enc, synapse=None, transform=2.0)
        else:
            enc = sg.Node(process, label="enc")
            sg.Connection(inp, h.neurons, synapse=None,
                          transform=sg.Dense((N_H, N_IN), init=sg.dists.Uniform(-0.3, 0.3)))
        sg.Connection(enc, h.neurons, synapse=None,
                      transform=sg.Dense((N_H, N_IN), init=sg.dists.Uniform(-0.2, 0.8)))
        probes = [sg.Probe(enc, label="enc"), sg.Probe(h.neurons, label="h")]
    return net, probes


ITEMS = np.random.default_rng(7).uniform(0, 1, (3, N_IN))
ENCODERS = {
    "poisson": (lambda: sg.PoissonEncoder(f_max=150.0), True),
    "poisson-amplitude": (lambda: sg.PoissonEncoder(f_max=300.0, amplitude=0.5), True),
    "constant-current-lif": (lambda: sg.ConstantCurrentLIFEncoder(tau_mem=0.005), True),
    "spike-latency-lif": (lambda: sg.SpikeLatencyLIFEncoder(tau_mem=0.01, v_th=0.6), True),
    "present-input": (lambda: sg.PresentInput(ITEMS, presentation_time=0.005), False),
}


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("over_time", [False, True], ids=["constant-input", "input-over-time"])
@pytest.mark.parametrize("name", list(ENCODERS))
def test_bptt_forward_equals_predict_for_every_encoder_and_dt(name, over_time, dt,
                                                               bptt_forward):
    """Item 1: Poisson encoders drew numpy random numbers in BPTT and the counter hash
    in the numba runtime; PresentInput could not feed BPTT at all; an encoder could
    not read an input that changes over time."""
    make, size_in = ENCODERS[name]
    net, probes = _encoder_net(make(), size_in)
    rng = np.random.default_rng(2)
    shape = (BATCH, STEPS, N_IN) if over_time else (BATCH, N_IN)
    x = rng.uniform(0, 1, shape).astype(np.float32)
    (enc, enc_ref), (h, h_ref) = _bptt_and_numba(bptt_forward, net, probes, x, dt, seed=3)
    assert enc_ref.any() and h_ref.sum() > 5
    np.testing.assert_array_equal(enc, enc_ref)
    np.testing.assert_array_equal(h, h_ref)


def test_poisson_draws_are_the_counter_hash_of_example_step_and_seed():
    """The draw depends on (seed, op, example, step) only: a minibatch of the later
    examples draws what those examples drew in a larger batch, segments of a
    checkpointed forward draw what the whole forward drew, and another seed differs."""
    net, probes = _encoder_net(sg.PoissonEncoder(f_max=200.0))
    program = sg.compile(net)
    enc = program.op_of(probes[0])
    x = np.random.default_rng(0).uniform(0, 1, (4, 1, N_IN)).astype(np.float32)

    def draw(seed=0, rows=slice(None), every=None, examples=None):
        model = BpttModel(program, seed=seed)
        if examples is not None:
            model.examples = examples
        feed = {"%input": x[rows]}
        n = len(x[rows])
        if every:
            values, _ = model.forward_segments(feed, [enc], STEPS, n, every)
        else:
            values, _ = model.forward_steps(feed, [enc], STEPS, n)
        return to_examples(values[enc], STEPS, n).copy()

    full = draw()
    assert full.any()
    np.testing.assert_array_equal(draw(rows=slice(2, 4), examples=np.arange(2, 4)), full[2:])
    np.testing.assert_array_equal(draw(every=5), full)
    assert not np.array_equal(draw(seed=1), full)


def test_fit_through_time_draws_new_poisson_spikes_each_epoch_and_predict_agrees():
    """Training sees fresh noise every epoch (the epoch enters the draw's seed), and
    evaluating with the BPTT model (validation) draws what ``predict`` draws."""
    net, probes = _encoder_net(sg.PoissonEncoder(f_max=200.0))
    x = np.random.default_rng(0).uniform(0, 1, (6, N_IN)).astype(np.float32)
    y = np.arange(6) % N_H
    with sg.Simulator(net, progress_bar=False, minibatch_size=6) as sim:
        from snngraph.runtimes.training.methods import BpttMethod

        seen = []
        run = BpttMethod.run

        def spy(self, feeds, idx, steps, outputs, train, epoch):
            out = run(self, feeds, idx, steps, outputs, train, epoch)
            enc = self.model.ir.inputs(sim.training_program.op_of(probes[0]))[0]
            seen.append((train, out[2][enc].copy()))
            return out

        BpttMethod.run = spy
        try:
            sim.fit(x, {probes[1]: y}, epochs=2, n_steps=STEPS, method="bptt", verbose=0,
                    shuffle=False, optimizer=sg.optim.SGD(lr=1e-6),
                    validation_data=(x, {probes[1]: y}))
        finally:
            BpttMethod.run = run
        ref = sim.predict(x, n_steps=STEPS)[probes[0]]
    train = [v for t, v in seen if t]
    valid = [v for t, v in seen if not t]
    assert len(train) >= 2 and not np.array_equal(train[0], train[1])
    ours = valid[0].reshape(STEPS, 6, N_IN).transpose(1, 0, 2)
    np.testing.assert_array_equal(ours, ref)


# --------------------------------------------------------------------------- item 2
def _per_neuron_net():
    with sg.Network(seed=6) as net:
        inp = sg.Node(np.zeros(N_IN), label="input")
        h = sg.Ensemble(N_H, 1, neuron_type=sg.Leaky(BETAS, threshold=0.5), label="h")
        sg.Connection(inp, h.neurons, synapse=None,
                      transform=sg.Dense((N_H, N_IN), init=sg.dists.Uniform(-0.5, 1.0)))
        o = sg.Ensemble(3, 1, neuron_type=sg.LI(), label="o")
        sg.Connection(h.neurons, o.neurons, synapse=None,
                      transform=sg.Dense((3, N_H), init=sg.dists.Uniform(-1, 1)))
        probe = sg.Probe(o.neurons, label="p")
    return net, probe


@pytest.mark.parametrize("reset,delay", [("subtract", True), ("subtract", False),
                                         ("zero", True), ("none", True)])
def test_per_neuron_beta_rate_curve_is_each_neurons_own(reset, delay):
    """Item 2: ``rates`` broadcast beta to the shape of J, which fails for J of one value
    (the rate pass probes the curve with ``np.zeros(1)``); each neuron's column of the
    curve is the scalar-beta curve of its own beta."""
    neuron = sg.Leaky(BETAS, threshold=0.5, reset=reset, reset_delay=delay)
    assert neuron.rates(np.zeros(1)).shape == (N_H,)
    J = np.linspace(-0.2, 1.2, 9)[:, None] * np.ones(N_H)
    got = neuron.rates(J)
    for i, beta in enumerate(BETAS):
        one = sg.Leaky(float(beta), threshold=0.5, reset=reset, reset_delay=delay)
        np.testing.assert_allclose(got[:, i], one.rates(J[:, i]), err_msg=str(i))
    grad = neuron.rate_grad(J)
    assert grad.shape == J.shape and np.all(np.isfinite(grad))


def test_per_neuron_beta_saves_loads_freezes_and_fits_by_rate(tmp_path):
    """Item 2: all four calls compile the network for the rate target."""
    net, probe = _per_neuron_net()
    x = np.random.default_rng(0).uniform(0, 1, (16, N_IN)).astype(np.float32)
    y = np.arange(16) % 3
    with sg.Simulator(net, progress_bar=False) as sim:
        history = sim.fit(x, {probe: y}, epochs=1, method="rate", verbose=0)
        assert history.method == "rate" and np.isfinite(history["loss"][-1])
        path = sim.save_params(tmp_path / "p.npz")
        sim.load_params(path)
        sim.freeze_params()
    frozen = next(e for e in net.all_ensembles if e.label == "h").neuron_type
    np.testing.assert_array_equal(frozen.beta, BETAS)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.load_params(path)
        assert sim.predict(x[:2], n_steps=4)[probe].shape == (2, 4, 3)


# --------------------------------------------------------------------------- bad inputs
def _message(exc_info) -> str:
    return str(exc_info.value)


@pytest.mark.parametrize("dt", [0, -0.001, float("nan"), float("inf"), "1ms"])
def test_simulator_dt_not_a_positive_finite_number_is_named_with_a_fix(dt):
    """It was reported as ``compile: dt must be ...``: not naming the Simulator's argument
    and with no fix."""
    net, _ = _layer_net(sg.Leaky(0.8), recurrent=False)
    with pytest.raises(sg.ValidationError) as err:
        sg.Simulator(net, dt=dt, progress_bar=False)
    msg = _message(err)
    assert "Simulator.dt" in msg and repr(dt) in msg and "fix:" in msg and "seconds" in msg
    assert err.value.field == "dt"


def test_compile_dt_not_finite_names_the_value_and_a_fix():
    net, _ = _layer_net(sg.Leaky(0.8), recurrent=False)
    with pytest.raises(sg.CompileError) as err:
        sg.compile(net, dt=float("nan"))
    msg = _message(err)
    assert "compile" in msg and "dt" in msg and "nan" in msg and "fix:" in msg
    assert "dt=0.001" in msg


def test_simulator_dt_other_than_the_programs_is_an_error_not_ignored():
    """A Program is compiled for one dt; ``Simulator(program, dt=0.002)`` ran it at the
    program's 1 ms without a word."""
    net, _ = _layer_net(sg.CubaLIF(), recurrent=False)
    program = sg.compile(net, dt=0.001)
    with pytest.raises(sg.ValidationError) as err:
        sg.Simulator(program, dt=0.002, progress_bar=False)
    msg = _message(err)
    assert "Simulator.dt" in msg and "0.002" in msg and "0.001" in msg
    assert "fix:" in msg and "sg.compile(" in msg
    with sg.Simulator(program, dt=0.001, progress_bar=False) as sim:  # the same: fine
        assert sim.dt == 0.001
    with sg.Simulator(program, progress_bar=False) as sim:  # not given: the program's
        assert sim.dt == 0.001


def test_leaky_beta_empty_array_is_rejected():
    """``Leaky(beta=[])`` was accepted (a per-neuron beta for no neuron)."""
    with pytest.raises(sg.ValidationError) as err:
        sg.Leaky(beta=[])
    msg = _message(err)
    assert "Leaky.beta" in msg and "[]" in msg and "one value per neuron" in msg
    assert "test_review_bptt.py" in msg and "fix: beta=0.9" in msg


def test_poisson_reference_draws_what_the_runtimes_draw():
    """``PoissonEncoder.run(seed=...)`` (numpy, the same hash functions the kernels
    compile) gives the numba runtime's and BPTT's spikes."""
    from snngraph.runtimes.numba_cpu.backend import op_ids

    encoder = sg.PoissonEncoder(f_max=250.0, amplitude=2.0)
    net, probes = _encoder_net(encoder)
    x = np.random.default_rng(4).uniform(0, 1, (5, N_IN)).astype(np.float32)
    for dt in DTS:
        program = sg.compile(net, dt=dt)
        probe = program.op_of(probes[0])
        enc = program.ir.inputs(probe)[0]
        with sg.Simulator(program, minibatch_size=2, seed=9, progress_bar=False) as sim:
            ref = sim.predict(x, n_steps=STEPS)[probe]
        ours = encoder.run(2.0 * x, STEPS, dt, seed=9, op_id=op_ids(program.ir)[enc])
        assert ref.any()
        np.testing.assert_array_equal(ours.transpose(1, 0, 2), ref)
        one = encoder.run(2.0 * x[3], STEPS, dt, seed=9, op_id=op_ids(program.ir)[enc],
                          example0=3)
        np.testing.assert_array_equal(one, ref[3])
