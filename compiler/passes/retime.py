"""Host inputs retimed to a chip ensemble's compartment filter (part of ``nef_to_chip``).

A Loihi compartment has one input filter. When a chip ensemble's inputs from the chip
share one synapse (the oscillator's 100 ms recurrence) and a host value comes in through
another (its 5 ms kick), the compartment keeps the chip's filter and the host value is
retimed: the host runs the value's own synapse, then the inverse of the chip's filter
``(1 - a z^-1) / (1 - a)`` (``a`` the chip's integer decay), so that the chip's filter
gives back the value filtered by its own synapse alone, one step later as any host
input. The inverse filter's output is the value plus ``tau_chip`` times its rate of
change: at a 5 ms step's edge about 20 times the value, more than the one spike per step
an on/off neuron sends at a value of 1. So each on/off neuron sends its spike count over
``count_axons`` axons with equal weights (a count of ``c`` fires the first ``c``): the
host spiking ReLU keeps its remainder, so the chip receives the value's integral to
within one spike, and the block's weight scale stays that of one spike (weights of 1,
2, 4, ... would make the largest set the scale, and cost the recurrent weights their
bits).

This keeps the recurrence on full weights, where otherwise it would move onto decode
neurons (``decode_neurons.resolve_filters``): no decode neurons' core, their spike noise
or their extra filter in the loop. The cost is the host value's axons times
``count_axons`` (the oscillator's kick: 36 per on/off neuron, 144 in all).

The same counts serve a *spiky* host value: spikes through decoders or a transform with
no filter in between (an off-chip ensemble's decoded output, a Delay of a chip
ensemble's): several neurons spiking in one step make a value of several spikes' worth,
which one axon would spread over the following steps (``spiky_axons``).
"""

from __future__ import annotations

import math

import numpy as np
from snngraph.compiler.chip import ChipInput, describe
from snngraph.compiler.ir import IR
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict, spec_to_dict
from snngraph.synapses import LinearFilter, Lowpass

MAX_COUNT_AXONS = 64
"""At most 64 spikes a step per host neuron (beyond, decode neurons take the clash)."""
MAX_SPIKY_AXONS = 8
"""A spiky value's axons per on/off neuron: its bound assumes every neuron spikes at once,
so a rarer burst than eight spikes' worth in one step is clipped rather than paid for."""


def retime_host_inputs(ir: IR, post: str, conns: list[ChipInput]) -> bool:
    """Retime the host inputs of ``post`` to the one synapse its chip inputs share;
    False (nothing changed) when that does not apply: the chip inputs' synapses differ,
    or a host input is not a Lowpass from its own on/off neurons, or needs too many
    axons."""
    host = [c for c in conns if _own_on_off(ir, c)]
    taus = {c.tau_s for c in conns if c not in host}  # the chip's (and fixed) inputs
    if not host or len(taus) != 1:
        return False
    tau = taus.pop()
    if tau <= 0:
        return False
    plans = [(c, _axons(ir, c.tau_s, tau)) for c in host if c.tau_s != tau]
    if not plans or any(n > MAX_COUNT_AXONS for _, n in plans):
        return False
    for c, axons in plans:
        _retime(ir, post, c, tau, axons)
    return True


def chip_decay(tau: float, dt: float) -> float:
    """The factor a chip compartment's current keeps per step for synapse ``tau``: its
    12-bit ``decay_u`` (``discretize``) as the chip applies it, ``(4095 - d) / 4096``."""
    decay = np.float32(-math.expm1(-dt / tau))
    d = float(np.round(np.clip(decay * np.float32(4095) - np.float32(1), 0, 4095)))
    return (4095.0 - d) / 4096.0


def inverse_filter(tau: float, dt: float) -> LinearFilter:
    """The discrete inverse of the chip's filter for ``tau`` (unit gain at rest)."""
    a = chip_decay(tau, dt)
    return LinearFilter([1.0 / (1.0 - a), -a / (1.0 - a)], [1.0, 0.0], analog=False)


def _own_on_off(ir: IR, c: ChipInput) -> bool:
    """A Lowpass input from host on/off neurons ``nef_to_chip`` made, read by nothing else
    (a value shared with another ensemble keeps its timing)."""
    src = ir.op(c.source)
    return (src.op == "neurons" and src.made_by == "nef_to_chip" and not src.loihi.on_chip
            and c.synapse is not None and ir.op(c.synapse).synapse["type"] == "Lowpass"
            and ir.consumers(c.source) == [c.path[-1]])


