"""W4: a convolutional SNN of discrete-time leaky neurons, trained with surrogate gradients.

Mirrors snnTorch's tutorial 6, "Surrogate Gradient Descent in a Convolutional SNN"
(seeds/003): 12C5-MP2-64C5-MP2-1024FC10. Each image is fed unchanged at every one of
50 steps; every convolution is followed by 2x2 max-pooling and then by a layer of
``Leaky`` neurons (beta 0.5, threshold 1, reset by subtraction), as in the tutorial's
forward pass (conv -> max-pool -> leaky). The fully connected layer feeds 10 output
neurons whose spike counts are the class scores. Training (fast-sigmoid surrogate with
slope 25, Adam at 1e-2, batches of 128, on the first tenth of the training set) is not
part of the network.

The workload is restated in docs/workloads.md (W4). This script trains the network
through time (``method="bptt"``, snnTorch's ``ce_rate_loss`` as
``sg.losses.CrossEntropyRate``), reports test accuracy by spike count, seconds per batch
and per epoch and images per second, saves the parameters, and runs the trained network
on the numba runtime's ``predict``; ``--plot`` writes the figures of ``figures``
(``sg.plot``, matplotlib).

    SNNGRAPH_DATA=/path/to/data python examples/w4_snntorch_conv.py [--epochs 3]
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

NUM_STEPS = 50
BATCH_SIZE = 128
SUBSET = 10  # snntorch.utils.data_subset keeps the first 1/SUBSET of the images
PARAMS = Path("w4_params.npz")  # written to the working directory
SURROGATE = sg.surrogates.FastSigmoid(slope=25)  # snntorch.surrogate.fast_sigmoid(25)


def _torch_init(fan_in: int) -> sg.dists.Uniform:
    """torch's default for Conv2d and Linear weights and biases: uniform in
    +-1/sqrt(fan_in)."""
    return sg.dists.Uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in))


def build(beta: float = 0.5, seed: int = 0, pool: str = "max") -> sg.Network:
    """The tutorial's network, channels last, initialised as torch does (weights and
    biases uniform in +-1/sqrt(fan_in)). ``pool="avg"`` puts average pooling in place of
    max pooling (the variant NIR can express: it has no max pooling)."""
    pooling = {"max": sg.MaxPool2D, "avg": sg.AvgPool2D}[pool]
    with sg.Network(seed=seed, label="snntorch_csnn") as net:
        # Leaky neurons take their input as current directly (gain 1, bias 0) and train
        # no bias of their own, as snnTorch's: the trainable parameters are exactly the
        # tutorial's (tests/test_review_params.py counts them).

        def leaky(x: object, label: str) -> sg.Neurons:
            return sg.Layer(sg.Leaky(beta=beta, threshold=1.0, reset="subtract",
                                     surrogate=SURROGATE))(x, label=label)

        inp = sg.Node(np.zeros(28 * 28), label="input")  # images fed at run time
        x = sg.Layer(sg.Conv2D(12, 5, kernel_initializer=_torch_init(1 * 5 * 5),
                               bias_initializer=_torch_init(1 * 5 * 5)))(
            inp, shape_in=(28, 28, 1), label="conv1")  # -> (24, 24, 12)
        x = sg.Layer(pooling(2))(x, label="pool1")  # -> (12, 12, 12)
        x = leaky(x, "lif1")
        x = sg.Layer(sg.Conv2D(64, 5, kernel_initializer=_torch_init(12 * 5 * 5),
                               bias_initializer=_torch_init(12 * 5 * 5)))(
            x, label="conv2")  # -> (8, 8, 64)
        x = sg.Layer(pooling(2))(x, label="pool2")  # -> (4, 4, 64) = 1024 values
        x = leaky(x, "lif2")
        x = sg.Layer(sg.Dense(10, init=_torch_init(64 * 4 * 4),
                              bias=_torch_init(64 * 4 * 4)))(x, label="fc1")
        out = leaky(x, "lif3")

        sg.Probe(out, label="spk3")  # the loss and the accuracy read these spikes
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=None,
                        help=f"first N only (default: the first 1/{SUBSET})")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--seed", type=int, default=0,
                        help="the network's seed: initial weights and the training order")
    parser.add_argument("--plot", action="store_true", help="write figures (matplotlib)")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n_train = args.train_images or len(x_train) // SUBSET
    n_test = args.test_images or len(x_test)
    train_x = (x_train[:n_train].reshape(n_train, -1) / 255.0).astype(np.float32)
    test_x = (x_test[:n_test].reshape(n_test, -1) / 255.0).astype(np.float32)
    train_y, test_y = y_train[:n_train], y_test[:n_test]
    print(f"MNIST: training on the first {n_train} images, testing on {n_test}; each image "
          f"is shown at every one of {NUM_STEPS} steps")

    net = build(seed=args.seed)
    print(sg.summary(net))
    out = next(p for p in net.all_probes if p.label == "spk3")
    with sg.Simulator(net, minibatch_size=BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(train_x, {out: train_y}, epochs=args.epochs, n_steps=NUM_STEPS,
                          optimizer=torch_adam(1e-2),
                          loss=sg.losses.CrossEntropyRate(),
                          metrics=sg.metrics.Accuracy(reduce_time="count"))
        seconds = history["epoch_seconds"]
        batches = -(-n_train // BATCH_SIZE)
        print(f"training ({history.method}): mean {np.mean(seconds):.1f} s per epoch "
              f"(epochs: {', '.join(f'{s:.1f}' for s in seconds)}), "
              f"{np.median(seconds) / batches:.3f} s per batch of {BATCH_SIZE}, "
              f"{n_train / np.median(seconds):,.0f} training images/s")
        sim.save_params(PARAMS)
        steps = np.broadcast_to(test_x[:, None], (n_test, NUM_STEPS, 784))
        sim.predict(steps[:BATCH_SIZE])  # compile the kernels first
        start = time.perf_counter()
        spikes = sim.predict(steps)[out]
        elapsed = time.perf_counter() - start
        right = spikes.sum(axis=1).argmax(axis=-1) == test_y
        # snnTorch's tutorial prints "Test Acc" from batch_accuracy(train_loader, ...):
        # the accuracy on its training subset. The same figure here, to compare like
        # with like (the test set's is the one that says how well the network learned).
        train_steps = np.broadcast_to(train_x[:, None], (n_train, NUM_STEPS, 784))
        train_right = sim.predict(train_steps)[out].sum(axis=1).argmax(axis=-1) == train_y
    print(f"test accuracy (spike count, numba runtime predict): {right.mean():.2%} on "
          f"{n_test} images ({right[: n_test // 10].mean():.2%} on the first tenth); "
          f"inference {n_test / elapsed:,.0f} images/s; parameters saved to {PARAMS}")
    print(f"accuracy on the {n_train} training images (what snnTorch's tutorial prints as "
          f"'Test Acc'): {train_right.mean():.2%}")
    if args.plot:
        for name, fig in figures(history, test_x[:8], seed=args.seed).items():
            fig.savefig(name, dpi=110)
            print(f"plot written to {name}")


def figures(history: object, images: np.ndarray, params: Path = PARAMS,
            seed: int = 0) -> dict[str, object]:
    """The ``sg.plot`` figures of a trained W4 (``params``) on a few test ``images``
    (pixels in [0, 1]), by file name: training curves, each layer's spike raster (the
    convolutional layers sampled) and firing rates."""
    net = build(seed=seed)
    with net:  # probe the hidden layers' spikes too
        for ens in net.ensembles[:-1]:
            sg.Probe(ens.neurons, label=ens.label)
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        sim.load_params(params)
        out = sim.predict(np.broadcast_to(images[:, None], (len(images), NUM_STEPS, 784)))
    spikes = {p.label: out[p] for p in [*net.all_probes[1:], net.all_probes[0]]}
    return {
        "w4_history.png": sg.plot.history(history),
        "w4_raster.png": sg.plot.raster(spikes, max_neurons=150),
        "w4_rates.png": sg.plot.rate_histograms(
            {k: sg.plot.firing_rates(v) for k, v in spikes.items()}),
    }


if __name__ == "__main__":
    main()
