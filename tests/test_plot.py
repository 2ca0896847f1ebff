"""``sg.plot``: every figure drawn headless (Agg) from small W1-W5-style results, and
what each draws checked against the data it was given."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from conftest import load_example
from viewer_cases import W2_OPTIONS, w2_net

import snngraph as sg
from snngraph.view import measure_rates

matplotlib.use("Agg")


def images(n: int) -> np.ndarray:
    (_, _), (x, _) = sg.datasets.load_mnist(subset="bundled")
    return x[:n].reshape(n, -1).astype(np.float32)


def renders(fig) -> None:
    """The figure draws to PNG without error."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def w5_run():
    """W5's two recurrent Leaky layers on 3 images for 10 steps, spikes probed."""
    net = load_example("w5_snntorch_recurrent").build()
    with net:
        hidden = next(e for e in net.ensembles if e.label == "rlif1")
        sg.Probe(hidden.neurons, label="rlif1")
    with sg.Simulator(net, minibatch_size=3, progress_bar=False) as sim:
        x = images(3) / 255.0
        out = sim.predict(np.broadcast_to(x[:, None], (3, 10, 784)))
    return {p.label: out[p] for p in net.all_probes}


def test_raster_draws_every_spike_of_a_small_layer(w5_run):
    fig = sg.plot.raster(w5_run, example=1)
    renders(fig)
    axes = fig.axes
    assert len(axes) == 2
    for ax, label in zip(axes, ["spk2", "rlif1"]):
        spikes = w5_run[label][1]
        points = ax.collections[0].get_offsets()
        assert len(points) == int((spikes != 0).sum())
        # times are the ends of the steps with a spike
        steps = np.nonzero(spikes)[0]
        assert sorted(np.round(points[:, 0] / 0.001).astype(int)) == sorted(steps + 1)


def test_raster_samples_the_active_neurons_of_a_large_layer():
    rng = np.random.default_rng(0)
    spikes = np.zeros((50, 5000), np.uint8)
    active = rng.choice(5000, 600, replace=False)
    spikes[rng.integers(0, 50, 600), active] = 1
    fig = sg.plot.raster(spikes, max_neurons=100)
    rows = fig.axes[0].collections[0].get_offsets()[:, 1]
    assert len(np.unique(rows)) == 100  # every row drawn has a spike
    assert "100 of 600 active neurons (5000 in all)" in fig.axes[0].get_title(loc="left")
    # by first spike: rows go down as the first spike time goes up
    times = fig.axes[0].collections[0].get_offsets()
    first = [times[rows == r, 0].min() for r in range(100)]
    assert first == sorted(first)
    with pytest.raises(sg.ValidationError, match="order must be"):
        sg.plot.raster(spikes, order="random")


def test_firing_rates_and_their_histograms(w5_run):
    rates = sg.plot.firing_rates(w5_run["rlif1"])
    expected = (w5_run["rlif1"] != 0).mean(axis=(0, 1)) / 0.001
    np.testing.assert_allclose(rates, expected)
    np.testing.assert_allclose(sg.plot.firing_rates(np.full((4, 3), 0.02), amplitude=0.01),
                               [2.0, 2.0, 2.0])
    fig = sg.plot.rate_histograms({"rlif1": rates, "spk2": sg.plot.firing_rates(w5_run["spk2"])})
    renders(fig)
    counts = [sum(p.get_height() for p in ax.patches) for ax in fig.axes[:2]]
    assert counts == [128, 10]


def test_probes_plot_against_trange():
    net = load_example("w1_spiking_mnist").build()
    out_p = next(p for p in net.all_probes if p.label == "out_p_filt")
    with sg.Simulator(net, minibatch_size=2, progress_bar=False) as sim:
        sim.run_steps(6, images(2)[:, None].repeat(6, axis=1))
        fig = sg.plot.probes(sim.trange(), {out_p: sim.data[out_p]}, example=1)
        renders(fig)
        lines = fig.axes[0].get_lines()
        assert len(lines) == 10
        np.testing.assert_allclose(lines[0].get_xdata(), sim.trange())
        np.testing.assert_allclose(lines[3].get_ydata(), sim.data[out_p][1, :, 3])
        with pytest.raises(sg.ValidationError, match="6 steps but t has 5"):
            sg.plot.probes(sim.trange()[:5], sim.data[out_p])


