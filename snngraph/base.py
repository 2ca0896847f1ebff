"""Base classes of the object model: validated models, value specs and network objects.

Every user-facing class is a pydantic model. ``SnnModel`` adds what pydantic does not:
positional arguments (``sg.Ensemble(100, 1)``), the user's creation site, and errors in
snngraph's layout. ``Spec`` is a value type (neuron type, synapse, distribution, ...)
registered by name so documents can name it; ``SnnObject`` is a network member
(ensemble, node, connection, probe, network) compared by identity and added to the
enclosing ``with sg.Network():`` block once it is valid.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import itertools
import linecache
import os
import sys
import textwrap
import threading
import types
import typing
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict, PrivateAttr

from snngraph.errors import NetworkContextError, ValidationError, field_error, short_repr
from snngraph.schemas.base import Seed, SourceLoc

_INTERNAL_MODULES = ("snngraph", "pydantic", "pydantic_core", "typing", "functools")


def user_site() -> SourceLoc | None:
    """The first stack frame outside snngraph and pydantic: where the user made the call."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] not in _INTERNAL_MODULES:
            break
        frame = frame.f_back
    if frame is None:
        return None
    path = frame.f_code.co_filename
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:  # another drive on Windows
        pass
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return SourceLoc(file=path, line=frame.f_lineno, code=code)


class FieldError(ValueError):
    """Raised inside a model validator to blame one field (a cross-field check)."""

    def __init__(self, field: str, value: Any, expected: str, fix: str = ""):
        super().__init__(expected)
        self.field, self.value, self.expected, self.fix = field, value, expected, fix


# ---------------------------------------------------------------- network context stack
_context = threading.local()


def context_stack() -> list:
    """The stack of open ``with sg.Network():`` blocks in this thread, innermost last."""
    if not hasattr(_context, "stack"):
        _context.stack = []
    return _context.stack


@contextlib.contextmanager
def isolated_context() -> Iterator[None]:
    """Run with no open network blocks (restored afterwards)."""
    saved = context_stack()[:]
    del context_stack()[:]
    try:
        yield
    finally:
        context_stack()[:] = saved


# ---------------------------------------------------------------- validated models
def _expected(msg: str) -> str:
    """Turn pydantic's 'Input should be X' into 'expected X'."""
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if msg.startswith("Input should be "):
        msg = msg.removeprefix("Input should be ")
        if msg.startswith(("greater", "less")):
            msg = "a value " + msg
        msg = "expected " + msg
    return msg


# ---------------------------------------------------------------- signatures and help text
class _Shown:
    """A default shown by its text in a signature (``inspect`` prints its ``repr``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


_TITLES = {"Array": "array", "ObjectRef": "network object"}


def _titled(metadata: Any) -> str | None:
    """Arrays and object references carry a JSON Schema titled 'Array'/'ObjectRef'."""
    for meta in metadata:
        title = (getattr(meta, "json_schema", None) or {}).get("title")
        if title:
            return _TITLES.get(title, title)
    return None


def _type_text(tp: Any) -> str:
    """A short name for an annotation: ``float | None`` rather than pydantic's metadata."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _titled(args[1:]) or _type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(dict.fromkeys(_type_text(a) for a in args))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    if isinstance(tp, list):  # Callable's argument list
        return "[" + ", ".join(_type_text(a) for a in tp) + "]"
    if tp is Ellipsis:
        return "..."
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_text(a) for a in args)}]" if args else name
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


@functools.cache
def _own_field_docs(klass: type) -> dict[str, str]:
    """The string under each field in ``klass``'s own source (an attribute docstring)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    except (OSError, TypeError, SyntaxError):  # no source (frozen, interactive)
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for stmt, nxt in zip(body, body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _field_order(cls: type[BaseModel]) -> list[str]:
    """Positional fields, then the class's own fields, then inherited ones (label, seed)."""
    order = list(getattr(cls, "_positional", ()))
    for klass in cls.__mro__:
        for name in vars(klass).get("__annotations__", {}):
            if name in cls.model_fields and name not in order:
                order.append(name)
    return order + [f for f in cls.model_fields if f not in order]


def _default(info: Any) -> Any:
    """A field's default for display; factories are called (they build small specs)."""
    if info.is_required():
        return inspect.Parameter.empty
    try:
        value = info.get_default(call_default_factory=True)
    except Exception:  # noqa: BLE001 - a factory needing context: show that one exists
        return _Shown("<default>")
    return _Shown(short_repr(value, 40))


@functools.cache
def model_signature(cls: type[BaseModel]) -> inspect.Signature:
    """What the user passes: positional fields by position, the rest by name, defaults."""
    positional = set(getattr(cls, "_positional", ()))
    params = [inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD if name in positional
        else inspect.Parameter.KEYWORD_ONLY, default=_default(cls.model_fields[name]))
        for name in _field_order(cls)]
    # a positional field with a default may precede a required one; show it anyway
    return inspect.Signature(params, __validate_parameters__=False)


