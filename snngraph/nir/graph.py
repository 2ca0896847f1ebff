"""Reading a NIR graph: every node and edge checked before anything is built.

The file is read as plain data (h5py), not through ``nir.read``: NIR 1.0.8 refuses
nested graphs whose edges name inner nodes (``"g.input"``) and cannot load a malformed
subgraph at all, and its own messages rarely name the node. Here a graph is flattened
(a subgraph's nodes become ``"g.x"``, its Input and Output nodes pass values through),
each node's fields are checked by type (present, numeric, shapes that agree, no 0-d
neuron parameters), every edge must name nodes that exist, and the cycles are found:
each is read with a one-step delay, placed on the edge leaving the last stateful node
(neurons, Threshold, Delay) before the cycle closes, as NIRTorch and snnTorch read a
recurrent layer. A cycle with nothing stateful in it is an algebraic loop and refused.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from snngraph.errors import SerializationError

NEURONS = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold")
STATEFUL = NEURONS + ("Delay", "snngraph")  # "snngraph": a restored snngraph neuron op
SPATIAL = ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d")

# per type: required fields, optional fields (with their default)
FIELDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "Input": (("shape",), {}),
    "Output": (("shape",), {}),
    "Affine": (("weight", "bias"), {}),
    "Linear": (("weight",), {}),
    "Scale": (("scale",), {}),
    "Conv1d": (("weight", "stride", "padding", "dilation", "groups", "bias"),
               {"input_shape": None}),
    "Conv2d": (("weight", "stride", "padding", "dilation", "groups", "bias"),
               {"input_shape": None}),
    "SumPool2d": (("kernel_size", "stride", "padding"), {}),
    "AvgPool2d": (("kernel_size", "stride", "padding"), {}),
    "Flatten": (("start_dim", "end_dim"), {"input_type": None}),
    "Delay": (("delay",), {}),
    "Threshold": (("threshold",), {}),
    "I": (("r",), {}),
    "IF": (("r", "v_threshold"), {"v_reset": 0.0}),
    "LI": (("tau", "r", "v_leak"), {}),
    "LIF": (("tau", "r", "v_leak", "v_threshold"), {"v_reset": 0.0}),
    "CubaLI": (("tau_syn", "tau_mem", "r", "v_leak"), {"w_in": 1.0}),
    "CubaLIF": (("tau_syn", "tau_mem", "r", "v_leak", "v_threshold"),
                {"v_reset": 0.0, "w_in": 1.0}),
}
IGNORED = {"type", "metadata", "input_type", "output_type"}
"""Fields every node may carry that do not change what it computes (types are inferred
from the parameters and checked along the edges; Flatten's input_type is checked)."""
PER_NEURON = {"Threshold": ("threshold",), "I": ("r",), "IF": ("r", "v_threshold", "v_reset"),
              "LI": ("tau", "r", "v_leak"),
              "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
              "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
              "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset",
                          "w_in"),
              "Scale": ("scale",), "Delay": ("delay",)}
TIMES = ("tau", "tau_syn", "tau_mem")


