"""``discretize``: a chip layer's float parameters to Loihi's integers, per block.

The arithmetic is NengoLoihi 1.1.0's (``nengo_loihi/builder/discretize.py``), float32
where NengoLoihi keeps float32 arrays, so the same network gives the
same integers and therefore the same spikes:

- decays are 12-bit: ``decay_u = round(4095 (1 - e^(-dt/tau_s))) - 1`` (the chip adds
  the 1 back), ``decay_v = round(4095 (1 - e^(-dt/tau_rc)))`` (0 for spiking ReLU);
- a block's weights are scaled so its largest becomes 255 at weight exponent ``w_exp``
  (0 down to -7, the first whose threshold and biases fit); each synapse (connection)
  may use a smaller exponent if its own largest weight is smaller; mantissas are 8-bit
  signed with the lowest bit dropped (mixed sign), stored ``<< 6``;
- threshold ``vth`` has a 17-bit mantissa with exponent 6, bias a 12-bit mantissa with
  exponent 0..7.

One departure, on by default (``compile(loihi_vth_profiles=1)`` turns it off and gives
NengoLoihi's integers exactly): NengoLoihi scales a whole block by one factor, set by its
largest bias, so in an NEF ensemble with Nengo's default gains (intercepts up to 0.9, a
few neurons with 10-50x the typical bias) the typical neuron's weights keep only a few
bits and most of a 100 ms recurrent connection rounds to zero. A core has up to 8
threshold profiles (``vthProfileCfg``; NengoLoihi's hardware builder accepts 7) and
per-compartment biases and weights, so ``threshold_profiles`` scales each neuron of an
NEF ensemble by a power of two ``r`` (at most ``loihi_vth_profiles`` distinct ones per
core): its threshold, bias and incoming weights all by ``r``, which changes no float
value, only how many bits each keeps. An NEF ensemble here is a layer whose every input
``nef_to_chip`` made, so its input current is its gain times a value within the radius;
a neuron-level layer keeps the one scale. A neuron's ``r`` stops where its current range
``|gain| + |bias|`` reaches the block's largest (so ``u`` stays in the range NengoLoihi's
scaling gives its largest neuron), where its threshold or bias reaches its limit, or
where its largest incoming weight would need an exponent above 0.

The float model before rounding is NengoLoihi's too: a connection's weight is
``gain_post * W * amplitude_pre / dt`` (one spike adds it to the current; for the
discrete-time types, NIR's, whose spike is 1 held for a step, ``amplitude_pre``), the current
is scaled by ``1 / decay_magnitude`` so a spike's integral survives the filter, and a
spiking ReLU's threshold is ``1 / dt``.

Arrays written (``%layer.loihi.*``): per compartment ``decay_u decay_v vth bias ref vmin
vmax`` (int32) and ``v_scale`` (float, for voltage probes); per input connection k
``in{k}.w``: dense ``[n_pre, n_post]`` int32, or conv ``[blocks, kh, kw, c_in, c_out]``
int32 with ``in{k}.blockmap`` (each output compartment's block).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.compiler import loihi_resources as res
from snngraph.compiler.chip import (
    ChipInput,
    chip_inputs,
    chip_neurons,
    describe,
    layer_shape,
)
from snngraph.compiler.ir import IR
from snngraph.schemas.ir import QuantRow

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError

F32 = np.float32
DECAY_MAX = 2**12 - 1
VTH_MAN_MAX, VTH_EXP = 2**17 - 1, 6
VTH_MAX = VTH_MAN_MAX * 2**VTH_EXP
BIAS_MAN_MAX, BIAS_EXP_MAX = 2**12 - 1, 7
BIAS_MAX = BIAS_MAN_MAX * 2**BIAS_EXP_MAX
DECAY_SCALE_TH = 0.5 / 2**12  # below half a decay unit the input scaling is undefined
DEFAULT_TAU_S = 0.005  # a layer with no input keeps NengoLoihi's default filter


MAX_VTH_PROFILES = 7
"""Threshold profiles per core: the chip has 8 ``vthProfileCfg`` entries; NengoLoihi's
hardware builder asserts fewer than 8."""


def discretize(ir: IR, options: Any) -> None:
    ir.quantization = []  # this pass's report (Program.quantization)
    profiles = getattr(options, "loihi_vth_profiles", MAX_VTH_PROFILES)
    for name in chip_neurons(ir):
        _layer(ir, name, profiles)


def key(layer: str, field: str) -> str:
    return f"{layer}.loihi.{field}"


# ------------------------------------------------------------------ float model
def compartments(ir: IR, name: str, conns: list[ChipInput]) -> dict[str, np.ndarray]:
    """NengoLoihi's float compartment parameters (``Compartment.configure_*``): the
    neuron type's ``compartment``, per compartment, and the input filter's decay."""
    op, dt = ir.op(name), ir.dt
    n, neuron = op.size, spec_from_dict(op.neuron).compartment(dt)
    if getattr(op, "state0", None) is not None:
        raise CompileError(f"{describe(op)}: a drawn initial state (initial_state=...) cannot "
                           "be loaded into the chip's compartments, which start at rest\n  "
                           "fix: leave initial_state out for ensembles on the chip, or run "
                           "this ensemble off the chip (config[ens].on_chip = False)")
    tau_s = conns[0].tau_s if conns else DEFAULT_TAU_S
    if neuron.decay_u is not None:  # the neuron's own current (NIR's CubaLIF)
        if any(c.tau_s > 0 for c in conns):
            raise CompileError(f"{describe(op)}: its neurons filter their input current "
                               "themselves, and a Loihi core has one current filter, so its "
                               "input cannot also pass a Lowpass synapse\n  fix: connect "
                               "with synapse=None")
        decay_u = np.broadcast_to(np.asarray(neuron.decay_u, F32), (n,))
    else:
        decay_u = np.full(n, F32(1.0 if tau_s == 0 else -np.expm1(-dt / tau_s)), F32)
    if np.any(decay_u <= DECAY_SCALE_TH):
        raise CompileError(f"{describe(op)}: synapse tau {tau_s}s is too long for the chip's "
                           "12-bit current decay (at most about 8000 dt)")
    decay_v = np.broadcast_to(np.asarray(neuron.decay_v, F32), (n,))
    if neuron.scale_v and np.any(decay_v <= DECAY_SCALE_TH):
        raise CompileError(f"{describe(op)}: tau_rc is too long for the chip's 12-bit "
                           "voltage decay (at most about 8000 dt)")
    c = {"decay_u": decay_u.copy(), "scale_v": neuron.scale_v, "decay_v": decay_v.copy(),
         "vth": np.broadcast_to(np.asarray(neuron.vth, F32), (n,)).copy(),
         "ref": np.full(n, neuron.refractory, np.int32), "vmin": neuron.vmin}
    gain = ir.params[op.gain].astype(float)
    bias = ir.params[op.bias].astype(float).copy()
    for conn in conns:  # a transform's bias is a constant input current
        if conn.weights is not None and ir.op(conn.weights).bias is not None:
            w_op = ir.op(conn.weights)
            b = ir.params[w_op.bias].astype(float)
            if w_op.op == "conv2d":
                b = np.broadcast_to(b, w_op.shape).reshape(-1)
            bias += gain * np.broadcast_to(b, (n,))
    # the neuron's own input scale applies to all its current, its drive comes on top
    # (with its own current filter, a bias reaches the voltage at once, not through the
    # filter: the same steady state)
    bias = bias * np.asarray(neuron.input_scale, float) + np.asarray(neuron.drive, float)
    c["bias"] = bias.astype(F32)
    return c


def float_weights(ir: IR, name: str, conn: ChipInput) -> np.ndarray:
    """Dense ``[n_post, n_pre]`` or conv kernel ``[kh, kw, c_in, c_out]`` float32, scaled
    to current per spike."""
    post, src = ir.op(name), ir.op(conn.source)
    own = spec_from_dict(post.neuron).compartment(ir.dt)
    gain = ir.params[post.gain].astype(float) * np.broadcast_to(
        np.asarray(own.input_scale if own is not None else 1.0, float), (post.size,))
    scale = _spike_value(ir, conn.source)
    if conn.weights is None:
        if src.size != post.size:
            raise CompileError(f"{describe(post)}: one-to-one input from {describe(src)} "
                               "needs equal sizes")
        return np.diag(gain * scale).astype(F32)
    w_op = ir.op(conn.weights)
    if w_op.op == "conv2d":
        if not np.all(gain == gain[0]):
            raise CompileError(f"{describe(post)}: all neurons fed by a convolution on Loihi "
                               "must have the same gain (the kernel is shared)")
        return (ir.params[w_op.kernel].astype(float) * scale * gain[0]).astype(F32)
    w = ir.params[w_op.weights].astype(float)
    if w.ndim == 1:
        w = np.diag(w)
    return (w * scale * gain[:, None]).astype(F32)


def _spike_value(ir: IR, source: str) -> float:
    """The value one spike of ``source`` carries (``NeuronType.spike_value``)."""
    op = ir.op(source)
    if op.op == "spike_input":
        op = ir.op(ir.inputs(source)[0])
    return float(spec_from_dict(op.neuron).spike_value(ir.dt))


# ------------------------------------------------------------------ integers
def decay_magnitude(decay: np.ndarray, x0: float = 2**21, bits: int = 12,
                    offset: int = 0) -> np.ndarray:
    """Sum of the integer-decayed series of ``x0`` relative to ``x0`` (NengoLoihi's
    estimate, with its empirical rounding loss q = 0.494 per step)."""
    q = 0.494
    r = (2**bits - offset - np.asarray(decay)) / 2**bits
    n = -(np.log1p(x0 * (1 - r) / q)) / np.log(r)
    principal = (1 - r ** (n + 1)) / (1 - r)
    loss = q / ((1 - r) * x0) * (n + 1 - (1 - r ** (n + 1)) / (1 - r))
    return principal - loss


def weights_to_int(w: np.ndarray, weight_exp: int) -> np.ndarray:
    """8-bit mixed-sign mantissas at ``weight_exp``, as the chip stores them (x 64)."""
    s = 1  # shift bits: 8 - 8 real weight bits + 1 for mixed sign
    m = 2 ** (8 - s) - 1
    wi = np.clip(np.round(w / F32(2.0**s)), -m, m).astype(np.int32)
    s2 = s + weight_exp
    if s2 < 0:  # the chip's two-part shift loses bits: round before shifting right
        wi = np.clip(np.round(wi * F32(2.0**s2)) / F32(2.0**s2), -m, m).astype(np.int32)
        wi = np.right_shift(wi, -s2)
    else:
        wi = np.left_shift(wi, s2)
    return np.left_shift(wi, 6)


def _block_scale(comp: dict, idx: np.ndarray, w_max: float, op: Any) -> dict[str, Any]:
    """NengoLoihi's ``discretize_compartment`` for one block's compartments."""
    decay_u = np.round(np.clip(comp["decay_u"][idx] * F32(DECAY_MAX) - F32(1), 0, DECAY_MAX))
    decay_v = np.round(comp["decay_v"][idx] * F32(DECAY_MAX))
    u_inf = 1.0 / decay_magnitude(decay_u, offset=1)
    v_inf = 1.0 / decay_magnitude(decay_v) if comp["scale_v"] else np.ones(len(idx))
    vth_f, bias_f = comp["vth"][idx], comp["bias"][idx]
    w_exp = 0
    if w_max > 1e-8:
        w_scale = 255.0 / float(w_max)
        s_scale = 1.0 / (u_inf * v_inf)
        for w_exp in range(0, -8, -1):
            v_scale = s_scale * w_scale * 2.0 ** (6 + w_exp)
            b_scale = v_scale * v_inf
            vth, bias = np.round(vth_f * v_scale), np.round(bias_f * b_scale)
            if (vth <= VTH_MAX).all() and (np.abs(bias) <= BIAS_MAX).all():
                break
        else:
            raise CompileError(f"{describe(op)}: no weight exponent keeps its thresholds "
                               "and biases in the chip's range (weights too small for the "
                               "biases)")
    else:  # no input weights: scale for the biases (or the threshold) alone
        b_max = float(np.abs(bias_f).max()) if len(idx) else 0.0
        if b_max > 1e-8:
            b_scale = BIAS_MAX / b_max
            while b_scale * b_max > 1:
                v_scale = b_scale / v_inf
                vth, bias = np.round(vth_f * v_scale), np.round(bias_f * b_scale)
                if np.all(vth <= VTH_MAX):
                    break
                b_scale /= 2.0
            else:
                raise CompileError(f"{describe(op)}: cannot scale its biases for the chip")
        else:
            vmax_th = min(VTH_MAX, 2**21 - 1)
            v_scale = np.full(len(idx), vmax_th / (float(vth_f.max()) + 1))
            b_scale = v_scale * v_inf
            vth, bias = np.round(vth_f * v_scale), np.round(bias_f * b_scale)
        w_scale = float(np.asarray(b_scale * u_inf / 2.0**6)[0])
    vth_int = np.round(vth / 2**VTH_EXP).astype(np.int64) * 2**VTH_EXP
    b_exp = np.ceil(np.log2(np.maximum(np.abs(bias) / BIAS_MAN_MAX, 1))).astype(np.int64)
    bias_int = np.round(bias / 2.0**b_exp).astype(np.int64) * 2**b_exp
    v0 = float(np.asarray(v_scale)[0])
    vmine = np.clip(np.round(np.log2(-v0 * comp["vmin"] + 1)), 0, 31)
    return {"decay_u": decay_u, "decay_v": decay_v, "vth": vth_int, "bias": bias_int,
            "vmin": -(2**vmine) + 1, "vmax": 2**23 - 1, "v_scale": v0, "w_scale": w_scale,
            "w_exp": w_exp, "b_scale": np.asarray(b_scale)}


def _layer(ir: IR, name: str, profiles: int = MAX_VTH_PROFILES) -> None:
    op = ir.op(name)
    conns = chip_inputs(ir, name)
    comp = compartments(ir, name, conns)
    weights = [float_weights(ir, name, c) for c in conns]
    convs = [c.weights is not None and ir.op(c.weights).op == "conv2d" for c in conns]
    n = op.size
    out = {f: np.zeros(n, np.int32) for f in ("decay_u", "decay_v", "vth", "bias", "vmin",
                                               "vmax")}
    out["ref"] = comp["ref"]
    v_scale = np.zeros(n)
    ints = [np.zeros((w.shape[1], w.shape[0]), np.int32) if not conv else
            np.zeros((len(op.blocks), *w.shape), np.int32) for w, conv in zip(weights, convs)]
    blockmap = np.zeros(n, np.int32)
    errors, exps, used = [], set(), []
    scaled = profiles > 1 and _decoded_inputs(ir, conns)  # per-neuron scales (NEF layers)
    lost = np.zeros(len(conns))  # per connection: squared rounding error, squared weights
    total = np.zeros(len(conns))
    worst, zeroed = np.zeros(len(conns)), np.zeros(len(conns), np.int64)
    shape = layer_shape(ir, name)
    for b, block in enumerate(op.blocks or _whole(op, shape)):
        idx = res.Tile(tuple(tuple(r) for r in block.ranges), shape).indices()
        blockmap[idx] = b
        parts = [_block_weights(ir, conns[k], w, conv, idx, shape)
                 for k, (w, conv) in enumerate(zip(weights, convs))]
        w_max = max((float(np.abs(p).max()) for p in parts if p.size), default=0.0)
        w_max = max([w_max, *(learned_range(ir, name, c)[idx].max() for c in conns
                              if learns(ir, c))])
        s = _block_scale(comp, idx, w_max, op)
        r = np.ones(len(idx))
        if scaled:
            r = threshold_profiles(ir, name, comp, idx, parts, w_max, s, profiles)
            _rescale(s, comp, idx, r)
        used.append(len(np.unique(r)))
        for f in ("decay_u", "decay_v", "vth", "bias", "vmin", "vmax"):
            out[f][idx] = s[f]
        v_scale[idx] = s["v_scale"]
        exps.add(s["w_exp"])
        for k, part in enumerate(parts):
            wi, err, sq = _synapse_ints(part, w_max, s, learned=learns(ir, conns[k]),
                                        rows=None if convs[k] else r)
            if learns(ir, conns[k]):
                _learning_format(ir, name, k, conns[k], idx, s)
            errors.append(err)
            worst[k] = max(worst[k], err)
            zeroed[k] += int(np.count_nonzero((wi == 0) & (part != 0)))
            lost[k] += sq
            total[k] += float(np.sum(np.square(part, dtype=float)))
            if convs[k]:
                ints[k][b] = wi
            else:
                ints[k][:, idx] = wi.T
    for f, a in out.items():
        ir.params[key(name, f)] = np.asarray(a, np.int32)
    ir.params[key(name, "v_scale")] = v_scale
    for k, wi in enumerate(ints):
        ir.params[key(name, f"in{k}.w")] = wi
        if convs[k]:
            ir.params[key(name, f"in{k}.blockmap")] = blockmap
    ir.note(name, f"discretize: w_exp {sorted(exps)}; vth profiles {max(used, default=1)}; "
                  f"largest weight rounding error "
                  f"{max(errors, default=0.0):.2%} of the block's |w|max; "
                  f"vth={_range(out['vth'])} bias={_range(out['bias'])} "
                  f"decay_u={_range(out['decay_u'])} decay_v={_range(out['decay_v'])}")
    ir.quantization += [_report(ir, name, c, w, sorted(exps), worst[k], lost[k], total[k],
                                int(zeroed[k])) for k, (c, w) in enumerate(zip(conns, weights))]
    _check_nef_precision(ir, name, conns, lost, total, profiles)


def _report(ir: IR, name: str, conn: ChipInput, w: np.ndarray, exps: list[int],
            worst: float, lost: float, total: float, zeroed: int) -> QuantRow:
    """One connection's line of the quantisation report (``Program.quantization``)."""
    kind = "one-to-one" if conn.weights is None else (
        "conv2d" if ir.op(conn.weights).op == "conv2d" else "dense")
    return QuantRow(layer=name, source=conn.source, weights=conn.weights, kind=kind,
                    n_weights=int(np.count_nonzero(w)) if kind == "one-to-one" else w.size,
                    w_exp=exps, max_error=float(worst), zeroed=zeroed,
                    rms_error=float(np.sqrt(lost / total)) if total > 0 else 0.0)


