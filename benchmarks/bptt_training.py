"""Training through time (method="bptt") on W3, W4 and W5: seconds per minibatch and per
epoch, and spiking inference images/s, each the median of --repeats runs. Prints JSON with
the peers' figures on this machine type (docs/peers.md) and the ratios.

A run trains one full epoch (or --batches minibatches, extrapolated to the epoch) after one
warm-up batch that compiles the kernels, timed by the epoch's own clock
(``history["epoch_seconds"]``, which leaves out compiling the program before it); the runs
continue one training, so later epochs see trained weights (spiking activity, and with it
the event-driven kernels' cost, changes as the network learns); inference runs the
trained network on the numba runtime's predict over --test-images test images.

docs/peers.md's first figures were measured on another machine of this type, and these
machines' speeds differ by 3-5x (a 2 GHz Zen 1 ran snnTorch's W5 at 45-75 ms per batch
where docs/peers.md has 14-23 ms). ``--peers FILE`` reads the JSON lines that
benchmarks/peers/peer_training.py printed on *this* machine and adds side-by-side ratios.

    SNNGRAPH_DATA=/path/to/data python benchmarks/bptt_training.py [--workload w5] \
        [--peers peers.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial
from pathlib import Path

import numpy as np
from common import example, timed

import snngraph as sg

# workload: example module, batch size, steps, epoch size, peer, peer s/epoch, peer
# s/batch, peer inference images/s (docs/peers.md)
WORKLOADS = {
    "w3": ("w3_norse_recurrent", 256, 32, 60000, "Norse", 15.1, None, 7600),
    "w4": ("w4_snntorch_conv", 128, 50, 6000, "snnTorch", None, 1.06, 285),
    "w5": ("w5_snntorch_recurrent", 128, 10, 60000, "snnTorch", 6.6, None, 10000),
}


def setup(workload: str):
    """The network, its output probe, fit arguments and the image preprocessing."""
    mod = example(WORKLOADS[workload][0])
    net = mod.build()
    label = {"w3": "readout_voltage", "w4": "spk3", "w5": "spk2"}[workload]
    out = next(p for p in net.all_probes if p.label == label)
    if workload == "w3":
        fit = {"optimizer": sg.optim.Adam(lr=2e-3, epsilon=1e-8, epsilon_style="torch"),
               "loss": sg.losses.CrossEntropy(reduce_time="max")}
        prep = lambda x: (x / 255.0 - 0.1307) / 0.3081  # noqa: E731
    elif workload == "w4":
        fit = {"optimizer": sg.optim.Adam(lr=1e-2, epsilon=1e-8, epsilon_style="torch"),
               "loss": sg.losses.CrossEntropyRate()}
        prep = lambda x: x / 255.0  # noqa: E731
    else:
        fit = {"optimizer": sg.optim.Adam(lr=1e-3, epsilon=1e-8, epsilon_style="torch"),
               "loss": sg.losses.MSECount(0.8, 0.2)}
        prep = lambda x: x / 255.0  # noqa: E731
    return net, out, fit, prep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default=None,
                        help="one workload (default: all three)")
    parser.add_argument("--batches", type=int, default=None,
                        help="minibatches per timed run (default: the whole epoch)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--peers", type=Path, default=None,
                        help="JSON lines from benchmarks/peers/peer_training.py, this machine")
    args = parser.parse_args()
    here = {}
    if args.peers and not args.peers.is_file():
        parser.error(f"--peers {str(args.peers)!r}: no such file (the output of "
                     "benchmarks/peers/peer_training.py)")
    if args.peers:
        for n, line in enumerate(args.peers.read_text().splitlines(), 1):
            if line.strip().startswith("{"):
                record = json.loads(line)
                if "workload" not in record or "s_per_batch_median" not in record:
                    parser.error(f"--peers {str(args.peers)!r} line {n}: not a timing line "
                                 "of peer_training.py (run it without --epochs)")
                here[record["workload"]] = record
    (x_train, y_train), (x_test, _) = sg.datasets.load_mnist()
    results = []
    for workload in [args.workload] if args.workload else sorted(WORKLOADS):
        _, batch, steps, epoch_size, peer, peer_epoch, peer_batch, peer_inf = \
            WORKLOADS[workload]
        batches = args.batches or -(-epoch_size // batch)
        net, out, fit, prep = setup(workload)
        x = prep(x_train[: batch * batches].reshape(-1, 784).astype(np.float32))
        y = y_train[: batch * batches]
        xt = prep(x_test[: args.test_images].reshape(-1, 784).astype(np.float32))
        per_batch = []
        with sg.Simulator(net, minibatch_size=batch, progress_bar=False) as sim:
            sim.fit(x[:batch], {out: y[:batch]}, epochs=1, n_steps=steps, verbose=0, **fit)
            for _ in range(args.repeats):  # the epoch's own time (not compiling the program)
                history = sim.fit(x, {out: y}, epochs=1, n_steps=steps, verbose=0, **fit)
                per_batch.append(history["epoch_seconds"][0] / batches)
            feed = np.broadcast_to(xt[:, None], (len(xt), steps, 784))
            sim.predict(feed[:batch])
            times, _ = timed(partial(sim.predict, feed), args.repeats)
            inference = [len(xt) / s for s in times]
        s_batch = statistics.median(per_batch)
        s_epoch = s_batch * -(-epoch_size // batch)
        ratio = (peer_epoch / s_epoch) if peer_epoch else (peer_batch / s_batch)
        results.append({
            "workload": workload, "batch": batch, "steps": steps, "batches_timed": batches,
            "repeats": args.repeats, "s_per_batch_median": s_batch,
            "s_per_batch_all": per_batch, "s_per_epoch": s_epoch, "epoch_images": epoch_size,
            "peer": peer, "peer_s_per_epoch": peer_epoch, "peer_s_per_batch": peer_batch,
            "speedup_vs_peer": ratio,
            "inference_images_per_s": statistics.median(inference),
            "peer_inference_images_per_s": peer_inf,
        })
        if workload in here:  # the peer measured on this machine
            peer = here[workload]
            results[-1].update({
                "peer_here_s_per_batch": peer["s_per_batch_median"],
                "speedup_vs_peer_here": peer["s_per_batch_median"] / s_batch,
                "peer_here_inference_images_per_s": peer["inference_images_per_s"],
                "inference_vs_peer_here":
                    results[-1]["inference_images_per_s"] / peer["inference_images_per_s"],
            })
        print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
