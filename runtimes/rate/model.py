"""``RateModel``: a rate program as a differentiable function of its parameters.

``forward`` evaluates the ops a set of probes needs, in schedule order, over a block
of rows (examples x steps, every row independent at steady state), keeping what the
reverse pass needs; ``backward`` runs the rules of vjp.py in reverse order and returns
the gradient of every trainable parameter.

Also here, shared with the BPTT model by composition (both fit the training loop's
``TrainableModel`` protocol, runtimes/training/methods.py): ``Workspace``, the parts
every model holds (float32 copies of the parameters, work buffers, neuron curves, which
ops need gradients); and the ``rule_*`` methods the VJP rules call on the model they are
given.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from snngraph.compiler.ops import refuse_unsupported
from snngraph.runtimes.numba_cpu.backend import jit, parallel, row_blocks
from snngraph.runtimes.rate.vjp import RULES

from snngraph.document import spec_from_dict
from snngraph.errors import CompileError, op_origin


class Workspace:
    """What a model shares with the VJP rules whatever way it runs time: float32 copies of
    the parameters, the trainable keys, work buffers and neuron rate curves. Models hold
    one (composition) and hand its parts to the rules."""

    def __init__(self, program: Any, trainable: set[str] | None = None):
        ir = program.ir
        self.ir, self.dt, self.callables = ir, ir.dt, ir.callables
        self.params = {k: np.ascontiguousarray(v, np.float32) for k, v in ir.params.items()
                       if np.asarray(v).dtype.kind in "fiub"}
        self.trainable = set(ir.owners) if trainable is None else set(trainable)
        self.curves: dict[str, Any] = {}
        self.buffers: dict[tuple, np.ndarray] = {}

    def buffer(self, tag: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """A work array reused from minibatch to minibatch (allocated once per shape:
        large fresh arrays cost page faults every time). Valid until the next call
        with the same tag, i.e. through one forward and backward pass."""
        key = (tag, shape, np.dtype(dtype))
        buf = self.buffers.get(key)
        if buf is None:
            buf = self.buffers[key] = np.empty(shape, dtype)
        return buf

    def curve(self, op: Any) -> Any:
        if op.name not in self.curves:
            self.curves[op.name] = _curve(op, self.dt)
        return self.curves[op.name]

    def needs_grad(self, groups: list[list[str]]) -> dict[str, bool]:
        """Per op: upstream of (or at) a trainable parameter. ``groups``: ops evaluated
        together (a recurrent unit), in evaluation order; an op alone is its own group."""
        ir, need = self.ir, {}
        for group in groups:
            value = any(self.trainable & set(_keys(ir.op(n))) for n in group) or any(
                need.get(i, False) for n in group for i in ir.inputs(n) if i not in group)
            need.update(dict.fromkeys(group, value))
        return need

    def add_grads(self, grads: dict, g: dict) -> None:
        """Add a rule's parameter gradients ``g`` to ``grads`` (trainable keys only)."""
        for key, value in g.items():
            if key in self.trainable:
                grads[key] = grads[key] + value if key in grads else value


def needed(ir: Any, order: list[str], outputs: list[str]) -> list[str]:
    """The ops ``outputs`` depend on, in ``order``."""
    keep = set(outputs)
    for name in outputs:
        keep |= nx.ancestors(ir.graph, name)
    return [n for n in order if n in keep]


# What the VJP rules read from the model they get (``ctx``), for every model holding a
# ``Workspace`` as ``work`` and its parameters as ``params`` (models install them as
# methods: one definition, no base class).
def rule_param(model: Any, key: str) -> np.ndarray:
    return model.params[key]


def rule_buffer(model: Any, tag: str, shape: tuple[int, ...], dtype: Any = np.float32
                ) -> np.ndarray:
    return model.work.buffer(tag, shape, dtype)


def rule_curve(model: Any, op: Any) -> Any:
    return model.work.curve(op)


