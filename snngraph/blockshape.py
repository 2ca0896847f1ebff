"""``BlockShape``: how a user asks for an ensemble to be split into Loihi cores
(NengoLoihi's name). Set through ``net.config[ens].block_shape``; without one, the
partitioner chooses a split itself."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import model_validator

from snngraph.base import FieldError, Spec
from snngraph.schemas.base import PosInt


class BlockShape(Spec):
    """Tiles of ``shape`` over the ensemble's neurons seen as an array of
    ``ensemble_shape`` (channels last for conv layers); edge tiles are clipped, so a
    block may be larger than the ensemble along an axis (one tile there)."""

    family: ClassVar[str] = "backend"
    _positional: ClassVar[tuple[str, ...]] = ("shape", "ensemble_shape")

    shape: tuple[PosInt, ...]
    """The shape of one block (one Loihi core's tile), one entry per axis of ``ensemble_shape``."""
    ensemble_shape: tuple[PosInt, ...]
    """The ensemble's neurons seen as an array, e.g. ``(26, 26, 32)`` for a conv layer; its product
    is the number of neurons."""

    @model_validator(mode="after")
    def _same_rank(self) -> BlockShape:
        if len(self.shape) != len(self.ensemble_shape):
            raise FieldError("shape", self.shape, f"expected {len(self.ensemble_shape)} "
                             f"dimensions like ensemble_shape={self.ensemble_shape}")
        return self

    @property
    def n_neurons(self) -> int:
        """Neurons in the whole ensemble laid out as ``ensemble_shape``."""
        return math.prod(self.ensemble_shape)

    @property
    def block_size(self) -> int:
        """Neurons per block (per core), at most."""
        return math.prod(self.shape)

    @property
    def n_blocks(self) -> int:
        return math.prod(-(-e // b) for b, e in zip(self.shape, self.ensemble_shape))
