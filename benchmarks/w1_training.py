"""W1 rate-training speed: seconds per epoch over the full 60k MNIST training set
(minibatch 200, RMSprop, one step per image), as NengoDL's tutorial trains it.

    SNNGRAPH_DATA=/path/to/data python benchmarks/w1_training.py --epochs 3

Prints each epoch's seconds and the median (the first epoch includes compiling the
kernels unless they are cached), and the training accuracy. ``--images`` trains on a
subset for a quick look. NengoDL on this machine type: 124 s per epoch
(docs/peers.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import w1_spiking_mnist as w1  # noqa: E402

import snngraph as sg  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=None, help="train on the first N")
    args = parser.parse_args()
    (x_train, y_train), _ = sg.datasets.load_mnist()
    n = args.images or len(x_train)
    x = x_train[:n].reshape(n, 1, 784).astype(np.float32)  # raw 0..255, as the tutorial
    net = w1.build()
    out_p = next(p for p in net.all_probes if p.label == "out_p")
    start = time.perf_counter()
    with sg.Simulator(net, minibatch_size=w1.MINIBATCH, progress_bar=False) as sim:
        build = time.perf_counter() - start
        history = sim.fit(x, {out_p: y_train[:n]}, epochs=args.epochs,
                          optimizer=sg.optim.RMSprop(lr=0.001),
                          loss=sg.losses.CrossEntropy(from_logits=True),
                          metrics=sg.metrics.Accuracy(), verbose=1)
    seconds = history["epoch_seconds"]
    print(f"W1 training, {n} images/epoch, minibatch {w1.MINIBATCH}: build {build:.2f} s; "
          f"epochs {', '.join(f'{s:.1f}' for s in seconds)} s; median "
          f"{statistics.median(seconds):.1f} s/epoch ({n / statistics.median(seconds):,.0f} "
          f"images/s); NengoDL: 124 s/epoch")


if __name__ == "__main__":
    main()
