"""The error types users see, and the one layout every message follows.

Layout (docs/architecture.md, quality bars): what is wrong with which object, where it
was created, and (when there is one) how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SnnError(Exception):
    """Base class of every error snngraph raises on purpose."""


class ValidationError(SnnError, ValueError):
    """An argument or a combination of arguments is invalid.

    Attributes ``obj`` (the object's name), ``field``, ``value`` and ``site`` (where the
    object was created) are kept for programs that inspect the error.
    """

    def __init__(self, message: str, *, obj: str = "", field: str = "", value: Any = None,
                 site: Any = None):
        super().__init__(message)
        self.obj, self.field, self.value, self.site = obj, field, value, site


class NetworkContextError(SnnError, RuntimeError):
    """An object was created outside a ``with sg.Network():`` block."""


class SerializationError(SnnError, ValueError):
    """A network cannot be written to, or read from, a description document."""


def short_repr(value: Any, limit: int = 80) -> str:
    """A one-line representation of a user's value, short enough for an error message."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=8, edgeitems=2, max_line_width=10**6)
        text = " ".join(text.split())
        return f"array(shape={value.shape}, dtype={value.dtype}, {text})"
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def where(site: Any, indent: str = "  ") -> str:
    """The 'created at' lines for a creation site (empty when unknown)."""
    if site is None:
        return ""
    lines = f"\n{indent}created at {site}"
    if getattr(site, "code", ""):
        lines += f"\n{indent}    {site.code}"
    return lines


def field_error(obj: str, field: str, value: Any, expected: str, site: Any = None,
                fix: str = "") -> ValidationError:
    """Build a ValidationError in the standard layout."""
    sep = ": " if "<" in obj else "."  # 'Connection from <A> to <B>: transform: ...'
    msg = f"{obj}{sep}{field}: {expected} (got {short_repr(value)})" + where(site)
    if fix:
        msg += f"\n  fix: {fix}"
    return ValidationError(msg, obj=obj, field=field, value=value, site=site)


class CompileError(SnnError, ValueError):
    """A network cannot be compiled as asked (names the objects and the pass)."""
