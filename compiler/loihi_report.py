"""The Loihi resource report: cores and chips used, each core's use against its limits,
and (given measured activity) an energy estimate per inference.

Energy constants: Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
Learning", IEEE Micro 38(1), 2018, Table 1 (14 nm, 0.75 V): a synaptic spike
operation 23.6 pJ, a compartment
update 52 pJ (81 pJ when it has input or spikes), a spike routed within a tile 1.7 pJ.
Mesh hops between cores are not counted (placement-dependent, a few pJ each), so the
estimate is a lower bound. For comparison the same layers' multiply-accumulates per
inference are priced as KerasSpiking's ``ModelEnergy`` does for conventional devices:
8.6 nJ per op on a CPU, 0.3 nJ on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from snngraph.compiler import loihi_resources as res
from snngraph.compiler.chip import chip_inputs, chip_neurons, describe, layer_shape
from snngraph.compiler.host_stages import exchange_text
from snngraph.compiler.loihi_learning import learning_rows

PJ_SYNOP = 23.6
PJ_UPDATE_IDLE = 52.0
PJ_UPDATE_ACTIVE = 81.0
PJ_SPIKE = 1.7
NJ_PER_OP = {"cpu": 8.6, "gpu": 0.3}


@dataclass
class Activity:
    """Counts measured by the emulator over ``example_steps`` (examples x steps run);
    an inference is ``steps`` steps of one example (the longest run by default)."""

    example_steps: int = 0
    steps: int = 0
    spikes: dict[str, int] = field(default_factory=dict)
    synops: dict[str, int] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)


class ResourceReport:
    """``program.resources()``: print it, or read ``cores``, ``chips``, ``blocks``."""

    def __init__(self, program: Any, activity: Activity | None = None):
        ir = program.ir
        self.rows: list[dict[str, Any]] = []
        self.macs = 0
        self.compartments: dict[str, int] = {}
        self.nef: list[dict[str, Any]] = []
        """Each chip connection ``nef_to_chip`` made: into ``layer`` from ``source``, as
        ``full weights`` (from a chip ensemble), host on/off neurons, or the decoders
        into and encoders out of decode neurons, with its number of ``synapses`` (zero
        weights included) and ``why`` full weights or decode neurons were chosen."""
        for name in chip_neurons(ir):
            op = ir.op(name)
            self.compartments[name] = op.size
            for b in op.blocks:
                self.rows.append({"chip": b.chip, "core": b.core, "layer": name,
                                  "object": describe(op).split(" (created")[0],
                                  "ranges": b.ranges, "usage": res.Usage(
                                      b.compartments, b.in_axons, b.out_axons,
                                      b.synapse_bits),
                                  "vth_profiles": _profiles(ir, name, b)})
            for conn in chip_inputs(ir, name):
                self.macs += _macs(ir, name, conn)
                if conn.weights is not None and ir.op(conn.weights).made_by == "nef_to_chip":
                    self.nef.append(_nef_row(ir, name, conn))
        self.exchange = exchange_text(ir)
        self.learning = learning_rows(ir)
        """Each learning rule: its ``rule``, ``object``, ``where`` it learns (``chip``: its
        weights are learning synapses of a core; ``host``) and its learned ``weights``."""
        """How the host and the chip exchange spikes (precomputed, or step by step for a
        host loop) and why."""
        self.cores = len(self.rows)
        self.chips = len({r["chip"] for r in self.rows})
        self.activity = activity

    def fits(self) -> bool:
        return all(r["usage"].fits() for r in self.rows)

    def energy(self) -> dict[str, float] | None:
        """Joules per inference: dynamic (synaptic ops, spikes, active updates) and
        total (plus idle compartment updates), and the CPU/GPU figures for the MACs."""
        a = self.activity
        if a is None or not a.example_steps:
            return None
        per = a.steps / a.example_steps  # counts per inference
        synops = sum(a.synops.values()) * per
        spikes = sum(a.spikes.values()) * per
        active = sum(a.active.values()) * per
        updates = sum(self.compartments.values()) * a.steps
        dynamic = (synops * PJ_SYNOP + spikes * PJ_SPIKE
                   + active * (PJ_UPDATE_ACTIVE - PJ_UPDATE_IDLE)) * 1e-12
        total = dynamic + updates * PJ_UPDATE_IDLE * 1e-12
        return {"loihi_j": total, "loihi_dynamic_j": dynamic, "synops": synops,
                "spikes": spikes, "steps": a.steps, "macs": self.macs,
                **{f"{dev}_j": self.macs * nj * 1e-9 for dev, nj in NJ_PER_OP.items()}}

    def __str__(self) -> str:
        lim = res.LIMITS
        lines = [f"Loihi resources: {self.cores} core(s) on {self.chips} chip(s); per core "
                 f"limits: {lim.compartments} compartments, {lim.in_axons} input axons, "
                 f"{lim.out_axons} output axons, {lim.synapse_bits:,} synapse bits",
                 f"{'chip':>4} {'core':>4}  {'layer':<24} {'block':<26} {'compartments':>14} "
                 f"{'axons in':>13} {'axons out':>13} {'synapse bits':>22} {'vth':>4}"]
        for r in self.rows:
            u, f = r["usage"], r["usage"].fractions()
            block = "[" + ",".join(f"{a}:{b}" for a, b in r["ranges"]) + "]"
            lines.append(
                f"{r['chip']:>4} {r['core']:>4}  {r['object'][:24]:<24} {block[:26]:<26} "
                f"{u.compartments:>6} ({f['compartments']:>4.0%}) "
                f"{u.in_axons:>5} ({f['in_axons']:>4.0%}) {u.out_axons:>5} "
                f"({f['out_axons']:>4.0%}) {u.synapse_bits:>13,} ({f['synapse_bits']:>4.0%})"
                f" {r['vth_profiles']:>4}")
        for r in self.nef:
            lines.append(f"nef: {r['layer']} <- {r['source']}: {r['kind']}, {r['synapses']:,} "
                         f"synapses ({r['shape'][0]}x{r['shape'][1]})"
                         + (f", {r['host_neurons']} on/off neurons on the host"
                            if r["host_neurons"] else "")
                         + (f"; {r['why']}" if r["why"] else ""))
        lines.append(self.exchange)
        for r in self.learning:
            what = ("learning synapses (integer weights, traces and errors)"
                    if r["where"] == "chip" else "learned weights (float, on the host)")
            lines.append(f"learning: {r['object']}: {r['rule']} on the {r['where']}, "
                         f"{r['weights']:,} {what} ({r['shape'][0]}x{r['shape'][1]})")
        e = self.energy()
        if e is not None:
            lines.append(
                f"energy per inference ({e['steps']} steps, measured activity): "
                f"{e['loihi_j'] * 1e6:.2f} uJ on Loihi ({e['loihi_dynamic_j'] * 1e6:.2f} uJ "
                f"dynamic: {e['synops']:,.0f} synaptic ops, {e['spikes']:,.0f} spikes); the "
                f"same layers as a rate network: {e['macs']:,} MACs = "
                f"{e['cpu_j'] * 1e6:.1f} uJ on a CPU, {e['gpu_j'] * 1e6:.2f} uJ on a GPU "
                "(Davies et al. 2018 and KerasSpiking constants; mesh hops not counted)")
        return "\n".join(lines)


def _nef_row(ir: Any, name: str, conn: Any) -> dict[str, Any]:
    """One connection of ``nef_to_chip``: folded full weights, host on/off input, or one
    of the two halves of a connection through decode neurons; ``why`` is the choice
    between full weights and decode neurons, as the dump notes it."""
    from snngraph.compiler.passes.decode_neurons import CHOICE, is_decode_neurons

    source = conn.source
    if ir.op(source).op == "spike_input":
        source = ir.inputs(source)[0]
    src_op, w_op = ir.op(source), ir.op(conn.weights)
    w = ir.params[w_op.weights]
    host = not src_op.chip
    shown = describe(src_op).split(" (created")[0]
    if host:
        kind = "host value encoded by on/off neurons"
    elif is_decode_neurons(ir.op(name)):
        kind = "decoders into decode neurons"
    elif is_decode_neurons(src_op):
        kind = "encoders from decode neurons"
    else:
        kind = "full weights (decoders x encoders)"
    why = next((n[len(CHOICE):] for n in w_op.notes if n.startswith(CHOICE)), "")
    return {"layer": describe(ir.op(name)).split(" (created")[0],
            "source": f"{source} ({shown})", "kind": kind, "why": why,
            "synapses": int(w.size), "shape": w.shape,
            "host_neurons": src_op.size if host else 0}


def _macs(ir: Any, name: str, conn: Any) -> int:
    post = ir.op(name)
    if conn.weights is None:
        return post.size
    w = ir.op(conn.weights)
    if w.op == "conv2d":
        kh, kw, c_in, _ = ir.params[w.kernel].shape
        return post.size * kh * kw * c_in
    return int(ir.params[w.weights].size)


def _profiles(ir: Any, name: str, block: Any) -> int:
    """The threshold profiles a block uses (``discretize``: one scale per distinct
    ``v_scale`` of its compartments; at most ``MAX_VTH_PROFILES``)."""
    scale = ir.params.get(f"{name}.loihi.v_scale")
    if scale is None:
        return 0
    idx = res.Tile(tuple(tuple(r) for r in block.ranges), layer_shape(ir, name)).indices()
    return int(len(np.unique(np.asarray(scale)[idx])))
