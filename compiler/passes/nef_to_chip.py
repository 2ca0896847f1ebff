"""``nef_to_chip``: NEF connections into chip ensembles, rewritten as chip connections.

A Loihi core takes spikes through one weight matrix and one input filter (see
compiler/chip.py). An NEF model feeds an ensemble real values instead: decoders, a
transform, slices, a synapse and the post's encoders, summed. This pass (Loihi target,
before ``split_host_chip``) expands every input of a chip neurons op that is not already a
chip connection into a sum of terms, each ``M @ filter(leaf)``, where everything between
the leaf and the neurons is linear (``linear``, ``slice``, ``scatter``, ``sum``, at most one
``synapse`` on each path, which commutes with the linear maps):

- a leaf that is a chip ensemble's spikes (reached through its decoders) becomes one
  neuron-to-neuron weight matrix ``encoders / radius @ transform @ decoders``, folded at
  compile time (the post's gain is applied by the neurons op, as for ``solver.weights``),
  discretised by ``discretize`` like any chip weight; or NengoLoihi's decode neurons
  (``compiler/passes/decode_neurons.py``) where they need fewer cores, where the user
  asks, or where the post's filters clash;
- any other leaf is a host value (a Node, a host function, an off-chip ensemble's decoded
  output): it is encoded on the host by on/off neurons, two per dimension
  (``SpikingRectifiedLinear`` with gain ``r = compile(loihi_input_rate=...)``, by default
  ``1 / dt``, encoders ``+1`` and ``-1``: rates ``r max(+y, 0)`` and ``r max(-y, 0)``),
  whose spikes ``split_host_chip`` sends to the chip (one step later). ``y`` is the value
  the post represents, transform included, scaled per dimension so that the chip weights
  are the encoders at full scale (``E @ [I, -I] / r``); the filtered difference of the
  pair decodes ``y``.

Terms with the same leaf and synapse are summed into one connection. The connection's own
synapse runs on the chip (the compartment's input filter): no filter is added to full
weights. NengoLoihi instead puts decode neurons (on/off pairs on their own core, plus a
5 ms filter) on every decoded chip connection; this pass chooses, and says so in the dump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from snngraph.compiler.chip import describe, trace, unsupported_input
from snngraph.compiler.ir import IR
from snngraph.compiler.passes import decode_neurons
from snngraph.compiler.passes.retime import spiky_axons
from snngraph.compiler.passes.split_host_chip import wants_chip
from snngraph.schemas import ir as ops

from snngraph.document import spec_to_dict
from snngraph.errors import CompileError
from snngraph.neurons.relu import SpikingRectifiedLinear

LINEAR_KINDS = ("linear", "slice", "scatter", "sum", "synapse")
"""Op kinds a decoded value passes through on its way to a chip ensemble's neurons."""


@dataclass
class Term:
    """``matrix @ synapse(leaf)``: one leaf's contribution to an op's output."""

    leaf: str
    matrix: np.ndarray
    synapse: str | None
    """The synapse op on this path (None: unfiltered)."""
    second: str | None = None
    """A second synapse op on this path (a passthrough Node filtered on both sides): the
    decode neurons or the host take one of the two filters."""
    via: list[str] = field(default_factory=list)
    """The ops folded on this path (for the dump)."""


def nef_to_chip(ir: IR, options: Any) -> None:
    chip = {n for n in list(ir.graph.nodes) if wants_chip(ir, n)}
    encoders: dict[str, str] = {}  # host leaf -> its on/off neurons (shared by all posts)
    pending: list[decode_neurons.Pending] = []
    movable: dict[str, decode_neurons.Folded] = {}  # full weights decode neurons could carry
    folded = 0
    for post in [n for n in list(ir.graph.nodes) if n in chip]:
        for first in ir.inputs(post):
            if _is_chip_connection(ir, post, first):
                continue
            _rewrite(ir, post, first, chip, encoders, options, (pending, movable))
            folded += 1
    decode_neurons.resolve_filters(ir, movable, pending, options)
    decode_neurons.finish(ir, pending)
    if folded:
        ir.log.append(f"nef_to_chip: {folded} decoded input(s) folded into chip weights; "
                      f"{len(encoders)} host value(s) encoded by on/off neurons; "
                      f"{len(pending)} connection(s) through decode neurons")


