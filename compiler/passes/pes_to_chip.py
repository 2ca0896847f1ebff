"""``pes_to_chip``: PES on a decoded connection between chip ensembles, learned on the chip.

Loihi target, after ``optimize`` and before ``nef_to_chip``. A PES rule learns the
decoders ``L`` of a connection ``pre -> post``; between two chip ensembles the connection
runs as full weights ``W = M @ L`` (``M``: the post's encoders over its radius, with any
transform after the learned decoders), so PES's change ``dL = -k dt / n_pre * outer(e,
a)`` becomes ``dW = M @ dL = -k dt / n_pre * outer(M e, a)``: the error projected onto
the post neurons (Nengo's PES into neurons does the same with the post's encoders).

The pass rewrites the connection as a chip connection ``pre spikes -> synapse -> W ->
post neurons`` whose weights op is ``learned``, and turns the rule into one that changes
those weights: ``target`` = the weights op, ``encoders`` = ``M``, no ``pre`` (the chip
keeps its own trace of the pre spikes, filtered with the rule's ``pre_synapse``), marked
``chip``. The error stays an input of the rule, computed on the host from the error
connections as Nengo builds it, and sent to the chip every step (one step later, as every
host value). ``discretize`` gives the weights the chip's learning precision and the
emulator learns them in integers (runtimes/loihi/learning.py).

Connections it does not match (pre or post off the chip, more than one synapse, the
learned decoders or the rule's change probed or read by anything else, a
``pre_synapse`` that is not a Lowpass: the chip's trace is one) keep PES on the host
(compiler/loihi_learning.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.split_host_chip import wants_chip
from snngraph.schemas import ir as ops

CHAIN_KINDS = ("linear", "slice", "scatter", "sum")


def pes_to_chip(ir: IR, options: Any) -> None:
    moved = [op.name for op in ir.ops() if op.op == "learn" and _move(ir, op)]
    if moved:
        ir.log.append(f"pes_to_chip: {len(moved)} PES rule(s) learn on the chip "
                      f"({', '.join(moved)})")


def _move(ir: IR, learn: Any) -> bool:
    pre_synapse = learn.rule.get("pre_synapse") or {}
    if learn.rule["type"] != "PES" or learn.modifies != "decoders" or \
            pre_synapse.get("type") != "Lowpass" or learn.pre is None:
        return False  # a chip's trace is a first-order filter (NengoLoihi: Lowpass only)
    if ir.consumers(learn.name):
        return False  # a probe of the rule's change: the host has it, the chip does not
    target = ir.op(learn.target)
    ins = ir.inputs(target.name)
    if len(ins) != 1 or not wants_chip(ir, ins[0]) or target.bias is not None:
        return False
    chain = _chain_to_post(ir, target.name)
    if chain is None:
        return False
    synapse, matrix, path, post = chain
    _rewire(ir, learn, ins[0], synapse, matrix, path, post)
    return True


def _chain_to_post(ir: IR, start: str) -> tuple[str, np.ndarray, list[str], str] | None:
    """From the learned decoders, the single path of one Lowpass and linear ops into a
    chip ensemble's neurons: ``(synapse, M, ops on the path, post)``, or None."""
    from snngraph.compiler.passes.nef_to_chip import _matrix

    name, synapse, path = start, None, []
    matrix = np.eye(ir.op(start).size)
    while True:
        users = ir.consumers(name)
        if len(users) != 1:
            return None
        nxt = users[0]
        op = ir.op(nxt)
        if op.op == "neurons":
            if not wants_chip(ir, nxt) or synapse is None:
                return None
            return synapse, matrix, path, nxt
        if op.op == "synapse":
            if synapse is not None or op.synapse.get("type") != "Lowpass":
                return None
            synapse = nxt
        elif op.op in CHAIN_KINDS and not getattr(op, "learned", False):
            if op.op == "linear" and op.bias is not None:
                return None
            m = _matrix(ir, nxt)
            if m.shape[1] != matrix.shape[0]:  # a sum of several inputs: only this one's part
                return None
            matrix = m @ matrix
        else:
            return None
        path.append(nxt)
        name = nxt


def _rewire(ir: IR, learn: Any, pre: str, synapse: str, matrix: np.ndarray,
            path: list[str], post: str) -> None:
    target = ir.op(learn.target)
    decoders = np.asarray(ir.params[target.weights], float)
    # this connection's value leaves the path where other inputs join it (the post's
    # encoders, when something else feeds the ensemble), or at the post
    chain = [target.name, *path, post]
    joins = next((k for k in range(1, len(chain)) if len(ir.inputs(chain[k])) > 1),
                 len(chain) - 1)
    ir.graph.remove_edge(chain[joins - 1], chain[joins])
    syn_op = ir.op(synapse)
    syn = ir.add(ops.Synapse(name=ir.fresh(f"{synapse[1:]}.chip"), shape=(ir.op(pre).size,),
                             src=syn_op.src, synapse=syn_op.synapse, made_by="pes_to_chip"),
                 [pre])
    name = ir.fresh(f"{target.name[1:]}.chip")
    weights = ir.add(ops.Linear(
        name=name, shape=(ir.op(post).size,), src=target.src, made_by="pes_to_chip",
        weights=ir.param(f"{name}.w", matrix @ decoders), shape_in=(ir.op(pre).size,),
        learned=True, notes=(
            f"pes_to_chip: full weights [{matrix.shape[0]}x{decoders.shape[1]}] = M @ "
            f"decoders, learned on the chip by {learn.name} (M: {' '.join(path)})",)),
        [syn])
    ir.graph.add_edge(weights, post)
    pre_filter = learn.pre
    ir.graph.remove_edge(pre_filter, learn.name)
    ir.update(learn.name, target=weights, modifies="weights", pre=None, chip=True,
              encoders=ir.param(f"{learn.name}.project", matrix), shape=(
                  matrix.shape[0], decoders.shape[1]),
              notes=(*learn.notes, f"pes_to_chip: learns {weights} on the chip from its "
                                   "trace of the pre spikes and the host's error (sent "
                                   "every step); error projected onto the post neurons "
                                   "by M"))
    for dead in [pre_filter, *reversed(path), target.name]:
        if dead in ir.graph and not ir.consumers(dead) and dead != post:
            ir.remove(dead)
