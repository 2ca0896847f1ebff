"""snngraph neuron types as NIR nodes: each type's exact equivalent, or the reason it has
none.

A neuron op becomes a small group of NIR nodes (``Group``): usually one neuron node;
snnTorch's reset by subtraction becomes ``LI -> Threshold`` with the spikes fed back
through ``Scale(-threshold)`` (read one step later, as every NIR cycle is), which is
exactly ``U[t] = beta U[t-1] + I[t] - threshold S[t-1]``; an input gain other than 1 is a
``Scale`` in front and an amplitude other than 1 a ``Scale`` behind. Every formula holds
in the discretisation named (``euler`` or ``exact``, snngraph/neurons/nir_cells.py);
where a type is exact in only one of them, the other is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snngraph.neurons import LI, CubaLIF, Leaky, NeuronType
from snngraph.neurons.nir_cells import NIRCell, NIRIntegrator, NIRThreshold

Shaper = Callable[[Any], np.ndarray]
"""Turns a value per neuron (scalar or flat, snngraph order) into the NIR array shape."""


class Unmappable(Exception):
    """Why a neuron type has no exact NIR form (the caller names the object)."""


@dataclass
class Group:
    """The NIR nodes standing for one snngraph neuron op."""

    nodes: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    entry: str = ""
    exit: str = ""
    lines: list[str] = field(default_factory=list)
    reset: str | None = None
    discretisation: str | None = None
    delayed: list[tuple[str, str]] = field(default_factory=list)
    """Edges of the group that NIR's cycle reading must delay by one step."""


def _nir() -> Any:
    import nir

    return nir


REFUSED = {
    "LIF": "Nengo's LIF has a refractory period (tau_ref), places each spike inside its "
           "step and floors the voltage at min_voltage; NIR's LIF has none of these",
    "AdaptiveLIF": "NIR has no adaptation current",
    "Izhikevich": "NIR has no Izhikevich neuron",
    "SpikingRectifiedLinear": "it fires as many spikes in one step as its voltage allows and "
                              "subtracts them; NIR's IF fires at most one and resets to a value",
    "LoihiLIF": "Loihi's LIF has a refractory period and integer dynamics NIR cannot state",
    "LoihiSpikingRectifiedLinear": "Loihi's neuron has a refractory period NIR cannot state",
    "PoissonSpiking": "NIR has no random spiking",
    "StochasticSpiking": "NIR has no random spiking",
    "RegularSpiking": "NIR has no rate-to-spike wrapper",
}


def why_not(spec: NeuronType) -> str:
    """The reason a type has no NIR form (types without an entry: rate neurons)."""
    name = type(spec).__name__
    return REFUSED.get(name, f"{name} is a rate (non-spiking, stateless) neuron and NIR has "
                             "no rate primitive")


def neuron_group(spec: NeuronType, name: str, n: int, dt: float, how: str | None,
                 shape: Shaper, gain: np.ndarray, bias: np.ndarray) -> Group:
    """The NIR nodes of ``n`` neurons of ``spec`` fed ``J = gain * x + bias``, at time
    step ``dt``; ``how`` the discretisation asked for (None: the type's own, else Euler).
    Raises ``Unmappable`` with the reason when there is no exact form."""
    nir = _nir()
    group = Group()
    if isinstance(spec, NIRCell):
        core, group.discretisation = _nir_cell(spec, how, shape), _cell_how(spec, how)
        kind = spec.nir_type
        group.nodes[name] = core
        group.entry = group.exit = name
        group.reset = "zero" if spec.spiking and kind != "Threshold" else None
        group.lines.append(f"{kind} (NIR's own primitive, {group.discretisation or 'exact'})")
    elif isinstance(spec, Leaky):
        _leaky(spec, name, dt, how or "euler", shape, group)
    elif isinstance(spec, CubaLIF):
        _needs_euler(spec, how)
        group.discretisation = "euler"
        group.nodes[name] = nir.CubaLIF(
            tau_syn=shape(spec.tau_syn), tau_mem=shape(spec.tau_mem), r=shape(1.0),
            v_leak=shape(spec.v_leak), v_threshold=shape(spec.v_th),
            v_reset=shape(spec.v_reset), w_in=shape(spec.tau_syn / dt))
        group.entry = group.exit = name
        group.reset = "zero"
        group.lines.append("CubaLIF (Norse's step is forward Euler with w_in = tau_syn/dt, r = 1)")
    elif isinstance(spec, LI):
        _needs_euler(spec, how)
        group.discretisation = "euler"
        group.nodes[name] = nir.CubaLI(
            tau_syn=shape(spec.tau_syn), tau_mem=shape(spec.tau_mem), r=shape(1.0),
            v_leak=shape(spec.v_leak), w_in=shape(spec.tau_syn / dt))
        group.entry = group.exit = name
        group.lines.append("CubaLI (Norse's step is forward Euler with w_in = tau_syn/dt, r = 1)")
    else:
        raise Unmappable(why_not(spec))
    _input_current(group, name, shape, gain, bias)
    _amplitude(group, name, shape, spec.amplitude)
    return group


