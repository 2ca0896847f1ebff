"""W5: recurrent leaky neurons trained to classify by regressing spike counts.

Mirrors snnTorch's regression tutorial, part II (seeds/004): 784 -> Linear 128 ->
recurrent leaky layer (``RLeaky``, beta 0.9, all-to-all linear feedback with bias) ->
Linear 10 -> recurrent leaky layer (beta 0.9, its own all-to-all feedback). Each
``RLeaky`` adds ``V(S[t-1])``, a linear map of the layer's spikes from the previous
step, to its input; here that is a connection from the neurons to themselves through a
one-step delay. Over 10 steps the loss is the mean-square error between each output's
spike count and a target count (8 spikes for the correct class, 2 for the others).

The workload is restated in docs/workloads.md (W5). This script declares the network and
prints its summary; snngraph cannot yet compile, train or run it.
"""

from __future__ import annotations

import numpy as np

import snngraph as sg

NUM_STEPS = 10
CORRECT_RATE, INCORRECT_RATE = 0.8, 0.2  # mse_count_loss targets, as fractions of steps


def _torch_init(fan_in: int) -> sg.dists.Uniform:
    """torch's default for Linear weights: uniform in +-1/sqrt(fan_in)."""
    return sg.dists.Uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in))


def _recurrent_leaky(x: object, n: int, beta: float, label: str) -> sg.Neurons:
    """Leaky neurons fed by ``x`` plus their own previous spikes through a Linear(n, n)
    with bias (``snn.RLeaky(beta, linear_features=n)``)."""
    h = sg.Layer(sg.Leaky(beta=beta))(x, label=label)
    sg.Connection(h, h, transform=sg.Dense((n, n), init=_torch_init(n), bias=True),
                  synapse=sg.Delay(1), label=f"{label}.recurrent")
    return h


def build(hidden: int = 128, beta: float = 0.9, seed: int = 0) -> sg.Network:
    """The tutorial's ``Net(timesteps=10, hidden=128, beta=0.9)`` (biases start at 0)."""
    with sg.Network(seed=seed, label="snntorch_rleaky") as net:
        # snnTorch neurons take their input as current directly: gain 1, bias 0.
        net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
        net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])

        inp = sg.Node(np.zeros(28 * 28), label="input")  # flattened images, every step
        x = sg.Layer(sg.Dense(hidden, init=_torch_init(28 * 28)))(inp, label="fc1")
        spk1 = _recurrent_leaky(x, hidden, beta, "rlif1")
        x = sg.Layer(sg.Dense(10, init=_torch_init(hidden)))(spk1, label="fc2")
        spk2 = _recurrent_leaky(x, 10, beta, "rlif2")

        sg.Probe(spk1, label="spk1")
        sg.Probe(spk2, label="spk2")  # the loss counts these spikes
        sg.Probe(spk2, "voltage", label="mem2")
    return net


def main() -> None:
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    feature = x_train[:128].reshape(128, -1) / 255.0  # feature.flatten(1) in the tutorial
    target = np.where(np.arange(10) == y_train[:128, None], int(NUM_STEPS * CORRECT_RATE),
                      int(NUM_STEPS * INCORRECT_RATE))
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images; a batch of "
          f"features has shape {feature.shape}; target spike counts have shape "
          f"{target.shape} (first row, label {y_train[0]}: {target[0].tolist()})")

    net = build()
    print(sg.summary(net))
    print(sg.compile(net).summary())
    print("This network compiles and runs on the CPU simulator today (sg.Simulator); "
          "training it through time arrives with a later snngraph release.")


if __name__ == "__main__":
    main()
