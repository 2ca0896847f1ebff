"""W5: recurrent leaky neurons trained to classify by regressing spike counts.

Mirrors snnTorch's regression tutorial, part II (seeds/004): 784 -> Linear 128 ->
recurrent leaky layer (``RLeaky``, beta 0.9, all-to-all linear feedback with bias) ->
Linear 10 -> recurrent leaky layer (beta 0.9, its own all-to-all feedback). Each
``RLeaky`` adds ``V(S[t-1])``, a linear map of the layer's spikes from the previous
step, to its input; here that is a connection from the neurons to themselves through a
one-step delay. Over 10 steps the loss is the mean-square error between each output's
spike count and a target count (8 spikes for the correct class, 2 for the others).

The workload is restated in docs/workloads.md (W5). This script trains the network through
time (surrogate gradients: ``method="bptt"``, chosen because the neurons carry a
surrogate and the data have 10 steps), reports accuracy by spike count on the test set,
seconds per epoch and images per second, saves the parameters, and runs the trained
network on the numba runtime's ``predict``; ``--plot`` writes the figures of ``figures``
(``sg.plot``, matplotlib): training curves, spike rasters and firing rates.

    SNNGRAPH_DATA=/path/to/data python examples/w5_snntorch_recurrent.py [--epochs 5]
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

NUM_STEPS = 10
CORRECT_RATE, INCORRECT_RATE = 0.8, 0.2  # mse_count_loss targets, as fractions of steps
BATCH_SIZE = 128
PARAMS = Path("w5_params.npz")  # written to the working directory
# RLeaky's default spike_grad (the tutorial sets none): snntorch.surrogate.atan(alpha=2)
SURROGATE = sg.surrogates.ATan(alpha=2.0)


def _torch_init(fan_in: int) -> sg.dists.Uniform:
    """torch's default for Linear weights and biases: uniform in +-1/sqrt(fan_in)."""
    return sg.dists.Uniform(-1.0 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in))


def _recurrent_leaky(x: object, n: int, beta: float, label: str) -> sg.Neurons:
    """Leaky neurons fed by ``x`` plus their own previous spikes through a Linear(n, n)
    with bias (``snn.RLeaky(beta, linear_features=n)``)."""
    h = sg.Layer(sg.Leaky(beta=beta, surrogate=SURROGATE))(x, label=label)
    sg.Connection(h, h, transform=sg.Dense((n, n), init=_torch_init(n), bias=_torch_init(n)),
                  synapse=sg.Delay(1), label=f"{label}.recurrent")
    return h


def build(hidden: int = 128, beta: float = 0.9, seed: int = 0) -> sg.Network:
    """The tutorial's ``Net(timesteps=10, hidden=128, beta=0.9)``, initialised as torch
    does (weights and biases uniform in +-1/sqrt(fan_in))."""
    with sg.Network(seed=seed, label="snntorch_rleaky") as net:
        # Leaky neurons take their input as current directly (gain 1, bias 0) and train
        # no bias of their own, as snnTorch's: the trainable parameters are exactly the
        # tutorial's (tests/test_review_params.py counts them).

        inp = sg.Node(np.zeros(28 * 28), label="input")  # flattened images, every step
        x = sg.Layer(sg.Dense(hidden, init=_torch_init(28 * 28),
                              bias=_torch_init(28 * 28)))(inp, label="fc1")
        spk1 = _recurrent_leaky(x, hidden, beta, "rlif1")
        x = sg.Layer(sg.Dense(10, init=_torch_init(hidden), bias=_torch_init(hidden)))(
            spk1, label="fc2")
        spk2 = _recurrent_leaky(x, 10, beta, "rlif2")

        sg.Probe(spk2, label="spk2")  # the loss counts these spikes
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--seed", type=int, default=0,
                        help="the network's seed: initial weights and the training order")
    parser.add_argument("--plot", action="store_true", help="write figures (matplotlib)")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n_train = args.train_images or len(x_train)
    n_test = args.test_images or len(x_test)
    train_x = (x_train[:n_train].reshape(n_train, -1) / 255.0).astype(np.float32)
    test_x = (x_test[:n_test].reshape(n_test, -1) / 255.0).astype(np.float32)
    train_y, test_y = y_train[:n_train], y_test[:n_test]
    print(f"MNIST: training on {n_train} images, testing on {n_test}; {NUM_STEPS} steps, "
          f"targets {int(NUM_STEPS * CORRECT_RATE)} spikes for the label and "
          f"{int(NUM_STEPS * INCORRECT_RATE)} for the others")

    net = build(seed=args.seed)
    print(sg.summary(net))
    out = next(p for p in net.all_probes if p.label == "spk2")
    accuracy = sg.metrics.Accuracy(reduce_time="count")
    with sg.Simulator(net, minibatch_size=BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(train_x, {out: train_y}, epochs=args.epochs, n_steps=NUM_STEPS,
                          optimizer=torch_adam(1e-3),
                          loss=sg.losses.MSECount(CORRECT_RATE, INCORRECT_RATE),
                          metrics=accuracy)
        seconds = history["epoch_seconds"]
        print(f"training ({history.method}): mean {np.mean(seconds):.2f} s per epoch "
              f"(epochs: {', '.join(f'{s:.2f}' for s in seconds)}), "
              f"{n_train / np.median(seconds):,.0f} training images/s")
        sim.save_params(PARAMS)
        steps = np.broadcast_to(test_x[:, None], (n_test, NUM_STEPS, 784))
        sim.predict(steps[:BATCH_SIZE])  # compile the kernels first
        start = time.perf_counter()
        spikes = sim.predict(steps)[out]
        elapsed = time.perf_counter() - start
    correct = float(np.mean(spikes.sum(axis=1).argmax(axis=-1) == test_y))
    print(f"test accuracy (spike count, numba runtime predict): {correct:.2%} on {n_test} "
          f"images; inference {n_test / elapsed:,.0f} images/s; mean spikes per image "
          f"{spikes.sum() / n_test:.1f}; parameters saved to {PARAMS}")
    if args.plot:
        for name, fig in figures(history, test_x[:8], seed=args.seed).items():
            fig.savefig(name, dpi=110)
            print(f"plot written to {name}")


def figures(history: object, images: np.ndarray, params: Path = PARAMS,
            seed: int = 0) -> dict[str, object]:
    """The ``sg.plot`` figures of a trained W5 (``params``) on a few test ``images``
    (pixels in [0, 1]), by file name."""
    net = build(seed=seed)
    with net:  # probe the hidden layer's spikes too
        hidden = next(e for e in net.ensembles if e.label == "rlif1")
        sg.Probe(hidden.neurons, label="rlif1")
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        sim.load_params(params)
        out = sim.predict(np.broadcast_to(images[:, None], (len(images), NUM_STEPS, 784)))
    spikes = {p.label: out[p] for p in reversed(net.all_probes)}  # input side first
    return {
        "w5_history.png": sg.plot.history(history),
        "w5_raster.png": sg.plot.raster(spikes),
        "w5_rates.png": sg.plot.rate_histograms(
            {k: sg.plot.firing_rates(v) for k, v in spikes.items()}),
    }


if __name__ == "__main__":
    main()
