"""W3: a recurrent LIF classifier with spike encoders, and its convolutional variant.

Mirrors Norse's tutorial "Training an MNIST classifier" (seeds/002). Each image is turned
into spikes by an encoder (constant-current LIF, Poisson at up to 20 Hz, or spike
latency) over T = 32 steps; a recurrent layer of 100 current-based LIF neurons
(threshold 0.5, all-to-all recurrent weights without autapses) feeds a linear 100 -> 10
readout into leaky integrators. The class is the one whose readout voltage reaches the
highest value over time (max over time, then log-softmax). The convolutional variant
(``build_conv``, T = 48) is conv 20 5x5 -> LIF -> max-pool -> conv 50 5x5 -> LIF ->
max-pool -> 800 -> 500 LIF -> 500 -> 10 leaky integrators.

The workload is restated in docs/workloads.md (W3). This script trains the recurrent
network through time (``method="bptt"``: the neurons carry Norse's SuperSpike surrogate),
reports test accuracy by the max-over-time readout, seconds per epoch and images per
second, saves the parameters and runs the trained network on the numba runtime's
``predict``. ``build_conv`` declares the convolutional variant (not trained here).
``--plot`` writes the figures of ``figures`` (``sg.plot``, matplotlib).

    SNNGRAPH_DATA=/path/to/data python examples/w3_norse_recurrent.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import snngraph as sg


def torch_adam(lr: float) -> sg.optim.Adam:
    """torch.optim.Adam(lr): its epsilon (1e-8) and where it enters the step."""
    return sg.optim.Adam(lr=lr, epsilon=1e-8, epsilon_style="torch")

T_RECURRENT = 32  # steps per image, recurrent network
T_CONV = 48  # steps per image, convolutional network
ENCODERS = ("constant_current", "poisson", "latency")
BATCH_SIZE = 256
PARAMS = Path("w3_params.npz")  # written to the working directory
# Norse 1.1.0's method="super" computes 1/(|x| + 1)^2 whatever its alpha (100 by
# default): SuperSpike with alpha 1 is what it trains with.
SURROGATE = sg.surrogates.SuperSpike(alpha=1.0)


def make_encoder(encoder: str) -> sg.processes.Encoder:
    """The encoder the tutorial names (Norse's default LIF parameters)."""
    if encoder == "constant_current":
        return sg.ConstantCurrentLIFEncoder()
    if encoder == "poisson":
        return sg.PoissonEncoder(f_max=20)
    if encoder == "latency":
        return sg.SpikeLatencyLIFEncoder()
    raise ValueError(f"encoder: expected one of {', '.join(ENCODERS)}, got {encoder!r}")


def _encoded_input(encoder: str) -> sg.Node:
    """An input node (images fed at run time) and the encoder node it drives."""
    inp = sg.Node(np.zeros(28 * 28), label="input")
    enc = sg.Node(make_encoder(encoder), size_in=28 * 28, label=f"{encoder}_encoder")
    sg.Connection(inp, enc, synapse=None)
    return enc


def build(encoder: str = "constant_current", hidden: int = 100, seed: int = 0
          ) -> sg.Network:
    """The recurrent network, its weights drawn as Norse initialises them."""
    rng = np.random.default_rng(seed)
    n_in, n_out = 28 * 28, 10
    # LIFRecurrentCell: input and recurrent weights are randn * sqrt(2 / hidden), and
    # with autapses=False the recurrent diagonal is zero (and kept at zero).
    w_in = rng.standard_normal((hidden, n_in)) * np.sqrt(2.0 / hidden)
    w_rec = rng.standard_normal((hidden, hidden)) * np.sqrt(2.0 / hidden)
    np.fill_diagonal(w_rec, 0.0)
    # fc_out is a torch.nn.Linear(hidden, 10, bias=False): uniform in +-1/sqrt(hidden).
    bound = 1.0 / np.sqrt(hidden)
    w_out = rng.uniform(-bound, bound, size=(n_out, hidden))

    with sg.Network(seed=seed, label=f"norse_recurrent_{encoder}") as net:
        # CubaLIF and LI take their input as current directly (gain 1, bias 0) and train
        # no bias of their own, as Norse's cells: the parameters are exactly Norse's.
        enc = _encoded_input(encoder)
        h = sg.Ensemble(hidden, 1, neuron_type=sg.CubaLIF(v_th=0.5, surrogate=SURROGATE),
                        label="lif0")
        out = sg.Ensemble(n_out, 1, neuron_type=sg.LI(), label="readout")
        sg.Connection(enc, h.neurons, transform=sg.Dense((hidden, n_in), init=w_in),
                      synapse=None, label="input_weights")
        # The layer reads its own spikes from the previous step.
        sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1), label="recurrent_weights",
                      transform=sg.Dense((hidden, hidden), init=w_rec, autapses=False))
        sg.Connection(h.neurons, out.neurons, transform=sg.Dense((n_out, hidden), init=w_out),
                      synapse=None, label="fc_out")
        # An LI neuron's output is its membrane voltage. Decoding takes the maximum of
        # each of the 10 traces over the T steps, then a log-softmax.
        sg.Probe(out.neurons, label="readout_voltage")
    return net