class RateModel:
    def __init__(self, program: Any, trainable: set[str] | None = None):
        ir = program.ir
        refuse_unsupported(ir, "rate")
        _check_feed_forward(ir)
        self.work = Workspace(program, trainable)
        self.ir, self.dt, self.callables = ir, ir.dt, ir.callables
        self.order = [n for n in (ir.schedule or nx.topological_sort(ir.graph))]
        self.params, self.trainable = self.work.params, self.work.trainable
        self.feeds: dict[str, np.ndarray] = {}
        self.rows = 0
        self.needs_grad = self.work.needs_grad([[n] for n in self.order])

    param, buffer, curve = rule_param, rule_buffer, rule_curve  # what the rules read

    # -- evaluation
    def needed(self, outputs: list[str]) -> list[str]:
        return needed(self.ir, self.order, outputs)

    def forward(self, feeds: dict[str, np.ndarray], outputs: list[str],
                rows: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Values of the ``outputs`` ops (and all before them) and the saved tape."""
        self.feeds, self.rows = feeds, rows
        values: dict[str, np.ndarray] = {}
        tape: dict[str, Any] = {}
        for name in self.needed(outputs):
            op = self.ir.op(name)
            ins = self.ir.inputs(name)
            x = None
            if ins:
                x = values[ins[0]]
                for other in ins[1:]:
                    x = x + values[other]
            values[name], tape[name] = RULES[op.op].forward(self, op, x)
        self.feeds = {}
        return values, tape

    def backward(self, tape: dict[str, Any], dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradients of the trainable parameters, given ``d loss / d output`` per probe."""
        acc: dict[str, np.ndarray] = {k: v for k, v in dys.items()}
        grads: dict[str, np.ndarray] = {}
        for name in reversed([n for n in self.order if n in tape]):
            dy = acc.pop(name, None)
            if dy is None or not self.needs_grad[name]:
                continue
            op = self.ir.op(name)
            ins = [i for i in self.ir.inputs(name) if self.needs_grad[i]]
            dx, g = RULES[op.op].backward(self, op, tape[name], dy, bool(ins))
            self.work.add_grads(grads, g)
            for i in ins:
                acc[i] = acc[i] + dx if i in acc else dx
        return grads


def _keys(op: Any) -> list[str]:
    from snngraph.compiler.ir import param_keys

    return param_keys(op)


def _check_feed_forward(ir: Any) -> None:
    if nx.is_directed_acyclic_graph(ir.graph):
        return
    cycle = nx.find_cycle(ir.graph)
    names = [a for a, _ in cycle]
    objs = "; ".join(dict.fromkeys(op_origin(ir.op(n), first=True)
                                   for n in names if ir.op(n).src))
    raise CompileError(f"rate runtime: the network has a recurrent loop ({' -> '.join(names)}: "
                       f"{objs}); a steady-state (rate) evaluation cannot represent its state."
                       "\n  fix: run it with the numba backend; train it through time "
                       "(surrogate gradients): sim.fit(..., method='bptt')")


# ------------------------------------------------------------------ neuron curves
def _curve(op: Any, dt: float) -> Any:
    """``(ctx, x, gain, bias) -> (rates, d rates / d J)`` for a neurons op, float32."""
    neuron = spec_from_dict(op.neuron)
    sigma = float(op.smoothing or 0.0)
    row_fn = neuron.rate_kernel()
    if row_fn is not None:
        kernel = jit(row_fn)
        params = tuple(np.ascontiguousarray(p, np.float32)
                       for p in neuron.rate_kernel_params(op.size, dt, sigma))

        def fast(ctx, x, gain, bias):
            out = ctx.buffer(f"{op.name}.out", x.shape)
            grad = ctx.buffer(f"{op.name}.grad", x.shape)
            parallel([(kernel, x[a:b], gain, bias, out[a:b], grad[a:b], *params)
                      for a, b in row_blocks(len(x), x.shape[1])])
            return out, grad
        return fast

    def plain(ctx, x, gain, bias):
        J = x * gain + bias
        return (neuron.rates(J, dt).astype(np.float32),
                neuron.rate_grad(J, dt, sigma).astype(np.float32))
    return plain
