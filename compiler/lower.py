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

from snngraph.connection import Connection, base_object, decodes
from snngraph.dists import Distribution
from snngraph.document import spec_to_dict
from snngraph.ensemble import Ensemble
from snngraph.errors import CompileError, ValidationError, short_repr, where
from snngraph.network import Network
from snngraph.node import Node
from snngraph.probe import Probe
from snngraph.processes import Encoder, PresentInput, Process
from snngraph.solvers import LstsqL2
from snngraph.synapses import Delay
from snngraph.transforms import Convolution, Dense, Pooling, Sparse, Transform
from snngraph.views import Neurons, ObjView

LOWERERS: dict[type, Callable[[Lowering, Any], None]] = {}


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
        if isinstance(endpoint, ObjView):
            base = self.input_of(endpoint.obj)
            target = self.ir.op(base)
            name = self.ir.fresh(f"{target.name[1:]}.scatter")
            self.ir.add(ops.Scatter(name=name, shape=target.shape, src=target.src,
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
    ctx = Lowering(net, dt, seed)
    ctx.ir.overrides = dict(params or {})
    for obj in net.all_objects:
        if not isinstance(obj, Network):
            LOWERERS[type(obj)](ctx, obj)
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


# ------------------------------------------------------------------ ensembles
@lowers(Ensemble)
def lower_ensemble(ctx: Lowering, ens: Ensemble) -> None:
    rng = ctx.rng(ens)
    n, d = ens.n_neurons, ens.dimensions
    encoders = ctx.sample(ens.encoders, (n, d), rng)
    if ens.normalize_encoders:
        encoders /= np.maximum(np.linalg.norm(encoders, axis=1, keepdims=True), 1e-300)
    gain, bias = _gain_bias(ctx, ens, rng)
    ir, label = ctx.ir, label_of(ens, "ens")
    ntype = ens.neuron_type
    name = ir.fresh(label)
    neurons = ops.Neurons(
        name=name, shape=(n,), kind="spikes" if ntype.spiking else "real", src=origin(ens),
        neuron=spec_to_dict(ntype), mode="spike" if ntype.spiking else "rate",
        gain=ir.param(f"{name}.gain", gain),
        bias=ir.param(f"{name}.bias", bias, (ens, "bias")),
        state=ntype.state, loihi=_loihi_config(ctx.net, ens))
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
        ctx.inputs[id(ens)] = enc
        if any(base_object(p.target) is ens and _neurons_of(p.target) is None
               and p.attr == "input" for p in ctx.net.all_probes):
            # Nengo's Probe(ens, "input") records the vector fed to the ensemble, not the
            # encoded one: the inputs are summed (d values) before the encoders
            x = ir.add(ops.Sum(name=ir.fresh(f"{label}.x"), shape=(d,), src=origin(ens)))
            ir.graph.add_edge(x, enc)
            ctx.inputs[id(ens)] = x


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


def _loihi_config(net: Network, ens: Ensemble) -> ops.LoihiConfig:
    """``net.config[ens].on_chip`` and ``.block_shape`` (innermost network wins)."""
    found: dict[str, Any] = {}
    for sub in [net, *net.all_networks]:
        found.update(sub.config.params.get(ens, {}))
    on_chip = found.get("on_chip", net.config.param(ens, "on_chip"))
    shape = found.get("block_shape", net.config.param(ens, "block_shape"))
    if shape is None:
        return ops.LoihiConfig(on_chip=bool(on_chip))
    return ops.LoihiConfig(on_chip=bool(on_chip), block_shape=tuple(shape.shape),
                           ensemble_shape=tuple(shape.ensemble_shape))


def _has_decoded_input(net: Network, ens: Ensemble) -> bool:
    return any(base_object(c.post) is ens and decodes(c.post) for c in net.all_connections) or \
        any(base_object(p.target) is ens and _neurons_of(p.target) is None
            and p.attr == "input" for p in net.all_probes)


def _gain_bias(ctx: Lowering, ens: Ensemble, rng: np.random.Generator) -> tuple:
    n = ens.n_neurons
    if ens.gain is not None:
        return ctx.sample(ens.gain, (n,), rng), ctx.sample(ens.bias, (n,), rng)
    max_rates = ctx.sample(ens.max_rates, (n,), rng)
    intercepts = ctx.sample(ens.intercepts, (n,), rng)
    try:
        gain, bias = ens.neuron_type.gain_bias(max_rates, intercepts)
    except ValidationError as exc:
        raise CompileError(f"{ens._describe()}: cannot set gain and bias from max_rates "
                           f"and intercepts: {exc}{where(ens.site)}") from None
    return np.broadcast_to(gain, (n,)).astype(float), np.broadcast_to(bias, (n,)).astype(float)


# ------------------------------------------------------------------ nodes
@lowers(Node)
def lower_node(ctx: Lowering, node: Node) -> None:
    ir, out = ctx.ir, node.output
    name = ir.fresh(label_of(node, "node"))
    common = {"name": name, "shape": (node.size_out,), "src": origin(node)}
    if out is None:
        op = ops.Sum(**common)
    elif isinstance(out, Process):
        spec = spec_to_dict(out.lowered(ctx.rng(node)))
        op = ops.Process(**common, kind="spikes" if isinstance(out, Encoder) else "real",
                         process=spec, size_in=node.size_in)
    elif callable(out):
        ir.callables[name] = out
        op = ops.HostFn(**common, fn=name, size_in=node.size_in)
    else:
        value = np.broadcast_to(np.asarray(out, dtype=float), (node.size_out,))
        op = ops.Input(**common, default=ir.param(f"{name}.default", value))
    ir.add(op)
    ir.objects[id(node)] = name
    if node.size_in:
        ctx.inputs[id(node)] = name
    if isinstance(out, PresentInput) or isinstance(op, ops.Input):
        ir.note(name, "fed per example" if isinstance(op, ops.Input) else "presents items")


# ------------------------------------------------------------------ connections
@lowers(Connection)
def lower_connection(ctx: Lowering, conn: Connection) -> None:
    ir = ctx.ir
    src = _decoded(ctx, conn) if decodes(conn.pre) else ctx.value_of(conn.pre)
    if conn.function is not None and not decodes(conn.pre):
        src = _host_function(ctx, conn, src)
    if isinstance(conn.synapse, Delay):
        name = ir.fresh(f"{conn_name(conn)}.delay")
        src = ir.add(ops.Delay(name=name, shape=ir.op(src).shape, kind=ir.op(src).kind,
                               src=origin(conn), steps=conn.synapse.steps), [src])
    elif conn.synapse is not None:
        syn = ir.fresh(f"{conn_name(conn)}.syn")
        src = ir.add(ops.Synapse(name=syn, shape=ir.op(src).shape, src=origin(conn),
                                 synapse=spec_to_dict(conn.synapse)), [src])
    ctx.conn_inputs[id(conn)] = src
    src = _transform(ctx, conn, src)
    ir.objects[id(conn)] = src
    # the edge remembers its connection: an identity connection has no op of its own
    ir.graph.add_edge(src, ctx.input_of(conn.post), src=origin(conn))


def _host_function(ctx: Lowering, conn: Connection, src: str) -> str:
    ir = ctx.ir
    name = ir.fresh(f"{conn_name(conn)}.fn")
    ir.callables[name] = lambda t, x, f=conn.function: f(x)
    return ir.add(ops.HostFn(name=name, shape=(conn.size_mid,), src=origin(conn), fn=name,
                             size_in=conn.size_in), [src])


def _decoded(ctx: Lowering, conn: Connection) -> str:
    """Decoders solving ``A D ~ f(X)`` over evaluation points (Nengo's method)."""
    ens = base_object(conn.pre)
    data = ctx.ensembles[id(ens)]
    points = _eval_points(ctx, conn, ens, data["rng"])
    current = data["gain"] * (points @ data["encoders"].T / ens.radius) + data["bias"]
    try:
        activities = ens.neuron_type.rates(current, ctx.ir.dt)
    except ValidationError as exc:
        raise CompileError(f"{conn._describe()}: cannot decode from {ens!r}: {exc}"
                           f"{where(conn.site)}") from None
    x = points[:, conn.pre.indices] if isinstance(conn.pre, ObjView) else points
    targets = _targets(conn, x)
    try:
        decoders = conn.solver.solve(activities, targets)
    except ValueError as exc:
        raise CompileError(f"{conn._describe()}.solver: {exc}{where(conn.site)}") from None
    ir = ctx.ir
    name = ir.fresh(f"{conn.label or label_of(ens, 'ens')}.dec")
    rmse = float(np.sqrt(np.mean((activities @ decoders - targets) ** 2)))
    ir.add(ops.Linear(name=name, shape=(targets.shape[1],), src=origin(conn), role="decoders",
                      weights=ir.param(f"{name}.w", decoders.T,
                                       (conn, "decoders") if isinstance(conn, Connection)
                                       else None),
                      shape_in=(ens.n_neurons,),
                      notes=(f"decoders: {len(points)} eval points, rmse={rmse:.3g}",)),
           [ir.objects[id(ens.neurons)]])
    return name


def _eval_points(ctx: Lowering, conn: Connection, ens: Ensemble, rng) -> np.ndarray:
    if isinstance(conn.eval_points, np.ndarray):
        return conn.eval_points * (ens.radius if conn.scale_eval_points else 1.0)
    dist = conn.eval_points if conn.eval_points is not None else ens.eval_points
    if isinstance(dist, np.ndarray):
        return dist * ens.radius
    n = ens.n_eval_points or max(int(np.clip(500 * ens.dimensions, 750, 2500)),
                                 2 * ens.n_neurons)
    return dist.sample(n, ens.dimensions, rng) * ens.radius


def _targets(conn: Connection, x: np.ndarray) -> np.ndarray:
    if conn.function is None:
        return x
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
    name = ir.fresh(base)
    return ir.add(ops.Linear(name=name, shape=(t.shape[0],), src=origin(conn),
                             weights=ir.param(f"{name}.w", weights),  # not trained: a dense
                             # gradient would fill in the zeros
                             shape_in=(t.shape[1],),
                             notes=(f"sparse: {len(t.indices)} nonzeros",)), [src])


def _conv(ctx: Lowering, conn: Connection, t: Convolution, src: str, base: str) -> str:
    ir, rng = ctx.ir, ctx.rng(conn)
    kshape = (*t.kernel_size, t.channels_in, t.n_filters)
    kernel = ctx.sample(t.init, kshape, rng)
    name = ir.fresh(base)
    return ir.add(ops.Conv2d(name=name, shape=t.shape_out, src=origin(conn),
                             kernel=ir.param(f"{name}.k", kernel, (conn, "transform")),
                             bias=_bias(ir, name, t.bias, t.n_filters, conn, rng),
                             shape_in=t.input_shape,
                             strides=t.strides, padding=t.padding,
                             channels_last=t.channels_last), [src])


def _pool(ctx: Lowering, conn: Connection, t: Pooling, src: str, base: str) -> str:
    ir = ctx.ir
    name = ir.fresh(base)
    return ir.add(ops.Pool2d(name=name, shape=t.shape_out, src=origin(conn),
                             kind="real" if t.kind != "max" else ir.op(src).kind, pool=t.kind,
                             pool_size=t.pool_size, strides=t.strides or t.pool_size,
                             padding=t.padding, shape_in=t.input_shape,
                             channels_last=t.channels_last), [src])


TRANSFORMS: dict[type, Callable] = {Dense: _dense, Sparse: _sparse, Convolution: _conv,
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


# ------------------------------------------------------------------ probes
@lowers(Probe)
def lower_probe(ctx: Lowering, probe: Probe) -> None:
    ir, target, attr = ctx.ir, probe.target, probe.attr
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
        value = ir.objects[id(target)]
        if not ir.op(value).weighted or value == ctx.conn_inputs[id(target)]:
            raise CompileError(f"{probe._describe()}: {target._describe()} has no weights to "
                               f"probe (its transform is {short_repr(target.transform)})"
                               f"{where(probe.site)}")
    else:
        value = ctx.value_of(target) if not isinstance(target, Connection) \
            else ir.objects[id(target)]
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


class _Readout:
    """A decoded-output probe decodes like an identity connection from the ensemble."""

    def __init__(self, probe: Probe):
        self.pre, self.function, self.label = probe.target, None, probe.label
        self.eval_points, self.scale_eval_points = None, True
        self.solver, self.site, self._describe = LstsqL2(), probe.site, probe._describe
