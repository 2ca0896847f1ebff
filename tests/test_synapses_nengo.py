"""Synapses against Nengo 4.1: the numba runtime filters a signal as Nengo's simulator
does (Lowpass, Alpha, Triangle, LinearFilter with and without a direct term, each
discretisation method), on connections and on probes; bad inputs; documents."""

import numpy as np
import pytest

import snngraph as sg
from snngraph.errors import ValidationError

nengo = pytest.importorskip("nengo")

T = 150
SIGNAL = np.sin(np.arange(T) * 0.07)[:, None] + (np.arange(T) % 17 == 0)[:, None]


def nengo_filtered(synapse, on_probe, on_connection=None):
    """``synapse`` on the probe or on the connection into the probed node (or on both:
    ``on_connection`` is then the connection's)."""
    on_connection = on_connection or (None if on_probe else synapse)
    with nengo.Network() as net:
        x = nengo.Node(lambda t: SIGNAL[int(round(t / 0.001)) - 1])
        y = nengo.Node(size_in=1)
        nengo.Connection(x, y, synapse=on_connection)
        p = nengo.Probe(y, synapse=synapse if on_probe else None)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(T)
    return sim.data[p][:, 0]


def sg_filtered(synapse, on_probe, dtype="float32", on_connection=None):
    on_connection = on_connection or (None if on_probe else synapse)
    with sg.Network(seed=0) as net:
        x = sg.Node(np.zeros(1))
        y = sg.Node(size_in=1)
        sg.Connection(x, y, synapse=on_connection)
        p = sg.Probe(y, synapse=synapse if on_probe else None)
    with sg.Simulator(net, progress_bar=False, dtype=dtype) as sim:
        sim.run_steps(T, data={x: SIGNAL[None]})
        assert sim.data[p].dtype == dtype
        return sim.data[p][0, :, 0]


CASES = [
    ("Lowpass(0.01)", "Lowpass(0.01)"),
    ("Alpha(0.005)", "Alpha(0.005)"),
    ("Triangle(0.01)", "Triangle(0.01)"),
    ("Triangle(0.0)", "Triangle(0.0)"),
    ("LinearFilter([1, 2], [0.01, 1])", "LinearFilter([1, 2], [0.01, 1])"),  # direct term
    ("LinearFilter([1], [1e-4, 0.02, 1])", "LinearFilter([1], [1e-4, 0.02, 1])"),
    ("LinearFilter([0.5, 0.2], [1, -0.3], analog=False)",
     "LinearFilter([0.5, 0.2], [1, -0.3], analog=False)"),
] + [(f"LinearFilter([1], [0.01, 1], method='{m}')",) * 2
     for m in ("euler", "backward_diff", "bilinear")]


TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
"""Relative tolerance against Nengo's float64 filters, by the runtime's precision."""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("on_probe", [True, False], ids=["probe", "connection"])
@pytest.mark.parametrize("theirs,ours", CASES, ids=[c[1] for c in CASES])
def test_filters_match_nengo(theirs, ours, on_probe, dtype):
    expected = nengo_filtered(eval("nengo.synapses." + theirs), on_probe)
    got = sg_filtered(eval("sg.synapses." + ours), on_probe, dtype)
    rtol = TOLERANCE[dtype]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_filters_in_a_row_through_a_node_delay_a_step_each(dtype):
    """A connection's Lowpass into a passthrough node, read by a probe's Alpha: each
    filter delays by a step, as in Nengo (the compiler keeps the node between the two
    delayed ops, which update one after the other after the step)."""
    expected = nengo_filtered(nengo.synapses.Alpha(0.005), True, nengo.Lowpass(0.01))
    got = sg_filtered(sg.synapses.Alpha(0.005), True, dtype, sg.synapses.Lowpass(0.01))
    assert got[:2].tolist() == [0.0, 0.0] and got[2] != 0.0
    rtol = TOLERANCE[dtype]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_triangle_taps_are_nengos():
    taps = sg.Triangle(0.004).taps(0.001)
    np.testing.assert_allclose(taps, np.array([5, 4, 3, 2, 1]) / 15.0)
    assert sg.Triangle(0.0).taps(0.001).tolist() == [1.0]


def test_triangle_in_the_rate_runtime_is_its_unit_dc_gain():
    with sg.Network(seed=0) as net:
        x = sg.Node(np.zeros(2))
        y = sg.Node(size_in=2)
        sg.Connection(x, y, synapse=sg.Triangle(0.02))
        p = sg.Probe(y)
    with sg.Simulator(net, progress_bar=False, backend="rate") as sim:
        out = sim.predict({x: np.array([[0.5, -2.0]])})
    np.testing.assert_allclose(np.asarray(out[p]).reshape(-1)[-2:], [0.5, -2.0], rtol=1e-6)


def test_bad_synapse_arguments():
    with pytest.raises(ValidationError, match="t"):
        sg.Triangle(-0.1)
    with pytest.raises(ValidationError, match="method"):
        sg.LinearFilter([1.0], [0.1, 1.0], method="gbt")


def test_triangle_synapse_and_triangle_surrogate_round_trip(tmp_path):
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(5, 1, neuron_type=sg.CubaLIF(surrogate=sg.surrogates.Triangle(2.0)))
        b = sg.Ensemble(5, 1)
        sg.Connection(a, b, synapse=sg.Triangle(0.03))
        sg.Connection(a, b, synapse=sg.LinearFilter([1.0], [0.1, 1.0], method="bilinear"))
    loaded = sg.load(sg.save(net, tmp_path / "net.json"))
    conns = loaded.all_connections
    assert conns[0].synapse == sg.Triangle(0.03)
    assert conns[1].synapse == sg.LinearFilter([1.0], [0.1, 1.0], method="bilinear")
    assert loaded.all_ensembles[0].neuron_type.surrogate == sg.surrogates.Triangle(2.0)


def test_long_triangle_is_its_fir_filter_over_a_minibatch():
    """101 taps over a minibatch: the ring-buffer kernel against the convolution sum,
    one step late (a synapse outputs what it computed the step before)."""
    with sg.Network(seed=0) as net:
        x = sg.Node(np.zeros(3))
        y = sg.Node(size_in=3)
        sg.Connection(x, y, synapse=sg.Triangle(0.1))
        p = sg.Probe(y)
    u = np.random.default_rng(0).normal(size=(2, 160, 3)).astype(np.float32)
    with sg.Simulator(net, progress_bar=False, minibatch_size=2) as sim:
        sim.run_steps(60, data={x: u[:, :60]})
        sim.run_steps(100, data={x: u[:, 60:]})
        got = sim.data[p]
    expected = np.zeros(u.shape)
    for k, tap in enumerate(sg.Triangle(0.1).taps(0.001)):
        expected[:, k:] += tap * u[:, :u.shape[1] - k]
    np.testing.assert_allclose(got[:, 1:], expected[:, :-1], atol=1e-6)
    assert np.all(got[:, 0] == 0)
