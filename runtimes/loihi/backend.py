"""``backend="loihi"``: the host part on the numba runtime, the chip part emulated.

The host ops run as up to three numba programs around the chip (compiler/host_stages.py):
``pre`` (everything that does not read the chip: the values the chip's spike inputs are
made from, host probes) for all steps of a run at once, minibatched; then the chip; then
``post`` (everything that reads chip spikes and feeds only the host: decoded probes, Nodes
reading the chip) with the chip's spikes fed in. That is NengoLoihi's ``precompute`` mode.
When host ops both read the chip and feed it (a Node function, a Delay or an off-chip
ensemble between chip ensembles: the ``loop`` stage), the chip and the loop program run
in lockstep instead, one step each in turn, exchanging spikes every step (NengoLoihi
without ``precompute``); ``pre`` and ``post`` still run for the whole run. A value crossing
from one program to a later one is recorded once and fed in, never recomputed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numba import njit
from snngraph.compiler.host_stages import Stages, chip_sources, cuts, host_stages
from snngraph.compiler.ir import IR
from snngraph.compiler.ops import refuse_unsupported
from snngraph.compiler.program import Program
from snngraph.runtimes.loihi.emulator import Chip
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError

F32 = np.float32
HOST_FUSE_WORK = 500


STAGES = ("pre", "loop", "post")


class LoihiBackend:
    def __init__(self, program: Program, seed: int, fuse: bool | str = "auto"):
        from snngraph.runtimes.numba_cpu import NumbaBackend

        if program.target != "loihi":
            raise CompileError(f"backend 'loihi' runs programs compiled for target='loihi' "
                               f"(this one is for {program.target!r})")
        self.program, self.seed = program, seed
        ir = program.ir
        refuse_unsupported(ir, "loihi")
        self.stages = stages = host_stages(ir)
        self.boundary = {op.name: ir.inputs(op.name)[0] for op in ir.ops()
                         if op.op == "spike_input"}
        """Each spike input and the host neurons op whose spikes it carries."""
        self.counts = {op.name: (op.axons, spec_from_dict(ir.op(self.boundary[op.name]).neuron)
                                 .spike_value(ir.dt)) for op in ir.ops()
                       if op.op == "spike_input" and op.axons > 1}
        """Spike inputs carrying counts: axons per neuron and what one host spike is worth."""
        self.errors = {n: src for n, src in chip_sources(ir).items()
                       if n not in self.boundary}
        """Each rule learning on the chip and the host op computing its error."""
        self.outputs = {op.name: ir.inputs(op.name)[0] for op in ir.ops()
                        if op.op == "spike_output"}
        """Each spike output and the chip neurons op it reads."""
        self.amplitude = {n: spec_from_dict(ir.op(src).neuron).spike_value(ir.dt)
                          for n, src in self.outputs.items()}
        """What one chip spike is worth to its host readers (NeuronType.spike_value)."""
        self.inputs: dict[str, list[str]] = {}
        """Per stage, the values fed in: chip spikes and values recorded by earlier stages."""
        recorded = _recorded(ir, stages, {**self.boundary, **self.errors})
        self.passed_on = {n + REC: n for names in recorded.values() for n in names}
        """The probes a stage records what it passes on with, and the op each records."""
        self.programs: dict[str, Any] = {}
        for stage in STAGES:
            keep = getattr(stages, stage)
            if not keep:
                continue
            self.inputs[stage] = sorted({n for n in cuts(ir, stages, stage)
                                         if not ir.op(n).chip}
                                        | {n for n in keep if n in self.outputs})
            # The pre and post stages are a few ops beside a chip run that costs far more
            # per step: op by op, their per-step overhead (~20 us) was most of the host's
            # time, so they fuse from runs of ~100 steps (compiled once per structure).
            self.programs[stage] = NumbaBackend(
                _subprogram(ir, keep, recorded[stage], self.inputs[stage]), seed, fuse,
                fuse_work=HOST_FUSE_WORK)
        self.chip = Chip(program)
        self.batch = 0

    def allocate(self, batch: int) -> None:
        if batch == self.batch:
            return
        self.batch = batch
        for p in self.programs.values():
            p.allocate(batch)
        self.chip.allocate(batch)

    def reset(self, seed: int) -> None:
        self.seed = seed
        for p in self.programs.values():
            p.reset(seed)
        self.chip.reset(seed)

    def run(self, n_steps: int, feeds: dict[str, np.ndarray], t0: int, example0: int,
            bar: Any) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}  # op -> [batch, n_steps, size] crossing stages
        records: dict[str, np.ndarray] = {}  # the user's probes
        self._run_stage("pre", n_steps, feeds, values, records, t0, example0)
        host = {n: self._to_chip(n, values[src]) for n, src in self.boundary.items()
                if src in values}
        errors = {n: values[src] for n, src in self.errors.items() if src in values}
        if "loop" in self.programs:
            chip = self._run_loop(n_steps, feeds, values, records, host, errors, t0,
                                  example0)
        else:
            chip = self.chip.run(n_steps, host, errors)
        for message in self.chip.overflow_report():
            warnings.warn(message, stacklevel=2)
        for name, src in self.outputs.items():
            if name not in values:
                values[name] = chip[src].astype(F32) * F32(self.amplitude[name])
        self._run_stage("post", n_steps, feeds, values, records, t0, example0)
        if bar:
            bar.update(n_steps)
            bar.close()
        self.last_chip = chip
        return records

    def _stage_feeds(self, stage: str, feeds: dict[str, np.ndarray],
                     values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        program = self.programs[stage]
        own = {k: v for k, v in feeds.items() if k in program.executors}
        own.update({n: values[n] for n in self.inputs[stage]})
        return own

    def _run_stage(self, stage: str, n_steps: int, feeds: dict[str, np.ndarray],
                   values: dict[str, np.ndarray], records: dict[str, np.ndarray], t0: int,
                   example0: int) -> None:
        if stage in self.programs:
            out = self.programs[stage].run(n_steps, self._stage_feeds(stage, feeds, values),
                                           t0, example0, None)
            self._take(out, values, records)

    def _take(self, out: dict[str, np.ndarray], values: dict[str, np.ndarray],
              records: dict[str, np.ndarray]) -> None:
        """Split a stage's records into the user's probes and the values it passes on."""
        for name, buf in out.items():
            if name in self.passed_on:
                values[self.passed_on[name]] = buf.reshape(self.batch, buf.shape[1], -1)
            else:
                records[name] = buf

    def _to_chip(self, name: str, values: np.ndarray) -> np.ndarray:
        """A host neurons op's output as the spikes its spike input carries: a spike or
        none per neuron, or (``axons``) each step's count on that many axons."""
        if name not in self.counts:
            return (values != 0).astype(np.uint8)
        axons, per_spike = self.counts[name]
        out = np.empty((*values.shape[:-1], values.shape[-1] * axons), np.uint8)
        _count_spikes(values.reshape(-1, values.shape[-1]), F32(per_spike), axons,
                      out.reshape(-1, out.shape[-1]))
        return out

    def _run_loop(self, n_steps: int, feeds: dict[str, np.ndarray],
                  values: dict[str, np.ndarray], records: dict[str, np.ndarray],
                  host: dict[str, np.ndarray], errors: dict[str, np.ndarray], t0: int,
                  example0: int) -> dict[str, np.ndarray]:
        """The chip and the loop program in lockstep: chip step k, its spikes to the loop
        program, loop step k, its spikes to the chip (arriving at step k + 1). Every array
        is allocated before the first step; a step allocates nothing but views."""
        loop, batch = self.programs["loop"], self.batch
        reads = [n for n in self.inputs["loop"] if n in self.outputs]
        for name in reads:
            values[name] = np.zeros((batch, n_steps, self.program.ir.op(name).size), F32)
        sends = {n: src for n, src in self.boundary.items() if src in self.stages.loop}
        sent = {n: np.zeros((batch, n_steps, self.program.ir.op(n).size), np.bool_)
                for n in sends}
        counts = {n: self.counts.get(n, (1, 1.0)) for n in sends}
        host.update({n: a.view(np.uint8) for n, a in sent.items()})
        bufs = loop.start(n_steps, self._stage_feeds("loop", feeds, values), t0, example0)
        # the rules' errors: the chip reads the loop's records as they are filled
        errors.update({n: bufs[src + REC].reshape(batch, n_steps, -1)
                       for n, src in self.errors.items() if src in self.stages.loop})
        chip_out = self.chip.begin(n_steps, host, errors)
        to_host = [(chip_out[self.outputs[n]], values[n], F32(self.amplitude[n]))
                   for n in reads]
        to_chip = [(bufs[src + REC].reshape(batch, n_steps, -1), sent[n].view(np.uint8),
                    F32(counts[n][1]), counts[n][0]) for n, src in sends.items()]
        step_chip, step_host = self.chip.step, loop.step
        for k in range(n_steps):
            step_chip(k)
            for spikes, value, amplitude in to_host:
                _spike_values(spikes, k, amplitude, value)
            step_host(k)
            for rec, out, per_spike, axons in to_chip:
                _spikes_sent(rec, k, per_spike, axons, out)
        self._take(loop.finish(), values, records)
        return self.chip.end()


