"""The IR as text: one line per op, jaxpr/MLIR style, in schedule order.

``%name : kind[shape] = op(inputs)  attributes  origin @file:line``; weights are
summarised (``w=f64[10,3200] |w|max=0.27``), times carry units, ops made by a pass say
which, and what passes did is listed as notes under the op and in the log.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from snngraph.compiler.ir import IR
from snngraph.schemas import ir as ops

FORMATTERS: dict[str, Callable[[IR, ops.Op], str]] = {}
formats = ops.registrar(FORMATTERS)
"""``@formats("sum", "scatter")``: the attributes of an op kind's line."""


def seconds(value: float) -> str:
    return f"{value * 1e3:g}ms" if value < 1 else f"{value:g}s"


def array(ir: IR, key: str | None, name: str) -> str:
    if key is None:
        return ""
    a = ir.params[key]
    dtype = {"f": "f", "i": "i", "u": "u", "b": "b"}.get(a.dtype.kind, "?")
    shape = ",".join(map(str, a.shape))
    stat = f" |{name}|max={np.abs(a).max():.3g}" if a.size else ""
    return f"{name}={dtype}{a.dtype.itemsize * 8}[{shape}]{stat}"


def spec(d: dict) -> str:
    """A spec dict as ``Type(field=value, ...)`` with times in ms."""
    parts = []
    for k, v in d.items():
        if k == "type" or v is None or v == []:  # unset (None) or nothing given ([])
            continue
        if isinstance(v, dict) and "type" in v:  # a nested spec, e.g. a surrogate
            v = spec(v)
        elif isinstance(v, dict) and "shape" in v:
            v = f"[{len(v.get('data', []))} values]"
        elif isinstance(v, float) and (k.startswith("tau") or k == "presentation_time"):
            v = seconds(v)
        parts.append(f"{k}={v}")
    return f"{d['type']}({', '.join(parts)})"


@formats("input")
def _input(ir, op):
    return array(ir, op.default, "default")


@formats("host_fn")
def _host_fn(ir, op):
    fn = ir.callables.get(op.fn)
    return f"fn={getattr(fn, '__qualname__', op.fn)} size_in={op.size_in}"


@formats("process")
def _process(ir, op):
    divided = f" divided by {op.divide_by}" if op.divide_by is not None else ""
    return spec(op.process) + divided


@formats("sum", "scatter")
def _sum(ir, op):
    return f"indices=[{len(op.indices)}]" if op.op == "scatter" else ""


@formats("slice")
def _slice(ir, op):
    idx = op.indices
    if len(idx) > 1 and all(b - a == idx[1] - idx[0] for a, b in zip(idx, idx[1:])):
        return f"[{idx[0]}:{idx[-1] + 1}:{idx[1] - idx[0]}] of {op.size_in}"
    return f"{list(idx)[:6]}{'...' if len(idx) > 6 else ''} of {op.size_in}"


@formats("linear")
def _linear(ir, op):
    w = ir.params[op.weights]
    kind = "diag" if w.ndim == 1 else op.role
    parts = [f"{kind}", array(ir, op.weights, "w"), array(ir, op.bias, "b")]
    return " ".join(p for p in parts if p)


@formats("conv2d")
def _conv(ir, op):
    k = ir.params[op.kernel].shape
    return " ".join(p for p in [f"k={k[0]}x{k[1]} s={op.strides[0]}x{op.strides[1]} "
                                f"p={op.padding} in={list(op.shape_in)}",
                                array(ir, op.kernel, "w"), array(ir, op.bias, "b")] if p)


@formats("conv_transpose2d")
def _conv_transpose(ir, op):
    return "transpose " + _conv(ir, op)


@formats("pool2d")
def _pool(ir, op):
    return (f"{op.pool} {op.pool_size[0]}x{op.pool_size[1]} s={op.strides[0]}x{op.strides[1]} "
            f"p={op.padding} in={list(op.shape_in)}")


