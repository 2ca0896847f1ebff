"""Conformance: the same small networks (tests/conftest.py's ``SMALL_NETS``: dense
feed-forward, conv + pool, recurrent through ``Delay(1)``, the NEF communication channel)
run on every runtime they apply to, and the runtimes agree.

- spikes: the numba runtime op by op, the numba runtime fused into one function and the
  BPTT forward pass (what ``fit(method="bptt")`` trains) give the same spikes for
  ``Leaky``, ``CubaLIF`` and ``LI`` (LI's voltage to float32 rounding: its dense sums run
  through BLAS in BPTT and a loop in numba);
- rates: at high rates the rate backend's output is the spiking runtime's spike count over
  a long run, within the count's own resolution (one spike per neuron per window, plus
  one for where the first spike falls);
- Loihi: the integer emulator and the float Loihi neuron models on numba fire the same
  spikes up to the discretisation of weights and decays;
- NEF: the decoded value of the channel is the input, on the rate backend and on numba.

Hypothesis draws sizes, seeds and inputs where a run is cheap (it is derandomised, so CI
always runs the same cases).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snngraph as sg

DT = 0.001
STEPS, BATCH = 16, 3
FEW = settings(max_examples=4, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])

TRAINABLE = {  # the neuron types BPTT unrolls, spiking and not
    "leaky": lambda: sg.Leaky(0.8, threshold=0.7),
    "leaky-zero": lambda: sg.Leaky(0.8, threshold=0.7, reset="zero"),
    "cuba": lambda: sg.CubaLIF(v_th=0.3),
    "li": lambda: sg.LI(tau_syn=0.004, tau_mem=0.008),
}
VOLTAGE = {"li"}
STEP_NETS = ["dense", "conv", "recurrent"]


def _inputs(net_kind: str, sizes: dict, seed: int) -> np.ndarray:
    size = sizes.get("size", 8) ** 2 if net_kind == "conv" else sizes.get("n_in", 6)
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1.5, (BATCH, STEPS, size)).astype(np.float32)


def _numba(program, x, n_steps, fuse, minibatch_size=2, seed=0):
    with sg.Simulator(program, minibatch_size=minibatch_size, fuse=fuse, seed=seed,
                      progress_bar=False) as sim:
        return sim.predict(x, n_steps=n_steps)


def _same(name, ours, ref, what):
    if name in VOLTAGE:  # real values: BLAS and a loop may round the last bit differently
        assert np.abs(ref).max() > 0.05, what
        np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=1e-7, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, ref, err_msg=what)


def _check_step_runtimes(small_net, bptt_forward, kind, name, sizes, seed):
    """numba op by op == numba fused == BPTT forward, on every probe."""
    net, probes = small_net(kind, TRAINABLE[name](), seed=seed, **sizes)
    program = sg.compile(net)
    x = _inputs(kind, sizes, seed)
    loop = _numba(program, x, STEPS, fuse=False)
    fused = _numba(program, x, STEPS, fuse=True)
    bptt = bptt_forward(program, x, list(probes.values()), STEPS)
    for (label, probe), ours in zip(probes.items(), bptt):
        ref = loop[probe]
        if name not in VOLTAGE:  # spikes, neither silent nor saturated
            assert ref.sum() > 0 and not np.all(ref == ref.max()), label
        np.testing.assert_array_equal(fused[probe], ref, err_msg=f"fused {label}")
        _same(name, ours, ref, f"BPTT forward {label}")


@pytest.mark.parametrize("name", list(TRAINABLE))
@pytest.mark.parametrize("kind", STEP_NETS)
def test_numba_loop_fused_and_bptt_forward_agree(small_net, bptt_forward, kind, name):
    _check_step_runtimes(small_net, bptt_forward, kind, name, {}, seed=0)


@FEW
@given(seed=st.integers(0, 2**16), n_in=st.integers(1, 9), n_h=st.integers(1, 12),
       name=st.sampled_from(sorted(TRAINABLE)), recurrent=st.booleans())
def test_numba_and_bptt_agree_on_drawn_dense_networks(small_net, bptt_forward, seed, n_in,
                                                      n_h, name, recurrent):
    kind = "recurrent" if recurrent else "dense"
    sizes = {"n_in": n_in, "n_h": n_h}
    net, probes = small_net(kind, TRAINABLE[name](), seed=seed, **sizes)
    program = sg.compile(net)
    x = _inputs(kind, sizes, seed)
    loop = _numba(program, x, STEPS, fuse=False)
    bptt = bptt_forward(program, x, list(probes.values()), STEPS)
    for (label, probe), ours in zip(probes.items(), bptt):
        if name in VOLTAGE:
            np.testing.assert_allclose(ours, loop[probe], rtol=2e-6, atol=1e-6, err_msg=label)
        else:
            np.testing.assert_array_equal(ours, loop[probe], err_msg=label)


# ---------------------------------------------------------------- rates vs spike counts
RATE_STEPS = 1000
SPIKING_WITH_RATES = {
    "lif": sg.LIF(),
    "spiking-relu": sg.SpikingRectifiedLinear(),
}


def _rate_and_count(net, probe, x):
    """(rate backend's output, numba's mean output over RATE_STEPS) for one probe."""
    with sg.Simulator(net, backend="rate", progress_bar=False) as sim:
        rate = sim.predict(x, n_steps=1)[probe][:, -1]
    with sg.Simulator(net, minibatch_size=len(x), progress_bar=False) as sim:
        spikes = sim.predict(x, n_steps=RATE_STEPS)[probe]
    return rate, spikes.mean(axis=1)


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("name", list(SPIKING_WITH_RATES))
def test_rate_backend_equals_spike_counts_at_high_rates(small_net, kind, name):
    """The layer the input drives is at a constant current, so its count over T steps is
    ``rate T`` up to how the window cuts the first and last inter-spike interval: at
    most one spike, plus one for the first spike (a neuron starts at rest, not just
    after a refractory period). Inputs are large, so most neurons fire at 50 to 500 Hz
    and the tolerance (2 spikes in 1 s) is under 4% of their rate."""
    neuron = SPIKING_WITH_RATES[name]
    sizes = {"n_in": 6} if kind == "dense" else {"size": 6}
    net, probes = small_net(kind, neuron, **sizes)
    size = 36 if kind == "conv" else 6
    scale = 200.0 if name == "spiking-relu" else 4.0  # currents well above threshold
    x = np.random.default_rng(1).uniform(0.5, 1.0, (2, size)).astype(np.float32) * scale
    rate, mean = _rate_and_count(net, probes["h1"], x)
    per_spike = neuron.amplitude / (RATE_STEPS * DT)  # one spike's share of the mean
    assert (rate > 50).mean() > 0.3, "too few neurons at high rates to compare"
    # and float32: the rate and the mean of 1000 float32 steps round at ~1e-6 relative
    np.testing.assert_allclose(mean, rate, rtol=1e-5, atol=2 * per_spike)


# ------------------------------------------------------------------- Loihi vs numba
def _loihi_net(neuron_type, seed, recurrent=False):
    """A host layer of 30 spiking ReLUs (the chip takes spikes) into 50 chip neurons of
    ``neuron_type``, then 20 Loihi spiking ReLUs; both chip layers probed. With LoihiLIF,
    tests/test_loihi.py's network. (A second LoihiLIF layer, or other draws, put some
    neuron just above threshold, where the rate is so steep in the current that 8-bit
    weights move its count by tens of percent.) Returns the input too."""
    rng = np.random.default_rng(seed)
    x = rng.choice([0, 62.5, 125, 250, 500], (1, 30)).astype(np.float32)
    with sg.Network(seed=seed, label="loihi") as net:
        inp = sg.Node(np.zeros(30), label="input")
        host = sg.Ensemble(30, 1, neuron_type=sg.SpikingRectifiedLinear(),
                           gain=sg.dists.Choice([1.0]), bias=sg.dists.Choice([0.0]),
                           label="host")
        net.config[host].on_chip = False
        sg.Connection(inp, host.neurons, synapse=None)
        a = sg.Ensemble(50, 1, neuron_type=neuron_type, gain=rng.uniform(0.5, 2, 50),
                        bias=rng.uniform(-1, 1.5, 50), label="a")
        sg.Connection(host.neurons, a.neurons, transform=rng.normal(size=(50, 30)) * 0.1,
                      synapse=0.005)
        if recurrent:
            sg.Connection(a.neurons, a.neurons, transform=rng.normal(size=(50, 50)) * 0.05,
                          synapse=0.005)
        b = sg.Ensemble(20, 1, neuron_type=sg.LoihiSpikingRectifiedLinear(),
                        gain=rng.uniform(0.5, 2, 20), bias=rng.uniform(0, 20, 20), label="b")
        sg.Connection(a.neurons, b.neurons, transform=rng.normal(size=(20, 50)) * 0.2,
                      synapse=0.005)
        probes = {"a": sg.Probe(a.neurons, label="a"), "b": sg.Probe(b.neurons, label="b")}
    return net, probes, x


LOIHI_TYPES = {"loihi-lif": sg.LoihiLIF(), "loihi-relu": sg.LoihiSpikingRectifiedLinear()}


@pytest.mark.parametrize("recurrent", [False, True], ids=["feed-forward", "recurrent"])
@pytest.mark.parametrize("name", list(LOIHI_TYPES))
def test_loihi_emulator_follows_numba(name, recurrent):
    """Counts over 400 steps: the emulator rounds weights to 8 bits and decays to 12, so
    a neuron's count may differ by a few spikes (10% of the busiest neuron's count), and
    one in 25 by more: one whose current lies within that rounding of its threshold,
    where a LoihiLIF's rate rises from 0 to ~60 Hz (seen: 23 spikes in 400 steps)."""
    net, probes, x = _loihi_net(LOIHI_TYPES[name], seed=0, recurrent=recurrent)
    counts = {}
    for backend in ("loihi", "numba"):
        with sg.Simulator(net, backend=backend, progress_bar=False) as sim:
            out = sim.predict(x, n_steps=400)
        counts[backend] = {k: (out[p][0] > 0).sum(0) for k, p in probes.items()}
    for label in probes:
        chip, ref = counts["loihi"][label], counts["numba"][label]
        assert ref.max() >= 20, label
        assert np.mean(np.abs(chip - ref) > 0.1 * ref.max()) <= 1 / 25, label


