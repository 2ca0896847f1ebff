"""``swap_neurons``: rate <-> spike swapping and ``scale_firing_rates``.

``swap`` maps neuron classes to replacements (an instance is used as given; a class is
built with the parameters the two share), or is ``"rate"`` (every spiking op runs its
own rate curve: training) or ``"spike"`` (the default mapping below). Scaling by ``s``
multiplies gain and bias by ``s`` and divides the amplitude by ``s``, which leaves a
rate-ReLU network's output unchanged and raises spike rates ``s`` times.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.schedule import step_order

from snngraph.document import spec_from_dict, spec_to_dict
from snngraph.errors import (
    CompileError,
    SnnError,
    closest,
    op_origin,
    op_site,
    short_repr,
    where,
)
from snngraph.neurons import (
    LIF,
    LIFRate,
    NeuronType,
    RectifiedLinear,
    SpikingRectifiedLinear,
)

TO_SPIKE: dict[type, type] = {RectifiedLinear: SpikingRectifiedLinear, LIFRate: LIF}
"""The default rate -> spike mapping (exact classes only: subclasses keep their type)."""


def swap_neurons(ir: IR, options: Any) -> None:
    swap, scale = options.swap, options.scale_firing_rates
    for name in [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "neurons"]:
        if swap not in (None, "rate"):
            _swap(ir, name, TO_SPIKE if swap == "spike" else swap)
        if swap == "rate" or options.target == "rate":
            _to_rate(ir, name, options)  # the rate target always runs rate curves
    if scale is not None:
        _scale(ir, scale)
    ir.refresh_kinds(step_order(ir, strict=False))


def _to_rate(ir: IR, name: str, options: Any) -> None:
    op = ir.op(name)
    problem = spec_from_dict(op.neuron).rate_target_problem()
    if problem:
        raise CompileError(f"{op_origin(op, sites=False)}: cannot run in rate mode: {problem}"
                           f"{where(op_site(op))}")
    try:
        spec_from_dict(op.neuron).rates(np.zeros(1), ir.dt)
    except SnnError as exc:
        raise CompileError(f"{op_origin(op, sites=False)}: cannot run in rate mode: "
                           f"{str(exc).splitlines()[0]}{where(op_site(op))}"
                           "\n  fix: use a neuron type with a rate curve, or train through time: "
                           "sim.fit(..., method='bptt')") from None
    if op.mode == "spike":
        ir.update(name, mode="rate", kind="real")
        ir.note(name, f"{op.neuron['type']} runs its rate curve [swap_neurons]")
    smoothing = getattr(options, "lif_smoothing", None)
    if options.target == "rate" and smoothing and isinstance(spec_from_dict(op.neuron), LIFRate):
        ir.update(name, smoothing=float(smoothing))


def _swap(ir: IR, name: str, mapping: dict) -> None:
    op = ir.op(name)
    old = spec_from_dict(op.neuron)
    new = mapping.get(type(old))
    if new is None:
        return
    if isinstance(new, type):
        shared = {k: getattr(old, k) for k in new.model_fields if k in type(old).model_fields}
        new = new(**shared)
    ir.update(name, neuron=spec_to_dict(new), mode="spike" if new.spiking else "rate",
              kind="spikes" if new.spiking else "real", state=new.state,
              state0=None)  # the old type's initial state does not fit the new one
    ir.note(name, f"swapped {type(old).__name__} -> {type(new).__name__} [swap_neurons]")


def check_swap(swap: Any) -> None:
    """Reject a malformed mapping before any pass runs."""
    if swap is None or swap in ("rate", "spike"):
        return
    if not isinstance(swap, dict):
        near = closest(swap, ["rate", "spike"])
        raise CompileError(f"compile: swap must be 'rate', 'spike' or a dict "
                           f"{{NeuronClass: replacement}} (got {short_repr(swap)})\n  fix: "
                           + (f"did you mean swap={near!r}?" if near else
                              "e.g. swap={sg.RectifiedLinear: sg.SpikingRectifiedLinear()}"))
    for key, value in swap.items():
        ok_key = isinstance(key, type) and issubclass(key, NeuronType)
        ok_value = isinstance(value, NeuronType) or (
            isinstance(value, type) and issubclass(value, NeuronType) and not value.abstract)
        if not (ok_key and ok_value):
            raise CompileError(f"compile: swap entry {short_repr(key)}: {short_repr(value)} "
                               "must map a neuron class to a neuron type (e.g. "
                               "{sg.RectifiedLinear: sg.SpikingRectifiedLinear()})")


def check_scale(scale: Any) -> None:
    """Reject bad scale values before lowering (names are checked after)."""
    if isinstance(scale, dict):
        for key, s in scale.items():
            _positive(s, f"scale_firing_rates[{short_repr(key)}]")
    else:
        _positive(scale, "scale_firing_rates")


def _scale(ir: IR, scale: Any) -> None:
    per_op = _scale_per_op(ir, scale)
    for name, s in per_op.items():
        op = ir.op(name)
        for key in (op.gain, op.bias):
            ir.params[key] = ir.params[key] * s
            ir.scales[key] = ir.scales.get(key, 1.0) * s
        ir.update(name, neuron=_divide_amplitude(op.neuron, s, op.mode))
        ir.note(name, f"scaled firing rates x{s:g}: gain and bias x{s:g}, amplitude "
                      f"/{s:g} [swap_neurons]")


def _divide_amplitude(neuron: dict, s: float, mode: str) -> dict:
    """The neuron spec with its output amplitude divided by ``s``. A rate-to-spike
    wrapper's rate curve is its base type's (as in Nengo, without the wrapper's
    amplitude): in rate mode the base type's amplitude is divided, in spike mode the
    wrapper's (its spikes)."""
    if mode == "rate" and "base_type" in neuron:
        return dict(neuron, base_type=_divide_amplitude(neuron["base_type"], s, mode))
    return dict(neuron, amplitude=neuron["amplitude"] / s)


