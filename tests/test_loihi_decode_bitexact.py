"""Decode neurons and host input against NengoLoihi 1.1.0's emulator, integer for integer.

``fixtures/loihi/decode.npz`` was recorded by ``fixtures/loihi/make_decode.py`` (which
documents the network): a Node encoded on the host by NengoLoihi's on/off input neurons
into ``a`` (40 LoihiLIF), a decoded connection with given decoders from ``a`` to ``b``
(30 LoihiLIF) through NengoLoihi's default decode neurons (Preset10, 20 compartments)
and its 5 ms filter after them. It holds the discretised integers of the three chip
blocks, their weights, the host's spikes as they reach the chip and the current ``u``,
voltage ``v`` and spikes of every compartment after every step.

Three levels: the chip arithmetic alone (snngraph's kernels run on the recorded
integers); snngraph's compiler (the same network from the stored parameters, with
``loihi_decode='decode_neurons'`` and ``loihi_input_encoding='nengo_loihi'``) gives the
same integers; and its emulator then gives the same ``u``, ``v`` and spikes at every step,
with the host's input spikes made by snngraph's own host part.
"""

from pathlib import Path

import numpy as np
import pytest
from snngraph.compiler.passes.decode_neurons import is_decode_neurons
from snngraph.compiler.passes.discretize import key
from snngraph.runtimes.loihi import kernels
from snngraph.runtimes.loihi.emulator import Chip

import snngraph as sg

DATA = np.load(Path(__file__).parent / "fixtures/loihi/decode.npz")
STEPS = int(DATA["steps"])
BLOCKS = ("a", "dec", "b")
FIELDS = ("decay_u", "decay_v", "vth", "bias", "ref", "vmin", "vmax")
SOURCE = {"a": "in", "dec": "a", "b": "dec"}


def _rec(block: str, field: str) -> np.ndarray:
    return DATA[f"chip.{block}.{field}"]


def _first_difference(ours: np.ndarray, theirs: np.ndarray):
    steps, neurons = np.nonzero(ours != theirs)
    return None if steps.size == 0 else (int(steps[0]), int(neurons[0]))


def test_recording_is_active():
    assert _rec("in", "spikes")[0].sum() == 0  # host spikes reach the chip from step 2
    for block in BLOCKS:
        assert _rec(block, "spikes").sum() > 200, block
        assert np.abs(_rec(block, "u")).max() > 0


def test_chip_arithmetic_on_the_recorded_integers():
    """snngraph's kernels (input delivery, compartment update) on NengoLoihi's integers
    and input spikes reproduce its u, v and spikes exactly, step by step."""
    n = {b: len(_rec(b, "vth")) for b in BLOCKS}
    p = {b: {f: np.ascontiguousarray(_rec(b, f), np.int32) for f in FIELDS} for b in BLOCKS}
    w = {b: np.ascontiguousarray(_rec(b, "w"), np.int32) for b in BLOCKS}
    state = {b: {k: np.zeros((1, n[b]), dt) for k, dt in
                 (("q", np.int64), ("u", np.int32), ("v", np.int32), ("ref", np.int32),
                  ("spiked", np.uint8))} for b in BLOCKS}
    counters = {b: (np.zeros(1, np.int64), np.zeros(1, np.int64)) for b in BLOCKS}
    for k in range(STEPS):
        spikes = {"in": _rec("in", "spikes")[k][None]}
        spikes.update({b: state[b]["spiked"].copy() for b in BLOCKS})  # last step's
        for b in BLOCKS:
            kernels.dense_input_serial(np.ascontiguousarray(spikes[SOURCE[b]]), w[b],
                                       state[b]["q"])
        for b in BLOCKS:
            s, q = state[b], p[b]
            kernels.update_serial(s["q"], s["u"], s["v"], s["ref"], q["decay_u"],
                                  q["decay_v"], q["vth"], q["bias"], q["ref"], q["vmin"],
                                  q["vmax"], s["spiked"], *counters[b])
            for field, ours in (("u", s["u"]), ("v", s["v"]), ("spikes", s["spiked"])):
                assert np.array_equal(ours[0], _rec(b, field)[k]), (b, field, k)
    assert all(int(c[0][0]) == 0 for c in counters.values())  # no overflow


def _network():
    values = DATA["stim.values"]
    with sg.Network(seed=0) as net:
        stim = sg.Node(lambda t: values[min(int(round(t / 0.001)) - 1, len(values) - 1)],
                       label="stim")
        ens = {k: sg.Ensemble(n, 1, neuron_type=sg.LoihiLIF(), gain=DATA[f"{k}.gain"],
                              bias=DATA[f"{k}.bias"], encoders=DATA[f"{k}.encoders"],
                              label=k) for k, n in (("a", 40), ("b", 30))}
        # NengoLoihi filters a Node's input on the chip with its 5 ms decode_tau
        sg.Connection(stim, ens["a"], synapse=float(DATA["tau"]))
        sg.Connection(ens["a"], ens["b"], solver=sg.NoSolver(DATA["ab.decoders"]),
                      synapse=float(DATA["tau"]))
        probes = {k: sg.Probe(e.neurons) for k, e in ens.items()}
    program = sg.compile(net, target="loihi", loihi_decode="decode_neurons", loihi_vth_profiles=1,
                         loihi_input_encoding="nengo_loihi")
    ir = program.ir
    (dec,) = [op.name for op in ir.ops() if is_decode_neurons(op)]
    layers = {"a": program.op_of(ens["a"]), "dec": dec, "b": program.op_of(ens["b"])}
    return program, layers, probes


@pytest.fixture(scope="module")
def compiled():
    return _network()


@pytest.mark.parametrize("block", BLOCKS)
def test_compiler_gives_nengo_loihis_integers(compiled, block):
    program, layers, _ = compiled
    ir, name = program.ir, layers[block]
    for field in FIELDS:
        assert np.array_equal(ir.params[key(name, field)], _rec(block, field)), field
    assert np.array_equal(ir.params[key(name, "in0.w")], _rec(block, "w"))


def test_emulator_state_equals_nengo_loihi_every_step(compiled):
    """The compiled program's chip, fed the recorded host spikes, steps through the same
    u, v and spikes (snngraph's host spikes made at step k reach the chip at k + 1)."""
    program, layers, _ = compiled
    chip = Chip(program)
    chip.allocate(1)
    (inp,) = chip.inputs
    delivered = _rec("in", "spikes")
    by_name = {layer.name: layer for layer in chip.layers}
    for k in range(STEPS):
        after = delivered[k + 1] if k + 1 < STEPS else np.zeros(2, np.uint8)
        chip.run(1, {inp: after[None, None]})
        for block, name in layers.items():
            layer = by_name[name]
            for field, ours in (("u", layer.u), ("v", layer.v), ("spikes", layer.spiked)):
                assert np.array_equal(ours[0], _rec(block, field)[k]), (block, field, k)


def test_simulator_with_host_input_equals_nengo_loihi(compiled):
    """End to end: snngraph's host part encodes the Node with NengoLoihi's on/off
    neurons, and every chip spike equals the recording."""
    program, layers, probes = compiled
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(STEPS)
        chip = sim._backend.last_chip
    for block, name in layers.items():
        assert _first_difference(chip[name][0], _rec(block, "spikes")) is None, block
    for block, probe in probes.items():
        ours = (sim.data[probe][0] > 0).astype(np.uint8)
        assert _first_difference(ours, _rec(block, "spikes")) is None, block