# ------------------------------------------------------------------------------- NEF
@pytest.mark.parametrize("name", ["lif", pytest.param("spiking-relu", marks=pytest.mark.slow)])
def test_nef_channel_decodes_its_input_on_rate_and_numba(small_net, name):
    """The channel's decoded value is its input: on the rate backend within the
    decoders' error, on numba (mean over the last 300 ms, after the synapses settle)
    within the decoders' error plus spike noise; loop and fused runs are identical."""
    neuron = SPIKING_WITH_RATES[name]
    net, probes = small_net("nef-channel", neuron, n=80, seed=2)
    values = np.array([[-0.6], [-0.2], [0.3], [0.7]], np.float32)
    with sg.Simulator(net, backend="rate", progress_bar=False) as sim:
        rate = sim.predict(values, n_steps=1)[probes["B-raw"]][:, -1]
    np.testing.assert_allclose(rate, values, atol=0.05)
    runs = [_numba(net, values, 500, fuse=fuse, minibatch_size=4) for fuse in (False, True)]
    np.testing.assert_array_equal(runs[0][probes["B"]], runs[1][probes["B"]])
    decoded = runs[0][probes["B"]][:, 200:].mean(axis=1)
    np.testing.assert_allclose(decoded, values, atol=0.1)
    np.testing.assert_allclose(decoded, rate, atol=0.1)
