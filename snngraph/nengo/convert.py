"""``from_nengo``: a ``nengo.Network`` as ordinary snngraph objects.

One converter per Nengo object type, registered by type (``@converts(nengo.Ensemble)``),
as the compiler registers its lowering functions; parameter values (neuron types,
distributions, synapses, solvers, transforms, processes) go through ``params.py``.
Nothing Nengo's builder computes is taken from Nengo: encoders, gains and biases, eval
points and decoders are sampled and solved by snngraph's own lowering, so the result is
a network that compiles for every target and saves as a document.

Objects are converted in Nengo's build order (per network: ensembles and nodes,
subnetworks, connections, probes), with connections into learning rules and probes
last, so every object a connection or probe names exists before it. Each snngraph
object keeps its Nengo object's label and seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import nengo
import numpy as np

import snngraph as sg
from snngraph.nengo.errors import NengoBuildError, NengoInvalid, UnsupportedNengo, describe
from snngraph.nengo.loihi_config import apply_settings
from snngraph.nengo.params import convert_param, converter_of

CONVERTERS: dict[type, Callable[[Converter, Any], Any]] = {}


def converts(cls: type) -> Callable:
    """Register the converter of a Nengo object type."""
    def register(fn: Callable) -> Callable:
        CONVERTERS[cls] = fn
        return fn
    return register


class Conversion:
    """A converted network: ``.network`` (an ``sg.Network``) and which object is which:
    ``conversion[nengo_obj]`` is its snngraph counterpart, ``conversion.nengo(sg_obj)``
    the other way."""

    def __init__(self, network: sg.Network, to_sg: dict[int, Any], to_nengo: dict[int, Any],
                 process_seeds: dict[int, int]):
        self.network = network
        self._to_sg, self._to_nengo = to_sg, to_nengo
        self.process_seeds = process_seeds

    def __getitem__(self, nengo_obj: Any) -> Any:
        try:
            return self._to_sg[id(nengo_obj)][1]
        except KeyError:
            raise KeyError(f"{describe(nengo_obj)} is not part of the converted network") \
                from None

    def __contains__(self, nengo_obj: Any) -> bool:
        return id(nengo_obj) in self._to_sg

    def nengo(self, sg_obj: Any) -> Any:
        """The Nengo object ``sg_obj`` was made from (None for objects made here)."""
        return self._to_nengo.get(id(sg_obj))

    def pairs(self) -> list[tuple[Any, Any]]:
        """Every (Nengo object, snngraph object), in conversion order."""
        return list(self._to_sg.values())


def from_nengo(network: nengo.Network) -> Conversion:
    """Convert ``network`` (with its subnetworks) into snngraph objects.

    Raises ``UnsupportedNengo`` (a ``nengo.exceptions.BuildError``) naming the first Nengo
    object, or parameter, that snngraph cannot run exactly as Nengo would.
    """
    if not isinstance(network, nengo.Network):
        raise sg.ValidationError(f"from_nengo: expected a nengo.Network, got "
                                 f"{type(network).__name__}", obj="from_nengo",
                                 field="network", value=network)
    return Converter().run(network)


class Converter:
    """State of one conversion: the object maps and the deferred connections/probes."""

    def __init__(self) -> None:
        self.seeds: dict[int, int] = {}
        self.to_sg: dict[int, tuple[Any, Any]] = {}
        self.to_nengo: dict[int, Any] = {}
        self.networks: dict[int, sg.Network] = {}
        self.process_seeds: dict[int, int] = {}

    def run(self, network: nengo.Network) -> Conversion:
        self.seeds = object_seeds(network)
        top = self._structure(network, None)
        self._members(network, "connections", lambda c: not _into_rule(c))
        self._members(network, "connections", _into_rule)
        self._members(network, "probes", lambda p: True)
        # NengoLoihi's on_chip/block_shape, where the model sets them (add_params): the
        # Loihi target reads them from snngraph's config; other targets ignore them
        apply_settings(network, top, lambda obj: self.to_sg[id(obj)][1])
        return Conversion(top, self.to_sg, self.to_nengo, self.process_seeds)

    # -- building blocks
    def seed(self, obj: Any) -> int:
        """The seed Nengo gives ``obj`` (its own, or one drawn for it: see object_seeds)."""
        return self.seeds[id(obj)]

    def add(self, nengo_obj: Any, sg_obj: Any) -> Any:
        self.to_sg[id(nengo_obj)] = (nengo_obj, sg_obj)
        self.to_nengo[id(sg_obj)] = nengo_obj
        return sg_obj

    def convert(self, obj: Any) -> Any:
        fn = CONVERTERS.get(type(obj))
        if fn is None:
            raise UnsupportedNengo(obj, f"snngraph cannot convert a {type(obj).__name__}")
        try:
            return self.add(obj, fn(self, obj))
        except (UnsupportedNengo, NengoBuildError):
            raise
        except (sg.SnnError, ValueError, TypeError) as exc:
            # snngraph refused a value Nengo accepted at creation: Nengo's builder
            # would refuse it too, named by the Nengo object
            raise NengoInvalid(f"{describe(obj)}: {exc}", getattr(exc, "field", "")) \
                from None

    def param(self, obj: Any, field: str) -> Any:
        return convert_param(getattr(obj, field), obj, field)

    def _structure(self, network: nengo.Network, parent: sg.Network | None) -> sg.Network:
        """The network, its ensembles and nodes, and its subnetworks (recursively)."""
        net = sg.Network(label=network.label, seed=self.seeds[id(network)])
        if parent is not None:
            parent.add(net)
        self.networks[id(network)] = net
        self.add(network, net)
        with net:
            for obj in network.ensembles + network.nodes:
                self.convert(obj)
        for sub in network.networks:
            self._structure(sub, net)
        return net

    def _members(self, network: nengo.Network, kind: str, keep: Callable) -> None:
        with self.networks[id(network)]:
            for obj in getattr(network, kind):
                if keep(obj):
                    self.convert(obj)
        for sub in network.networks:
            self._members(sub, kind, keep)

    def endpoint(self, x: Any, owner: Any, field: str) -> Any:
        """The snngraph endpoint of a Nengo connection end or probe target."""
        if isinstance(x, nengo.base.ObjView):
            base = self.endpoint(x.obj, owner, field)
            return base[x.slice]
        if isinstance(x, nengo.ensemble.Neurons):
            return self.endpoint(x.ensemble, owner, field).neurons
        if isinstance(x, nengo.connection.LearningRule):
            return self._learning_rule(x, owner, field)
        if id(x) not in self.to_sg:
            raise UnsupportedNengo(owner, f"{field}: {describe(x)} is not part of the network "
                                   "being converted")
        return self.to_sg[id(x)][1]


    def _learning_rule(self, rule: Any, owner: Any, field: str) -> Any:
        """The snngraph view of a Nengo ``conn.learning_rule`` (one of a list or dict of
        rules is found by its place in it)."""
        conn = self.endpoint(rule.connection, owner, field)
        rules, views = rule.connection.learning_rule_type, conn.learning_rule
        if isinstance(rules, list | tuple):
            return views[next(i for i, r in enumerate(rules) if r is rule.learning_rule_type)]
        if isinstance(rules, dict):
            return views[next(k for k, r in rules.items() if r is rule.learning_rule_type)]
        return views


SEED_ORDER = (nengo.Connection, nengo.Ensemble, nengo.Network, nengo.Node, nengo.Probe)
"""The order in which Nengo seeds a network's objects, type by type (probes last, so that
adding one changes no other object's seed)."""