@dataclass
class Node:
    """One NIR node, checked: its type, fields (numpy arrays or plain values) and
    metadata; ``path`` names it in messages (``"lif1.w_rec"``)."""

    type: str
    fields: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """A flat NIR graph: nodes, edges, the edges read one step late, graph metadata."""

    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    metadata: dict[str, Any]
    source: str
    delayed: set[tuple[str, str]] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)

    def inputs(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def outputs(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]


class NIRFileError(SerializationError):
    """A NIR file or graph that cannot be read (names the file, node and field)."""


def fail(source: str, where: str, msg: str, fix: str = "") -> NIRFileError:
    text = f"{source}: {where}: {msg}" if where else f"{source}: {msg}"
    return NIRFileError(text + (f"\n  fix: {fix}" if fix else ""))


# ------------------------------------------------------------------ reading the raw data
def read_raw(path_or_graph: Any) -> tuple[dict[str, Any], str]:
    """The top graph as a plain dict (``type``, ``nodes``, ``edges``, ``metadata``) and
    a name for messages, from a file path or a ``nir.NIRGraph``."""
    if isinstance(path_or_graph, str | os.PathLike):
        path = Path(path_or_graph)
        if not path.is_file():
            raise NIRFileError(f"{path}: no such NIR file")
        try:
            import h5py
            from nir.serialization import hdf2dict
        except ImportError:
            raise NIRFileError("reading NIR files needs the nir package: pip install "
                               "'snngraph[nir]'") from None
        try:
            with h5py.File(path, "r") as f:
                if "node" not in f:
                    raise NIRFileError(f"{path}: not a NIR file (no 'node' group at its root; "
                                       f"it holds {sorted(f.keys())})")
                return hdf2dict(f["node"]), str(path)
        except OSError as exc:
            raise NIRFileError(f"{path}: not a NIR file (not HDF5: {exc})") from None
    if hasattr(path_or_graph, "to_dict") and type(path_or_graph).__name__ == "NIRGraph":
        return path_or_graph.to_dict(), "<nir.NIRGraph>"
    raise NIRFileError(f"sg.nir.load: expected a .nir file path or a nir.NIRGraph, got "
                       f"{type(path_or_graph).__name__}")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _text(value.item())
    return str(value)


# ------------------------------------------------------------------ flattening
def flatten(raw: dict[str, Any], source: str) -> Graph:
    """The graph with every subgraph's nodes lifted into it (``"g.x"``)."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    passthrough: set[str] = set()
    _lift(raw, "", nodes, edges, passthrough, source, top=True)
    for name in passthrough:  # an inner Input/Output: its inputs feed its consumers
        ins = [a for a, b in edges if b == name]
        outs = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e]
        edges += [(a, b) for a in ins for b in outs]
        del nodes[name]
    meta = _metadata(raw.get("metadata", {}))
    return Graph(nodes, edges, meta, source)


def _metadata(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out = {}
    for k, v in raw.items():
        if isinstance(v, bytes | str) or (isinstance(v, np.ndarray) and v.dtype.kind in "SOU"):
            out[str(k)] = _text(v)
        else:
            out[str(k)] = v
    return out


def _lift(raw: dict[str, Any], prefix: str, nodes: dict[str, Node],
          edges: list[tuple[str, str]], passthrough: set[str], source: str,
          top: bool) -> None:
    where = f"subgraph {prefix[:-1]!r}" if prefix else "the graph"
    if not isinstance(raw, dict) or "nodes" not in raw or "edges" not in raw:
        raise fail(source, where, "a NIRGraph needs 'nodes' and 'edges' (one is missing)")
    inner = raw["nodes"]
    if not isinstance(inner, dict) or not inner:
        raise fail(source, where, "it has no nodes")
    subgraphs = {}
    for key, node in inner.items():
        name = prefix + str(key)
        kind = _text(node.get("type", "")) if isinstance(node, dict) else ""
        if not kind:
            raise fail(source, f"node {name!r}", "it has no 'type' field")
        if kind == "NIRGraph":
            subgraphs[str(key)] = name
            _lift(node, name + ".", nodes, edges, passthrough, source, top=False)
            continue
        nodes[name] = check_node(name, kind, node, source)
        if not top and kind in ("Input", "Output"):
            passthrough.add(name)
    for a, b in _edges(raw["edges"], where, source):
        edges.append((_endpoint(a, prefix, subgraphs, nodes, "Output", source),
                      _endpoint(b, prefix, subgraphs, nodes, "Input", source)))
    _check_edges(edges, prefix, nodes, source)


def _edges(raw: Any, where: str, source: str) -> list[tuple[str, str]]:
    arr = np.asarray(raw, dtype=object)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise fail(source, where, f"'edges' must be pairs (source, destination); got an array "
                   f"of shape {arr.shape}")
    return [(_text(a), _text(b)) for a, b in arr]


def _endpoint(name: str, prefix: str, subgraphs: dict[str, str], nodes: dict[str, Node],
              role: str, source: str) -> str:
    """An edge end inside a graph at ``prefix``: a node, a subgraph (its only Input or
    Output node), or a dotted name of a node inside a subgraph."""
    if name in subgraphs:
        full = subgraphs[name]
        ports = [n for n, node in nodes.items()
                 if n.startswith(full + ".") and n.count(".") == full.count(".") + 1
                 and node.type == role]
        if len(ports) != 1:
            raise fail(source, f"edge end {prefix + name!r}", f"subgraph {full!r} has "
                       f"{len(ports)} {role} node(s); an edge to the subgraph itself needs "
                       "exactly one", f"name the node inside it ({full}.<{role.lower()}>)")
        return ports[0]
    return prefix + name


def _check_edges(edges: list[tuple[str, str]], prefix: str, nodes: dict[str, Node],
                 source: str) -> None:
    seen = set()
    for a, b in edges:
        if not (a.startswith(prefix) and b.startswith(prefix)):
            continue
        for end, label in ((a, "source"), (b, "destination")):
            if end not in nodes:
                close = difflib.get_close_matches(end, list(nodes), n=1)
                raise fail(source, f"edge ({a!r}, {b!r})", f"its {label} {end!r} is not a "
                           "node of the graph", f"did you mean {close[0]!r}?" if close else
                           f"the nodes are {', '.join(sorted(nodes)[:12])}")
        if (a, b) in seen:
            raise fail(source, f"edge ({a!r}, {b!r})", "it appears twice")
        seen.add((a, b))


# ------------------------------------------------------------------ checking one node
def check_node(name: str, kind: str, raw: dict[str, Any], source: str) -> Node:
    """The node's fields as arrays, each checked; a clear error otherwise."""
    if kind not in FIELDS:
        close = difflib.get_close_matches(kind, list(FIELDS) + ["NIRGraph"], n=1)
        raise fail(source, f"node {name!r}", f"unknown node type {kind!r} (NIR 1.0.8 has "
                   f"{', '.join(sorted(FIELDS))} and NIRGraph)",
                   f"did you mean {close[0]!r}?" if close else "")
    required, optional = FIELDS[kind]
    unknown = sorted(set(raw) - set(required) - set(optional) - IGNORED)
    if unknown:  # a field this reader does not know could change what the node does
        raise fail(source, f"node {name!r} ({kind})", f"unknown field(s) {unknown} (NIR "
                   f"1.0.8's {kind} has {', '.join(required + tuple(optional))})",
                   "remove them, or read the file with the nir version that wrote it")
    fields: dict[str, Any] = {}
    for f in required:
        if f not in raw:
            raise fail(source, f"node {name!r} ({kind})", f"the required field {f!r} is "
                       "missing")
        fields[f] = _numeric(raw[f], name, kind, f, source)
    for f, default in optional.items():
        if f not in raw and f in PER_NEURON.get(kind, ()):
            # a field added after the file was written (v_reset in 1.0.6, w_in): NIR
            # reads it as its default for every neuron
            fields[f] = np.full(fields[PER_NEURON[kind][0]].shape, float(default))
            continue
        value = raw.get(f, default)
        fields[f] = None if value is None else _numeric(value, name, kind, f, source)
    node = Node(kind, fields, _metadata(raw.get("metadata", {})))
    _check_shapes(name, node, source)
    return node


def _numeric(value: Any, name: str, kind: str, f: str, source: str) -> Any:
    if isinstance(value, str | bytes):
        text = _text(value)
        if f == "padding" and text in ("same", "valid"):
            return text
        raise fail(source, f"node {name!r} ({kind})", f"field {f!r} must be numbers, got the "
                   f"text {text!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise fail(source, f"node {name!r} ({kind})", f"field {f!r} must be numbers, got "
                   f"{type(value).__name__}") from None
    if not np.all(np.isfinite(arr)) and not (kind in ("Input", "Output") or f == "delay"):
        raise fail(source, f"node {name!r} ({kind})", f"field {f!r} has non-finite values")
    return arr


def _check_shapes(name: str, node: Node, source: str) -> None:
    where = f"node {name!r} ({node.type})"
    for check in (_check_per_neuron, _check_times, _check_weights, _check_ports,
                  _check_integers):
        problem = check(node.type, node.fields)
        if problem:
            raise fail(source, where, *problem)


def _check_per_neuron(kind: str, fields: dict[str, Any]) -> tuple[str, ...] | None:
    per = PER_NEURON.get(kind, ())
    shapes = {f: fields[f].shape for f in per}
    for f, shape in shapes.items():
        if shape == ():
            return (f"field {f!r} is a 0-d (scalar) array: NIR needs one value per neuron "
                    "(the node's shape is its parameters' shape, and nir.read's type check "
                    "fails on 0-d parameters)",
                    f"store {f} as an array of the layer's shape, e.g. np.full(n, value)")
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{f} {s}" for f, s in shapes.items())
        return (f"its parameters must all have one shape; got {listed}",)
    return None


def _check_times(kind: str, fields: dict[str, Any]) -> tuple[str, ...] | None:
    for f in TIMES:
        if f in fields and np.any(fields[f] <= 0):
            return (f"field {f!r} must be positive time constants (s); got min "
                    f"{fields[f].min():g}",)
    if kind == "Delay" and np.any(fields["delay"] < 0):
        return ("field 'delay' must be >= 0 seconds",)
    return None


def _check_weights(kind: str, fields: dict[str, Any]) -> tuple[str, ...] | None:
    dims = {"Affine": 2, "Linear": 2, "Conv1d": 3, "Conv2d": 4}.get(kind)
    if dims is None:
        return None
    w = fields["weight"]
    if w.ndim != dims:
        what = "an (out, in) matrix" if dims == 2 else "(out channels, in channels, kernel...)"
        return (f"field 'weight' must be {dims}-D, {what}; got shape {w.shape}",)
    if "bias" in fields and fields["bias"].shape != (w.shape[0],):
        return (f"field 'bias' must have shape ({w.shape[0]},) to match the weight "
                f"{w.shape}; got {fields['bias'].shape}",)
    return None


def _check_ports(kind: str, fields: dict[str, Any]) -> tuple[str, ...] | None:
    if kind not in ("Input", "Output"):
        return None
    shape = fields["shape"]
    if shape.ndim != 1 or shape.size == 0 or not np.all(np.isfinite(shape)) or \
            np.any(shape < 1) or np.any(shape != np.round(shape)):
        return (f"field 'shape' must list positive integer sizes; got "
                f"{np.ravel(shape).tolist()}",)
    return None


# integer fields: (node types, field, smallest value, most values); one value stands for
# every spatial axis
INTEGERS = [(("Flatten",), "start_dim", None, 1), (("Flatten",), "end_dim", None, 1),
            (("Conv1d", "Conv2d"), "groups", 1, 1), (("Conv1d", "Conv2d"), "stride", 1, 2),
            (("Conv1d", "Conv2d"), "dilation", 1, 2), (("Conv1d", "Conv2d"), "padding", 0, 2),
            (("SumPool2d", "AvgPool2d"), "kernel_size", 1, 2),
            (("SumPool2d", "AvgPool2d"), "stride", 1, 2),
            (("SumPool2d", "AvgPool2d"), "padding", 0, 2)]


def _check_integers(kind: str, fields: dict[str, Any]) -> tuple[str, ...] | None:
    for kinds, f, low, most in INTEGERS:
        value = fields.get(f) if kind in kinds else None
        if value is None or isinstance(value, str):  # absent, or padding 'same'/'valid'
            continue
        flat = np.ravel(value)
        if flat.size == 0 or flat.size > most or np.any(flat != np.round(flat)) or \
                (low is not None and np.any(flat < low)):
            bound = f" >= {low}" if low is not None else ""
            count = "an integer" if most == 1 else "1 or 2 integers"
            return (f"field {f!r} must be {count}{bound}; got {flat.tolist()}",)
    return None


# ------------------------------------------------------------------ cycles
def break_cycles(graph: Graph) -> None:
    """Mark the edges read one step late (one per cycle) and refuse algebraic loops and
    nodes no Input reaches."""
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    g.add_edges_from(graph.edges)
    inputs = [n for n, node in graph.nodes.items() if node.type == "Input"]
    if not inputs:
        raise fail(graph.source, "", "the graph has no Input node (nothing feeds it)",
                   "add an Input node and an edge from it to the first layer")
    reach = set(inputs)
    for i in inputs:
        reach |= nx.descendants(g, i)
    stray = sorted(set(graph.nodes) - reach)
    if stray:
        raise fail(graph.source, f"node {stray[0]!r}", f"no path from any Input reaches it"
                   f"{' (nor ' + ', '.join(map(repr, stray[1:5])) + ')' if len(stray) > 1 else ''}"
                   "; a cycle with no path from the input never starts", "add an edge "
                   "from the graph's input into it, or remove it")
    component = {n: i for i, comp in enumerate(nx.strongly_connected_components(g))
                 for n in comp}
    stateful = {component[n] for n, node in graph.nodes.items() if node.type in STATEFUL}
    for u, v in _back_edges(g, inputs):
        if component[u] in stateful:  # a loop with nothing stateful stays an error below
            graph.delayed.add(_delay_site(graph, g, u, v))
    rest = nx.DiGraph(e for e in graph.edges if e not in graph.delayed)
    rest.add_nodes_from(graph.nodes)
    if not nx.is_directed_acyclic_graph(rest):
        cycle = [a for a, _ in nx.find_cycle(rest)]
        raise fail(graph.source, f"the cycle {' -> '.join(cycle + cycle[:1])}", "it has no "
                   "neurons, Threshold or Delay in it: an algebraic loop with no step to "
                   "read the previous value from", "put the recurrent weights after a "
                   "neuron node")
    for u, v in sorted(graph.delayed):
        graph.lines.append(f"cycle: edge {u} -> {v} read one step late")


def _back_edges(g: nx.DiGraph, inputs: list[str]) -> list[tuple[str, str]]:
    """Edges closing a cycle in a depth-first walk from the inputs (edges in file order)."""
    back, state = [], {}
    for root in inputs:
        if root in state:
            continue
        stack = [(root, iter(g.successors(root)))]
        state[root] = "open"
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
            elif state.get(nxt) == "open":
                back.append((node, nxt))
            elif nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(g.successors(nxt))))
    return back


def _delay_site(graph: Graph, g: nx.DiGraph, u: str, v: str) -> tuple[str, str]:
    """Where a cycle's one-step delay goes: walk back from the closing edge ``u -> v``
    through nodes without neurons (stateless ones, and Delay nodes, which a one-step
    delay commutes with) that have one input and one consumer; the delay sits on the
    edge leaving the first neurons met (so a recurrent Affine's bias is added at every
    step, the first included, as snnTorch's RLeaky does)."""
    edge = (u, v)
    node = u
    while graph.nodes[node].type not in NEURONS + ("snngraph",):  # a Delay is crossed
        preds = list(g.predecessors(node))
        if len(preds) != 1 or g.out_degree(node) != 1:
            return edge
        edge, node = (preds[0], node), preds[0]
    return edge
