"""``Program``: what runtimes execute. The IR after the passes, its schedule, its
parameters, the target and how long each pass took; saved as JSON + ``.npz``."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pydantic
from snngraph.compiler.ir import IR
from snngraph.schemas.ir import ProgramDoc, QuantRow, Stage

from snngraph import files
from snngraph.errors import SerializationError, ValidationError


def _check_consistent(ir: IR, path: Path) -> None:
    """Edges, schedule and parameter keys must refer to ops and arrays that exist."""
    from snngraph.compiler.ir import param_keys

    known = {op.name for op in ir.ops()}
    for name in ir.schedule:
        if name not in known:
            raise SerializationError(f"{path}: the schedule names {name}, which is not an op")
    if ir.schedule and set(ir.schedule) != known:
        raise SerializationError(f"{path}: the schedule does not list every op once")
    for op in ir.ops():
        for key in param_keys(op):
            if key not in ir.params:
                raise SerializationError(f"{path}: op {op.name} needs the array {key!r}, "
                                         "which the .npz does not have")
    if not ir.schedule and not nx.is_directed_acyclic_graph(ir.graph):
        raise SerializationError(f"{path}: program has no schedule")


_EXPECTED = "a snngraph program (.json written by Program.save or `snngraph compile`)"


def _read_program(path: str | os.PathLike) -> ProgramDoc:
    """The validated program document at ``path``; a description document, a binary
    file or a damaged program is named with what to run instead."""
    path, text = files.read_text(path, _EXPECTED)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SerializationError(f"{path}: not a snngraph program (not valid JSON: {exc})"
                                 ) from None
    if files.doc_kind(raw) == "description":
        raise files.wrong_kind(path, "description", "a snngraph program") from None
    if files.doc_kind(raw) != "program":
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise SerializationError(f"{path}: not a snngraph program (expected \"format\": "
                                 f"\"snngraph-program\", got {got!r})\n  fix: make one with "
                                 "`snngraph compile MODEL --dump json -o program.json`")
    try:
        return ProgramDoc.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise SerializationError(f"{path}: not a snngraph program ({_pydantic_problems(exc)})"
                                 "\n  fix: compile the model again (`snngraph compile MODEL "
                                 "--dump json -o program.json`)") from None


def _pydantic_problems(exc: pydantic.ValidationError, limit: int = 4) -> str:
    """pydantic's errors as 'field: message' (no web links), the first few."""
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in errors[:limit]]
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return f"{len(errors)} problem(s): " + "; ".join(parts) + more


