"""``insert_synapses``: make filters explicit, and reject algebraic loops.

- ``synapse=`` (e.g. 0.005 s): a default filter on every connection leaving spiking
  neurons that has none (NengoDL's converter option); one filter op per neuron op,
  shared by its consumers.
- probe filters: a probe's ``synapse`` becomes a synapse op in front of it.
- a cycle that passes through no synapse or delay cannot be computed in one step: the
  error names every object on it.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from snngraph.compiler.ir import IR
from snngraph.schemas import ir as ops

from snngraph.document import spec_to_dict
from snngraph.errors import CompileError, origin_text
from snngraph.synapses import Lowpass, Synapse


def insert_synapses(ir: IR, options: Any) -> None:
    if options.synapse is not None:
        _default_synapses(ir, as_synapse(options.synapse))
    for name in [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "probe"]:
        probe = ir.op(name)
        if probe.synapse is not None:
            target = ir.inputs(name)[0]
            syn = ir.fresh(f"{name[1:]}.filter")
            common = {"name": syn, "shape": probe.shape, "src": probe.src,
                      "made_by": "insert_synapses"}
            op = (ops.Delay(**common, kind=probe.kind, steps=probe.synapse["steps"])
                  if probe.synapse["type"] == "Delay" else
                  ops.Synapse(**common, synapse=probe.synapse))
            ir.insert_after(target, op, only=[name])
            ir.update(name, synapse=None, kind=op.kind)
    check_algebraic_loops(ir)


def as_synapse(value: Any) -> Synapse:
    if isinstance(value, Synapse):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e9:
        return Lowpass(float(value))
    raise CompileError(f"compile: synapse must be a Synapse or a time constant in seconds "
                       f"(got {value!r})")


def _default_synapses(ir: IR, synapse: Synapse) -> None:
    spec = spec_to_dict(synapse)
    for name in [n for n, d in ir.graph.nodes(data=True)
                 if d["op"].op == "neurons" and d["op"].mode == "spike"]:
        # a learning rule filters the activities it reads itself (its own synapses)
        targets = [c for c in ir.consumers(name) if ir.op(c).op not in ("synapse", "probe")
                   and name not in ir.op(c).refs().values()]
        if not targets:
            continue
        op = ir.op(name)
        syn = ir.fresh(f"{name[1:]}.syn")
        ir.insert_after(name, ops.Synapse(name=syn, shape=op.shape, src=op.src,
                                          made_by="insert_synapses", synapse=spec),
                        only=targets)
        ir.log.append(f"insert_synapses: {syn} filters the spikes of {name} "
                      f"({type(synapse).__name__})")


def step_graph(ir: IR) -> nx.DiGraph:
    """The dependencies within one step: edges into synapses and delays are cut, since
    those ops output what they held from the previous step."""
    g = ir.graph.copy()
    g.remove_edges_from([(u, v) for u, v in ir.graph.edges
                         if ir.op(v).op in ops.STATEFUL_DELAY])
    return g


def check_algebraic_loops(ir: IR) -> None:
    g = step_graph(ir)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    names = [u for u, _ in cycle]
    lines, seen = [], set()
    for u, v in cycle:
        for o in (*ir.op(u).src, *ir.graph.edges[u, v].get("src", ())):
            if o.obj not in seen:
                seen.add(o.obj)
                lines.append(f"  {origin_text(o)}")
    raise CompileError(
        "algebraic loop: a cycle with no synapse or delay cannot be computed within one "
        f"time step (ops {' -> '.join(names)} -> {names[0]})\n  objects on the loop:\n"
        + "\n".join("  " + line for line in lines)
        + "\n  fix: give one connection on the loop a synapse, or a one-step delay: "
          "sg.Connection(h, h, transform=..., synapse=sg.Delay(1))")
