"""``plan_bptt``: how training through time runs a spiking program, decided once here and
recorded on the program as notes (one ``bptt:`` note per op, shown in the dump), which the
BPTT runtime reads back (``read_plan``) instead of working it out again.

- *Units*: ops in a cycle (neurons -> linear -> delay -> neurons) form a recurrent unit,
  run step by step (``unit=2 op 1/3``; a delay reads the previous step, so delays come
  first within a step); every other op is a unit of its own, run over all steps at once.
  Units are in a topological order of the graph's condensation, ties broken by the
  schedule, so the plan is deterministic.
- *Fused recurrent layers*: a unit that is exactly one recurrent layer (neurons with BPTT
  kernels, their spikes through a one-step delay and a square dense map back into them)
  runs as one kernel; its reverse pass too, up to a batch size (above it, one BLAS product
  per step).
- *Event-driven paths*: a dense linear map or a channels-last convolution over time may
  run event by event over its (spike) input; the runtime measures each minibatch's input
  density and compares it with the threshold recorded here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.schedule import step_order

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError

SPARSE_BELOW = 0.15
"""Input density under which a linear op over time runs event-driven (measured: the
dense BLAS product wins above about this)."""
SPARSE_CONV_BELOW = 0.13
"""The same for a convolution (its dense form is im2col and one BLAS product). Measured on
W4's second convolution after 3 epochs of training, at 9.1 % input density: forward 259 ms
a batch event by event against 380-400 ms dense, backward 640-660 against 745-822 ms. The
event-driven cost grows with the density (the input gradient's share does not), which puts
the crossover near 13 %."""
SPARSE_GRAD_BELOW = 0.4
"""Output-gradient density under which a sparse convolution's input gradient runs event
by event (behind a 2 x 2 max-pool it is 0.25; measured on W4's second convolution: 270 ms
a batch against 430-670 ms for the BLAS product and col2im)."""
FUSED_BACKWARD_BELOW = 3_000_000
"""A fused recurrent layer's reverse pass runs as one kernel (the spikes' adjoint through
W, batch x n x n per step, by sgemm from inside the kernel) below this much work per step,
and step by step with one BLAS product per step above it (measured with the kernel's own
loop, before sgemm: W3's 256 x 100 x 100 ran 20 % faster fused, W5's 128^3 the same)."""

PREFIX = "bptt: "


@dataclass
class Unit:
    """Ops run together: one op over all steps, or a recurrent unit step by step."""

    ops: list[str]
    stepped: bool = False
    layer: tuple[str, str, str] | None = None
    """``(delay, linear, neurons)`` of a fused recurrent layer."""
    fused_batch: int = 0
    """The largest batch whose reverse pass runs as one kernel (fused layers)."""


@dataclass
class Plan:
    units: list[Unit]
    sparse_below: dict[str, float] = field(default_factory=dict)
    """op -> input density under which it runs event-driven."""
    grad_sparse_below: dict[str, float] = field(default_factory=dict)
    """conv op -> output-gradient density under which its input gradient is event-driven."""


def plan_bptt(ir: IR, options: Any = None) -> None:
    """Record the plan on ``ir`` (replacing an earlier one)."""
    from snngraph.compiler.ops import refuse_unsupported

    refuse_unsupported(ir, "bptt")
    for name in ir.graph.nodes:
        notes = ir.op(name).notes
        if any(n.startswith(PREFIX) for n in notes):
            ir.update(name, notes=tuple(n for n in notes if not n.startswith(PREFIX)))
    ir.log[:] = [entry for entry in ir.log if not entry.startswith("plan_bptt: ")]
    plan = make_plan(ir)
    for k, unit in enumerate(plan.units):
        for i, name in enumerate(unit.ops):
            ir.note(name, PREFIX + _describe(plan, k, unit, i, name))
    stepped = [u for u in plan.units if u.stepped]
    ir.log.append(f"plan_bptt: {len(plan.units)} units, {len(stepped)} run step by step "
                  f"({sum(u.layer is not None for u in stepped)} fused recurrent layers), "
                  f"{len(plan.sparse_below)} ops event-driven when their input is sparse")


def make_plan(ir: IR) -> Plan:
    order = ir.schedule or step_order(ir, strict=False)
    plan = Plan([])
    for ops in _units(ir, order):
        stepped = len(ops) > 1 or ir.graph.has_edge(ops[0], ops[0])
        unit = Unit(ops, stepped, _layer(ir, ops) if stepped else None)
        if unit.layer is not None:
            size = ir.op(unit.layer[2]).size
            unit.fused_batch = (FUSED_BACKWARD_BELOW - 1) // (size * size)
            plan.sparse_below[unit.layer[1]] = SPARSE_BELOW  # its weight gradient
        if not stepped:
            _sparse_candidate(ir, ir.op(ops[0]), plan)
        plan.units.append(unit)
    return plan


def _sparse_candidate(ir: IR, op: Any, plan: Plan) -> None:
    if op.op == "conv2d" and op.channels_last:
        plan.sparse_below[op.name] = SPARSE_CONV_BELOW
        plan.grad_sparse_below[op.name] = SPARSE_GRAD_BELOW
    elif op.op == "linear" and ir.params[op.weights].ndim == 2:
        plan.sparse_below[op.name] = SPARSE_BELOW


def _describe(plan: Plan, k: int, unit: Unit, i: int, name: str) -> str:
    text = f"unit={k}"
    if unit.stepped:
        text += f" op {i + 1}/{len(unit.ops)}, recurrent: "
        text += "step by step" if unit.layer is None else _fused(unit, name)
    if name in plan.sparse_below:
        what = ("weight gradient event-driven when spike density" if unit.stepped else
                "event-driven when its input over time has density")
        text += f", {what} < {plan.sparse_below[name]!r}"
    if name in plan.grad_sparse_below:
        text += (" (input gradient too when the output gradient's density < "
                 f"{plan.grad_sparse_below[name]!r})")
    return text


def _fused(unit: Unit, name: str) -> str:
    d, lin, n = unit.layer
    if name != n:
        return f"fused layer (see {n})"
    return (f"fused layer (linear {lin} -> neurons {n} -> delay {d}) in one kernel, its "
            f"backward too up to batch {unit.fused_batch}")


# ------------------------------------------------------------------ reading it back
_NUM = r"([0-9.]+(?:e[-+]?\d+)?)"
_NOTE = re.compile(r"unit=(\d+)(?: op (\d+)/(\d+))?")
_LAYER = re.compile(r"fused layer \(linear (\S+) -> neurons (\S+) -> delay ([^\s)]+)\) "
                    r"in one kernel, its backward too up to batch (\d+)")
_SPARSE = re.compile(r"event-driven when (?:its input over time has|spike) density < " + _NUM)
_GRAD = re.compile(r"output gradient's density < " + _NUM)


def read_plan(ir: IR) -> Plan | None:
    """The plan recorded on ``ir``, or None when some op has no ``bptt:`` note."""
    units: dict[int, list[tuple[int, str]]] = {}
    plan = Plan([])
    layers: dict[int, tuple[tuple[str, str, str], int]] = {}
    stepped: set[int] = set()
    for name in ir.graph.nodes:
        note = next((n[len(PREFIX):] for n in ir.op(name).notes if n.startswith(PREFIX)), None)
        if note is None:
            return None
        m = _NOTE.match(note)
        k = int(m.group(1))
        units.setdefault(k, []).append((int(m.group(2) or 1), name))
        if m.group(2):
            stepped.add(k)
        _read_paths(note, name, k, plan, layers)
    for k in sorted(units):
        layer, batch = layers.get(k, (None, 0))
        plan.units.append(Unit([n for _, n in sorted(units[k])], k in stepped, layer, batch))
    return plan


def _read_paths(note: str, name: str, k: int, plan: Plan, layers: dict) -> None:
    if (m := _LAYER.search(note)) is not None:
        lin, n, d = m.group(1), m.group(2), m.group(3)
        layers[k] = ((d, lin, n), int(m.group(4)))
    if (m := _SPARSE.search(note)) is not None:
        plan.sparse_below[name] = float(m.group(1))
    if (m := _GRAD.search(note)) is not None:
        plan.grad_sparse_below[name] = float(m.group(1))


def plan_of(ir: IR) -> Plan:
    """The recorded plan; the pass runs first if the program has none yet (a program
    compiled for the simulator and then trained)."""
    plan = read_plan(ir)
    if plan is None:
        plan_bptt(ir)
        plan = read_plan(ir)
    return plan


# ------------------------------------------------------------------ deciding it
def _units(ir: IR, order: list[str]) -> list[list[str]]:
    """Strongly connected components in a topological order of the condensation, each
    in schedule order (ties broken by the schedule, so the plan is deterministic)."""
    pos = {n: i for i, n in enumerate(order)}
    comps = [sorted(c, key=pos.__getitem__) for c in nx.strongly_connected_components(ir.graph)]
    index = {n: k for k, c in enumerate(comps) for n in c}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(comps)))
    dag.add_edges_from((index[a], index[b]) for a, b in ir.graph.edges if index[a] != index[b])
    ranked = nx.lexicographical_topological_sort(dag, key=lambda k: pos[comps[k][0]])
    units = []
    for k in ranked:
        unit = comps[k]
        if len(unit) > 1:  # within a step: delays read the previous step, so they go first
            unit = [n for n in unit if ir.op(n).op == "delay"] + \
                [n for n in _within_step_order(ir, unit, pos)]
        units.append(unit)
    return units


def _within_step_order(ir: IR, unit: list[str], pos: dict) -> list[str]:
    sub = ir.graph.subgraph(unit).copy()
    delays = [n for n in unit if ir.op(n).op == "delay"]
    sub.remove_nodes_from(delays)
    if not nx.is_directed_acyclic_graph(sub):
        cycle = nx.find_cycle(sub)
        names = [a for a, _ in cycle]
        objs = "; ".join(dict.fromkeys(f"{ir.op(n).src[0].obj} at {ir.op(n).src[0].site}"
                                       for n in names if ir.op(n).src))
        raise CompileError(f"training through time: a loop without a delay "
                           f"({' -> '.join(names)}: {objs}).\n  fix: give the recurrent "
                           "connection synapse=sg.Delay(1) (the previous step's spikes)")
    return list(nx.lexicographical_topological_sort(sub, key=pos.__getitem__))


def _layer(ir: IR, unit: list[str]) -> tuple[str, str, str] | None:
    """``(delay, linear, neurons)`` if the unit is one recurrent layer that the fused
    kernels run: neurons with BPTT kernels, their spikes through a one-step delay and
    a square dense linear map back into them, nothing else reading the delay or the
    linear map."""
    if len(unit) != 3:
        return None
    kinds = {ir.op(n).op: n for n in unit}
    if set(kinds) != {"delay", "linear", "neurons"}:
        return None
    d, lin, n = kinds["delay"], kinds["linear"], kinds["neurons"]
    w = ir.params[ir.op(lin).weights]
    ok = (ir.op(d).steps == 1 and ir.inputs(d) == [n] and ir.inputs(lin) == [d]
          and ir.consumers(d) == [lin] and ir.consumers(lin) == [n]
          and spec_from_dict(ir.op(n).neuron).bptt_kernels() is not None
          and w.shape == (ir.op(n).size,) * 2)
    return (d, lin, n) if ok else None
