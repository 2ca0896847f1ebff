"""W1: a spiking convolutional MNIST classifier trained through its rate approximation.

Mirrors NengoDL's tutorial "Optimizing a spiking neural network" (seeds/000): three
convolutional layers of LIF neurons and a dense readout, with two probes on the output,
an unfiltered one for training (one step per image, rate neurons) and one filtered by a
0.1 s lowpass for testing (each image held for 30 steps of 1 ms, spiking neurons).

The workload is restated in docs/workloads.md (W1). This script declares the network
and prints its summary; snngraph cannot yet compile, train or run it.
"""

from __future__ import annotations

import time

import numpy as np

import snngraph as sg

N_TEST_STEPS = 30  # each test image is held for 30 steps of dt = 1 ms
MINIBATCH = 200


def build(neuron_type: sg.NeuronType | None = None, seed: int = 0) -> sg.Network:
    """The tutorial's network.

    ``neuron_type`` defaults to ``sg.LIF(amplitude=0.01)`` (what the tutorial tests);
    pass ``sg.LIFRate(amplitude=0.01)`` for the rate network that training uses.
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
        out = sg.Layer(sg.Dense(10))(x, label="readout")  # linear readout (logits)

        # Unfiltered output for training on rates, lowpass-filtered output for testing
        # on spikes (it averages the spike noise over the 30 steps).
        sg.Probe(out, label="out_p")
        sg.Probe(out, synapse=0.1, label="out_p_filt")
    return net


def main() -> None:
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images of "
          f"{x_train.shape[1]}x{x_train.shape[2]} pixels ({x_train.dtype})")
    # The input node takes flattened images: training shows each one for a single
    # step, testing tiles it over N_TEST_STEPS steps.
    train_batch = x_train[:MINIBATCH].reshape(-1, 1, 28 * 28)
    test_batch = np.tile(x_test[:5].reshape(-1, 1, 28 * 28), (1, N_TEST_STEPS, 1))
    print(f"a training minibatch has shape {train_batch.shape} (images, steps, pixels); "
          f"5 test images tiled over time have shape {test_batch.shape}; "
          f"their labels are {y_test[:5].tolist()}")

    net = build()
    print(sg.summary(net))
    program = sg.compile(net)
    print(program.summary())
    # Spiking inference with the initial (untrained) weights: the speed is real, the
    # accuracy is chance until rate training (the next snngraph release) trains them.
    n = 100
    images = (x_test[:n].reshape(n, 28 * 28) / 255.0).astype(np.float32)
    with sg.Simulator(program, minibatch_size=n, progress_bar=False) as sim:
        start = time.perf_counter()
        out = sim.predict(images, n_steps=N_TEST_STEPS)
        seconds = time.perf_counter() - start
    probe = next(p for p in net.all_probes if p.synapse is not None)
    guess = out[program.op_of(probe)][:, -1].argmax(axis=1)
    print(f"spiking inference: {n} images x {N_TEST_STEPS} steps in {seconds:.2f} s "
          f"(first run includes compiling the step); untrained accuracy "
          f"{np.mean(guess == y_test[:n]):.1%}")
    print("Training this network (rate training) arrives with the next snngraph release.")


if __name__ == "__main__":
    main()
