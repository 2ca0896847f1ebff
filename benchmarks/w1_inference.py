"""W1 spiking inference: every MNIST test image for 30 steps through the W1 network
(spiking LIF), minibatched, on the Numba runtime. Prints JSON (median of --repeats runs).

The weights are the network's initial (random, Glorot) ones until rate training exists;
speed does not depend on them much, but activity does, so the spike counts are reported.

    SNNGRAPH_DATA=/path/to/data python benchmarks/w1_inference.py [--images 10000]
"""

from __future__ import annotations

import json
import statistics

import numpy as np
from common import example, inference_parser, timed

import snngraph as sg


def build_w1() -> sg.Network:
    return example("w1_spiking_mnist").build()


def main() -> None:
    args = inference_parser(__doc__.splitlines()[0], images=10000).parse_args()
    (_, _), (x_test, y_test) = sg.datasets.load_mnist()
    x = (x_test[: args.images].reshape(-1, 784) / 255.0).astype(np.float32)
    net = build_w1()
    program = sg.compile(net)
    with sg.Simulator(program, minibatch_size=args.minibatch, progress_bar=False) as sim:
        sim.predict(x[: args.minibatch], n_steps=2)  # compile the kernels first
        times, out = timed(lambda: sim.predict(x, n_steps=args.steps), args.repeats)
    filtered = next(p for p in net.all_probes if p.synapse is not None)
    guess = out[filtered][:, -1].argmax(axis=1)
    accuracy = float(np.mean(guess == y_test[: len(x)]))
    spikes, events = activity(net, x[:200], args.steps)
    seconds = statistics.median(times)
    print(json.dumps({
        "benchmark": "w1_inference", "images": len(x), "steps": args.steps,
        "minibatch": args.minibatch, "repeats": args.repeats, "seconds_median": seconds,
        "seconds_all": times, "images_per_s": len(x) / seconds,
        "spikes_per_image_by_layer": spikes, "synaptic_events_per_image": events,
        "synaptic_events_per_s": events * len(x) / seconds,
        "accuracy_untrained_weights": accuracy,
    }, indent=1))


def activity(net: sg.Network, x: np.ndarray, steps: int) -> tuple[list[float], float]:
    """Spikes per image in each LIF layer (measured on a sample, in a separate run so
    the timed run records no neuron probes), and the synaptic events they cause
    (each spike touches kernel_height x kernel_width x filters weights, or a matrix
    column)."""
    with net:
        probes = [sg.Probe(e.neurons) for e in net.all_ensembles]
    with sg.Simulator(net, minibatch_size=len(x), progress_bar=False) as sim:
        out = sim.predict(x, n_steps=steps)
    spikes, events = [], 0.0
    for ens, probe in zip(net.all_ensembles, probes):
        per_image = float((out[probe] != 0).sum()) / len(x)
        conn = next(c for c in net.all_connections if c.pre is ens.neurons)
        t = conn.transform
        fan_out = (int(np.prod(t.kernel_size)) * t.n_filters
                   if isinstance(t, sg.Convolution) else t.shape[0])
        spikes.append(per_image)
        events += per_image * fan_out
    return spikes, events


if __name__ == "__main__":
    main()
