"""The numba runtime in float64 (``sg.Simulator(dtype="float64")``): it agrees with the
float32 run to float32 rounding, gets closer to what the dynamics should give (the LIF
rate curve in closed form), holds float64 everywhere a user or a front end can look, and
refuses what cannot compute in it, by name."""

from __future__ import annotations

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import ValidationError
from snngraph.neurons.lif import lif_rate

DT = 0.001


def nef_network() -> tuple[sg.Network, sg.Node, list[sg.Probe]]:
    """Two LIF ensembles, a decoded function between them, a recurrent synapse and a
    PES-learned connection (every executor kind a NEF model uses)."""
    with sg.Network(seed=3) as net:
        stim = sg.Node(np.zeros(2))
        a = sg.Ensemble(60, 2)
        b = sg.Ensemble(50, 2)
        c = sg.Ensemble(40, 2)
        sg.Connection(stim, a)
        sg.Connection(a, b, function=lambda v: v ** 2, synapse=sg.Alpha(0.005))
        sg.Connection(b, b, transform=0.5, synapse=0.05)
        learned = sg.Connection(a, c, learning_rule_type=sg.learning_rules.PES(1e-4))
        sg.Connection(c, learned.learning_rule)
        probes = [sg.Probe(b, synapse=0.01), sg.Probe(c, synapse=0.01),
                  sg.Probe(a.neurons, "voltage")]
    return net, stim, probes


def run(net: sg.Network, data: dict, steps: int, dtype: str, fuse: bool = False,
        batch: int = 2) -> dict:
    with sg.Simulator(net, minibatch_size=batch, dtype=dtype, fuse=fuse,
                      progress_bar=False) as sim:
        sim.run_steps(steps, data=data)
        return {p: sim.data[p] for p in net.all_probes}


def test_float64_nef_network_agrees_with_float32_to_float32_rounding():
    net, stim, probes = nef_network()
    x = np.array([[0.6, -0.3], [-0.2, 0.4]])[:, None, :]
    lo, hi = run(net, {stim: x}, 300, "float32"), run(net, {stim: x}, 300, "float64")
    for p in probes:
        assert lo[p].dtype == np.float32 and hi[p].dtype == np.float64
        # float32 rounding, and now and then a sub-step spike time a rounding apart,
        # seen through the filters (measured: at most 2.04e-5 of the range)
        np.testing.assert_allclose(hi[p], lo[p], rtol=0, atol=5e-5 * np.abs(hi[p]).max())
    assert not np.array_equal(hi[probes[0]], lo[probes[0]])  # it did compute in float64


def test_float64_fused_loop_equals_op_by_op():
    """The generated whole-loop function compiles for float64 arrays too, and gives the
    op-by-op loop's values bit for bit (as in float32)."""
    net, stim, probes = nef_network()
    x = np.array([[0.6, -0.3], [-0.2, 0.4]])[:, None, :]
    fused = run(net, {stim: x}, 200, "float64", fuse=True)
    op_by_op = run(net, {stim: x}, 200, "float64", fuse=False)
    for p in probes[:1] + probes[2:]:  # the learned connection runs op by op anyway
        assert fused[p].dtype == np.float64
        np.testing.assert_array_equal(fused[p], op_by_op[p])


def lif_layers() -> tuple[sg.Network, sg.Node, sg.Probe, sg.Probe]:
    """A convolution, LIF, average pooling and a dense readout of LIF spikes."""
    with sg.Network(seed=1) as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(8 * 8), label="input")
        x = sg.Layer(sg.Conv2D(4, 3))(inp, shape_in=(8, 8, 1))
        spikes = sg.Layer(sg.LIF(amplitude=0.01))(x)
        x = sg.Layer(sg.AvgPool2D(2))(spikes, shape_in=(6, 6, 4))
        x = sg.Layer(sg.Dense(3))(x)
        out = sg.Probe(x, synapse=0.02)
        spiked = sg.Probe(spikes)
    return net, inp, out, spiked


def test_float64_lif_layers_agree_with_float32():
    """The same spikes (to the step) and the same filtered readout to float32 rounding."""
    net, inp, out, spiked = lif_layers()
    images = np.random.default_rng(0).uniform(0, 1, (4, 64))
    with sg.Simulator(net, minibatch_size=4, progress_bar=False) as sim:
        lo = sim.predict(images, n_steps=60)
    with sg.Simulator(net, minibatch_size=4, progress_bar=False, dtype="float64") as sim:
        hi = sim.predict(images, n_steps=60)
    assert hi[out].dtype == np.float64 and hi[spiked].dtype == np.float64
    assert (hi[spiked] > 0).sum() > 100  # the layer is active
    np.testing.assert_array_equal(hi[spiked] > 0, lo[spiked] > 0)
    np.testing.assert_allclose(hi[out], lo[out], rtol=0, atol=1e-5 * np.abs(hi[out]).max())


