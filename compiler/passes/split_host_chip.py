"""``split_host_chip``: which ops run on the Loihi chip and which on the host.

Spiking ensembles go on the chip unless ``net.config[ens].on_chip = False``; Nodes,
probes and everything else stay on the host (the numba runtime). An on-chip connection is
spikes -> [Lowpass] -> [one dense or conv2d transform] -> neurons (see compiler/chip.py);
anything else feeding chip neurons is reported with a fix. Spikes cross the boundary
through two ops the dump shows: ``spike_input`` (host neurons -> chip, arriving one step
later, as over the chip's host link) and ``spike_output`` (chip neurons -> host readers).
The log says how the host and the chip exchange them (compiler/host_stages.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.compiler.chip import chip_inputs, describe
from snngraph.compiler.host_stages import note_exchange
from snngraph.compiler.ir import IR
from snngraph.compiler.loihi_learning import check_learning
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError


def split_host_chip(ir: IR, options: Any) -> None:
    on_chip = [n for n in list(ir.graph.nodes) if wants_chip(ir, n)]
    for name in on_chip:
        _check_no_current_probe(ir, name)
        ir.update(name, chip=True)
    inputs_made: dict[str, str] = {}
    for name in on_chip:
        for conn in chip_inputs(ir, name):
            for step in conn.path:
                _claim(ir, step, name)
            if not ir.op(conn.source).chip:
                _spike_input(ir, conn, name, inputs_made)
        _check_one_filter(ir, name)
    outputs = [_spike_output(ir, n) for n in on_chip]
    ir.log.append(f"split_host_chip: {len(on_chip)} ensemble(s) on chip "
                  f"({', '.join(on_chip) or 'none'}); {len(inputs_made)} spike input(s), "
                  f"{sum(o is not None for o in outputs)} spike output(s)")
    note_exchange(ir)
    check_learning(ir)


def wants_chip(ir: IR, name: str) -> bool:
    op = ir.op(name)
    if op.op != "neurons" or not op.loihi.on_chip:
        return False
    kind = op.neuron["type"]
    spec = spec_from_dict(op.neuron)
    problem = spec.chip_problem(ir.dt)
    if problem:
        raise CompileError(
            f"{describe(op)}: neuron type {kind} cannot run on a Loihi core with these "
            f"parameters: {problem}\n  fix: run it on the host with "
            f"net.config[ens].on_chip = False (or compile for target='cpu')")
    if spec.compartment(ir.dt) is None or op.mode != "spike":
        raise CompileError(
            f"{describe(op)}: neuron type {kind} ({op.mode} mode) cannot run on a Loihi "
            f"core\n  fix: use sg.LoihiLIF() or sg.LoihiSpikingRectifiedLinear() (swap "
            f"rate types with compile(swap='spike')), or run it on the host with "
            f"net.config[ens].on_chip = False")
    return True


def _check_no_current_probe(ir: IR, name: str) -> None:
    """A chip compartment's input current is not read back by the host."""
    for op in ir.ops():
        if op.op == "probe" and op.target == name and op.attr == "input":
            raise CompileError(
                f"{describe(op)}: probing the input current of chip ensemble "
                f"{describe(ir.op(name))} is not supported on Loihi (the chip reports "
                "spikes and voltages only)\n  fix: run the ensemble on the host with "
                "net.config[ens].on_chip = False, or compile for target='cpu'")


def _claim(ir: IR, step: str, target: str) -> None:
    """Put a connection op on the chip; it must feed only ``target``."""
    others = [c for c in ir.consumers(step) if c != target and not ir.op(c).chip]
    if others:
        raise CompileError(
            f"{describe(ir.op(step))}: op {step} feeds both the chip ensemble "
            f"{describe(ir.op(target))} and host op {others[0]}; on Loihi a connection "
            "has one target\n  fix: make two connections")
    ir.update(step, chip=True)


def _spike_input(ir: IR, conn: Any, target: str, made: dict[str, str]) -> None:
    """Route a host source's spikes to the chip through one shared ``spike_input``."""
    source = conn.source
    src = ir.op(source)
    axons = src.loihi.count_axons if src.op == "neurons" else 1
    if source not in made:
        made[source] = ir.add(ops.SpikeInput(
            name=ir.fresh(f"{source[1:]}.to_chip"), shape=(src.size * axons,), kind="spikes",
            src=src.src, made_by="split_host_chip", chip=True, axons=axons), [source])
    consumer = conn.path[-1] if conn.path else target
    ir.graph.remove_edge(source, consumer)
    ir.graph.add_edge(made[source], consumer)
    if axons > 1:
        _widen(ir, conn, axons)


def _widen(ir: IR, conn: Any, axons: int) -> None:
    """A connection from a spike input with ``axons`` axons per host neuron: its weights
    repeat each neuron's column that many times (its synapse widens with it). Equal
    weights, not powers of two, so the block's weight scale stays that of one spike."""
    for step in conn.path:
        op = ir.op(step)
        if op.op == "synapse":
            ir.update(step, shape=(op.size * axons,))
        elif op.op == "linear" and op.name == conn.weights:
            wide = np.repeat(np.asarray(ir.params[op.weights], float), axons, axis=1)
            ir.params[op.weights] = wide
            ir.update(step, shape_in=(wide.shape[1],),
                      notes=(*op.notes, f"split_host_chip: {axons} axons per host neuron "
                             "(up to that many spikes a step, same weights)"))


def _spike_output(ir: IR, name: str) -> str | None:
    """Host readers of chip neurons (probes, host connections) read a ``spike_output``."""
    readers = [c for c in ir.consumers(name) if not ir.op(c).chip]
    if not readers:
        return None
    op = ir.op(name)
    out = ops.SpikeOutput(name=ir.fresh(f"{name[1:]}.to_host"), shape=op.shape,
                          kind="spikes", src=op.src, made_by="split_host_chip")
    ir.insert_after(name, out, only=readers)
    for r in readers:  # a reader by role (a learning rule's pre) now reads the host's copy
        moved = {f: out.name for f, v in ir.op(r).refs().items() if v == name}
        if moved:
            ir.update(r, **moved)
    for r in readers:  # probes keep naming the ensemble they record
        if getattr(ir.op(r), "target", None) == name and ir.op(r).attr != "output":
            raise CompileError(
                f"{describe(ir.op(r))}: probing {ir.op(r).attr!r} of chip ensemble "
                f"{describe(op)} is not supported; probe its spikes (attr='output')")
    return out.name


def _check_one_filter(ir: IR, name: str) -> None:
    """A compartment has one input-current filter: all its inputs must share tau."""
    conns = chip_inputs(ir, name)
    taus = {c.tau_s for c in conns}
    if len(taus) > 1:
        shown = ", ".join(f"{c.tau_s * 1e3:g}ms ({describe(ir.op(c.path[0]))})" for c in conns)
        folded = [c for c in conns if c.weights is not None and ir.op(c.source).chip and
                  ir.op(c.weights).made_by == "nef_to_chip"]
        decode = (", or let its decoded connections from chip ensembles run through decode "
                  "neurons, which have their own filter (loihi_decode='auto' or "
                  "'decode_neurons' in place of 'weights')") if folded else ""
        raise CompileError(
            f"{describe(ir.op(name))}: its inputs are filtered with different synapses "
            f"({shown}); a Loihi compartment has a single input filter\n  fix: give all "
            f"connections into it the same Lowpass tau{decode}")
