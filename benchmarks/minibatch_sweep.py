"""W1 spiking inference speed against minibatch size (images/s, median of --repeats).

    SNNGRAPH_DATA=/path/to/data python benchmarks/minibatch_sweep.py [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
from common import timed
from w1_inference import build_w1

import snngraph as sg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50, 100, 200, 500])
    args = parser.parse_args()
    (_, _), (x_test, _) = sg.datasets.load_mnist()
    x = (x_test[: args.images].reshape(-1, 784) / 255.0).astype(np.float32)
    program = sg.compile(build_w1())
    results = {}
    for size in args.sizes:
        with sg.Simulator(program, minibatch_size=size, progress_bar=False) as sim:
            sim.predict(x[:size], n_steps=30)  # compile before timing
            times, _ = timed(lambda: sim.predict(x, n_steps=30), args.repeats)
        results[size] = {"images_per_s": len(x) / statistics.median(times), "seconds": times}
    print(json.dumps({"benchmark": "minibatch_sweep", "images": len(x), "steps": 30,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
