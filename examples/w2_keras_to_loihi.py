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
docs/workloads.md (W2). This script declares the networks and prints their summaries;
snngraph cannot yet compile, train or run them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import snngraph as sg

PRESENTATION_TIME = 0.03  # seconds per test image on Loihi
N_TEST = 5  # test images shown on Loihi in the tutorial

# Block shapes the tutorial gives NengoLoihi (neurons per core, channels last). The
# conv0 block is larger than the 13x13 layer along rows and columns: one tile there.
BLOCK_SHAPES = {"conv0": (16, 16, 4), "conv1": (8, 8, 16), "dense0": (50,)}


def build(neuron_type: sg.NeuronType | None = None, *, synapse: Any = None,
          scale_firing_rates: float | dict[str, float] = 1.0, block_shapes: bool = False,
          present_images: np.ndarray | None = None, seed: int = 0) -> sg.Network:
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

        for ens in (to_spikes, conv0, conv1, dense0):  # activity, to measure mean rates
            sg.Probe(ens.neurons, label=f"{ens.label}_p")
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


def main() -> None:
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images of "
          f"{x_train.shape[1]}x{x_train.shape[2]} pixels ({x_train.dtype}); training "
          f"feeds them flattened with one step each: {x_train.reshape(-1, 1, 784).shape}")

    print("\n1. training network (ReLU, rates):")
    print(sg.summary(build()))

    # The final step of the tutorial: Loihi neurons trained with scale_firing_rates=100,
    # converted with scale 400, the test images presented one after the other.
    images = x_test[:N_TEST]
    net = build(sg.LoihiSpikingRectifiedLinear(), synapse=0.005, scale_firing_rates=400,
                block_shapes=True, present_images=images)
    print(f"\n6. Loihi network, showing test images with labels {y_test[:N_TEST].tolist()} "
          f"for {PRESENTATION_TIME} s each:")
    print(sg.summary(net))
    for ens in net.ensembles:
        cfg = net.config[ens]
        print(f"  {ens.label}: {ens.n_neurons} neurons, on_chip={cfg.on_chip}, "
              f"block_shape={cfg.block_shape}")
    print(sg.compile(net).summary())
    print("These networks compile and run on the CPU simulator today (sg.Simulator); "
          "training them and the Loihi target (partitioning, finding a block shape when "
          "none is given, the emulator) arrive with later snngraph releases.")


if __name__ == "__main__":
    main()
