"""The IR container: a ``networkx.DiGraph`` of ops plus the arrays they name.

Node key = op name, node attribute ``op`` = the frozen op model; an edge ``a -> b``
means ``a``'s output is one of ``b``'s (summed) inputs. Passes edit an IR through these
few methods so names, parameters and the log stay consistent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
from snngraph.schemas.ir import Op


class IR:
    """Ops, edges, parameter arrays and what each pass did."""

    def __init__(self, label: str | None = None, dt: float = 0.001, seed: int | None = None):
        self.graph = nx.DiGraph()
        self.params: dict[str, np.ndarray] = {}
        self.callables: dict[str, Any] = {}
        self.objects: dict[int, str] = {}
        """id(user object or view) -> name of the op holding its output (in memory only)."""
        self.built: dict[int, dict[str, Any]] = {}
        """id(ensemble or connection) -> what lowering sampled and solved for it
        (encoders, gains, biases, eval points, decoders): what ``sim.data[obj]`` shows in
        the Nengo backend (in memory only)."""
        self.owners: dict[str, tuple[Any, str]] = {}
        """parameter key -> (user object, role) for trainable arrays (in memory only);
        training writes results back through it (``Simulator.freeze_params``)."""
        self.scales: dict[str, float] = {}
        """parameter key -> factor a pass multiplied it by (``scale_firing_rates``); trained
        values are stored divided by it, so they mean the same under any scale."""
        self.overrides: dict[str, np.ndarray] = {}
        """parameter key -> value used instead of the lowered one (trained parameters)."""
        self.built: dict[int, dict[str, Any]] = {}
        """id(user object) -> what the lowering computed for it beyond the ops (in memory
        only): a decoded connection's ``eval_points``, ``decoders``, ``solver_info`` and,
        with full weights, ``weights`` in Nengo's layout (Nengo's ``sim.data[conn]``)."""
        self.log: list[str] = []
        self.quantization: list[Any] = []
        """``discretize``'s ``QuantRow`` per on-chip connection (Loihi target)."""
        self.schedule: list[str] = []
        self.label, self.dt, self.seed = label, dt, seed
        self._taken: set[str] = set()

    # -- names and parameters
    def fresh(self, hint: str) -> str:
        """A new SSA name like ``%conv1`` (``%conv1_2`` if taken)."""
        base = "%" + (re.sub(r"[^0-9A-Za-z_.]+", "_", hint).strip("_") or "v")
        name, i = base, 2
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def param(self, key: str, value: Any, owner: tuple[Any, str] | None = None) -> str:
        """Store an array under ``key``; ``owner`` marks it trainable. A trained value in
        ``overrides`` replaces the lowered one (same shape required)."""
        value = np.asarray(value)
        if key in self.overrides:
            new = np.asarray(self.overrides[key])
            if new.shape != value.shape:
                from snngraph.errors import CompileError

                who = owner[0]._describe() if owner else key
                raise CompileError(f"{who}: trained parameter {key} has shape {new.shape}, "
                                   f"the network now needs {value.shape}")
            value = new.astype(value.dtype if value.dtype.kind == "f" else float)
        self.params[key] = value
        if owner is not None:
            self.owners[key] = owner
        return key

    # -- ops and edges
    def add(self, op: Op, inputs: Iterable[str] = ()) -> str:
        self._taken.add(op.name)
        self.graph.add_node(op.name, op=op)
        for src in inputs:
            self.graph.add_edge(src, op.name)
        return op.name

    def op(self, name: str) -> Op:
        return self.graph.nodes[name]["op"]

    def ops(self) -> list[Op]:
        return [d["op"] for _, d in self.graph.nodes(data=True)]

    def update(self, key: str, **changes: Any) -> Op:
        """Replace op ``key`` by a copy with ``changes`` (ops are frozen)."""
        op = self.op(key).model_copy(update=changes)
        self.graph.nodes[key]["op"] = op
        return op

    def note(self, name: str, text: str) -> None:
        op = self.op(name)
        self.update(name, notes=(*op.notes, text))

    def inputs(self, name: str) -> list[str]:
        return list(self.graph.predecessors(name))

    def summed_inputs(self, name: str) -> list[str]:
        """The inputs summed into the op's input (all but those it reads by role)."""
        roles = set(self.op(name).refs().values())
        return [i for i in self.graph.predecessors(name) if i not in roles]

    def read_by_role(self, name: str) -> bool:
        """Some op reads ``name`` by role (``ref_fields``), not as a summed input."""
        return any(name in self.op(c).refs().values() for c in self.consumers(name))

    def consumers(self, name: str) -> list[str]:
        return list(self.graph.successors(name))

    def remove(self, name: str) -> None:
        op = self.op(name)
        self.graph.remove_node(name)
        shared = {k for _, d in self.graph.nodes(data=True) for k in _param_keys(d["op"])}
        for key in set(_param_keys(op)) - shared:  # a current op shares its neurons' gain
            self.params.pop(key, None)
            self.owners.pop(key, None)  # nothing left to train or save

    def insert_after(self, name: str, op: Op, only: Iterable[str] | None = None) -> str:
        """Put ``op`` between ``name`` and its consumers (or just ``only`` of them)."""
        targets = list(only) if only is not None else self.consumers(name)
        self.add(op, [name])
        for t in targets:
            data = self.graph.edges[name, t]
            self.graph.remove_edge(name, t)
            self.graph.add_edge(op.name, t, **data)
        return op.name

    def rename(self, old: str, new: str) -> None:
        """Give op ``old`` the free name ``new`` (references and probes follow)."""
        nx.relabel_nodes(self.graph, {old: new}, copy=False)
        self.update(new, name=new)
        for n, data in self.graph.nodes(data=True):
            if getattr(data["op"], "target", None) == old:
                self.update(n, target=new)
            moved = {f: new for f, v in data["op"].refs().items() if v == old}
            if moved:
                self.update(n, **moved)
        self.objects = {k: (new if v == old else v) for k, v in self.objects.items()}
        self.schedule = [new if s == old else s for s in self.schedule]
        if old in self.callables:
            self.callables[new] = self.callables.pop(old)
            self.update(new, fn=new)
        self._taken.add(new)

    def refresh_kinds(self, order: list[str]) -> None:
        """Recompute the kind of ops that pass a value on (probes, slices, max pooling,
        delays, single-input sums) after a pass changed what they read."""
        for name in order:
            op = self.op(name)
            ins = self.inputs(name)
            if op.forwards_kind() and ins:
                kinds = {self.op(i).kind for i in ins}
                kind = "spikes" if kinds == {"spikes"} and len(ins) == 1 else "real"
                if kind != op.kind:
                    self.update(name, kind=kind)

    def copy(self) -> IR:
        new = IR(self.label, self.dt, self.seed)
        new.graph = self.graph.copy()
        new.params = dict(self.params)
        new.callables, new.objects = dict(self.callables), dict(self.objects)
        new.owners, new.overrides = dict(self.owners), dict(self.overrides)
        new.scales, new.built = dict(self.scales), dict(self.built)
        new.log, new._taken = list(self.log), set(self._taken)
        new.schedule = list(self.schedule)
        new.quantization = list(self.quantization)
        return new


def _param_keys(op: Op) -> list[str]:
    """The parameter keys an op names (its kind's ``param_fields``)."""
    return op.param_keys()


param_keys = _param_keys
