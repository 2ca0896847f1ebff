"""Fused mode (the whole time loop generated as one Numba function) gives exactly what
the op-by-op loop gives, on the workload networks and on NEF networks."""

import numpy as np
import pytest

import snngraph as sg


def nef_chain():
    with sg.Network(seed=3) as net:
        stim = sg.Node(lambda t: [np.sin(8 * t), np.cos(5 * t)], label="stim")
        prev = stim
        for i in range(3):
            ens = sg.Ensemble(60, 2, label=f"e{i}")
            sg.Connection(prev, ens, synapse=sg.Alpha(0.004) if i == 1 else 0.005)
            prev = ens
        sg.Probe(prev, synapse=0.01)
        sg.Probe(ens.neurons, "voltage")
    return net


NETWORKS = {  # built from the ``example`` fixture (tests/conftest.py)
    "w3-poisson": lambda example: example("w3_norse_recurrent").build(encoder="poisson"),
    "w4": lambda example: example("w4_snntorch_conv").build(),
    "w5": lambda example: example("w5_snntorch_recurrent").build(),
    "w2-loihi": lambda example: example("w2_keras_to_loihi").build(
        neuron_type=sg.LoihiSpikingRectifiedLinear()),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_fused_equals_loop_on_workloads(name, example):
    net = NETWORKS[name](example)
    program = sg.compile(net)
    rng = np.random.default_rng(0)
    inputs = [op for op in program.ir.ops() if op.op == "input"]
    x = {op.name: rng.random((3, op.size)).astype(np.float32) for op in inputs}
    results = []
    for fuse in (False, True):
        with sg.Simulator(program, minibatch_size=2, fuse=fuse, progress_bar=False) as sim:
            results.append(sim.predict(x, n_steps=12))
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=str(key))


def test_fused_equals_loop_on_nef_and_continues_across_runs():
    program = sg.compile(nef_chain())
    data = []
    for fuse in (False, True):
        with sg.Simulator(program, fuse=fuse, progress_bar=False) as sim:
            sim.run_steps(40)
            sim.run_steps(25)  # state, filters and time carry over between runs
            data.append(sim.data)
    for key in data[0]:
        np.testing.assert_array_equal(data[0][key], data[1][key], err_msg=str(key))


def test_fused_cached_once_a_structure_ran(tmp_path, monkeypatch):
    """A structure's fused loop is known as compiled (any process may then load it from
    Numba's disk cache) only after it ran; the same network rebuilt finds it."""
    monkeypatch.setenv("SNNGRAPH_CACHE", str(tmp_path))
    with sg.Simulator(nef_chain(), fuse=True) as sim:
        assert not sim.fused_cached()
        sim.run_steps(5)
        assert sim.fused_cached()
    with sg.Simulator(nef_chain(), fuse=False) as again:
        assert again.fused_cached()
    assert list(tmp_path.glob("fused/*.ran"))
