"""The Loihi target's host side in three stages around the chip, and what crosses them.

After ``split_host_chip`` the host reads chip spikes through ``spike_output`` ops and sends
spikes to the chip through ``spike_input`` ops. Each host op falls in one stage:

- ``pre``: reads nothing from the chip (inputs, Nodes of time, the on/off neurons of
  their values): run for the whole run before the chip (NengoLoihi's ``precompute``);
- ``loop``: reads chip spikes and feeds the chip (a Node function, a ``Delay`` or an
  off-chip ensemble in a recurrent path between chip ensembles): run one step at a time,
  in lockstep with the chip (NengoLoihi without ``precompute``);
- ``post``: reads chip spikes and feeds only the host (decoded probes, Nodes reading the
  chip): run for the whole run after the chip.

Values only flow forward (pre -> loop -> post, pre -> post): a post op feeding a loop op
would feed the chip, so it would be a loop op. Each value that crosses a stage is computed
once, recorded by its stage and fed to the later one (``cuts``).

Timing (the same in every stage split): the host reads a chip ensemble's spikes in the
step they are emitted; host spikes reach the chip one step later (the host link). A loop
through the host therefore takes one step more than the same connection on the chip:
chip spikes at step t, host value at t, chip input at t + 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
from snngraph.compiler.chip import describe
from snngraph.compiler.ir import IR


@dataclass
class Stages:
    pre: set[str] = field(default_factory=set)
    loop: set[str] = field(default_factory=set)
    post: set[str] = field(default_factory=set)

    def of(self, name: str) -> str | None:
        for stage in ("pre", "loop", "post"):
            if name in getattr(self, stage):
                return stage
        return None


def host_stages(ir: IR) -> Stages:
    host = {n for n in ir.graph.nodes if not ir.op(n).chip}
    graph = _with_side_effects(ir)
    reads_chip: set[str] = set()
    feeds_chip: set[str] = set()
    for name in graph.nodes:
        kind = ir.op(name).op
        if kind == "spike_output":
            reads_chip |= {name} | (nx.descendants(graph, name) & host)
        elif kind == "spike_input" or (kind == "learn" and ir.op(name).chip):
            feeds_chip |= nx.ancestors(graph, name) & host  # spikes, or a chip rule's error
    loop = reads_chip & feeds_chip
    stages = Stages(pre=host - reads_chip, loop=loop, post=reads_chip - loop)
    for op in ir.ops():  # a probe of a state (weights, a rule's change) runs with its op
        if op.op == "probe" and op.attr != "output" and op.target in host:
            own, theirs = stages.of(op.name), stages.of(op.target)
            if own != theirs:
                getattr(stages, own).discard(op.name)
                getattr(stages, theirs).add(op.name)
    return stages


def _with_side_effects(ir: IR) -> nx.DiGraph:
    """The graph with an edge from each op that changes another (a learning rule's
    ``target``) to that op: a rule runs in the stage of the weights it changes, so what
    it reads (the error) is computed there."""
    targets = [(op.name, op.target) for op in ir.ops()
               if type(op).side_effect and getattr(op, "target", None) in ir.graph]
    if not targets:
        return ir.graph
    graph = ir.graph.copy()
    graph.add_edges_from(targets)
    return graph


def cuts(ir: IR, stages: Stages, stage: str) -> set[str]:
    """The ops outside ``stage`` whose values ops of ``stage`` read (fed to it as inputs:
    a ``spike_output`` with the chip's spikes, anything else recorded by its stage)."""
    own = getattr(stages, stage)
    return {i for n in own for i in ir.inputs(n) if i not in own}


def loop_sources(ir: IR, stages: Stages) -> list[str]:
    """The host ops in a loop that send values to the chip (each ``spike_input``'s
    source, and the error of each rule learning on the chip)."""
    return [src for src in chip_sources(ir).values() if src in stages.loop]


def chip_sources(ir: IR) -> dict[str, str]:
    """Each chip op that takes a host value and the host op it takes it from: a
    ``spike_input`` (spikes) or a ``learn`` op on the chip (its error, real values)."""
    return {op.name: ir.summed_inputs(op.name)[0] for op in ir.ops()
            if op.op == "spike_input" or (op.op == "learn" and op.chip)}


def exchange_text(ir: IR, stages: Stages | None = None) -> str:
    """One line for the dump's log and the resource report: which exchange runs, and why."""
    stages = stages or host_stages(ir)
    if not stages.loop:
        return ("host/chip exchange: precomputed (no host op both reads chip spikes and "
                "feeds the chip): the host's inputs run for the whole run, then the chip, "
                "then the host ops that read the chip")
    return (f"host/chip exchange: step by step for {len(stages.loop)} host op(s) in a "
            f"chip -> host -> chip loop ({_loop_objects(ir, stages)}), each step exchanging "
            "spikes with the chip (one step from host to chip); the host's other ops run "
            "for the whole run before or after the chip")


def _loop_objects(ir: IR, stages: Stages) -> str:
    """The user objects in the loop, the ones the user wrote first (Nodes, Delays,
    off-chip ensembles), without the ops passes made for them."""
    shown: list[str] = []
    for name in sorted(stages.loop):
        op = ir.op(name)
        if op.op in ("spike_output", "probe") or not op.src or op.made_by:
            continue
        text = describe(op).split(" (created")[0]
        if text not in shown:
            shown.append(text)
    return ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")


def note_exchange(ir: IR) -> None:
    """Record the exchange in the log, and on each loop op that sends spikes to the chip."""
    stages = host_stages(ir)
    text = exchange_text(ir, stages)
    ir.log.append(text)
    for name in loop_sources(ir, stages):
        ir.note(name, "host/chip exchange: step by step (this host value is computed from "
                      "chip spikes of the same step and reaches the chip one step later)")