def _is_chip_connection(ir: IR, post: str, first: str) -> bool:
    """Already spikes -> [synapse] -> [one linear/conv2d] -> neurons (W2's layers)."""
    try:
        trace(ir, post, first)
    except CompileError:
        return False
    return True


def _rewrite(ir: IR, post: str, first: str, chip: set[str], encoders: dict[Any, str],
             options: Any, decoding: tuple) -> None:
    """Replace input ``first`` of chip neurons ``post`` by one chip connection per leaf
    and synapse (every expanded op has inputs, so there is at least one term; a
    transform's bias rides on the first connection as a constant current)."""
    enc, terms, bias = _split_encoders(ir, post, first, chip)
    ir.graph.remove_edge(first, post)
    groups: dict[tuple[str, str], list[Term]] = {}
    for term in terms:
        spec = [repr(ir.op(s).synapse) if s else "none" for s in (term.synapse, term.second)]
        groups.setdefault((term.leaf, *spec), []).append(term)
    for k, group in enumerate(groups.values()):
        _connect(ir, post, enc, group, bias if k == 0 else None, chip, encoders, options,
                 decoding)
    _remove_dead(ir, first)


def _split_encoders(ir: IR, post: str, first: str, chip: set[str]) -> tuple[Any, list, Any]:
    """``(E, terms, bias)`` with the input ``E @ sum(terms) + bias``: E is the post's
    encoders when ``first`` is its encoders op (the terms are then in the ensemble's
    represented space, where host values are encoded), else None (identity)."""
    op = ir.op(first)
    if op.op != "linear" or op.role != "encoders" or op.bias is not None:
        terms, bias = _expand(ir, post, first, chip)
        return None, terms, bias
    terms, bias = [], None
    for src in ir.inputs(first):
        sub, b = _expand(ir, post, src, chip, (first,))
        terms += sub
        bias = b if bias is None else (bias if b is None else bias + b)
    for t in terms:
        t.via.append(first)
    enc = _matrix(ir, first)
    return enc, terms, None if bias is None else enc @ bias


# ------------------------------------------------------------------ expansion
def _expand(ir: IR, post: str, name: str, chip: set[str],
            path: tuple[str, ...] = ()) -> tuple[list[Term], Any]:
    """The terms and constant (bias) of op ``name``'s output, as linear maps of leaves.
    A host loop of linear ops (a passthrough Node feeding itself) is a leaf: its value
    comes from the host."""
    op = ir.op(name)
    if op.op == "process" and op.divide_by is not None:  # an ensemble's noise
        raise CompileError(unsupported_input(ir, post, name))
    if _is_leaf(ir, name, chip) or any(i in path for i in ir.inputs(name)):
        return [Term(name, np.eye(op.size), None)], None
    terms, bias = [], None
    for src in ir.inputs(name):
        sub, b = _expand(ir, post, src, chip, (*path, name))
        terms += sub
        bias = b if bias is None else (bias if b is None else bias + b)
    if op.op == "synapse":
        for t in terms:
            if t.second is not None:
                raise CompileError(_two_filters(ir, post, t.second, name, three=True))
            t.synapse, t.second = name, t.synapse
        return terms, bias
    matrix = _matrix(ir, name)
    for t in terms:
        t.matrix, t.via = matrix @ t.matrix, [*t.via, name]
    bias = None if bias is None else matrix @ bias
    own = _own_bias(ir, op)
    if own is not None:
        bias = own if bias is None else bias + own
    return terms, bias


def _is_leaf(ir: IR, name: str, chip: set[str]) -> bool:
    """Where the expansion stops: chip spikes, or a host value (anything not linear, or a
    linear reading host neurons: an off-chip ensemble's decoded output)."""
    op = ir.op(name)
    if name in chip:
        return True
    if op.op not in LINEAR_KINDS or not ir.inputs(name) or getattr(op, "learned", False):
        return True
    return any(ir.op(i).op == "neurons" and i not in chip for i in ir.inputs(name))


def _matrix(ir: IR, name: str) -> np.ndarray:
    """The linear map of a linear, slice, scatter or sum op as a dense matrix."""
    op = ir.op(name)
    if op.op == "linear":  # (an ensemble's encoders op may have no inputs left)
        w = np.asarray(ir.params[op.weights], float)
        return np.diag(w) if w.ndim == 1 else w
    if op.op == "sum":
        return np.eye(op.size)
    n_in = ir.op(ir.inputs(name)[0]).size
    m = np.zeros((op.size, n_in))
    if op.op == "slice":
        m[np.arange(op.size), list(op.indices)] = 1.0
    else:  # scatter
        m[list(op.indices), np.arange(n_in)] = 1.0
    return m


