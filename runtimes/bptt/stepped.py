"""Recurrent units run step by step: within a step, ops in the plan's order (delays
first: they read the previous step); each op's value is filled row block by row block,
and its per-step tape kept in a list. The reverse pass walks the steps backwards."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt import neurons
from snngraph.runtimes.bptt.blocks import expand, history, keep_history, rows_of
from snngraph.runtimes.bptt.values import Value, accumulate, per_step
from snngraph.runtimes.rate.vjp import RULES
from snngraph.runtimes.rate.vjp import where as _where

from snngraph.errors import CompileError


# ------------------------------------------------------------------ forward
def forward(m: Any, unit: list[str], values: dict[str, Value], tape: dict[str, Any]) -> None:
    ir, batch = m.ir, m.batch
    for name in unit:
        _check_steppable(m, ir.op(name), unit)
        values[name] = Value(np.zeros((m.rows, ir.op(name).size), np.float32), False)
        tape[name] = [None] * m.steps
    states = {n: neurons.initial_state(m, ir.op(n)) for n in unit if ir.op(n).op == "neurons"}
    before = {n: history(m, n, ir.op(n).size, ir.op(n).steps)
              for n in unit if ir.op(n).op == "delay"}
    saved = {n: np.empty((m.steps, batch, m.neurons[n].saved, ir.op(n).size), np.float32)
             for n in states}
    for t in range(m.steps):
        rows = slice(t * batch, (t + 1) * batch)
        for name in unit:
            _step(m, ir.op(name), t, rows, values, tape, states, before, saved)
    for n in states:
        tape[n] = saved[n]
        m.carry_out[n] = states[n]
    for n in before:
        src = ir.inputs(n)[0]
        keep_history(m, n, before[n], expand(m, values[src]), ir.op(n).steps)


def _check_steppable(m: Any, op: Any, unit: list[str]) -> None:
    # the kind's ``steppable`` trait (schemas/ir.py): its rules allocate fresh outputs at
    # every call, so it may sit inside a recurrent unit
    if not op.steppable:
        raise CompileError(
            f"{_where(op)}: a {op.op!r} op inside a recurrent loop cannot be trained "
            f"through time yet (loop: {', '.join(unit)}); recurrent connections may "
            "hold dense or elementwise transforms")
    if op.op == "neurons" and m.neurons[op.name] is None:
        neurons.no_bptt(op)


def _step(m: Any, op: Any, t: int, rows: slice, values: dict, tape: dict, states: dict,
          before: dict, saved: dict) -> None:
    """One op of the unit at step ``t``."""
    batch, name = m.batch, op.name
    if op.op == "delay":
        if t >= op.steps:
            src = m.ir.inputs(name)[0]
            back = slice((t - op.steps) * batch, (t - op.steps + 1) * batch)
            values[name].data[rows] = rows_of(values[src], back)
        else:
            values[name].data[rows] = before[name][t * batch:(t + 1) * batch]
        return
    x = None
    for i in m.ir.inputs(name):
        part = rows_of(values[i], rows)
        x = part.copy() if x is None else x + part
    if op.op == "neurons":
        J = (x * m.param(op.gain) + m.param(op.bias) if x is not None
             else np.broadcast_to(m.param(op.bias), (batch, op.size)))
        out = values[name].data[rows].reshape(1, batch, op.size)
        J = np.ascontiguousarray(J, np.float32).reshape(1, batch, op.size)
        neurons.run_forward(m.neurons[name], batch, J, states[name],
                            neurons.spike_code(m, name), out, saved[name][t:t + 1])
        return
    y, s = RULES[op.op].forward(m, op, x)
    values[name].data[rows] = y
    tape[name][t] = s


# ------------------------------------------------------------------ backward
class _Adjoints:
    """The reverse pass's running sums: per op of the unit (``unit``), for the neurons'
    state (``carry``), for delays' reads before the first step (``back_rows``) and for
    inputs from outside the unit (``outside``)."""

    def __init__(self, m: Any, unit: list[str], acc: dict):
        ir = m.ir
        self.unit = {n: np.zeros((m.rows, ir.op(n).size), np.float32) for n in unit}
        for n in unit:
            if n in acc:
                self.unit[n] += acc.pop(n)
        self.carry = {n: neurons.adjoint(m, ir.op(n)) for n in unit
                      if ir.op(n).op == "neurons"}
        self.back_rows = {n: np.zeros((ir.op(n).steps * m.batch, ir.op(n).size), np.float32)
                          for n in unit if ir.op(n).op == "delay"}
        self.outside: dict[str, np.ndarray] = {}


def backward(m: Any, unit: list[str], values: dict, tape: dict, acc: dict,
             grads: dict) -> None:
    ir = m.ir
    adj = _Adjoints(m, unit, acc)
    # a linear op fed by one value of the unit: its weight gradient over all steps is
    # one matrix product of the full adjoint and input (not T small ones)
    deferred = {n for n in unit if ir.op(n).op == "linear" and len(ir.inputs(n)) == 1
                and ir.inputs(n)[0] in adj.unit}
    for t in range(m.steps - 1, -1, -1):
        rows = slice(t * m.batch, (t + 1) * m.batch)
        for name in reversed(unit):
            dx = _step_back(m, ir.op(name), t, rows, adj, tape, grads, name in deferred)
            if dx is not None:
                _send_step(m, name, rows, dx, adj)
    for n, c in adj.carry.items():
        m.adj_out[n] = c
    for n, rows_ in adj.back_rows.items():
        m.adj_out[("delay", n)] = rows_
    for name in deferred:
        x = values[ir.inputs(name)[0]].data
        _, g = RULES["linear"].backward(m, ir.op(name), x, adj.unit[name], False)
        m.work.add_grads(grads, g)
    for i, d in adj.outside.items():
        if values[i].static:
            d = per_step(d, m.steps, m.batch)
        accumulate(acc, i, d)


def _step_back(m: Any, op: Any, t: int, rows: slice, adj: _Adjoints, tape: dict,
               grads: dict, deferred: bool) -> np.ndarray | None:
    """The adjoint of one op's input at step ``t`` (None for a delay: it sends its
    adjoint back ``steps`` steps itself)."""
    batch, name = m.batch, op.name
    dy = adj.unit[name][rows]
    if op.op == "delay":
        if t >= op.steps:
            src = m.ir.inputs(name)[0]
            back = slice((t - op.steps) * batch, (t - op.steps + 1) * batch)
            if src in adj.unit:
                adj.unit[src][back] += dy
        else:  # read before the first step: belongs to the earlier steps
            adj.back_rows[name][t * batch:(t + 1) * batch] = dy
        return None
    if op.op == "neurons":
        dJ = np.empty((1, batch, op.size), np.float32)
        neurons.run_backward(m.neurons[name], batch,
                             np.ascontiguousarray(dy).reshape(1, batch, -1),
                             tape[name][t:t + 1], neurons.spike_code(m, name),
                             adj.carry[name], dJ)
        dJ = dJ.reshape(batch, op.size)
        m.work.add_grads(grads, {op.bias: dJ.sum(0)})
        return dJ * m.param(op.gain)
    if deferred:  # dx now; the weight gradient once, after the loop
        w = m.param(op.weights)
        return dy * w if w.ndim == 1 else dy @ w
    dx, g = RULES[op.op].backward(m, op, tape[name][t], dy, True)
    m.work.add_grads(grads, g)
    return dx


def _send_step(m: Any, name: str, rows: slice, dx: np.ndarray, adj: _Adjoints) -> None:
    for i in m.ir.inputs(name):
        if i in adj.unit:
            adj.unit[i][rows] += dx
        elif m.needs_grad[i]:
            if i not in adj.outside:
                adj.outside[i] = np.zeros((m.rows, m.ir.op(i).size), np.float32)
            adj.outside[i][rows] += dx
