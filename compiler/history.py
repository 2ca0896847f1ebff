"""The IR after each pass, kept by the pass manager for ``snngraph view``.

Recording must cost next to nothing, since every ``compile`` records: a snapshot keeps
references to the (frozen) op models, the edge list, a shallow copy of the parameter
dict and how long the log was. Only when someone asks (``Program.history``, or saving)
are the snapshots formatted into dump lines, with the arrays each stage had. Passes
replace arrays rather than write into them, so an old stage's arrays are still its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snngraph.compiler.ir import IR
from snngraph.schemas.ir import Stage, StageOp


@dataclass(frozen=True)
class Snapshot:
    """What the IR held after pass ``name`` (references, not copies)."""

    name: str
    ops: dict[str, Any]
    edges: list[tuple[str, str]]
    params: dict[str, Any]
    log: tuple[str, ...]
    schedule: tuple[str, ...]
    meta: tuple[str | None, float, int | None, dict[str, Any]]
    """label, dt, seed and callables: what the printer reads besides the graph."""


def snapshot(ir: IR, name: str, log_before: int) -> Snapshot:
    ops = {n: d["op"] for n, d in ir.graph.nodes(data=True)}
    return Snapshot(name, ops, list(ir.graph.edges), dict(ir.params),
                    tuple(ir.log[log_before:]), tuple(ir.schedule),
                    (ir.label, ir.dt, ir.seed, ir.callables))


def materialize(snap: Snapshot) -> Stage:
    """The snapshot as dump lines, in step order (creation order before ``schedule``)."""
    from snngraph.compiler.printer import line, op_name, order

    ir = _as_ir(snap)
    rows = []
    for name in order(ir):
        op = ir.op(name)
        _, _, _, attrs, where = line(ir, op)
        rows.append(StageOp(name=name, op=op_name(op), kind=op.kind, shape=op.shape,
                            inputs=list(ir.inputs(name)), attrs=attrs, origin=where,
                            notes=op.notes, chip=op.chip))
    return Stage(name=snap.name, ops=rows, edges=snap.edges,
                 log=list(snap.log))


def _as_ir(snap: Snapshot) -> IR:
    label, dt, seed, callables = snap.meta
    ir = IR(label, dt, seed)
    for op in snap.ops.values():
        ir.graph.add_node(op.name, op=op)
    ir.graph.add_edges_from(snap.edges)
    ir.params, ir.callables = snap.params, callables
    ir.schedule = list(snap.schedule)
    return ir
