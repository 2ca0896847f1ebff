"""W4: a convolutional SNN of discrete-time leaky neurons, trained with surrogate gradients.

Mirrors snnTorch's tutorial 6, "Surrogate Gradient Descent in a Convolutional SNN"
(seeds/003): 12C5-MP2-64C5-MP2-1024FC10. Each image is fed unchanged at every one of
50 steps; every convolution is followed by 2x2 max-pooling and then by a layer of
``Leaky`` neurons (beta 0.5, threshold 1, reset by subtraction), as in the tutorial's
forward pass (conv -> max-pool -> leaky). The fully connected layer feeds 10 output
neurons whose spike counts are the class scores. Training (fast-sigmoid surrogate with
slope 25, Adam at 1e-2, batches of 128, on the first tenth of the training set) is not
part of the network.

The workload is restated in docs/workloads.md (W4). This script declares the network and
prints its summary; snngraph cannot yet compile, train or run it.
"""

from __future__ import annotations

import numpy as np

import snngraph as sg

NUM_STEPS = 50
BATCH_SIZE = 128
SUBSET = 10  # snntorch.utils.data_subset keeps the first 1/SUBSET of the images


def _torch_init(fan_in: int) -> sg.dists.Uniform:
    """torch's default for Conv2d and Linear weights: uniform in +-1/sqrt(fan_in)."""
    return sg.dists.Uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in))


def build(beta: float = 0.5, seed: int = 0) -> sg.Network:
    """The tutorial's network, channels last (biases start at zero)."""
    with sg.Network(seed=seed, label="snntorch_csnn") as net:
        # snnTorch neurons take their input as current directly: gain 1, bias 0.
        net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
        net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])

        def leaky(x: object, label: str) -> sg.Neurons:
            return sg.Layer(sg.Leaky(beta=beta, threshold=1.0, reset="subtract"))(
                x, label=label)

        inp = sg.Node(np.zeros(28 * 28), label="input")  # images fed at run time
        x = sg.Layer(sg.Conv2D(12, 5, kernel_initializer=_torch_init(1 * 5 * 5)))(
            inp, shape_in=(28, 28, 1), label="conv1")  # -> (24, 24, 12)
        x = sg.Layer(sg.MaxPool2D(2))(x, label="pool1")  # -> (12, 12, 12)
        x = leaky(x, "lif1")
        x = sg.Layer(sg.Conv2D(64, 5, kernel_initializer=_torch_init(12 * 5 * 5)))(
            x, label="conv2")  # -> (8, 8, 64)
        x = sg.Layer(sg.MaxPool2D(2))(x, label="pool2")  # -> (4, 4, 64) = 1024 values
        x = leaky(x, "lif2")
        x = sg.Layer(sg.Dense(10, init=_torch_init(64 * 4 * 4)))(x, label="fc1")
        out = leaky(x, "lif3")

        # The forward pass returns the output spikes and membrane potentials.
        sg.Probe(out, label="spk3")
        sg.Probe(out, "voltage", label="mem3")
    return net


def main() -> None:
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    train = x_train[: len(x_train) // SUBSET]
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images; the tutorial "
          f"trains on the first 1/{SUBSET}: {train.shape[0]} images (labels "
          f"{np.bincount(y_train[: len(train)], minlength=10).tolist()} per digit)")
    batch = train[:BATCH_SIZE, None] / 255.0  # channels-first, as torchvision gives it
    print(f"a batch has shape {batch.shape}; the network sees the same image at each of "
          f"{NUM_STEPS} steps")

    net = build()
    print(sg.summary(net))
    print(sg.compile(net).summary())
    print("This network compiles and runs on the CPU simulator today (sg.Simulator); "
          "training it through time arrives with a later snngraph release.")


if __name__ == "__main__":
    main()
