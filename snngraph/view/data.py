"""The page's data: everything the viewer shows, as one JSON-ready dict.

The HTML template (``page.py``) only draws what is here, so this module is where the
content is decided and where tests can check it without a browser: the IR after each
pass and what each pass changed, every op with its origin, the Loihi core map with each
core's use of every limit, the quantisation report, the energy estimate and the
measured activity.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from snngraph.compiler.program import Program
from snngraph.schemas.ir import Stage


def page_data(program: Program, measured: Any = None, title: str | None = None) -> dict:
    stages = program.history or [_final_stage(program)]
    data = {
        "title": title or f"snngraph: {program.ir.label or 'network'} ({program.target})",
        "label": program.ir.label, "target": program.target, "dt": program.ir.dt,
        "seed": program.ir.seed, "summary": program.summary(),
        "timings": {k: float(v) for k, v in program.timings.items()},
        "log": list(program.ir.log),
        "stages": [_stage(s, prev) for s, prev in zip(stages, [None, *stages[:-1]])],
        "ops": {op.name: _op(program, op) for op in program.ir.ops()},
        "loihi": _loihi(program, measured) if program.target == "loihi" else None,
        "activity": _activity(measured) if measured is not None else None,
    }
    return data


# ------------------------------------------------------------------ passes
def _final_stage(program: Program) -> Stage:
    """A program without history (assembled by hand): its final IR as the only stage."""
    from snngraph.compiler.history import materialize, snapshot

    return materialize(snapshot(program.ir, "final", len(program.ir.log)))


def _stage(stage: Stage, prev: Stage | None) -> dict:
    """One stage's ops and edges, and what its pass changed against ``prev``."""
    before = {o.name: o for o in prev.ops} if prev is not None else {}
    now = {o.name: o for o in stage.ops}
    status = {}
    for name, op in now.items():
        if prev is None:
            status[name] = "same"
        elif name not in before:
            status[name] = "added"
        elif _changed(before[name], op):
            status[name] = "changed"
        else:
            status[name] = "same"
    old_edges = {tuple(e) for e in prev.edges} if prev is not None else set()
    edges = [list(e) for e in stage.edges]
    groups = layers(stage.ops)
    return {
        "name": stage.name,
        "ops": [dict(o.model_dump(), status=status[o.name], group=groups[o.name],
                     before=_line(before[o.name]) if status[o.name] == "changed" else None)
                for o in stage.ops],
        "edges": edges,
        "removed": [n for n in before if n not in now],
        "new_edges": len([e for e in edges if tuple(e) not in old_edges]) if prev else 0,
        "log": list(stage.log),
    }


def _changed(a: Any, b: Any) -> bool:
    return (a.op, a.kind, a.shape, a.attrs, a.inputs, a.notes, a.chip) != \
        (b.op, b.kind, b.shape, b.attrs, b.inputs, b.notes, b.chip)


def _line(op: Any) -> str:
    shape = ",".join(map(str, op.shape))
    return f"{op.kind}[{shape}] = {op.op}({', '.join(op.inputs)}) {op.attrs}".strip()


def layers(ops: list[Any]) -> dict[str, str]:
    """Op -> the layer the page folds it into. Ops named after the same op are one
    layer (passes name what they add after it: ``%conv0.weights``, ``%conv0.syn`` and
    ``%conv0.to_host`` join ``%conv0``); an op left alone joins the neurons it alone
    feeds (a ``Layer``'s convolution, ``%conv0``, joins ``%conv0_lif``), and a probe
    left alone joins what it reads."""
    group = {o.name: o.name.lstrip("%").split(".")[0] for o in ops}
    size = Counter(group.values())
    consumers: dict[str, list[str]] = {}
    for o in ops:
        for i in o.inputs:
            consumers.setdefault(i, []).append(o.name)
    neurons = {o.name for o in ops if o.op.endswith((".spike", ".rate"))}
    for o in ops:
        if size[group[o.name]] > 1 or o.name in neurons or o.op == "input":
            continue
        after = consumers.get(o.name, [])
        if len(after) == 1 and after[0] in neurons:
            target = after[0]
        elif o.op == "probe" and len(o.inputs) == 1:
            target = o.inputs[0]
        else:
            continue
        size[group[o.name]] -= 1
        group[o.name] = group[target]
        size[group[target]] += 1
    return group


# ------------------------------------------------------------------ ops
def _op(program: Program, op: Any) -> dict:
    ir = program.ir
    keys = [k for k in op.param_keys() if k in ir.params]
    return {
        "name": op.name, "op": op.op, "kind": op.kind, "shape": list(op.shape),
        "every": op.every, "made_by": op.made_by, "chip": op.chip,
        "origins": [{"obj": o.obj, "file": o.site.file if o.site else None,
                     "line": o.site.line if o.site else None,
                     "code": o.site.code if o.site else ""} for o in op.src],
        "fields": _fields(op),
        "arrays": [{"key": k, "dtype": str(ir.params[k].dtype),
                    "shape": list(ir.params[k].shape)} for k in keys],
    }


_SKIP = {"name", "shape", "kind", "src", "made_by", "every", "notes", "chip", "op", "blocks"}


def _fields(op: Any) -> dict[str, str]:
    """The op's own attributes, as short text (arrays are named, not shown)."""
    from snngraph.compiler.printer import spec

    out = {}
    for key, value in op.model_dump(exclude=_SKIP).items():
        if value in (None, (), [], {}):
            continue
        # a neuron type, synapse or rule reads as it does in the dump: LIF(tau_rc=20ms)
        text = spec(value) if isinstance(value, dict) and "type" in value else str(value)
        out[key] = text if len(text) <= 160 else text[:157] + "..."
    return out


# ------------------------------------------------------------------ Loihi
def _loihi(program: Program, measured: Any) -> dict:
    from snngraph.compiler import loihi_resources as res

    report = program.resources(getattr(measured, "activity", None))
    limits = {k: getattr(res.LIMITS, k) for k in _RESOURCES}
    cores = []
    for r in report.rows:
        used = {k: getattr(r["usage"], k) for k in _RESOURCES}
        fractions = r["usage"].fractions()
        fullest = max(_RESOURCES, key=lambda k: fractions[k])
        cores.append({"chip": r["chip"], "core": r["core"], "layer": r["layer"],
                      "object": r["object"], "ranges": [list(x) for x in r["ranges"]],
                      "used": used, "fractions": fractions, "fullest": fullest})
    layers = {}
    for c in cores:
        layer = layers.setdefault(c["layer"], {"name": c["layer"], "object": c["object"],
                                               "cores": [], "compartments": 0})
        layer["cores"].append(c["core"])
        layer["compartments"] += c["used"]["compartments"]
    energy = report.energy()
    return {
        "limits": limits, "cores": cores, "chips": report.chips,
        "layers": list(layers.values()), "fits": report.fits(),
        "nef": [dict(r, shape=list(r["shape"])) for r in report.nef],
        "quantization": [q.model_dump() for q in program.quantization],
        "notes": {n: [t for t in program.ir.op(n).notes if t.startswith("discretize")]
                  for n in layers},
        "energy": energy, "macs": report.macs,
    }


_RESOURCES = ("compartments", "in_axons", "out_axons", "synapse_bits")


# ------------------------------------------------------------------ activity
def _activity(measured: Any) -> dict:
    from snngraph.view.measure import summary_rows

    return {"examples": measured.examples, "steps": measured.steps,
            "compared": bool(measured.rate), "no_rate": measured.no_rate,
            "layers": summary_rows(measured)}