REC = ".rec"


@njit(cache=True)
def _spike_values(spikes, k, amplitude, out):
    """Column ``k`` of the chip's spikes as the host reads them (``amplitude`` each)."""
    for b in range(spikes.shape[0]):
        for i in range(spikes.shape[2]):
            out[b, k, i] = spikes[b, k, i] * amplitude


@njit(cache=True)
def _spikes_sent(values, k, per_spike, axons, out):
    """Column ``k`` of a host neurons op's output as spikes for the chip: 0/1, or
    (``axons`` > 1) each neuron's count on that many axons (``_count_spikes``)."""
    for b in range(values.shape[0]):
        if axons == 1:
            for i in range(values.shape[2]):
                out[b, k, i] = values[b, k, i] != 0
        else:
            _count_row(values[b, k], per_spike, axons, out[b, k])


@njit(cache=True)
def _count_spikes(values, per_spike, axons, out):
    """Rows of host spike outputs (``per_spike`` each) as spikes on ``axons`` axons per
    neuron: a count of ``c`` (at most ``axons``) fires neuron ``i``'s first ``c``."""
    for r in range(values.shape[0]):
        _count_row(values[r], per_spike, axons, out[r])


@njit(cache=True, inline="always")
def _count_row(values, per_spike, axons, out):
    for i in range(values.shape[0]):
        n = min(max(int(np.rint(values[i] / per_spike)), 0), axons)
        for j in range(axons):
            out[i * axons + j] = j < n


