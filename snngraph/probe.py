"""``Probe``: records a value of an object during a run (``sim.data[probe]``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator

from snngraph.base import FieldError, SnnObject
from snngraph.connection import Connection
from snngraph.ensemble import Ensemble
from snngraph.node import Node
from snngraph.schemas.base import PosFloat, ref_to
from snngraph.synapses import SynapseParam
from snngraph.views import LearningRule, Neurons, ObjView

TARGETS = (Ensemble, Neurons, Node, Connection, ObjView, LearningRule)
Target = ref_to(TARGETS, "an Ensemble, ens.neurons, a Node, a Connection, a slice of one, "
                "or a connection's learning_rule")


class Probe(SnnObject):
    """Records ``attr`` of ``target`` (its default output when ``attr`` is None),
    filtered by ``synapse``, every ``sample_every`` seconds (every step when None).

    ``attr`` as in Nengo: ``"output"`` (spikes or rates of ``ens.neurons``, a Node's or a
    Connection's value), ``"decoded_output"`` (an Ensemble's decoded vector),
    ``"input"``: for ``ens.neurons`` the current into the neuron model,
    ``J = gain * (sum of its inputs) + bias`` (the gain applies to the encoded input and
    to every connection into the neurons; not on a Loihi chip ensemble); for an Ensemble
    the vector fed to it (its ``dimensions`` values, before the encoders); for a
    Connection the value entering it. A neuron type's state (e.g. ``"voltage"``) and a
    Connection's ``"weights"`` can be probed too; ``"spikes"`` is a spiking type's output
    (Nengo's older name) and ``"rate_out"`` a rate-to-spike wrapper's base rate. A
    Direct-mode ensemble's ``"decoded_output"`` is its input, exactly."""

    _positional: ClassVar[tuple[str, ...]] = ("target", "attr")

    target: Target
    """What to record: an ensemble, ``ens.neurons``, a node, a connection, or a slice."""
    attr: str | None = None
    """Which value of the target: e.g. ``'decoded_output'``, ``'output'``, ``'input'``,
    ``'voltage'``, ``'weights'``; None records its default output."""
    synapse: SynapseParam = None
    """Filter on the recorded values: a Synapse, a time constant in seconds, or None
    (unfiltered)."""
    sample_every: PosFloat | None = None
    """Record every this many seconds (a multiple of ``dt``); None records every step."""

    @model_validator(mode="after")
    def _attr(self) -> Probe:
        allowed = self.target.probeable
        if self.attr is None:
            self.__dict__["attr"] = allowed[0]
        elif self.attr not in allowed:
            raise FieldError("attr", self.attr, f"expected one of {', '.join(allowed)} for "
                             f"{self.target!r}")
        return self

    @property
    def size_in(self) -> int:
        target = self.target
        if self.attr == "weights" or isinstance(target, LearningRule):
            return 0
        return target.size_out if self.attr != "input" else target.size_in