def build_conv(encoder: str = "constant_current", seed: int = 0) -> sg.Network:
    """The convolutional network (Norse's ConvNet), channels last.

    torch's Conv2d and Linear start with weights uniform in +-1/sqrt(fan_in); biases
    start at zero here (snngraph's ``bias=True``). Flattening is channels-last, a fixed
    permutation of torch's channels-first order.
    """
    def torch_init(fan_in: int) -> sg.dists.Uniform:
        return sg.dists.Uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in))

    with sg.Network(seed=seed, label=f"norse_conv_{encoder}") as net:
        enc = _encoded_input(encoder)
        x = sg.Layer(sg.Conv2D(20, 5, kernel_initializer=torch_init(1 * 5 * 5)))(
            enc, shape_in=(28, 28, 1), label="conv1")  # -> (24, 24, 20)
        x = sg.Layer(sg.CubaLIF())(x, label="lif0")
        x = sg.Layer(sg.MaxPool2D(2))(x, label="pool1")  # -> (12, 12, 20)
        x = sg.Layer(sg.Conv2D(50, 5, kernel_initializer=torch_init(20 * 5 * 5)))(
            x, label="conv2")  # -> (8, 8, 50)
        # The tutorial multiplies conv2's output by 10 before the neurons.
        scaled = sg.Node(size_in=x.size_out, label="conv2_x10")
        sg.Connection(x, scaled, transform=10.0, synapse=None)
        x = sg.Layer(sg.CubaLIF())(scaled, shape_in=(8, 8, 50), label="lif1")
        x = sg.Layer(sg.MaxPool2D(2))(x, label="pool2")  # -> (4, 4, 50) = 800 values
        x = sg.Layer(sg.Dense(500, init=torch_init(800), bias=True))(x, label="fc1")
        x = sg.Layer(sg.CubaLIF())(x, label="lif2")
        # LILinearCell(500, 10): weights randn / sqrt(500), no bias, into leaky
        # integrators. (The tutorial's relu in front of it does nothing to 0/1 spikes.)
        out = sg.Ensemble(10, 1, neuron_type=sg.LI(), label="readout")
        sg.Connection(x, out.neurons, synapse=None, label="out_weights",
                      transform=sg.Dense((10, 500), init=sg.dists.Gaussian(0, 1 / np.sqrt(500))))
        sg.Probe(out.neurons, label="readout_voltage")  # decoded by max over time
    return net