def _own_bias(ir: IR, op: Any) -> np.ndarray | None:
    if op.op != "linear" or op.bias is None:
        return None
    return np.broadcast_to(np.asarray(ir.params[op.bias], float), (op.size,)).copy()


def _two_filters(ir: IR, post: str, first: str, second: str, three: bool = False) -> str:
    how, why = ("three times or more", "the chip has one filter per compartment, and decode "
                "neurons or the host one more") if three else (
        "twice", "a Loihi compartment has a single input filter (decode neurons, which "
        "have their own, can take the other one only from a chip ensemble into an "
        "ensemble, and not with loihi_decode='weights')")
    return (f"{describe(ir.op(post))} is on the chip, but one of its inputs is filtered {how} "
            f"({describe(ir.op(first))} and {describe(ir.op(second))}): {why}\n  fix: give "
            "one of the connections synapse=None, or run this ensemble on the host "
            "(net.config[ens].on_chip = False)")


# ------------------------------------------------------------------ rebuilding
def _connect(ir: IR, post: str, enc: Any, group: list[Term], bias: Any, chip: set[str],
             encoders: dict[Any, str], options: Any, decoding: tuple) -> None:
    """One chip connection: leaf spikes -> [synapse] -> weights -> ``post`` (or through
    decode neurons, compiler/passes/decode_neurons.py; ``decoding`` holds those made and
    the full weights they could replace)."""
    leaf, syn, second = group[0].leaf, group[0].synapse, group[0].second
    matrix = sum(t.matrix for t in group)
    pending, movable = decoding
    folded = None
    if leaf in chip:
        choice = _decode_choice(ir, group, leaf, post, enc, matrix, options)
        src = _origins(ir, group, post)
        if second is not None:  # decode neurons filter with one, the post with the other
            choice = _second_filter(ir, post, group, enc, choice, syn, second)
        if choice.decode is not None:
            pending.append(decode_neurons.build(
                ir, post, leaf, enc, matrix, ir.op(syn) if syn else None, bias,
                choice.decode, src, f"{choice.why}; folded from {' '.join(_via(group))}",
                fixed=second is not None, via=tuple(_via(group))))
            return
        if enc is not None:
            folded = decode_neurons.Folded(
                post, leaf, enc, matrix, bias, src, src, tuple(_via(group)),
                decode_neurons.loop_dynamics(ir, post, leaf, tuple(_via(group)), matrix,
                                             ir.op(syn) if syn else None))
        source, why = leaf, _fold_note(ir, group, leaf, post)
        choice = choice.why
        matrix = matrix if enc is None else enc @ matrix
    else:
        choice = None
        source, matrix, why = _host_input(ir, post, enc, group, matrix, encoders, options)
        if second is not None:
            why += f"; {second} filters the value on the host, before the on/off neurons"
    src = _origins(ir, group, post)
    conns = [o.obj for o in src if o.obj.startswith("Connection")]
    if conns:
        why += "; for " + ", ".join(dict.fromkeys(conns))
    name = source
    if syn is not None:
        spec = ir.op(syn).synapse
        name = ir.add(ops.Synapse(name=ir.fresh(f"{syn[1:]}.chip"), shape=(ir.op(source).size,),
                                  src=ir.op(syn).src, synapse=spec, made_by="nef_to_chip"),
                      [source])
    post_op = ir.op(post)
    w_name = ir.fresh(f"{source[1:]}_{post[1:]}.weights")
    b_key = ir.param(f"{w_name}.b", bias) if bias is not None else None
    ir.add(ops.Linear(name=w_name, shape=(post_op.size,), src=src, made_by="nef_to_chip",
                      weights=ir.param(f"{w_name}.w", matrix), bias=b_key,
                      shape_in=(ir.op(source).size,),
                      notes=(why, *([decode_neurons.CHOICE + choice] if choice else []))),
           [name])
    ir.graph.add_edge(w_name, post)
    if folded is not None:
        movable[w_name] = folded


