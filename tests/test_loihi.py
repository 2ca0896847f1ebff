"""The Loihi target: split_host_chip, partition, discretize, the emulator backend."""

from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
from snngraph.compiler.passes.partition import ResourceError

import snngraph as sg
from snngraph.errors import CompileError


def _rates_net(n: int = 120):
    lif_j = np.linspace(1.05, 40, n)
    relu_j = np.linspace(3, 990, n)
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(n, 1, neuron_type=sg.LoihiLIF(), gain=sg.dists.Choice([1.0]),
                        bias=lif_j)
        b = sg.Ensemble(n, 1, neuron_type=sg.LoihiSpikingRectifiedLinear(),
                        gain=sg.dists.Choice([1.0]), bias=relu_j)
        pa, pb = sg.Probe(a.neurons), sg.Probe(b.neurons)
    return net, [(pa, a, lif_j), (pb, b, relu_j)]


def test_measured_periods_equal_rate_curves():
    """Constant input: every neuron fires with a constant whole-step period, and that
    period is exactly the one the Loihi rate curve predicts."""
    net, cases = _rates_net()
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1500)
        for probe, ens, current in cases:
            spikes = sim.data[probe][0] > 0
            expected = np.round(1.0 / (ens.neuron_type.rates(current) * 0.001
                                       / ens.neuron_type.amplitude))
            for i in range(len(current)):
                gaps = np.unique(np.diff(np.flatnonzero(spikes[:, i])))
                assert list(gaps) == [expected[i]], (type(ens.neuron_type).__name__, i)


def _dense_net(seed: int = 0, recurrent: bool = True, tau: float = 0.005):
    rng = np.random.default_rng(seed)
    with sg.Network(seed=seed) as net:
        inp = sg.Node(rng.choice([0, 62.5, 125, 250, 500], 30))
        host = sg.Ensemble(30, 1, neuron_type=sg.SpikingRectifiedLinear(),
                           gain=sg.dists.Choice([1.0]), bias=sg.dists.Choice([0.0]),
                           label="host")
        net.config[host].on_chip = False
        sg.Connection(inp, host.neurons, synapse=None)
        a = sg.Ensemble(50, 1, neuron_type=sg.LoihiLIF(), gain=rng.uniform(0.5, 2, 50),
                        bias=rng.uniform(-1, 1.5, 50), label="a")
        sg.Connection(host.neurons, a.neurons, transform=rng.normal(size=(50, 30)) * 0.1,
                      synapse=tau)
        if recurrent:
            sg.Connection(a.neurons, a.neurons, transform=rng.normal(size=(50, 50)) * 0.05,
                          synapse=tau)
        b = sg.Ensemble(20, 1, neuron_type=sg.LoihiSpikingRectifiedLinear(),
                        gain=rng.uniform(0.5, 2, 20), bias=rng.uniform(0, 20, 20), label="b")
        sg.Connection(a.neurons, b.neurons, transform=rng.normal(size=(20, 50)) * 0.2,
                      synapse=tau)
        probes = [sg.Probe(a.neurons, label="pa"), sg.Probe(b.neurons, label="pb")]
    return net, probes


def test_split_host_chip_dump_shows_the_boundary():
    net, _ = _dense_net()
    text = str(sg.compile(net, target="loihi"))
    assert "spike_input(%host)" in text and "spike_output(%a)" in text
    assert "split_host_chip: 2 ensemble(s) on chip" in text
    assert "discretize: w_exp" in text and "partition: 1 block(s)" in text


def test_emulator_follows_the_float_model():
    """The integer chip and the float Loihi neuron models on numba agree on rates."""
    net, probes = _dense_net()
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(400)
        chip = [sim.data[p][0].sum(0) for p in probes]
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(400)
        ref = [sim.data[p][0].sum(0) for p in probes]
    for c, r in zip(chip, ref):
        assert np.abs(c - r).max() <= 0.1 * np.abs(r).max()  # a few spikes in 400 steps