def _seed(text: str) -> int:
    """``--seed``: a non-negative integer (argparse reports the error with the value)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--encoder", choices=ENCODERS, default="constant_current")
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--seed", type=_seed, default=0,
                        help="initial weights and the order of the training images")
    parser.add_argument("--plot", action="store_true", help="write figures (matplotlib)")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n_train = args.train_images or len(x_train)
    n_test = args.test_images or len(x_test)

    def prepare(images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32) / 255.0
        if args.encoder == "poisson":
            return x  # probabilities per step: dt * f_max * x
        return (x - 0.1307) / 0.3081  # the tutorial's normalisation, as a current

    train_x, test_x = prepare(x_train[:n_train]), prepare(x_test[:n_test])
    train_y, test_y = y_train[:n_train], y_test[:n_test]
    print(f"MNIST: training on {n_train} images, testing on {n_test}; {args.encoder} "
          f"encoder, {T_RECURRENT} steps")
    net = build(args.encoder, seed=args.seed)
    print(sg.summary(net))
    out = next(p for p in net.all_probes if p.label == "readout_voltage")
    with sg.Simulator(net, minibatch_size=BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(train_x, {out: train_y}, epochs=args.epochs, n_steps=T_RECURRENT,
                          optimizer=torch_adam(2e-3),
                          loss=sg.losses.CrossEntropy(reduce_time="max"),
                          metrics=sg.metrics.Accuracy(reduce_time="max"))
        seconds = history["epoch_seconds"]
        print(f"training ({history.method}): mean {np.mean(seconds):.2f} s per epoch "
              f"(epochs: {', '.join(f'{s:.2f}' for s in seconds)}), "
              f"{n_train / np.median(seconds):,.0f} training images/s")
        sim.save_params(PARAMS)
        steps = lambda x: np.broadcast_to(x[:, None], (len(x), T_RECURRENT, 784))  # noqa: E731
        sim.predict(steps(test_x[:BATCH_SIZE]))  # compile the kernels first
        start = time.perf_counter()
        voltage = sim.predict(steps(test_x))[out]
        elapsed = time.perf_counter() - start
    correct = float(np.mean(voltage.max(axis=1).argmax(axis=-1) == test_y))
    print(f"test accuracy (max over time of the readout, numba runtime predict): "
          f"{correct:.2%} on {n_test} images; inference {n_test / elapsed:,.0f} images/s; "
          f"parameters saved to {PARAMS}")
    print(sg.summary(build_conv()))
    if args.plot:
        for name, fig in figures(history, test_x[:8], test_y[:8], args.encoder,
                                 seed=args.seed).items():
            fig.savefig(name, dpi=110)
            print(f"plot written to {name}")


def figures(history: object, images: np.ndarray, labels: np.ndarray, encoder: str,
            params: Path = PARAMS, seed: int = 0) -> dict[str, object]:
    """The ``sg.plot`` figures of a trained W3 (``params``) on a few prepared test
    ``images``, by file name: training curves, the encoder's and the recurrent layer's
    spike rasters, the layer's firing rates, and the readout voltages over time."""
    net = build(encoder, seed=seed)
    with net:  # probe the encoder's and the recurrent layer's spikes
        lif = next(e for e in net.ensembles if e.label != "readout")
        sg.Probe(lif.neurons, label=lif.label)
        node = next(n for n in net.all_nodes if n.label.endswith("_encoder"))
        sg.Probe(node, label=node.label)
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        sim.load_params(params)
        out = sim.predict(np.broadcast_to(images[:, None], (len(images), T_RECURRENT, 784)))
        t = (np.arange(T_RECURRENT) + 1) * sim.dt
    probes = {p.label: out[p] for p in net.all_probes}
    spikes = {k: probes[k] for k in (node.label, lif.label)}
    return {
        "w3_history.png": sg.plot.history(history),
        "w3_raster.png": sg.plot.raster(spikes, max_neurons=150),
        "w3_rates.png": sg.plot.rate_histograms({lif.label: sg.plot.firing_rates(
            probes[lif.label])}),
        "w3_readout.png": sg.plot.probes(t, {f"readout voltage, image {i} (label "
                                             f"{labels[i]})": probes["readout_voltage"][i]
                                             for i in range(2)}),
    }


if __name__ == "__main__":
    main()
