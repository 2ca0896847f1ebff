"""The IR: one frozen pydantic model per op kind, a discriminated union on ``op``.

An op is a value with a static ``shape`` (batch excluded) and a ``kind`` (``real`` or
``spikes``). Its inputs are the graph's in-edges and are summed, as in Nengo. Arrays are
not stored in ops: an op names its parameters (``weights="%c1.w"``) and the Program keeps
them (saved in the ``.npz``). Every op remembers the user objects it came from (``src``)
and, when a pass made it, which pass (``made_by``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
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
    """Fields shared by every op, and the traits of its kind.

    The traits (class variables: not fields, not in the JSON Schema) are what passes and
    runtimes ask of a kind instead of keeping their own lists of kind names; see
    ``kinds_with`` and, for the rules each runtime has for a kind, ``snngraph.compiler.ops``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_invariant: ClassVar[bool] = False
    """Stateless, and a function of its inputs at the same step alone: computed once per
    presentation when all its inputs are (``optimize`` hoists it)."""
    source: ClassVar[bool] = False
    """Nothing feeds it: its value comes from outside the graph (hoisted on its own)."""
    stateful: ClassVar[bool] = False
    """Carries state from step to step (cleared by a reset)."""
    delayed: ClassVar[bool] = False
    """Outputs what it held at the end of the previous step: its output at a step does not
    depend on its input at that step, so a cycle through it is not an algebraic loop."""
    steppable: ClassVar[bool] = False
    """Training through time: may sit inside a recurrent unit, run one step at a time
    (its rate rule allocates a fresh output at every call)."""
    observed: ClassVar[bool] = False
    """What it does is seen outside the graph (a probe records, a host function runs the
    user's code): dead-code elimination keeps it and what feeds it."""
    passes_kind_on: ClassVar[bool] = False
    """Its output is spikes when its single input is (``IR.refresh_kinds``)."""
    param_fields: ClassVar[tuple[str, ...]] = ()
    """Fields naming arrays of the Program (``"%conv1.w"``)."""
    weighted: ClassVar[bool] = False
    """Multiplies its input by stored weights (a connection's transform): its
    ``param_fields`` are weights and biases, ``Probe(conn, "weights")`` reads them."""
    loihi_role: ClassVar[str] = "host"
    """Loihi target: ``host`` (runs on the host, on numba), or what it becomes on a core
    when on the chip (``compartments``, ``synapses``, ``input filter``, ``link``)."""
    unsupported: ClassVar[dict[str, str]] = {}
    """Runtime (``numba``, ``rate``, ``reference``, ``bptt``, ``loihi``) -> why this kind
    has no rule there. tests/test_op_registry.py requires a rule or a reason."""
    side_effect: ClassVar[bool] = False
    """Changes more than its output (a learning rule updates another op's weights): dead
    code removal keeps it while what it changes is kept, and a runtime without a rule for
    it refuses the whole program (no output needs it, so it would be skipped silently)."""
    ref_fields: ClassVar[tuple[str, ...]] = ()
    """Fields naming ops it reads by role rather than summing them (each also has an
    edge, which orders and keeps them); its other inputs are summed as usual."""

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

    def param_keys(self) -> list[str]:
        """The parameter keys this op names."""
        return [v for f in self.param_fields if isinstance(v := getattr(self, f), str)]

    def refs(self) -> dict[str, str]:
        """The ops it reads by role (``ref_fields`` that are set): role -> op name."""
        return {f: v for f in self.ref_fields if isinstance(v := getattr(self, f), str)}

    def forwards_kind(self) -> bool:
        """Its output is spikes when its single input is."""
        return self.passes_kind_on


class Input(Op):
    """A value the user feeds per example (``data={node: x}``), or its ``default``."""

    op: Literal["input"] = "input"
    time_invariant = True
    source = True
    param_fields = ("default",)
    default: str | None = None


class HostFn(Op):
    """A Python function of time (and input) run on the host each step."""

    op: Literal["host_fn"] = "host_fn"
    observed = True
    unsupported = {"reference": "a function of time has no steady state to check "
                                 "against; the rate runtime calls it at t = dt"}
    fn: str
    size_in: int = 0
    output_read: bool = True
    """False when nothing in the network reads the node's output (no connection from it,
    no probe of it): the function runs for its side effects and may return None there
    (Nengo's processes that only record their input do)."""


