"""``backend="loihi"``: the host part on the numba runtime, the chip part emulated.

The host ops split in two programs around the chip: ``pre`` (everything the chip's
spike inputs depend on, plus host probes that do not read the chip) and ``post``
(everything that reads chip spikes). Neither depends on the other's output within a
run, so each runs over the whole run at once, minibatched: pre for all steps, then the
chip for all steps (host spikes cross one step later, as on the chip's host link), then
post with the chip's spikes fed in. That is NengoLoihi's ``precompute`` mode, and it gives
the same values as exchanging spikes every step because nothing on the host feeds back.
A host -> chip -> host -> chip loop is reported at build time.
"""

from __future__ import annotations

import warnings
from typing import Any

import networkx as nx
import numpy as np
from snngraph.compiler.ir import IR
from snngraph.compiler.ops import refuse_unsupported
from snngraph.compiler.program import Program
from snngraph.runtimes.loihi.emulator import Chip
from snngraph.schemas import ir as ops

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError

F32 = np.float32
HOST_FUSE_WORK = 500


class LoihiBackend:
    def __init__(self, program: Program, seed: int, fuse: bool | str = "auto"):
        from snngraph.runtimes.numba_cpu import NumbaBackend

        if program.target != "loihi":
            raise CompileError(f"backend 'loihi' runs programs compiled for target='loihi' "
                               f"(this one is for {program.target!r})")
        self.program, self.seed = program, seed
        ir = program.ir
        refuse_unsupported(ir, "loihi")
        pre, post = _host_parts(ir)
        self.boundary = {op.name: ir.inputs(op.name)[0] for op in ir.ops()
                         if op.op == "spike_input"}
        self.outputs = {op.name: ir.inputs(op.name)[0] for op in ir.ops()
                        if op.op == "spike_output"}
        self.amplitude = {n: spec_from_dict(ir.op(src).neuron).amplitude / ir.dt
                          for n, src in self.outputs.items()}
        # The host parts are a few ops beside a chip run that costs far more per step:
        # their per-step overhead op by op (~20 us) would be most of the host's time, so
        # they are fused from runs of ~100 steps (compiled once per structure, cached).
        host = {"fuse": fuse, "fuse_work": HOST_FUSE_WORK}
        self.pre = NumbaBackend(_subprogram(ir, pre, self.boundary, {}), seed, **host)
        self.post = NumbaBackend(_subprogram(ir, post, {}, self.outputs), seed, **host) \
            if post else None
        self.chip = Chip(program)
        self.batch = 0

    def allocate(self, batch: int) -> None:
        if batch == self.batch:
            return
        self.batch = batch
        self.pre.allocate(batch)
        if self.post:
            self.post.allocate(batch)
        self.chip.allocate(batch)

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.pre.reset(seed)
        if self.post:
            self.post.reset(seed)
        self.chip.reset()

    def run(self, n_steps: int, feeds: dict[str, np.ndarray], t0: int, example0: int,
            bar: Any) -> dict[str, np.ndarray]:
        pre_feeds = {k: v for k, v in feeds.items() if k in self.pre.executors}
        records = self.pre.run(n_steps, pre_feeds, t0, example0, None)
        host = {n: (records.pop(_rec(n)).reshape(self.batch, n_steps, -1) != 0).astype(np.uint8)
                for n in self.boundary}
        chip = self.chip.run(n_steps, host)
        for message in self.chip.overflow_report():
            warnings.warn(message, stacklevel=2)
        if self.post:
            post_feeds = {k: v for k, v in feeds.items() if k in self.post.executors}
            for name, src in self.outputs.items():
                post_feeds[name] = chip[src].astype(F32) * F32(self.amplitude[name])
            records.update(self.post.run(n_steps, post_feeds, t0, example0, None))
        if bar:
            bar.update(n_steps)
            bar.close()
        self.last_chip = chip
        return records


def _rec(name: str) -> str:
    return f"{name}.rec"


def _host_parts(ir: IR) -> tuple[set[str], set[str]]:
    host = {n for n in ir.graph.nodes if not ir.op(n).chip}
    post: set[str] = set()
    for name in ir.graph.nodes:
        if ir.op(name).op == "spike_output":
            post |= {name} | (nx.descendants(ir.graph, name) & host)
    for name in list(post):  # what post reads on the host runs there too
        post |= nx.ancestors(ir.graph.subgraph(host), name)
    feeds_chip = _feeds_chip(ir, host)
    if any(_reads_chip(ir, n) for n in feeds_chip):
        raise CompileError(
            "backend 'loihi': a host op that sends spikes to the chip depends on the chip's "
            "own output (a host -> chip -> host loop); the emulator runs the host and the "
            "chip in separate passes and cannot run it yet\n  fix: keep the loop on the "
            "chip, or run on backend='numba'")
    pre = (host - post) | feeds_chip
    return pre, post


def _reads_chip(ir: IR, name: str) -> bool:
    return any(ir.op(a).op == "spike_output" for a in nx.ancestors(ir.graph, name)) or \
        ir.op(name).op == "spike_output"


def _feeds_chip(ir: IR, host: set[str]) -> set[str]:
    needed: set[str] = set()
    for name in ir.graph.nodes:
        if ir.op(name).op == "spike_input":
            needed |= nx.ancestors(ir.graph, name) & host
    return needed


def _subprogram(ir: IR, keep: set[str], record: dict[str, str],
                feeds: dict[str, str]) -> Program:
    """A host program of the ops in ``keep``: a probe records each spike input's source
    (``record``), and each ``spike_output`` becomes an input fed with chip spikes."""
    from snngraph.compiler.passes.schedule import schedule

    sub = ir.copy()
    for name in list(sub.graph.nodes):
        if name not in keep:
            sub.graph.remove_node(name)
    for name in feeds:
        op = sub.op(name)
        default = sub.param(f"{name}.default", np.zeros(op.size))
        preds = list(sub.graph.predecessors(name))
        sub.graph.remove_edges_from([(p, name) for p in preds])
        sub.graph.nodes[name]["op"] = ops.Input(name=name, shape=op.shape, kind="spikes",
                                                src=op.src, default=default)
    for inp, source in record.items():
        sub.add(ops.Probe(name=_rec(inp), shape=sub.op(source).shape, kind="spikes",
                          target=source, attr="output"), [source])
    schedule(sub, None)
    return Program(sub, target="cpu", passes=[], timings={})