def _cell_how(spec: NIRCell, how: str | None) -> str | None:
    own = getattr(spec, "discretisation", None)
    if own is not None and how is not None and own != how:
        raise Unmappable(f"its discretisation is {own!r} and the export asked for {how!r}: the "
                         f"file would mean other dynamics; export with "
                         f"discretisation={own!r} or None")
    return own


def _nir_cell(spec: NIRCell, how: str | None, shape: Shaper) -> Any:
    nir = _nir()
    _cell_how(spec, how)
    kind = spec.nir_type
    if isinstance(spec, NIRThreshold):
        return nir.Threshold(threshold=shape(spec.threshold))
    if kind in ("I", "IF"):
        assert isinstance(spec, NIRIntegrator)
        if kind == "I":
            return nir.I(r=shape(spec.r))
        return nir.IF(r=shape(spec.r), v_threshold=shape(spec.v_threshold),
                      v_reset=shape(spec.v_reset))
    _plain_nir(spec)
    fields = {f: shape(getattr(spec, f)) for f in type(spec).model_fields
              if f not in ("amplitude", "surrogate", "discretisation", "reset", "start_at")}
    return getattr(nir, kind)(**fields)


def _plain_nir(spec: NIRCell) -> None:
    """A cell read by a producer's convention runs what NIR's node of the same name does
    not state; it is written only as NIR reads it."""
    reset, start = getattr(spec, "reset", "value"), getattr(spec, "start_at", "zero")
    if reset != "value":
        raise Unmappable(f"reset={reset!r} is snnTorch's reset one step later, which NIR's "
                         f"{spec.nir_type} does not state (it resets to v_reset at the "
                         "spike); write it as sg.Leaky(reset='subtract') (exact through a "
                         "cycle) or set reset='value'")
    if start != "zero" and np.any(np.asarray(spec.v_leak) != 0.0):
        raise Unmappable(f"start_at={start!r} (Norse's): a NIR neuron starts at 0; set "
                         "start_at='zero', or v_leak = 0")


def _needs_euler(spec: NeuronType, how: str | None) -> None:
    if how not in (None, "euler"):
        raise Unmappable(f"Norse's {type(spec).__name__} steps by forward Euler, which no "
                         "setting of NIR's parameters reproduces under the exact "
                         "discretisation; export with discretisation='euler'")
    if spec.v_leak != 0.0:
        raise Unmappable(f"Norse's {type(spec).__name__} starts at v = v_leak = "
                         f"{spec.v_leak:g}, and a NIR neuron starts at 0 (NIR's reference "
                         "simulation, snnTorch); exact only with v_leak = 0")


def _leaky(spec: Leaky, name: str, dt: float, how: str, shape: Shaper, group: Group) -> None:
    """snnTorch's Leaky: ``U <- beta U + I`` is NIR's LI/LIF with ``r = 1/(1 - beta)`` and
    ``tau = dt/(1 - beta)`` (Euler) or ``-dt/ln(beta)`` (exact); beta = 1 is the
    integrator with ``r = 1/dt``."""
    nir = _nir()
    beta = np.asarray(spec.beta, float)
    theta = spec.threshold
    perfect = beta >= 1.0
    if perfect.any() and not perfect.all():
        raise Unmappable("some neurons have beta = 1 (no leak: NIR's IF) and others beta < 1 "
                         "(NIR's LIF); NIR needs one node type per layer")
    if how == "exact" and np.any(beta <= 0.0):
        raise Unmappable("beta = 0 has no exact time constant (tau = -dt/ln(beta) = 0); "
                         "export with discretisation='euler'")
    if spec.reset == "subtract" and not spec.reset_delay:
        raise Unmappable("reset by subtraction without snnTorch's one-step delay also "
                         "subtracts again while the stored membrane stays above threshold, "
                         "which NIR cannot state (reset_delay=True, reset='zero' and "
                         "reset='none' are exact)")
    group.discretisation = None if perfect.all() else how
    if perfect.all():
        r, tau = shape(1.0 / dt), None
    else:
        r = shape(1.0 / (1.0 - beta))
        tau = shape(dt / (1.0 - beta) if how == "euler" else -dt / np.log(beta))
    zeros = shape(0.0)
    if spec.reset == "zero":
        group.nodes[name] = (nir.IF(r=r, v_threshold=shape(theta), v_reset=zeros) if tau is None
                             else nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=shape(theta),
                                          v_reset=zeros))
        group.entry = group.exit = name
        group.reset = "zero"
        group.lines.append(f"{'IF' if tau is None else 'LIF'} (snnTorch Leaky, reset to zero, "
                           f"{group.discretisation or 'exact'})")
        return
    core = f"{name}.membrane"
    group.nodes[core] = nir.I(r=r) if tau is None else nir.LI(tau=tau, r=r, v_leak=zeros)
    group.nodes[name] = nir.Threshold(threshold=shape(theta))
    group.edges.append((core, name))
    group.entry, group.exit = core, name
    kind = "I" if tau is None else "LI"
    if spec.reset == "subtract":
        group.nodes[f"{name}.reset"] = nir.Scale(scale=shape(-theta))
        group.edges += [(name, f"{name}.reset"), (f"{name}.reset", core)]
        group.delayed.append((name, f"{name}.reset"))  # the spikes of the step before
        group.reset = "subtract"
        group.lines.append(f"{kind} -> Threshold with the spikes fed back through "
                           f"Scale(-{theta:g}) (snnTorch Leaky, reset by subtraction one step "
                           "later: exact through the cycle's one-step delay)")
    else:
        group.reset = "none"
        group.lines.append(f"{kind} -> Threshold (snnTorch Leaky without reset)")