def _host_input(ir: IR, post: str, enc: Any, group: list[Term], matrix: np.ndarray,
                encoders: dict[Any, str], options: Any) -> tuple[str, np.ndarray, str]:
    """On/off neurons on the host for ``matrix @ leaf``, and the chip weights from them.

    The host computes the value the post ensemble represents (its rows that are not
    identically zero: a sliced post gets only its own dimensions), so the transform stays
    on the host and the chip weights are the encoders at full scale, as in NengoLoihi
    (a small transform folded into the chip weights would lose most of their 8 bits).
    Into ``ens.neurons`` the leaf itself is encoded and the transform is in the weights.
    Either way a value beyond 1 (after that scaling) saturates at one spike per step."""
    leaf = group[0].leaf
    if group[0].second is not None:  # the second filter runs on the host
        second = ir.op(group[0].second)
        key = f"{leaf[1:]}.host_{group[0].second[1:]}"
        made = encoders.get(key)
        if made is None:
            made = encoders[key] = ir.add(ops.Synapse(
                name=ir.fresh(key), shape=ir.op(leaf).shape, src=second.src,
                synapse=second.synapse, made_by="nef_to_chip"), [leaf])
        leaf = made
    if enc is None:  # into .neurons: encode the leaf, the transform goes into the weights
        host, post_m = np.eye(ir.op(leaf).size), matrix
    else:
        rows = np.flatnonzero(np.any(matrix != 0, axis=1))
        host, post_m = matrix[rows], enc[:, rows]
        # optimize may have folded a transform (or 1 / radius) into the encoders: give
        # each column of the chip weights the largest entry 1 and move the scale to the
        # host, so a value at the ensemble's radius fires at about ``rate``
        scale = np.abs(post_m).max(axis=0)
        scale[scale == 0] = 1.0
        host, post_m = host * scale[:, None], post_m / scale
    rate = input_rate(ir, options)
    source = _on_off(ir, leaf, host, rate, encoders, input_encoding(options))
    axons = spiky_axons(ir, leaf, host, rate)
    if axons > ir.op(source).loihi.count_axons:  # a spiky value: counts, not spread
        ir.update(source, loihi=ir.op(source).loihi.model_copy(update={"count_axons": axons}))
        ir.note(source, f"nef_to_chip: a spiky value (spikes through decoders, no filter): "
                        f"up to {axons} spikes a step per on/off neuron ({axons} axons each)")
    k = host.shape[0]
    weights = post_m @ np.hstack([np.eye(k), -np.eye(k)]) / rate
    what = "the leaf itself" if enc is None else "the value the ensemble represents"
    why = (f"nef_to_chip: host value {leaf} encoded by on/off neurons {source} ({k}-D: "
           f"{what}) at up to {rate:g} Hz; weights [{ir.op(post).size}x{2 * k}] = "
           f"encoders @ [I, -I] / {rate:g}, folded from {' '.join(_via(group))}")
    return source, weights, why


def _decode_choice(ir: IR, group: list[Term], leaf: str, post: str, enc: Any,
                   matrix: np.ndarray, options: Any) -> decode_neurons.Choice:
    """Decode neurons or full weights (into ``.neurons``, with no encoders to decode
    through, always full weights, as in NengoLoihi)."""
    if enc is None:
        return decode_neurons.Choice(None, "full weights (into the neurons: no encoders "
                                           "for decode neurons to feed)")
    d = int(np.count_nonzero(np.any(matrix != 0, axis=1)))
    return decode_neurons.choose(ir, _origins(ir, group, post), ir.op(leaf).size,
                                 ir.op(post).size, d, options)


def _second_filter(ir: IR, post: str, group: list[Term], enc: Any,
                   choice: decode_neurons.Choice, syn: str, second: str
                   ) -> decode_neurons.Choice:
    """Two filters in series from a chip ensemble: decode neurons take one on their input
    and put the other after them (refused into ``.neurons`` or with weights forced)."""
    spec = ir.op(second).synapse
    if enc is None or choice.forced or spec.get("type") != "Lowpass":
        raise CompileError(_two_filters(ir, post, syn, second))
    base = choice.decode or decode_neurons.DecodeNeurons()
    tau = float(spec["tau"])
    return decode_neurons.Choice(
        base.model_copy(update={"tau": tau}),
        f"decode neurons: the path is filtered twice, {syn} on their input and {second} "
        f"({tau * 1e3:g} ms) after them; {choice.why}")