def object_seeds(network: nengo.Network) -> dict[int, int]:
    """Nengo's rule for the seed of every object: a network's generator (seeded by the
    network's seed, or a random one at the top) draws one seed per object, type by type
    in SEED_ORDER, whether or not the object has its own (which then wins), and each
    subnetwork seeds its objects from its own. So an object's parameters do not change
    when objects of another type are added, as Nengo users expect."""
    top = network.seed if network.seed is not None else np.random.randint(2**31 - 1)
    seeds = {id(network): int(top)}
    _seed_members(network, seeds)
    return seeds


def _seed_members(network: nengo.Network, seeds: dict[int, int]) -> None:
    rng = np.random.RandomState(seeds[id(network)])
    for kind in SEED_ORDER:
        for obj in network.objects[kind]:
            drawn = int(rng.randint(2**31 - 1))
            seeds[id(obj)] = obj.seed if obj.seed is not None else drawn
    for sub in network.networks:
        _seed_members(sub, seeds)


def _into_rule(conn: nengo.Connection) -> bool:
    return isinstance(conn.post_obj, nengo.connection.LearningRule)


# ---------------------------------------------------------------- objects
@converts(nengo.Ensemble)
def _ensemble(c: Converter, ens: nengo.Ensemble) -> sg.Ensemble:
    kwargs = dict(n_neurons=ens.n_neurons, dimensions=ens.dimensions, radius=ens.radius,
                  label=ens.label, seed=c.seed(ens), normalize_encoders=ens.normalize_encoders)
    for field in ("neuron_type", "encoders", "intercepts", "max_rates", "eval_points"):
        kwargs[field] = c.param(ens, field)
    if ens.n_eval_points is not None:
        kwargs["n_eval_points"] = ens.n_eval_points
    if ens.gain is not None or ens.bias is not None:
        kwargs["gain"], kwargs["bias"] = c.param(ens, "gain"), c.param(ens, "bias")
    _warn_overridden(ens)
    if ens.noise is not None:
        if converter_of(type(ens.noise)) is None:
            raise UnsupportedNengo(ens, f"noise={ens.noise!r}: snngraph runs Nengo's noise "
                                   "processes as ensemble noise, not a process of its own")
        kwargs["noise"] = convert_param(ens.noise, ens, "noise")
    return sg.Ensemble(**kwargs)