NEF_PRECISION = 0.1
"""Folded NEF weights whose rounding error exceeds this fraction (Frobenius norm) decode a
visibly smaller value: warned about, with the fix."""


def _check_nef_precision(ir: IR, name: str, conns: list[ChipInput], lost: np.ndarray,
                         total: np.ndarray, profiles: int = MAX_VTH_PROFILES) -> None:
    """Full weights folded by ``nef_to_chip`` lose their small entries when the block's
    biases force a low weight exponent (high gains with long synapses); say so."""
    import warnings

    for k, conn in enumerate(conns):
        w = ir.op(conn.weights) if conn.weights is not None else None
        if w is None or w.made_by != "nef_to_chip" or total[k] == 0:
            continue
        rel = float(np.sqrt(lost[k] / total[k]))
        if rel > NEF_PRECISION:
            text = (f"{describe(ir.op(name))}: its folded NEF weights {conn.weights} lose "
                    f"{rel:.0%} to the chip's 8-bit rounding (its biases, at these gains "
                    f"and a {conn.tau_s * 1e3:g} ms synapse, force a low weight exponent), "
                    "so decoded values come out smaller\n  fix: "
                    + (f"leave compile's loihi_vth_profiles at its default "
                       f"({MAX_VTH_PROFILES}; it is {profiles}: per-neuron scales keep the "
                       "bits), or " if profiles < MAX_VTH_PROFILES else "")
                    + "give chip ensembles "
                    "NengoLoihi's defaults, net.config[sg.Ensemble].max_rates = "
                    "sg.dists.Uniform(100, 120) and .intercepts = sg.dists.Uniform(-1, 0.5)"
                    ", or use a shorter synapse, or put the connection on decode neurons "
                    "(net.config[conn].loihi_decode = 'decode_neurons': a recurrent one "
                    "then keeps its frequency)")
            ir.note(name, "discretize: " + text.split(": ", 1)[1].replace("\n ", ";"))
            warnings.warn(text, stacklevel=2)


