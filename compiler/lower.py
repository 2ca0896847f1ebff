"""``lower``: user objects -> IR. One ``lower_<noun>`` per object type, registered by type.

Everything random is sampled here, from the network seed: object ``i`` of
``net.all_objects`` draws from ``default_rng([seed, i])`` (or its own ``seed``), so the
same seed gives the same IR bit for bit. NEF decoders are solved here (regularised
least squares over evaluation points, as Nengo does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from snngraph.compiler.ir import IR
from snngraph.schemas import ir as ops

from snngraph.base import FieldError
from snngraph.connection import Connection, base_object, decodes
from snngraph.dists import Distribution
from snngraph.document import spec_to_dict
from snngraph.ensemble import Ensemble
from snngraph.errors import CompileError, ValidationError, short_repr, where
from snngraph.learning_rules import rules_of
from snngraph.network import Network
from snngraph.neurons import Direct
from snngraph.node import Node
from snngraph.probe import Probe
from snngraph.processes import Encoder, PresentInput, Process
from snngraph.solvers import LstsqL2, NoSolver
from snngraph.synapses import Delay
from snngraph.transforms import (
    Convolution,
    ConvolutionTranspose,
    Dense,
    Pooling,
    Sparse,
    Transform,
)
from snngraph.views import LearningRule, Neurons, ObjView

LOWERERS: dict[type, Callable[[Lowering, Any], None]] = {}


def rule_key(view: LearningRule) -> tuple[int, Any]:
    """How lowering finds a connection's learning rule (views are made on each access)."""
    return id(view.connection), view.key


def lowers(cls: type) -> Callable:
    """Register the lowering function of an object type."""
    def register(fn: Callable) -> Callable:
        LOWERERS[cls] = fn
        return fn
    return register


def origin(obj: Any) -> tuple[ops.Origin, ...]:
    return (ops.Origin(obj=obj._describe(), site=obj.site),)


def label_of(obj: Any, default: str) -> str:
    return obj.label or default


def conn_name(conn: Any) -> str:
    """A connection's label, or ``pre_post`` from its ends' labels."""
    if conn.label:
        return conn.label
    return f"{label_of(base_object(conn.pre), 'pre')}_{label_of(base_object(conn.post), 'post')}"