def test_history_of_a_short_fit():
    net = load_example("w5_snntorch_recurrent").build()
    out = net.all_probes[0]
    x, y = images(32) / 255.0, np.arange(32) % 10
    with sg.Simulator(net, minibatch_size=16, progress_bar=False) as sim:
        result = sim.fit(x, {out: y}, epochs=2, n_steps=4, verbose=0,
                         optimizer=sg.optim.Adam(lr=1e-3),
                         loss=sg.losses.MSECount(0.8, 0.2),
                         metrics=sg.metrics.Accuracy(reduce_time="count"),
                         validation_split=0.25)
    fig = sg.plot.history(result)
    renders(fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    labels = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert labels == {k for k in result.history if k != "epoch_seconds"}
    loss = next(line for line in fig.axes[0].get_lines() if line.get_label() == "loss")
    np.testing.assert_allclose(loss.get_ydata(), result.history["loss"])


def test_rate_agreement_of_a_conversion():
    net = load_example("w2_keras_to_loihi").build(sg.SpikingRectifiedLinear())
    measured = measure_rates(net, images(4), steps=20, **W2_OPTIONS)
    fig = sg.plot.rate_agreement(measured)
    renders(fig)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    first = fig.axes[0]
    assert first.get_title().startswith("Ensemble 'to-spikes'")
    # the to-spikes layer sees a constant input: spiking and rate agree closely
    points = first.collections[0].get_offsets()
    assert np.corrcoef(points[:, 0], points[:, 1])[0, 1] > 0.99
    with pytest.raises(sg.ValidationError, match="share no layer"):
        sg.plot.rate_agreement({"a": np.ones(3)}, {"b": np.ones(3)})


def test_core_map_has_a_tile_per_core():
    program = sg.compile(w2_net(), target="loihi", **W2_OPTIONS)
    fig = sg.plot.core_map(program, columns=4)
    renders(fig)
    report = program.resources()
    tiles = [p for p in fig.axes[0].patches]
    assert len(tiles) == report.cores
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert [int(s) for s in labels[::2]] == [r["core"] for r in report.rows]
    assert labels[-1] == "syn 98%"  # dense0's second core: its synapse memory
    with sg.Network() as host_only:
        sg.Probe(sg.Node([1.0]))
    with pytest.raises(sg.ValidationError, match="no chip cores"):
        sg.plot.core_map(sg.compile(host_only, target="loihi"))


@pytest.mark.parametrize("script", ["w3_norse_recurrent", "w4_snntorch_conv"])
def test_rasters_and_rates_of_w3_and_w4(script):
    """W3's encoded recurrent layer and W4's convolutional layers (sampled: 1,728
    neurons in the first) drawn from two images."""
    net = load_example(script).build()
    with net:
        for ens in net.ensembles:
            sg.Probe(ens.neurons, label=ens.label)
    with sg.Simulator(net, minibatch_size=2, progress_bar=False) as sim:
        out = sim.predict(images(2) / 255.0, n_steps=12)
    spikes = {p.label: out[p] for p in net.all_probes if p.target.__class__.__name__ == "Neurons"}
    fig = sg.plot.raster(spikes, max_neurons=120)
    renders(fig)
    for ax, values in zip(fig.axes, spikes.values()):
        drawn = len(np.unique(ax.collections[0].get_offsets()[:, 1])) \
            if len(ax.collections[0].get_offsets()) else 0
        active = int((values[0] != 0).reshape(12, -1).any(axis=0).sum())
        assert drawn == min(active, 120)
    renders(sg.plot.rate_histograms({k: sg.plot.firing_rates(v) for k, v in spikes.items()}))
