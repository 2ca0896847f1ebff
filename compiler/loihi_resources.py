"""Per-core resource usage on Intel Loihi, counted exactly as NengoLoihi 1.1.0 counts it.

A NengoLoihi ``LoihiBlock`` goes onto one neuron core. ``LoihiBlock.utilization()``
(``nengo_loihi/block.py``) measures four resources, and ``builder/validate.validate_block``
rejects a block that exceeds any of them:

- compartments: ``compartment.n_compartments`` (limit ``MAX_COMPARTMENTS`` = 1024);
- input axons: the sum of ``Synapse.n_axons`` over the block's synapses (``MAX_IN_AXONS``);
- output axons: the sum of ``Axon.axon_slots()`` over the block's axons (``MAX_OUT_AXONS``);
- synapse bits: the sum of ``Synapse.bits()`` over the block's synapses
  (``MAX_SYNAPSE_BITS`` = 16384 * 64).

This module recomputes those four numbers from shapes alone (numpy only, no nengo) for
the two connection kinds NengoLoihi puts on chip between neuron layers:

- a dense weight matrix ``(n_post, n_pre)`` between neurons
  (``builder/connection.build_full_chip_connection`` -> ``Synapse.set_weights``: discrete
  weights, compression 3, one axon per pre neuron, every weight stored, zeros included);
- a 2-D convolution with channels-last input ``(h, w, c_in)`` and kernel
  ``(kh, kw, c_in, c_out)`` (``builder/connection.build_conv2d_connection`` ->
  ``conv.conv2d_loihi_weights`` -> ``Synapse.set_population_weights``: population weights,
  compression 0, one axon per input *pixel*, the input channel is the spike's *atom*);

and for the blocks NengoLoihi cuts a layer into with a ``BlockShape``
(``builder/split_blocks.split_block``, ``split_synapse``, ``set_new_synapse_weights``,
``split_block_axons``, ``split_axon``).

Weight sharing after a split is decided by NengoLoihi from the *values* of the weights
(``set_new_synapse_weights`` hashes the weights and the indices of every axon). The
convolution functions here assume generic kernels (no two kernel entries equal), which is
what a trained or randomly initialised kernel gives; a kernel with repeated values (for
example exact zeros) can share more and use fewer bits in NengoLoihi. The dense functions
take the actual weights optionally for the same reason. ``ConvolutionTranspose``,
``channels_last=False``, the extra bits of learning synapses (their weights count as
ordinary synapses) and decoded (Ensemble) connections are not modelled.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from snngraph.geometry import PADDINGS, output_shape, pad_before

__all__ = [
    "INDEX_BITS_MAP",
    "LIMITS",
    "WEIGHT_BITS",
    "Conv2D",
    "Excess",
    "Tile",
    "Usage",
    "auto_block_shape",
    "auto_n_split",
    "bits_per_axon",
    "dense_in_usage",
    "dense_out_usage",
    "index_bits",
    "tiles",
]

#: ``SynapseConfig.INDEX_BITS_MAP``: the real index bits for each ``idx_bits`` code.
INDEX_BITS_MAP = (0, 6, 7, 8, 9, 10, 11, 12)
#: Real weight bits: ``Synapse._set_weights_indices`` always formats ``weight_bits=7``,
#: which ``SynapseConfig.WEIGHT_BITS_MAP`` maps to 8 bits (discretization leaves it alone).
WEIGHT_BITS = 8
#: ``n_synapses=63`` (set by ``Synapse._set_weights_indices``): weights are stored in
#: groups of 64.
SYNAPSES_PER_GROUP = 64
_GROUP_HEADER_BITS = 4 + 6  # synapse idx bits + n_synapses bits per group
_WORD_BITS = 64  # synapse memory word


@dataclass(frozen=True)
class Excess:
    """One exceeded per-core limit."""

    resource: str
    used: int
    limit: int

    @property
    def amount(self) -> int:
        """How far over the limit (``used - limit``)."""
        return self.used - self.limit

    def __str__(self) -> str:
        return f"{self.resource} {self.used} > {self.limit} (over by {self.amount})"


@dataclass(frozen=True)
class Usage:
    """The four per-core resources a block uses (``LoihiBlock.utilization()``).

    Usages add up: a block's usage is its compartments plus the contribution of every
    synapse into it and every axon out of it.
    """

    compartments: int = 0
    in_axons: int = 0
    out_axons: int = 0
    synapse_bits: int = 0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __radd__(self, other: object) -> Usage:  # lets sum() start from 0
        if other == 0:
            return self
        return NotImplemented

    def fractions(self, limits: Usage | None = None) -> dict[str, float]:
        """Used / limit for each resource (``Model.utilization_summary`` prints these as
        ``%0.1f%%``)."""
        limits = LIMITS if limits is None else limits
        return {f.name: getattr(self, f.name) / getattr(limits, f.name) for f in fields(self)}

    def over(self, limits: Usage | None = None) -> list[Excess]:
        """The limits this usage exceeds, in the order ``validate_block`` checks them
        (compartments, output axons, input axons, synapse bits)."""
        limits = LIMITS if limits is None else limits
        order = ("compartments", "out_axons", "in_axons", "synapse_bits")
        return [Excess(name, getattr(self, name), getattr(limits, name))
                for name in order if getattr(self, name) > getattr(limits, name)]

    def fits(self, limits: Usage | None = None) -> bool:
        return not self.over(limits)


#: The per-core limits (``block.MAX_COMPARTMENTS``, ``MAX_IN_AXONS``, ``MAX_OUT_AXONS``,
#: ``MAX_SYNAPSE_BITS``).
LIMITS = Usage(compartments=1024, in_axons=4096, out_axons=4096, synapse_bits=16384 * 64)


# --------------------------------------------------------------------------- synapse bits

def index_bits(max_index: int) -> int:
    """Real index bits per weight for a synapse whose largest compartment index (without
    the axon's compartment base) is ``max_index`` (``Synapse.idx_bits`` then
    ``SynapseConfig.real_idx_bits``).

    ``Synapse.idx_bits`` returns the placeholder code -1 when more than 12 bits would be
    needed; ``INDEX_BITS_MAP[-1]`` is 12, so NengoLoihi then counts 12 bits per index.
    """
    if max_index < 0:
        raise ValueError("a synapse needs at least one weight")
    need = int(np.ceil(np.log2(max_index + 1)))
    return next((b for b in INDEX_BITS_MAP if b >= need), INDEX_BITS_MAP[-1])


def bits_per_axon(n_weights: int, bits_per_weight: int) -> int:
    """Synapse memory of one stored weight list (``SynapseConfig.bits_per_axon``).

    The weights go in groups of 64; each group costs ``n * bits_per_weight + 4 + 6``
    bits rounded up to whole 64-bit words. ``bits_per_weight`` is 8 (weight) plus, for
    population weights (compression 0), the real index bits.
    """
    n_full, rest = divmod(int(n_weights), SYNAPSES_PER_GROUP)
    total = 0
    for n, count in ((SYNAPSES_PER_GROUP, n_full), (rest, 1 if rest else 0)):
        bits = n * bits_per_weight + _GROUP_HEADER_BITS
        total += count * (-_WORD_BITS * (-bits // _WORD_BITS))
    return total


# --------------------------------------------------------------------------------- tiles

@dataclass(frozen=True)
class Tile:
    """One block of a layer: an axis-aligned box ``[start, stop)`` per axis of the
    ensemble shape (``split_blocks.split_block`` with a ``BlockShape``)."""

    ranges: tuple[tuple[int, int], ...]
    ensemble_shape: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in self.ranges)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def whole(self) -> bool:
        """True if the tile is the whole ensemble (NengoLoihi then keeps the block and
        its synapses as they are, ``split_block`` returning ``[old_block]``)."""
        return self.shape == tuple(self.ensemble_shape)

    def indices(self) -> np.ndarray:
        """The ensemble's flat neuron indices in this tile, in the new block's
        compartment order (C order within the tile)."""
        full = np.arange(int(np.prod(self.ensemble_shape))).reshape(self.ensemble_shape)
        return full[tuple(slice(a, b) for a, b in self.ranges)].ravel()


def tiles(shape: Sequence[int], block_shape: Sequence[int] | None = None) -> list[Tile]:
    """The tiles NengoLoihi cuts an ensemble of ``shape`` into for ``block_shape``,
    in ``BlockShape`` order (``itertools.product`` over ``range(0, n, step)`` per axis,
    last axis fastest), clipped at the edges. ``None`` gives one whole tile."""
    shape = tuple(int(n) for n in shape)
    block_shape = shape if block_shape is None else tuple(int(n) for n in block_shape)
    if len(block_shape) != len(shape):
        raise ValueError("block_shape and shape must have the same length")
    starts = [range(0, n, step) for n, step in zip(shape, block_shape)]
    return [Tile(tuple((a, min(a + step, n)) for a, step, n in zip(s, block_shape, shape)),
                 shape)
            for s in itertools.product(*starts)]


def auto_n_split(usage: Usage) -> int:
    """Number of equal 1-D chunks NengoLoihi cuts a block without ``block_shape`` into
    (``split_block``): the largest ``ceil(used / limit)`` over the four resources of the
    unsplit block."""
    return max(-(-getattr(usage, f.name) // getattr(LIMITS, f.name)) for f in fields(usage))


def auto_block_shape(usage: Usage) -> tuple[int]:
    """The 1-D ``BlockShape`` ``split_block`` sets without a user block shape: chunks of
    ``ceil(n / n_split)`` compartments over the flattened ensemble."""
    n = usage.compartments
    return (-(-n // auto_n_split(usage)),)


# --------------------------------------------------------------------------------- dense

def dense_in_usage(n_pre: int, tile: Tile, weights: np.ndarray | None = None) -> Usage:
    """Input axons and synapse bits of a dense neuron->neuron connection into ``tile``.

    ``build_full_chip_connection`` makes ``Synapse(n_pre)`` with ``set_weights`` on the
    dense ``(n_pre, n_post)`` matrix: one axon per pre neuron, each storing all its
    weights (zeros too) with 8 bits each and no index bits (compression 3). After a
    split (``split_synapse``) every axon still reaches every tile, and each tile's
    synapse stores one weight list of ``tile.size`` weights per axon, except that
    ``set_new_synapse_weights`` stores axons with identical weight lists only once: pass
    ``weights`` (the full ``(n_post, n_pre)`` matrix) to count that exactly; without it
    the weight lists are assumed distinct.
    """
    n_post = tile.size
    n_lists = n_pre
    if weights is not None and not tile.whole:
        w = np.asarray(weights, dtype=np.float32).reshape(-1, n_pre)[tile.indices()]
        n_lists = len({w[:, j].tobytes() for j in range(n_pre)})
    return Usage(in_axons=n_pre, synapse_bits=n_lists * bits_per_axon(n_post, WEIGHT_BITS))


def dense_out_usage(n_block: int, consumer_tiles: Sequence[Tile]) -> Usage:
    """Output axons of a block of ``n_block`` neurons toward a dense consumer.

    The consumer's synapse has one discrete axon (one slot, ``pop_type`` 0) per pre
    neuron; ``split_axon`` gives the block one axon per consumer tile (every tile needs
    every pre neuron), each with as many axons as the block has neurons."""
    return Usage(out_axons=n_block * len(consumer_tiles))


# ---------------------------------------------------------------------------- convolution

@dataclass(frozen=True)
class Conv2D:
    """A channels-last 2-D convolution as ``nengo.Convolution`` defines it: input
    ``(h, w, c_in)``, kernel ``(kh, kw, c_in, c_out)``, ``strides``, padding
    ``'valid'`` or ``'same'``."""

    input_shape: tuple[int, int, int]
    kernel_shape: tuple[int, int, int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"

    def __post_init__(self) -> None:
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be 'valid' or 'same', not {self.padding!r}")
        if self.kernel_shape[2] != self.input_shape[2]:
            raise ValueError("kernel_shape[2] must equal the input channels")

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """``nengo.Convolution.output_shape`` (channels last)."""
        h, w = output_shape(self.input_shape[:2], self.kernel_shape[:2], self.strides,
                            self.padding)
        return (h, w, self.kernel_shape[3])

    def _reach(self, axis: int) -> list[list[tuple[int, int]]]:
        """For every input coordinate along ``axis``, the ``(output, kernel)`` coordinate
        pairs it feeds, in increasing output order (``conv.conv2d_loihi_weights``: the
        masks ``wmask_i``/``wmask_j`` over the flipped kernel)."""
        n_in, k, s = self.input_shape[axis], self.kernel_shape[axis], self.strides[axis]
        n_out = self.output_shape[axis]
        pad = pad_before(n_in, k, s, self.padding)
        r_max = (n_out - 1) * s + 1
        reach = []
        for i in range(n_in):
            pairs = []
            for p in range(k):  # p runs over the flipped kernel
                r = i + pad + 1 - k + p
                if 0 <= r < r_max and r % s == 0:
                    pairs.append((r // s, k - 1 - p))
            reach.append(pairs)
        return reach



    def _patterns(self, axis: int, start: int, stop: int
                  ) -> list[tuple[tuple[tuple[int, int], ...], int, int] | None]:
        """For every input coordinate along ``axis``: the ``(output, kernel)`` pairs it
        feeds inside the tile's ``[start, stop)``, with outputs relative to the first of
        them, and the first and last output in tile coordinates; ``None`` if it feeds
        nothing there."""
        out = []
        for pairs in self._reach(axis):
            inside = [(o - start, k) for o, k in pairs if start <= o < stop]
            if not inside:
                out.append(None)
                continue
            first, last = inside[0][0], inside[-1][0]
            out.append((tuple((o - first, k) for o, k in inside), first, last))
        return out

    def in_usage(self, tile: Tile) -> Usage:
        """Input axons and synapse bits of this convolution into ``tile`` of its output.

        ``conv2d_loihi_weights`` gives one axon per input pixel and one weight list per
        distinct reach pattern and 256-compartment page (``index_offset``); a list holds
        ``c_in`` populations of ``rows * cols * filters`` weights, each stored with 8 weight
        bits plus the synapse's real index bits (compression 0). ``split_synapse`` keeps
        only the pixels reaching the tile and stores each distinct (weights, indices)
        pair once; with a generic kernel two lists are equal exactly when they use the
        same kernel entries at the same relative compartments in the same page, which is
        the key counted here. An unsplit block keeps every pixel's axon, used or not.
        """
        (r0, r1), (c0, c1), (f0, f1) = tile.ranges
        _, tw, tf = tile.shape
        rows = [p for p in self._patterns(0, r0, r1) if p is not None]
        cols = [p for p in self._patterns(1, c0, c1) if p is not None]
        c_in = self.input_shape[2]
        lists: dict[tuple, int] = {}
        max_index = 0
        for rpat, rfirst, rlast in rows:
            for cpat, cfirst, clast in cols:
                first = (rfirst * tw + cfirst) * tf
                last = (rlast * tw + clast) * tf + tf - 1
                lists[(rpat, cpat, first // 256)] = c_in * len(rpat) * len(cpat) * tf
                max_index = max(max_index, last - first % 256)
        if not lists:
            return Usage()
        per_weight = WEIGHT_BITS + index_bits(max_index)
        h, w, _ = self.input_shape
        return Usage(in_axons=h * w if tile.whole else len(rows) * len(cols),
                     synapse_bits=sum(bits_per_axon(n, per_weight) for n in lists.values()))

    def out_usage(self, pre_tile: Tile, consumer_tiles: Sequence[Tile]) -> Usage:
        """Output axons of a block (``pre_tile`` of the layer feeding this convolution, of
        any shape with the convolution's input size, channels last) toward the
        tiles of the convolution's output.

        Population axons use ``pop_type`` 32 (NengoLoihi's default), two axon slots each,
        one axon per input pixel (its channels are atoms). An unsplit consumer keeps one
        axon per pixel of the block; a split one (``split_axon``) gets one axon per
        block pixel that reaches each consumer tile."""
        pixels = np.unique(pre_tile.indices() // self.input_shape[2])
        if len(consumer_tiles) == 1 and consumer_tiles[0].whole:
            return Usage(out_axons=2 * pixels.size)
        total = 0
        for tile in consumer_tiles:
            (r0, r1), (q0, q1), _ = tile.ranges
            rows = [p is not None for p in self._patterns(0, r0, r1)]
            cols = [p is not None for p in self._patterns(1, q0, q1)]
            total += int(np.outer(rows, cols).ravel()[pixels].sum())
        return Usage(out_axons=2 * total)
