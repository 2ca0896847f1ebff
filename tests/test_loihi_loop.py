"""Host -> chip -> host -> chip loops on the Loihi target: host ops that read chip spikes
and feed the chip run in lockstep with the chip, one step at a time
(compiler/host_stages.py, runtimes/loihi/backend.py)."""

from __future__ import annotations

import numpy as np
import pytest
from snngraph.compiler.host_stages import host_stages
from test_loihi_nef import _lowpass

import snngraph as sg

LIF = sg.LoihiLIF()


def _drive(t: float) -> float:
    return float(np.cos(7 * t))


def _zero_loop(loop: bool):
    """``a`` -> Node ``f`` -> ``b`` -> ``a``, where ``f`` ignores its input (``loop``),
    or the same network with ``f`` a Node of time (no loop: precomputed)."""
    with sg.Network(seed=3) as net:
        stim = sg.Node(lambda t: np.sin(10 * t), label="stim")
        a = sg.Ensemble(50, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(50, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        if loop:
            f = sg.Node(lambda t, x: _drive(t) + 0.0 * x, size_in=1, label="f")
            sg.Connection(a, f)
        else:
            f = sg.Node(_drive, label="f")
        sg.Connection(f, b)
        sg.Connection(b, a, transform=0.5)
        probes = sg.Probe(a.neurons), sg.Probe(b.neurons)
    return net, probes


def test_loop_mode_gives_the_precomputed_spikes_when_the_loop_carries_a_function_of_time():
    """The step-by-step exchange and the precomputed one time the host link the same way:
    a Node in a loop whose output is a function of time only makes the chip spike exactly
    as the same Node outside a loop (over two runs: time continues across them)."""
    spikes, modes = {}, {}
    for loop in (False, True):
        net, probes = _zero_loop(loop)
        with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
            sim.run_steps(300)
            sim.run_steps(200)
            spikes[loop] = [sim.data[p][0] for p in probes]
            modes[loop] = sim.resources().exchange
    assert spikes[False][0].sum() > 0 and spikes[False][1].sum() > 0
    for chip, ref in zip(spikes[True], spikes[False]):
        np.testing.assert_array_equal(chip, ref)
    assert modes[False].startswith("host/chip exchange: precomputed")
    assert modes[True].startswith("host/chip exchange: step by step") and "Node 'f'" in modes[True]


def test_dump_notes_the_loop():
    net, _ = _zero_loop(True)
    text = str(sg.compile(net, target="loihi"))
    assert "# host/chip exchange: step by step for" in text
    assert "this host value is computed from chip spikes of the same step" in text


def _node_integrator(tau: float = 0.1):
    """An integrator whose feedback runs through a Node on the host."""
    with sg.Network(seed=0) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Uniform(100, 120)
        net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, 0.5)
        stim = sg.Node(lambda t: 1.0 if 0.1 < t < 0.5 else 0.0, label="stim")
        a = sg.Ensemble(100, 1, neuron_type=LIF, label="a")
        f = sg.Node(lambda t, x: x, size_in=1, label="f")
        sg.Connection(stim, a, transform=tau, synapse=tau)
        sg.Connection(a, f, synapse=0.005)
        sg.Connection(f, a, synapse=tau)
        probe = sg.Probe(a, synapse=0.01)
    return net, probe


def test_integrator_through_a_node_integrates_and_holds_as_on_numba():
    """The loop's latency equals the numba runtime's (a chip spike at step t reaches the
    host at t, its filtered value the Node at t + 1, the chip's current at t + 2; on numba
    the two synapses give the same two steps), so the chip is compared without a shift:
    within 1.5x the float run's error against the ideal ramp and hold."""
    net, probe = _node_integrator()
    t = np.arange(1, 1001) * 0.001
    ideal = np.clip(t - 0.1, 0, 0.4)
    errors, held = {}, {}
    for backend in ("numba", "loihi"):
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            sim.run_steps(1000)
            y = sim.data[probe][0, :, 0]
        errors[backend] = np.sqrt(np.mean((y - ideal) ** 2))
        held[backend] = y[900:].mean()
    assert errors["loihi"] < 0.08
    assert errors["loihi"] < 1.5 * errors["numba"], errors
    assert abs(held["loihi"] - 0.4) < 0.08


def test_node_function_between_chip_ensembles():
    """The network this target refused before: ``a`` -> Node(x**2) -> ``b``, both on the
    chip; ``b`` decodes the square of ``a``'s value."""
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(80, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(80, 1, neuron_type=LIF, label="b")
        square = sg.Node(lambda t, x: x ** 2, size_in=1, label="square")
        sg.Connection(sg.Node([0.6]), a)
        sg.Connection(a, square)
        sg.Connection(square, b)
        probe = sg.Probe(b, synapse=0.05)
    with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(800)
        assert abs(sim.data[probe][0, 400:, 0].mean() - 0.36) < 0.05


def _through_host(kind: str):
    """``a`` -> (an off-chip ensemble, or a Delay of 20 steps) -> ``b``, a sine in."""
    with sg.Network(seed=2) as net:
        stim = sg.Node(lambda t: np.sin(2 * np.pi * 2 * t), label="stim")
        a = sg.Ensemble(100, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(100, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a)
        if kind == "ensemble":
            h = sg.Ensemble(100, 1, neuron_type=LIF, label="host")
            net.config[h].on_chip = False
            sg.Connection(a, h)
            sg.Connection(h, b)
        else:
            relay = sg.Node(size_in=1, label="relay")
            sg.Connection(a, relay, synapse=sg.Delay(20))
            sg.Connection(relay, b)
        probe = sg.Probe(b, synapse=0.02)
    return net, probe


@pytest.mark.parametrize("kind", ["ensemble", "delay"])
def test_off_chip_ensemble_or_delay_between_chip_ensembles(kind):
    """An off-chip ensemble or a Delay between two chip ensembles runs in the loop stage,
    and ``b`` decodes the sine through the connections' filters (and the delay). The host
    value is spikes through decoders with no filter, so its on/off neurons send their
    whole count each step over several axons (one axon spread it over the following
    steps: 3-4x the numba runtime's error); measured 0.029 and 0.022, against numba's
    0.027 and 0.020."""
    net, probe = _through_host(kind)
    program = sg.compile(net, target="loihi")
    assert program.resources().exchange.startswith("host/chip exchange: step by step")
    assert max(op.axons for op in program.ir.ops() if op.op == "spike_input") > 1
    assert "a spiky value" in str(program)
    t = np.arange(1, 801) * 0.001
    ideal = np.sin(2 * np.pi * 2 * t)
    taus = (0.005, 0.005, 0.005, 0.02) if kind == "ensemble" else (0.005, 0.005, 0.02)
    for tau in taus:
        ideal = _lowpass(ideal, tau)
    if kind == "delay":
        ideal = np.concatenate([np.zeros(20), ideal[:-20]])
    with sg.Simulator(program, backend="loihi", progress_bar=False) as sim:
        sim.run_steps(800)
        y = sim.data[probe][0, :, 0]
    assert np.sqrt(np.mean((y[100:] - ideal[100:]) ** 2)) < 0.05
    assert np.corrcoef(y[100:], ideal[100:])[0, 1] > 0.99


def test_loop_minibatch_examples_are_independent():
    """Fed data, 3 and 8 examples at once (the serial and the parallel chip kernels) in
    loop mode: each example's spikes are those of that example run alone."""
    with sg.Network(seed=1) as net:
        x = sg.Node(np.zeros(1), label="x")
        a = sg.Ensemble(40, 1, neuron_type=LIF, label="a")
        f = sg.Node(lambda t, v: -v, size_in=1, label="f")
        sg.Connection(x, a)
        sg.Connection(a, f, synapse=0.01)
        sg.Connection(f, a, transform=0.5)
        probe = sg.Probe(a.neurons)
    values = np.linspace(-0.8, 0.8, 8)
    data = np.broadcast_to(values[:, None, None], (8, 150, 1)).astype(np.float32)
    alone = []
    for v in values[:3]:
        with sg.Simulator(net, backend="loihi", progress_bar=False) as sim:
            sim.run_steps(150, data={x: data[:1] * 0 + v})
            alone.append(sim.data[probe][0])
    for batch in (3, 8):
        with sg.Simulator(net, backend="loihi", minibatch_size=batch, progress_bar=False) as sim:
            sim.run_steps(150, data={x: data[:batch]})
            for i in range(3):
                np.testing.assert_array_equal(sim.data[probe][i], alone[i])


@pytest.mark.parametrize("loop", [False, True])
def test_each_node_function_runs_once_per_step(loop):
    """A value crossing host stages is recorded once and fed to the later stage, not
    recomputed: a Node read by the chip and by a Node that reads the chip (precomputed
    and post stages), or inside a loop, is called as often as on the numba runtime (once
    per step, plus once when the network is built)."""
    calls = {}

    def stim_fn(t):
        calls["stim"] = calls.get("stim", 0) + 1
        return np.sin(5 * t)

    def f_fn(t, x):
        calls["f"] = calls.get("f", 0) + 1
        return x[:1]

    with sg.Network(seed=0) as net:
        stim = sg.Node(stim_fn, label="stim")
        a = sg.Ensemble(30, 1, neuron_type=LIF, label="a")
        f = sg.Node(f_fn, size_in=2, label="f")
        sg.Connection(stim, a)
        sg.Connection(a, f, transform=[[1.0], [0.0]])
        sg.Connection(stim, f, transform=[[0.0], [1.0]])
        if loop:
            sg.Connection(f, a, transform=0.1)
        sg.Probe(f)
    counts = {}
    for backend in ("numba", "loihi"):
        calls.clear()
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            sim.run_steps(120)
            counts[backend] = dict(calls)
    assert counts["loihi"] == counts["numba"] and counts["loihi"]["f"] >= 120, counts
    program = sg.compile(net, target="loihi")
    stages = host_stages(program.ir)
    placed = {n.label: stages.of(program.op_of(n)) for n in (stim, f)}
    assert placed == {"stim": "pre", "f": "loop" if loop else "post"}
