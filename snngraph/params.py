"""What training changes, and under which name.

The arrays training may change (``IR.owners``: an ensemble's ``bias`` and ``encoders``,
a connection's ``transform`` weights, ``transform_bias`` and ``decoders``) are trained
unless ``net.config[obj].trainable`` (or ``net.config[Class].trainable``) says otherwise.
Defaults, each chosen so that nothing is trained that the user did not write:

- a connection's weights (a Dense, Convolution, array or scalar transform, and NEF
  decoders) train; a Sparse transform does not (a dense gradient would fill its zeros);
- a Dense transform has no bias unless given one (``bias=True`` for zeros, an array or a
  Distribution), on a Connection and in a Layer alike (Nengo's Dense has none; torch's
  ``nn.Linear`` and Keras's ``Dense`` users write ``bias=True``); a Conv2D layer has one
  (``use_bias=True``, Keras's default), a Convolution transform has none;
- an ensemble's encoders train; its gain never does (it stays what max_rates and
  intercepts, or ``gain=``, made it);
- an ensemble's bias trains for Nengo's neuron types (LIF, RectifiedLinear, ...: the bias
  sets where the neuron starts firing, and NengoDL trains it). Types that take their input
  current directly (``discrete`` types: Leaky, CubaLIF, LI, as snnTorch and Norse write
  them) have gain 1 and bias 0 and train neither: snnTorch's and Norse's neurons have no
  bias, and the Dense before them already has one (the two would get the same gradient).
  Ask for it with ``net.config[ens].trainable = True`` (one ensemble) or
  ``net.config[sg.Ensemble].trainable = True`` (all of them).

``net.config[obj].trainable = False`` freezes everything of ``obj``. Names follow the
user's labels: ``"<name>.<role>"`` with role ``weights``, ``bias``, ``decoders`` or
``encoders``; ``<name>`` is the object's label, for an unlabeled connection its target
Node's label (a Layer's output) or ``"<pre>_<post>"``, else the class name in lower case;
a second object of the same name gets ``_2`` (then ``_3`` ...), in creation order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snngraph.connection import Connection, base_object, decodes
from snngraph.ensemble import Ensemble
from snngraph.node import Node
from snngraph.transforms import Convolution, Dense, Pooling, Sparse

ROLE_NAMES = {"transform": "weights", "transform_bias": "bias", "decoders": "decoders",
              "bias": "bias", "encoders": "encoders"}


def setting(net: Any, obj: Any) -> bool | None:
    """``config[obj].trainable`` as set on any network (innermost wins) or by class;
    None when nobody set it (the default by role, see ``is_trainable``)."""
    for sub in [*reversed(net.all_networks), net]:
        if "trainable" in sub.config.params.get(obj, {}):
            return sub.config.params[obj]["trainable"]
    return net.config.param(obj, "trainable")


def explicit(net: Any, obj: Any) -> bool:
    """True when ``config[obj].trainable`` was set on the object itself."""
    return any("trainable" in sub.config.params.get(obj, {})
               for sub in [net, *net.all_networks])


def is_trainable(net: Any, obj: Any, role: str) -> bool:
    """Whether training changes ``obj``'s array of ``role`` (see the module docstring)."""
    value = setting(net, obj)
    if value is not None:
        return bool(value)
    return not (role == "bias" and isinstance(obj, Ensemble) and obj.neuron_type.discrete)


def object_name(obj: Any) -> str:
    """The name an object's parameters are listed under (before ``_2`` suffixes)."""
    if getattr(obj, "label", None):
        return obj.label
    if isinstance(obj, Connection):
        post = base_object(obj.post)
        if isinstance(post, Node) and post.label:  # a Layer's output node
            return post.label
        return f"{object_name(base_object(obj.pre))}_{object_name(post)}"
    return type(obj).__name__.lower()


def public_names(owners: dict[str, tuple[Any, str]]) -> dict[str, str]:
    """Parameter key (``%fc1_2.w``) -> the user's name (``fc1.weights``), for every key
    of ``owners`` (in their order, which is creation order)."""
    taken: dict[str, int] = {}  # name -> id of the object holding it
    by_obj: dict[int, str] = {}
    out = {}
    for key, (obj, role) in owners.items():
        if id(obj) not in by_obj:
            base, name, i = object_name(obj), object_name(obj), 2
            while name in taken:
                name, i = f"{base}_{i}", i + 1
            taken[name] = id(obj)
            by_obj[id(obj)] = name
        out[key] = f"{by_obj[id(obj)]}.{ROLE_NAMES.get(role, role)}"
    return out


# --------------------------------------------------------------- counting (sg.summary)
def count(net: Any) -> tuple[int, int]:
    """``(trainable, frozen)`` numbers of stored parameter values, as lowering stores
    them (without compiling): weights, biases, decoders, encoders, gains."""
    totals = [0, 0]  # frozen, trainable

    def add(obj: Any, role: str, n: int) -> None:
        totals[is_trainable(net, obj, role)] += n

    decoded_into = _decoded_inputs(net)
    for ens in net.all_ensembles:
        totals[0] += ens.n_neurons  # gain
        add(ens, "bias", ens.n_neurons)
        if id(ens) in decoded_into:
            add(ens, "encoders", ens.n_neurons * ens.dimensions)
    for conn in net.all_connections:
        if decodes(conn.pre):
            add(conn, "decoders", conn.size_mid * base_object(conn.pre).n_neurons)
        weights, bias, fixed = transform_sizes(conn.transform, conn.size_out)
        add(conn, "transform", weights)
        add(conn, "transform_bias", bias)
        totals[0] += fixed
    for probe in net.all_probes:
        if probe.attr == "decoded_output":  # solved readout, never trained
            totals[0] += probe.target.size_out * base_object(probe.target).n_neurons
    return totals[1], totals[0]


def transform_sizes(t: Any, size_out: int) -> tuple[int, int, int]:
    """``(trainable weights, trainable bias, fixed values)`` a transform stores."""
    if isinstance(t, Convolution):
        return math.prod(t.kernel_size) * t.channels_in * t.n_filters, \
            t.n_filters * _has_bias(t), 0
    if isinstance(t, Dense):
        full = not isinstance(t.init, float | np.ndarray) or np.ndim(t.init) == 2 \
            or not t.autapses
        return (math.prod(t.shape) if full else t.shape[0]), t.shape[0] * _has_bias(t), 0
    if isinstance(t, Sparse):
        return 0, 0, len(t.indices)
    if isinstance(t, Pooling):
        return 0, 0, 0
    arr = np.asarray(t, dtype=float)
    if arr.ndim == 0 and arr == 1.0:
        return 0, 0, 0  # the identity: no weights are stored
    return (arr.size if arr.ndim == 2 else size_out), 0, 0


def _has_bias(t: Any) -> bool:
    return t.bias is not None and t.bias is not False


def _decoded_inputs(net: Any) -> set[int]:
    """Ensembles with an encoder matrix: fed decoded, or probed at their decoded input."""
    ids = {id(base_object(c.post)) for c in net.all_connections if decodes(c.post)}
    return ids | {id(p.target) for p in net.all_probes
                  if p.attr == "input" and isinstance(p.target, Ensemble)}
