"""``schedule``: the order in which one time step computes its ops.

A topological order of the graph in which only the edges that close a cycle through a
synapse or delay are cut (those ops output what they held from the previous step, see
``insert_synapses.step_graph``); every other synapse runs right after its producer,
which keeps the order readable. The order is deterministic for a given IR.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.insert_synapses import check_algebraic_loops
from snngraph.schemas.ir import STATEFUL_DELAY


def schedule(ir: IR, options: Any) -> None:
    check_algebraic_loops(ir)
    ir.schedule = step_order(ir)


def step_order(ir: IR, strict: bool = True) -> list[str]:
    """Ops in the order one step computes them. With an algebraic loop there is none:
    raise (``strict``) or return creation order (for passes that run before the check)."""
    g = ir.graph.copy()
    for u, v in list(ir.graph.edges):
        if ir.op(v).op in STATEFUL_DELAY and nx.has_path(g, v, u):
            g.remove_edge(u, v)  # this edge closes a cycle: read last step's value
    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        if strict:
            raise
        return list(ir.graph.nodes)
