"""``Node``: host-side values in the graph: constant or time-varying input, a Python
function of time (and input), a Process, or (``output=None``) a passthrough that sums its
inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import model_validator

from snngraph.base import FieldError, SnnObject
from snngraph.errors import short_repr
from snngraph.processes import Process
from snngraph.schemas.base import Array, Float, NonNegInt
from snngraph.views import ObjView

NodeOutput = Array | Float | Process | Callable | None


class Node(SnnObject):
    """A non-neural value: ``output`` is an array, a callable ``f(t)`` / ``f(t, x)``, a
    Process, or None (passthrough of ``size_in`` values)."""

    _positional: ClassVar[tuple[str, ...]] = ("output",)
    probeable: ClassVar[tuple[str, ...]] = ("output",)

    output: NodeOutput = None
    """An array (a constant), a callable ``f(t)`` or ``f(t, x)`` (``t`` in seconds), a Process
    (PresentInput, an encoder), or None (passes ``size_in`` values on)."""
    size_in: NonNegInt = 0
    """Number of input values (0 for a source node)."""
    size_out: NonNegInt | None = None
    """Number of output values; None infers it from ``output`` (given values are checked against
    it)."""

    @model_validator(mode="after")
    def _sizes(self) -> Node:
        out = self.output
        if out is None:
            if self.size_in == 0:
                raise FieldError("size_in", 0, "expected size_in > 0 for a passthrough node "
                                 "(output=None)")
            inferred = self.size_in
        elif isinstance(out, Process):
            inferred = self._process_size(out)
        elif callable(out) and not isinstance(out, np.ndarray):
            # a given size_out is trusted, as Nengo does: the function is not called
            # before the run (it may count its calls or have side effects)
            inferred = self.size_out if self.size_out is not None else self._call_size(out)
        else:
            if self.size_in:
                raise FieldError("size_in", self.size_in, "expected 0: a constant output "
                                 "ignores its input (use a callable to use the input)")
            arr = np.asarray(out)
            if arr.ndim > 1:
                raise FieldError("output", out, "expected a scalar or a 1-D array")
            inferred = arr.size
        if self.size_out is not None and self.size_out != inferred:
            raise FieldError("size_out", self.size_out, f"expected {inferred}, the size of "
                             f"output {short_repr(out)}")
        self.__dict__["size_out"] = inferred
        return self

    def _process_size(self, process: Process) -> int:
        if process.default_size_in() == 0 and self.size_in:
            raise FieldError("size_in", self.size_in, f"expected 0: {type(process).__name__} "
                             "takes no input")
        if process.default_size_in() < 0 and self.size_in == 0:
            raise FieldError("size_in", 0, f"expected the size of the values that "
                             f"{type(process).__name__} encodes (e.g. size_in=784)")
        inferred = process.default_size_out(self.size_in)
        # a process sized by its node: the size given, else its input's, else 1 (Nengo's)
        return inferred if inferred is not None else (self.size_out or self.size_in or 1)

    def _call_size(self, func: Callable) -> int:
        """Call ``func`` once, as Nengo does, to learn its output size."""
        args = (0.0,) if self.size_in == 0 else (0.0, np.zeros(self.size_in))
        try:
            value = func(*args)
        except Exception as exc:
            raise FieldError("output", func, f"calling output{_sig(self.size_in)} raised "
                             f"{type(exc).__name__}: {exc}") from None
        if value is None:
            return 0
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf" or arr.ndim > 1:
            raise FieldError("output", func, f"expected output{_sig(self.size_in)} to return "
                             f"a number or a 1-D array of numbers, got {short_repr(value)}")
        return arr.size

    def __getitem__(self, key: Any) -> ObjView:
        return ObjView(self, key)

    def __len__(self) -> int:
        return self.size_out


def _sig(size_in: int) -> str:
    return "(t)" if size_in == 0 else "(t, x)"
