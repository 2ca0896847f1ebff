"""``steady_state``: the rate target's view of time. With every neuron on its rate curve
and inputs held constant, a unit-gain filter or a delay outputs its input, so synapses
and delays are bypassed (one evaluation per example). Those on a recurrent loop stay:
they carry the loop's state, which a steady-state evaluation cannot represent, and the
rate runtime says so if asked to run such a graph.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from snngraph.compiler.ir import IR

from snngraph.document import spec_from_dict


def steady_state(ir: IR, options: Any) -> None:
    on_loop = set().union(*(set(c) for c in nx.simple_cycles(ir.graph))) \
        if not nx.is_directed_acyclic_graph(ir.graph) else set()
    for name in [n for n, d in ir.graph.nodes(data=True)
                 if d["op"].op in ("synapse", "delay") and n not in on_loop]:
        op = ir.op(name)
        if op.op == "synapse" and not _unit_gain(op.synapse):
            continue
        sources, consumers = ir.inputs(name), ir.consumers(name)
        if any(ir.graph.has_edge(s, c) for s in sources for c in consumers):
            continue  # a second, parallel edge would be lost: keep it (identity anyway)
        for consumer in consumers:
            data = ir.graph.edges[name, consumer]
            ir.graph.add_edges_from((s, consumer, data) for s in sources)
        what = op.synapse["type"] if op.op == "synapse" else f"Delay({op.steps})"
        ir.remove(name)
        ir.log.append(f"steady_state: removed {what} {name}: identity at steady state")
        for consumer in consumers:
            if ir.op(consumer).op == "probe":
                ir.note(consumer, f"reads {', '.join(sources)} directly: {what} removed "
                                  "[steady_state]")


def _unit_gain(synapse: dict) -> bool:
    """Filters whose settled output equals their input (the rate runtime scales by the
    DC gain of any other)."""
    return bool(np.isclose(spec_from_dict(synapse).dc_gain(), 1.0))