class Lowering:
    """State shared by the lowering functions of one network."""

    def __init__(self, net: Network, dt: float, seed: int):
        self.net, self.seed = net, seed
        self.ir = IR(net.label, dt, seed)
        self.index = {id(o): i for i, o in enumerate(net.all_objects)}
        self.ensembles: dict[int, dict[str, np.ndarray]] = {}
        self.inputs: dict[int, str] = {}  # id(ens or neurons) -> op receiving its input
        self.currents: dict[int, str] = {}  # id(ens) -> op computing its neurons' current
        self.conn_inputs: dict[int, str] = {}  # id(connection) -> its value before transform
        self.decoders: dict[int, str] = {}  # id(decoded connection) -> its decoders op
        self.conn_outputs: dict[int, str] = {}  # id(learning connection) -> its output
        self.learned: dict[int, str] = {}  # id(connection) -> its learned weights op
        self.rules: dict[tuple[int, Any], str] = {}  # (id(conn), key) -> its learn op
        self.encoders: dict[int, str] = {}  # id(ens) -> its encoders op
        self.outgoing: dict[int, list[Connection]] = {}  # id(pre object) -> its connections
        for conn in net.all_connections:
            self.outgoing.setdefault(id(base_object(conn.pre)), []).append(conn)

    def rng(self, obj: Any) -> np.random.Generator:
        if obj.seed is not None:
            return np.random.default_rng(obj.seed)
        return np.random.default_rng([self.seed, self.index[id(obj)]])

    def value_of(self, endpoint: Any) -> str:
        """The op holding an endpoint's output (slicing views as needed)."""
        if isinstance(endpoint, ObjView):
            return self.sliced(self.value_of(endpoint.obj), endpoint)
        return self.ir.objects[id(endpoint)]

    def sliced(self, base: str, view: ObjView) -> str:
        """A slice op reading ``view``'s indices of op ``base``."""
        op = self.ir.op(base)
        name = self.ir.fresh(f"{op.name[1:]}.slice")
        return self.ir.add(ops.Slice(name=name, shape=(len(view.indices),), kind=op.kind,
                                     indices=tuple(int(i) for i in view.indices),
                                     size_in=op.size, src=op.src), [base])

    def input_of(self, endpoint: Any) -> str:
        """The op that receives (sums) what is connected into an endpoint."""
        if isinstance(endpoint, LearningRule):
            return self.inputs[rule_key(endpoint)]
        if isinstance(endpoint, ObjView):
            base = self.input_of(endpoint.obj)
            target = self.ir.op(base)
            name = self.ir.fresh(f"{target.name[1:]}.scatter")
            # the scatter fills the target's input: an encoder takes d values, not n
            shape = tuple(getattr(target, "shape_in", None) or target.shape)
            self.ir.add(ops.Scatter(name=name, shape=shape, src=target.src,
                                    indices=tuple(int(i) for i in endpoint.indices)))
            self.ir.graph.add_edge(name, base)
            return name
        if id(endpoint) not in self.inputs:
            raise CompileError(f"{endpoint!r} takes no input")
        return self.inputs[id(endpoint)]

    def sample(self, value: Any, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if isinstance(value, Distribution):
            return value.sample_shape(shape, rng)
        return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()


def lower(net: Network, dt: float = 0.001, params: dict[str, Any] | None = None) -> IR:
    """The IR of ``net`` (every object lowered in creation order). ``params``: trained
    arrays by parameter key, used instead of the lowered values (see ``IR.param``)."""
    if not isinstance(net, Network):
        raise CompileError(f"compile: expected a Network, got {short_repr(net)}")
    seed = net.seed if net.seed is not None else int(np.random.SeedSequence().entropy % 2**32)
    _check_members(net)
    _check_direct(net)
    ctx = Lowering(net, dt, seed)
    ctx.ir.overrides = dict(params or {})
    for obj in net.all_objects:
        if not isinstance(obj, Network):
            LOWERERS[type(obj)](ctx, obj)
    _record_eval_points(ctx)
    if not ctx.ir.graph:
        raise CompileError(f"{net._describe()} has nothing to compile (no objects)")
    return ctx.ir


def _check_members(net: Network) -> None:
    """Every connection and probe must refer to objects of the network compiled."""
    members = {id(o) for o in net.all_objects}
    for obj in net.all_objects:
        ends = {"pre": getattr(obj, "pre", None), "post": getattr(obj, "post", None),
                "target": getattr(obj, "target", None)}
        for field, end in ends.items():
            if end is not None and id(base_object(end)) not in members:
                raise CompileError(
                    f"{obj._describe()}.{field}: {base_object(end)!r} is not part of "
                    f"{net._describe()}, the network being compiled{where(obj.site)}\n  fix: "
                    "create both ends inside the network's with-block (or a subnetwork)")


def _check_direct(net: Network) -> None:
    """A Direct-mode ensemble has no neurons: nothing may connect to or probe them."""
    for obj in [*net.all_connections, *net.all_probes]:
        for field in ("pre", "post", "target"):
            end = getattr(obj, field, None)
            neurons = _neurons_of(end) if end is not None else None
            if neurons is not None and isinstance(neurons.ensemble.neuron_type, Direct):
                raise CompileError(
                    f"{obj._describe()}.{field}: {neurons.ensemble._describe()} runs in Direct "
                    f"mode (neuron_type=Direct()), so it has no neurons to connect to or "
                    f"probe{where(obj.site)}\n  fix: use the ensemble itself (its represented "
                    "value), or give it a neuron type such as sg.LIF()")


# ------------------------------------------------------------------ ensembles
@lowers(Ensemble)
def lower_ensemble(ctx: Lowering, ens: Ensemble) -> None:
    if isinstance(ens.neuron_type, Direct):
        return _lower_direct(ctx, ens)
    rng = ctx.rng(ens)
    n, d = ens.n_neurons, ens.dimensions
    encoders = ctx.sample(ens.encoders, (n, d), rng)
    if ens.normalize_encoders:
        norms = np.linalg.norm(encoders, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise CompileError(f"{ens._describe()}.encoders: neuron(s) "
                               f"{short_repr(np.flatnonzero(norms[:, 0] == 0))} have "
                               f"zero-length encoders, which cannot be normalised"
                               f"{where(ens.site)}\n  fix: give every neuron a non-zero "
                               "encoder, or normalize_encoders=False")
        encoders /= norms
    gain, bias, max_rates, intercepts = _gain_bias(ctx, ens, rng)
    ir, label = ctx.ir, label_of(ens, "ens")
    ir.built[id(ens)] = {"encoders": encoders, "gain": gain, "bias": bias,
                         "max_rates": max_rates, "intercepts": intercepts,
                         "scaled_encoders": encoders * (gain / ens.radius)[:, None]}
    ntype = ens.neuron_type
    name = ir.fresh(label)
    loihi, placed = _loihi_config(ctx, ens)
    neurons = ops.Neurons(
        name=name, shape=(n,), kind="spikes" if ntype.spiking else "real", src=origin(ens),
        neuron=spec_to_dict(ntype), mode="spike" if ntype.spiking else "rate",
        gain=ir.param(f"{name}.gain", gain),
        bias=ir.param(f"{name}.bias", bias, (ens, "bias")),
        state=ntype.state, state0=_state0(ctx, ens, name), loihi=loihi, notes=placed)
    ir.add(neurons)
    ir.objects[id(ens.neurons)] = name
    ctx.inputs[id(ens.neurons)] = _current_probed(ctx, ens, neurons) or name
    ctx.ensembles[id(ens)] = {"encoders": encoders, "gain": gain, "bias": bias, "rng": rng}
    if ens.noise is not None:
        _noise(ctx, ens, neurons)
    if _has_decoded_input(ctx.net, ens):
        enc = ir.fresh(f"{label}.enc")
        ir.add(ops.Linear(name=enc, shape=(n,), src=origin(ens), role="encoders",
                          weights=ir.param(f"{enc}.w", encoders / ens.radius,
                                           (ens, "encoders")),
                          shape_in=(d,)),
               )
        ir.graph.add_edge(enc, ctx.inputs[id(ens.neurons)])
        ctx.inputs[id(ens)] = ctx.encoders[id(ens)] = enc
        if _input_read(ctx.net, ens):
            # Nengo's Probe(ens, "input") records the vector fed to the ensemble, not the
            # encoded one, and Voja reads it: the inputs are summed (d values) before the
            # encoders
            x = ir.add(ops.Sum(name=ir.fresh(f"{label}.x"), shape=(d,), src=origin(ens)))
            ir.graph.add_edge(x, enc)
            ctx.inputs[id(ens)] = x


def _state0(ctx: Lowering, ens: Ensemble, name: str) -> str | None:
    """The neurons' initial state, for types that draw it (Nengo's ``initial_state``): from
    a stream of its own (the ensemble's seed, then 1), so the encoders, gains and eval
    points drawn from the ensemble's stream stay the same."""
    seed = [ens.seed, 1] if ens.seed is not None else [ctx.seed, ctx.index[id(ens)], 1]
    try:
        init = ens.neuron_type.sample_state(ens.n_neurons, np.random.default_rng(seed))
    except FieldError as exc:
        raise CompileError(f"{ens._describe()}.neuron_type.{exc.field}: {exc.expected}"
                           f"{where(ens.site)}") from None
    return None if init is None else ctx.ir.param(f"{name}.state0", init)


def _lower_direct(ctx: Lowering, ens: Ensemble) -> None:
    """Direct mode: the ensemble is the sum of its inputs (what it represents); decoded
    connections and probes read that sum (see ``_direct_output``)."""
    name = ctx.ir.add(ops.Sum(name=ctx.ir.fresh(label_of(ens, "ens")), shape=(ens.dimensions,),
                              src=origin(ens),
                              notes=("Direct mode: the ensemble's value is its input",)))
    ctx.ir.objects[id(ens)] = name
    ctx.inputs[id(ens)] = name
    ctx.ensembles[id(ens)] = {"direct": name}


def _direct_output(ctx: Lowering, conn: Any, ens: Ensemble) -> str:
    """A connection (or probe) from a Direct ensemble: ``function(x)`` computed each step
    on the host (as a Node's function), or ``x`` itself."""
    src = ctx.ensembles[id(ens)]["direct"]
    if isinstance(conn.pre, ObjView):
        src = ctx.sliced(src, conn.pre)
    return src if conn.function is None else _host_function(ctx, conn, src)


def _noise(ctx: Lowering, ens: Ensemble, neurons: ops.Neurons) -> None:
    """``ens.noise``: a process op feeding the neurons' input, divided by their gain so
    that it adds to their current ``J`` unscaled, as Nengo adds it."""
    gain = ctx.ir.params[neurons.gain]
    if np.any(gain == 0):
        raise CompileError(f"{ens._describe()}.noise: some neurons have a gain of 0, and "
                           f"the noise is added to the current as input / gain"
                           f"{where(ens.site)}\n  fix: give every neuron a non-zero gain")
    # a generator of its own: the ensemble's other draws stay as they are without noise
    seed = ens.seed if ens.seed is not None else ctx.seed
    rng = np.random.default_rng([seed, ctx.index[id(ens)], 1])
    ir = ctx.ir
    name = ir.fresh(f"{neurons.name[1:]}.noise")
    ir.add(ops.Process(name=name, shape=neurons.shape, src=neurons.src, size_in=0,
                       process=spec_to_dict(ens.noise.lowered(rng)), divide_by=neurons.gain,
                       notes=("noise added to the neurons' current",)))
    ir.graph.add_edge(name, ctx.inputs[id(ens.neurons)])


def _current_probed(ctx: Lowering, ens: Ensemble, neurons: ops.Neurons) -> str | None:
    """When ``ens.neurons``' input is probed, the neurons' summed input goes through a
    ``sum`` op, and a diagonal linear op beside the neurons computes the current they
    receive, ``J = gain * input + bias``: what Nengo's ``Probe(ens.neurons, "input")``
    records. It names the neurons' own gain and bias arrays, so scaling or training them
    changes both alike. Returns the sum op (what connections into the neurons feed)."""
    if not any(p.attr == "input" and _neurons_of(p.target) is ens.neurons
               for p in ctx.net.all_probes):
        return None
    ir, n = ctx.ir, ens.n_neurons
    total = ir.add(ops.Sum(name=ir.fresh(f"{neurons.name[1:]}.in"), shape=(n,),
                           src=neurons.src))
    ir.graph.add_edge(total, neurons.name)
    current = ir.add(ops.Linear(name=ir.fresh(f"{neurons.name[1:]}.J"), shape=(n,),
                                src=neurons.src, role="current", weights=neurons.gain,
                                bias=neurons.bias, shape_in=(n,),
                                notes=("the neurons' input current J = gain * x + bias",)),
                     [total])
    ctx.currents[id(ens)] = current
    return total


def _neurons_of(target: Any) -> Neurons | None:
    """``ens.neurons`` behind a probe target (itself or a slice of it), else None."""
    base = target.obj if isinstance(target, ObjView) else target
    return base if isinstance(base, Neurons) else None


def _loihi_config(ctx: Lowering, ens: Ensemble) -> tuple[ops.LoihiConfig, tuple[str, ...]]:
    """``net.config[ens].on_chip`` and ``.block_shape`` (innermost network wins), and the
    note when lowering placed it. Left unset, ``on_chip`` is False for an ensemble that
    only computes learning rules' errors (``_error_only``)."""
    net = ctx.net
    found: dict[str, Any] = {}
    for sub in [net, *net.all_networks]:
        found.update(sub.config.params.get(ens, {}))
    on_chip = found.get("on_chip", net.config.param(ens, "on_chip"))
    placed: tuple[str, ...] = ()
    if on_chip and "on_chip" not in found and _error_only(ctx, ens):
        on_chip, placed = False, (ERROR_ON_HOST,)
    shape = found.get("block_shape", net.config.param(ens, "block_shape"))
    if shape is None:
        return ops.LoihiConfig(on_chip=bool(on_chip)), placed
    return ops.LoihiConfig(on_chip=bool(on_chip), block_shape=tuple(shape.shape),
                           ensemble_shape=tuple(shape.ensemble_shape)), placed


ERROR_ON_HOST = ("loihi: on the host: it only computes learning rules' errors, which the "
                 "host computes and sends to the chip (NengoLoihi's placement; "
                 "net.config[ens].on_chip = True keeps it on the chip)")


def _error_only(ctx: Lowering, ens: Ensemble) -> bool:
    """An ensemble whose outputs all go to learning rules: the Loihi target runs it on the
    host unless the model places it (the error is computed there)."""
    out = ctx.outgoing.get(id(ens), [])
    return bool(out) and all(isinstance(c.post, LearningRule) for c in out)


def _input_read(net: Network, ens: Ensemble) -> bool:
    """The vector fed to ``ens`` is probed, or read by a rule learning its encoders."""
    return any(base_object(p.target) is ens and _neurons_of(p.target) is None
               and p.attr == "input" for p in net.all_probes) or any(
        base_object(c.post) is ens and rule.modifies == "encoders"
        for c in net.all_connections for _, rule in rules_of(c))


def _has_decoded_input(net: Network, ens: Ensemble) -> bool:
    return any(base_object(c.post) is ens and decodes(c.post) for c in net.all_connections) or \
        any(base_object(p.target) is ens and _neurons_of(p.target) is None
            and p.attr == "input" for p in net.all_probes)


def _gain_bias(ctx: Lowering, ens: Ensemble, rng: np.random.Generator) -> tuple:
    """Gain, bias, max_rates and intercepts (the last two None when gain and bias
    were given)."""
    n = ens.n_neurons
    if ens.gain is not None:
        return ctx.sample(ens.gain, (n,), rng), ctx.sample(ens.bias, (n,), rng), None, None
    max_rates = ctx.sample(ens.max_rates, (n,), rng)
    intercepts = ctx.sample(ens.intercepts, (n,), rng)
    outside = intercepts[(intercepts < -1) | (intercepts >= 1)]
    if outside.size and ens.neuron_type.intercept_is_threshold:  # drawn: checked once drawn
        raise CompileError(f"{ens._describe()}.intercepts: {short_repr(ens.intercepts)} drew "
                           f"values outside [-1, 1) (e.g. {outside[0]:g}); a neuron with "
                           f"intercept >= 1 never fires inside the radius{where(ens.site)}")
    try:
        gain, bias = ens.neuron_type.gain_bias(max_rates, intercepts)
    except ValidationError as exc:
        raise CompileError(f"{ens._describe()}: cannot set gain and bias from max_rates "
                           f"and intercepts: {exc}{where(ens.site)}") from None
    bad = ~np.isfinite(gain) | (np.asarray(gain) <= 0) if gain is not None else False
    if np.any(bad):
        i = int(np.flatnonzero(np.broadcast_to(bad, (n,)))[0])
        raise CompileError(
            f"{ens._describe()}: its intercepts lead to neurons with negative or non-finite "
            f"gain (neuron {i}: max_rate {max_rates[i]:g}, intercept {intercepts[i]:g}, "
            f"gain {np.broadcast_to(gain, (n,))[i]:g}){where(ens.site)}\n  fix: choose "
            "intercepts that give positive gains (for Sigmoid: below 1 when the max rate "
            "is above half of 1/tau_ref, above 1 when it is below)")
    return (np.broadcast_to(gain, (n,)).astype(float), np.broadcast_to(bias, (n,)).astype(float),
            max_rates, intercepts)


# ------------------------------------------------------------------ nodes
@lowers(Node)
def lower_node(ctx: Lowering, node: Node) -> None:
    ir, out = ctx.ir, node.output
    name = ir.fresh(label_of(node, "node"))
    common = {"name": name, "shape": (node.size_out,), "src": origin(node)}
    if out is None:
        op = ops.Sum(**common)
    elif isinstance(out, Process):
        _check_process(ctx, node, out)
        spec = spec_to_dict(out.lowered(ctx.rng(node)))
        op = ops.Process(**common, kind="spikes" if isinstance(out, Encoder) else "real",
                         process=spec, size_in=node.size_in)
    elif callable(out):
        ir.callables[name] = out
        op = ops.HostFn(**common, fn=name, size_in=node.size_in,
                        output_read=_output_read(ctx.net, node))
    else:
        value = np.broadcast_to(np.asarray(out, dtype=float), (node.size_out,))
        op = ops.Input(**common, default=ir.param(f"{name}.default", value))
    ir.add(op)
    ir.objects[id(node)] = name
    if node.size_in:
        ctx.inputs[id(node)] = name
    if isinstance(out, PresentInput) or isinstance(op, ops.Input):
        ir.note(name, "fed per example" if isinstance(op, ops.Input) else "presents items")


def _output_read(net: Network, node: Node) -> bool:
    """Some connection leaves the node, or some probe reads it."""
    return any(base_object(c.pre) is node for c in net.all_connections) or any(
        base_object(p.target) is node for p in net.all_probes)


def _check_process(ctx: Lowering, node: Node, process: Process) -> None:
    """A process that cannot run at the program's dt stops the compile, named."""
    try:
        process.check_dt(ctx.ir.dt)
    except FieldError as exc:
        raise ValidationError(f"{node._describe()}.output: {type(process).__name__}."
                              f"{exc.field}: {exc.expected} (got "
                              f"{short_repr(exc.value)}){where(node.site)}"
                              + (f"\n  fix: {exc.fix}" if exc.fix else ""),
                              obj=node._describe(), field="output", value=process,
                              site=node.site) from None


# ------------------------------------------------------------------ connections
@lowers(Connection)
def lower_connection(ctx: Lowering, conn: Connection) -> None:
    ir = ctx.ir
    if learns_weights(conn):  # the weights come first: they change from step to step
        src = _filtered(ctx, conn, lower_learned_weights(ctx, conn))
        ir.objects[id(conn)] = ctx.conn_outputs[id(conn)] = src
        post = conn.post
        if _full_weights(conn):  # Nengo's matrix learns; the post neurons apply the gain
            src, post = _over_gain(ctx, conn, src), base_object(conn.post).neurons
    else:
        src, post = _lower_fixed(ctx, conn)
    # the edge remembers its connection: an identity connection has no op of its own
    ir.graph.add_edge(src, ctx.input_of(post), src=origin(conn))
    lower_rules(ctx, conn)
    _keep_loihi_decode(ctx, conn)


def _keep_loihi_decode(ctx: Lowering, conn: Connection) -> None:
    """``net.config[conn].loihi_decode`` (innermost network wins), kept with the
    connection's origin: ``nef_to_chip`` finds the connections behind a folded matrix by
    the origins of its ops."""
    found: dict[str, Any] = {}
    for sub in [ctx.net, *ctx.net.all_networks]:
        found.update(sub.config.params.get(conn, {}))
    setting = found.get("loihi_decode", ctx.net.config.param(conn, "loihi_decode"))
    if setting is not None:
        _keep(ctx, conn, loihi_decode=(origin(conn)[0], setting))


def _lower_fixed(ctx: Lowering, conn: Connection) -> tuple[str, Any]:
    """A connection whose weights do not learn: its output op and what it feeds."""
    ir = ctx.ir
    full = _full_weights(conn)
    if full:  # the pre neurons' spikes, filtered, through one neuron-to-neuron matrix
        src = ir.objects[id(base_object(conn.pre).neurons)]
    elif decodes(conn.pre):
        src = _decoded(ctx, conn)
    else:
        src = ctx.value_of(conn.pre)
    if conn.function is not None and not decodes(conn.pre):
        src = _host_function(ctx, conn, src)
    src = _filtered(ctx, conn, src)
    ctx.conn_inputs[id(conn)] = src
    src = _weights(ctx, conn, src) if full else _transform(ctx, conn, src)
    ir.objects[id(conn)] = src
    return src, base_object(conn.post).neurons if full else conn.post


def _filtered(ctx: Lowering, conn: Connection, src: str) -> str:
    """``src`` through the connection's synapse (or delay), if any."""
    ir = ctx.ir
    if isinstance(conn.synapse, Delay):
        name = ir.fresh(f"{conn_name(conn)}.delay")
        return ir.add(ops.Delay(name=name, shape=ir.op(src).shape, kind=ir.op(src).kind,
                                src=origin(conn), steps=conn.synapse.steps), [src])
    if conn.synapse is not None:
        syn = ir.fresh(f"{conn_name(conn)}.syn")
        return ir.add(ops.Synapse(name=syn, shape=ir.op(src).shape, src=origin(conn),
                                  synapse=spec_to_dict(conn.synapse)), [src])
    return src


def _host_function(ctx: Lowering, conn: Connection, src: str) -> str:
    ir = ctx.ir
    name = ir.fresh(f"{conn_name(conn)}.fn")
    ir.callables[name] = lambda t, x, f=conn.function: f(x)
    return ir.add(ops.HostFn(name=name, shape=(conn.size_mid,), src=origin(conn), fn=name,
                             size_in=conn.size_in), [src])


def _full_weights(conn: Connection) -> bool:
    """``solver.weights`` on an ensemble to ensemble connection (elsewhere it has no
    effect for a compositional solver, as in Nengo, and no meaning for the others)."""
    if not (decodes(conn.pre) and conn.solver.weights) or any(
            isinstance(base_object(end).neuron_type, Direct)
            for end in (conn.pre, conn.post) if isinstance(base_object(end), Ensemble)):
        return False  # Direct mode has no neurons to connect (nor does Nengo solve there)
    if decodes(conn.post):
        return True
    if not conn.solver.compositional:
        raise CompileError(
            f"{conn._describe()}.solver: {type(conn.solver).__name__}(weights=True) solves "
            f"for the weights onto an ensemble's neurons, but post is {conn.post!r}"
            f"{where(conn.site)}\n  fix: connect to an Ensemble, or use weights=False")
    return False


DECODES_ITSELF = "decoders: the ensemble's own value (no function, no slice)"
"""Noted on such decoders: a recurrent connection through them is linear in the value
(``nef_to_chip``'s decode neurons correct its transform for their extra filter)."""


def _decoded(ctx: Lowering, conn: Connection) -> str:
    """Decoders solving ``A D ~ f(X)`` over evaluation points (Nengo's method)."""
    ens = base_object(conn.pre)
    if "direct" in ctx.ensembles[id(ens)]:
        return _direct_output(ctx, conn, ens)
    decoders, note = solve_decoders(ctx, conn)
    ir = ctx.ir
    name = ir.fresh(f"{conn.label or label_of(ens, 'ens')}.dec")
    itself = isinstance(conn, Connection) and conn.function is None and conn.pre is ens
    ir.add(ops.Linear(name=name, shape=(decoders.shape[1],), src=origin(conn),
                      role="decoders",
                      weights=ir.param(f"{name}.w", decoders.T,
                                       (conn, "decoders") if isinstance(conn, Connection)
                                       else None),
                      shape_in=(ens.n_neurons,),
                      notes=(note, *([DECODES_ITSELF] if itself else []))),
           [ir.objects[id(ens.neurons)]])
    ctx.decoders[id(conn)] = name
    return name


def solve_decoders(ctx: Lowering, conn: Any) -> tuple[np.ndarray, str]:
    """The decoders ``(n_neurons, size_mid)`` of a decoded connection, and a note on the
    fit (its evaluation points and error)."""
    activities, targets = _linear_system(ctx, conn)
    decoders = _solve(ctx, conn, activities, targets)
    rmse = float(np.sqrt(np.mean((activities @ decoders - targets) ** 2)))
    return decoders, f"decoders: {len(activities)} eval points, rmse={rmse:.3g}"


def _linear_system(ctx: Lowering, conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """The pre ensemble's activities and the targets at the connection's eval points."""
    ens = base_object(conn.pre)
    data = ctx.ensembles[id(ens)]
    points = _eval_points(ctx, conn, ens, data["rng"])
    current = data["gain"] * (points @ data["encoders"].T / ens.radius) + data["bias"]
    try:
        activities = ens.neuron_type.rates(current, ctx.ir.dt)
    except ValidationError as exc:
        raise CompileError(f"{conn._describe()}: cannot decode from {ens!r}: {exc}"
                           f"{where(conn.site)}") from None
    if not np.any(activities) and not isinstance(conn.solver, NoSolver):
        raise CompileError(f"{conn._describe()}: the 'activities' matrix is all zero: no "
                           f"neuron of {ens!r} fires at any eval point, so there is nothing to "
                           f"decode from{where(conn.site)}\n  fix: check the ensemble's "
                           "intercepts, max_rates (or gain and bias) and radius")
    x = points[:, conn.pre.indices] if isinstance(conn.pre, ObjView) else points
    given = isinstance(conn.solver, NoSolver)  # decoders given: no points were used
    _keep(ctx, conn, eval_points=None if given else points)
    return activities, _targets(conn, x)


def _solve(ctx: Lowering, conn: Any, activities: np.ndarray, targets: np.ndarray
           ) -> np.ndarray:
    """The solver's result, its ``solver_info`` kept in ``ir.built``. Noisy solvers draw
    from the pre ensemble's stream, after its eval points."""
    rng = ctx.ensembles[id(base_object(conn.pre))]["rng"]
    try:
        X, info = conn.solver.solve_info(activities, targets, rng)
    except ValueError as exc:
        raise CompileError(f"{conn._describe()}.solver: {exc}{where(conn.site)}") from None
    if not np.isfinite(X).all():
        raise CompileError(f"{conn._describe()}.solver: {type(conn.solver).__name__} gave "
                           f"non-finite values{where(conn.site)}\n  fix: add regularisation "
                           "(e.g. LstsqL2) or more eval points")
    _keep(ctx, conn, solver_info=info, decoders=X)
    return X


def _keep(ctx: Lowering, conn: Any, **values: Any) -> None:
    """Record what was built for a connection (not for a probe's decoded readout)."""
    if isinstance(conn, Connection):
        ctx.ir.built.setdefault(id(conn), {}).update(values)


def _weights(ctx: Lowering, conn: Connection, src: str) -> str:
    """The full weight matrix ``(post neurons, pre neurons)`` of ``solver.weights=True``.
    The post neurons multiply their input by their gain, so the matrix stored in the op
    is Nengo's (which has the gain in its scaled encoders) divided by that gain; Nengo's
    is kept as ``ir.built[id(conn)]["weights"]``."""
    weights, gain = _full_matrix(ctx, conn)
    _keep(ctx, conn, weights=weights * gain[:, None])
    post = base_object(conn.post)
    ir = ctx.ir
    name = ir.fresh(f"{conn_name(conn)}.weights")
    return ir.add(ops.Linear(name=name, shape=(post.n_neurons,), src=origin(conn),
                             weights=ir.param(f"{name}.w", weights),
                             shape_in=(base_object(conn.pre).n_neurons,),
                             notes=(f"full weights from {type(conn.solver).__name__}"
                                    "(weights=True), divided by the post gains",)), [src])


def _full_matrix(ctx: Lowering, conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """``solver.weights=True``'s matrix divided by the post gains, and those gains."""
    post = base_object(conn.post)
    enc = ctx.ensembles[id(post)]["encoders"] / post.radius
    enc = enc[:, conn.post.indices] if isinstance(conn.post, ObjView) else enc
    gain = ctx.ensembles[id(post)]["gain"]
    transform = _transform_matrix(ctx, conn)
    activities, targets = _linear_system(ctx, conn)
    if conn.solver.compositional:
        weights = enc @ transform @ _solve(ctx, conn, activities, targets).T
    else:  # solved for the weights themselves, onto the post neurons' currents
        scaled = enc * gain[:, None]
        X = _solve(ctx, conn, activities, targets @ transform.T @ scaled.T)
        weights = np.divide(X.T, gain[:, None], out=np.zeros_like(X.T),
                            where=gain[:, None] != 0)
    return weights, gain


def _transform_matrix(ctx: Lowering, conn: Connection) -> np.ndarray:
    """The transform as a ``(size_out, size_mid)`` matrix (full weights fold it in)."""
    t = conn.transform
    if isinstance(t, Dense) and t.bias is not None and t.bias is not False:
        raise CompileError(f"{conn._describe()}.transform: a Dense bias cannot be folded "
                           f"into solver.weights=True's weight matrix{where(conn.site)}")
    if isinstance(t, Dense):
        init = t.init.sample_shape(t.shape, ctx.rng(conn)) \
            if isinstance(t.init, Distribution) else np.asarray(t.init, dtype=float)
        matrix = init if init.ndim == 2 else np.diag(np.broadcast_to(init, (t.shape[0],)))
        if not t.autapses:
            matrix = matrix.copy()
            np.fill_diagonal(matrix, 0.0)
        return matrix
    elif isinstance(t, Transform):
        kind = "Non-compositional solvers" if not conn.solver.compositional else \
            "Solvers with weights=True"
        raise CompileError(f"{conn._describe()}.solver: {kind} ({type(conn.solver).__name__}) "
                           f"need a Dense (or array) transform to fold into the weights, got "
                           f"{type(t).__name__}{where(conn.site)}")
    arr = np.asarray(t, dtype=float)
    return arr if arr.ndim == 2 else np.diag(np.broadcast_to(arr, (conn.size_out,)))


def _eval_points(ctx: Lowering, conn: Connection, ens: Ensemble, rng) -> np.ndarray:
    """A connection's own eval points, else its ensemble's: sampled once, on first use,
    and shared by every connection from it (as Nengo's builder does)."""
    scale = ens.radius if conn.scale_eval_points else 1.0
    if isinstance(conn.eval_points, np.ndarray):
        return conn.eval_points * scale
    if conn.eval_points is not None:
        return _sample_points(conn.eval_points, ens, rng) * scale
    built = ctx.ir.built[id(ens)]
    if "eval_points" not in built:
        dist = ens.eval_points
        points = dist if isinstance(dist, np.ndarray) else _sample_points(dist, ens, rng)
        built["eval_points"] = points * ens.radius
    return built["eval_points"]


def _record_eval_points(ctx: Lowering) -> None:
    """Sample the eval points of the NEF ensembles no connection decoded from, so every
    ensemble's are on record (Nengo's ``sim.data[ens].eval_points``). Last, from each
    ensemble's own stream, so nothing else drawn changes; skipped for the large
    neuron layers of deep networks (one dimension per neuron), where they mean nothing."""
    for ens in ctx.net.all_ensembles:
        built = ctx.ir.built.setdefault(id(ens), {})
        if "eval_points" in built or ens.dimensions > 64:
            continue
        dist = ens.eval_points
        rng = ctx.ensembles.get(id(ens), {}).get("rng") or ctx.rng(ens)
        try:
            points = dist if isinstance(dist, np.ndarray) else _sample_points(dist, ens, rng)
        except ValueError:
            continue  # no connection decodes from it, so nothing needs these points
        built["eval_points"] = points * ens.radius


def _sample_points(dist: Distribution, ens: Ensemble, rng) -> np.ndarray:
    n = ens.n_eval_points or max(int(np.clip(500 * ens.dimensions, 750, 2500)),
                                 2 * ens.n_neurons)
    return dist.sample(n, ens.dimensions, rng)


def _targets(conn: Connection, x: np.ndarray) -> np.ndarray:
    if conn.function is None:
        return x
    if isinstance(conn.function, np.ndarray):  # the values at the given eval points
        return np.asarray(conn.function, dtype=float)
    try:
        out = np.array([np.atleast_1d(conn.function(p)) for p in x], dtype=float)
    except Exception as exc:
        raise CompileError(f"{conn._describe()}: function raised {type(exc).__name__}: {exc} "
                           f"on an evaluation point{where(conn.site)}") from None
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        raise CompileError(f"{conn._describe()}: function returned NaN or inf at the "
                           f"evaluation point {short_repr(x[bad][0])}{where(conn.site)}")
    return out.reshape(len(x), -1)


# ------------------------------------------------------------------ transforms
def _transform(ctx: Lowering, conn: Connection, src: str) -> str:
    t, ir = conn.transform, ctx.ir
    base = label_of(conn, label_of(base_object(conn.post), "conn"))
    if isinstance(t, Transform):
        return TRANSFORMS[type(t)](ctx, conn, t, src, base)
    arr = np.asarray(t, dtype=float)
    _built_transform(ctx, conn, arr)
    if arr.ndim == 0 and arr == 1.0:
        return src  # identity: nothing to do
    name = ir.fresh(base)
    shape = (conn.size_out,)
    # a scalar or diagonal stays 1-D (elementwise scale), never an n x n matrix
    weights = arr if arr.ndim == 2 else np.broadcast_to(arr, shape).copy()
    return ir.add(ops.Linear(name=name, shape=shape, src=origin(conn),
                             weights=ir.param(f"{name}.w", weights, (conn, "transform")),
                             shape_in=(conn.size_mid,)), [src])


def _dense(ctx: Lowering, conn: Connection, t: Dense, src: str, base: str) -> str:
    ir, rng = ctx.ir, ctx.rng(conn)
    out, inp = t.shape
    if isinstance(t.init, Distribution):
        weights = t.init.sample_shape((out, inp), rng)
    else:
        init = np.asarray(t.init, dtype=float)
        weights = init if init.ndim == 2 else np.broadcast_to(init, (out,)).copy()
    if not t.autapses:
        weights = np.array(weights if weights.ndim == 2 else np.diag(weights), dtype=float)
        np.fill_diagonal(weights, 0.0)
    _built_transform(ctx, conn, weights)
    name = ir.fresh(base)
    return ir.add(ops.Linear(name=name, shape=(out,), src=origin(conn),
                             weights=ir.param(f"{name}.w", weights, (conn, "transform")),
                             bias=_bias(ir, name, t.bias, out, conn, rng), shape_in=(inp,),
                             zero_diagonal=not t.autapses), [src])


def _sparse(ctx: Lowering, conn: Connection, t: Sparse, src: str, base: str) -> str:
    ir, rng = ctx.ir, ctx.rng(conn)
    values = ctx.sample(t.init, (len(t.indices),), rng)
    weights = np.zeros(t.shape)
    np.add.at(weights, (t.indices[:, 0], t.indices[:, 1]), values)
    _built_transform(ctx, conn, weights)
    name = ir.fresh(base)
    return ir.add(ops.Linear(name=name, shape=(t.shape[0],), src=origin(conn),
                             weights=ir.param(f"{name}.w", weights),  # not trained: a dense
                             # gradient would fill in the zeros
                             shape_in=(t.shape[1],),
                             notes=(f"sparse: {len(t.indices)} nonzeros",)), [src])


def _conv(ctx: Lowering, conn: Connection, t: Convolution, src: str, base: str) -> str:
    ir, rng = ctx.ir, ctx.rng(conn)
    kernel = ctx.sample(t.init, t.kernel_shape, rng)
    _built_transform(ctx, conn, kernel)
    full = t.full_kernel(kernel)  # groups: zeros between them (not trained: they would fill)
    image, kernel_size, strides = t.as_image()  # a 1-D convolution: an image of height 1
    out = t.shape_out if t.dimensions == 2 else \
        ((1, *t.shape_out) if t.channels_last else (t.n_filters, 1, t.shape_out[1]))
    name = ir.fresh(base)
    return ir.add(ops.Conv2d(name=name, shape=out, src=origin(conn),
                             kernel=ir.param(f"{name}.k",
                                             full.reshape(*kernel_size, *full.shape[-2:]),
                                             (conn, "transform") if t.groups == 1 else None),
                             bias=_bias(ir, name, t.bias, t.n_filters, conn, rng),
                             shape_in=image, strides=strides, padding=t.padding,
                             channels_last=t.channels_last), [src])


def _conv_transpose(ctx: Lowering, conn: Connection, t: ConvolutionTranspose, src: str,
                    base: str) -> str:
    ir, rng = ctx.ir, ctx.rng(conn)
    kernel = ctx.sample(t.init, t.kernel_shape, rng)
    _built_transform(ctx, conn, kernel)
    image, kernel_size, strides = t.as_image()  # a 1-D transform: images of height 1
    name = ir.fresh(base)
    return ir.add(ops.ConvTranspose2d(
        name=name, shape=t.output_image(), src=origin(conn),
        kernel=ir.param(f"{name}.k", kernel.reshape(*kernel_size, *kernel.shape[-2:]),
                        (conn, "transform")),
        bias=_bias(ir, name, t.bias, t.n_filters, conn, rng), shape_in=image,
        strides=strides, padding=t.padding, channels_last=t.channels_last), [src])


def _pool(ctx: Lowering, conn: Connection, t: Pooling, src: str, base: str) -> str:
    ir = ctx.ir
    name = ir.fresh(base)
    return ir.add(ops.Pool2d(name=name, shape=t.shape_out, src=origin(conn),
                             kind="real" if t.kind != "max" else ir.op(src).kind, pool=t.kind,
                             pool_size=t.pool_size, strides=t.strides or t.pool_size,
                             padding=t.padding, shape_in=t.input_shape,
                             channels_last=t.channels_last), [src])


def _built_transform(ctx: Lowering, conn: Connection, weights: np.ndarray) -> None:
    """Record a connection's transform as sampled (``sim.data[conn]`` in the Nengo
    backend)."""
    ctx.ir.built.setdefault(id(conn), {})["transform"] = weights


TRANSFORMS: dict[type, Callable] = {Dense: _dense, Sparse: _sparse, Convolution: _conv,
                                    ConvolutionTranspose: _conv_transpose,
                                    Pooling: _pool}


def _bias(ir: IR, name: str, bias: Any, n: int, conn: Connection,
          rng: np.random.Generator | None = None) -> str | None:
    if bias is None or bias is False:
        return None
    if isinstance(bias, Distribution):  # drawn after the weights, from the same stream
        value = bias.sample_shape((n,), rng)
    else:
        value = np.zeros(n) if bias is True else np.asarray(bias, dtype=float)
    return ir.param(f"{name}.b", value, (conn, "transform_bias"))


# ------------------------------------------------------------------ learning rules
def learns_weights(conn: Connection) -> bool:
    """Some rule of the connection changes its weights (not only the post's encoders)."""
    return any(rule.modifies != "encoders" for _, rule in rules_of(conn))


def lower_learned_weights(ctx: Lowering, conn: Connection) -> str:
    """One linear op holding the connection's whole weight matrix, as Nengo's learning
    rules see it: ``transform @ decoders.T`` from a decoded ensemble (its neurons' spikes
    in), the transform from neurons. It comes before the synapse (Nengo's order: the
    weights multiply this step's activities, then the sum is filtered)."""
    ir = ctx.ir
    if _full_weights(conn):  # solver weights=True: Nengo's full matrix (gain included)
        weights, gain = _full_matrix(ctx, conn)
        weights = weights * gain[:, None]
        _keep(ctx, conn, weights=weights)
        src, role = ir.objects[id(base_object(conn.pre).neurons)], "transform"
        notes = (f"full weights from {type(conn.solver).__name__}(weights=True)",)
    elif decodes(conn.pre):
        decoders, note = solve_decoders(ctx, conn)
        weights = _matrix_of(ctx, conn) @ decoders.T
        src, role, notes = ir.objects[id(base_object(conn.pre).neurons)], "decoders", (note,)
    else:
        weights, role, notes = _matrix_of(ctx, conn), "transform", ()
        src = ctx.value_of(conn.pre)
    ctx.conn_inputs[id(conn)] = src
    name = ir.fresh(f"{conn_name(conn)}.w")
    ctx.learned[id(conn)] = ir.add(ops.Linear(
        name=name, shape=(weights.shape[0],), src=origin(conn), role=role,
        weights=ir.param(f"{name}.w", weights), shape_in=(weights.shape[1],), learned=True,
        notes=(*notes, "learned: each example's weights change during a run")), [src])
    return name


def _over_gain(ctx: Lowering, conn: Connection, src: str) -> str:
    """Learned solver.weights=True currents divided by the post gains (the neurons
    multiply their input by them), so the learned matrix stays Nengo's: BCM and Oja
    change it in Nengo's units and a probe of the weights reads Nengo's values."""
    ir = ctx.ir
    gain = ctx.ensembles[id(base_object(conn.post))]["gain"]
    inverse = np.divide(1.0, gain, out=np.zeros_like(gain), where=gain != 0)
    name = ir.fresh(f"{conn_name(conn)}.over_gain")
    return ir.add(ops.Linear(name=name, shape=(len(gain),), src=origin(conn),
                             weights=ir.param(f"{name}.w", inverse), shape_in=(len(gain),),
                             notes=("1 / post gains: the learned weights are Nengo's",)),
                  [src])


def _matrix_of(ctx: Lowering, conn: Connection) -> np.ndarray:
    """A transform as its full ``(size_out, size_mid)`` matrix (Dense drawn as ``_dense``
    draws it)."""
    t, out, mid = conn.transform, conn.size_out, conn.size_mid
    if isinstance(t, Dense):
        t = t.init.sample_shape((out, mid), ctx.rng(conn)) \
            if isinstance(t.init, Distribution) else t.init
    arr = np.asarray(t, dtype=float)
    return arr.copy() if arr.ndim == 2 else np.diag(np.broadcast_to(arr, (out,)))


def lower_rules(ctx: Lowering, conn: Connection) -> None:
    """One ``learn`` op per learning rule of ``conn``, with its error input (a sum that
    connections into ``conn.learning_rule`` feed)."""
    for key, rule in rules_of(conn):
        ir, base = ctx.ir, f"{conn_name(conn)}.{type(rule).__name__.lower()}"
        common = {"src": origin(conn), "rule": spec_to_dict(rule)}
        fields = (_voja_fields if rule.modifies == "encoders" else
                  _hebbian_fields if rule.modifies == "weights" else _error_fields)(
            ctx, conn, rule)
        target = fields.pop("target")
        name = ir.fresh(base)
        inputs = [v for k, v in fields.items() if k in ops.Learn.ref_fields]
        if rule.error is not None:
            size = 1 if rule.error == "scalar" else LearningRule(conn, key).size_in
            error = ir.add(ops.Sum(name=ir.fresh(f"{base}.error"), shape=(size,),
                                   src=origin(conn)))
            ctx.inputs[(id(conn), key)] = error
            inputs.append(error)
        ir.add(ops.Learn(name=name, shape=ir.params[ir.op(target).weights].shape,
                         target=target, modifies=rule.modifies, **common, **fields), inputs)
        ctx.rules[(id(conn), key)] = name


def _activities(ctx: Lowering, conn: Connection, value: str, synapse: Any, what: str) -> str:
    """``value`` (neuron activities) through a rule's own filter (None: unfiltered)."""
    if synapse is None:
        return value
    ir = ctx.ir
    name = ir.fresh(f"{conn_name(conn)}.{what}")
    return ir.add(ops.Synapse(name=name, shape=ir.op(value).shape, src=origin(conn),
                              synapse=spec_to_dict(synapse)), [value])


def _error_fields(ctx: Lowering, conn: Connection, rule: Any) -> dict[str, Any]:
    """PES and RLS: the filtered activities feeding the weights; into neurons (PES), the
    post's scaled encoders project the error onto the neurons connected."""
    fields = {"target": ctx.learned[id(conn)],
              "pre": _activities(ctx, conn, ctx.conn_inputs[id(conn)], rule.pre_synapse,
                                 "pre_filtered")}
    post = conn.post.obj if isinstance(conn.post, ObjView) else conn.post
    if isinstance(post, Neurons) or _full_weights(conn):  # onto neurons: encode the error
        ens = post.ensemble if isinstance(post, Neurons) else post
        data = ctx.ensembles[id(ens)]
        scaled = data["encoders"] * data["gain"][:, None] / ens.radius
        sliced = conn.post.indices if isinstance(conn.post, ObjView) else slice(None)
        # into neurons, a slice picks neurons (rows); solver weights onto a sliced
        # ensemble reach every neuron through the sliced dimensions (columns)
        scaled = scaled[sliced] if isinstance(post, Neurons) else scaled[:, sliced]
        key = f"{fields['target']}.encoders"
        fields["encoders"] = ctx.ir.param(key, scaled)
    return fields


def _hebbian_fields(ctx: Lowering, conn: Connection, rule: Any) -> dict[str, Any]:
    """BCM and Oja: filtered activities of both populations (BCM: and their average)."""
    ens = base_object(conn.post)  # its neurons: the post activities
    post = ctx.ir.objects[id(ens.neurons if isinstance(ens, Ensemble) else conn.post)]
    fields = {"target": ctx.learned[id(conn)],
              "pre": _activities(ctx, conn, ctx.conn_inputs[id(conn)], rule.pre_synapse,
                                 "pre_filtered"),
              "post": _activities(ctx, conn, post, rule.post_synapse, "post_filtered")}
    if hasattr(rule, "theta_synapse"):
        fields["theta"] = _activities(ctx, conn, post, rule.theta_synapse, "theta")
    return fields


def _voja_fields(ctx: Lowering, conn: Connection, rule: Any) -> dict[str, Any]:
    """Voja: the post ensemble's encoders change; it reads the ensemble's input vector
    (every connection into it, Nengo's ``pre_decoded``) and its filtered activities."""
    ens = base_object(conn.post)
    ir = ctx.ir
    neurons = ir.op(ir.objects[id(ens.neurons)])
    encoders = ctx.encoders[id(ens)]
    ir.update(encoders, learned=True, notes=(*ir.op(encoders).notes, "learned: each "
                                             "example's encoders change during a run"))
    return {"target": encoders, "pre": ctx.inputs[id(ens)], "gain": neurons.gain,
            "radius": float(ens.radius),
            "post": _activities(ctx, conn, neurons.name, rule.post_synapse, "post_filtered")}


# ------------------------------------------------------------------ probes
@lowers(Probe)
def lower_probe(ctx: Lowering, probe: Probe) -> None:
    ir, target, attr = ctx.ir, probe.target, probe.attr
    if attr == "spikes":
        attr = "output"  # Nengo's older name for a spiking type's output
    if isinstance(target, LearningRule):
        return _probe_rule(ctx, probe)
    value, attr = _probed_value(ctx, probe, attr)
    op = ir.op(value)
    shape = op.shape
    if attr == "weights":
        w = ir.params.get(getattr(op, "weights", None) or getattr(op, "kernel", ""))
        shape = w.shape if w is not None else (0,)
    name = ir.fresh(label_of(probe, "probe"))
    recorded = value if _neurons_of(target) is None or attr != "input" else \
        ir.objects[id(_neurons_of(target))]  # names the neurons whose current it reads
    ir.add(ops.Probe(name=name, shape=shape, kind=op.kind if attr == "output" else "real",
                     src=origin(probe), target=recorded, attr=attr, label=probe.label,
                     sample_every=probe.sample_every,
                     synapse=spec_to_dict(probe.synapse) if probe.synapse else None), [value])
    ir.objects[id(probe)] = name


def _probed_value(ctx: Lowering, probe: Probe, attr: str) -> tuple[str, str]:
    """The op a probe records, and what it reads of it."""
    ir, target = ctx.ir, probe.target
    if attr in ("decoded_output",):
        value = _decoded(ctx, _Readout(probe))
    elif attr == "input" and _neurons_of(target) is not None:
        value = ctx.currents[id(_neurons_of(target).ensemble)]  # see _current_probed
        if isinstance(target, ObjView):
            value = ctx.sliced(value, target)
    elif attr == "input" and isinstance(target, ObjView):
        value = ctx.sliced(ctx.input_of(target.obj), target)  # the slice's part of the sum
    elif attr == "input":
        value = ctx.conn_inputs[id(target)] if isinstance(target, Connection) \
            else ctx.input_of(target)
    elif attr == "weights":
        value = _weights_of(ctx, probe)
    elif attr == "scaled_encoders":
        value = _scaled_encoders_of(ctx, probe)
    else:
        value = ctx.value_of(target) if not isinstance(target, Connection) \
            else ir.objects[id(target)]
    if attr in ("weights", "scaled_encoders") and ir.op(value).op == "input":
        attr = "output"  # a fixed value (_constant): the probe records that op's output
    return value, attr


def _weights_of(ctx: Lowering, probe: Probe) -> str:
    """The op holding the weights a ``Probe(conn, "weights")`` records."""
    ir, target = ctx.ir, probe.target
    if id(target) in ctx.learned:
        return ctx.learned[id(target)]
    value = ir.objects[id(target)]
    if value == ctx.conn_inputs[id(target)] and id(target) in ctx.decoders:
        return ctx.decoders[id(target)]  # identity transform: the decoders are its weights
    if not ir.op(value).weighted or value == ctx.conn_inputs[id(target)]:
        t = target.transform
        if t is None or isinstance(t, Transform) and not isinstance(t, Dense):
            raise CompileError(f"{probe._describe()}: {target._describe()} has no weights, "
                               f"so they cannot be probed (its transform is "
                               f"{short_repr(t)}){where(probe.site)}")
        # a scalar or diagonal transform applied in place: its value is the weights
        return _constant(ctx, probe, "weights", _matrix_value(ctx, target))
    return value


def _matrix_value(ctx: Lowering, conn: Connection) -> np.ndarray:
    """A Dense or array transform's value as given (a scalar stays a scalar)."""
    t = conn.transform
    if isinstance(t, Dense):
        t = t.init.sample_shape(t.shape, ctx.rng(conn)) \
            if isinstance(t.init, Distribution) else t.init
    return np.asarray(t, dtype=float)


def _scaled_encoders_of(ctx: Lowering, probe: Probe) -> str:
    """``Probe(ens, "scaled_encoders")``: the built encoders times gain over radius, which
    stay fixed unless a Voja rule learns them (then its rule is what to probe)."""
    ens = probe.target
    if not isinstance(ens, Ensemble):
        raise CompileError(f"{probe._describe()}: scaled_encoders belong to an Ensemble, "
                           f"not {short_repr(ens)}{where(probe.site)}")
    if id(ens) in ctx.encoders and ctx.ir.op(ctx.encoders[id(ens)]).learned:
        raise CompileError(f"{probe._describe()}: a Voja rule learns {ens._describe()}'s "
                           f"encoders{where(probe.site)}\n  fix: probe the rule: "
                           "sg.Probe(conn.learning_rule, 'scaled_encoders')")
    return _constant(ctx, probe, "scaled_encoders",
                     ctx.ir.built[id(ens)]["scaled_encoders"])


def _constant(ctx: Lowering, probe: Probe, what: str, value: np.ndarray) -> str:
    """An op holding a value that does not change in this program, for a probe of it."""
    ir = ctx.ir
    name = ir.fresh(f"{label_of(probe, 'probe')}.{what}")
    value = np.asarray(value, dtype=float)
    shape = value.shape if value.ndim else (1,)
    op = ir.add(ops.Input(name=name, shape=shape, src=origin(probe),
                          default=ir.param(f"{name}.value", value.reshape(shape))))
    ir.note(op, f"{what}: fixed in this program")
    return op


PROBED_STATE = ("scaled_encoders", "inv_gamma")
"""What a Probe of a learning rule reads from its op's state (the rest are op outputs)."""


def _probe_rule(ctx: Lowering, probe: Probe) -> None:
    """``delta`` is the learn op's output; ``error`` its error sum; the filtered
    activities the ops it reads; ``scaled_encoders`` and ``inv_gamma`` its state."""
    ir, attr = ctx.ir, probe.attr
    learn = ir.op(ctx.rules[rule_key(probe.target)])
    shape = learn.shape
    if attr in ("delta", *PROBED_STATE):
        value = learn.name
        if attr == "inv_gamma":
            n = shape[1]
            shape = (n, n)
        elif attr == "scaled_encoders":
            shape = ir.params[ir.op(learn.target).weights].shape
    elif attr == "error":
        value = ctx.inputs[rule_key(probe.target)]
    else:
        value = {"activities": learn.pre, "pre_filtered": learn.pre,
                 "post_filtered": learn.post, "theta": learn.theta}[attr]
    if attr not in ("delta", *PROBED_STATE):
        shape = ir.op(value).shape
    name = ir.fresh(label_of(probe, "probe"))
    ir.add(ops.Probe(name=name, shape=shape, src=origin(probe), target=value, attr=attr,
                     label=probe.label, sample_every=probe.sample_every,
                     synapse=spec_to_dict(probe.synapse) if probe.synapse else None), [value])
    ir.objects[id(probe)] = name


class _Readout:
    """A decoded-output probe decodes like an identity connection from the ensemble."""

    def __init__(self, probe: Probe):
        self.pre, self.function, self.label = probe.target, None, probe.label
        self.eval_points, self.scale_eval_points = None, True
        self.solver, self.site, self._describe = LstsqL2(), probe.site, probe._describe