def _whole(op: Any, shape: tuple[int, ...]) -> list[Any]:
    from snngraph.schemas.ir import Block

    return [Block(ranges=tuple((0, s) for s in shape), core=0, compartments=op.size,
                  in_axons=0, out_axons=0, synapse_bits=0)]


def _block_weights(ir: IR, conn: ChipInput, w: np.ndarray, conv: bool, idx: np.ndarray,
                   shape: tuple[int, ...]) -> np.ndarray:
    """The weights into one block: dense rows, or the kernel's output channels the
    block holds (the other channels zeroed)."""
    if not conv:
        return w[idx]
    channels = np.unique(idx % shape[-1])
    part = np.zeros_like(w)
    part[..., channels] = w[..., channels]
    return part


def _synapse_ints(w: np.ndarray, w_max: float, s: dict, learned: bool = False,
                  rows: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """NengoLoihi's ``discretize_synapse``: a smaller exponent for a synapse whose own
    largest weight is smaller, then ``discretize_weights``; and the rounding error (its
    largest, relative to ``w_max``, and its sum of squares, in the float weights' units).
    A learning synapse keeps the block's exponent: its weights grow to ``learned_range``
    while it learns. ``rows``: each post compartment's profile factor: its weights are
    stored ``rows`` times larger (``threshold_profiles``)."""
    r = 1.0 if rows is None else np.asarray(rows, float)[:, None]
    x = w * r
    w_max_i = float(np.abs(x).max()) if x.size else 0.0
    if learned:
        dw_exp, w_exp2 = 0, s["w_exp"]
    elif w_max_i > 1e-16:
        dw_exp = int(np.floor(np.log2(w_max / w_max_i)))
        w_exp2 = max(s["w_exp"] - dw_exp, -6)
    else:
        w_exp2 = -6
        dw_exp = s["w_exp"] - w_exp2
    wi = weights_to_int((x * F32(s["w_scale"])) * F32(2.0**dw_exp), w_exp2)
    represented = wi / (s["w_scale"] * 2.0 ** (dw_exp + 6 + w_exp2)) / r
    err = float(np.abs(represented - w).max() / w_max) if w_max > 0 and w.size else 0.0
    return wi, err, float(np.sum(np.square(represented - w)))


# ------------------------------------------------------------------ threshold profiles
def threshold_profiles(ir: IR, name: str, comp: dict, idx: np.ndarray,
                       parts: list[np.ndarray], w_max: float, s: dict, profiles: int
                       ) -> np.ndarray:
    """Each compartment's scale factor over the block's (a power of two, at most
    ``profiles`` distinct ones): the largest that keeps its current range
    ``|gain| + |bias|`` within the block's largest, its threshold and bias within their
    ranges and its largest incoming weight at an exponent of at most 0."""
    gain = np.abs(ir.params[ir.op(name).gain].astype(float))
    gain = np.broadcast_to(gain, (ir.op(name).size,))[idx]
    if len(idx) < 2:
        return np.ones(len(idx))
    current = gain + np.abs(comp["bias"][idx].astype(float))
    caps = [current.max() / np.maximum(current, 1e-12),
            VTH_MAX / np.maximum(np.asarray(s["vth"], float), 1.0),
            BIAS_MAX / np.maximum(np.abs(np.asarray(s["bias"], float)), 1.0)]
    row_max = np.max([np.abs(p).max(axis=1) for p in parts], axis=0)  # dense, not empty
    if w_max > 0:  # weights up to w_max fill the mantissa at w_exp; exponent 0 is 2^-w_exp more
        caps.append(w_max * 2.0 ** -s["w_exp"] / np.maximum(row_max, 1e-300))
    k = np.floor(np.log2(np.maximum(np.min(caps, axis=0), 1.0))).astype(int)
    levels = np.unique(k)
    if len(levels) > profiles:  # merge the highest levels into the last one allowed
        k = np.minimum(k, levels[profiles - 1])
    return 2.0 ** k


def _decoded_inputs(ir: IR, conns: list[ChipInput]) -> bool:
    """Whether every input of a layer is one ``nef_to_chip`` made (folded decoders, host
    encoders, decode neurons), none learning: an NEF ensemble, whose input current is
    its gain times a value in its radius. A neuron-level layer keeps NengoLoihi's one
    scale (its input current is not known from its gains)."""
    return bool(conns) and all(
        c.weights is not None and ir.op(c.weights).made_by == "nef_to_chip"
        and ir.op(c.weights).op != "conv2d" and not learns(ir, c) for c in conns)


def _rescale(s: dict, comp: dict, idx: np.ndarray, r: np.ndarray) -> None:
    """``_block_scale``'s integers for compartments scaled by ``r``: threshold, bias
    (mantissa and exponent again) and the voltage scale for probes."""
    v_scale = s["v_scale"] * r
    vth = np.round(comp["vth"][idx] * v_scale)
    s["vth"] = np.round(vth / 2**VTH_EXP).astype(np.int64) * 2**VTH_EXP
    bias = np.round(comp["bias"][idx] * s["b_scale"] * r)
    b_exp = np.ceil(np.log2(np.maximum(np.abs(bias) / BIAS_MAN_MAX, 1))).astype(np.int64)
    s["bias"] = np.round(bias / 2.0**b_exp).astype(np.int64) * 2**b_exp
    vmine = np.clip(np.round(np.log2(-v_scale * comp["vmin"] + 1)), 0, 31)
    s["vmin"] = -(2**vmine) + 1
    s["v_scale"] = v_scale


# ------------------------------------------------------------------ learning synapses
LEARN_HEADROOM = 8.0
"""A learning synapse's range, in decoders of ``LEARN_HEADROOM / (n_pre * mean max rate)``
(twice the largest entry of a typical decoder of the identity, which is about 4 over the
pre neurons' summed rates): PES may learn functions up to about twice the radius."""


def learns(ir: IR, conn: ChipInput) -> bool:
    return conn.weights is not None and bool(getattr(ir.op(conn.weights), "learned", False))


def learned_range(ir: IR, name: str, conn: ChipInput) -> np.ndarray:
    """Per post compartment, the largest float weight (current per spike) a learning
    synapse may reach: ``|M_i| * LEARN_HEADROOM / (n_pre * mean max rate)`` through the
    scaling of ``float_weights``."""
    learn = next(op for op in ir.ops() if op.op == "learn" and op.target == conn.weights)
    project = np.abs(np.asarray(ir.params[learn.encoders], float)).max(axis=1)
    pre = ir.op(conn.source)
    neuron = spec_from_dict(pre.neuron)
    rates = neuron.rates(ir.params[pre.gain].astype(float) + ir.params[pre.bias].astype(float),
                         ir.dt)
    decoder = LEARN_HEADROOM / (pre.size * max(float(np.mean(rates)), 1.0))
    gain = ir.params[ir.op(name).gain].astype(float)
    return project * decoder * gain * _spike_value(ir, conn.source)


def _learning_format(ir: IR, name: str, k: int, conn: ChipInput, idx: np.ndarray,
                     s: dict) -> None:
    """What the emulator needs to change a learning synapse's integers (per post
    compartment ``in{k}.learn_unit``: integer units per unit of the weights op's float
    weight; ``learn_quantum`` and ``learn_max``: the 8-bit mantissa's step and largest
    value at the block's exponent, as ``weights_to_int`` stores them)."""
    n = ir.op(name).size
    keys = {f: key(name, f"in{k}.learn_{f}") for f in ("unit", "quantum", "max")}
    if keys["unit"] not in ir.params:
        ir.params[keys["unit"]] = np.zeros(n)
        ir.params[keys["quantum"]] = np.ones(n, np.int32)
        ir.params[keys["max"]] = np.zeros(n, np.int32)
    gain = ir.params[ir.op(name).gain].astype(float)[idx]
    amplitude = _spike_value(ir, conn.source)
    ir.params[keys["unit"]][idx] = s["w_scale"] * 2.0 ** (s["w_exp"] + 6) * amplitude * gain
    s2 = 1 + s["w_exp"]
    quantum, largest = (2 ** (6 + s2), 127 * 2 ** (6 + s2)) if s2 >= 0 else \
        (64, (127 >> -s2) * 64)
    ir.params[keys["quantum"]][idx] = quantum
    ir.params[keys["max"]][idx] = largest


def _range(a: np.ndarray) -> str:
    lo, hi = int(a.min()), int(a.max())
    return f"{lo}" if lo == hi else f"[{lo},{hi}]"
