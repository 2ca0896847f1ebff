"""Values and tapes of the BPTT runtime, and the time-major layout.

Every value is time-major, ``[T * B, n]`` (row ``t * B + b``), so a stateless op runs once
over all steps as one matrix product; a value that does not change over time (an image
fed with one step, and everything computed from it alone) stays ``[B, n]`` (``static``)
and is broadcast where it meets time.
"""

from __future__ import annotations

import numpy as np
from snngraph.runtimes.parallel import row_blocks


class Value:
    """An op's value: ``data`` is ``[T * B, n]``, or ``[B, n]`` when ``static``;
    ``counts``, when the op that made it knows them, the nonzeros of each row (an
    encoder's spikes: a linear map reading them goes event-driven without scanning)."""

    __slots__ = ("counts", "data", "static")

    def __init__(self, data: np.ndarray, static: bool, counts: np.ndarray | None = None):
        self.data, self.static, self.counts = data, static, counts


class SparseInput:
    """The tape of an op run event-driven: its (mostly zero) input, and for a linear op
    its events (CSR)."""

    __slots__ = ("events", "x")

    def __init__(self, x: np.ndarray, events: tuple | None = None):
        self.x, self.events = x, events


class FusedLayer:
    """The tape of a fused recurrent layer: its ops and the neurons' saved values."""

    __slots__ = ("layer", "saved")

    def __init__(self, layer: tuple[str, str, str], saved: np.ndarray):
        self.layer, self.saved = layer, saved


class SegmentTape:
    """What the reverse pass of a checkpointed forward keeps: the feeds, the segments,
    the state at each segment's start and the outputs' names."""

    def __init__(self, feeds: dict, segments: list, carries: list, outputs: list,
                 batch: int, key: tuple):
        self.feeds, self.segments, self.carries = feeds, segments, carries
        self.outputs, self.batch, self.key = outputs, batch, key


def feed_time_major(v: np.ndarray, steps: int) -> tuple[np.ndarray, bool]:
    """A feed ``[B, s, n]`` as ``([B, n], static)`` for ``s = 1`` or ``([T * B, n], False)``."""
    v = np.asarray(v, np.float32)
    if v.shape[1] == 1:
        return np.ascontiguousarray(v[:, 0]), True
    return np.ascontiguousarray(v.transpose(1, 0, 2)).reshape(steps * len(v), -1), False


def to_examples(v: Value, steps: int, batch: int) -> np.ndarray:
    """A time-major value as ``[batch, steps, n]`` (what losses and metrics take)."""
    if v.static:
        return np.broadcast_to(v.data[:, None], (batch, steps, v.data.shape[1]))
    return v.data.reshape(steps, batch, -1).transpose(1, 0, 2)


def to_time_major(g: np.ndarray) -> np.ndarray:
    """``[batch, steps, n]`` as time-major rows ``[steps * batch, n]``."""
    return np.ascontiguousarray(g.transpose(1, 0, 2)).reshape(-1, g.shape[2])


def per_step(d: np.ndarray, steps: int, batch: int) -> np.ndarray:
    """Time-major rows summed over the steps: the adjoint of a static value."""
    return d.reshape(steps, batch, -1).sum(0)


def accumulate(acc: dict, key: str, d: np.ndarray) -> None:
    acc[key] = acc[key] + d if key in acc else d


def blocks(batch: int, work: int) -> list[tuple[int, int]]:
    """Examples split over the machine's threads when there is enough ``work`` per
    example for threads to pay (each example is independent: the split changes no bit)."""
    return row_blocks(batch, work, min_work=50_000)
