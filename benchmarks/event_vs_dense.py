"""Where event-driven propagation stops paying: time of the event path and the dense
path of the linear and convolution kernels against input activity (JSON).
kernels.EVENT_FRACTION should sit near the crossover.

    python benchmarks/event_vs_dense.py
"""

from __future__ import annotations

import json
import statistics
from functools import partial

import numpy as np
from common import timed
from snngraph.runtimes.numba_cpu import kernels


def median_seconds(fn, *args, repeats: int = 7) -> float:
    fn(*args)  # compile first
    return statistics.median(timed(partial(fn, *args), repeats)[0])


def main() -> None:
    rng = np.random.default_rng(0)
    batch = 100
    results = {"linear_3200x10": {}, "conv_26x26x32_to_12x12x64": {}}
    wt = rng.normal(size=(3200, 10)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 32, 64)).astype(np.float32)
    for fraction in [0.001, 0.01, 0.03, 0.1, 0.2, 0.4, 1.0]:
        spikes = (rng.random((batch, 3200)) < fraction).astype(np.float32)
        out = np.zeros((batch, 10), np.float32)
        bias = np.zeros(10, np.float32)
        results["linear_3200x10"][fraction] = {
            path: median_seconds(kernels.linear, spikes, wt, bias, out, ef,
                                 np.zeros((batch, 3200), np.int32))
            for path, ef in (("event", 1.0), ("dense", 0.0))}
        image = (rng.random((batch, 26, 26, 32)) < fraction).astype(np.float32)
        conv_out = np.zeros((batch, 12, 12, 64), np.float32)
        active = np.zeros((batch, 26 * 26 * 32), np.int64)
        args = (kernel, np.zeros(64, np.float32), conv_out, np.array([2, 2]),
                np.array([0, 0]))
        results["conv_26x26x32_to_12x12x64"][fraction] = {
            path: median_seconds(kernels.conv2d, image, *args, ef, active)
            for path, ef in (("event", 1.0), ("dense", 0.0))}
    print(json.dumps({"benchmark": "event_vs_dense", "batch": batch,
                      "event_fraction_setting": kernels.EVENT_FRACTION,
                      "seconds": results}, indent=1))


if __name__ == "__main__":
    main()
