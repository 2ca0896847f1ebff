"""The one function asked of a worker before anything else: its version of a package.

It is pickled by value (``cloudpickle.register_pickle_by_value`` on this module) so a
worker without snngraph can still run it and answer that it lacks it; it imports
nothing of snngraph's itself.
"""

from __future__ import annotations


def package_version(package: str) -> str:
    """``package.__version__`` in this process (ImportError: not installed)."""
    import importlib

    return str(getattr(importlib.import_module(package), "__version__", "unknown"))


def _by_value() -> None:
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


_by_value()
