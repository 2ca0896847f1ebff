"""``partition``: split each chip neurons op into blocks, one block per Loihi core.

A block is a tile of the ensemble seen as an array (channels last for conv layers). Its
use of a core (compartments, input axons, output axons, synapse bits) is counted the way
NengoLoihi 1.1.0 counts it (compiler/loihi_resources.py), and every block must fit the
per-core limits.

Tiling: the user's ``BlockShape`` when given; otherwise the search below. A layer's
input axons and synapse bits depend only on its own tiling, its output axons on its
consumers' tiling, so layers are tiled consumers first (reverse schedule order). For each
layer the candidates are tile shapes ``ceil(n / k)`` per axis, tried by increasing number
of blocks; among the fewest-block shapes that fit, the one whose busiest resource is the
lowest wins (then the earliest candidate): fewest cores, deterministic. Every layer
that cannot fit is reported together, each with a block shape that fits.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from snngraph.compiler import loihi_resources as res
from snngraph.compiler.chip import ChipInput, chip_inputs, chip_neurons, describe, layer_shape
from snngraph.compiler.ir import IR
from snngraph.compiler.passes.decode_neurons import CHOICE, is_decode_neurons
from snngraph.schemas import ir as ops

from snngraph.errors import CompileError

CORES_PER_CHIP = 128  # NengoLoihi's Greedy allocator (hardware/allocators.py)


class ResourceError(CompileError):
    """A block does not fit a Loihi core; ``problems`` lists each layer's excess."""

    def __init__(self, message: str, problems: list[dict[str, Any]]):
        super().__init__(message)
        self.problems = problems


@dataclass
class Layer:
    """What the search needs to know about one chip neurons op."""

    name: str
    shape: tuple[int, ...]
    inputs: list[tuple[ChipInput, Any]]
    """Each input connection and its resource model (a Conv2D, or the pre size)."""
    consumers: list[tuple[str, Any, int]]
    """Each chip consumer, the resource model of the connection to it, its size."""


def partition(ir: IR, options: Any) -> None:
    layers = {n: _layer(ir, n) for n in chip_neurons(ir)}
    for name, layer in layers.items():
        for conn, _ in layer.inputs:
            if conn.source in layers:
                layers[conn.source].consumers.append((name, _model_of(ir, conn),
                                                      ir.op(name).size))
    chosen: dict[str, list[res.Tile]] = {}
    problems: list[dict[str, Any]] = []
    for name in reversed(list(layers)):
        layer, op = layers[name], ir.op(name)
        if op.loihi.block_shape is not None:
            shape = _user_shape(op, layer)
            tiles = res.tiles(layer.shape, op.loihi.block_shape)
            usages = [_usage(layer, t, chosen) for t in tiles]
            bad = [(i, u) for i, u in enumerate(usages) if not u.fits()]
            if bad:
                fit = _search(layer, chosen)
                problems.append(_problem(op, tiles, bad, fit, shape)
                                | {"decode_neurons": _decodable(ir, layer)})
                tiles = fit[0] if fit else tiles
            chosen[name] = tiles
        else:
            fit = _search(layer, chosen)
            if fit is None:  # even one neuron per core is over a limit: say which
                ones = (1,) * len(layer.shape)
                tiles = res.tiles(layer.shape, ones)
                usages = [_usage(layer, t, chosen) for t in tiles]
                bad = [(i, u) for i, u in enumerate(usages) if not u.fits()]
                problems.append(_problem(op, tiles, bad, None, ones)
                                | {"decode_neurons": _decodable(ir, layer), "unfit": True})
                chosen[name] = tiles
            else:
                chosen[name] = fit[0]
    if problems:
        raise ResourceError(_message(problems), problems)
    _place(ir, layers, chosen)


def _layer(ir: IR, name: str) -> Layer:
    inputs = [(c, _model_of(ir, c)) for c in chip_inputs(ir, name)]
    return Layer(name, layer_shape(ir, name), inputs, [])