def _fold_note(ir: IR, group: list[Term], leaf: str, post: str) -> str:
    n_post, n_pre = ir.op(post).size, ir.op(leaf).size
    return (f"nef_to_chip: full weights [{n_post}x{n_pre}] folded from "
            f"{' '.join(_via(group))} ({n_post * n_pre} synapses)")


def _via(group: list[Term]) -> list[str]:
    seen: list[str] = []
    for t in group:
        seen += [v for v in [*t.via, *([t.synapse] if t.synapse else []),
                             *([t.second] if t.second else [])] if v not in seen]
    return seen


def _origins(ir: IR, group: list[Term], post: str) -> tuple[ops.Origin, ...]:
    """The user objects behind the folded ops (connections first), without repeats."""
    found: list[ops.Origin] = []
    for t in group:
        for v in [*([t.synapse] if t.synapse else []), *([t.second] if t.second else []),
                  *reversed(t.via)]:
            found += [o for o in ir.op(v).src if o not in found]
    return tuple(found) or ir.op(post).src


def _on_off(ir: IR, leaf: str, host: np.ndarray, rate: float, made: dict[Any, str],
            encoding: str) -> str:
    """The host on/off neurons encoding ``host @ leaf`` (made once per leaf and map): the
    first half fire at ``rate * max(+y, 0)``, the second at ``rate * max(-y, 0)``
    (``'rectified'``), or at ``rate / 2 (1 +- y)`` (``'nengo_loihi'``); either way the
    difference is ``rate * y``."""
    key = (leaf, host.shape, host.tobytes())
    if key not in made:
        k = host.shape[0]
        src = ir.op(leaf).src
        enc_name = ir.fresh(f"{leaf[1:]}.onoff.enc")
        enc = ir.add(ops.Linear(name=enc_name, shape=(2 * k,), src=src, made_by="nef_to_chip",
                                role="encoders", weights=ir.param(f"{enc_name}.w",
                                                                  np.vstack([host, -host])),
                                shape_in=(ir.op(leaf).size,)), [leaf])
        name = ir.fresh(f"{leaf[1:]}.onoff")
        neuron = SpikingRectifiedLinear()
        gain, bias, rates = _encoding(encoding, rate)
        ir.add(ops.Neurons(name=name, shape=(2 * k,), kind="spikes", src=src,
                           made_by="nef_to_chip", neuron=spec_to_dict(neuron), mode="spike",
                           gain=ir.param(f"{name}.gain", np.full(2 * k, gain)),
                           bias=ir.param(f"{name}.bias", np.full(2 * k, bias)),
                           state=neuron.state, loihi=ops.LoihiConfig(on_chip=False),
                           notes=(f"nef_to_chip: on/off encoding of {leaf} on the host, "
                                  f"rates {rates} Hz ({encoding})",)), [enc])
        made[key] = name
    return made[key]


ENCODINGS = ("rectified", "nengo_loihi")


def input_encoding(options: Any) -> str:
    """``compile(loihi_input_encoding=...)``: snngraph's rectified pair (the default:
    silent at zero, half the spikes) or NengoLoihi's (both fire at ``rate / 2`` at zero;
    the same spikes as NengoLoihi's input neurons)."""
    return getattr(options, "loihi_input_encoding", None) or "rectified"


def _encoding(encoding: str, rate: float) -> tuple[float, float, str]:
    """The on/off neurons' gain and bias, and their rates for the dump."""
    if encoding == "nengo_loihi":  # OnOffDecodeNeurons(is_input=True): intercept -1
        return rate / 2, rate / 2, f"{rate / 2:g} * (1 +- y)"
    return rate, 0.0, f"{rate:g} * max(+-y, 0)"


def input_rate(ir: IR, options: Any) -> float:
    """The on/off neurons' rate at ``|y| = 1``: ``compile(loihi_input_rate=...)``, by
    default one spike per step (``1 / dt``, NengoLoihi's default for its input neurons),
    the most a chip axon carries."""
    rate = getattr(options, "loihi_input_rate", None)
    return 1.0 / ir.dt if rate is None else float(rate)


def _remove_dead(ir: IR, name: str) -> None:
    """Drop the folded ops nothing reads any more (walking back from ``name``)."""
    stack = [name]
    while stack:
        n = stack.pop()
        if n not in ir.graph or ir.consumers(n) or ir.op(n).op not in LINEAR_KINDS:
            continue
        ins = ir.inputs(n)
        ir.remove(n)
        stack += ins