def test_minibatch_examples_are_independent_and_runs_continue():
    net, probes = _dense_net(recurrent=True)
    with sg.Simulator(net, backend="loihi", minibatch_size=3, progress_bar=False) as sim:
        sim.run_steps(60)
        sim.run_steps(40)
        a = sim.data[probes[0]]
    assert a.shape[:2] == (3, 100)
    assert np.array_equal(a[0], a[1]) and np.array_equal(a[0], a[2])
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(100)
        assert np.array_equal(sim.data[probes[0]][0], a[0])
    # 8 examples run the parallel kernels, fewer the serial ones: the same integers
    with sg.Simulator(net, backend="loihi", minibatch_size=8, progress_bar=False) as sim:
        sim.run_steps(100)
        assert all(np.array_equal(row, a[0]) for row in sim.data[probes[0]])


def _chip_run(net, probes, fused: bool, batch: int):
    with sg.Simulator(net, backend="loihi", minibatch_size=batch, progress_bar=False) as sim:
        chip = sim._backend.chip
        assert chip.fused  # dense connections only: the whole-run kernel by default
        chip.fused = fused
        sim.run_steps(37)
        sim.run_steps(63)  # runs continue: state, last spikes and host spikes carry over
        activity = dict(chip.activity.synops), dict(chip.activity.active)
        return [sim.data[p] for p in probes], activity


@pytest.mark.parametrize("batch", [1, 8])
def test_whole_run_kernel_equals_layer_by_layer_stepping(batch):
    """The fused chip run (every step in one kernel) gives the integers of stepping each
    layer from Python: spikes, and the synaptic-operation and activity counts."""
    net, probes = _dense_net(seed=3)
    fused, fused_activity = _chip_run(net, probes, True, batch)
    layered, layered_activity = _chip_run(net, probes, False, batch)
    assert all(np.array_equal(a, b) for a, b in zip(fused, layered))
    assert fused_activity == layered_activity
    assert all(a.sum() > 0 for a in fused)


def test_program_save_load_runs_the_same(tmp_path):
    from snngraph.compiler.program import Program

    net, _ = _dense_net()
    program = sg.compile(net, target="loihi")
    program.save(tmp_path / "p.json")
    outs = []
    for prog in (program, Program.load(tmp_path / "p.json")):
        with sg.Simulator(prog, backend="loihi", progress_bar=False) as sim:
            sim.run_steps(50)
            outs.append(sim.data["%pa"][0])
    assert outs[0].any() and np.array_equal(outs[0], outs[1])


def test_resource_report_and_energy():
    net, _ = _dense_net()
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(100)
        report = sim.resources()
    assert report.cores == 2 and report.chips == 1 and report.fits()
    energy = report.energy()
    assert energy["synops"] > 0 and energy["loihi_j"] > energy["loihi_dynamic_j"] > 0
    assert "energy per inference" in str(report) and "synapse bits" in str(report)


# ------------------------------------------------------------------ errors
def test_real_valued_input_to_chip_is_explained():
    with sg.Network() as net:
        stim = sg.Node([0.5])
        ens = sg.Ensemble(10, 1, neuron_type=sg.LoihiLIF(), label="target")
        sg.Connection(stim, ens)
        sg.Probe(ens.neurons)
    passes = ["swap_neurons", "insert_synapses", "optimize", "split_host_chip", "partition",
              "discretize", "schedule"]  # without nef_to_chip, which encodes host values
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'target'.*real-valued input.*"
                                           r"'nef_to_chip'.*on_chip = False"):
        sg.compile(net, target="loihi", passes=passes)
    sg.compile(net, target="loihi")  # the fix: the default pipeline has the pass


def test_rate_neurons_on_chip_are_explained():
    with sg.Network() as net:
        relu = sg.Ensemble(10, 1, neuron_type=sg.RectifiedLinear(), label="relu")
        sg.Probe(relu.neurons)
    with pytest.raises(CompileError, match=r"(?s)Ensemble .relu.*RectifiedLinear.*on_chip = Fa"):
        sg.compile(net, target="loihi")