def _model_of(ir: IR, conn: ChipInput) -> Any:
    """The resource model of one connection: a Conv2D, or the number of input axons (the
    pre neurons; from decode neurons, their distinct weight lists: NengoLoihi maps every
    pair of a dimension onto the same two axons of the post's encoders)."""
    if conn.weights is not None and ir.op(conn.weights).op == "conv2d":
        op = ir.op(conn.weights)
        if not op.channels_last:
            raise CompileError(f"{describe(op)}: Loihi convolutions need channels_last=True")
        kernel = ir.params[op.kernel].shape
        return res.Conv2D(tuple(op.shape_in), tuple(kernel), tuple(op.strides), op.padding)
    if is_decode_neurons(ir.op(conn.source)):  # every pair maps onto the same 2 d axons
        w = np.asarray(ir.params[ir.op(conn.weights).weights])
        return len({w[:, j].tobytes() for j in range(w.shape[1])})
    return ir.op(conn.source).size


def _decodable(ir: IR, layer: Layer) -> str | None:
    """The connections into ``layer`` folded into full weights by ``nef_to_chip`` from
    a chip ensemble through the layer's encoders (decode neurons could carry them)."""
    found = []
    for conn, _ in layer.inputs:
        w = ir.op(conn.weights) if conn.weights is not None else None
        if w is not None and w.made_by == "nef_to_chip" and ir.op(conn.source).chip and \
                any(n.startswith(CHOICE + "full weights") and "into the neurons" not in n
                    for n in w.notes):
            found += [o.obj for o in w.src if o.obj.startswith("Connection")]
    return ", ".join(dict.fromkeys(found)) or None


def _user_shape(op: ops.Neurons, layer: Layer) -> tuple[int, ...]:
    ens = tuple(op.loihi.ensemble_shape)
    if ens != layer.shape:
        raise CompileError(
            f"{describe(op)}: block_shape's ensemble_shape {ens} must be the layer's shape "
            f"{layer.shape} (channels last for conv layers)")
    return tuple(op.loihi.block_shape)


