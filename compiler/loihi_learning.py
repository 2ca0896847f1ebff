"""Learning rules on the Loihi target: which run, and where.

PES runs, on the host: its learned weights (the connection's decoders) read the pre
ensemble's chip spikes, and their decoded, learned value goes to the post ensemble through
on/off encoding neurons, exchanged with the chip every step (compiler/host_stages.py: the
weights, the rule and the error it reads are in the ``loop`` stage). The error is computed
on the host from the error connections, as Nengo builds it. The weights learn in float:
the emulated chip has no learning synapses yet (NengoLoihi learns a connection's decoders
on the chip, in 8-bit weights with 7-bit traces and an error sent as 8-bit integers; not
done here, docs/loihi_nef.md).

Other rules (BCM, Oja, Voja, RLS) run only where they touch no chip ensemble (every
ensemble they read or change on the host); on the chip they are refused, naming the
connection and the fix.
"""

from __future__ import annotations

from snngraph.compiler.chip import describe
from snngraph.compiler.host_stages import host_stages
from snngraph.compiler.ir import IR

from snngraph.errors import CompileError

HOST_RULES = ("PES",)
"""Rules the Loihi target runs next to chip ensembles (learning on the host)."""


def check_learning(ir: IR) -> None:
    """After ``split_host_chip``: refuse a rule other than PES that reads or changes a
    chip ensemble's values; note where each rule learns."""
    learns = [op for op in ir.ops() if op.op == "learn"]
    if not learns:
        return
    stages = host_stages(ir)
    for op in learns:
        kind = op.rule["type"]
        touches_chip = stages.of(op.name) != "pre"
        if touches_chip and kind not in HOST_RULES:
            raise CompileError(
                f"{describe(op)}: its {kind} learning rule reads or changes the values of a "
                f"chip ensemble, and the Loihi target runs only {', '.join(HOST_RULES)} "
                "next to the chip (NengoLoihi's one rule)\n  fix: run this connection's "
                "ensembles on the host (net.config[ens].on_chip = False for its pre and "
                "post), use PES, or run on backend='numba'")
        where = ("next to the chip: the learned weights read chip spikes on the host and "
                 "send their value to the chip every step" if touches_chip else
                 "on the host, with the host ensembles it reads")
        ir.note(op.name, f"loihi: {kind} learns in float {where}; on-chip learning "
                         "synapses are not emulated yet")


def learning_rows(ir: IR) -> list[dict]:
    """For the resource report: each learned weight matrix and where it learns."""
    rows = []
    for op in ir.ops():
        if op.op == "learn":
            target = ir.op(op.target)
            rows.append({"rule": op.rule["type"], "object": describe(op).split(" (created")[0],
                         "weights": int(ir.params[target.weights].size),
                         "shape": tuple(ir.params[target.weights].shape)})
    return rows
