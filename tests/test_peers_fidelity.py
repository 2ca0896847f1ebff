"""snngraph's neurons, losses, encoders and surrogates against snnTorch 1.0.0 and Norse 1.1.0.

``fixtures/peers/peers.npz`` was recorded by ``fixtures/peers/make_peers.py`` (torch is a
tool for making it, not a dependency); each neuron case is ``x -> Linear(W) -> neuron``
stepped from zero state, with the gradients of ``L = sum(c * spikes)`` (``sum(c * v)`` for
the leaky integrator). Here the same networks run through training's forward and reverse
passes: spikes must be equal step for step, voltages and gradients equal to float32
tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from snngraph.runtimes.bptt.model import BpttModel, to_examples, to_time_major

import snngraph as sg

DATA = np.load(Path(__file__).parent / "fixtures/peers/peers.npz")
S = sg.surrogates


def case(name: str) -> dict[str, np.ndarray]:
    return {k.split(".", 1)[1]: DATA[k] for k in DATA.files if k.startswith(name + ".")}


def _run(neuron, d, recurrent=None, rec_bias=None, autapses=True):
    """Build ``x -> Dense(W) -> neuron (-> Dense(V) -> Delay(1) -> neuron)``, run the
    fixture's input and loss; return spikes/outputs [T, B, N], the neuron tape, and the
    gradients by role."""
    steps, batch, m = d["x"].shape
    n = d["w"].shape[0]
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(m), label="input")
        h = sg.Ensemble(n, 1, neuron_type=neuron, gain=np.ones(n), bias=np.zeros(n),
                        label="h")
        sg.Connection(inp, h.neurons, transform=sg.Dense((n, m), init=d["w"]), synapse=None)
        if recurrent is not None:
            sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1),
                          transform=sg.Dense((n, n), init=recurrent, autapses=autapses,
                                             bias=rec_bias if rec_bias is not None else None))
        probe = sg.Probe(h.neurons, label="p")
    program = sg.compile(net)
    ir = program.ir
    model = BpttModel(program)
    out = program.op_of(probe)
    x = np.ascontiguousarray(d["x"].transpose(1, 0, 2))
    values, tape = model.forward_steps({"%input": x}, [out], steps, batch)
    y = to_examples(values[out], steps, batch).transpose(1, 0, 2)
    coef = np.ascontiguousarray(d["c"].transpose(1, 0, 2), np.float32)
    grads = model.backward_steps(values, tape, {out: to_time_major(coef)})
    roles = {}
    for op in ir.ops():
        if op.op == "linear":
            source = ir.inputs(op.name)[0]
            role = "v" if ir.op(source).op == "delay" else "w"
            roles[role] = grads.get(op.weights)
            if op.bias:
                roles[role + "b"] = grads.get(op.bias)
    saved = tape["%h"]
    saved = saved.saved if hasattr(saved, "saved") else saved[0]  # fused layer, or block op
    return y, saved, roles


def _close(ours, theirs, what, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


LEAKY = {
    "leaky_sub": dict(surrogate=S.FastSigmoid(25)),
    "leaky_nodelay": dict(reset_delay=False, surrogate=S.FastSigmoid(25)),
    "leaky_zero": dict(reset="zero", surrogate=S.FastSigmoid(25)),
    "leaky_none": dict(reset="none", surrogate=S.FastSigmoid(25)),
    "leaky_atan": dict(),  # snnTorch's default spike_grad, snngraph Leaky's default too
}


@pytest.mark.parametrize("name", list(LEAKY))
def test_leaky_equals_snntorch(name):
    d = case(name)
    y, saved, grads = _run(sg.Leaky(beta=d["beta"], **LEAKY[name]), d)
    assert d["spk"].sum() > 10
    assert np.array_equal(y, d["spk"]), "spike trains differ"
    if LEAKY[name].get("reset_delay", True):  # snnTorch returns the membrane before reset
        _close(saved[:, :, 0], d["mem"], "membrane")
    _close(grads["w"], d["grad_w"], "dL/dW")


def test_recurrent_leaky_equals_snntorch_rleaky():
    d = case("rleaky")
    y, saved, grads = _run(sg.Leaky(0.9, surrogate=S.FastSigmoid(25)), d,
                           recurrent=d["v"], rec_bias=d["vb"])
    assert np.array_equal(y, d["spk"])
    _close(saved[:, :, 0], d["mem"], "membrane")
    for role, key in (("w", "grad_w"), ("v", "grad_v"), ("vb", "grad_vb")):
        _close(grads[role], d[key], key)


def test_cuba_lif_equals_norse_lif_cell():
    d = case("norse_lif")
    neuron = sg.CubaLIF(v_th=0.5, detach_reset=False, surrogate=S.SuperSpike(alpha=1.0))
    y, saved, grads = _run(neuron, d)
    assert d["spk"].sum() > 10 and np.array_equal(y, d["spk"])
    _close(np.where(y > 0, 0.0, saved[:, :, 0]), d["mem"], "voltage after reset")
    _close(grads["w"], d["grad_w"], "dL/dW")


def test_recurrent_cuba_lif_equals_norse_lif_recurrent_cell():
    d = case("norse_lif_recurrent")
    neuron = sg.CubaLIF(v_th=0.5, surrogate=S.SuperSpike(alpha=1.0))  # detached reset
    y, saved, grads = _run(neuron, d, recurrent=d["v"], autapses=False)
    assert d["spk"].sum() > 10 and np.array_equal(y, d["spk"])
    _close(np.where(y > 0, 0.0, saved[:, :, 0]), d["mem"], "voltage after reset")
    _close(grads["w"], d["grad_w"], "dL/d input weights")
    _close(grads["v"], d["grad_v"], "dL/d recurrent weights (diagonal kept at zero)")


def test_li_equals_norse_li_cell():
    d = case("norse_li")
    y, _, grads = _run(sg.LI(), d)
    _close(y, d["mem"], "voltage")
    _close(grads["w"], d["grad_w"], "dL/dW")


def test_losses_equal_snntorch_and_norse_decoding():
    d = case("losses")
    spk = np.ascontiguousarray(d["spk"].transpose(1, 0, 2))  # [B, T, C]
    labels = d["labels"][:, None]
    for loss, key in ((sg.losses.CrossEntropyRate(), "ce_rate"),
                      (sg.losses.CrossEntropyCount(), "ce_count"),
                      (sg.losses.MSECount(0.8, 0.2), "mse_count")):
        value, grad = loss(spk, labels)
        assert value == pytest.approx(d[key].item(), rel=1e-5), key
        _close(grad.transpose(1, 0, 2), d[key + "_grad"], key)
    vout = np.ascontiguousarray(d["vout"].transpose(1, 0, 2))
    value, grad = sg.losses.CrossEntropy(reduce_time="max")(vout, labels)
    assert value == pytest.approx(d["ce_max"].item(), rel=1e-5)
    _close(grad.transpose(1, 0, 2), d["ce_max_grad"], "max over time")
    total, count = sg.metrics.Accuracy(reduce_time="count")(spk, labels)
    assert total / count == pytest.approx(d["accuracy_rate"].item())


def test_encoders_equal_norse():
    d = case("encoders")
    assert np.array_equal(sg.ConstantCurrentLIFEncoder().run(d["x"], 32),
                          d["constant_current"])
    assert np.array_equal(sg.SpikeLatencyLIFEncoder().run(d["x"], 32), d["latency"])


def test_surrogates_equal_the_peers():
    d = case("surrogates")
    x = d["x"]
    _close(S.FastSigmoid(25)(x), d["fast_sigmoid_25"], "fast sigmoid")
    _close(S.ATan(2)(x), d["atan_2"], "atan")
    _close(S.SigmoidSurrogate(25)(x), d["sigmoid_25"], "sigmoid")
    _close(S.SuperSpike(alpha=1)(x), d["norse_super_alpha100"], "Norse super (alpha unused)")