def _input_current(group: Group, name: str, shape: Shaper, gain: np.ndarray,
                   bias: np.ndarray) -> None:
    """``J = gain * x + bias``: a gain other than 1 becomes a Scale in front; a bias is
    exact only where NIR has a constant drive (LI/LIF's v_leak, Threshold's level)."""
    nir = _nir()
    if np.any(bias != 0.0):
        node = group.nodes[group.entry]
        kind = type(node).__name__
        if kind in ("LI", "LIF"):
            node.v_leak = node.v_leak + node.r * shape(bias)
            group.lines.append("bias folded into v_leak (v_leak + r * bias)")
        elif kind == "Threshold":
            node.threshold = node.threshold - shape(bias)
            group.lines.append("bias folded into the threshold (threshold - bias)")
        else:
            raise Unmappable(f"its neurons have a bias current, which NIR's {kind} has no "
                             "constant input for (LI and LIF take it as v_leak); give the "
                             "bias to the connection feeding them")
    if np.any(gain != 1.0):
        scale = f"{name}.gain"
        group.nodes[scale] = nir.Scale(scale=shape(gain))
        group.edges.append((scale, group.entry))
        group.entry = scale
        group.lines.append("gain as a Scale in front")


def _amplitude(group: Group, name: str, shape: Shaper, amplitude: float) -> None:
    if amplitude == 1.0:
        return
    nir = _nir()
    scale = f"{name}.amplitude"
    group.nodes[scale] = nir.Scale(scale=shape(amplitude))
    group.edges.append((group.exit, scale))
    group.exit = scale
    group.lines.append(f"amplitude {amplitude:g} as a Scale behind")


def spec_json(spec_dict: dict[str, Any]) -> str:
    """The neuron spec as the text the export keeps in the node's metadata."""
    return json.dumps(spec_dict, sort_keys=True)


def synapse_group(spec: Any, name: str, dt: float, how: str | None, shape: Shaper) -> Group:
    """A ``Lowpass(tau)`` synapse op: snngraph outputs at step t the filter of the
    inputs up to step t-1 (``y <- a y + (1 - a) u``, ``a = e^(-dt/tau)``, read one step
    later), which is NIR's ``LI(tau', r = 1, v_leak = 0)`` followed by ``Delay(dt)``,
    with ``tau' = tau`` (exact) or ``dt / (1 - a)`` (Euler, the same decay per step)."""
    nir = _nir()
    if type(spec).__name__ != "Lowpass":
        raise Unmappable(f"a {type(spec).__name__} synapse: NIR has a first-order filter "
                         "(LI) only, so only Lowpass is written")
    group = Group(discretisation=how or "exact")
    delay = f"{name}.delay"
    group.nodes[delay] = nir.Delay(delay=shape(dt))
    group.exit = delay
    if spec.tau == 0:
        group.nodes[delay].metadata = {}
        group.entry = delay
        group.lines.append("Delay of one step (Lowpass(0) outputs last step's input)")
        return group
    decay = np.exp(-dt / spec.tau)
    tau = spec.tau if group.discretisation == "exact" else dt / (1.0 - decay)
    group.nodes[name] = nir.LI(tau=shape(tau), r=shape(1.0), v_leak=shape(0.0))
    group.edges.append((name, delay))
    group.entry = name
    group.lines.append(f"LI (tau {tau:g} s, {group.discretisation}) -> Delay of one step "
                       f"(snngraph's Lowpass({spec.tau:g}) outputs last step's filtered value)")
    return group
