"""The emulated chip: every on-chip layer of a discretised Program, stepped together.

Spikes move between layers (and from ``spike_input``s) with the chip's one-step delay:
what a layer emits at step t reaches its targets' currents at step t + 1, as in
NengoLoihi's emulator (``inject_current`` reads the previous update's ``spiked``; host
spikes are delivered likewise). State is integer and per example, so a minibatch of
examples runs side by side; ``run`` may be called repeatedly (time continues).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from snngraph.compiler.chip import chip_inputs, chip_neurons, describe
from snngraph.compiler.loihi_report import Activity
from snngraph.compiler.passes.discretize import key
from snngraph.runtimes.loihi import kernels
from snngraph.runtimes.loihi.learning import ChipPES
from snngraph.runtimes.numba_cpu.executor import SERIAL_BELOW

from snngraph.geometry import leading_pads

FIELDS = ("decay_u", "decay_v", "vth", "bias", "ref", "vmin", "vmax")


@dataclass
class Synapses:
    """One connection into a layer: its source and integer weights."""

    source: str
    weights: np.ndarray
    conv: tuple | None = None
    """(blockmap, shape_in, shape_out, strides, pads, single) for a convolution."""
    fanout: np.ndarray | None = None
    """Synapses each pre neuron's spike drives (for the synaptic-operation count)."""
    learn: Any = None
    """A learning synapse's state (``ChipPES``): its weights are per example."""


class Layer:
    def __init__(self, ir, name: str):
        self.name, self.op = name, ir.op(name)
        self.n = self.op.size
        self.params = {f: np.ascontiguousarray(ir.params[key(name, f)], np.int32)
                       for f in FIELDS}
        self.v_scale = ir.params[key(name, "v_scale")]
        self.synapses = []
        for k, conn in enumerate(chip_inputs(ir, name)):
            w = np.ascontiguousarray(ir.params[key(name, f"in{k}.w")], np.int32)
            conv = None
            if conn.weights is not None and ir.op(conn.weights).op == "conv2d":
                conv = _conv_geometry(ir.op(conn.weights),
                                      ir.params[key(name, f"in{k}.blockmap")], w)
            fanout = (np.full(w.shape[0], w.shape[1], np.int64) if conv is None
                      else _conv_fanout(ir.op(conn.weights), w.shape[1:3]))
            self.synapses.append(Synapses(conn.source, w, conv, fanout,
                                          _learning(ir, name, k, conn, w)))

    def allocate(self, batch: int) -> None:
        self.q = np.zeros((batch, self.n), np.int64)
        self.u = np.zeros((batch, self.n), np.int32)
        self.v = np.zeros((batch, self.n), np.int32)
        self.ref_count = np.zeros((batch, self.n), np.int32)
        self.spiked = np.zeros((batch, self.n), np.uint8)
        self.overflows = np.zeros(batch, np.int64)
        self.active = np.zeros(batch, np.int64)
        for syn in self.synapses:
            if syn.learn is not None:
                syn.learn.allocate(batch)
                syn.learn.reset(0)

    def reset(self, seed: int = 0) -> None:
        for a in (self.q, self.u, self.v, self.ref_count, self.spiked, self.overflows,
                  self.active):
            a[...] = 0
        for syn in self.synapses:
            if syn.learn is not None:
                syn.learn.reset(seed)


def _learning(ir, name: str, k: int, conn, w: np.ndarray) -> ChipPES | None:
    """The learning state of input ``k`` of layer ``name``, if a rule on the chip
    changes its weights (``pes_to_chip``)."""
    if conn.weights is None or not getattr(ir.op(conn.weights), "learned", False):
        return None
    rule = next(op for op in ir.ops() if op.op == "learn" and op.target == conn.weights)
    return ChipPES(ir, name, k, w, rule, seed_key=k + 1000 * sum(map(ord, name)))


