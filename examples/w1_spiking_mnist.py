"""W1: a spiking convolutional MNIST classifier trained through its rate approximation.

Mirrors NengoDL's tutorial "Optimizing a spiking neural network" (seeds/000): three
convolutional layers of LIF neurons and a dense readout, with two probes on the output,
an unfiltered one for training (one step per image, rate neurons) and one filtered by a
0.1 s lowpass for testing (each image held for 30 steps of 1 ms, spiking neurons).

The workload is restated in docs/workloads.md (W1). ``python examples/w1_spiking_mnist.py``
trains the rate network on MNIST (set SNNGRAPH_DATA for the full set), saves the
parameters, and tests the spiking network on the numba runtime; ``--plot`` writes the
figures of ``figures`` (``sg.plot``, matplotlib): the filtered output over time, each
layer's spike raster and firing rates, the training curves and the spiking rates
against the rate network's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import snngraph as sg

N_TEST_STEPS = 30  # each test image is held for 30 steps of dt = 1 ms
MINIBATCH = 200


def build(neuron_type: sg.NeuronType | None = None, seed: int = 0,
          probe_layers: bool = False) -> sg.Network:
    """The tutorial's network.

    ``neuron_type`` defaults to ``sg.LIF(amplitude=0.01)`` (what the tutorial tests);
    pass ``sg.LIFRate(amplitude=0.01)`` for the rate network. ``probe_layers`` adds a
    probe on each LIF layer's spikes (to measure firing rates).
    """
    if neuron_type is None:
        neuron_type = sg.LIF(amplitude=0.01)
    with sg.Network(seed=seed, label="spiking_mnist") as net:
        # Defaults that make training behave: every neuron fires at 100 Hz for an input
        # of 1 and starts firing at 0; layers are joined without synaptic filters.
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None

        inp = sg.Node(np.zeros(28 * 28), label="input")  # images are fed in at run time

        x = sg.Layer(sg.Conv2D(32, 3))(inp, shape_in=(28, 28, 1), label="conv0")
        x = sg.Layer(neuron_type)(x, label="conv0_lif")
        x = sg.Layer(sg.Conv2D(64, 3, strides=2))(x, shape_in=(26, 26, 32), label="conv1")
        x = sg.Layer(neuron_type)(x, label="conv1_lif")
        x = sg.Layer(sg.Conv2D(128, 3, strides=2))(x, shape_in=(12, 12, 64), label="conv2")
        x = sg.Layer(neuron_type)(x, label="conv2_lif")
        # linear readout (logits) with a bias, as Keras's Dense(10) in the tutorial
        out = sg.Layer(sg.Dense(10, bias=True))(x, label="readout")

        # Unfiltered output for training on rates, lowpass-filtered output for testing
        # on spikes (it averages the spike noise over the 30 steps).
        sg.Probe(out, label="out_p")
        sg.Probe(out, synapse=0.1, label="out_p_filt")
        if probe_layers:
            for ens in net.ensembles:
                sg.Probe(ens.neurons, label=f"{ens.label}_spikes")
    return net


def layer_rates(images: np.ndarray) -> dict[str, float]:
    """Mean firing rate (Hz) of each LIF layer on ``images`` (spiking, 30 steps): the
    layers' spikes are probed in a copy of the program, not in the test network (30
    steps of 34k neurons per image would be a lot of memory for the whole test set)."""
    net = build(probe_layers=True)
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False) as probe_sim:
        probe_sim.load_params(PARAMS)
        out = probe_sim.predict(np.tile(images[:, None], (1, N_TEST_STEPS, 1)))
    rates = {}
    for p in net.all_probes:
        if p.label.endswith("_spikes"):
            amplitude = p.target.ensemble.neuron_type.amplitude
            rates[p.label[:-7]] = float(out[p].mean() / amplitude)
    return rates


PARAMS = Path("w1_params.npz")  # written to the working directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--plot", action="store_true", help="plot outputs (matplotlib)")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n_train = args.train_images or len(x_train)
    n_test = args.test_images or len(x_test)
    # Training shows each image for one step (rate neurons), testing holds it for 30.
    # raw pixel values 0..255, as the tutorial feeds them (no rescaling)
    train = x_train[:n_train].reshape(-1, 1, 28 * 28).astype(np.float32)
    test = x_test[:n_test].reshape(-1, 28 * 28).astype(np.float32)
    test_tiled = np.tile(test[:, None], (1, N_TEST_STEPS, 1))
    print(f"MNIST: training on {n_train} images x 1 step, testing on {n_test} x "
          f"{N_TEST_STEPS} steps")

    net = build()
    print(sg.summary(net))
    out_p = next(p for p in net.all_probes if p.label == "out_p")
    out_p_filt = next(p for p in net.all_probes if p.label == "out_p_filt")
    with sg.Simulator(net, minibatch_size=MINIBATCH) as sim:
        before = sim.evaluate(test_tiled, {out_p_filt: y_test[:n_test]},
                              metrics=sg.metrics.Accuracy(last_step=True))
        print(f"spiking accuracy before training: {before['out_p_filt_accuracy']:.2%}")
        start = time.perf_counter()
        history = sim.fit(train, {out_p: y_train[:n_train]}, epochs=args.epochs,
                          optimizer=sg.optim.RMSprop(lr=0.001),
                          loss=sg.losses.CrossEntropy(from_logits=True),
                          metrics=sg.metrics.Accuracy())
        train_s = time.perf_counter() - start
        sim.save_params(PARAMS)
        print(f"trained {args.epochs} epochs in {train_s:.1f} s (per epoch: "
              f"{', '.join(f'{s:.1f}' for s in history['epoch_seconds'])} s); "
              f"parameters saved to {PARAMS.name}")
        start = time.perf_counter()
        after = sim.evaluate(test_tiled, {out_p_filt: y_test[:n_test]},
                             metrics=sg.metrics.Accuracy(last_step=True))
        test_s = time.perf_counter() - start
        print(f"spiking accuracy after training: {after['out_p_filt_accuracy']:.2%} "
              f"({n_test} images x {N_TEST_STEPS} steps in {test_s:.1f} s, "
              f"{n_test / test_s:,.0f} images/s)")
    rates = layer_rates(test[:100])
    print("mean firing rates (spiking, 100 test images): " +
          ", ".join(f"{k} {v:.1f} Hz" for k, v in rates.items()))
    if args.plot:
        for name, fig in figures(history, test[:8], y_test[:8]).items():
            fig.savefig(name, dpi=110)
            print(f"plot written to {name}")


def figures(history: object, images: np.ndarray, labels: np.ndarray,
            params: Path = PARAMS) -> dict[str, object]:
    """The ``sg.plot`` figures of a trained W1 (``params``) on a few test ``images``,
    by file name."""
    from snngraph.view import measure_rates

    net = build(probe_layers=True)
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        sim.load_params(params)
        out = sim.predict(np.tile(images[:, None], (1, N_TEST_STEPS, 1)))
        t = (np.arange(N_TEST_STEPS) + 1) * sim.dt
    probes = {p.label: out[p] for p in net.all_probes}
    spikes = {k[:-7]: v for k, v in probes.items() if k.endswith("_spikes")}
    filtered = probes["out_p_filt"][:4]
    softmax = np.exp(filtered - filtered.max(axis=-1, keepdims=True))
    softmax /= softmax.sum(axis=-1, keepdims=True)
    return {
        "w1_outputs.png": sg.plot.probes(
            t, {f"softmax of the filtered output, image {i} (label {labels[i]})": p
                for i, p in enumerate(softmax[:2])}),
        "w1_raster.png": sg.plot.raster(spikes, max_neurons=150),
        "w1_rates.png": sg.plot.rate_histograms(
            {k: sg.plot.firing_rates(v) for k, v in spikes.items()}),
        "w1_history.png": sg.plot.history(history),
        "w1_rate_vs_spiking.png": sg.plot.rate_agreement(
            measure_rates(build(), images, params=params, steps=N_TEST_STEPS)),
    }


if __name__ == "__main__":
    main()