def field_docs(cls: type[BaseModel]) -> dict[str, str]:
    """Each field's description: its attribute docstring (nearest class first)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            docs.update({k: v for k, v in _own_field_docs(klass).items()
                         if k in cls.model_fields})
    for name, info in cls.model_fields.items():
        if name not in docs and info.description:
            docs[name] = info.description
    return docs


def model_help(cls: type[BaseModel], written: str | None) -> str:
    """The written docstring plus a Parameters section: type, default and description."""
    docs = field_docs(cls)
    if not cls.model_fields:
        return inspect.cleandoc(written or "")
    lines = ["", "Parameters", "----------"]
    for name, param in model_signature(cls).parameters.items():
        info = cls.model_fields[name]
        head = f"{name} : {_titled(info.metadata) or _type_text(info.annotation)}"
        if param.default is not inspect.Parameter.empty:
            head += f", default {param.default!r}"
        lines.append(head)
        lines += ["    " + line for line in docs.get(name, "").splitlines()]
    return inspect.cleandoc(written or "") + "\n" + "\n".join(lines) + "\n"


class _LazySignature:
    """``__signature__`` built on first read (importing snngraph should not build it)."""

    def __get__(self, instance: Any, owner: type) -> inspect.Signature:
        return model_signature(owner)


class _ModelMeta(type(BaseModel)):
    """Pydantic's metaclass, with ``cls.__doc__`` (what ``help()`` shows) completed by a
    Parameters section, built on first read: it parses the class's source."""

    @property
    def __doc__(cls) -> str:
        return _help_text(cls)


@functools.cache
def _help_text(cls: type[BaseModel]) -> str:
    return model_help(cls, vars(cls).get("__doc__"))


def _written_description(schema: dict[str, Any], cls: type) -> None:
    """JSON Schema: the class's written docstring, not the generated Parameters section."""
    written = vars(cls).get("__doc__")
    if written:
        schema["description"] = inspect.cleandoc(written)
    else:
        schema.pop("description", None)


class SnnModel(BaseModel, metaclass=_ModelMeta):
    """A validated model with positional arguments, a creation site and clear errors."""

    model_config = ConfigDict(
        validate_assignment=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        revalidate_instances="never",
        json_schema_extra=_written_description,
    )
    _positional: ClassVar[tuple[str, ...]] = ()
    _site: SourceLoc | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Replace pydantic's signature (``*args`` and metadata) with the user's one."""
        super().__pydantic_init_subclass__(**kwargs)
        cls.__signature__ = _LazySignature()

    def __init__(self, *args: Any, **kwargs: Any):
        site = kwargs.pop("_site", None) or user_site()
        name = self._name_for(kwargs.get("label"), args, kwargs)
        if len(args) > len(self._positional):
            raise ValidationError(
                f"{name}: takes at most {len(self._positional)} positional arguments "
                f"({', '.join(self._positional) or 'none'}), got {len(args)}"
                + (f"\n  created at {site}" if site else ""), obj=name, site=site)
        for field, value in zip(self._positional, args):
            if field in kwargs:
                raise field_error(name, field, value, "given both by position and by name",
                                  site)
            kwargs[field] = value
        self._fill_defaults(kwargs)
        try:
            super().__init__(**kwargs)
        except pydantic.ValidationError as exc:
            raise self._convert(exc, name, site, kwargs) from None
        self._site = site

    def _fill_defaults(self, kwargs: dict) -> None:
        """Hook: network objects take unset arguments from the network config."""

    @classmethod
    def _name_for(cls, label: Any, args: tuple = (), kwargs: dict | None = None) -> str:
        """How errors name the object: ``Class 'label'`` or just ``Class``."""
        return f"{cls.__name__} {label!r}" if isinstance(label, str) else cls.__name__

    @property
    def site(self) -> SourceLoc | None:
        """Where the user created this object (file, line, code), when known."""
        return self._site

    def _describe(self) -> str:
        return self._name_for(getattr(self, "label", None))

    @classmethod
    def _convert(cls, exc: pydantic.ValidationError, name: str, site: Any,
                 given: dict) -> ValidationError:
        """The first pydantic error, rewritten as ``Class 'label'.field: expected ...``."""
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            return field_error(name, cause.field, cause.value, cause.expected, site, cause.fix)
        # keep field names and indices; drop pydantic's union-member tags
        loc = [str(p) for p in err["loc"]
               if isinstance(p, int) or (str(p).isidentifier() and str(p)[0].islower())]
        field = ".".join(loc) if loc else "?"
        value = given.get(loc[0], err.get("input")) if loc else err.get("input")
        if err["type"] == "extra_forbidden":
            known = ", ".join(f for f in cls.model_fields if not f.startswith("_"))
            return field_error(name, field, value, f"unknown argument; expected one of: {known}",
                               site)
        if err["type"] == "missing":
            return ValidationError(f"{name}.{field}: required argument is missing"
                                   + (f"\n  created at {site}" if site else ""),
                                   obj=name, field=field, site=site)
        if len(loc) > 1:
            value = err.get("input")
        same_field = [e for e in exc.errors() if e["loc"][:1] == err["loc"][:1]]
        expected = list(dict.fromkeys(_expected(e["msg"]) for e in same_field))
        if len(expected) > 1:  # a union: say what each accepted type wanted
            return field_error(name, field, value, "; or ".join(expected), site)
        return field_error(name, field, value, expected[0], site)

    def __setattr__(self, field: str, value: Any) -> None:
        if field.startswith("_"):
            return super().__setattr__(field, value)
        if field not in type(self).model_fields:
            known = ", ".join(type(self).model_fields)
            raise field_error(self._describe(), field, value,
                              f"no such attribute; expected one of: {known}", self._site)
        old = self.__dict__[field]
        try:
            super().__setattr__(field, value)
        except pydantic.ValidationError as exc:
            self.__dict__[field] = old  # a failed assignment leaves the object as it was
            raise self._convert(exc, self._describe(), self._site, {field: value}) from None


def values_equal(a: Any, b: Any) -> bool:
    """Equality that treats numpy arrays by value, shape and dtype."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return a == b


