"""A compiled Program as a NIR graph: what actually runs, op by op.

Values: an op's output is one NIR value with a NIR shape. Images are channels-last in
snngraph (``(h, w, c)``, flattened in that order) and channels-first in NIR
(``(c, h, w)``): a value that is an image is written with its NIR shape, neuron
parameters over it are transposed to match, and a dense layer reading it gets a
``Flatten`` in front and its weight columns permuted from snngraph's order to NIR's.

Cycles: NIR has no explicit recurrence; a cycle is read with a one-step delay on the
edge leaving the last neurons before it closes (snngraph/nir/graph.py). A one-step
``delay`` op right after neurons, inside a cycle, is exactly that delay, so it is
written as a plain edge; any other delay is a ``Delay`` node in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from snngraph.document import spec_from_dict
from snngraph.errors import SerializationError, op_origin, op_site, where
from snngraph.geometry import pad_amounts
from snngraph.nir.cells import Unmappable, neuron_group, spec_json, synapse_group


@dataclass
class Value:
    """An op's output as NIR sees it: the nodes whose (summed) outputs make it, its NIR
    shape, and its image shape ``(h, w, c)`` when it is one."""

    sources: list[str]
    shape: tuple[int, ...]
    image: tuple[int, int, int] | None = None


def _nir() -> Any:
    import nir

    return nir


def _hwc_to_chw(image: tuple[int, int, int]) -> np.ndarray:
    """For each NIR (channels-first) flat position, the snngraph (channels-last) index."""
    h, w, c = image
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


class Exporter:
    """Writes the ops of one Program as NIR nodes and edges, and says what it did."""

    def __init__(self, program: Any, dt: float, how: str | None):
        self.program, self.ir, self.dt, self.how = program, program.ir, dt, how
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.values: dict[str, Value] = {}
        self.lines: list[str] = []
        self.resets: set[str] = set()
        self.discretisations: set[str] = set()
        self.cycle_edges: set[tuple[str, str]] = set()
        self.delay_origins: set[str] = set()
        """NIR edges the program reads one step late (cycle delays written as edges)."""
        self.skipped: set[str] = set()
        """Probe filters NIR cannot state: their probes record the unfiltered value."""
        self.loops = self._loop_ops()

    # -- helpers
    def refuse(self, op: Any, why: str, fix: str = "") -> SerializationError:
        msg = (f"NIR export: {op_origin(op, sites=False)} (op {op.name}) cannot be written to "
               f"NIR: {why}{where(op_site(op))}")
        return SerializationError(msg + (f"\n  fix: {fix}" if fix else ""))

    def name(self, op: Any, suffix: str = "", base: str | None = None) -> str:
        """A free node name from the op's (HDF5 takes '/' as a path: it becomes '_')."""
        base = (base or op.name.lstrip("%")).replace("/", "_") + suffix
        name, i = base, 2
        while name in self.nodes:
            name, i = f"{base}_{i}", i + 1
        return name

    def add(self, name: str, node: Any, inputs: list[str]) -> None:
        self.nodes[name] = node
        self.edges += [(s, name) for s in inputs]

    def note(self, op: Any, text: str) -> None:
        self.lines.append(f"{op_origin(op, sites=False)} ({op.name}) -> {text}")

    def shaper(self, value_image: tuple[int, int, int] | None, n: int):
        """Per-neuron values (snngraph order) as NIR arrays (channels-first images)."""
        def shape(v: Any) -> np.ndarray:
            flat = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
            if value_image is None:
                return flat
            h, w, c = value_image
            return flat.reshape(h, w, c).transpose(2, 0, 1).copy()
        return shape

    def _loop_ops(self) -> set[str]:
        """Ops on a cycle of the IR (strongly connected with something)."""
        out: set[str] = set()
        for comp in nx.strongly_connected_components(self.ir.graph):
            if len(comp) > 1:
                out |= comp
        return out

    def peek(self, name: str, seen: frozenset = frozenset()) -> Value:
        """An op's value, or (for an op not exported yet: a loop read one step late) a
        reference resolved once every op is written, with the shape it will have."""
        if name in self.values:
            return self.values[name]
        op = self.ir.op(name)
        shape, image = (op.size,), None
        ins = self.ir.summed_inputs(name)
        if op.op in ("neurons", "delay", "sum") and ins and name not in seen:
            first = self.peek(ins[0], seen | {name})
            if int(np.prod(first.shape)) == op.size:
                shape, image = first.shape, first.image
        return Value([f"@{name}"], shape, image)

    def resolved_edges(self) -> list[tuple[str, str]]:
        """The edges with every forward reference replaced by the nodes it names; an
        edge through a dropped cycle delay (``~``) is noted in ``cycle_edges``."""
        def expand(src: str, late: bool, depth: int = 0) -> list[tuple[str, bool]]:
            if src.startswith("~"):
                return expand(src[1:], True, depth)
            if not src.startswith("@"):
                return [(src, late)]
            if depth > len(self.values) + 1:
                raise SerializationError(f"NIR export: the value of {src[1:]} refers to itself")
            value = self.values[src[1:]]
            return [n for s in value.sources for n in expand(s, late, depth + 1)]
        edges = []
        for src, b in self.edges:
            for a, late in expand(src, False):
                edges.append((a, b))
                if late:
                    self.cycle_edges.add((a, b))
        return edges

    def check_cycles(self, edges: list[tuple[str, str]]) -> None:
        """Read the written graph's cycles as ``sg.nir.load`` will, and refuse when it
        would put a cycle's one-step delay on another edge than the program's (NIR has
        no way to say where it goes)."""
        from snngraph.nir.graph import Graph, Node, break_cycles

        graph = Graph({n: Node(type(v).__name__, {}) for n, v in self.nodes.items()},
                      list(edges), {}, "the exported graph")
        break_cycles(graph)
        ours, theirs = self.cycle_edges - graph.delayed, graph.delayed - self.cycle_edges
        if ours or theirs:
            raise SerializationError(
                f"NIR export: the program delays a cycle at {_edge_list(ours)} "
                f"({', '.join(sorted(self.delay_origins)) or 'a reset'}), but a NIR reader "
                "puts each cycle's one-step delay on the edge leaving the last neurons "
                f"before the cycle closes (walking from the inputs), here {_edge_list(theirs)}; "
                "the loop would run with another timing\n  fix: feed the recurrent layer "
                "from the input side of the loop, or put the recurrent connection's "
                "sg.Delay(1) right after the neurons it leaves")

    def input_value(self, name: str) -> Value:
        """The (single) value an op reads: its summed inputs."""
        ins = self.ir.summed_inputs(name)
        values = [self.peek(i) for i in ins]
        if not values:
            return Value([], (0,))
        first = values[0]
        for v in values[1:]:
            if v.shape != first.shape:
                raise self.refuse(self.ir.op(name), f"its inputs have NIR shapes {first.shape} "
                                  f"and {v.shape}, which NIR cannot sum")
        return Value([s for v in values for s in v.sources], first.shape, first.image)

    # -- per op kind
    def export(self, needed: list[str]) -> None:
        for name in needed:
            op = self.ir.op(name)
            handler = getattr(self, f"op_{op.op}", None)
            if handler is None:
                raise self.refuse(op, f"NIR has no equivalent of a {op.op!r} op")
            handler(op)

    def op_input(self, op: Any) -> None:
        image = self._input_image(op)
        shape = (image[2], image[0], image[1]) if image else (op.size,)
        node = self.name(op)
        self.add(node, _nir().Input(input_type=np.array(shape)), [])
        self.values[op.name] = Value([node], shape, image)
        self.note(op, f"Input {node} {list(shape)}" + (" (channels first; feed snngraph's "
                                                       "channels-last data)" if image else ""))

    def _input_image(self, op: Any) -> tuple[int, int, int] | None:
        """The image an input is when every op reading it reads it as one."""
        shapes = {getattr(self.ir.op(c), "shape_in", None) for c in self.ir.consumers(op.name)
                  if self.ir.op(c).op in ("conv2d", "pool2d")}
        if len(shapes) == 1 and all(self.ir.op(c).op in ("conv2d", "pool2d", "probe")
                                    for c in self.ir.consumers(op.name)):
            (shape,) = shapes
            return tuple(shape) if int(np.prod(shape)) == op.size else None
        return None

    def op_sum(self, op: Any) -> None:
        # NIR sums every edge into a node: a sum op is its inputs' edges
        self.values[op.name] = self.input_value(op.name)

    def op_linear(self, op: Any) -> None:
        if op.learned:
            raise self.refuse(op, "its weights change during a run (a learning rule)")
        src = self.input_value(op.name)
        weights = np.asarray(self.ir.params[op.weights], float)
        if weights.ndim < 2 and op.bias is None:  # a scalar or diagonal transform
            self._scale(op, src, np.broadcast_to(weights, (op.size,)))
            return
        if weights.ndim < 2:
            weights = np.diag(np.broadcast_to(weights, (op.size,)))
        weights = weights.reshape(op.size, -1)
        sources = src.sources
        if src.image is not None:
            flat = self.name(op, ".flatten")
            self.add(flat, _nir().Flatten(input_type={"input": np.array(src.shape)},
                                          start_dim=0, end_dim=-1), sources)
            weights = weights[:, _hwc_to_chw(src.image)]
            sources = [flat]
            self.note(op, f"Flatten {flat} (channels first, weight columns permuted)")
        node = self.name(op)
        role = {"decoders": " (the NEF decoders the compiler solved, as weights)",
                "encoders": " (the ensemble's encoders times its gains)"}.get(op.role, "")
        if op.bias is not None:
            bias = np.asarray(self.ir.params[op.bias], float).reshape(op.size)
            self.add(node, _nir().Affine(weight=weights, bias=bias), sources)
            self.note(op, f"Affine {node} {list(weights.shape)}{role}")
        else:
            self.add(node, _nir().Linear(weight=weights), sources)
            self.note(op, f"Linear {node} {list(weights.shape)}{role}")
        self.values[op.name] = Value([node], (op.size,))

    def _scale(self, op: Any, src: Value, scale: np.ndarray) -> None:
        """An elementwise transform: NIR's Scale over the value's own shape."""
        node = self.name(op)
        self.add(node, _nir().Scale(scale=self.shaper(src.image, op.size)(scale)), src.sources)
        shape = src.shape if int(np.prod(src.shape)) == op.size else (op.size,)
        self.values[op.name] = Value([node], shape, src.image if shape == src.shape else None)
        self.note(op, f"Scale {node}")

    def _image_input(self, op: Any) -> Value:
        src = self.input_value(op.name)
        if src.image is None or tuple(src.image) != tuple(op.shape_in):
            raise self.refuse(op, f"it reads a flat vector as the image {op.shape_in}; NIR has "
                              "no reshape, so only a graph input or another spatial layer can "
                              "feed a convolution or pooling")
        if not op.channels_last:
            raise self.refuse(op, "channels-first images are not exported (snngraph's "
                              "channels-last layout is)")
        return src

    def _pads(self, op: Any, kernel: tuple[int, int]) -> tuple[int, int]:
        """Symmetric zero padding per axis, as torch (and NIR) pad."""
        pads = []
        for n, k, s in zip(op.shape_in[:2], kernel, op.strides):
            before, after = pad_amounts(n, k, s, op.padding)
            if before != after:
                raise self.refuse(op, f"'same' padding here adds {before} zero(s) before and "
                                  f"{after} after; NIR pads both sides equally",
                                  "use an odd kernel size with stride 1, or 'valid' padding")
            pads.append(before)
        return pads[0], pads[1]

    def op_conv2d(self, op: Any) -> None:
        src = self._image_input(op)
        kernel = np.asarray(self.ir.params[op.kernel], float)  # (kh, kw, cin, cout)
        kh, kw, cin, cout = kernel.shape
        if cin != op.shape_in[2]:
            raise self.refuse(op, "grouped convolutions are not exported")
        pads = self._pads(op, (kh, kw))
        bias = (np.asarray(self.ir.params[op.bias], float).reshape(cout) if op.bias is not None
                else np.zeros(cout))
        node = self.name(op)
        conv = _nir().Conv2d(input_shape=tuple(int(v) for v in op.shape_in[:2]),
                             weight=kernel.transpose(3, 2, 0, 1).copy(),
                             stride=tuple(int(s) for s in op.strides), padding=pads,
                             dilation=(1, 1), groups=1, bias=bias)
        self.add(node, conv, src.sources)
        image = tuple(int(v) for v in op.shape)
        self.values[op.name] = Value([node], (image[2], image[0], image[1]), image)
        self.note(op, f"Conv2d {node} {cout}x{cin}x{kh}x{kw} stride {tuple(op.strides)} "
                      f"padding {pads} (kernel transposed to channels first)")

    def op_pool2d(self, op: Any) -> None:
        if op.pool == "max":
            raise self.refuse(op, "max pooling: NIR has no max-pooling primitive (only sum and "
                              "average pooling)", "use sg.AvgPool2D in its place")
        src = self._image_input(op)
        pads = self._pads(op, op.pool_size)
        if op.pool == "avg" and any(pads):
            raise self.refuse(op, "average pooling with 'same' padding divides by the windows' "
                              "inside parts; NIR's AvgPool2d counts the padding")
        cls = _nir().AvgPool2d if op.pool == "avg" else _nir().SumPool2d
        node = self.name(op)
        self.add(node, cls(kernel_size=np.array(op.pool_size), stride=np.array(op.strides),
                           padding=np.array(pads)), src.sources)
        image = tuple(int(v) for v in op.shape)
        self.values[op.name] = Value([node], (image[2], image[0], image[1]), image)
        self.note(op, f"{cls.__name__} {node} {tuple(op.pool_size)}")

    def op_neurons(self, op: Any) -> None:
        spec = spec_from_dict(op.neuron)
        if spec.spiking and op.mode == "rate":
            raise self.refuse(op, f"its {type(spec).__name__} neurons run as rates here; NIR "
                              "has no rate primitive", "export the program compiled for "
                              "target='cpu' without swap='rate'")
        src = self.input_value(op.name)
        gain = np.broadcast_to(np.asarray(self.ir.params[op.gain], float), (op.size,))
        bias = np.broadcast_to(np.asarray(self.ir.params[op.bias], float), (op.size,))
        shape = src.shape if src.sources else (op.size,)
        if int(np.prod(shape)) != op.size:
            shape, src = (op.size,), Value(src.sources, (op.size,))
        name = self.name(op)
        try:
            group = neuron_group(spec, name, op.size, self.dt, self.how,
                                 self.shaper(src.image, op.size), gain, bias)
        except Unmappable as exc:
            raise self.refuse(op, f"{type(spec).__name__}: {exc}") from None
        trivial = bool(np.all(gain == 1.0) and np.all(bias == 0.0))
        self._add_group(op, name, group, op.neuron if trivial else None)
        self.edges += group.edges + [(s, group.entry) for s in src.sources]
        if group.reset:
            self.resets.add(group.reset)
        if group.discretisation:
            self.discretisations.add(group.discretisation)
        self.values[op.name] = Value([group.exit], shape, src.image)
        for line in group.lines:
            self.note(op, f"{name}: {line}")

    def _add_group(self, op: Any, name: str, group: Any, spec: dict | None) -> None:
        """A neuron op's nodes, with the metadata that reads them back: how each is
        stepped, and (``spec``: gain 1 and bias 0, nothing folded in) the snngraph type,
        restored on import when the NIR fields are exactly what it writes."""
        taken = sorted(set(group.nodes) & set(self.nodes))
        if taken:  # a group's helper names (x.reset, x.gain) met another op's node
            raise self.refuse(op, f"its NIR nodes would reuse the name {taken[0]!r} of "
                              "another node", "give the ensemble another label")
        for node_name, node in group.nodes.items():
            if group.discretisation:  # how each node is stepped, read back per node
                node.metadata = {"snngraph.discretisation": group.discretisation}
            self.nodes[node_name] = node
        meta = {"snngraph.discretisation": group.discretisation or "exact",
                "snngraph.reset": group.reset or "none",
                "snngraph.group": ",".join(group.nodes), "snngraph.entry": group.entry,
                "snngraph.exit": group.exit}
        if spec is not None:
            meta["snngraph.neuron"] = spec_json(spec)
        group.nodes[name].metadata = meta  # every group has a node of the op's own name
        self.cycle_edges |= set(group.delayed)

    def op_delay(self, op: Any) -> None:
        src = self.input_value(op.name)
        steps = op.steps
        pre = (self.ir.inputs(op.name) or [None])[0]
        if op.name in self.loops and pre is not None and self.ir.op(pre).op == "neurons":
            steps -= 1  # the cycle's own one-step delay
            self.note(op, "the cycle's one-step delay (a plain edge; NIR reads a cycle one "
                          "step late)")
        if steps < op.steps:  # the values read through this op are read one step late
            src = Value([f"~{s}" for s in src.sources], src.shape, src.image)
            self.delay_origins.add(op_origin(op, sites=False))
        if steps == 0:
            self.values[op.name] = src
            return
        if op.name in self.loops and steps == op.steps:
            raise self.refuse(op, "a delay inside a cycle that does not directly follow "
                              "neurons: NIR places a cycle's one-step delay after the neurons "
                              "that close it, so this loop would run with another timing")
        node = self.name(op)
        self.add(node, _nir().Delay(delay=np.full(src.shape, steps * self.dt)), src.sources)
        self.values[op.name] = Value([node], src.shape, src.image)
        self.note(op, f"Delay {node} of {steps} step(s) = {steps * self.dt:g} s")

    def op_process(self, op: Any) -> None:
        from snngraph.processes import ConstantCurrentLIFEncoder

        process = spec_from_dict(op.process)
        if not isinstance(process, ConstantCurrentLIFEncoder):
            raise self.refuse(op, f"the process {type(process).__name__} has no NIR "
                              "equivalent (NIR graphs have no random or time-varying sources)")
        if self.how not in (None, "euler"):
            raise self.refuse(op, "a constant-current LIF encoder is NIR's LIF stepped by "
                              "forward Euler; it is exact only with discretisation='euler'")
        src = self.input_value(op.name)
        shape = self.shaper(src.image, op.size)
        node = self.name(op)
        lif = _nir().LIF(tau=shape(process.tau_mem), r=shape(1.0), v_leak=shape(process.v_leak),
                         v_threshold=shape(process.v_th), v_reset=shape(process.v_reset))
        lif.metadata = {"snngraph.process": spec_json(op.process),
                        "snngraph.discretisation": "euler", "snngraph.reset": "zero"}
        self.add(node, lif, src.sources)
        nodes = [node]
        if process.amplitude != 1.0:
            amp = f"{node}.amplitude"
            self.add(amp, _nir().Scale(scale=shape(process.amplitude)), [node])
            nodes = [amp]
            lif.metadata["snngraph.exit"] = amp
        self.values[op.name] = Value(nodes, src.shape, src.image)
        self.discretisations.add("euler")
        self.note(op, f"LIF {node} (the encoder's Euler LIF, r = 1)")

    def op_probe(self, op: Any) -> None:
        if op.attr != "output":
            self.note(op, f"not exported: a probe of {op.attr!r} (NIR records outputs only)")
            return
        ins = self.ir.inputs(op.name)
        unfiltered = len(ins) == 1 and ins[0] in self.skipped
        src = self.input_value(ins[0] if unfiltered else op.name)
        node = self.name(op, base=op.label)
        self.add(node, _nir().Output(output_type=np.array(src.shape)), src.sources)
        filt = " (its filter is not exported)" if unfiltered or op.synapse else ""
        self.note(op, f"Output {node} {list(src.shape)}{filt}")

    def op_synapse(self, op: Any) -> None:
        spec = spec_from_dict(op.synapse)
        if op.name in self.loops:
            raise self.refuse(op, f"a {type(spec).__name__} synapse inside a cycle: NIR adds "
                              "its own one-step delay to every cycle, so the loop's timing "
                              "would change", "use synapse=sg.Delay(1) on the recurrent "
                              "connection")
        src = self.input_value(op.name)
        name = self.name(op)
        try:
            group = synapse_group(spec, name, self.dt, self.how,
                                  self.shaper(src.image, op.size))
        except Unmappable as exc:
            if _probe_filter(self.ir, op.name):  # only how a probe records: say so, go on
                self.skipped.add(op.name)
                self.note(op, f"not exported: a probe's {type(spec).__name__} filter ({exc})")
                return
            raise self.refuse(op, str(exc)) from None
        if set(group.nodes) & set(self.nodes):
            raise self.refuse(op, f"its NIR nodes would reuse the name {name}.delay of "
                              "another node", "give the connection another label")
        if group.entry != group.exit:
            self.discretisations.add(group.discretisation)
        first = group.nodes[group.entry]
        first.metadata = {"snngraph.synapse": spec_json(op.synapse),
                          "snngraph.group": ",".join(group.nodes), "snngraph.entry": group.entry,
                          "snngraph.exit": group.exit,
                          "snngraph.discretisation": group.discretisation}
        self.nodes.update(group.nodes)
        self.edges += group.edges + [(s, group.entry) for s in src.sources]
        self.values[op.name] = Value([group.exit], src.shape, src.image)
        for line in group.lines:
            self.note(op, f"{name}: {line}")


def _edge_list(edges: set[tuple[str, str]]) -> str:
    return ", ".join(f"{a} -> {b}" for a, b in sorted(edges)) or "nowhere"


def needed_ops(ir: Any) -> list[str]:
    """The ops an output probe depends on, in schedule order."""
    probes = [op.name for op in ir.ops() if op.op == "probe" and op.attr == "output"]
    keep: set[str] = set()
    stack = list(probes)
    while stack:
        name = stack.pop()
        if name not in keep:
            keep.add(name)
            stack += ir.inputs(name)
    order = ir.schedule or list(nx.topological_sort(ir.graph))
    return [n for n in order if n in keep]


def _probe_filter(ir: Any, name: str) -> bool:
    op = ir.op(name)
    return (op.op == "synapse" and op.made_by == "insert_synapses"
            and all(ir.op(c).op == "probe" for c in ir.consumers(name)))