def test_two_input_filters_are_explained():
    rng = np.random.default_rng(1)
    with sg.Network() as net:
        a = sg.Ensemble(5, 1, neuron_type=sg.LoihiLIF(), label="a")
        b = sg.Ensemble(5, 1, neuron_type=sg.LoihiLIF(), label="b")
        c = sg.Ensemble(5, 1, neuron_type=sg.LoihiLIF(), label="c")
        sg.Connection(a.neurons, c.neurons, transform=rng.normal(size=(5, 5)), synapse=0.005)
        sg.Connection(b.neurons, c.neurons, transform=rng.normal(size=(5, 5)), synapse=0.01)
        sg.Probe(c.neurons)
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'c'.*5ms.*10ms.*single input filter"):
        sg.compile(net, target="loihi")


def test_block_shape_too_big_names_layer_limit_excess_and_a_fix():
    with sg.Network() as net:
        pre = sg.Ensemble(2304, 1, neuron_type=sg.LoihiSpikingRectifiedLinear(), label="pre")
        net.config[pre].on_chip = False
        post = sg.Ensemble(100, 1, neuron_type=sg.LoihiSpikingRectifiedLinear(),
                           label="dense0")
        sg.Connection(pre.neurons, post.neurons, transform=np.full((100, 2304), 0.01),
                      synapse=0.005)
        net.config[post].block_shape = sg.BlockShape((100,), (100,))
        sg.Probe(post.neurons)
    with pytest.raises(ResourceError) as info:
        sg.compile(net, target="loihi")
    problem = info.value.problems[0]
    assert problem["resource"] == "synapse_bits"
    assert problem["used"] == 2_064_384 and problem["excess"] == 2_064_384 - 1_048_576
    assert "Ensemble 'dense0'" in str(info.value) and "over the limit" in str(info.value)
    net.config[post].block_shape = sg.BlockShape(problem["suggestion"], (100,))
    program = sg.compile(net, target="loihi")
    assert program.resources().fits() and program.resources().cores == 2


# ------------------------------------------------------------------ W2 partitions
def _w2(block_shapes=None):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from w2_keras_to_loihi import build

    net = build(sg.LoihiSpikingRectifiedLinear(), probe_layers=False)
    layers = {e.label: e for e in net.all_ensembles}
    shapes = {"conv0": (13, 13, 32), "conv1": (6, 6, 64), "dense0": (100,)}
    for label, shape in (block_shapes or {}).items():
        net.config[layers[label]].block_shape = sg.BlockShape(shape, shapes[label])
    return net


def _compile_w2(net):
    return sg.compile(net, target="loihi", scale_firing_rates=100, synapse=0.005)


def test_w2_automatic_partition_fits_in_at_most_14_cores_deterministically():
    first, second = _compile_w2(_w2()), _compile_w2(_w2())
    report = first.resources()
    assert report.fits() and report.cores <= 14
    blocks = [first.ir.op(n).blocks for n in ("%conv0", "%conv1", "%dense0")]
    assert blocks == [second.ir.op(n).blocks for n in ("%conv0", "%conv1", "%dense0")]


def test_w2_tutorial_block_shapes_use_14_cores():
    shapes = {"conv0": (16, 16, 4), "conv1": (8, 8, 16), "dense0": (50,)}
    report = _compile_w2(_w2(shapes)).resources()
    assert report.fits() and report.cores == 14
    assert sum(r["usage"].compartments for r in report.rows) == 7812


def test_w2_one_block_per_layer_fails_with_fixes_that_compile():
    whole = {"conv0": (13, 13, 32), "conv1": (6, 6, 64), "dense0": (100,)}
    with pytest.raises(ResourceError) as info:
        _compile_w2(_w2(whole))
    problems = {p["object"].split(" (")[0]: p for p in info.value.problems}
    assert set(problems) == {"Ensemble 'conv0'", "Ensemble 'conv1'", "Ensemble 'dense0'"}
    assert problems["Ensemble 'dense0'"]["resource"] == "synapse_bits"
    assert problems["Ensemble 'dense0'"]["excess"] == 2_064_384 - 1_048_576
    assert problems["Ensemble 'conv0'"]["resource"] == "compartments"
    assert problems["Ensemble 'conv0'"]["excess"] == 5408 - 1024
    fixed = {label.split("'")[1]: p["suggestion"] for label, p in problems.items()}
    assert _compile_w2(_w2(fixed)).resources().fits()


