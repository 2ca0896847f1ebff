"""Neuron cells driven directly by a current, against snnTorch 1.0.0 and Norse 1.1.0.

``fixtures/peers/peers_direct.npz`` (made by ``fixtures/peers/make_peers_direct.py``; its
README lists every key) steps each peer cell from zero state with the current ``x[t]``
and records the state after every step, with the gradients of
``L = sum(c_spk * spikes) + sum(c_mem * membrane)`` with respect to ``x``. Here each
neuron type's own training kernels (``bptt_kernels``) run the same steps: spikes must be
equal step for step, every state and ``dL/dx`` equal to float32 tolerance. The membrane
term of the loss enters as the adjoint of the state each step carries on, which is what
the peers' returned membrane is (before the delayed reset for snnTorch's default, after
the same-step reset with ``reset_delay=False``; after the reset for Norse).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from snngraph.runtimes.bptt.model import BpttModel, to_examples
from snngraph.runtimes.numba_cpu.backend import jit

import snngraph as sg

DATA = np.load(Path(__file__).parent / "fixtures/peers/peers_direct.npz")
S = sg.surrogates


def case(name: str) -> dict[str, np.ndarray]:
    return {k.split(".", 1)[1]: DATA[k] for k in DATA.files if k.startswith(name + ".")}


def _drive(neuron, x, c_out, c_state):
    """Step ``neuron``'s kernels through ``x`` [T, B, n] one step at a time; return the
    outputs and the state after each step, and ``dL/dx`` for
    ``L = sum(c_out * out) + sum(c_state * state[:, :, 0])``."""
    fwd, bwd = (jit(k) for k in neuron.bptt_kernels())
    steps, batch, n = x.shape
    params = np.ascontiguousarray(neuron.kernel_params(n, 0.001), np.float32)
    k = max(neuron.bptt_saved, 1)
    state = np.ascontiguousarray(np.broadcast_to(neuron.initial_state(n), (batch, len(
        neuron.state), n)), np.float32)
    out = np.zeros((steps, batch, n), np.float32)
    saved = np.zeros((steps, batch, k, n), np.float32)
    states = np.zeros((steps, *state.shape), np.float32)
    J = np.ascontiguousarray(x, np.float32)
    for t in range(steps):
        fwd(J[t:t + 1], state, params, -1, 0.0, out[t:t + 1], saved[t:t + 1], 0, batch)
        states[t] = state
    code, a = neuron.training_surrogate().kernel_args() if neuron.spiking else (0, 1.0)
    adj = np.zeros_like(state)
    dJ = np.zeros_like(out)
    dy = np.ascontiguousarray(c_out, np.float32)
    for t in range(steps - 1, -1, -1):
        adj[:, 0] += c_state[t]  # d L / d (the state this step hands on)
        bwd(dy[t:t + 1], saved[t:t + 1], params, code, a, -1, 0.0, adj, dJ[t:t + 1], 0,
            batch)
    return out, states, dJ


def _close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-5, err_msg=what)


LEAKY = {
    "leaky_sub": dict(surrogate=S.FastSigmoid(25)),
    "leaky_sub_nodelay": dict(reset_delay=False, surrogate=S.FastSigmoid(25)),
    "leaky_sub_nodelay_big": dict(reset_delay=False, surrogate=S.FastSigmoid(25)),
    "leaky_zero": dict(reset="zero", surrogate=S.FastSigmoid(25)),
    "leaky_none": dict(reset="none", surrogate=S.FastSigmoid(25)),
    "leaky_atan": dict(),  # snnTorch's default spike_grad, Leaky's default too
}


@pytest.mark.parametrize("name", list(LEAKY))
def test_leaky_cell_equals_snntorch_step_for_step(name):
    d = case(name)
    neuron = sg.Leaky(beta=d["beta"], **LEAKY[name])
    spk, states, dx = _drive(neuron, d["x"], d["c_spk"], d["c_mem"])
    assert 10 < d["spk"].sum() < d["spk"].size - 10
    assert np.array_equal(spk, d["spk"]), "spike trains differ"
    _close(states[:, :, 0], d["mem"], "membrane returned each step")
    _close(dx, d["grad_x"], "dL/dx")


def test_big_inputs_exercise_snntorch_double_reset_guard():
    """With reset_delay=False and inputs that push the membrane past 2 theta, snnTorch
    subtracts (S - R) theta: a neuron still above threshold after its same-step reset
    fires again without a second subtraction. The fixture holds such steps."""
    d = case("leaky_sub_nodelay_big")
    before = np.concatenate([np.zeros_like(d["mem"][:1]), d["mem"][:-1]])
    assert ((before > 1.0) & (d["spk"] > 0)).any()


def test_norse_lif_cell_equals_norse_step_for_step():
    d = case("norse_lif")
    neuron = sg.CubaLIF(v_th=0.5, detach_reset=False, surrogate=S.SuperSpike(alpha=1.0))
    z, states, dx = _drive(neuron, d["x"], d["c_spk"], d["c_mem"])
    assert d["z"].sum() > 10 and np.array_equal(z, d["z"])
    _close(states[:, :, 0], d["v"], "voltage after the reset")
    _close(states[:, :, 1], d["i"], "synaptic current after the decay")
    _close(dx, d["grad_x"], "dL/dx")


def test_norse_li_cell_equals_norse_step_for_step():
    d = case("norse_li")
    v, states, dx = _drive(sg.LI(), d["x"], d["c_mem"], np.zeros_like(d["c_mem"]))
    _close(v, d["v"], "voltage (the output)")
    _close(states[:, :, 1], d["i"], "current after the decay")
    _close(dx, d["grad_x"], "dL/dx")


def _recurrent_layer(neuron, w_in, w_rec, b_rec=None, autapses=True):
    n, m = w_in.shape
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(m), label="input")
        h = sg.Ensemble(n, 1, neuron_type=neuron, gain=np.ones(n), bias=np.zeros(n),
                        label="h")
        sg.Connection(inp, h.neurons, transform=sg.Dense((n, m), init=w_in), synapse=None)
        sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1),
                      transform=sg.Dense((n, n), init=w_rec, bias=b_rec, autapses=autapses))
        probe = sg.Probe(h.neurons)
    return net, probe


def _run_layer(net, probe, x):
    program = sg.compile(net)
    model = BpttModel(program)
    out = program.op_of(probe)
    steps, batch, _ = x.shape
    values, tape = model.forward_steps({"%input": np.ascontiguousarray(x.transpose(1, 0, 2))},
                                       [out], steps, batch)
    spikes = to_examples(values[out], steps, batch).transpose(1, 0, 2)
    return spikes, tape["%h"].saved


def test_rleaky_with_bias_equals_snntorch():
    """snnTorch's RLeaky (all to all, with the recurrent bias added at every step,
    t = 0 included) as Leaky + Dense(bias) + Delay(1)."""
    d = case("rleaky")
    net, probe = _recurrent_layer(sg.Leaky(0.9, surrogate=S.FastSigmoid(25)),
                                  np.eye(10, dtype=np.float32), d["V_weight"], d["V_bias"])
    spk, saved = _run_layer(net, probe, d["x"])
    assert np.array_equal(spk, d["spk"])
    _close(saved[:, :, 0], d["mem"], "membrane")


def test_norse_lif_recurrent_cell_equals_norse():
    d = case("norse_lif_recurrent")
    net, probe = _recurrent_layer(sg.CubaLIF(v_th=0.5, surrogate=S.SuperSpike(alpha=1.0)),
                                  d["input_weights"], d["recurrent_weights"], autapses=False)
    z, saved = _run_layer(net, probe, d["x"])
    assert d["z"].sum() > 10 and np.array_equal(z, d["z"])
    _close(np.where(z > 0, 0.0, saved[:, :, 0]), d["v"], "voltage after the reset")


def test_triangle_and_heaviside_equal_norse_and_snntorch():
    d = case("surrogates")
    x = d["x"]
    for alpha, key in ((100.0, "norse_triangle_alpha100"), (0.3, "norse_triangle_alpha0p3")):
        _close(alpha * S.Triangle(width=1.0)(x), d[key], key)
    # the forward spike every run uses: strict, no spike at the threshold itself
    heaviside = np.array([S.spike(-1, 0.0, float(v)) for v in x], np.float32)
    assert np.array_equal(heaviside, d["forward_snntorch"])
    assert np.array_equal(heaviside, d["forward_norse"])
    _close(S.FastSigmoid(25)(x), d["fast_sigmoid_25"], "fast sigmoid")
    _close(S.ATan(2)(x), d["atan_2"], "atan")
    _close(S.SuperSpike(alpha=1)(x), d["norse_super"], "Norse super")