class Process(Op):
    """A process (PresentInput, noise, spike encoders, ...), its spec as a document dict;
    also an ensemble's ``noise`` (then feeding its neurons)."""

    op: Literal["process"] = "process"
    stateful = True
    unsupported = {"reference": "a process has no steady state; the rate runtime reads "
                                 "it from the data fed to its node"}
    process: dict[str, Any]
    size_in: int = 0
    divide_by: str | None = None
    """An array its output is divided by, elementwise: an ensemble's noise names its
    neurons' gain, so the neurons, computing ``J = gain * input + bias``, add the noise
    to ``J`` unscaled (as Nengo adds it to the neurons' input current)."""

    def param_keys(self) -> list[str]:
        """The arrays of the process spec (``{"$array": key}`` entries) and ``divide_by``."""
        keys = [v["$array"] for v in self.process.values()
                if isinstance(v, dict) and "$array" in v]
        return keys + ([self.divide_by] if self.divide_by is not None else [])


class Sum(Op):
    """The sum of its inputs (a passthrough Node)."""

    op: Literal["sum"] = "sum"
    time_invariant = True
    steppable = True
    passes_kind_on = True


class Linear(Op):
    """``y = W x (+ b)`` with ``W`` of shape ``(size_out, size_in)``."""

    op: Literal["linear"] = "linear"
    time_invariant = steppable = weighted = True
    param_fields = ("weights", "bias")
    loihi_role = "synapses"
    weights: str
    bias: str | None = None
    shape_in: tuple[int, ...]
    role: Literal["transform", "encoders", "decoders", "current"] = "transform"
    """``current``: the input current ``J = gain * x + bias`` of a neurons op (``weights``
    and ``bias`` name that op's gain and bias), recorded by ``Probe(ens.neurons, "input")``."""
    zero_diagonal: bool = False
    """The diagonal of ``W`` stays zero in training (no autapses)."""
    learned: bool = False
    """A learning rule (a ``learn`` op) changes ``W`` during a run: each example has its
    own copy, and passes neither fold it into another op nor compute it once per
    presentation."""


class _Convolving(Op):
    """What the two convolutions store: a kernel ``(kh, kw, c_in, c_out)``, a per-filter
    bias, the input image and the window's strides and padding."""

    time_invariant = weighted = True
    param_fields = ("bias", "kernel")
    kernel: str
    bias: str | None = None
    shape_in: tuple[int, int, int]
    strides: tuple[int, int]
    padding: Literal["valid", "same"]
    channels_last: bool = True


class Conv2d(_Convolving):
    """2-D convolution; kernel ``(kh, kw, c_in, c_out)``, per-filter ``bias``."""

    op: Literal["conv2d"] = "conv2d"
    loihi_role = "synapses"  # not steppable: its rule reuses buffers


class ConvTranspose2d(_Convolving):
    """Transposed 2-D convolution (Nengo's ``ConvolutionTranspose``): the adjoint of a
    ``conv2d`` from this op's output to its input; kernel ``(kh, kw, c_in, c_out)``
    (``c_in`` this op's input channels), per-filter ``bias``."""

    op: Literal["conv_transpose2d"] = "conv_transpose2d"
    # on the Loihi target: host only (compiler/chip.py)


class Pool2d(Op):
    """2-D pooling: ``kind`` avg, max or sum."""

    op: Literal["pool2d"] = "pool2d"
    time_invariant = True
    pool: Literal["avg", "max", "sum"]
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padding: Literal["valid", "same"]
    shape_in: tuple[int, int, int]
    channels_last: bool = True

    def forwards_kind(self) -> bool:
        return self.pool == "max"  # a max of spikes is a spike; a mean is not


class Slice(Op):
    """``y = x[indices]``."""

    op: Literal["slice"] = "slice"
    time_invariant = steppable = passes_kind_on = True
    indices: tuple[int, ...]
    size_in: int


class Scatter(Op):
    """``y = 0; y[indices] = x``: feeds part of a larger input."""

    op: Literal["scatter"] = "scatter"
    time_invariant = steppable = passes_kind_on = True
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
    count_axons: int = 1
    """Host neurons feeding the chip: each sends up to this many spikes a step, over as
    many axons with the same weights (``nef_to_chip`` sets it where a host value needs
    more than one spike a step); 1: a spike or none."""


class Neurons(Op):
    """``J = gain * sum(inputs) + bias`` through the neuron type (rate or spike mode)."""

    op: Literal["neurons"] = "neurons"
    stateful = True
    steppable = True
    param_fields = ("bias", "gain")
    loihi_role = "compartments"
    neuron: dict[str, Any]
    mode: Literal["rate", "spike"]
    gain: str
    bias: str
    state: tuple[str, ...] = ()
    state0: str | None = None
    """The initial state ``[len(state), size]`` drawn from the ensemble's seed (types with
    Nengo's per-neuron initial state); None: the type's ``initial_state``."""
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
    stateful = True
    delayed = True
    loihi_role = "input filter"
    unsupported = {"bptt": "synaptic filters are not trained through time yet"}
    synapse: dict[str, Any]


class Delay(Op):
    """A pure delay of ``steps`` whole steps."""

    op: Literal["delay"] = "delay"
    stateful = True
    delayed = True
    steppable = True
    passes_kind_on = True
    steps: int


