"""NEF lowering: decoders are the solution of Nengo's regularised least squares problem,
and they decode well in rate mode."""

import numpy as np
import pytest
from snngraph.runtimes.reference import evaluate

import snngraph as sg


def square_net(neuron_type=None, seed=0, eval_points=None):
    with sg.Network(seed=seed) as net:
        stim = sg.Node([0.0], label="x")
        ens = sg.Ensemble(100, 1, neuron_type=neuron_type or sg.LIF(), label="ens")
        out = sg.Node(size_in=1, label="out")
        sg.Connection(stim, ens, synapse=None)
        conn = sg.Connection(ens, out, function=lambda x: x**2, synapse=None,
                             eval_points=eval_points)
        probe = sg.Probe(out, label="p")
    return net, stim, ens, conn, probe


@pytest.mark.parametrize("neuron_type", [sg.LIF(), sg.LIFRate(), sg.RectifiedLinear()],
                         ids=["LIF", "LIFRate", "ReLU"])
def test_decoding_x_squared_in_rate_mode(neuron_type):
    net, stim, _, _, probe = square_net(neuron_type)
    program = sg.compile(net, target="rate")
    x = np.linspace(-1, 1, 201)[:, None]
    values = evaluate(program.ir, {program.op_of(stim): x}, batch=len(x))
    rmse = np.sqrt(np.mean((values[program.op_of(probe)][:, 0] - x[:, 0] ** 2) ** 2))
    assert rmse < 0.05


def test_decoders_solve_the_regularised_normal_equations():
    points = np.linspace(-1, 1, 300)[:, None]
    net, _, ens, conn, _ = square_net(eval_points=points)
    ir = sg.compile(net, target="rate", passes=["schedule"]).ir
    neurons = ir.op(ir.objects[id(ens.neurons)])
    enc = next(op for op in ir.ops() if op.op == "linear" and op.role == "encoders")
    A = ens.neuron_type.rates(ir.params[neurons.gain] * (points @ ir.params[enc.weights].T)
                              + ir.params[neurons.bias])
    sigma = 0.1 * A.max()  # LstsqL2(reg=0.1), Nengo's default
    expected = np.linalg.solve(A.T @ A + len(points) * sigma**2 * np.eye(100), A.T @ points**2)
    D = ir.params[ir.op(ir.objects[id(conn)]).weights].T
    np.testing.assert_allclose(D, expected, rtol=1e-8, atol=1e-12)


def test_same_seed_same_ir_bit_for_bit():
    a = sg.compile(square_net(seed=3)[0])
    b = sg.compile(square_net(seed=3)[0])
    c = sg.compile(square_net(seed=4)[0]).params
    assert a.to_doc().model_dump(exclude={"timings"}) == b.to_doc().model_dump(
        exclude={"timings"})
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert any(not np.array_equal(a.params[k], c[k]) for k in a.params if k in c)
