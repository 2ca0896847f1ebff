"""The chip part of a Loihi IR, as the Loihi passes and the emulator read it.

After ``split_host_chip`` every op marked ``chip`` is one of:

- a spiking ``neurons`` op: the compartments of one ensemble (split into blocks by
  ``partition``), of a neuron type that describes its compartment (``compartment(dt)``);
- a ``synapse`` (Lowpass or none) and at most one ``linear``/``conv2d`` on the path from
  a spike source to such a neurons op: one on-chip connection;
- a ``spike_input``: spikes of a host neurons op entering the chip.

``chip_inputs`` recovers the connections into a neurons op from those paths, so the
passes need no extra bookkeeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snngraph.compiler.ir import IR
from snngraph.schemas import ir as ops

from snngraph.errors import op_origin


@dataclass(frozen=True)
class ChipInput:
    """One on-chip connection into a neurons op: spikes of ``source`` (a chip neurons op
    or a ``spike_input``) through ``weights`` (a linear/conv2d op, or None for one-to-one)
    into a current filtered with time constant ``tau_s`` (0: none)."""

    source: str
    weights: str | None
    synapse: str | None
    tau_s: float
    path: tuple[str, ...]
    """The chip ops of this connection, from the target back towards the source."""


def describe(op: ops.Op) -> str:
    """``Ensemble 'conv0' (created at file.py:12)`` for messages."""
    return op_origin(op, first=True)


def chip_neurons(ir: IR) -> list[str]:
    """The chip neurons ops, in schedule order when there is one."""
    names = ir.schedule if ir.schedule else list(ir.graph.nodes)
    return [n for n in names if ir.op(n).chip and ir.op(n).op == "neurons"]


def chip_inputs(ir: IR, name: str) -> list[ChipInput]:
    """The connections into chip neurons op ``name`` (see the module docstring)."""
    return [trace(ir, name, i) for i in ir.inputs(name)]


def layer_shape(ir: IR, name: str) -> tuple[int, ...]:
    """The array a layer's blocks tile: a conv layer's output (h, w, c), else the user's
    ``BlockShape.ensemble_shape`` when given, else ``(n,)``."""
    for conn in chip_inputs(ir, name):
        if conn.weights is not None and ir.op(conn.weights).op == "conv2d":
            return tuple(ir.op(conn.weights).shape)
    op = ir.op(name)
    shape = op.loihi.ensemble_shape
    return tuple(shape) if shape is not None and math.prod(shape) == op.size else (op.size,)


def trace(ir: IR, target: str, first: str) -> ChipInput:
    """Walk back from ``first`` (an input of ``target``) to a spike source (a neurons op
    on either side, or a ``spike_input``)."""
    from snngraph.errors import CompileError

    weights = synapse = None
    tau_s = 0.0
    path: list[str] = []
    name = first
    while True:
        op = ir.op(name)
        if op.op == "spike_input" or (op.op == "neurons" and op.kind == "spikes"):
            return ChipInput(name, weights, synapse, tau_s, tuple(path))
        ins = ir.inputs(name)
        if op.op in ("linear", "conv2d") and weights is None and len(ins) == 1:
            weights = name
        elif op.op == "synapse" and synapse is None and len(ins) == 1:
            spec = op.synapse
            if spec["type"] != "Lowpass":
                raise CompileError(
                    f"{describe(op)}: a Loihi core filters its input current with one "
                    f"Lowpass; synapse {spec['type']} cannot run on the chip\n  fix: use "
                    f"sg.Lowpass(tau), or set net.config[...].on_chip = False on the "
                    f"ensemble {describe(ir.op(target))} feeds")
            synapse, tau_s = name, float(spec["tau"])
        else:
            raise CompileError(unsupported_input(ir, target, name))
        path.append(name)
        name = ins[0]


def unsupported_input(ir: IR, target: str, name: str) -> str:
    op, post = ir.op(name), ir.op(target)
    if op.op == "process" and op.divide_by is not None:
        return (f"{describe(post)} is on the chip, but it has noise ({op.process['type']}): "
                "a Loihi core adds no noise to its current\n  fix: remove the ensemble's "
                "noise, or run it on the host (net.config[ens].on_chip = False)")
    if op.kind == "real" or op.op in ("input", "process", "host_fn"):
        what = (f"a real-valued input ({op.op} {op.name} from {describe(op)})")
        fix = ("Loihi cores only receive spikes; the 'nef_to_chip' pass encodes real values "
               "from the host as spikes: keep it in compile(passes=...) (it runs after "
               "'optimize'), or run this ensemble on the host (net.config[ens].on_chip = "
               "False)")
    else:
        what = f"{op.op} {op.name} ({describe(op)})"
        fix = ("on chip, a connection is spikes -> [Lowpass synapse] -> one dense or conv2d "
               "transform -> neurons; move the rest to the host (on_chip = False)")
    return f"{describe(post)} is on the chip, but its input comes through {what}\n  fix: {fix}"