class Probe(Op):
    """Records its input (``attr`` output) or a state of its target (e.g. voltage)."""

    op: Literal["probe"] = "probe"
    steppable = True
    observed = True
    target: str
    attr: str
    label: str | None = None
    """The user's label of the Probe: a Simulator built from a Program keys its results
    by it."""
    sample_every: float | None = None
    synapse: dict[str, Any] | None = None
    """A filter still to be made explicit by insert_synapses."""

    def forwards_kind(self) -> bool:
        return self.attr == "output"


_NO_ONLINE_LEARNING = "online learning rules run on the numba runtime (sg.Simulator) only"


class Learn(Op):
    """An online learning rule (snngraph/learning_rules.py, Nengo's PES, RLS, BCM, Oja,
    Voja): each step it computes ``delta`` (its output, the shape of ``target``'s weights)
    from the ops it reads, and adds it to ``target``'s weights at the end of the step
    (Nengo's order: the weights of step ``t`` include the change of step ``t - 1``).
    ``pre``, ``post`` and ``theta`` name the filtered activities it reads; its other
    inputs are summed: the error (Voja: the learning signal, minus 1)."""

    op: Literal["learn"] = "learn"
    stateful = True
    side_effect = True
    loihi_role = "learning synapses (PES between chip ensembles: pes_to_chip)"
    ref_fields = ("pre", "post", "theta")
    param_fields = ("encoders", "gain")
    unsupported = {
        "rate": f"{_NO_ONLINE_LEARNING}; the rate runtime evaluates steady states, with "
                "no steps for the weights to change over",
        "reference": f"{_NO_ONLINE_LEARNING}; a learning rule has no steady state",
        "bptt": f"{_NO_ONLINE_LEARNING}; training through time differentiates fixed "
                "weights",
    }
    rule: dict[str, Any]
    """The learning rule (its spec: type, learning_rate, synapses, ...)."""
    target: str
    """The op whose weights change (a ``linear`` op with ``learned=True``)."""
    modifies: Literal["decoders", "weights", "encoders"]
    pre: str | None = None
    """The (filtered) presynaptic activities, or Voja's input vector."""
    post: str | None = None
    """The (filtered) postsynaptic activities (BCM, Oja, Voja)."""
    theta: str | None = None
    """BCM's running average of the postsynaptic activities."""
    encoders: str | None = None
    """PES into neurons: the post ensemble's scaled encoders, rows of the neurons
    connected, projecting the error onto them."""
    gain: str | None = None
    """Voja: the post neurons' gain (the encoders are stored without it)."""
    radius: float = 1.0
    """Voja: the post ensemble's radius."""


_LOIHI_ONLY = {runtime: "made by split_host_chip for the Loihi target only (the loihi backend "
                        "runs the host side as numba programs without it)"
               for runtime in ("numba", "rate", "reference", "bptt")}


class SpikeInput(Op):
    """Loihi: host spikes entering the chip (they arrive one step later, as on the
    chip's host link)."""

    op: Literal["spike_input"] = "spike_input"
    loihi_role = "link"
    unsupported = _LOIHI_ONLY
    axons: int = 1
    """Axons per host neuron: a count of ``c`` spikes in a step fires its first ``c``
    axons (neuron ``i``'s axon ``j`` is ``i * axons + j``); 1: a spike or none."""


class SpikeOutput(Op):
    """Loihi: chip spikes read back by the host (same step)."""

    op: Literal["spike_output"] = "spike_output"
    loihi_role = "link"
    unsupported = _LOIHI_ONLY


OP_KINDS: dict[str, type[Op]] = {}
"""Op kind name -> its model: the package's kinds and those registered with
``register_op`` (e.g. by a user module, see docs/architecture.md)."""


def register_op(cls: type[Op]) -> type[Op]:
    """Add an op model to ``OP_KINDS`` (usable as a class decorator). Its kind name is the
    default of its ``op`` field."""
    field = cls.model_fields.get("op")
    kind = field.default if field is not None else None
    if not isinstance(kind, str):
        raise TypeError(f"{cls.__name__}: an op model needs a field "
                        f'op: Literal["name"] = "name" (its kind)')
    if OP_KINDS.get(kind, cls) is not cls:
        raise ValueError(f"op kind {kind!r} is already {OP_KINDS[kind].__name__}; "
                         f"choose another name for {cls.__name__}")
    OP_KINDS[kind] = cls
    return cls


def registrar(table: dict[str, Any], make: Callable[[Any], Any] = lambda rule: rule
              ) -> Callable[..., Callable]:
    """A runtime's decorator registering a rule for op kinds: ``rule = registrar(RULES)``,
    then ``@rule("sum", "delay")`` stores ``make(fn)`` under each kind."""
    def for_kinds(*kinds: str) -> Callable:
        def register(rule: Any) -> Any:
            for kind in kinds:
                table[kind] = make(rule)
            return rule
        return register
    return for_kinds