class Program:
    """A compiled network. ``print(program)`` shows the text dump."""

    def __init__(self, ir: IR, target: str, passes: list[str], timings: dict[str, float],
                 stages: list[Any] | None = None):
        self.ir, self.target, self.passes, self.timings = ir, target, passes, timings
        self._stages = list(stages or [])
        """``history.Snapshot`` (from ``compile``) or ``Stage`` (loaded) per pass."""

    @property
    def history(self) -> list[Stage]:
        """The IR after ``lower`` and after each pass, as dump lines (empty for a program
        assembled by hand); ``snngraph view`` draws it."""
        from snngraph.compiler.history import Snapshot, materialize

        self._stages = [materialize(s) if isinstance(s, Snapshot) else s for s in self._stages]
        return list(self._stages)

    @property
    def quantization(self) -> list[QuantRow]:
        """Loihi target: how each on-chip connection's weights were rounded (``discretize``'s
        report: weight exponents, largest and RMS rounding error, weights that became 0)."""
        return list(self.ir.quantization)

    @property
    def schedule(self) -> list[str]:
        return self.ir.schedule

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.ir.params

    def op_of(self, obj: Any) -> str:
        """The op holding a user object's output (an Ensemble's neurons, a Node, a Probe)."""
        key = id(getattr(obj, "neurons", obj)) if type(obj).__name__ == "Ensemble" else id(obj)
        try:
            return self.ir.objects[key]
        except KeyError:
            raise KeyError(f"{obj!r} is not part of this program (or was optimized away)"
                           ) from None

    # -- dumps
    def dump(self, fmt: str = "text", source: bool = True) -> str:
        if fmt == "text":
            from snngraph.compiler.printer import to_text

            return to_text(self.ir, target=self.target,
                           stage=f"after {len(self.passes)} passes: {', '.join(self.passes)}",
                           source=source)
        if fmt == "json":
            return self.to_doc().model_dump_json(indent=1)
        if fmt == "dot":
            return self._dot()
        raise ValidationError(f"Program.dump: unknown format {fmt!r}; expected text, json or "
                              "dot", obj="Program", field="fmt", value=fmt)

    def __str__(self) -> str:
        return self.dump("text")

    def _dot(self) -> str:
        from snngraph.compiler.printer import op_name

        lines = [f'digraph "{self.ir.label or "snngraph"}" {{', "  rankdir=TB;",
                 '  node [shape=box, fontname="monospace"];']
        for name in self.ir.graph.nodes:
            op = self.ir.op(name)
            shape = "x".join(map(str, op.shape))
            style = ', style=dashed' if op.every == "presentation" else ""
            lines.append(f'  "{name}" [label="{name}\\n{op_name(op)} {op.kind}[{shape}]"{style}];')
        for u, v in self.ir.graph.edges:
            lines.append(f'  "{u}" -> "{v}";')
        return "\n".join(lines + ["}"])

    def summary(self) -> str:
        ops = self.ir.ops()
        kinds = Counter(op.op for op in ops)
        neurons = Counter(op.neuron["type"] for op in ops if op.op == "neurons")
        n_syn = sum(1 for op in ops if op.op == "synapse")
        weights = sum(a.size for k, a in self.ir.params.items()
                      if not k.endswith((".gain", ".bias", ".default")))
        return (f"{len(ops)} ops ({', '.join(f'{k} {v}' for k, v in kinds.most_common())}); "
                f"{sum(op.size for op in ops if op.op == 'neurons'):,} neurons "
                f"({', '.join(f'{k} {v}' for k, v in neurons.items()) or 'none'}); "
                f"{n_syn} synapses; {weights:,} parameters; target {self.target}; "
                f"compiled in {sum(self.timings.values()) * 1e3:.1f} ms")

    def resources(self, activity: Any = None) -> Any:
        """Loihi programs: cores, chips and each core's use against its limits (print
        it); with measured ``activity`` (``sim.resources()`` passes it) also an energy
        estimate per inference."""
        from snngraph.compiler.loihi_report import ResourceReport

        if self.target != "loihi":
            raise ValidationError(f"Program.resources: only for target='loihi' (this "
                                  f"program is for {self.target!r})", obj="Program",
                                  field="target", value=self.target)
        return ResourceReport(self, activity)

    def to_html(self, path: str | os.PathLike, *, data: Any = None, steps: int | None = None,
                title: str | None = None) -> Path:
        """One self-contained HTML page of this program (``snngraph view``): the IR after
        each pass, every op and where it came from, the Loihi core map and reports, and
        with ``data`` (an ``.npz`` of inputs, see ``snngraph.view.view``) each layer's
        measured rates. Trained parameters and the rate network's comparison need the
        network: ``snngraph.view.view(net, path, params=..., data=...)``."""
        from snngraph.view import view

        return view(self, path, data=data, steps=steps, title=title)

    # -- save / load
    def to_doc(self, arrays: str | None = None) -> ProgramDoc:
        if self.ir.callables:
            name = next(iter(self.ir.callables))
            src = ", ".join(o.obj for o in self.ir.op(name).src) if name in self.ir.graph else ""
            raise SerializationError(f"Program: op {name} ({src}) runs a Python function, "
                                     "which cannot be saved in a program document")
        ir = self.ir
        return ProgramDoc(target=self.target, dt=ir.dt, seed=ir.seed, label=ir.label,
                          passes=self.passes, timings=self.timings, log=ir.log,
                          ops=ir.ops(), edges=list(ir.graph.edges), schedule=ir.schedule,
                          arrays=arrays, history=self.history, quantization=ir.quantization)

    def save(self, path: str | os.PathLike) -> Path:
        from snngraph.document import _atomic_write

        path = files.check_writable(path, "Program.save")
        sidecar = path.with_suffix(".npz")
        text = self.to_doc(arrays=sidecar.name).model_dump_json(indent=1)
        _atomic_write(sidecar, lambda fh: np.savez(fh, **self.ir.params))
        _atomic_write(path, lambda fh: fh.write(text.encode()))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Program:
        doc = _read_program(path)
        path = Path(path)
        ir = IR(doc.label, doc.dt, doc.seed)
        for op in doc.ops:
            ir.add(op)
        for u, v in doc.edges:
            if u not in ir.graph or v not in ir.graph:
                raise SerializationError(f"{path}: edge {u} -> {v} refers to an op that is "
                                         "not in the program")
            ir.graph.add_edge(u, v)
        ir.schedule, ir.log = list(doc.schedule), list(doc.log)
        ir.quantization = list(doc.quantization)
        if doc.arrays:
            sidecar = path.parent / Path(doc.arrays).name
            if not sidecar.is_file():
                raise SerializationError(f"{path}: cannot read its arrays file {sidecar} "
                                         "(missing)\n  fix: keep the .npz that "
                                         "Program.save wrote beside the program")
            ir.params = files.load_npz(sidecar, f"the arrays of {path}", "Program.save")
        _check_consistent(ir, path)
        return cls(ir, doc.target, doc.passes, doc.timings, stages=doc.history)
