"""``summary(net)``: a short text description of a network (what a script prints).

Parameters are counted as lowering stores them, trainable and frozen apart, by the rules
of ``snngraph.params`` (the same ``sim.trainable_params()`` lists)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from snngraph.params import count


def summary(net: Any) -> str:
    """Objects, neurons by type, connections by synapse and transform, and parameters."""
    ens, conns = net.all_ensembles, net.all_connections
    neurons = Counter()
    for e in ens:
        neurons[type(e.neuron_type).__name__] += e.n_neurons
    synapses = Counter(type(c.synapse).__name__ if c.synapse else "None" for c in conns)
    transforms = Counter(type(c.transform).__name__ if not isinstance(c.transform, float | int)
                         else "scalar" for c in conns)
    trainable, frozen = count(net)
    name = net.label or "network"
    lines = [
        f"{name}: {len(ens)} ensembles, {len(net.all_nodes)} nodes, {len(conns)} connections,"
        f" {len(net.all_probes)} probes, {len(net.all_networks)} subnetworks",
        f"  neurons: {net.n_neurons:,} ({_fmt(neurons)})",
        f"  synapses: {_fmt(synapses)}",
        f"  transforms: {_fmt(transforms)}",
        f"  parameters: {trainable:,} trainable, {frozen:,} frozen (neuron gains and "
        "whatever does not train; sim.trainable_params() lists the trainable ones)",
    ]
    return "\n".join(lines)


def _fmt(counter: Counter) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.most_common()) or "none"
