"""``optimize``: simplify the IR without changing what any probe records.

1. passthroughs: a ``sum`` op (passthrough Node) that nobody probes is bypassed, unless
   it sits between two delayed ops (synapse -> node -> synapse);
2. folding (not for the rate target, which training differentiates): consecutive
   linear ops become one (``W2 @ W1``), a convolution followed
   directly by a dense layer becomes one dense matrix when that matrix is small, and an
   elementwise scale in front of neurons is folded into their gain;
3. hoisting: stateless ops whose inputs are all time-invariant are marked
   ``every=presentation`` (computed once per presentation, not every step);
4. dead code: ops that no probe and no host function depends on are removed (a host
   function is the user's Python code: it runs every step, read or not, as in Nengo).
Each change is noted on the ops involved and in the log, so the dump says what happened.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.insert_synapses import check_algebraic_loops
from snngraph.compiler.passes.schedule import step_order
from snngraph.schemas import ir as ops

from snngraph.geometry import pad_images

FOLD_LIMIT = 1 << 22
"""Largest dense matrix (entries) a convolution is expanded into when folding."""


def optimize(ir: IR, options: Any) -> None:
    check_algebraic_loops(ir)  # the folds assume one step is computable
    _bypass_passthroughs(ir)
    # the rate target is what training differentiates: every trainable array must stay
    # its own parameter (a fold would merge two connections' weights into one)
    while options.target != "rate" and (_fold_linear_pairs(ir) or _fold_scale_into_gain(ir)):
        pass
    _remove_dead(ir)
    _hoist(ir)


def _probed(ir: IR, name: str) -> bool:
    return any(ir.op(c).op == "probe" for c in ir.consumers(name))


def _bypass_passthroughs(ir: IR) -> None:
    for name in [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "sum"]:
        ins, outs = ir.inputs(name), ir.consumers(name)
        if _probed(ir, name) or not ins or not (len(outs) == 1 or len(ins) == 1) \
                or ir.read_by_role(name) or any(ir.graph.has_edge(i, o) for i in ins
                                                 for o in outs) \
                or _between_delays(ir, ins, outs):
            continue  # (an edge already there would merge two terms of a sum into one)
        ir.graph.add_edges_from((i, o) for i in ins for o in outs)
        label = ", ".join(o.obj for o in ir.op(name).src)
        ir.remove(name)
        ir.log.append(f"optimize: bypassed passthrough {name} ({label})")
        if len(ins) == 1 and ins[0].startswith(name + "_"):
            ir.rename(ins[0], name)  # the op feeding a layer's node takes the layer's name


def _between_delays(ir: IR, ins: list[str], outs: list[str]) -> bool:
    """A delayed op (synapse, delay) feeds the passthrough and another reads it: the
    node holds this step's value while the delayed ops update after the step, one after
    the other (without it the second would read the first's next value, one step
    early: two Lowpass in a row would delay by one step, not Nengo's two)."""
    return any(ir.op(i).delayed for i in ins) and any(ir.op(o).delayed for o in outs)


def _single_link(ir: IR, a: str, b: str) -> bool:
    """``a`` feeds only ``b``, ``b`` reads only ``a``, and nobody probes ``a``."""
    return ir.consumers(a) == [b] and ir.inputs(b) == [a]


def _matrix(ir: IR, op: ops.Op) -> np.ndarray | None:
    """A linear op's full matrix, or a convolution's when small enough to expand."""
    if op.op == "linear":
        w = ir.params[op.weights]
        return np.diag(w) if w.ndim == 1 else w
    if op.op == "conv2d" and op.size * int(np.prod(op.shape_in)) <= FOLD_LIMIT:
        return conv_matrix(ir.params[op.kernel], op)
    return None


def _fold_linear_pairs(ir: IR) -> bool:
    for b in [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "linear"]:
        ins = ir.inputs(b)
        if len(ins) != 1 or not ir.op(ins[0]).weighted:  # see _matrix
            continue
        a = ins[0]
        op_a, op_b = ir.op(a), ir.op(b)
        if not _single_link(ir, a, b) or _learned(op_a) or _learned(op_b):
            continue
        w_a = _matrix(ir, op_a)
        if w_a is None:
            continue
        w_b = ir.params[op_b.weights]
        w = (w_b[:, None] * w_a) if w_b.ndim == 1 else w_b @ w_a
        bias = _combined_bias(ir, op_a, op_b, w_b)
        _replace_pair(ir, a, b, w, bias)
        return True
    return False


def _learned(op: ops.Op) -> bool:
    """Its weights change during a run (a learning rule's): never folded or hoisted."""
    return bool(getattr(op, "learned", False))


def _combined_bias(ir: IR, op_a: ops.Op, op_b: ops.Op, w_b: np.ndarray) -> np.ndarray | None:
    b_a = ir.params.get(op_a.bias) if op_a.bias else None
    b_b = ir.params.get(op_b.bias) if op_b.bias else None
    if b_a is not None and op_a.op == "conv2d":
        b_a = np.broadcast_to(b_a, op_a.shape).reshape(-1)  # channels last: per position
    out = None if b_a is None else (w_b * b_a if w_b.ndim == 1 else w_b @ b_a)
    if b_b is not None:
        out = b_b if out is None else out + b_b
    return out


def _replace_pair(ir: IR, a: str, b: str, w: np.ndarray, bias: np.ndarray | None) -> None:
    op_a, op_b = ir.op(a), ir.op(b)
    sources = ir.inputs(a)
    key_w, key_b = f"{b}.w", f"{b}.b"
    ir.remove(a)  # drops a's params and edges
    ir.params[key_w] = w
    if bias is not None:
        ir.params[key_b] = bias
    note = f"folded {op_a.op} {a} into this {op_b.op} [optimize]"
    ir.update(b, weights=key_w, bias=key_b if bias is not None else None,
              shape_in=tuple(op_a.shape_in), src=(*op_a.src, *op_b.src),
              notes=(*op_b.notes, note))
    ir.graph.add_edges_from((s, b) for s in sources)
    ir.log.append(f"optimize: {note.replace(' [optimize]', '')} {b}")


def _fold_scale_into_gain(ir: IR) -> bool:
    """An elementwise scale feeding only neurons (their only input) joins their gain."""
    for b in [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "neurons"]:
        ins = ir.inputs(b)
        if len(ins) != 1 or ir.op(ins[0]).op != "linear":
            continue
        a = ins[0]
        op_a = ir.op(a)
        w = ir.params[op_a.weights]
        if w.ndim != 1 or op_a.bias or not _single_link(ir, a, b):
            continue
        op_b = ir.op(b)
        ir.params[op_b.gain] = ir.params[op_b.gain] * w
        sources = ir.inputs(a)
        ir.remove(a)
        ir.graph.add_edges_from((s, b) for s in sources)
        ir.note(b, f"folded elementwise scale {a} into gain [optimize]")
        ir.log.append(f"optimize: folded elementwise scale {a} into the gain of {b}")
        return True
    return False


def _hoist(ir: IR) -> None:
    for name in step_order(ir):
        op = ir.op(name)
        if not op.time_invariant or _learned(op):
            continue
        ins = ir.inputs(name)
        if op.source or (ins and all(ir.op(i).every == "presentation" for i in ins)):
            ir.update(name, every="presentation")
            if not op.source:
                ir.note(name, "hoisted: computed once per presentation [optimize]")
                ir.log.append(f"optimize: hoisted {name} out of the per-step loop")


def _remove_dead(ir: IR) -> None:
    keep: set[str] = set()
    for name, data in ir.graph.nodes(data=True):
        if data["op"].observed:
            keep |= {name} | nx.ancestors(ir.graph, name)
    effects = [n for n, d in ir.graph.nodes(data=True) if d["op"].side_effect]
    while True:  # an op changing one that is kept is kept, and so is what it reads; a
        # kept one (a probed learning rule) keeps what it changes, and what that reads
        more = [n for n in effects if (n in keep) != (ir.op(n).target in keep)]
        if not more:
            break
        for name in more:
            for kept in (name, ir.op(name).target):
                keep |= {kept} | nx.ancestors(ir.graph, kept)
    for name in [n for n in list(ir.graph.nodes) if n not in keep]:
        label = ", ".join(o.obj for o in ir.op(name).src) or "made by a pass"
        ir.remove(name)
        ir.log.append(f"optimize: removed {name} ({label}): no probe reads it")


def conv_matrix(kernel: np.ndarray, op: ops.Conv2d) -> np.ndarray:
    """The dense ``(size_out, size_in)`` matrix of a convolution (channels last)."""
    size_in = int(np.prod(op.shape_in))
    eye = np.eye(size_in).reshape(size_in, *op.shape_in)
    return conv2d_reference(eye, kernel, op).reshape(size_in, -1).T


def conv2d_reference(x: np.ndarray, kernel: np.ndarray, op: ops.Conv2d) -> np.ndarray:
    """Plain numpy conv2d over a batch ``[n, h, w, c]`` (TensorFlow's 'same' padding)."""
    if not op.channels_last:
        x = np.moveaxis(x, 1, -1)
    kh, kw = kernel.shape[:2]
    sh, sw = op.strides
    x = pad_images(x, (kh, kw), (sh, sw), op.padding)
    h = (x.shape[1] - kh) // sh + 1
    w = (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], h, w, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * h:sh, j:j + sw * w:sw, :]
            out += patch @ kernel[i, j]
    return out if op.channels_last else np.moveaxis(out, -1, 1)
