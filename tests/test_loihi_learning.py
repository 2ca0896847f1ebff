"""Learning rules on the Loihi target: PES between chip ensembles learns on the chip in
integers (compiler/passes/pes_to_chip.py, runtimes/loihi/learning.py); PES from an
off-chip ensemble learns on the host next to the chip; other rules touching the chip are
refused with the connection named and a fix that works (compiler/loihi_learning.py)."""

from __future__ import annotations

import numpy as np
import pytest
from snngraph.runtimes.loihi import learning

import snngraph as sg
from snngraph.errors import CompileError
from snngraph.learning_rules import BCM, PES

LIF = sg.LoihiLIF()


def _sine(t: float) -> float:
    return float(np.sin(2 * np.pi * t))


def _pes_channel(n: int = 60, pre_on_chip: bool = True):
    """Nengo's learned communication channel: ``a`` -> ``b`` starts at 0 and learns
    ``b = stim`` from an error ensemble (``b - stim``), every ensemble on the chip (or
    ``a`` on the host)."""
    with sg.Network(seed=0) as net:
        stim = sg.Node(_sine, label="stim")
        a = sg.Ensemble(n, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(n, 1, neuron_type=LIF, label="b")
        error = sg.Ensemble(n, 1, neuron_type=LIF, label="error")
        sg.Connection(stim, a)
        conn = sg.Connection(a, b, function=lambda x: 0.0, label="learned",
                             learning_rule_type=PES(learning_rate=1e-4))
        sg.Connection(b, error)
        sg.Connection(stim, error, transform=-1)
        sg.Connection(error, conn.learning_rule)
        probe = sg.Probe(b, synapse=0.01)
        if not pre_on_chip:
            net.config[a].on_chip = False
    return net, probe


def _windows(y: np.ndarray, width: int = 500) -> np.ndarray:
    """RMSE of ``b`` against the (filtered) sine in consecutive windows."""
    t = np.arange(1, len(y) + 1) * 0.001
    a = np.exp(-0.001 / 0.01)
    ideal, v = np.empty_like(t), 0.0
    for i, x in enumerate(np.sin(2 * np.pi * (t - 0.012))):  # the chain's lag, roughly
        ideal[i] = v
        v = a * v + (1 - a) * x
    err = (y - ideal) ** 2
    return np.sqrt(err[: len(err) // width * width].reshape(-1, width).mean(axis=1))


@pytest.mark.parametrize("pre_on_chip", [True, False])
def test_pes_channel_learns_as_on_numba(pre_on_chip):
    """The error falls over time, as on the numba runtime: over the last second within
    1.5x the numba runtime's error with every ensemble on the chip (measured 0.85x-0.95x),
    within 2x with the pre ensemble on the host (PES on the host: the learned value
    reaches ``b`` through on/off neurons, which spread its spikes; measured 1.65x)."""
    net, probe = _pes_channel(pre_on_chip=pre_on_chip)
    windows = {}
    for backend in ("numba", "loihi"):
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1500)
            sim.run_steps(1500)  # the chip's traces, weights and error carry on
            windows[backend] = _windows(sim.data[probe][0, :, 0])
    chip = windows["loihi"]
    assert chip[0] > 0.3  # starts at 0: the sine's RMS
    assert chip[-2:].mean() < 0.4 * chip[0]
    bound = 1.5 if pre_on_chip else 2.0
    assert chip[-2:].mean() < bound * windows["numba"][-2:].mean(), windows


def test_pes_on_the_chip_in_the_dump_and_the_report():
    net, _ = _pes_channel()
    program = sg.compile(net, target="loihi")
    text = str(program)
    assert "pes_to_chip: full weights [60x60] = M @ decoders, learned on the chip" in text
    assert "pes_to_chip: 1 PES rule(s) learn on the chip" in text
    report = program.resources()
    assert report.learning == [{"rule": "PES", "object": "Connection 'learned'",
                                "where": "chip", "weights": 3600, "shape": (60, 60)}]
    assert "3,600 learning synapses" in str(report)
    row = next(r for r in report.rows if r["layer"] == program.op_of(net.ensembles[1]))
    assert row["usage"].synapse_bits > 0  # the learning synapses take synapse memory
    net, _ = _pes_channel(pre_on_chip=False)
    text = str(sg.compile(net, target="loihi"))
    assert "loihi: PES learns in float on the host, next to the chip" in text


def test_error_ensemble_runs_on_the_host_unless_the_model_places_it():
    """An ensemble that only feeds learning rules computes their error: the Loihi target
    runs it on the host (NengoLoihi's placement, one core fewer), saying so in the dump;
    ``on_chip = True`` keeps it on the chip, and so does any other connection from it."""
    net, _ = _pes_channel()
    program = sg.compile(net, target="loihi")
    error = net.ensembles[2]
    assert not program.ir.op(program.op_of(error)).chip
    assert "on the host: it only computes learning rules' errors" in str(program)
    assert program.resources().cores == 2
    net.config[error].on_chip = True
    program = sg.compile(net, target="loihi")
    assert program.ir.op(program.op_of(error)).chip and program.resources().cores == 3
    net, _ = _pes_channel()
    with net:
        sg.Connection(net.ensembles[2], sg.Node(size_in=1))
    program = sg.compile(net, target="loihi")
    assert program.ir.op(program.op_of(net.ensembles[2])).chip


def test_learned_weights_keep_the_chips_precision():
    """After learning, every weight is a multiple of its 8-bit mantissa's step and within
    its range, the traces are 7-bit, and the weights moved from where they began; a reset
    puts them back."""
    net, _ = _pes_channel()
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1000)
        syn = sim._backend.chip.learning[0].learn
        w, q, limit = syn.w[0], syn.quantum, syn.limit
        assert np.all(w % q[None, :] == 0) and np.all(np.abs(w) <= limit[None, :])
        assert np.all((syn.trace >= 0) & (syn.trace <= learning.TRACE_MAX))
        assert np.count_nonzero(w != syn.w0) > 0.5 * w.size
        sim.reset()
        np.testing.assert_array_equal(syn.w[0], syn.w0)


def test_trace_follows_the_filtered_spike_rate():
    """A pre neuron spiking every 4th step (250 Hz) holds a trace of about TRACE_SCALE x
    0.25 (its Lowpass-filtered spikes per step): the stochastic rounding is unbiased."""
    n = 200
    trace = np.zeros((1, n), np.int32)
    seen = np.zeros((1, n), np.uint8)
    rng = np.array([12345], np.uint64)
    tau = 5
    decay = np.exp(-learning.TRAIN_EPOCH / tau)
    mag = learning.TRACE_SCALE * -np.expm1(-1 / tau)
    values = []
    for t in range(1, 2001):
        if t % 4 == 0:
            seen[:] = 1
        if t % learning.TRAIN_EPOCH == 0:
            learning.update_traces(trace, seen, decay, mag, rng)
        if t > 200:
            values.append(trace.mean())
    assert abs(np.mean(values) / (learning.TRACE_SCALE * 0.25) - 1) < 0.1


def test_weight_update_rounds_stochastically_without_bias():
    """A change of a quarter of the weight's step moves a quarter of the weights by one
    step (the mean change is the float change)."""
    batch, n_pre, n_post = 400, 5, 3
    w = np.zeros((batch, n_pre, n_post), np.int32)
    trace = np.full((batch, n_pre), 16, np.int32)
    error = np.full((batch, 1), 0.01)  # 1 after ERROR_SCALE
    project = np.ones((n_post, 1))
    unit, quantum = np.ones(n_post), np.full(n_post, 64, np.int64)
    limit = np.full(n_post, 127 * 64, np.int64)
    rng = np.arange(1, batch + 1, dtype=np.uint64) * np.uint64(7919)
    learning.update_weights(w, trace, error, project, unit, quantum, limit, 1.0, rng)
    assert set(np.unique(w)) <= {0, 64}
    assert abs(w.mean() - 16.0) < 1.5  # 16 = alpha 1 x unit 1 x (M e) 1 x trace 16


def _bcm(on_chip: bool):
    with sg.Network(seed=0) as net:
        stim = sg.Node(_sine)
        a = sg.Ensemble(30, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(30, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        sg.Connection(a.neurons, b.neurons, transform=np.zeros((30, 30)),
                      learning_rule_type=BCM(), label="bcm")
        probe = sg.Probe(b.neurons)
        if not on_chip:
            net.config[a].on_chip = False
            net.config[b].on_chip = False
    return net, probe


def test_other_rules_on_the_chip_are_refused_naming_the_connection_and_the_fix():
    net, _ = _bcm(on_chip=True)
    with pytest.raises(CompileError, match=r"(?s)^Connection 'bcm'.*BCM learning rule reads "
                       r"or changes the values of a chip ensemble.*only PES.*"
                       r"on_chip = False for its pre and post"):
        sg.compile(net, target="loihi")
    net, probe = _bcm(on_chip=False)  # the fix: both ensembles on the host
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(50)
        assert sim.data[probe].shape == (1, 50, 30)


def test_pes_without_a_lowpass_pre_synapse_learns_on_the_host():
    """The chip's trace is a first-order filter (NengoLoihi takes only Lowpass
    pre-synapses); PES reading the pre spikes unfiltered learns on the host instead (the
    rule reads the host's copy of the chip spikes), and its error falls as on numba."""
    with sg.Network(seed=0) as net:
        stim = sg.Node(_sine)
        a = sg.Ensemble(60, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(60, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        conn = sg.Connection(a, b, function=lambda x: 0.0, label="learned",
                             learning_rule_type=PES(1e-4, pre_synapse=None))
        sg.Connection(b, conn.learning_rule)
        sg.Connection(stim, conn.learning_rule, transform=-1)
        probe = sg.Probe(b, synapse=0.01)
    program = sg.compile(net, target="loihi")
    assert [r["where"] for r in program.resources().learning] == ["host"]
    windows = {}
    for backend, source in (("numba", net), ("loihi", program)):
        with sg.Simulator(source, backend=backend, progress_bar=False) as sim:
            sim.run_steps(2500)
            windows[backend] = _windows(sim.data[probe][0, :, 0])
    assert windows["loihi"][-1] < 0.5 * windows["loihi"][0]
    assert windows["loihi"][-1] < 2.0 * windows["numba"][-1], windows


def test_probed_weights_keep_pes_on_the_host_with_their_probes():
    """Probes of the learned weights and of the rule's change read host values: such a
    rule learns on the host, the probes run in its stage, and they read what the numba
    runtime reads (the same shapes, the learned weights of the same size)."""
    net, _ = _pes_channel(30)
    conn = next(c for c in net.all_connections if c.label == "learned")
    with net:
        delta = sg.Probe(conn.learning_rule, "delta")
        weights = sg.Probe(conn, "weights")
    program = sg.compile(net, target="loihi")
    assert [r["where"] for r in program.resources().learning] == ["host"]
    got = {}
    for backend, source in (("numba", net), ("loihi", program)):
        with sg.Simulator(source, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1500)
            got[backend] = (sim.data[delta], sim.data[weights])
    for chip, ref in zip(got["loihi"], got["numba"]):
        assert chip.shape == ref.shape == (1, 1500, 1, 30)
    size = {b: np.abs(w[0, -1]).mean() for b, (_, w) in got.items()}
    assert 0.5 < size["loihi"] / size["numba"] < 2.0, size


def test_an_error_beyond_8_bits_is_clipped_with_a_warning_naming_the_rule():
    """NengoLoihi's pes_error_scale: errors beyond 127 / 100 are clipped; the run warns,
    naming the rule's connection, and the fix (a smaller error, a larger rate)."""
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(30, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(30, 1, neuron_type=LIF, label="b")
        sg.Connection(sg.Node([0.5]), a)
        conn = sg.Connection(a, b, function=lambda x: 0.0, label="learned",
                             learning_rule_type=PES(1e-4))
        sg.Connection(sg.Node([-3.0]), conn.learning_rule)
        sg.Probe(b)
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        with pytest.warns(UserWarning, match=r"(?s)^Connection 'learned'.*PES error exceeded "
                                             r"the chip's 8 bits.*clipped.*fix: scale"):
            sim.run_steps(100)
