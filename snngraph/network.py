"""``Network``: a container of objects, used as a ``with`` block (Nengo's network)."""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr

from snngraph.base import SnnObject, context_stack
from snngraph.config import Config
from snngraph.connection import Connection
from snngraph.ensemble import Ensemble
from snngraph.node import Node
from snngraph.probe import Probe


def _members(kind: type | str, everywhere: bool = False) -> property:
    """A property listing a network's members of class ``kind`` (``"Network"``: its
    subnetworks, a class not yet defined where the property is), in creation order:
    direct members, or (``everywhere``) those of every subnetwork too."""
    def members(net: Network) -> list:
        cls = Network if kind == "Network" else kind
        return [o for o in (net.all_objects if everywhere else net._objects)
                if isinstance(o, cls)]

    name = kind if isinstance(kind, str) else kind.__name__
    members.__doc__ = (f"Every {name} in this network and its subnetworks." if everywhere
                       else f"The {name}s made directly in this network.")
    return property(members)


class Network(SnnObject):
    """Objects created inside ``with net:`` are added to ``net``; networks nest.

    ``seed`` seeds everything sampled when the network is lowered; ``config`` holds
    per-class defaults and per-object backend settings.
    """

    _objects: list = PrivateAttr(default_factory=list)
    _config: Config | None = PrivateAttr(default=None)
    _nir_report: list[str] | None = PrivateAttr(default=None)
    _nir_dt: float | None = PrivateAttr(default=None)

    @property
    def nir_report(self) -> list[str] | None:
        """A network read from a NIR file (``sg.nir.load``): every mapping made, NIR node
        -> snngraph object, one line each (None for other networks; not saved)."""
        return self._nir_report

    @property
    def nir_dt(self) -> float | None:
        """A network read from a NIR file: the time step (s) its delays were counted in
        and its producer stepped at; run it with ``sg.Simulator(net, dt=net.nir_dt)``."""
        return self._nir_dt

    @classmethod
    def _may_stand_alone(cls) -> bool:
        return True

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config(self)
        return self._config

    def __enter__(self) -> Network:
        context_stack().append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        stack = context_stack()
        if not stack or stack[-1] is not self:
            raise RuntimeError("network contexts were exited out of order")
        stack.pop()

    def add(self, obj: SnnObject) -> None:
        """Add an object (done automatically for objects created in the with-block)."""
        self._objects.append(obj)

    # -- members in creation order: direct, and (all_...) of every subnetwork too
    @property
    def objects(self) -> list[SnnObject]:
        return list(self._objects)

    @property
    def all_objects(self) -> list[SnnObject]:
        out = []
        for obj in self._objects:
            out.append(obj)
            if isinstance(obj, Network):
                out.extend(obj.all_objects)
        return out

    ensembles = _members(Ensemble)
    nodes = _members(Node)
    connections = _members(Connection)
    probes = _members(Probe)
    networks = _members("Network")
    all_ensembles = _members(Ensemble, everywhere=True)
    all_nodes = _members(Node, everywhere=True)
    all_connections = _members(Connection, everywhere=True)
    all_probes = _members(Probe, everywhere=True)
    all_networks = _members("Network", everywhere=True)

    def to_dict(self, arrays: dict | None = None) -> dict[str, Any]:
        """This network as a description document (see ``snngraph.document``)."""
        from snngraph.document import to_dict

        return to_dict(self, arrays)

    @staticmethod
    def from_dict(doc: dict[str, Any], arrays: dict | None = None) -> Network:
        """Rebuild a network from a description document."""
        from snngraph.document import from_dict

        return from_dict(doc, arrays)

    @property
    def n_neurons(self) -> int:
        return sum(e.n_neurons for e in self.all_ensembles)
