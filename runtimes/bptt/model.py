"""``BpttModel``: a spiking program unrolled over T steps, differentiable by BPTT.

The forward pass runs the spiking network as the numba runtime does (real 0/1 spikes, the
neuron types' own update, state carried from step to step) over a minibatch, keeping what
the reverse pass needs; the reverse pass runs the rate runtime's VJP rules (vjp.py) and
the neurons' ``bptt_kernels`` backwards through time, the neuron's surrogate standing in
for the spike's derivative.

How the program runs is the compiler's plan (``compiler/passes/plan_bptt.py``, recorded
as ``bptt:`` notes in the program's dump): its *units*, in order, are single ops run over
all steps at once (blocks.py: a stateless op as one matrix product over ``[T * B, n]``
rows, a neuron op as one scan kernel) or recurrent units run step by step (stepped.py),
a recurrent layer as one kernel (fused.py); sparse inputs may run event-driven
(sparse.py). Values are time-major (values.py); checkpoint segments are segments.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.compiler.ops import refuse_unsupported
from snngraph.compiler.passes.plan_bptt import plan_of
from snngraph.runtimes.bptt import blocks, fused, neurons, segments, sparse, stepped
from snngraph.runtimes.bptt.values import (  # noqa: F401  (to_examples, to_time_major: API)
    FusedLayer,
    SegmentTape,
    Value,
    feed_time_major,
    to_examples,
    to_time_major,
)
from snngraph.runtimes.numba_cpu.backend import op_ids
from snngraph.runtimes.rate.model import Workspace, needed, rule_buffer, rule_curve, rule_param


class BpttModel:
    """The BPTT model (the training loop's ``TrainableModel``, with ``forward_steps`` /
    ``forward_segments``, ``backward``, ``params``), and the context its rules read
    (``param``, ``buffer``, ``rows``...). Shared parts with the rate model live in a
    ``Workspace``."""

    def __init__(self, program: Any, trainable: set[str] | None = None,
                 seed: int | None = None):
        ir = program.ir
        refuse_unsupported(ir, "bptt")
        self.work = Workspace(program, trainable)
        self.ir, self.dt, self.callables = ir, ir.dt, ir.callables
        self.params, self.trainable = self.work.params, self.work.trainable
        self.plan = plan_of(ir)
        self.units = [u.ops for u in self.plan.units]
        self.order = list(ir.schedule) or [n for u in self.units for n in u]
        self.op_ids = op_ids(ir)
        self.seed = seed if seed is not None else (ir.seed or 0)
        """Random draws (Poisson encoders) are the numba runtime's counter hash of (seed,
        op, example, step): with the Simulator's seed, training draws what ``predict``
        draws for the same example."""
        self.noise = 0
        """0: ``predict``'s draws; training sets epoch + 1 for new noise every epoch."""
        self.examples: np.ndarray | None = None
        """The minibatch's example indices in the dataset (None: 0 .. batch - 1)."""
        self.t0 = 0
        """The index of the first step being run (segments: checkpoint_every)."""
        self.feeds: dict[str, Any] = {}
        self.rows = self.steps = self.batch = 0
        self.neurons = {n: neurons.compile_neurons(ir.op(n), ir.dt) for n in self.order
                        if ir.op(n).op == "neurons"}
        self.needs_grad = self.work.needs_grad(self.units)
        self.carry_in: dict[Any, Any] = {}
        """State at the first step of the steps being run (segments: checkpoint_every)."""
        self.carry_out: dict[Any, Any] = {}
        self.adj_in: dict[Any, Any] = {}
        """Adjoints of that state from the later steps (the reverse pass of a segment)."""
        self.adj_out: dict[Any, Any] = {}
        self.fuse = True
        """Run recurrent layers (neurons <- linear <- delay <- neurons) as one kernel."""
        self.smooth = False
        """True: spikes are the surrogate's integral (for checking gradients)."""

    param, buffer, curve = rule_param, rule_buffer, rule_curve  # what the rules read

    def needed(self, outputs: list[str]) -> list[str]:
        return needed(self.ir, self.order, outputs)

    def draw_seed(self) -> int:
        """The seed of the counter hash: the run's own, or mixed with the training epoch
        (``noise``) so every epoch draws new spikes."""
        return (self.seed + (self.noise << 32)) % (1 << 63)

    # -- forward
    def forward_steps(self, feeds: dict[str, np.ndarray], outputs: list[str], steps: int,
                      batch: int) -> tuple[dict[str, Value], dict[str, Any]]:
        """Run ``steps`` steps of a minibatch of ``batch`` examples. ``feeds``: per input
        op ``[batch, steps or 1, size]``. Returns every needed op's Value and the tape."""
        self.steps, self.batch, self.rows = steps, batch, steps * batch
        self.feeds = {k: v if isinstance(v, tuple) else feed_time_major(v, steps)
                      for k, v in feeds.items()}
        self.carry_out = {}
        keep = set(self.needed(outputs))
        values: dict[str, Value] = {}
        tape: dict[str, Any] = {}
        for unit in self.plan.units:
            if not keep & set(unit.ops):
                continue
            if not unit.stepped:
                values[unit.ops[0]], tape[unit.ops[0]] = blocks.forward(self, unit.ops[0],
                                                                        values)
            elif self.fuse and unit.layer is not None:
                fused.forward(self, unit.layer, values, tape)
            else:
                stepped.forward(self, unit.ops, values, tape)
        self.feeds = {}
        return values, tape

    def forward_segments(self, feeds: dict[str, np.ndarray], outputs: list[str], steps: int,
                         batch: int, every: int) -> tuple[dict[str, Value], SegmentTape]:
        """``forward_steps`` in segments of ``every`` steps (``checkpoint_every``)."""
        return segments.forward(self, feeds, outputs, steps, batch, every)

    # -- backward
    def backward(self, tape: Any, dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The Trainer's entry point: ``tape`` is ``(values, tape)`` from
        ``forward_steps``, or the SegmentTape of ``forward_segments``."""
        if isinstance(tape, SegmentTape):
            return segments.backward(self, tape, dys)
        values, ops_tape = tape
        return self.backward_steps(values, ops_tape, dys)

    def backward_steps(self, values: dict[str, Value], tape: dict[str, Any],
                       dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradients of the trainable parameters, given ``d loss / d value`` (time-major
        ``[T * B, n]``) for the outputs."""
        acc: dict[str, np.ndarray] = dict(dys)
        grads: dict[str, np.ndarray] = {}
        self.adj_out = {}
        self._seed_delays(values, acc)
        for unit in reversed(self.plan.units):
            first = unit.ops[0]
            if first not in tape or not self.needs_grad[first]:
                continue
            if not unit.stepped:
                blocks.backward(self, first, values, tape, acc, grads)
            elif isinstance(tape[first], FusedLayer):
                fused.backward(self, unit.ops, tape[first], values, acc, grads,
                               unit.fused_batch)
            else:
                stepped.backward(self, unit.ops, values, tape, acc, grads)
        return grads

    def _seed_delays(self, values: dict, acc: dict) -> None:
        """The later steps' adjoints of the inputs that delays read back across the
        boundary: added to those inputs' last rows before the reverse pass."""
        for key, carried in self.adj_in.items():
            if not (isinstance(key, tuple) and key[0] == "delay"):
                continue
            src = self.ir.inputs(key[1])[0]
            if src not in values or not self.needs_grad.get(src, False):
                continue
            if values[src].static:
                part = carried.reshape(-1, self.batch, carried.shape[1]).sum(0)
            else:
                part = np.zeros((self.rows, carried.shape[1]), np.float32)
                part[self.rows - len(carried):] = carried
            acc[src] = acc[src] + part if src in acc else part

    # -- event-driven paths, by themselves (tests compare them with the dense rules)
    def _sparse_linear(self, op: Any, x: np.ndarray, events: tuple | None = None
                       ) -> np.ndarray:
        return sparse.linear_forward(self, op, x, events)

    def _sparse_linear_backward(self, op: Any, x: np.ndarray, dy: np.ndarray, need_dx: bool,
                                events: tuple | None = None) -> tuple:
        return sparse.linear_backward(self, op, x, dy, need_dx, events)

    def _sparse_conv(self, op: Any, x: np.ndarray) -> np.ndarray:
        return sparse.conv_forward(self, op, x)

    def _sparse_conv_backward(self, op: Any, x: np.ndarray, dy: np.ndarray,
                              need_dx: bool) -> tuple:
        return sparse.conv_backward(self, op, x, dy, need_dx,
                                    self.plan.grad_sparse_below.get(op.name, 0.0))