def _chip_update_reference(q, u, v, ref_count, p):
    """The compartment update written plainly, value by value, from NengoLoihi's
    ``CompartmentState.update`` (the vectorised kernel must give the same integers)."""

    def wrap(x, bits):
        s = 1 << bits
        return (x, 0) if -s <= x < s else (((x + s) % (2 * s)) - s, 1)

    def decay(x, d, offset):
        m = (abs(x) * (4096 - offset - d)) >> 12
        return m if x >= 0 else -m

    spiked, wrapped, busy = [], 0, 0
    for i in range(len(q)):
        qi, o1 = wrap(int(q[i]), 21)
        ui, o2 = wrap(decay(int(u[i]), int(p["decay_u"][i]), 1) + qi, 23)
        u2, o3 = wrap(ui + int(p["bias"][i]), 23)
        vi = min(max(decay(int(v[i]), int(p["decay_v"][i]), 0) + u2, int(p["vmin"][i])),
                 int(p["vmax"][i]))
        if ref_count[i] > 0:
            vi = 0
        fired = vi > p["vth"][i]
        count = int(p["ref"][i]) if fired else int(ref_count[i])
        u[i], v[i], ref_count[i] = ui, 0 if fired else vi, count - 1 if count > 0 else count
        spiked.append(int(fired))
        wrapped += o1 + o2 + o3
        busy += int(qi != 0 or fired)
    return spiked, wrapped, busy


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40))
def test_vectorised_compartment_update_equals_the_plain_arithmetic(seed, n):
    """Random states reaching every branch: inputs beyond the 21-bit input and 23-bit
    current registers (wrapping), voltages at the clip limits, refractory counters."""
    from snngraph.runtimes.loihi import kernels

    rng = np.random.default_rng(seed)
    ints = lambda lo, hi: rng.integers(lo, hi, n).astype(np.int32)  # noqa: E731
    p = {"decay_u": ints(0, 4097), "decay_v": ints(0, 4097), "vth": ints(1, 2**20),
         "bias": ints(-2**22, 2**22), "ref": ints(0, 4), "vmin": np.full(n, -2**23, np.int32),
         "vmax": np.full(n, 2**23 - 1, np.int32)}
    q = rng.integers(-2**24, 2**24, n) * (rng.random(n) < 0.7)
    u, v = ints(-2**23, 2**23), ints(-2**23, 2**23)
    ref_count = ints(0, 3)
    expect_u, expect_v, expect_ref = u.astype(int), v.astype(int), ref_count.astype(int)
    spiked_ref, wrapped_ref, busy_ref = _chip_update_reference(q, expect_u, expect_v,
                                                               expect_ref, p)
    state = [q[None].astype(np.int64), u[None].copy(), v[None].copy(), ref_count[None].copy()]
    spiked = np.zeros((1, n), np.uint8)
    overflows, active = np.zeros(1, np.int64), np.zeros(1, np.int64)
    kernels.update_serial(*state, p["decay_u"], p["decay_v"], p["vth"], p["bias"], p["ref"],
                          p["vmin"], p["vmax"], spiked, overflows, active)
    assert list(spiked[0]) == spiked_ref
    assert (overflows[0], active[0]) == (wrapped_ref, busy_ref)
    assert np.array_equal(state[1][0], expect_u) and np.array_equal(state[2][0], expect_v)
    assert np.array_equal(state[3][0], expect_ref) and not state[0].any()


def test_weights_split_into_mantissas_and_a_shift():
    """The packed chip sums 8-bit mantissas and shifts once: exact, or not used."""
    from snngraph.runtimes.loihi.emulator import _mantissa

    w = np.array([[3 << 7, -(5 << 9)], [0, 127 << 7]], np.int32)
    shift, mantissa = _mantissa(w)
    assert shift == 7 and np.array_equal(mantissa << shift, w)
    assert _mantissa(np.zeros((2, 3), np.int32))[1].shape == (2, 3)
    huge = np.full((4, 2), 2**29 + 1, np.int32)  # 4 rows of them overflow 32 bits
    assert _mantissa(huge) is None