def kinds_with(trait: str) -> frozenset[str]:
    """The registered op kinds whose ``trait`` (a class variable of ``Op``) is true,
    e.g. ``kinds_with("steppable")``."""
    if trait not in Op.__class_vars__:
        raise AttributeError(f"op kinds have no trait {trait!r}; traits: "
                             f"{', '.join(sorted(Op.__class_vars__))}")
    return frozenset(k for k, cls in OP_KINDS.items() if getattr(cls, trait))


for _cls in (Input, HostFn, Process, Sum, Linear, Conv2d, ConvTranspose2d, Pool2d, Slice,
             Scatter, Neurons, Synapse, Delay, Probe, Learn, SpikeInput, SpikeOutput):
    register_op(_cls)
AnyOp = Annotated[Union[tuple(OP_KINDS.values())], Field(discriminator="op")]  # noqa: UP007
"""Any of the package's op kinds (the JSON Schema of a saved Program lists these)."""
PACKAGE_KINDS = frozenset(OP_KINDS)


def _kind_name(value: Any) -> Any:
    return value.op if isinstance(value, Op) else value.get("op") if isinstance(value, dict) \
        else None


def _registered(value: Any) -> list[int]:
    """Positions of the ops of kinds registered later (``register_op``) in a list."""
    kinds = [_kind_name(v) for v in (value if isinstance(value, list) else [])]
    return [i for i, k in enumerate(kinds) if k in OP_KINDS and k not in PACKAGE_KINDS]
STATEFUL_DELAY = tuple(sorted(kinds_with("delayed")))
"""Op kinds whose output at a step does not depend on their input at that step."""


class StageOp(BaseModel):
    """One op as the IR held it after a pass: its dump line's parts (what the viewer
    draws), not the op model (the arrays of earlier stages are not saved)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    op: str
    """The op's kind as the dump names it (``lif.spike``, ``conv2d``, ...)."""
    kind: Kind
    shape: tuple[int, ...]
    inputs: list[str]
    attrs: str
    origin: str
    """The user objects behind it with their ``file:line``, or ``[pass]`` for an op a
    pass made."""
    notes: tuple[str, ...] = ()
    chip: bool = False


class Stage(BaseModel):
    """The IR after one pass (or after ``lower``): its ops, edges and the log lines that
    pass added (its time is in the program's ``timings``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    ops: list[StageOp]
    edges: list[tuple[str, str]]
    log: list[str] = []


class QuantRow(BaseModel):
    """``discretize``'s report for one on-chip connection: how its float weights became
    the chip's 8-bit mantissas."""

    model_config = ConfigDict(extra="forbid")

    layer: str
    """The chip neurons op the connection feeds."""
    source: str
    weights: str | None
    """The linear/conv2d op holding the weights (None: one-to-one)."""
    kind: Literal["dense", "conv2d", "one-to-one"]
    n_weights: int
    w_exp: list[int]
    """The weight exponents of the layer's blocks."""
    max_error: float
    """Largest rounding error of a weight, as a fraction of its block's largest weight."""
    rms_error: float
    """Root-mean-square rounding error relative to the weights' own root-mean-square."""
    zeroed: int
    """Non-zero float weights that became 0 on the chip."""


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
    history: list[Stage] = []
    """The IR after ``lower`` and after each pass (what ``snngraph view`` shows)."""
    quantization: list[QuantRow] = []
    """Loihi target: ``discretize``'s report per on-chip connection."""

    @field_validator("ops", mode="wrap")
    @classmethod
    def _ops_of_registered_kinds(cls, value: Any, handler: Any) -> list[Op]:
        """The package's kinds go through the union (and its messages); a registered
        kind through its own model."""
        unknown = sorted({k for k in map(_kind_name, value if isinstance(value, list) else [])
                          if isinstance(k, str) and k not in OP_KINDS})
        if unknown:
            raise ValueError(f"op kind(s) {', '.join(map(repr, unknown))} not registered: "
                             "import the module that registers them (with snngraph.compiler."
                             "ops.register) before loading")
        extra = _registered(value)
        if not extra:
            return handler(value)
        out = handler([v for i, v in enumerate(value) if i not in extra])
        for i in extra:  # ascending: each lands at its own position
            model = OP_KINDS[_kind_name(value[i])]
            out.insert(i, value[i] if isinstance(value[i], model) else
                       model.model_validate(value[i]))
        return out

    @field_serializer("ops", mode="wrap")
    def _dump_ops(self, ops: list[Op], handler: Any, info: Any) -> Any:
        if not _registered(ops):
            return handler(ops)
        return [op.model_dump(mode=info.mode) for op in ops]