def _scale_per_op(ir: IR, scale: Any) -> dict[str, float]:
    neurons = [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "neurons"]
    if not isinstance(scale, dict):
        return {n: _positive(scale, "scale_firing_rates") for n in neurons}
    out = {}
    for key, s in scale.items():
        name = _neurons_op(ir, key)
        out[name] = _positive(s, f"scale_firing_rates[{short_repr(key)}]")
    return out


def _neurons_op(ir: IR, key: Any) -> str:
    """The neurons op of an Ensemble, its ``.neurons``, or a label."""
    ens = getattr(key, "ensemble", key)
    name = ir.objects.get(id(getattr(ens, "neurons", None)))
    if name is None and isinstance(key, str):
        hits = [n for n, d in ir.graph.nodes(data=True) if d["op"].op == "neurons"
                and any(o.obj.endswith(f"'{key}'") for o in d["op"].src)]
        if len(hits) > 1:
            sites = "; ".join(op_origin(ir.op(h), first=True) for h in hits)
            raise CompileError(f"compile: scale_firing_rates: the label {key!r} is ambiguous: "
                               f"{len(hits)} ensembles share it ({sites}); use the Ensemble "
                               "object as the key instead")
        name = hits[0] if hits else None
    if name is None:
        labels = [o.obj[o.obj.index("'") + 1:-1] for _, d in ir.graph.nodes(data=True)
                  if d["op"].op == "neurons" for o in d["op"].src if o.obj.endswith("'")]
        near = closest(key, labels)
        raise CompileError(f"compile: scale_firing_rates names {short_repr(key)}, which is not "
                           "an ensemble (or ensemble label) of this network (ensembles: "
                           f"{', '.join(labels) or 'none labelled'})\n  fix: "
                           + (f"did you mean {near!r}?" if near else
                              "use an Ensemble object or its label as the key"))
    return name


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not value > 0 or not np.isfinite(value):
        raise CompileError(f"compile: {what} must be a positive number (got {short_repr(value)})")
    return float(value)