def _usage(layer: Layer, tile: res.Tile, chosen: dict[str, list[res.Tile]]) -> res.Usage:
    usage = res.Usage(compartments=tile.size)
    for _, model in layer.inputs:
        usage = usage + (model.in_usage(tile) if isinstance(model, res.Conv2D)
                         else res.dense_in_usage(model, tile))
    for consumer, model, size in layer.consumers:
        if consumer == layer.name:  # recurrent: its own tiling
            targets = res.tiles(tile.ensemble_shape, tile.shape)
        elif consumer in chosen:
            targets = chosen[consumer]
        else:  # a loop back to an earlier layer: assume its fewest blocks (checked later)
            targets = [tile] * -(-size // res.LIMITS.compartments)
        if isinstance(model, res.Conv2D):
            pre = res.Tile(tile.ranges, tile.ensemble_shape)
            usage = usage + model.out_usage(pre, targets)
        else:
            usage = usage + res.dense_out_usage(tile.size, targets)
    return usage


def _candidates(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Tile shapes ``ceil(n / k)`` per axis, by number of blocks then creation order."""
    per_axis = [sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True) for n in shape]
    shapes = list(itertools.product(*per_axis))
    return sorted(shapes, key=lambda s: math.prod(-(-n // b) for n, b in zip(shape, s)))


def _search(layer: Layer, chosen: dict[str, list[res.Tile]]
            ) -> tuple[list[res.Tile], tuple[int, ...]] | None:
    best: tuple[float, list[res.Tile], tuple[int, ...]] | None = None
    best_blocks = None
    for shape in _candidates(layer.shape):
        n_blocks = math.prod(-(-n // b) for n, b in zip(layer.shape, shape))
        if best_blocks is not None and n_blocks > best_blocks:
            break
        if math.prod(min(b, n) for b, n in zip(shape, layer.shape)) > res.LIMITS.compartments:
            continue  # the first tile is the largest
        tiles = res.tiles(layer.shape, shape)
        usages = [_usage(layer, t, chosen) for t in tiles]
        if all(u.fits() for u in usages):
            busiest = max(max(u.fractions().values()) for u in usages)
            if best is None or busiest < best[0]:
                best, best_blocks = (busiest, tiles, shape), n_blocks
    return None if best is None else (best[1], best[2])


def _problem(op: ops.Neurons, tiles: list[res.Tile], bad: list, fit: Any,
             shape: tuple[int, ...]) -> dict[str, Any]:
    index, usage = bad[0]
    excess = usage.over()[0]
    return {"object": describe(op), "op": op.name, "block_shape": shape,
            "block": index, "ranges": tiles[index].ranges, "n_bad": len(bad),
            "n_blocks": len(tiles), "resource": excess.resource, "used": excess.used,
            "limit": excess.limit, "excess": excess.amount,
            "suggestion": fit[1] if fit else None}


def _message(problems: list[dict[str, Any]]) -> str:
    lines = ["Loihi partition: these blocks do not fit a core"]
    for p in problems:
        ranges = ", ".join(f"{a}:{b}" for a, b in p["ranges"])
        lines.append(
            f"  {p['object']}: block_shape {p['block_shape']} -> block {p['block']} "
            f"[{ranges}] (of {p['n_blocks']}; {p['n_bad']} too big) needs "
            f"{p['used']:,} {p['resource'].replace('_', ' ')}, over the limit "
            f"{p['limit']:,} by {p['excess']:,}")
        if p["suggestion"]:
            lines.append(f"    fix: block_shape={p['suggestion']} fits (or remove the "
                         "block_shape and let the partitioner choose)")
        if p.get("unfit"):
            lines.append("    no block shape fits: even one neuron per core is over the "
                         "limit (the axons of what it reads or feeds)\n    fix: run this "
                         "ensemble on the host (net.config[ens].on_chip = False), or give "
                         "the layers around it fewer channels or a smaller fan-out")
        if p.get("decode_neurons") and p["resource"] in ("synapse_bits", "in_axons"):
            lines.append(f"    or: net.config[conn].loihi_decode = 'decode_neurons' on "
                         f"{p['decode_neurons']} (decode neurons in place of its full "
                         "weights)")
    return "\n".join(lines)


def _place(ir: IR, layers: dict[str, Layer], chosen: dict[str, list[res.Tile]]) -> None:
    """One block per core, cores in schedule order, 128 cores per chip."""
    core = 0
    for name, layer in layers.items():
        blocks = []
        for tile in chosen[name]:
            u = _usage(layer, tile, chosen)
            if not u.fits():
                over = u.over()[0]
                raise ResourceError(
                    f"Loihi partition: {describe(ir.op(name))} block {tile.ranges} needs "
                    f"{over.used:,} {over.resource.replace('_', ' ')}, over the limit "
                    f"{over.limit:,} by {over.amount:,} once the layers it feeds were split"
                    "\n  fix: give it a smaller block_shape", [])
            blocks.append(ops.Block(ranges=tile.ranges, core=core % CORES_PER_CHIP,
                                    chip=core // CORES_PER_CHIP, compartments=u.compartments,
                                    in_axons=u.in_axons, out_axons=u.out_axons,
                                    synapse_bits=u.synapse_bits))
            core += 1
        ir.update(name, blocks=tuple(blocks))
        busiest = max(max(res.Usage(b.compartments, b.in_axons, b.out_axons,
                                    b.synapse_bits).fractions().values()) for b in blocks)
        how = "given" if ir.op(name).loihi.block_shape else "chosen"
        ir.note(name, f"partition: {len(blocks)} block(s) of shape "
                      f"{tuple(b - a for a, b in chosen[name][0].ranges)} over "
                      f"{list(layer.shape)} ({how}); busiest resource {busiest:.0%}")
    chips = -(-core // CORES_PER_CHIP) if core else 0
    ir.log.append(f"partition: {core} core(s) on {chips} chip(s)")