def _axons(ir: IR, tau_in: float, tau: float) -> int:
    """The largest count a step can need: a value of 1 (the radius) sends at most one
    spike a step (``loihi_input_rate`` is at most ``1 / dt``), and the host's filters
    scale a value bounded by 1 by at most the l1 norm of their impulse response. For
    ``Lowpass(tau_in)`` (pole ``b``) then the inverse of the chip's (pole ``a``) that is
    ``(1 + a - 2 b) / (1 - a)`` when ``a >= b`` (a positive first tap, then a negative
    tail), else 1 (every tap positive, summing to the unit gain)."""
    a = chip_decay(tau, ir.dt)
    b = math.exp(-ir.dt / tau_in) if tau_in > 0 else 0.0
    return max(1, math.ceil((1.0 + a - 2.0 * b) / (1.0 - a) - 1e-9))


def _retime(ir: IR, post: str, c: ChipInput, tau: float, axons: int) -> None:
    src = ir.op(c.source)
    enc = ir.inputs(c.source)[0]
    tau_in = c.tau_s
    for spec, why in ((Lowpass(tau_in), "its own synapse"),
                      (inverse_filter(tau, ir.dt), "the inverse of the chip's filter")):
        op = ir.op(enc)
        enc = ir.insert_after(enc, ops.Synapse(
            name=ir.fresh(f"{c.source[1:]}.retime"), shape=op.shape, src=src.src,
            synapse=spec_to_dict(spec), made_by="nef_to_chip",
            notes=(f"nef_to_chip: retimed host input: {why}",)), only=[c.source])
    ir.update(c.synapse, synapse=spec_to_dict(Lowpass(tau)))
    axons = max(axons, src.loihi.count_axons)
    ir.update(c.source, loihi=src.loihi.model_copy(update={"count_axons": axons}))
    ir.note(c.weights, (
        f"nef_to_chip: retimed: {describe(ir.op(post))} filters with the {tau * 1e3:g} ms "
        f"of its chip inputs (one filter per compartment); this host value's "
        f"{tau_in * 1e3:g} ms runs on the host, then the inverse of the chip's {tau * 1e3:g} "
        f"ms, up to {axons} spikes a step per on/off neuron ({axons} axons each)"))


# ------------------------------------------------------------------ spiky host values
def spiky_axons(ir: IR, leaf: str, host: np.ndarray, rate: float) -> int:
    """Axons per on/off neuron for ``host @ leaf`` when the leaf is spikes through linear
    ops and pure delays only: the most one step can send (every neuron with a positive
    weight into an on/off neuron spiking at once), at most ``MAX_SPIKY_AXONS``; 1 for
    any other value (filtered, or computed by a function)."""
    found = _as_spikes(ir, leaf)
    if found is None:
        return 1
    m, per_spike = found
    w = np.vstack([host, -host]) @ m * per_spike[None, :] * (rate * ir.dt)
    most = float(np.clip(w, 0, None).sum(axis=1).max()) if w.size else 0.0
    return int(min(max(1, math.ceil(most - 1e-9)), MAX_SPIKY_AXONS))


def _as_spikes(ir: IR, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(M, per_spike)``: the op's value as ``M @ spikes`` of one spiking neurons op
    (``per_spike`` the value of each neuron's spike), through linear, slice and scatter
    ops and delays; None otherwise."""
    from snngraph.compiler.passes.nef_to_chip import _matrix  # (it imports this module)

    op = ir.op(name)
    if op.op == "neurons":
        if op.mode != "spike":
            return None
        value = spec_from_dict(op.neuron).spike_value(ir.dt)
        return np.eye(op.size), np.full(op.size, float(value))
    ins = ir.inputs(name)
    if len(ins) != 1:
        return None
    if op.op == "delay" or (op.op == "synapse" and op.synapse["type"] == "Delay"):
        return _as_spikes(ir, ins[0])
    if op.op not in ("linear", "slice", "scatter") or getattr(op, "learned", False):
        return None
    inner = _as_spikes(ir, ins[0])
    return None if inner is None else (_matrix(ir, name) @ inner[0], inner[1])
