"""Checkpoint segments (``fit(checkpoint_every=k)``): the forward pass in segments of
``k`` steps keeping only the outputs and the state at each segment's start; the reverse
pass recomputes one segment at a time, so memory holds about ``k`` steps of tape."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt.values import SegmentTape, Value, feed_time_major

from snngraph.errors import CompileError


def forward(m: Any, feeds: dict[str, np.ndarray], outputs: list[str], steps: int,
            batch: int, every: int) -> tuple[dict[str, Value], SegmentTape]:
    prepared = {k: feed_time_major(v, steps) for k, v in feeds.items()}
    seg = SegmentTape(prepared, _segments(m, steps, every), [], outputs, batch, ())
    parts: dict[str, list] = {o: [] for o in outputs}
    m.carry_in = {}
    for k in range(len(seg.segments)):
        seg.carries.append(m.carry_in)
        values, _ = run(m, seg, k)
        for o in outputs:  # copies: the next segment reuses the work buffers
            parts[o].append(Value(values[o].data.copy(), values[o].static))
        m.carry_in = m.carry_out
    m.carry_in, m.t0 = {}, 0
    m.steps, m.rows = steps, steps * batch
    return {o: _joined(vs, seg.segments) for o, vs in parts.items()}, seg


def _segments(m: Any, steps: int, every: int) -> list[tuple[int, int]]:
    longest = max([op.steps for op in m.ir.ops() if op.op == "delay"], default=1)
    if every < longest:
        raise CompileError(f"fit.checkpoint_every={every}: segments must be at least as "
                           f"long as the longest delay ({longest} steps)")
    segments = [(t0, min(t0 + every, steps)) for t0 in range(0, steps, every)]
    if len(segments) > 1 and segments[-1][1] - segments[-1][0] < longest:
        segments[-2:] = [(segments[-2][0], steps)]  # a delay reads one segment back
    return segments


def _joined(vs: list[Value], segments: list[tuple[int, int]]) -> Value:
    if all(v.static for v in vs):
        return vs[0]
    return Value(np.concatenate([v.data if not v.static else np.tile(
        v.data, ((t1 - t0), 1)) for v, (t0, t1) in zip(vs, segments)]), False)


def run(m: Any, seg: SegmentTape, k: int) -> tuple[dict, dict]:
    """Segment ``k``'s forward pass (from its carried-in state)."""
    t0, t1 = seg.segments[k]
    b = seg.batch
    m.t0 = t0
    feeds = {name: (d if static else d[t0 * b:t1 * b], static)
             for name, (d, static) in seg.feeds.items()}
    return m.forward_steps(feeds, seg.outputs, t1 - t0, b)


def backward(m: Any, seg: SegmentTape, dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    grads: dict[str, np.ndarray] = {}
    b = seg.batch
    m.adj_in = {}
    for k in range(len(seg.segments) - 1, -1, -1):
        t0, t1 = seg.segments[k]
        m.carry_in = seg.carries[k]
        values, tape = run(m, seg, k)
        part = m.backward_steps(values, tape, {n: d[t0 * b:t1 * b] for n, d in dys.items()})
        for key, g in part.items():
            grads[key] = grads[key] + g if key in grads else g
        m.adj_in = m.adj_out
    m.adj_in, m.carry_in, m.t0 = {}, {}, 0
    return grads