def _warn_overridden(ens: nengo.Ensemble) -> None:
    """Nengo's warnings for parameters another one overrides."""
    given = {name for name in ("intercepts", "max_rates")
             if getattr(type(ens), name).default is not getattr(ens, name)
             and not isinstance(getattr(ens, name), nengo.dists.Distribution)}
    if ens.gain is not None and ens.bias is not None and given:
        warnings.warn(nengo.exceptions.NengoWarning(
            f"{describe(ens)}: gain and bias are given, so {' and '.join(sorted(given))} "
            "are not used"), stacklevel=4)
    points = ens.eval_points
    if ens.n_eval_points is not None and isinstance(points, nengo.dists.Samples) \
            and len(points.samples) != ens.n_eval_points:
        # an array set through a config becomes Nengo's Samples distribution, which it
        # samples n_eval_points times: a mismatch is then an error (an array set on the
        # ensemble itself only warns, below)
        raise NengoInvalid(
            f"{describe(ens)}.eval_points: {len(points.samples)} points given through a "
            f"config (a Samples distribution), but n_eval_points={ens.n_eval_points}"
            "\n  fix: give n_eval_points equal to the number of points, or leave it unset",
            attr="eval_points")
    if ens.n_eval_points is not None and not isinstance(points, nengo.dists.Distribution) \
            and len(points) != ens.n_eval_points:
        warnings.warn(f"{describe(ens)}: n_eval_points={ens.n_eval_points} is not the number "
                      f"of eval_points given ({len(points)}); the given points are used",
                      stacklevel=4)


@converts(nengo.Node)
def _node(c: Converter, node: nengo.Node) -> sg.Node:
    out = node.output
    if isinstance(out, nengo.processes.Process):
        out = _process(c, node, out)
    elif out is not None and not callable(out):
        try:
            out = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            raise NengoBuildError(f"{describe(node)}: Invalid node output type "
                                  f"{type(out).__name__!r}: expected numbers, a function "
                                  "or a Process") from None
    return sg.Node(out, size_in=node.size_in, size_out=node.size_out, label=node.label,
                   seed=c.seed(node))


def _process(c: Converter, node: Any, process: nengo.processes.Process,
             field: str = "output") -> Any:
    """A Nengo process: its snngraph counterpart (a synapse filters the node's input),
    or its own ``make_step`` run on the host, as Nengo runs it: a process the user
    wrote, or a Piecewise whose values are the user's functions of time."""
    if isinstance(process, nengo.synapses.Synapse) and \
            converter_of(type(process)) is not None:
        return sg.processes.Filter(convert_param(process, node, field))
    if isinstance(process, nengo.processes.Piecewise) and any(
            callable(v) for v in process.data.values()):
        from snngraph.nengo.host import HostProcess

        return HostProcess(process, node.size_in, node.size_out)
    if converter_of(type(process)) is not None:
        return convert_param(process, node, field)
    if type(process).__module__ in NENGO_LIBRARY:
        raise UnsupportedNengo(node, f"output={process!r}: snngraph has no "
                               f"{type(process).__name__} process yet")
    from snngraph.nengo.host import HostProcess

    return HostProcess(process, node.size_in, node.size_out)


