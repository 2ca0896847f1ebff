"""Decode neurons for ``nef_to_chip``: a decoded connection between chip ensembles as
NengoLoihi's on/off decode-neuron pairs instead of full weights.

A term ``E @ M @ filter(pre spikes)`` (``E`` the post's encoders, ``M`` decoders, slices
and transform, docs/loihi_nef.md) becomes

    pre spikes -> filter -> D (2 pairs d x n_pre) -> decode neurons (chip, spiking ReLU)
               -> [filter tau] -> P (n_post x 2 pairs d) -> post

with ``D`` the decoders scaled by each pair's gain (on rows ``+``, off rows ``-``) and
``P`` the post's encoders times ``scale * dt`` (on ``+``, off ``-``); the decode neurons
have bias ``b_p`` (snngraph.decode_neurons.DecodeNeurons). The connection's synapse
filters the decode neurons' input; ``tau`` is the filter after them, on the post. Their
threshold is ``1 / dt`` with the current per spike scaled by ``1 / dt``, as for any chip
ReLU here; NengoLoihi scales the gain, bias and threshold of its decode block by ``dt``
instead, the same quantities up to float rounding (docs/loihi_nef.md, "Bit-exact").

The choice (``compile(loihi_decode=...)``, per connection ``net.config[conn]
.loihi_decode``): ``'weights'``, ``'decode_neurons'``, or ``'auto'``, which counts the
cores each needs (``cores_needed``) and takes decode neurons only when they need fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from snngraph.compiler import loihi_resources as res
from snngraph.compiler.chip import chip_inputs, describe
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.retime import retime_host_inputs
from snngraph.schemas import ir as ops

from snngraph.decode_neurons import DecodeNeurons
from snngraph.document import spec_to_dict
from snngraph.errors import CompileError
from snngraph.neurons.loihi import LoihiSpikingRectifiedLinear
from snngraph.synapses import Lowpass

MODES = ("auto", "weights", "decode_neurons")
NOTE = "nef_to_chip: decode neurons"
CHOICE = "nef_to_chip: choice: "
"""How the note on a weights op giving the full weights / decode neurons choice starts
(the resource report shows it)."""
"""How a decode-neuron op's first note starts (``is_decode_neurons`` reads it)."""


@dataclass
class Choice:
    """What ``choose`` decided for one folded connection, and why (for the dump)."""

    decode: DecodeNeurons | None
    """The decode neurons to use; None: full weights."""
    why: str
    forced: bool = False
    """Full weights because the user asked for them."""


@dataclass
class Pending:
    """A decode-neuron connection whose post filter is set once every input of the post
    is known (``finish``)."""

    post: str
    neurons: str
    weights: str
    spec: DecodeNeurons
    fixed: bool = False
    """The filter after them is the user's (a second synapse on the path): it must be
    the post's."""
    loop: Any = None
    """For a recurrent connection decoding its ensemble's own value: ``(A, dec, dims,
    sign, w_in)``, its dynamics ``A`` and the decode neurons' input weights, for
    ``finish`` to correct them for the filter it chooses (``DecodeNeurons.compensate``)."""


def is_decode_neurons(op: Any) -> bool:
    return op.op == "neurons" and op.made_by == "nef_to_chip" and bool(op.notes) and \
        op.notes[0].startswith(NOTE)


# ------------------------------------------------------------------ the choice
def check_option(mode: Any, spec: Any) -> None:
    """``compile(loihi_decode=..., loihi_decode_neurons=...)``, checked up front."""
    if not (isinstance(mode, DecodeNeurons) or (isinstance(mode, str) and mode in MODES)):
        raise CompileError(f"compile: loihi_decode must be one of {', '.join(map(repr, MODES))} "
                           f"or an sg.DecodeNeurons (got {mode!r})\n  fix: "
                           "loihi_decode='auto' (the default)")
    if spec is not None and not isinstance(spec, DecodeNeurons):
        raise CompileError(f"compile: loihi_decode_neurons must be an sg.DecodeNeurons (got "
                           f"{spec!r})\n  fix: loihi_decode_neurons=sg.DecodeNeurons("
                           "pairs_per_dim=10, tau=0.005)")


def _setting(ir: IR, origins: tuple[ops.Origin, ...], options: Any) -> tuple[Any, str]:
    """The mode (or DecodeNeurons) for a matrix folded from connections with
    ``origins``: the connections' own config when set (they must agree), else compile's.
    Connections are matched by origin (description and creation site), which survives
    ``optimize`` folding their ops together; unlabelled connections made on one line in a
    loop share an origin, and so share their settings here."""
    kept = [b["loihi_decode"] for b in ir.built.values() if "loihi_decode" in b]
    mine = {repr(s): (o, s) for o, s in kept if o in origins}
    if len(mine) > 1:
        shown = "; ".join(f"{o.obj}: {s!r}" for o, s in mine.values())
        raise CompileError(f"nef_to_chip: connections summed into one chip matrix ask for "
                           f"different loihi_decode settings ({shown})\n  fix: give them the "
                           "same net.config[conn].loihi_decode")
    if mine:
        return next(iter(mine.values()))[1], "set on the connection"
    return getattr(options, "loihi_decode", None) or "auto", "compile's loihi_decode"


