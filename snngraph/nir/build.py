"""A checked, flat NIR graph as snngraph objects.

Every NIR value becomes an snngraph endpoint (a Node, ``ens.neurons`` or a slice) with
its NIR shape and its layout: snngraph orders images channels-last, so a NIR value of
shape ``(c, h, w)`` (or ``(c, n)`` for 1-D convolutions) is stored as ``(h, w, c)``
(``(n, c)``) flattened; every other value keeps NIR's order. Where a node needs the
other order (a Flatten, a dense layer) the values are permuted by a slice.

NIR node -> snngraph: Input -> a Node fed per example; Affine/Linear -> a Dense
connection into a passthrough Node; Scale -> an elementwise transform; Conv1d/Conv2d ->
a Convolution (explicit padding as a zero-padded passthrough Node); SumPool2d/AvgPool2d
-> a Pooling; Flatten -> nothing, or a permutation; Delay -> connections with
``sg.Delay`` of whole steps; neuron nodes -> an Ensemble of the matching
``sg.NIR*`` type; Output -> a passthrough Node and a Probe of the output's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from snngraph.errors import ValidationError
from snngraph.nir.graph import NEURONS, Graph, Node, fail

_NEURON_TYPES = {"LI": "NIRLI", "LIF": "NIRLIF", "I": "NIRIntegrator", "IF": "NIRIF",
                 "CubaLI": "NIRCubaLI", "CubaLIF": "NIRCubaLIF", "Threshold": "NIRThreshold"}


@dataclass
class Value:
    """A NIR value as an snngraph endpoint: the object, the NIR shape, and the order of
    NIR's axes in snngraph's flat order (``(0, 1, 2)`` NIR's own, ``(1, 2, 0)``
    channels-last)."""

    obj: Any
    shape: tuple[int, ...]
    axes: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def identity(ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim))


def channels_last(ndim: int) -> tuple[int, ...]:
    """The layout of every value of two or more dimensions (snngraph's images), so each
    node's layout is known before its inputs are built (cycles)."""
    return tuple(range(1, ndim)) + (0,) if ndim >= 2 else (0,)


def to_layout(arr: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """A NIR-shaped array in snngraph's flat order for ``axes``."""
    return np.transpose(arr, axes).ravel()


def permutation(shape: tuple[int, ...], src: tuple[int, ...], dst: tuple[int, ...],
                out_shape: tuple[int, ...] | None = None) -> list[int]:
    """Indices into a value of NIR shape ``shape`` stored in order ``src`` that give it
    stored in order ``dst`` (of NIR shape ``out_shape``, same elements: a Flatten)."""
    n = int(np.prod(shape))
    pos = np.transpose(np.arange(n).reshape(shape), src).ravel()
    where = np.empty_like(pos)
    where[pos] = np.arange(n)  # NIR flat index -> position in src order
    want = np.transpose(np.arange(n).reshape(out_shape or shape), dst).ravel()
    return where[want].tolist()


class Builder:
    """Builds the network for one graph (inside the caller's ``with sg.Network()``)."""

    def __init__(self, graph: Graph, dt: float, how: str, forced: bool = False,
                 reset: str = "zero", convention: Any = None):
        from snngraph.nir.conventions import CONVENTIONS

        self.graph, self.dt, self.how, self.forced = graph, dt, how, forced
        self.reset = reset
        self.convention = convention or CONVENTIONS["nir"]
        self.values: dict[str, Value] = {}
        self.lines: list[str] = []
        self.probes: dict[str, Any] = {}
        self._pending: dict[str, list[Any]] = {}

    def err(self, name: str, msg: str, fix: str = "") -> Exception:
        node = self.graph.nodes[name]
        return fail(self.graph.source, f"node {name!r} ({node.type})", msg, fix)

    def order(self) -> list[str]:
        g = nx.DiGraph(e for e in self.graph.edges if e not in self.graph.delayed)
        g.add_nodes_from(self.graph.nodes)
        return list(nx.lexicographical_topological_sort(g))

    def build(self) -> None:
        for name in self.order():
            node = self.graph.nodes[name]
            method = getattr(self, f"node_{node.type}", None)
            if method is None:
                method = self.node_neuron if node.type in NEURONS else None
            if method is None:
                raise self.err(name, "this node type is not imported")
            try:
                method(name, node)
            except ValidationError as exc:  # snngraph refused an object the node needs
                raise self.err(name, "snngraph cannot build it: "
                               f"{str(exc).splitlines()[0]}") from None
        # edges read one step late can only be wired once both ends exist
        for conns in self._pending.values():
            for fn in conns:
                fn()

    # -- inputs of a node
    def sources(self, name: str) -> list[tuple[str, bool]]:
        return [(a, (a, name) in self.graph.delayed) for a in self.graph.inputs(name)]

    def in_shape(self, name: str) -> tuple[int, ...]:
        shapes = {}
        for a, _ in self.sources(name):
            shapes[a] = self._shape_of(a)
        distinct = set(shapes.values())
        if not distinct:
            raise self.err(name, "nothing feeds it (no edge ends at it)")
        if len(distinct) > 1:
            listed = ", ".join(f"{a} {list(s)}" for a, s in shapes.items())
            raise self.err(name, f"its inputs have different shapes ({listed}); NIR sums the "
                           "edges into a node, so they must agree")
        return distinct.pop()

    def _shape_of(self, name: str) -> tuple[int, ...]:
        if name in self.values:
            return self.values[name].shape
        # a source read one step late, not built yet: its shape from its own fields
        shape = self.declared_shape(name)
        if shape is None:
            raise self.err(name, "its shape cannot be told before its inputs are read (it "
                           "sits on a cycle and has no shape of its own)")
        return shape

    def declared_shape(self, name: str) -> tuple[int, ...] | None:
        node = self.graph.nodes[name]
        f = node.fields
        if node.type in ("Affine", "Linear"):
            return (f["weight"].shape[0],)
        if node.type == "snngraph":
            return node.fields["shape"]
        from snngraph.nir.graph import PER_NEURON

        if node.type in PER_NEURON:
            return f[PER_NEURON[node.type][0]].shape
        return None

    def connect(self, name: str, target: Any, axes: tuple[int, ...],
                transform: Any = None) -> None:
        """Connect every input of ``name`` into ``target`` (in layout ``axes``),
        delayed where the edge is read one step late."""
        import snngraph as sg

        for src, late in self.sources(name):
            def wire(src: str = src, late: bool = late) -> None:
                value = self.values[src]
                obj = value.obj
                if value.axes != axes and value.size > 1:
                    obj = obj[permutation(value.shape, value.axes, axes)]
                kwargs = {} if transform is None else {"transform": transform}
                sg.Connection(obj, target, synapse=sg.Delay(1) if late else None, **kwargs)
            if late and src not in self.values:
                self._pending.setdefault(name, []).append(wire)
            else:
                wire()

    def summed(self, name: str, shape: tuple[int, ...]) -> Value:
        """The single value a linear node reads: its input, or a Node summing several
        (so a bias is added once, and a delayed input is wired later)."""
        import snngraph as sg

        srcs = self.sources(name)
        if len(srcs) == 1 and not srcs[0][1] and srcs[0][0] in self.values:
            return self.values[srcs[0][0]]
        axes = channels_last(len(shape))
        node = sg.Node(size_in=int(np.prod(shape)), label=f"{name}.sum")
        self.connect(name, node, axes)
        return Value(node, shape, axes)

    # -- node kinds
    def node_Input(self, name: str, node: Node) -> None:
        import snngraph as sg

        shape = tuple(int(s) for s in node.fields["shape"])
        obj = sg.Node(np.zeros(int(np.prod(shape))), label=name)
        axes = channels_last(len(shape))
        self.values[name] = Value(obj, shape, axes)
        layout = " (feed it channels-last, flattened)" if len(shape) > 1 else ""
        self.lines.append(f"Input {name} {list(shape)} -> Node {name!r}{layout}")

    def node_Output(self, name: str, node: Node) -> None:
        import snngraph as sg

        shape = self.in_shape(name)
        declared = tuple(int(s) for s in node.fields["shape"])
        if int(np.prod(declared)) != int(np.prod(shape)):
            raise self.err(name, f"its shape {list(declared)} does not match what feeds it, "
                           f"{list(shape)}")
        axes = channels_last(len(shape))
        obj = sg.Node(size_in=int(np.prod(shape)), label=name)
        self.connect(name, obj, axes)
        self.probes[name] = sg.Probe(obj, label=name)
        self.values[name] = Value(obj, shape, axes)
        self.lines.append(f"Output {name} {list(shape)} -> Node and Probe {name!r}")

    def node_Affine(self, name: str, node: Node) -> None:
        self._linear_node(name, node, node.fields["bias"])

    def node_Linear(self, name: str, node: Node) -> None:
        self._linear_node(name, node, None)

    def _linear_node(self, name: str, node: Node, bias: np.ndarray | None) -> None:
        """A dense layer; with one input read one step late, the delay sits in front of
        the weights (the bias is added at every step, the first included)."""
        import snngraph as sg

        weight = node.fields["weight"]
        shape = self.in_shape(name)
        if shape != (weight.shape[1],):
            raise self.err(name, f"its weight {list(weight.shape)} takes {weight.shape[1]} "
                           f"values but its input has shape {list(shape)}",
                           "put a Flatten in front of it")
        out = sg.Node(size_in=weight.shape[0], label=name)
        transform = sg.Dense(weight.shape, init=weight, bias=bias)
        srcs = self.sources(name)
        if len(srcs) == 1:
            self.connect(name, out, (0,), transform=transform)
        else:
            src = self.summed(name, shape)
            sg.Connection(src.obj, out, transform=transform, synapse=None)
        self.values[name] = Value(out, (weight.shape[0],), (0,))
        kind = "Affine" if bias is not None else "Linear"
        self.lines.append(f"{kind} {name} {list(weight.shape)} -> Dense connection into Node "
                          f"{name!r}")

    def node_Scale(self, name: str, node: Node) -> None:
        import snngraph as sg

        shape = self.in_shape(name)
        scale = node.fields["scale"]
        if scale.shape != shape:
            raise self.err(name, f"its scale has shape {list(scale.shape)} but its input "
                           f"{list(shape)}")
        axes = channels_last(len(shape))
        out = sg.Node(size_in=int(np.prod(shape)), label=name)
        self.connect(name, out, axes, transform=to_layout(scale, axes))
        self.values[name] = Value(out, shape, axes)
        self.lines.append(f"Scale {name} -> elementwise transform into Node {name!r}")

    def node_Flatten(self, name: str, node: Node) -> None:
        import snngraph as sg

        shape = self.in_shape(name)
        declared = node.fields.get("input_type")
        if declared is not None and declared.size and \
                tuple(int(s) for s in np.ravel(declared)) != shape:
            raise self.err(name, f"its input_type {np.ravel(declared).astype(int).tolist()} "
                           f"does not match its input {list(shape)}")
        start, end = (int(np.ravel(node.fields[f])[0]) for f in ("start_dim", "end_dim"))
        nd = len(shape)
        s, e = start % nd if -nd <= start < nd else None, end % nd if -nd <= end < nd else None
        if s is None or e is None or s > e:
            raise self.err(name, f"start_dim={start}, end_dim={end} do not fit its input of "
                           f"{nd} dimension(s) {list(shape)}")
        out_shape = shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:]
        src = self.summed(name, shape)
        out_axes = channels_last(len(out_shape))
        idx = permutation(shape, src.axes, out_axes, out_shape)
        if idx == list(range(len(idx))):
            self.values[name] = Value(src.obj, out_shape, out_axes)
        else:
            out = sg.Node(size_in=int(np.prod(shape)), label=name)
            sg.Connection(src.obj[idx], out, synapse=None)
            self.values[name] = Value(out, out_shape, out_axes)
        self.lines.append(f"Flatten {name} {list(shape)} -> {list(out_shape)} (NIR's order"
                          f"{'; channels-last values permuted' if nd > 1 else ''})")

    def node_Delay(self, name: str, node: Node) -> None:
        import snngraph as sg

        shape = self.in_shape(name)
        delay = node.fields["delay"]
        if delay.shape != shape:
            raise self.err(name, f"its delay has shape {list(delay.shape)} but its input "
                           f"{list(shape)}")
        steps = delay / self.dt
        whole = np.round(steps)
        if np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1.0, whole)):
            bad = float(delay.ravel()[np.argmax(np.abs(steps - whole).ravel())])
            raise self.err(name, f"a delay of {bad:g} s is not a whole number of steps of "
                           f"dt={self.dt:g} s", "load with the dt the graph was made for")
        src = self.summed(name, shape)
        axes = src.axes
        flat = to_layout(whole, axes).astype(int)
        out = sg.Node(size_in=src.size, label=name)
        for k in np.unique(flat):
            idx = np.nonzero(flat == k)[0].tolist()
            pre = src.obj if len(idx) == src.size else src.obj[idx]
            post = out if len(idx) == src.size else out[idx]
            sg.Connection(pre, post, synapse=sg.Delay(int(k)) if k > 0 else None)
        self.values[name] = Value(out, shape, axes)
        self.lines.append(f"Delay {name} -> {sorted(set(flat.tolist()))} step(s) of "
                          f"{self.dt:g} s")

    def node_neuron(self, name: str, node: Node) -> None:
        import snngraph as sg
        from snngraph.nir.graph import PER_NEURON

        shape = node.fields[PER_NEURON[node.type][0]].shape
        ins = self.in_shape(name)
        if ins != shape:
            raise self.err(name, f"its parameters have shape {list(shape)} but its input "
                           f"{list(ins)}")
        axes = channels_last(len(shape))
        fields = {f: to_layout(node.fields[f], axes) for f in PER_NEURON[node.type]}
        fields = {f: (float(v[0]) if np.all(v == v[0]) else v) for f, v in fields.items()}
        cls = getattr(sg, _NEURON_TYPES[node.type])
        if node.type not in ("I", "IF", "Threshold"):
            fields["discretisation"] = self.node_how(node)
        fields.update(self.conventions(name, node, fields))
        spec = self._spec(name, cls, fields)
        ens = sg.Ensemble(int(np.prod(shape)), 1, neuron_type=spec, label=name)
        self.connect(name, ens.neurons, axes)
        self.values[name] = Value(ens.neurons, shape, axes)
        how = f", {fields['discretisation']}" if "discretisation" in fields else ""
        extra = "".join(f", {k}={fields[k]!r}" for k in ("reset", "start_at")
                        if k in fields and fields[k] not in ("value", "zero"))
        jump = ", w_in read times tau_syn/dt" if "w_in" in fields and \
            self.convention.input_jump else ""
        self.lines.append(f"{node.type} {name} {list(shape)} -> Ensemble {name!r} of "
                          f"sg.{cls.__name__}{how}{extra}{jump}")

    def _spec(self, name: str, cls: Any, fields: dict[str, Any]) -> Any:
        try:
            return cls(**fields)
        except ValueError as exc:  # a field out of range for the type (ValidationError)
            raise self.err(name, f"its parameters are not valid: {exc}") from None

    def on_cycles(self) -> set[str]:
        """The nodes on a cycle (a recurrent layer's neurons)."""
        g = nx.DiGraph(self.graph.edges)
        return {n for c in nx.strongly_connected_components(g) if len(c) > 1 for n in c}

    def conventions(self, name: str, node: Node, fields: dict[str, Any]) -> dict[str, Any]:
        """The cell fields that say how the producer runs the node (conventions.py): its
        reset, where its voltage starts, and Norse's whole input jump into the current."""
        conv, out = self.convention, {}
        if node.type in ("LIF", "IF", "CubaLIF"):
            recurrent = name in self.on_cycles()
            out["reset"] = conv.cell_reset(self.reset, node.type, recurrent)
            if out["reset"] != "value" and np.any(node.fields["v_reset"] != 0.0):
                raise self.err(name, f"reset {self.reset!r} of convention {conv.name!r} is "
                               "snnTorch's, which writes v_reset = 0; this node has another "
                               "v_reset", "load with convention='nir', reset='zero'")
        if node.type in ("LI", "LIF", "CubaLI", "CubaLIF"):
            out["start_at"] = conv.start_at
        if conv.input_jump and "w_in" in fields:
            tau_syn = np.asarray(fields["tau_syn"], float)
            out["w_in"] = _scalar(np.atleast_1d(np.asarray(fields["w_in"], float)
                                                * tau_syn / self.dt))
        return out

    def node_how(self, node: Node) -> str:
        """The discretisation asked for, else the node's own (snngraph writes it per
        node), else the graph's."""
        own = node.metadata.get("snngraph.discretisation")
        if not self.forced and own in ("euler", "exact"):
            return own
        return self.how

    def node_snngraph(self, name: str, node: Node) -> None:
        """A group written by snngraph, restored as the object it was."""
        import snngraph as sg

        shape = node.fields["shape"]
        ins = self.in_shape(name)
        if ins != shape:
            raise self.err(name, f"its shape {list(shape)} does not match its input "
                           f"{list(ins)}")
        axes = channels_last(len(shape))
        spec = node.fields["spec"]
        n = int(np.prod(shape))
        if node.fields["kind"] == "process":
            obj = sg.Node(spec, size_in=n, label=name)
            self.connect(name, obj, axes)
        elif node.fields["kind"] == "synapse":
            src = self.summed(name, shape)
            obj = sg.Node(size_in=n, label=name)
            sg.Connection(src.obj, obj, synapse=spec)
        else:
            ens = sg.Ensemble(n, 1, neuron_type=spec, label=name)
            self.connect(name, ens.neurons, axes)
            obj = ens.neurons
        self.values[name] = Value(obj, shape, axes)
        self.lines.append(f"{node.fields['what']} {name} -> {type(spec).__name__} "
                          "(restored from snngraph's metadata; the NIR fields agree)")

    # -- spatial
    def _image(self, name: str, channels: int | None) -> tuple[Value, tuple[int, ...]]:
        shape = self.in_shape(name)
        if len(shape) not in (2, 3):
            raise self.err(name, f"its input must be (channels, height, width) or (channels, "
                           f"length); got {list(shape)}")
        if channels is not None and shape[0] != channels:
            raise self.err(name, f"its weight expects {channels} input channel(s) but its "
                           f"input has {shape[0]} ({list(shape)})")
        import snngraph as sg

        srcs = self.sources(name)
        nd = len(shape)
        if len(srcs) == 1 and not srcs[0][1] and self.values[srcs[0][0]].axes == \
                channels_last(nd):
            return self.values[srcs[0][0]], shape
        node = sg.Node(size_in=int(np.prod(shape)), label=f"{name}.in")
        self.connect(name, node, channels_last(nd))
        return Value(node, shape, channels_last(nd)), shape

    def _pad(self, name: str, src: Value, hw: tuple[int, int], channels: int,
             pads: tuple[tuple[int, int], tuple[int, int]]) -> tuple[Any, tuple[int, int]]:
        """The image with zeros around it (a passthrough Node fed into its middle)."""
        import snngraph as sg

        (top, bottom), (left, right) = pads
        if not any((top, bottom, left, right)):
            return src.obj, hw
        h, w = hw
        hp, wp = h + top + bottom, w + left + right
        grid = np.arange(hp * wp * channels).reshape(hp, wp, channels)
        inner = grid[top:top + h, left:left + w, :].ravel().tolist()
        padded = sg.Node(size_in=hp * wp * channels, label=f"{name}.padded")
        sg.Connection(src.obj, padded[inner], synapse=None)
        return padded, (hp, wp)

    def node_Conv2d(self, name: str, node: Node) -> None:
        self._conv(name, node, 2)

    def node_Conv1d(self, name: str, node: Node) -> None:
        self._conv(name, node, 1)

    def _conv(self, name: str, node: Node, dims: int) -> None:
        import snngraph as sg

        f = node.fields
        weight = f["weight"]
        cout, cin_g = weight.shape[:2]
        groups = int(np.ravel(f["groups"])[0])
        src, shape = self._image(name, cin_g * groups)
        if len(shape) != dims + 1:
            raise self.err(name, f"a {dims}-D convolution needs a {dims + 1}-D input; got "
                           f"{list(shape)}")
        if np.any(np.asarray(f["dilation"]) != 1):
            raise self.err(name, f"dilation {np.ravel(f['dilation']).astype(int).tolist()}: "
                           "snngraph's convolutions are not dilated")
        if f["input_shape"] is not None and np.size(f["input_shape"]) and \
                tuple(np.ravel(f["input_shape"]).astype(int)) != shape[1:]:
            raise self.err(name, f"its input_shape {np.ravel(f['input_shape']).astype(int)} "
                           f"does not match its input {list(shape)}")
        hw = (1, shape[1]) if dims == 1 else (shape[1], shape[2])
        kernel = (1, weight.shape[2]) if dims == 1 else weight.shape[2:]
        stride = self._pair(name, "stride", f["stride"], dims)
        pads = self._padding(name, f["padding"], hw, kernel, stride, dims)
        mode = "same" if _is_same(pads, hw, kernel, stride) else "valid"
        obj, (hp, wp) = (src.obj, hw) if mode == "same" else \
            self._pad(name, src, hw, shape[0], pads)
        k = weight.reshape(cout, cin_g, *kernel).transpose(2, 3, 1, 0)
        try:
            conv = sg.Convolution(cout, (hp, wp, shape[0]), kernel_size=tuple(kernel),
                                  strides=stride, padding=mode, init=k, bias=f["bias"],
                                  groups=groups)
        except ValueError as exc:  # snngraph's own checks (ValidationError)
            raise self.err(name, f"snngraph cannot run this convolution: {exc}") from None
        out_shape = conv.shape_out
        out = sg.Node(size_in=int(np.prod(out_shape)), label=name)
        sg.Connection(obj, out, transform=conv, synapse=None)
        nir_shape = (cout, out_shape[1]) if dims == 1 else (cout, out_shape[0], out_shape[1])
        self.values[name] = Value(out, nir_shape, channels_last(len(nir_shape)))
        self.lines.append(f"Conv{dims}d {name} {list(shape)} -> {list(nir_shape)}: Convolution "
                          "(channels last, kernel transposed)"
                          + (f", zero padding {pads}" if any(sum(pads, ())) else "")
                          + (" ('same')" if mode == "same" else ""))

    def _pair(self, name: str, field: str, value: Any, dims: int) -> tuple[int, int]:
        v = np.ravel(np.asarray(value)).astype(int)
        if v.size == 1:
            return (1, int(v[0])) if dims == 1 else (int(v[0]), int(v[0]))
        if v.size != dims:
            raise self.err(name, f"field {field!r} must have {dims} value(s); got {v.tolist()}")
        return tuple(int(x) for x in v) if dims == 2 else (1, int(v[0]))

    def _padding(self, name: str, padding: Any, hw: tuple[int, int], kernel: Any,
                 stride: tuple[int, int], dims: int) -> tuple[tuple[int, int], ...]:
        if isinstance(padding, str):
            if padding == "valid":
                return ((0, 0), (0, 0))
            if stride != (1, 1):
                raise self.err(name, "'same' padding with a stride other than 1 (PyTorch "
                               "refuses it too)")
            tot = [k - 1 for k in kernel]
            return tuple((t // 2, t - t // 2) for t in tot)
        p = self._pair(name, "padding", padding, dims)
        if dims == 1:
            return ((0, 0), (p[1], p[1]))
        return ((p[0], p[0]), (p[1], p[1]))

    def node_SumPool2d(self, name: str, node: Node) -> None:
        self._pool(name, node, "sum")

    def node_AvgPool2d(self, name: str, node: Node) -> None:
        self._pool(name, node, "avg")

    def _pool(self, name: str, node: Node, kind: str) -> None:
        import snngraph as sg

        src, shape = self._image(name, None)
        if len(shape) != 3:
            raise self.err(name, f"2-D pooling needs a (channels, height, width) input; got "
                           f"{list(shape)}")
        f = node.fields
        size = self._pair(name, "kernel_size", f["kernel_size"], 2)
        stride = self._pair(name, "stride", f["stride"], 2)
        pad = self._pair(name, "padding", f["padding"], 2)
        pads = ((pad[0], pad[0]), (pad[1], pad[1]))
        obj, (hp, wp) = self._pad(name, src, shape[1:], shape[0], pads)
        try:
            pool = sg.Pooling((hp, wp, shape[0]), size, strides=stride, kind=kind,
                              padding="valid")
        except ValueError as exc:  # snngraph's own checks (ValidationError)
            raise self.err(name, f"snngraph cannot run this pooling: {exc}") from None
        out_shape = pool.shape_out
        out = sg.Node(size_in=int(np.prod(out_shape)), label=name)
        sg.Connection(obj, out, transform=pool, synapse=None)
        nir_shape = (shape[0], out_shape[0], out_shape[1])
        self.values[name] = Value(out, nir_shape, channels_last(3))
        self.lines.append(f"{node.type} {name} {list(shape)} -> {list(nir_shape)}: Pooling "
                          f"{kind!r}" + (f", zero padding {pad}" if any(pad) else ""))


def _scalar(values: np.ndarray) -> Any:
    """One value when all are equal (a field of the type reads better so)."""
    return float(values[0]) if np.all(values == values[0]) else values


def _is_same(pads: Any, hw: tuple[int, int], kernel: Any, stride: tuple[int, int]) -> bool:
    """Explicit padding that is exactly snngraph's (Keras's) 'same' padding: then the
    convolution pads itself (no padded passthrough Node, which the Loihi target would
    have to run on the host between two chip layers)."""
    from snngraph.geometry import pad_amounts

    if not any(sum(pads, ())):
        return False
    return all(pad_amounts(n, int(k), s, "same") == tuple(p)
               for n, k, s, p in zip(hw, kernel, stride, pads))


def restore_groups(graph: Graph, dt: float, lines: list[str]) -> None:
    """Groups of nodes snngraph wrote for one neuron op (or encoder), whose metadata
    names the snngraph type: when the NIR fields are exactly what that type exports
    at this dt, the group becomes one ``snngraph`` node holding the type (so a round
    trip gives the same objects); otherwise the nodes are read as NIR."""
    from snngraph.document import spec_from_dict
    from snngraph.nir.cells import Unmappable, neuron_group, synapse_group

    for name, node in list(graph.nodes.items()):
        meta = node.metadata
        if not {"snngraph.neuron", "snngraph.process", "snngraph.synapse"} & set(meta):
            continue
        try:
            if "snngraph.synapse" in meta:
                spec = spec_from_dict(json.loads(meta["snngraph.synapse"]))
                members = meta["snngraph.group"].split(",")
                entry, exit_ = meta["snngraph.entry"], meta["snngraph.exit"]
                shape = graph.nodes[exit_].fields["delay"].shape
                group = synapse_group(spec, name, dt, meta.get("snngraph.discretisation"),
                                      _shaper(shape))
                ok = _group_agrees(group, graph, members)
                kind, what = "synapse", node.type
            elif "snngraph.process" in meta:
                spec = spec_from_dict(json.loads(meta["snngraph.process"]))
                members, entry, exit_ = [name], name, meta.get("snngraph.exit", name)
                if exit_ != name:
                    members.append(exit_)
                shape = node.fields["tau"].shape
                ok = _process_agrees(spec, node)
                kind, what = "process", "LIF"
            else:
                spec = spec_from_dict(json.loads(meta["snngraph.neuron"]))
                members = meta["snngraph.group"].split(",")
                entry, exit_ = meta["snngraph.entry"], meta["snngraph.exit"]
                from snngraph.nir.graph import PER_NEURON

                shape = graph.nodes[name].fields[PER_NEURON[node.type][0]].shape
                how = meta.get("snngraph.discretisation")
                group = neuron_group(spec, name, int(np.prod(shape)), dt, how,
                                     _shaper(shape), np.ones(1), np.zeros(1))
                ok = _group_agrees(group, graph, members)
                kind, what = "neurons", node.type
        except (Unmappable, KeyError, ValueError, TypeError):
            ok = False
        restored = Node("snngraph", {"spec": spec, "shape": tuple(shape), "kind": kind,
                                     "what": what})
        if not (ok and all(m in graph.nodes for m in members)
                and _collapse(graph, name, members, entry, exit_, restored)):
            lines.append(f"{name}: snngraph metadata ignored (the NIR nodes differ from what "
                         "the named type writes); read as NIR")


def _shaper(shape: tuple[int, ...]):
    def shape_fn(v: Any) -> np.ndarray:
        n = int(np.prod(shape))
        flat = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
        if len(shape) == 3:
            c, h, w = shape
            return flat.reshape(h, w, c).transpose(2, 0, 1).copy()
        return flat.reshape(shape)
    return shape_fn


def _group_agrees(group: Any, graph: Graph, members: list[str]) -> bool:
    if sorted(group.nodes) != sorted(members):
        return False
    for key, nir_node in group.nodes.items():
        have = graph.nodes.get(key)
        if have is None or have.type != type(nir_node).__name__:
            return False
        d = nir_node.to_dict()
        for f in have.fields:
            if f in d and not np.allclose(np.asarray(d[f], float), have.fields[f],
                                          rtol=1e-9, atol=0.0):
                return False
    return True


def _process_agrees(spec: Any, node: Node) -> bool:
    f = node.fields
    want = {"tau": spec.tau_mem, "r": 1.0, "v_leak": spec.v_leak, "v_threshold": spec.v_th,
            "v_reset": spec.v_reset}
    return node.type == "LIF" and all(np.allclose(f[k], v, rtol=1e-9, atol=0.0)
                                      for k, v in want.items())


def _collapse(graph: Graph, name: str, members: list[str], entry: str, exit_: str,
              node: Node) -> bool:
    """Replace ``members`` by one node ``name``: edges into ``entry`` from outside come
    into it, edges out of ``exit_`` leave from it, the edges among members go. False
    (and nothing changed) when an outside edge touches another member."""
    inside = set(members)
    edges = []
    for a, b in graph.edges:
        if a in inside and b in inside:
            continue
        if b in inside:
            if b != entry:
                return False
            b = name
        if a in inside:
            if a != exit_:
                return False
            a = name
        edges.append((a, b))
    for m in members:
        del graph.nodes[m]
    graph.nodes[name] = node
    graph.edges = edges
    return True
