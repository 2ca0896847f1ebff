"""Errors of the Nengo backend: what cannot be converted, named by the Nengo object.

Nengo's own test suite expects Nengo's exception types (``BuildError``,
``ValidationError``, ``SimulatorClosed``); each error here subclasses both snngraph's and
Nengo's, so ``except nengo.exceptions.BuildError`` and ``except sg.SnnError`` both work.
"""

from __future__ import annotations

from typing import Any

import nengo.exceptions as nex

from snngraph.errors import CompileError, SnnError


def describe(obj: Any) -> str:
    """A Nengo object as its messages name it: type and label (``<Ensemble "a">``)."""
    label = getattr(obj, "label", None)
    kind = type(obj).__name__
    return f'<{kind} "{label}">' if label else f"<{kind} (unlabeled) at 0x{id(obj):x}>"


class UnsupportedNengo(CompileError, nex.BuildError):
    """A Nengo object, or one of its parameters, that snngraph cannot run as Nengo does."""

    def __init__(self, obj: Any, what: str, fix: str = ""):
        message = f"{describe(obj)}: {what}" + (f"\n  fix: {fix}" if fix else "")
        super().__init__(message)
        self.nengo_obj = obj


class NengoBuildError(CompileError, nex.BuildError):
    """snngraph's compiler refused a converted Nengo model (the message names the object)."""


class NengoValidationError(SnnError, nex.ValidationError):
    """A bad argument to the Nengo backend's Simulator."""

    def __init__(self, msg: str, attr: str, obj: Any = None):
        SnnError.__init__(self, msg)
        self.attr, self.obj = attr, obj

    def __str__(self) -> str:
        return self.args[0]


class NengoInvalid(SnnError, nex.ValidationError, nex.BuildError):
    """A value snngraph refuses while building a converted model. Nengo raises a
    ValidationError or a BuildError for such values, depending on where it checks them;
    this error is both, so code catching either catches it."""

    def __init__(self, msg: str, attr: str = ""):
        SnnError.__init__(self, msg)
        self.attr, self.obj = attr, None

    def __str__(self) -> str:
        return self.args[0]


class NengoSimulationError(SnnError, nex.SimulationError):
    """A run failed (a Node's function returned the wrong size, NaN, ...)."""


class NengoSimulatorClosed(SnnError, nex.SimulatorClosed):
    """The Simulator was used after ``close()``."""
