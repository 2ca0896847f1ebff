"""NengoLoihi's per-ensemble config, without NengoLoihi: ``add_params`` and ``BlockShape``.

Models written for NengoLoihi call ``nengo_loihi.add_params(net)`` and then set
``net.config[ens].on_chip = False`` or ``net.config[ens].block_shape =
nengo_loihi.BlockShape((16,), (32,))``. ``snngraph.nengo.add_params`` adds the same two
parameters to ``nengo.Ensemble`` in a network's config, so those lines run unchanged with
``snngraph.nengo`` in place of ``nengo_loihi``. ``loihi_settings`` reads them back for the
converter, by name through Nengo's config: parameters NengoLoihi itself added (when it is
installed) are read the same way, and its ``BlockShape`` is accepted like this one
(anything with ``shape`` and ``ensemble_shape``).
"""

from __future__ import annotations

import math
from typing import Any

import nengo
from nengo.config import InstanceParams
from nengo.exceptions import ConfigError
from nengo.params import BoolParam, Parameter

import snngraph as sg
from snngraph.nengo.errors import NengoInvalid, NengoValidationError, describe

SETTINGS = ("on_chip", "block_shape")
"""The Ensemble settings NengoLoihi's ``add_params`` adds (its Connection ``pop_type`` is
for convolutional population spikes, which snngraph's Loihi target does not use)."""


class BlockShape:
    """How an ensemble is split across Loihi cores (NengoLoihi's ``BlockShape``): blocks of
    ``shape`` tiling the ensemble's neurons seen as an array of ``ensemble_shape`` (a
    ``nengo.Convolution`` gives its output shape). Edge blocks are clipped."""

    def __init__(self, shape: tuple[int, ...], ensemble_shape_or_transform: Any):
        ens_shape = ensemble_shape_or_transform
        if isinstance(ens_shape, nengo.Convolution):
            ens_shape = ens_shape.output_shape.shape
        self.shape = _int_tuple(shape, "shape")
        self.ensemble_shape = _int_tuple(ens_shape, "ensemble_shape")
        if len(self.shape) != len(self.ensemble_shape):
            raise NengoValidationError(
                f"BlockShape.shape: {self.shape} and ensemble_shape {self.ensemble_shape} "
                "must have the same number of axes", attr="shape", obj=self)
        self.tiles = sg.BlockShape(self.shape, self.ensemble_shape)
        """snngraph's BlockShape, which does the tiling arithmetic."""

    @property
    def n_splits(self) -> int:
        """The number of blocks (cores)."""
        return self.tiles.n_blocks

    @property
    def block_size(self) -> int:
        return self.tiles.block_size

    @property
    def ensemble_size(self) -> int:
        return self.tiles.n_neurons

    def zip_dimensions(self) -> zip:
        return zip(self.ensemble_shape, self.shape)

    def __repr__(self) -> str:
        return f"BlockShape({self.shape}, {self.ensemble_shape})"


def _int_tuple(value: Any, attr: str) -> tuple[int, ...]:
    # NengoLoihi asks for a tuple; a list is refused too, so that a model that runs here
    # also runs on NengoLoihi
    if not isinstance(value, tuple) or not value or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
        raise NengoValidationError(f"BlockShape.{attr}: expected a non-empty tuple of "
                                   f"positive ints (got {value!r})", attr=attr)
    return tuple(int(v) for v in value)


def as_snngraph_block_shape(value: Any, ens: nengo.Ensemble) -> sg.BlockShape:
    """``value`` (this module's, NengoLoihi's or snngraph's BlockShape) as snngraph's,
    checked against ``ens``'s number of neurons."""
    if isinstance(value, sg.BlockShape):
        shape, ens_shape = value.shape, value.ensemble_shape
    elif hasattr(value, "shape") and hasattr(value, "ensemble_shape"):
        shape, ens_shape = tuple(value.shape), tuple(value.ensemble_shape)
    else:
        raise NengoInvalid(f"{describe(ens)}: config block_shape={value!r}: expected a "
                           "snngraph.nengo.BlockShape (or nengo_loihi's, or sg.BlockShape)"
                           "\n  fix: net.config[ens].block_shape = snngraph.nengo.BlockShape("
                           f"(n,), ({ens.n_neurons},))", attr="block_shape")
    if math.prod(ens_shape) != ens.n_neurons:
        raise NengoInvalid(
            f"{describe(ens)}: config block_shape={value!r}: its ensemble_shape "
            f"{tuple(ens_shape)} has {math.prod(ens_shape)} neurons, the ensemble "
            f"{ens.n_neurons}\n  fix: an ensemble_shape whose product is {ens.n_neurons}, "
            f"e.g. BlockShape(({min(ens.n_neurons, 1024)},), ({ens.n_neurons},))",
            attr="block_shape")
    return sg.BlockShape(tuple(int(s) for s in shape), tuple(int(e) for e in ens_shape))