# ---------------------------------------------------------------- value specs
SPECS: dict[str, type[Spec]] = {}
"""Every concrete Spec class by its class name (the document's ``type`` tag)."""


class Spec(SnnModel):
    """A value type: neuron type, synapse, distribution, transform, process, layer spec.

    Specs compare by value. Concrete subclasses register themselves by ``spec_name`` (the
    class name unless the class sets another: two families may each have a class of one
    name, e.g. the ``Triangle`` synapse and surrogate), so a description document can
    name them and the JSON Schema lists them. A family base (``NeuronType``,
    ``Synapse``, ...) sets ``family`` and ``abstract=True``.
    """

    family: ClassVar[str] = "spec"
    abstract: ClassVar[bool] = True
    spec_name: ClassVar[str] = "Spec"
    """The name documents give this class (``"type"``)."""

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.abstract = abstract
        if "spec_name" not in cls.__dict__:
            cls.spec_name = cls.__name__
        if not abstract:
            if cls.spec_name in SPECS and SPECS[cls.spec_name] is not cls:
                raise TypeError(f"two spec classes named {cls.spec_name}")
            SPECS[cls.spec_name] = cls

    @classmethod
    def members(cls) -> list[type[Spec]]:
        """The registered concrete classes that are subclasses of this family base."""
        return [s for s in SPECS.values() if issubclass(s, cls)]

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and all(
            values_equal(getattr(self, f), getattr(other, f)) for f in type(self).model_fields
        )

    __hash__ = None  # mutable value type

    def __repr__(self) -> str:
        fields = type(self).model_fields
        args = ", ".join(
            f"{k}={short_repr(v, 40)}" for k, v in self.__dict__.items()
            if not values_equal(v, fields[k].get_default(call_default_factory=True))
        )
        return f"{type(self).__name__}({args})"

    __str__ = __repr__


# ---------------------------------------------------------------- network objects
_creation_order = itertools.count()


class SnnObject(SnnModel):
    """A member of a network: created inside a ``with`` block, compared by identity."""

    label: str | None = None
    """A name shown in messages, dumps and summaries; None names the object after its class."""
    seed: Seed | None = None
    """Seed of this object's random draws (None: derived from the network's seed)."""
    _order: int = PrivateAttr(default=0)

    def __init__(self, *args: Any, **kwargs: Any):
        stack = context_stack()
        if not stack and not self._may_stand_alone():
            site = user_site()
            raise NetworkContextError(
                f"{self._name_for(kwargs.get('label'))} must be created inside a network"
                + (f"\n  created at {site}" if site else "")
                + "\n  fix: with sg.Network() as net:\n           ..."
            )
        super().__init__(*args, **kwargs)
        self._order = next(_creation_order)
        if stack:
            stack[-1].add(self)

    @classmethod
    def _may_stand_alone(cls) -> bool:
        return False

    def _fill_defaults(self, kwargs: dict) -> None:
        """Unset arguments come from the innermost network config that sets them."""
        for field in type(self).model_fields:
            if field in kwargs:
                continue
            for net in reversed(context_stack()):
                found, value = net.config.lookup(type(self), field)
                if found:
                    kwargs[field] = value
                    break

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self._describe()}>"

    __str__ = __repr__
