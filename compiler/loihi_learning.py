"""Learning rules on the Loihi target: which run, and where.

PES on a decoded connection between two chip ensembles learns on the chip (the
``pes_to_chip`` pass): full weights ``W = M @ decoders`` whose changes the emulator
makes in the chip's integers (runtimes/loihi/learning.py), from its own trace of the pre
spikes and an error computed on the host from the error connections, as Nengo builds
it, and sent to the chip every step. Any other PES (its pre ensemble off the chip, or a
connection ``pes_to_chip`` does not match) learns on the host in float, next to the
chip: its weights read the chip's spikes on the host and their learned value goes to the
chip through on/off encoding neurons every step (compiler/host_stages.py: the weights,
the rule and its error are in the ``loop`` stage).

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
        if op.chip:
            continue  # pes_to_chip noted it
        where = ("next to the chip: the learned weights read chip spikes on the host and "
                 "send their value to the chip every step" if touches_chip else
                 "on the host, with the host ensembles it reads")
        ir.note(op.name, f"loihi: {kind} learns in float on the host, {where}")


def learning_rows(ir: IR) -> list[dict]:
    """For the resource report: each learned weight matrix, where it learns and (on the
    chip) its learning synapses."""
    rows = []
    for op in ir.ops():
        if op.op == "learn":
            w = ir.params[ir.op(op.target).weights]
            rows.append({"rule": op.rule["type"], "object": describe(op).split(" (created")[0],
                         "where": "chip" if op.chip else "host",
                         "weights": int(w.size), "shape": tuple(w.shape)})
    return rows