def _recorded(ir: IR, stages: Stages, boundary: dict[str, str]) -> dict[str, set[str]]:
    """Per stage, its ops whose values leave it: to the chip (a spike input's source, a
    chip rule's error) or to a later stage (not chip spikes: every stage reads those
    from the chip)."""
    out = {stage: set() for stage in STAGES}
    for src in boundary.values():
        out[stages.of(src)].add(src)
    for stage in STAGES:
        for name in cuts(ir, stages, stage):
            owner = stages.of(name)
            if owner is not None and ir.op(name).op != "spike_output":
                out[owner].add(name)
    return out


def _subprogram(ir: IR, keep: set[str], record: set[str], inputs: list[str]) -> Program:
    """A host program of the ops in ``keep``: a probe ``name.rec`` records each op in
    ``record``, and each op in ``inputs`` (a spike output, or an op of another stage)
    becomes an input op, fed with chip spikes or with that stage's record."""
    from snngraph.compiler.passes.schedule import schedule

    sub = ir.copy()
    for name in list(sub.graph.nodes):
        if name not in keep and name not in inputs:
            sub.graph.remove_node(name)
    for name in inputs:
        op = sub.op(name)
        default = sub.param(f"{name}.default", np.zeros(op.size))
        preds = list(sub.graph.predecessors(name))
        sub.graph.remove_edges_from([(p, name) for p in preds])
        sub.graph.nodes[name]["op"] = ops.Input(name=name, shape=op.shape, kind=op.kind,
                                                src=op.src, default=default)
    for name in sorted(record):
        sub.add(ops.Probe(name=name + REC, shape=sub.op(name).shape, kind=sub.op(name).kind,
                          target=name, attr="output"), [name])
    schedule(sub, None)
    return Program(sub, target="cpu", passes=[], timings={})
