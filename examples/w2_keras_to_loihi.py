"""W2: a ReLU convolutional network converted to spiking neurons for Loihi.

Mirrors NengoDL's tutorial "Converting a Keras model to an SNN on Loihi" (seeds/001).
The Keras model is::

    input (28, 28, 1)
    -> to-spikes: Conv2D 3 filters 1x1, ReLU, no bias     (runs off-chip)
    -> conv0: Conv2D 32 filters 3x3 stride 2, ReLU, no bias
    -> conv1: Conv2D 64 filters 3x3 stride 2, ReLU, no bias
    -> dense0: Dense 100, ReLU
    -> dense1: Dense 10, linear                            (a Node, off-chip)

The user trains it with ReLU, swaps in spiking ReLU and then Loihi's spiking ReLU (with
``scale_firing_rates`` and ``synapse``), and finally runs it on Loihi with the test images
presented for 0.03 s each, the to-spikes layer off-chip and the big layers split across
cores. ``build``'s keyword arguments select those variants. The workload is restated in
docs/workloads.md (W2). ``python examples/w2_keras_to_loihi.py`` runs steps 1, 2, 4
and 5 on MNIST (set SNNGRAPH_DATA for the full set): it trains, converts, and reports
accuracy, mean firing rate per layer and speed; ``--plot`` writes the figures of
``figures`` (``sg.plot``, matplotlib).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import snngraph as sg
from snngraph.base import context_stack

PRESENTATION_TIME = 0.03  # seconds per test image on Loihi
N_TEST = 5  # test images shown on Loihi in the tutorial

# Block shapes the tutorial gives NengoLoihi (neurons per core, channels last). The
# conv0 block is larger than the 13x13 layer along rows and columns: one tile there.
BLOCK_SHAPES = {"conv0": (16, 16, 4), "conv1": (8, 8, 16), "dense0": (50,)}


def build(neuron_type: sg.NeuronType | None = None, *, synapse: Any = None,
          scale_firing_rates: float | dict[str, float] = 1.0, block_shapes: bool = False,
          present_images: np.ndarray | None = None, seed: int = 0,
          probe_layers: bool = True) -> sg.Network:
    """The converted network, as NengoDL's Converter builds it.

    ``neuron_type`` replaces every ReLU (default ``sg.RectifiedLinear()``; the tutorial
    also uses ``sg.SpikingRectifiedLinear()`` and ``sg.LoihiSpikingRectifiedLinear()``).
    ``synapse`` filters every connection leaving neurons (the tutorial uses 0.005 with
    spiking neurons). ``scale_firing_rates`` multiplies each layer's gain and divides its
    output amplitude: one number, or one per layer name. ``block_shapes=True`` sets the
    tutorial's per-core block shapes; ``present_images`` (n, 784) makes the input a
    ``PresentInput`` showing each image for 0.03 s.
    """
    if neuron_type is None:
        neuron_type = sg.RectifiedLinear()
    with sg.Network(seed=seed, label="keras_to_loihi") as net:
        if present_images is None:
            inp = sg.Node(np.zeros(28 * 28), label="input")  # fed at run time
        else:
            images = np.asarray(present_images, dtype=np.float32).reshape(-1, 28 * 28)
            inp = sg.Node(sg.PresentInput(images, presentation_time=PRESENTATION_TIME),
                          label="input")

        shapes: dict[str, tuple[int, ...]] = {}  # each layer's output shape

        def layer(pre: Any, transform: Any, name: str) -> sg.Ensemble:
            scale = (scale_firing_rates.get(name, 1.0) if isinstance(scale_firing_rates, dict)
                     else scale_firing_rates)
            shapes[name] = transform.shape_out
            return _relu_layer(pre, transform, name, _scaled(neuron_type, scale), scale,
                               synapse)

        # Keras' kernel initialiser is Glorot uniform; Dense layers keep Keras' default
        # bias (dense0, dense1), the Conv2D layers are declared without one.
        glorot = sg.dists.Glorot()
        to_spikes = layer(inp, sg.Convolution(3, (28, 28, 1), kernel_size=1, init=glorot),
                          "to-spikes")
        conv0 = layer(to_spikes.neurons, sg.Convolution(
            32, shapes["to-spikes"], kernel_size=3, strides=2, init=glorot), "conv0")
        conv1 = layer(conv0.neurons, sg.Convolution(
            64, shapes["conv0"], kernel_size=3, strides=2, init=glorot), "conv1")
        flat = int(np.prod(shapes["conv1"]))  # Keras' Flatten: channels-last order
        dense0 = layer(conv1.neurons, sg.Dense((100, flat), init=glorot, bias=True), "dense0")

        # No activation: the converter makes a Node, which runs off-chip.
        out = sg.Node(size_in=10, label="dense1")
        sg.Connection(dense0.neurons, out, synapse=synapse, label="dense1.weights",
                      transform=sg.Dense((10, 100), init=glorot, bias=True))

        # The one layer that turns pixels into spikes runs on the host.
        net.config[to_spikes].on_chip = False
        if block_shapes:  # (13, 13, 32), (6, 6, 64) and (100,) neurons
            for ens in (conv0, conv1, dense0):
                net.config[ens].block_shape = sg.BlockShape(BLOCK_SHAPES[ens.label],
                                                            shapes[ens.label])

        for ens in (to_spikes, conv0, conv1, dense0) if probe_layers else ():
            sg.Probe(ens.neurons, label=f"{ens.label}_p")  # activity, for mean rates
        sg.Probe(out, label="output_p")
    return net


def _relu_layer(pre: Any, transform: Any, name: str, neuron_type: sg.NeuronType,
                scale: float, synapse: Any) -> sg.Ensemble:
    """One converted layer: its weights lead straight into the neurons (no passthrough
    node, which would have to run off-chip).

    NengoDL's converter gives every neuron gain ``scale_firing_rates`` (1 by default) and
    bias 0 as ``Choice`` distributions rather than deriving them from max_rates and
    intercepts, so a neuron's input is exactly the Keras pre-activation; the layer's own
    bias lives on the transform here. Only connections leaving neurons get ``synapse``.
    """
    ens = sg.Ensemble(transform.size_out, 1, neuron_type=neuron_type, label=name,
                      gain=sg.dists.Choice([scale]), bias=sg.dists.Choice([0.0]))
    # Keras layers have no per-neuron bias: training leaves these at 0 (as NengoDL's
    # converter does)
    context_stack()[-1].config[ens].trainable = False
    sg.Connection(pre, ens.neurons, transform=transform, label=f"{name}.weights",
                  synapse=synapse if isinstance(pre, sg.Neurons) else None)
    return ens


def _scaled(neuron_type: sg.NeuronType, scale: float) -> sg.NeuronType:
    """``neuron_type`` with its amplitude divided by ``scale`` (the converter's rule)."""
    if scale == 1:
        return neuron_type
    fields = {f: getattr(neuron_type, f) for f in type(neuron_type).model_fields}
    fields["amplitude"] = neuron_type.amplitude / scale
    return type(neuron_type)(**fields)


LAYERS = ("to-spikes", "conv0", "conv1", "dense0")
PARAMS = Path("w2_params.npz")  # written to the working directory
LOIHI_PARAMS = Path("w2_loihi_params.npz")


def evaluate(neuron_type: Any, params: Path, images: np.ndarray, labels: np.ndarray,
             n_steps: int, **options: Any) -> tuple[float, dict[str, float], float]:
    """Accuracy (argmax of the output at the last step) and images/s over ``images``,
    and each layer's mean firing rate (Hz) over the first 200 of them, for the network
    with ``neuron_type`` and ``params`` (rate backend for one step, numba otherwise)."""
    backend = "rate" if n_steps == 1 else "numba"
    net = build(neuron_type, probe_layers=False)
    out_p = next(p for p in net.all_probes if p.label == "output_p")
    with sg.Simulator(net, backend=backend, minibatch_size=200, progress_bar=False,
                      **options) as sim:
        sim.load_params(params)
        start = time.perf_counter()
        out = sim.predict(np.tile(images[:, None], (1, n_steps, 1)))[out_p]
        seconds = time.perf_counter() - start
    accuracy = float(np.mean(out[:, -1].argmax(axis=-1) == labels))
    net = build(neuron_type)  # the same network, with its layers probed
    rates = {}
    with sg.Simulator(net, backend=backend, minibatch_size=200, progress_bar=False,
                      **options) as sim:
        sim.load_params(params)
        out = sim.predict(np.tile(images[:200, None], (1, n_steps, 1)))
        for p in net.all_probes:
            if p.label[:-2] in LAYERS:
                op = sim.program.ir.op(sim.program.op_of(p.target))
                rates[p.label[:-2]] = float(out[p].mean() / op.neuron["amplitude"])
    return accuracy, rates, len(images) / seconds


def report(step: str, result: tuple[float, dict[str, float], float]) -> None:
    accuracy, rates, speed = result
    shown = ", ".join(f"{k} {v:.1f}" for k, v in rates.items())
    print(f"{step}: accuracy {accuracy:.2%}; mean rates (Hz) {shown}; {speed:,.0f} images/s",
          flush=True)


def train(net: sg.Network, images: np.ndarray, labels: np.ndarray, epochs: int,
          path: Path, validation_split: float = 0.0, **options: Any) -> Any:
    out_p = next(p for p in net.all_probes if p.label == "output_p")
    with sg.Simulator(net, minibatch_size=200, progress_bar=False, **options) as sim:
        history = sim.fit(images[:, None], {out_p: labels}, epochs=epochs,
                          optimizer=sg.optim.RMSprop(lr=0.001),
                          loss=sg.losses.CrossEntropy(from_logits=True),
                          metrics=sg.metrics.Accuracy(), validation_split=validation_split)
        sim.save_params(path)
    print(f"trained {epochs} epochs: {', '.join(f'{s:.1f}' for s in history['epoch_seconds'])}"
          f" s per epoch; saved {path.name}", flush=True)
    return history


def figures(history: Any, params: Path, images: np.ndarray, labels: np.ndarray,
            n_steps: int) -> dict[str, Any]:
    """The ``sg.plot`` figures of the network trained with Loihi neurons (step 5) on a
    few test ``images``, by file name: output probabilities over time, each layer's spike
    raster, the chip's core map, the training curves and, on the emulated chip, each
    layer's spiking rates against the rate network's."""
    from snngraph.view import measure_rates

    loihi = sg.LoihiSpikingRectifiedLinear()
    options = {"scale_firing_rates": 100, "synapse": 0.005}
    net = build(loihi)
    with sg.Simulator(net, minibatch_size=len(images), progress_bar=False, **options) as sim:
        sim.load_params(params)
        out = sim.predict(np.tile(images[:, None], (1, n_steps, 1)))
        t = (np.arange(n_steps) + 1) * sim.dt
    probes = {p.label: out[p] for p in net.all_probes}
    z = probes["output_p"][:2]
    probs = np.exp(z - z.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    with sg.Simulator(build(loihi, probe_layers=False), backend="loihi", progress_bar=False,
                      **options) as chip:
        chip.load_params(params)
        program = chip.program
    return {
        "w2_outputs.png": sg.plot.probes(t, {f"output probabilities, image {i} (label "
                                             f"{labels[i]})": p for i, p in enumerate(probs)}),
        "w2_raster.png": sg.plot.raster({name: probes[f"{name}_p"] for name in LAYERS},
                                        max_neurons=150),
        "w2_core_map.png": sg.plot.core_map(program),
        "w2_history.png": sg.plot.history(history),
        "w2_rate_vs_spiking.png": sg.plot.rate_agreement(measure_rates(
            build(loihi, probe_layers=False), images, target="loihi", params=params,
            steps=n_steps, **options)),
    }


def run_on_loihi(params: Path, images: np.ndarray, labels: np.ndarray, n_steps: int,
                 hand_shapes: bool) -> float:
    """Step 6: the network trained in step 5 on the emulated chip, minibatched over test
    images (each from a fresh chip state); partitioned automatically, or with the
    tutorial's block shapes. Prints accuracy, speed, compile time, the resource report
    and the energy estimate."""
    net = build(sg.LoihiSpikingRectifiedLinear(), block_shapes=hand_shapes,
                probe_layers=False)
    out_p = next(p for p in net.all_probes if p.label == "output_p")
    with sg.Simulator(net, backend="loihi", minibatch_size=200, progress_bar=False,
                      scale_firing_rates=100, synapse=0.005) as sim:
        sim.load_params(params)
        start = time.perf_counter()
        out = sim.predict(np.tile(images[:, None], (1, n_steps, 1)))[out_p]
        seconds = time.perf_counter() - start
        loihi_passes = sum(sim.program.timings[p] for p in
                           ("split_host_chip", "partition", "discretize"))
        report = sim.resources()
    accuracy = float(np.mean(out[:, -1].argmax(axis=-1) == labels))
    how = "block shapes (16,16,4), (8,8,16), (50,)" if hand_shapes else "automatic partition"
    print(f"   {how}: accuracy {accuracy:.2%} on {len(images)} images; {report.cores} cores; "
          f"{len(images) / seconds:,.0f} images/s; Loihi passes {loihi_passes * 1e3:.0f} ms "
          f"(compile {sum(sim.program.timings.values()) * 1e3:.0f} ms)")
    print("   " + str(report).replace("\n", "\n   "), flush=True)
    return accuracy


def present(params: Path, images: np.ndarray, labels: np.ndarray, n_steps: int) -> None:
    """Step 6 as the tutorial runs it: one chip, the images shown one after another by a
    ``PresentInput`` for 0.03 s each with no reset in between; scored at the end of
    each presentation."""
    if len(images) == 0:
        return
    net = build(sg.LoihiSpikingRectifiedLinear(), present_images=images, probe_layers=False)
    out_p = next(p for p in net.all_probes if p.label == "output_p")
    with sg.Simulator(net, backend="loihi", progress_bar=False, scale_firing_rates=100,
                      synapse=0.005) as sim:
        sim.load_params(params)
        sim.run_steps(n_steps)  # compile the kernels, then start over
        sim.reset()
        start = time.perf_counter()
        sim.run_steps(n_steps * len(images))
        seconds = time.perf_counter() - start
        out = sim.data[out_p][0].reshape(len(images), n_steps, -1)
    accuracy = float(np.mean(out[:, -1].argmax(axis=-1) == labels))
    print(f"   PresentInput, {len(images)} images in sequence (no reset): accuracy "
          f"{accuracy:.2%}; {len(images) / seconds:,.1f} images/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=None, help="first N only")
    parser.add_argument("--test-images", type=int, default=None, help="first N only")
    parser.add_argument("--steps", type=int, default=30, help="steps per test image")
    parser.add_argument("--plot", action="store_true", help="plot outputs (matplotlib)")
    parser.add_argument("--loihi-only", action="store_true",
                        help="only step 6, with the parameters step 5 saved")
    parser.add_argument("--present", type=int, default=50,
                        help="images shown one after another with PresentInput in step 6")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n_train, n_test = args.train_images or len(x_train), args.test_images or len(x_test)
    # raw pixel values 0..255, as the tutorial feeds them (no rescaling)
    train_x = x_train[:n_train].reshape(-1, 28 * 28).astype(np.float32)
    test_x = x_test[:n_test].reshape(-1, 28 * 28).astype(np.float32)
    train_y, test_y = y_train[:n_train], y_test[:n_test]
    print(f"MNIST: training on {n_train} images, testing on {n_test}")
    if args.loihi_only:
        for hand in (False, True):
            run_on_loihi(LOIHI_PARAMS, test_x, test_y, args.steps, hand)
        present(LOIHI_PARAMS, test_x[:args.present], test_y[:args.present], args.steps)
        return
    print(sg.summary(build()))

    print("\n1. train with ReLU (rates)")
    train(build(probe_layers=False), train_x, train_y, args.epochs, PARAMS)
    report("   ReLU (rate)", evaluate(None, PARAMS, test_x, test_y, 1))

    print(f"\n2. spiking ReLU, scale_firing_rates=100, synapse=0.005, {args.steps} steps")
    report("   spiking ReLU", evaluate(sg.SpikingRectifiedLinear(), PARAMS, test_x, test_y,
                                       args.steps, scale_firing_rates=100, synapse=0.005))

    print("\n4. per-layer scales toward 200 Hz from the ReLU network's measured rates")
    _, relu_rates, _ = evaluate(None, PARAMS, test_x[:1000], test_y[:1000], 1)
    scales = {name: 200.0 / max(rate, 1e-3) for name, rate in relu_rates.items()}
    print("   scales: " + ", ".join(f"{k} {v:.1f}" for k, v in scales.items()))
    report("   spiking ReLU, per-layer scales",
           evaluate(sg.SpikingRectifiedLinear(), PARAMS, test_x, test_y, args.steps,
                    scale_firing_rates=scales, synapse=0.005))

    print("\n5. train with the Loihi neuron's rate curve and scale_firing_rates=100")
    loihi = sg.LoihiSpikingRectifiedLinear()
    history = train(build(loihi, probe_layers=False), train_x, train_y, args.epochs,
                    LOIHI_PARAMS, scale_firing_rates=100)
    report("   Loihi neurons (NengoDL's emulation of the chip's neuron)",
           evaluate(loihi, LOIHI_PARAMS, test_x, test_y, args.steps,
                    scale_firing_rates=100, synapse=0.005))

    if args.plot:
        for name, fig in figures(history, LOIHI_PARAMS, test_x[:8], test_y[:8],
                                 args.steps).items():
            fig.savefig(name, dpi=110)
            print(f"plot written to {name}")

    print("\n6. on the emulated Loihi chip (backend='loihi'), each test image shown for "
          f"{args.steps} steps")
    for hand in (False, True):
        run_on_loihi(LOIHI_PARAMS, test_x, test_y, args.steps, hand)
    present(LOIHI_PARAMS, test_x[:args.present], test_y[:args.present], args.steps)


if __name__ == "__main__":
    main()