def choose(ir: IR, origins: tuple[ops.Origin, ...], n_pre: int, n_post: int, d: int,
           options: Any) -> Choice:
    """Full weights or decode neurons for a ``n_post x n_pre`` matrix through ``d``
    decoded dimensions, with the reason."""
    mode, where = _setting(ir, origins, options)
    spec = mode if isinstance(mode, DecodeNeurons) else (
        getattr(options, "loihi_decode_neurons", None) or DecodeNeurons())
    full, dec = full_cores(n_pre, n_post), decode_cores(n_pre, n_post, d, spec)
    counts = (f"full weights {n_pre * n_post:,} synapses, about {full} core(s); decode "
              f"neurons {spec.compartments(d)} compartments, "
              f"{(n_pre + n_post) * spec.compartments(d):,} synapses, about {dec} core(s)")
    if mode == "weights":
        return Choice(None, f"full weights ({where}; {counts})", forced=True)
    if mode != "auto":
        return Choice(spec, f"decode neurons ({where}; {counts})")
    if dec < full:
        return Choice(spec, f"decode neurons, fewer cores (auto; {counts})")
    return Choice(None, f"full weights, no more cores than decode neurons (auto; {counts})")


def _blocks(n_axons: int, n_lists: int, n: int) -> float:
    """The fewest equal blocks of ``n`` compartments whose ``n_axons`` input axons and
    ``n_lists`` weight lists fit a core (inf if the axons never fit)."""
    if n_axons > res.LIMITS.in_axons:
        return float("inf")
    for k in range(1, n + 1):
        tile = -(-n // k)
        if tile <= res.LIMITS.compartments and \
                n_lists * res.bits_per_axon(tile, res.WEIGHT_BITS) <= res.LIMITS.synapse_bits:
            return k
    return float("inf")


def _out_cores(n_pre: int, consumer_blocks: float) -> float:
    """Cores the pre needs for its output axons (one per neuron and consumer block)."""
    return -(-n_pre * consumer_blocks // res.LIMITS.out_axons)


def full_cores(n_pre: int, n_post: int) -> float:
    """Cores of the post (and pre, for its output axons) with full weights alone."""
    post = _blocks(n_pre, n_pre, n_post)
    return post + _out_cores(n_pre, post)


def decode_cores(n_pre: int, n_post: int, d: int, spec: DecodeNeurons) -> float:
    """Cores of the pre, the decode neurons and the post through decode neurons (the
    post's ``2 d`` weight lists are shared by every pair, as in NengoLoihi)."""
    n_dec = spec.compartments(d)
    return _out_cores(n_pre, 1) + _blocks(n_pre, n_pre, n_dec) + _blocks(2 * d, 2 * d, n_post)


# ------------------------------------------------------------------ construction
def build(ir: IR, post: str, leaf: str, enc: np.ndarray, matrix: np.ndarray,
          synapse: ops.Synapse | None, bias: Any, spec: DecodeNeurons, src: tuple, why: str,
          fixed: bool = False, via: tuple[str, ...] = (), a_loop: Any = None) -> Pending:
    """Decode neurons for ``enc @ matrix @ synapse(leaf)`` into ``post``: their op, the
    chip connection into them (with the term's synapse op, copied) and the one out of
    them into ``post`` (its filter is added by ``finish``). ``bias`` becomes a constant
    current on the post, as for full weights."""
    rows = np.flatnonzero(np.any(matrix != 0, axis=1))
    dec, post_m = matrix[rows], enc[:, rows]
    # as for host values: each column of the post weights at full scale, the scale in D
    scale = np.abs(post_m).max(axis=0)
    scale[scale == 0] = 1.0
    dec, post_m = dec * scale[:, None], post_m / scale
    d, dt = len(rows), ir.dt
    if a_loop is None:
        a_loop = loop_dynamics(ir, post, leaf, via, matrix, synapse)
    if a_loop is not None:  # in the scaled coordinates of ``dec``
        a_loop = scale[:, None] * a_loop / scale[None, :]
    gain_note = ""
    if a_loop is not None and spec.compensate and spec.scale_factor is None:
        # NengoLoihi's 1.02 suits added inputs; in a loop it is a gain above 1 each
        # time around, so an oscillator grows (measured: +6 % amplitude)
        spec = spec.model_copy(update={"scale_factor": 1.0})
        gain_note = "; output gain 1.0 in this loop (not the preset's 1.02)"
    gain, bias_n, sign = spec.layout(d, dt)
    per_spike = spec.pairs(dt)[2] * dt  # decoded value per spike (amplitude 1)
    dims = np.tile(np.arange(d), 2 * spec.pairs_per_dim)
    neuron = LoihiSpikingRectifiedLinear()
    base = f"{leaf[1:]}_{post[1:]}.decode"
    name = ir.fresh(base)
    base = name[1:]
    source = leaf
    if synapse is not None:
        source = ir.add(ops.Synapse(name=ir.fresh(f"{base}.syn_in"),
                                    shape=(ir.op(leaf).size,), src=synapse.src,
                                    synapse=synapse.synapse, made_by="nef_to_chip"),
                        [leaf])
    w_in = ir.fresh(f"{base}.in")
    ir.add(ops.Linear(name=w_in, shape=(len(dims),), src=src, made_by="nef_to_chip",
                      weights=ir.param(f"{w_in}.w", sign[:, None] * dec[dims]),
                      shape_in=(ir.op(leaf).size,),
                      notes=(f"nef_to_chip: decoders into decode neurons {name} (on rows +, "
                             "off rows -)", CHOICE + why)), [source])
    ir.add(ops.Neurons(name=name, shape=(len(dims),), kind="spikes", src=src,
                       made_by="nef_to_chip", neuron=spec_to_dict(neuron), mode="spike",
                       gain=ir.param(f"{name}.gain", gain),
                       bias=ir.param(f"{name}.bias", bias_n), state=neuron.state,
                       loihi=ops.LoihiConfig(on_chip=True),
                       notes=(f"{NOTE} ({spec!r}: {spec.pairs_per_dim} on/off pair(s) per "
                              f"dimension, {d}-D) for {describe(ir.op(post))}",)),
           [w_in])
    w_out = ir.fresh(f"{base}.out")
    b_key = ir.param(f"{w_out}.b", bias) if bias is not None else None
    ir.add(ops.Linear(name=w_out, shape=(ir.op(post).size,), src=src, made_by="nef_to_chip",
                      weights=ir.param(f"{w_out}.w", post_m[:, dims] * (sign * per_spike)),
                      bias=b_key, shape_in=(len(dims),),
                      notes=(f"nef_to_chip: encoders from decode neurons {name} "
                             f"({per_spike:.4g} per spike, on +, off -{gain_note})",
                             CHOICE + why)),
           [name])
    ir.graph.add_edge(w_out, post)
    loop = None if a_loop is None or not spec.compensate else (a_loop, dec, dims, sign, w_in)
    return Pending(post, name, w_out, spec, fixed, loop)


def loop_dynamics(ir: IR, post: str, leaf: str, via: tuple[str, ...], matrix: np.ndarray,
                  synapse: ops.Synapse | None) -> np.ndarray | None:
    """``A = (M - I) / tau`` of a recurrent connection whose one decoders op decodes the
    ensemble's own value into all its dimensions (``matrix = M D``), else None (the ops
    in ``via`` must still be in the IR)."""
    from snngraph.compiler.lower import DECODES_ITSELF

    rows = np.flatnonzero(np.any(matrix != 0, axis=1))
    if leaf != post or synapse is None or len(rows) != matrix.shape[0]:
        return None
    decs = [v for v in via if v in ir.graph and getattr(ir.op(v), "role", None) == "decoders"]
    if len(decs) != 1 or DECODES_ITSELF not in ir.op(decs[0]).notes:
        return None
    d = np.asarray(ir.params[ir.op(decs[0]).weights], float)
    if d.shape[0] != matrix.shape[0]:
        return None
    m = matrix @ np.linalg.pinv(d)
    if not np.allclose(m @ d, matrix, rtol=1e-6, atol=1e-12 * np.abs(matrix).max()):
        return None
    return (m - np.eye(len(m))) / float(synapse.synapse["tau"])


@dataclass
class Folded:
    """Full weights ``enc @ matrix`` from a chip ensemble that decode neurons could carry
    instead (``resolve_filters`` moves them when the post's filters clash)."""

    post: str
    leaf: str
    enc: np.ndarray
    matrix: np.ndarray
    bias: Any
    src: tuple
    origins: tuple
    via: tuple[str, ...]
    a_loop: Any = None
    """``loop_dynamics`` of the connection, found while its ops were there."""


def resolve_filters(ir: IR, folded: dict[str, Folded], pending: list[Pending],
                    options: Any) -> None:
    """A compartment has one input filter. Where the inputs of a chip ensemble have
    different synapses and its chip inputs share one, its host inputs are retimed to it
    (``retime.py``: the oscillator's 5 ms kick runs on the host, its recurrence stays full
    weights at 100 ms). Otherwise the full-weight ones from chip ensembles (unless the
    user asked for weights) move onto decode neurons, which filter with their own synapse;
    the post keeps the filter of the inputs that cannot move (host values, inputs into
    ``.neurons``), else the shortest: NengoLoihi's structure."""
    posts = dict.fromkeys(f.post for f in folded.values())
    for post in posts:
        conns = chip_inputs(ir, post)
        if len({c.tau_s for c in conns}) < 2 or retime_host_inputs(ir, post, conns):
            continue
        movable = [c for c in conns if c.weights in folded and
                   _setting(ir, folded[c.weights].origins, options)[0] != "weights"]
        fixed = {c.tau_s for c in conns if c not in movable}
        if len(fixed) > 1:
            continue  # split_host_chip reports it
        keep = fixed.pop() if fixed else min(c.tau_s for c in conns)
        for c in movable:
            if c.tau_s != keep:
                _move(ir, c, folded.pop(c.weights), keep, pending, options)


def _move(ir: IR, conn: Any, f: Folded, keep: float, pending: list[Pending],
          options: Any) -> None:
    """Replace the full weights of ``conn`` by decode neurons."""
    mode, _ = _setting(ir, f.origins, options)
    spec = mode if isinstance(mode, DecodeNeurons) else (
        getattr(options, "loihi_decode_neurons", None) or DecodeNeurons())
    synapse = ir.op(conn.synapse) if conn.synapse is not None else None
    ir.remove(conn.weights)
    if conn.synapse is not None and not ir.consumers(conn.synapse):
        ir.remove(conn.synapse)
    why = (f"decode neurons: its synapse ({conn.tau_s * 1e3:g} ms) is not the "
           f"{keep * 1e3:g} ms filter the post's other inputs need, and a compartment "
           "has one; the decode neurons filter with it")
    pending.append(build(ir, f.post, f.leaf, f.enc, f.matrix, synapse, f.bias, spec,
                         f.src, f"{why}; folded from {' '.join(f.via)}", a_loop=f.a_loop))


def finish(ir: IR, pending: list[Pending]) -> None:
    """The filter after each group of decode neurons, on the post: the spec's ``tau``,
    unless the post's other inputs share another one (a compartment has one filter;
    NengoLoihi keeps the longer one), then theirs."""
    for p in pending:
        others = {c.tau_s for c in chip_inputs(ir, p.post)
                  if not is_decode_neurons(ir.op(c.source))}
        tau = p.spec.tau or 0.0
        why = ""
        if len(others) == 1 and tau not in others:
            if p.fixed:
                raise CompileError(
                    f"{describe(ir.op(p.post))}: a path into it is filtered twice, and its "
                    f"second filter ({tau * 1e3:g} ms, after decode neurons {p.neurons}) is "
                    f"not the {next(iter(others)) * 1e3:g} ms of its other inputs: a Loihi "
                    "compartment has one input filter\n  fix: give the path one synapse "
                    "(synapse=None on one of its connections), or the same synapse as the "
                    "other inputs")
            tau, why = others.pop(), " (the post's other inputs' filter: one per compartment)"
        if tau > 0:
            op = ir.op(p.neurons)
            ir.insert_after(p.neurons, ops.Synapse(
                name=ir.fresh(f"{p.neurons[1:]}.syn"), shape=op.shape, src=op.src,
                synapse=spec_to_dict(Lowpass(float(tau))), made_by="nef_to_chip"),
                only=[p.weights])
        shown = f"{tau * 1e3:g} ms" if tau else "none"
        ir.note(p.weights, f"nef_to_chip: filter after the decode neurons {shown}{why}")
        if p.loop is not None:
            _compensate(ir, p, tau)


def _compensate(ir: IR, p: Pending, tau: float) -> None:
    """Correct a recurrent connection's decoded input for the filter ``tau`` and the
    step the decode neurons add to its loop: ``(I + (tau + dt) A)`` on the decoded value
    (``DecodeNeurons.compensate``)."""
    a_loop, dec, dims, sign, w_in = p.loop
    extra = tau + ir.dt
    corrected = (np.eye(len(a_loop)) + extra * a_loop) @ dec
    ir.params[ir.op(w_in).weights] = sign[:, None] * corrected[dims]
    ir.note(w_in, f"nef_to_chip: recurrent transform corrected for the {extra * 1e3:g} ms "
                  "the decode neurons add to its loop (filter and step): (I + "
                  f"{extra:g} A) M, A = (M - I) / tau")