class BlockShapeParam(Parameter):
    """``block_shape``: a BlockShape whose ensemble shape has the ensemble's neurons,
    checked when it is set (as NengoLoihi checks it)."""

    def coerce(self, instance: Any, value: Any) -> Any:
        if value is None:
            return super().coerce(instance, value)
        ens = instance._configures if isinstance(instance, InstanceParams) else instance
        if isinstance(ens, nengo.Ensemble):
            as_snngraph_block_shape(value, ens)
        elif not (hasattr(value, "shape") and hasattr(value, "ensemble_shape")):
            raise NengoValidationError(f"block_shape: expected a BlockShape (got {value!r})",
                                       attr="block_shape", obj=instance)
        return super().coerce(instance, value)


def add_params(network: nengo.Network) -> None:
    """Add NengoLoihi's Ensemble settings to ``network.config`` (as
    ``nengo_loihi.add_params``): ``on_chip`` (None or True: on the chip when the neuron
    type can run there; False: on the host) and ``block_shape`` (a ``BlockShape``: how to
    split the ensemble into cores; None: the partitioner chooses). Settings NengoLoihi
    already added are kept."""
    if not isinstance(network, nengo.Network):
        raise NengoValidationError(f"add_params.network: expected a nengo.Network, got "
                                   f"{type(network).__name__}", attr="network")
    params = network.config[nengo.Ensemble]
    if "on_chip" not in params._extra_params:
        params.set_param("on_chip", BoolParam("on_chip", default=None, optional=True))
    if "block_shape" not in params._extra_params:
        params.set_param("block_shape", BlockShapeParam("block_shape", default=None,
                                                        optional=True))


def loihi_settings(top: nengo.Network) -> dict[int, tuple[nengo.Ensemble, dict[str, Any]]]:
    """The ``on_chip``/``block_shape`` set for each ensemble of ``top`` (by id), read from
    the configs of the networks holding it (the innermost one that sets a value wins);
    ensembles that set neither are left out."""
    found: dict[int, tuple[nengo.Ensemble, dict[str, Any]]] = {}
    _collect(top, [], found)
    return found


def _collect(net: nengo.Network, outer: list[nengo.Network],
             found: dict[int, tuple[nengo.Ensemble, dict[str, Any]]]) -> None:
    chain = [*outer, net]
    for ens in net.ensembles:
        values = {}
        for holder in chain:
            for name in SETTINGS:
                value = _read(holder.config, ens, name)
                if value is not None:
                    values[name] = value
        if values:
            found[id(ens)] = (ens, values)
    for sub in net.networks:
        _collect(sub, chain, found)


def _read(config: nengo.Config, ens: nengo.Ensemble, name: str) -> Any:
    if nengo.Ensemble not in config.params:  # (a Config configures classes by key)
        return None
    if name not in config[nengo.Ensemble]._extra_params:
        return None
    try:
        return getattr(config[ens], name)
    except (ConfigError, AttributeError):
        return None


def apply_settings(top: nengo.Network, sg_net: sg.Network, sg_of: Any) -> None:
    """Set each ensemble's NengoLoihi settings on its snngraph counterpart in
    ``sg_net.config`` (what snngraph's Loihi target reads); ``sg_of`` maps a Nengo object
    to its counterpart."""
    for ens, values in loihi_settings(top).values():
        sg_ens = sg_of(ens)
        if "on_chip" in values:
            on_chip = values["on_chip"]
            if not isinstance(on_chip, bool):  # NengoLoihi's own param takes anything
                raise NengoInvalid(f"{describe(ens)}: config on_chip={on_chip!r}: expected "
                                   "True, False or None", attr="on_chip")
            sg_net.config[sg_ens].on_chip = on_chip
        if "block_shape" in values:
            sg_net.config[sg_ens].block_shape = as_snngraph_block_shape(
                values["block_shape"], ens)
