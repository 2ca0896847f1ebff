"""Nengo models on snngraph: ``from_nengo`` converts a ``nengo.Network`` into snngraph
objects, and ``Simulator`` runs it with Nengo's Simulator interface (extra ``nengo``:
``pip install "snngraph[nengo]"``). docs/nengo.md describes what maps to what."""

try:
    import nengo  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("snngraph.nengo needs Nengo: pip install \"snngraph[nengo]\"") from exc

from snngraph.nengo.convert import Conversion, from_nengo
from snngraph.nengo.errors import UnsupportedNengo
from snngraph.nengo.loihi_config import BlockShape, add_params
from snngraph.nengo.simulator import Simulator

__all__ = ["BlockShape", "Conversion", "Simulator", "UnsupportedNengo", "add_params",
           "from_nengo"]
