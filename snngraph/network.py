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


class Network(SnnObject):
    """Objects created inside ``with net:`` are added to ``net``; networks nest.

    ``seed`` seeds everything sampled when the network is lowered; ``config`` holds
    per-class defaults and per-object backend settings.
    """

    _objects: list = PrivateAttr(default_factory=list)
    _config: Config | None = PrivateAttr(default=None)

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

    # -- direct members, in creation order
    @property
    def objects(self) -> list[SnnObject]:
        return list(self._objects)

    def _direct(self, cls: type) -> list:
        return [o for o in self._objects if isinstance(o, cls)]

    @property
    def ensembles(self) -> list[Ensemble]:
        return self._direct(Ensemble)

    @property
    def nodes(self) -> list[Node]:
        return self._direct(Node)

    @property
    def connections(self) -> list[Connection]:
        return self._direct(Connection)

    @property
    def probes(self) -> list[Probe]:
        return self._direct(Probe)

    @property
    def networks(self) -> list[Network]:
        return self._direct(Network)

    # -- members of this network and every subnetwork
    @property
    def all_objects(self) -> list[SnnObject]:
        out = []
        for obj in self._objects:
            out.append(obj)
            if isinstance(obj, Network):
                out.extend(obj.all_objects)
        return out

    def _all(self, cls: type) -> list:
        return [o for o in self.all_objects if isinstance(o, cls)]

    @property
    def all_ensembles(self) -> list[Ensemble]:
        return self._all(Ensemble)

    @property
    def all_nodes(self) -> list[Node]:
        return self._all(Node)

    @property
    def all_connections(self) -> list[Connection]:
        return self._all(Connection)

    @property
    def all_probes(self) -> list[Probe]:
        return self._all(Probe)

    @property
    def all_networks(self) -> list[Network]:
        return self._all(Network)

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