def _mantissa(w: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``w = mantissa << shift`` with the largest common shift (``discretize`` makes the
    chip's weights 8-bit mantissas times a power of two), so that a row's sums of
    mantissas fit 32 bits; None if they might not."""
    nonzero = w[w != 0].astype(np.int64)
    if nonzero.size == 0:
        return 0, np.zeros(w.shape, np.int64)
    lowest = int(np.bitwise_and(nonzero, -nonzero).min())  # the lowest set bit over all
    shift = lowest.bit_length() - 1
    mantissa = w.astype(np.int64) >> shift
    if int(np.abs(mantissa).max()) * w.shape[0] >= 2**31:
        return None
    return shift, mantissa


def _conv_fanout(op, kernel_hw: tuple[int, int]) -> np.ndarray:
    """Per input neuron (channels last): output positions it reaches x output channels."""
    h, w, c_in = op.shape_in
    ho, wo, c_out = op.shape
    pads = leading_pads((h, w), kernel_hw, op.strides, op.padding)
    counts = []
    for n, n_out, k, s, p in zip((h, w), (ho, wo), kernel_hw, op.strides, pads):
        i = np.arange(n)[:, None]
        o = np.arange(n_out)[None, :]
        k_idx = i + p - o * s
        counts.append(((k_idx >= 0) & (k_idx < k)).sum(axis=1))
    per_pixel = counts[0][:, None] * counts[1][None, :] * c_out
    return np.repeat(per_pixel.reshape(-1), c_in).astype(np.int64)


def _conv_geometry(op, blockmap: np.ndarray, w: np.ndarray) -> tuple:
    kh, kw = w.shape[1:3]
    h, wd, _ = op.shape_in
    pads = leading_pads((h, wd), (kh, kw), op.strides, op.padding)
    single = np.all(w == w[:1])  # all blocks share one integer kernel: skip the lookup
    return (np.ascontiguousarray(blockmap, np.int32), np.array(op.shape_in, np.int64),
            np.array(op.shape, np.int64), np.array(op.strides, np.int64),
            np.asarray(pads, np.int64), bool(single))


class Chip:
    """All on-chip layers of ``program``; ``run`` steps them in lockstep."""

    def __init__(self, program):
        ir = program.ir
        self.layers = [Layer(ir, n) for n in chip_neurons(ir)]
        self.inputs = [op.name for op in ir.ops() if op.op == "spike_input"]
        self.sizes = {n: ir.op(n).size for n in self.inputs}
        self.batch = 0
        self.activity = Activity()
        self.learning = [syn for layer in self.layers for syn in layer.synapses
                         if syn.learn is not None]
        self.t = 0
        # Fixed dense connections only (NEF models, W1-style layers): one kernel runs
        # every step of a run. Convolutions and learning step layer by layer from Python.
        self.fused = not self.learning and all(
            syn.conv is None for layer in self.layers for syn in layer.synapses)
        self.fused = self.fused and self._pack()

    def _pack(self) -> bool:
        """Lay every layer's state and parameters end to end (layer ``m`` holds
        compartments ``layer_off[m]:layer_off[m + 1]``, the host inputs follow in the
        spike vector) and every dense weight matrix's mantissas into one flat array; the
        layers' own arrays become views of these. False (nothing changed) if some
        weights' sums could overflow 32 bits."""
        split = [_mantissa(syn.weights) for layer in self.layers for syn in layer.synapses]
        if any(m is None for m in split):
            return False
        offsets, off = {}, 0
        for layer in self.layers:
            offsets[layer.name], off = off, off + layer.n
        self.n = off
        for name in self.inputs:
            offsets[name], off = off, off + self.sizes[name]
        self.offsets, self.width = offsets, off
        self.layer_off = np.array([offsets[x.name] for x in self.layers] + [self.n], np.int64)
        rows, start, mantissas, parts = [], 0, [], iter(split)
        for layer in self.layers:
            for syn in layer.synapses:
                shift, mantissa = next(parts)
                rows.append((offsets[syn.source], syn.weights.shape[0], offsets[layer.name],
                             syn.weights.shape[1], start, shift))
                mantissas.append(mantissa.ravel())
                start += syn.weights.size
        self.synapse_table = np.array(rows, np.int64).reshape(-1, 6)
        widest = max((np.abs(m).max(initial=0) for m in mantissas), default=0)
        dtype = next(t for t in (np.int8, np.int16, np.int32) if widest <= np.iinfo(t).max)
        self.weights = np.concatenate(mantissas).astype(dtype) if mantissas \
            else np.zeros(0, dtype)
        self.widest_target = int(self.synapse_table[:, 3].max(initial=0))
        self.params = {f: np.concatenate([x.params[f] for x in self.layers]).astype(np.int32)
                       if self.layers else np.zeros(0, np.int32) for f in FIELDS}
        for layer in self.layers:
            lo = offsets[layer.name]
            layer.params = {f: a[lo:lo + layer.n] for f, a in self.params.items()}
        return True

    def allocate(self, batch: int) -> None:
        self.batch = batch
        if self.fused:
            self._allocate_packed(batch)
            return
        for layer in self.layers:
            layer.allocate(batch)
        self.last_in = {n: np.zeros((batch, s), np.uint8) for n, s in self.sizes.items()}

    def _allocate_packed(self, batch: int) -> None:
        n = self.n
        self.q = np.zeros((batch, n), np.int64)
        self.u, self.v, self.ref_count = (np.zeros((batch, n), np.int32) for _ in range(3))
        self.spikes = np.zeros((batch, self.width), np.uint8)
        self.overflows = np.zeros((batch, len(self.layers)), np.int64)
        self.active = np.zeros((batch, len(self.layers)), np.int64)
        for m, layer in enumerate(self.layers):
            part = slice(self.layer_off[m], self.layer_off[m + 1])
            layer.q, layer.u, layer.v = self.q[:, part], self.u[:, part], self.v[:, part]
            layer.ref_count, layer.spiked = self.ref_count[:, part], self.spikes[:, part]
            layer.overflows, layer.active = self.overflows[:, m], self.active[:, m]
        self.last_in = {name: self.spikes[:, self.offsets[name]:self.offsets[name] + size]
                        for name, size in self.sizes.items()}
        self.acc = np.zeros((batch, self.widest_target), np.int32)  # the mantissas' sums
        self._no_host = np.zeros((batch, 1, 0), np.uint8)  # one step, inputs set before
        self._step_out = np.zeros((batch, 1, n), np.uint8)

    def reset(self, seed: int = 0) -> None:
        for layer in self.layers:
            layer.reset(seed)
        for a in self.last_in.values():
            a[...] = 0
        self.t = 0

    def run(self, n_steps: int, host: dict[str, np.ndarray],
            errors: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Step ``n_steps``; ``host[spike_input] = [batch, n_steps, n]`` 0/1 spikes made by
        the host in these steps, ``errors[learn op] = [batch, n_steps, d]`` the errors it
        computed for the rules learning on the chip. Returns each layer's spikes
        ``[batch, n_steps, n]``."""
        if self.fused:
            return self._run_packed(n_steps, host)
        self.begin(n_steps, host, errors)
        self._steps(0, n_steps)
        return self.end()

    def _run_packed(self, n_steps: int, host: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = self.batch
        parts = [np.asarray(host[name], np.uint8) for name in self.inputs]
        host_all = (np.concatenate(parts, axis=2) if parts
                    else np.zeros((batch, n_steps, 0), np.uint8))
        out_all = np.zeros((batch, n_steps, self.n), np.uint8)
        self._kernel(host_all, out_all)
        self.t += n_steps
        out = {layer.name: out_all[:, :, self.layer_off[m]:self.layer_off[m + 1]]
               for m, layer in enumerate(self.layers)}
        self._count(n_steps, host, out)
        return out

    def _kernel(self, host: np.ndarray, out: np.ndarray) -> None:
        """Steps as many as ``host`` has columns; ``host[:, t]`` enters the spike vector
        after step t (it arrives at t + 1), ``out[:, t]`` are the compartments' spikes."""
        run = kernels.run_dense_serial if self.batch < SERIAL_BELOW else kernels.run_dense
        p = self.params
        run(host, self.synapse_table, self.weights, self.layer_off, self.q, self.u, self.v,
            self.ref_count, p["decay_u"], p["decay_v"], p["vth"], p["bias"], p["ref"],
            p["vmin"], p["vmax"], self.spikes, out, self.overflows, self.active, self.acc)

    def begin(self, n_steps: int, host: dict[str, np.ndarray],
              errors: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Begin a run that the caller advances with ``step(k)`` and ends with ``end()``.
        ``host`` and ``errors`` may be filled as the run goes: step ``k`` reads column
        ``k - 1`` (what the host sent in the previous step). Returns the layers' spike
        arrays, filled column ``k`` by step ``k``."""
        self._host, self._n_steps, self._errors = host, n_steps, errors or {}
        self._out = {layer.name: np.zeros((self.batch, n_steps, layer.n), np.uint8)
                     for layer in self.layers}
        self._spikes = {n: self.last_in[n] for n in self.inputs}
        for layer in self.layers:
            self._spikes[layer.name] = layer.spiked
        return self._out

    def step(self, k: int) -> None:
        self._steps(k, k + 1)

    def _steps(self, first: int, last: int) -> None:
        """Steps ``first`` to ``last - 1`` (the loop's state in locals: a tiny network's
        step is a few microseconds, so lookups count)."""
        if self.fused:
            return self._steps_packed(first, last)
        spikes, host, inputs, layers = self._spikes, self._host, self.inputs, self.layers
        serial = self.batch < SERIAL_BELOW  # a parallel region per call costs more
        update = kernels.update_serial if serial else kernels.update
        for k in range(first, last):
            if k > 0:  # host spikes and errors of the previous step arrive now (host link)
                for n in inputs:
                    spikes[n] = np.ascontiguousarray(host[n][:, k - 1])
                for syn in self.learning:
                    syn.learn.receive(self._errors[syn.learn.rule][:, k - 1])
            for layer in layers:  # inputs: everything emitted at the previous step
                for syn in layer.synapses:
                    _deliver(syn, spikes[syn.source], layer.q, serial)
            self.t += 1
            for syn in self.learning:  # traces, then weights, after the input (NengoLoihi)
                syn.learn.step(self.t, spikes[syn.source])
            for layer in layers:
                p = layer.params
                update(layer.q, layer.u, layer.v, layer.ref_count, p["decay_u"],
                       p["decay_v"], p["vth"], p["bias"], p["ref"], p["vmin"],
                       p["vmax"], layer.spiked, layer.overflows, layer.active)
                self._out[layer.name][:, k] = layer.spiked

    def _steps_packed(self, first: int, last: int) -> None:
        """``_steps`` on the packed chip: the host's spikes of the previous step go into
        the spike vector, then one step of the whole-run kernel."""
        for k in range(first, last):
            if k > 0:
                for n in self.inputs:
                    self.last_in[n][...] = self._host[n][:, k - 1]
            self._kernel(self._no_host, self._step_out)
            self.t += 1
            for m, layer in enumerate(self.layers):
                self._out[layer.name][:, k] = \
                    self._step_out[:, 0, self.layer_off[m]:self.layer_off[m + 1]]

    def end(self) -> dict[str, np.ndarray]:
        """The layers' spikes of the run begun by ``begin``; the last host spikes are kept
        for the first step of the next run."""
        n_steps, host, out = self._n_steps, self._host, self._out
        for n in self.inputs:  # in place: on the packed chip these are its spike vector
            if n_steps:
                self.last_in[n][...] = host[n][:, n_steps - 1]
        for syn in self.learning:  # the last error reaches the first step of the next run
            if n_steps:
                syn.learn.receive(self._errors[syn.learn.rule][:, n_steps - 1])
        self._count(n_steps, host, out)
        return out

    def _count(self, n_steps: int, host: dict, out: dict) -> None:
        """Accumulate spikes, synaptic operations and active updates for the energy
        estimate (``activity``)."""
        a = self.activity
        a.steps = max(a.steps, n_steps)
        a.example_steps += self.batch * n_steps
        for layer in self.layers:
            a.spikes[layer.name] = a.spikes.get(layer.name, 0) + int(out[layer.name].sum())
            a.active[layer.name] = a.active.get(layer.name, 0) + int(layer.active.sum())
            layer.active[...] = 0
            for k, syn in enumerate(layer.synapses):
                src = out.get(syn.source, host.get(syn.source))
                counts = src.sum(axis=(0, 1), dtype=np.int64)
                key = f"{layer.name}.in{k}"
                a.synops[key] = a.synops.get(key, 0) + int(counts @ syn.fanout)

    def overflow_report(self) -> list[str]:
        """Overflows of the layers' integers, and PES errors clipped to 8 bits."""
        clipped = [syn.learn.clip_report() for syn in self.learning]
        return [f"{describe(layer.op)}: {int(layer.overflows.sum())} integer overflow(s) "
                "(input or current beyond the chip's 21/23 bits; the values wrapped)"
                for layer in self.layers if layer.overflows.any()] + \
            [c for c in clipped if c]


def _deliver(syn: Synapses, spikes: np.ndarray, q: np.ndarray, serial: bool) -> None:
    if syn.learn is not None:
        kernels.dense_input_each(spikes, syn.learn.w, q)
    elif syn.conv is None:
        (kernels.dense_input_serial if serial else kernels.dense_input)(spikes, syn.weights, q)
    else:
        blockmap, shape_in, shape_out, strides, pads, single = syn.conv
        conv = kernels.conv_input_serial if serial else kernels.conv_input
        conv(spikes, syn.weights[:1] if single else syn.weights, blockmap, shape_in,
             shape_out, strides, pads, q)
