"""The IR: one frozen pydantic model per op kind, a discriminated union on ``op``.

An op is a value with a static ``shape`` (batch excluded) and a ``kind`` (``real`` or
``spikes``). Its inputs are the graph's in-edges and are summed, as in Nengo. Arrays are
not stored in ops: an op names its parameters (``weights="%c1.w"``) and the Program keeps
them (saved in the ``.npz``). Every op remembers the user objects it came from (``src``)
and, when a pass made it, which pass (``made_by``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from snngraph.schemas.base import SourceLoc

Kind = Literal["real", "spikes"]
Every = Literal["step", "presentation"]


class Origin(BaseModel):
    """A user object an op came from: its class, label and creation site."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    obj: str
    """``Ensemble 'conv1'``-style name."""
    site: SourceLoc | None = None


class Op(BaseModel):
    """Fields shared by every op."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    shape: tuple[int, ...]
    kind: Kind = "real"
    src: tuple[Origin, ...] = ()
    made_by: str | None = None
    """The pass that created this op (None: made by lower)."""
    every: Every = "step"
    """``presentation``: time-invariant, computed once per presentation (hoisted)."""
    notes: tuple[str, ...] = ()
    """What passes did to this op, shown in the dump."""
    chip: bool = False
    """Loihi target: runs on the chip (set by ``split_host_chip``)."""

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class Input(Op):
    """A value the user feeds per example (``data={node: x}``), or its ``default``."""

    op: Literal["input"] = "input"
    default: str | None = None


class HostFn(Op):
    """A Python function of time (and input) run on the host each step."""

    op: Literal["host_fn"] = "host_fn"
    fn: str
    size_in: int = 0


class Process(Op):
    """A process (PresentInput, spike encoders), its spec as a document dict."""

    op: Literal["process"] = "process"
    process: dict[str, Any]
    size_in: int = 0


class Sum(Op):
    """The sum of its inputs (a passthrough Node)."""

    op: Literal["sum"] = "sum"


class Linear(Op):
    """``y = W x (+ b)`` with ``W`` of shape ``(size_out, size_in)``."""

    op: Literal["linear"] = "linear"
    weights: str
    bias: str | None = None
    shape_in: tuple[int, ...]
    role: Literal["transform", "encoders", "decoders", "current"] = "transform"
    """``current``: the input current ``J = gain * x + bias`` of a neurons op (``weights``
    and ``bias`` name that op's gain and bias), recorded by ``Probe(ens.neurons, "input")``."""
    zero_diagonal: bool = False
    """The diagonal of ``W`` stays zero in training (no autapses)."""


class Conv2d(Op):
    """2-D convolution; kernel ``(kh, kw, c_in, c_out)``, per-filter ``bias``."""

    op: Literal["conv2d"] = "conv2d"
    kernel: str
    bias: str | None = None
    shape_in: tuple[int, int, int]
    strides: tuple[int, int]
    padding: Literal["valid", "same"]
    channels_last: bool = True


class Pool2d(Op):
    """2-D pooling: ``kind`` avg, max or sum."""

    op: Literal["pool2d"] = "pool2d"
    pool: Literal["avg", "max", "sum"]
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padding: Literal["valid", "same"]
    shape_in: tuple[int, int, int]
    channels_last: bool = True


class Slice(Op):
    """``y = x[indices]``."""

    op: Literal["slice"] = "slice"
    indices: tuple[int, ...]
    size_in: int


class Scatter(Op):
    """``y = 0; y[indices] = x``: feeds part of a larger input."""

    op: Literal["scatter"] = "scatter"
    indices: tuple[int, ...]


class Block(BaseModel):
    """One Loihi core's share of a neuron op: a tile of the ensemble (``[start, stop)``
    per axis of ``ensemble_shape``), where it is placed, and what it uses of the core."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ranges: tuple[tuple[int, int], ...]
    core: int
    chip: int = 0
    compartments: int
    in_axons: int
    out_axons: int
    synapse_bits: int


class LoihiConfig(BaseModel):
    """The user's Loihi settings for a neuron op (``net.config[ens]``), kept by lower."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    on_chip: bool = True
    block_shape: tuple[int, ...] | None = None
    ensemble_shape: tuple[int, ...] | None = None


class Neurons(Op):
    """``J = gain * sum(inputs) + bias`` through the neuron type (rate or spike mode)."""

    op: Literal["neurons"] = "neurons"
    neuron: dict[str, Any]
    mode: Literal["rate", "spike"]
    gain: str
    bias: str
    state: tuple[str, ...] = ()
    smoothing: float | None = None
    """Rate mode, training: the soft-threshold width (sigma) of the LIF curve's gradient
    (NengoDL's ``lif_smoothing``); the forward value is the exact rate curve."""
    loihi: LoihiConfig = LoihiConfig()
    blocks: tuple[Block, ...] = ()
    """Loihi target: the cores this op is split across (set by ``partition``)."""


class Synapse(Op):
    """A linear filter; its output is its state from the previous step (a one-step
    delay, as Nengo's synapses), so a cycle through it is not an algebraic loop."""

    op: Literal["synapse"] = "synapse"
    synapse: dict[str, Any]


class Delay(Op):
    """A pure delay of ``steps`` whole steps."""

    op: Literal["delay"] = "delay"
    steps: int


class Probe(Op):
    """Records its input (``attr`` output) or a state of its target (e.g. voltage)."""

    op: Literal["probe"] = "probe"
    target: str
    attr: str
    label: str | None = None
    """The user's label of the Probe: a Simulator built from a Program keys its results
    by it."""
    sample_every: float | None = None
    synapse: dict[str, Any] | None = None
    """A filter still to be made explicit by insert_synapses."""


class SpikeInput(Op):
    """Loihi: host spikes entering the chip (they arrive one step later, as on the
    chip's host link)."""

    op: Literal["spike_input"] = "spike_input"


class SpikeOutput(Op):
    """Loihi: chip spikes read back by the host (same step)."""

    op: Literal["spike_output"] = "spike_output"


AnyOp = Annotated[
    Input | HostFn | Process | Sum | Linear | Conv2d | Pool2d | Slice | Scatter | Neurons
    | Synapse | Delay | Probe | SpikeInput | SpikeOutput,
    Field(discriminator="op"),
]
OP_KINDS: dict[str, type[Op]] = {
    cls.model_fields["op"].default: cls
    for cls in (Input, HostFn, Process, Sum, Linear, Conv2d, Pool2d, Slice, Scatter, Neurons,
                Synapse, Delay, Probe, SpikeInput, SpikeOutput)
}
STATEFUL_DELAY = ("synapse", "delay")
"""Op kinds whose output at a step does not depend on their input at that step."""


class ProgramDoc(BaseModel):
    """A saved Program: ops, edges, schedule and metadata; arrays live in the ``.npz``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["snngraph-program"] = "snngraph-program"
    version: int = 1
    target: str
    dt: float
    seed: int | None
    label: str | None = None
    passes: list[str]
    timings: dict[str, float]
    log: list[str]
    ops: list[AnyOp]
    edges: list[tuple[str, str]]
    schedule: list[str]
    arrays: str | None = None