@formats("neurons")
def _neurons(ir, op):
    g = ir.params[op.gain]
    b = ir.params[op.bias]
    smooth = f" smoothing={op.smoothing:g}" if op.smoothing else ""
    text = (f"{spec(op.neuron)} gain~[{g.min():.3g},{g.max():.3g}] "
            f"bias~[{b.min():.3g},{b.max():.3g}]{smooth}")
    if not op.loihi.on_chip:
        text += " on_chip=False"
    if op.loihi.block_shape:
        text += f" block_shape={op.loihi.block_shape}"
    if op.blocks:
        cores = sorted({(b.chip, b.core) for b in op.blocks})
        text += f" blocks={len(op.blocks)} cores={_span([c for _, c in cores])}"
    return text


def _span(cores: list[int]) -> str:
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}" if len(cores) == 1 else f"{cores[0]}..{cores[-1]}"
    return ",".join(map(str, cores))


@formats("spike_input")
def _spike_input(ir, op):
    return "host -> chip (arrives next step)"


@formats("spike_output")
def _spike_output(ir, op):
    return "chip -> host"


@formats("synapse")
def _synapse(ir, op):
    return spec(op.synapse)


@formats("delay")
def _delay(ir, op):
    return f"steps={op.steps}"


@formats("learn")
def _learn(ir, op):
    extra = f" encoders={ir.params[op.encoders].shape}" if op.encoders else ""
    return f"{spec(op.rule)} modifies={op.modifies} of {op.target}{extra}"


@formats("probe")
def _probe(ir, op):
    every = f" every={seconds(op.sample_every)}" if op.sample_every else ""
    syn = f" synapse={spec(op.synapse)}" if op.synapse else ""
    return f"attr={op.attr}{every}{syn}"


def op_name(op: ops.Op) -> str:
    if op.op == "neurons":
        return f"{op.neuron['type'].lower()}.{op.mode}"
    return op.op


def order(ir: IR) -> list[str]:
    if ir.schedule and set(ir.schedule) == set(ir.graph.nodes):
        return ir.schedule
    from snngraph.compiler.passes.schedule import step_order

    return step_order(ir, strict=False)  # creation order if there is an algebraic loop


def line(ir: IR, op: ops.Op) -> list[str]:
    shape = ",".join(map(str, op.shape))
    inputs = ", ".join([*ir.summed_inputs(op.name),
                        *(f"{role}={name}" for role, name in op.refs().items())])
    attrs = FORMATTERS[op.op](ir, op)
    if op.every == "presentation":
        attrs = (attrs + " every=presentation").strip()
    if op.chip:
        attrs = ("chip " + attrs).strip()
    if op.made_by:
        where = f"[{op.made_by}]"
    elif op.src:
        first = op.src[0]
        more = f" +{len(op.src) - 1}" if len(op.src) > 1 else ""
        where = first.obj + more + (f" @{first.site}" if first.site else "")
    else:
        where = ""
    return [op.name, f": {op.kind}[{shape}]", f"= {op_name(op)}({inputs})", attrs, where]


def to_text(ir: IR, target: str = "", stage: str = "", source: bool = True) -> str:
    """The whole IR as text (``source=False`` drops the ``@file:line`` column)."""
    head = (f"# snngraph IR  net={ir.label!r}  target={target}  dt={seconds(ir.dt)}  "
            f"seed={ir.seed}  {stage}").rstrip()
    rows = [line(ir, ir.op(n)) for n in order(ir)]
    if not source:
        rows = [r[:4] + [r[4].split(" @")[0]] for r in rows]
    widths = [max([len(r[i]) for r in rows] + [0]) for i in range(4)]
    out = [head]
    out += [f"# {entry}" for entry in ir.log]
    for row, name in zip(rows, order(ir)):
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        out += [f"{'':{widths[0]}}    # {n}" for n in ir.op(name).notes]
    out.append(footer(ir))
    return "\n".join(s.rstrip() for s in out)


def footer(ir: IR) -> str:
    neurons = sum(op.size for op in ir.ops() if op.op == "neurons")
    weights = sum(ir.params[k].size for op in ir.ops() if op.weighted for k in op.param_keys())
    return (f"# {ir.graph.number_of_nodes()} ops, {ir.graph.number_of_edges()} edges; "
            f"{neurons:,} neurons; {weights:,} stored weights and biases")
