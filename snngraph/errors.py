"""The error types users see, and the one layout every message follows.

Layout (docs/architecture.md, quality bars): what is wrong with which object, where it
was created, and (when there is one) how to fix it.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
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


def origin_text(origin: Any) -> str:
    """One user object behind an IR op (an ``Origin``) for a message: ``Ensemble 'a'
    (created at model.py:12)``, or just ``Ensemble 'a'`` when its site is unknown."""
    site = getattr(origin, "site", None)
    return origin.obj + (f" (created at {site})" if site is not None else "")


def op_origin(op: Any, *, sites: bool = True, first: bool = False, sep: str = ", ") -> str:
    """The user objects an IR op came from, for messages: each once (``first``: only the
    first), with where each was created when known (``sites``); the op's own name when
    no user object is behind it (an op a pass made)."""
    src = op.src[:1] if first else op.src
    texts = dict.fromkeys(origin_text(o) if sites else o.obj for o in src)
    return sep.join(texts) or op.name


def op_site(op: Any) -> Any:
    """The first known creation site behind an IR op (None when none is), for ``where``."""
    return next((o.site for o in op.src if o.site is not None), None)


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


class SimulationError(SnnError, RuntimeError):
    """A run went wrong: e.g. a Node's function returned NaN or the wrong number of
    values (names the object, the step and the value)."""


class ArgumentError(ValidationError, TypeError):
    """A call got a keyword argument it does not take (a TypeError too, as Python's own
    error for it is)."""


def closest(value: Any, choices: Iterable[Any]) -> Any:
    """The choice most like ``value`` (difflib; case ignored), or None."""
    if not isinstance(value, str):
        return None
    by_lower = {str(c).lower(): c for c in choices}
    hit = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[hit[0]] if hit else None


def unknown_keyword(call: str, given: dict[str, Any], known: Iterable[str]) -> ArgumentError | None:
    """The error for the first keyword of ``given`` that ``call`` does not take, with the
    closest known name (difflib) as the fix; None when all are known."""
    known = list(known)
    bad = next((k for k in given if k not in known), None)
    if bad is None:
        return None
    close = closest(bad, known)
    value = short_repr(given[bad], 40)
    fix = (f"did you mean {close}? {call}(..., {close}={value})" if close else
           f"{call} takes {', '.join(known)}")
    return ArgumentError(f"{call}: unknown keyword argument {bad!r} (got {bad}={value})"
                         f"\n  fix: {fix}", obj=call, field=bad, value=given[bad])


def keywords_checked(fn: Callable, call: str) -> Callable:
    """``fn`` raising ``unknown_keyword``'s error (with "did you mean") instead of
    Python's bare TypeError for a misspelled keyword; a function that takes ``**kwargs``
    is returned as it is."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return fn
    known = [p.name for p in params if p.name != "self"
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        error = unknown_keyword(call, kwargs, known) if kwargs else None
        if error is not None:
            raise error
        return fn(*args, **kwargs)
    return checked