def measured_lif_rates(J: np.ndarray, dtype: str, steps: int, tau_rc: float = 0.02,
                       tau_ref: float = 0.002) -> np.ndarray:
    """Each neuron's rate over ``steps`` at constant current ``J``: its spike count plus
    the fraction of the interval it has covered at the end (read from its voltage, or
    its refractory time), less the refractory period it starts without."""
    n = len(J)
    with sg.Network(seed=0) as net:
        x = sg.Node(np.zeros(n))
        ens = sg.Ensemble(n, 1, neuron_type=sg.LIF(tau_rc, tau_ref), gain=np.ones(n),
                          bias=np.zeros(n))
        sg.Connection(x, ens.neurons, synapse=None)
        probes = [sg.Probe(ens.neurons), sg.Probe(ens.neurons, "voltage"),
                  sg.Probe(ens.neurons, "refractory_time")]
    with sg.Simulator(net, dtype=dtype, progress_bar=False) as sim:
        sim.run_steps(steps, data={x: J[None, None, :]})
        spikes, v, ref = (sim.data[p][0].astype(float) for p in probes)
    interval = 1.0 / lif_rate(J, tau_rc, tau_ref)
    # the kernel keeps the refractory time left at the start of the step it last ran
    since = np.where(ref[-1] > DT, tau_ref + DT - ref[-1],
                     tau_ref - tau_rc * np.log1p(-v[-1] / J))
    return ((spikes > 0).sum(axis=0) + (since - tau_ref) / interval) / (steps * DT)


def test_float64_lif_rate_matches_the_rate_curve_more_tightly():
    """Nengo's LIF step integrates a constant current exactly, so the measured rate is
    the closed-form curve up to rounding: float64 to ~1e-15, float32 to ~1e-7."""
    J = np.array([1.05, 1.3, 2.0, 5.0, 20.0])
    exact = lif_rate(J, 0.02, 0.002)
    error = {d: np.abs(measured_lif_rates(J, d, 10_000) / exact - 1)
             for d in ("float32", "float64")}
    assert np.all(error["float32"] < 1e-5)
    assert np.all(error["float64"] < 1e-12)
    assert np.all(error["float64"] < error["float32"] / 100)


def test_dtype_of_data_feeds_state_and_predict():
    net, stim, probes = nef_network()
    with sg.Simulator(net, dtype="float64", progress_bar=False) as sim:
        assert sim.dtype == np.float64
        assert all(sim.data[p].dtype == np.float64 for p in probes)  # before any run
        sim.run_steps(3, data={stim: np.array([[[0.5, 0.5]]], np.float32)})
        assert all(sim.data[p].dtype == np.float64 for p in probes)
        assert sim.take_data()  # and what a front end takes
        signals = sim.signals()
        assert signals and all(v.dtype == np.float64 for v in signals.values())
        assert any(name.endswith(".voltage") for name in signals)
        out = sim.predict(np.full((3, 2), 0.1), n_steps=4)
        assert all(v.dtype == np.float64 and v.shape[:2] == (3, 4) for v in out.values())
    with sg.Simulator(net, progress_bar=False) as sim:  # the default
        assert sim.dtype == np.float32
        sim.run_steps(2)
        assert all(sim.data[p].dtype == np.float32 for p in probes)


def test_float64_keeps_what_float32_rounds():
    """A fed value and a Node's constant reach the probe as given, not rounded to
    float32 (1/3 has no float32 value)."""
    with sg.Network(seed=0) as net:
        fed = sg.Node(np.zeros(1))
        const = sg.Node([1.0 / 3.0])
        p_fed, p_const = sg.Probe(fed), sg.Probe(const)
    for dtype, exact in (("float64", True), ("float32", False)):
        with sg.Simulator(net, dtype=dtype, progress_bar=False) as sim:
            sim.run_steps(2, data={fed: np.full((1, 2, 1), 0.1)})
            # (as Python floats: NumPy compares a float32 with a float in float32)
            assert (float(sim.data[p_fed][0, -1, 0]) == 0.1) is exact
            assert (float(sim.data[p_const][0, -1, 0]) == 1.0 / 3.0) is exact


@pytest.mark.parametrize("bad", ["float16", "int32", "f64", True, 64, object()])
def test_bad_dtype_is_refused_by_name(bad):
    net, _, _ = nef_network()
    with pytest.raises(ValidationError, match=r"Simulator\.dtype: expected 'float32' or "
                       r"'float64'") as info:
        sg.Simulator(net, dtype=bad, progress_bar=False)
    assert info.value.field == "dtype"


@pytest.mark.parametrize("backend", ["rate", "loihi"])
def test_float32_only_backends_refuse_float64(backend):
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4))
        x = sg.Layer(sg.Dense(3))(inp)
        x = sg.Layer(sg.LIF())(x)
        sg.Probe(x)
    with pytest.raises(ValidationError, match=f"Simulator.dtype: backend='{backend}' "
                       "computes in float32 only .got dtype='float64'"):
        sg.Simulator(net, backend=backend, dtype="float64", progress_bar=False)


def test_fit_refuses_a_float64_simulator():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4))
        x = sg.Layer(sg.Dense(2))(inp)
        p = sg.Probe(x)
    with sg.Simulator(net, dtype="float64", progress_bar=False) as sim:
        with pytest.raises(ValidationError, match="Simulator.fit: training computes in "
                           "float32.*dtype='float64'(.|\n)*save_params"):
            sim.fit(np.zeros((4, 4)), {p: np.zeros((4, 2))}, verbose=0)
