"""W2 step 6 on the emulated Loihi: the trained W2 network over MNIST test images (30
steps each, minibatched) with automatic partitioning, and the Loihi compile passes.
Prints JSON (medians of --repeats runs).

Needs the parameters the W2 example saves (``w2_loihi_params.npz``; run
``examples/w2_keras_to_loihi.py`` first, or pass ``--params``)::

    SNNGRAPH_DATA=/path/to/data python benchmarks/w2_loihi.py [--images 1000]

Reference: NengoLoihi 1.1.0's emulator runs the tutorial at 2.5 images/s on this machine
type (docs/peers.md).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
from common import example, inference_parser, timed

import snngraph as sg

PEER_IMAGES_PER_S = 2.5  # NengoLoihi emulator, docs/peers.md
LOIHI_PASSES = ("split_host_chip", "partition", "discretize")


def main() -> None:
    parser = inference_parser(__doc__.splitlines()[0], images=1000)
    parser.add_argument("--params", type=Path, default=Path("w2_loihi_params.npz"))
    args = parser.parse_args()
    if not args.params.exists():
        raise SystemExit(f"{args.params} not found: run examples/w2_keras_to_loihi.py first "
                         "(it trains W2 and saves the Loihi parameters) or pass --params")
    w2 = example("w2_keras_to_loihi")
    (_, _), (x_test, y_test) = sg.datasets.load_mnist()
    images = x_test[: args.images].reshape(-1, 28 * 28).astype(np.float32)
    labels = y_test[: args.images]
    x = np.tile(images[:, None], (1, args.steps, 1))
    net = w2.build(sg.LoihiSpikingRectifiedLinear(), probe_layers=False)
    out_p = next(p for p in net.all_probes if p.label == "output_p")
    options = {"scale_firing_rates": 100, "synapse": 0.005}

    compile_s = []
    for _ in range(5):
        program = sg.compile(net, target="loihi", **options)
        compile_s.append(sum(program.timings[p] for p in LOIHI_PASSES))
    with sg.Simulator(net, backend="loihi", minibatch_size=args.minibatch,
                      progress_bar=False, **options) as sim:
        sim.load_params(args.params)
        sim.predict(x[: args.minibatch, :2])  # compile the kernels first
        run_s, out = timed(lambda: sim.predict(x)[out_p], args.repeats)
        report = sim.resources()
    seconds = statistics.median(run_s)
    print(json.dumps({
        "benchmark": "w2_loihi", "images": len(images), "steps": args.steps,
        "minibatch": args.minibatch, "repeats": args.repeats,
        "accuracy": float(np.mean(out[:, -1].argmax(axis=-1) == labels)),
        "cores": report.cores, "fits": report.fits(),
        "seconds_median": seconds, "seconds_all": run_s,
        "images_per_s": len(images) / seconds,
        "speedup_vs_nengo_loihi": len(images) / seconds / PEER_IMAGES_PER_S,
        "loihi_passes_s_median": statistics.median(compile_s), "loihi_passes_s_all": compile_s,
        "energy_uj_per_inference": report.energy()["loihi_j"] * 1e6,
    }, indent=1))


if __name__ == "__main__":
    main()
