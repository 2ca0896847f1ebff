"""``summary(net)``: a short text description of a network (what a script prints).

Parameters are counted as lowering stores them, trainable and frozen apart, by the rules
of ``snngraph.params`` (the same ``sim.trainable_params()`` lists)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from snngraph.params import count
from snngraph.transforms import Convolution, Dense, Pooling, Sparse


def count_parameters(transform: Any) -> int:
    """Stored weights (and biases) of a connection's transform (not used by ``summary``,
    which counts by ``snngraph.params``; kept for callers)."""
    if isinstance(transform, Convolution):
        n = math.prod(transform.kernel_size) * transform.channels_in * transform.n_filters
        return n + (transform.n_filters if _has_bias(transform) else 0)
    if isinstance(transform, Dense):
        init = transform.init
        diag = isinstance(init, float) or (isinstance(init, np.ndarray) and init.ndim < 2)
        n = transform.shape[0] if diag else math.prod(transform.shape)
        return n + (transform.shape[0] if _has_bias(transform) else 0)
    if isinstance(transform, Sparse):
        return len(transform.indices)
    if isinstance(transform, Pooling) or np.ndim(transform) == 0:
        return 0  # pooling has no weights; a scalar gain is not a learned matrix
    return int(np.size(transform))


def _has_bias(transform: Any) -> bool:
    return transform.bias is not None and transform.bias is not False


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
        f"  parameters: {trainable:,} trainable, {frozen:,} frozen (neuron gains, biases "
        "that are not trained, Sparse weights, probe decoders; see sim.trainable_params())",
    ]
    return "\n".join(lines)


def _fmt(counter: Counter) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.most_common()) or "none"