NENGO_LIBRARY = {"nengo.processes", "nengo.synapses", "nengo.dists", "nengo.neurons"}
"""Modules of Nengo's own classes: those map onto snngraph's (a class from anywhere else,
even Nengo's tests, is the user's code and runs as written)."""


@converts(nengo.Connection)
def _connection(c: Converter, conn: nengo.Connection) -> sg.Connection:
    kwargs = dict(pre=c.endpoint(conn.pre, conn, "pre"),
                  post=c.endpoint(conn.post, conn, "post"),
                  synapse=c.param(conn, "synapse"), transform=c.param(conn, "transform"),
                  label=conn.label, seed=c.seed(conn))
    if conn.function is not None:
        kwargs["function"] = conn.function if callable(conn.function) else \
            np.asarray(conn.function, dtype=float)  # its values at the eval points
    if isinstance(conn.pre_obj, nengo.Ensemble) and not isinstance(conn.pre, nengo.ensemble
                                                                    .Neurons):
        kwargs["solver"] = c.param(conn, "solver")
        if conn.eval_points is not None:
            kwargs["eval_points"] = c.param(conn, "eval_points")
        kwargs["scale_eval_points"] = conn.scale_eval_points
    if conn.learning_rule_type is not None:
        kwargs["learning_rule_type"] = _rule_types(conn)
    return sg.Connection(**kwargs)


def _rule_types(conn: nengo.Connection) -> Any:
    """One rule, a list or a dict of them, as Nengo's connection has it."""
    rules = conn.learning_rule_type
    if isinstance(rules, list | tuple):
        return [_rule_type(r, conn) for r in rules]
    if isinstance(rules, dict):
        return {k: _rule_type(r, conn) for k, r in rules.items()}
    return _rule_type(rules, conn)


def _rule_type(rule: Any, conn: nengo.Connection) -> Any:
    # a rule's target is checked first, in Nengo's words: a class may change its
    # 'modifies' after Nengo validated it (nothing could learn an unknown target)
    if getattr(rule, "modifies", None) not in ("encoders", "decoders", "weights"):
        raise NengoBuildError(f"{describe(conn)}: {type(rule).__name__}: Unknown target "
                              f"{rule.modifies!r} (a rule modifies 'encoders', 'decoders' "
                              "or 'weights')")
    return convert_param(rule, conn, "learning_rule_type")


PROBE_ATTRS = {"spikes": "output"}
"""Nengo attribute names snngraph spells differently (a spiking neuron's output)."""


@converts(nengo.Probe)
def _probe(c: Converter, probe: nengo.Probe) -> sg.Probe:
    target = c.endpoint(probe.target, probe, "target")
    attr = PROBE_ATTRS.get(probe.attr, probe.attr)
    if attr == "weights" and isinstance(probe.target, nengo.Connection) and isinstance(
            probe.target.transform, nengo.transforms.NoTransform) and not isinstance(
            probe.target.pre_obj, nengo.Ensemble):  # (decoded: the decoders are weights)
        raise NengoBuildError(f"{describe(probe)}: {describe(probe.target)} has no transform "
                              "(transform=None) and no decoders, so it has no weights: they "
                              "cannot be probed")
    if attr == "scaled_encoders" and isinstance(probe.target, nengo.Ensemble):
        target = _voja_of(c, probe)
    return sg.Probe(target, attr, synapse=c.param(probe, "synapse"), label=probe.label,
                    sample_every=probe.sample_every, seed=c.seed(probe))


def _voja_of(c: Converter, probe: nengo.Probe) -> Any:
    """``Probe(ens, "scaled_encoders")`` reads the encoders a Voja rule learns: the
    learning rule of the connection into the ensemble that has one; without one, the
    ensemble's own (fixed) scaled encoders."""
    for conn in c.to_sg.values():
        nengo_conn, sg_conn = conn
        if not isinstance(nengo_conn, nengo.Connection) or nengo_conn.post_obj is not \
                probe.target:
            continue
        rules = nengo_conn.learning_rule
        for rule in (rules.values() if isinstance(rules, dict) else
                     rules if isinstance(rules, list) else [rules]):
            if isinstance(getattr(rule, "learning_rule_type", None), nengo.Voja):
                return c.endpoint(rule, probe, "target")
    return c.endpoint(probe.target, probe, "target")  # fixed: the ensemble's built ones
