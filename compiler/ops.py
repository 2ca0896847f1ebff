"""One place to find and register an op kind's rules.

An op kind is a frozen model in ``schemas/ir.py`` (its fields and its traits) plus one
rule per runtime, each kept in that runtime's own registry: the printer's line
(``compiler/printer.py``), the numba executor (``runtimes/numba_cpu/backend.py``), the
rate runtime's forward and reverse rule (``runtimes/rate/vjp.py``, which training through
time reuses) and the plain-numpy reference (``runtimes/reference.py``). ``rules(kind)``
looks them all up; ``register`` adds a new kind to all of them at once, from any module::

    from snngraph.compiler import ops
    ops.register(Clip, printer=..., numba=..., rate=..., reference=...)

``print(ops.table())`` lists every kind. The runtimes are imported only when asked for
(the compiler does not depend on them).
"""

from __future__ import annotations

import dis
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from snngraph.schemas.ir import OP_KINDS, Op, register_op

from snngraph.errors import closest, field_error

RUNTIMES = ("numba", "rate", "reference", "bptt", "loihi")
"""The runtimes an op kind needs a rule in (or a reason in its ``unsupported``)."""


@dataclass(frozen=True)
class OpRules:
    """Everything the package has for one op kind (None: no rule there)."""

    kind: str
    model: type[Op]
    made_by: tuple[str, ...]
    """Functions of the compiler (lowering and passes) that create ops of this kind."""
    printer: Callable | None
    numba: type | None
    rate: Any
    reference: Callable | None
    bptt: str | None
    """How training through time runs it (it uses the rate rule), or None."""
    loihi: str | None
    """On the Loihi target: on a core (its role there) and/or on the host (numba)."""
    unsupported: dict[str, str] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """Runtimes with neither a rule nor a declared reason (should be empty)."""
        have = {"numba": self.numba, "rate": self.rate, "reference": self.reference,
                "bptt": self.bptt, "loihi": self.loihi}
        gaps = [r for r in RUNTIMES if have[r] is None and r not in self.unsupported]
        return gaps if self.printer is not None else ["printer", *gaps]


def _registries() -> dict[str, dict[str, Any]]:
    from snngraph.compiler import printer
    from snngraph.runtimes import reference
    from snngraph.runtimes.numba_cpu import backend
    from snngraph.runtimes.rate import vjp

    return {"printer": printer.FORMATTERS, "numba": backend.EXECUTORS, "rate": vjp.RULES,
            "reference": reference.RULES}


def rules(kind: str) -> OpRules:
    """The model and every runtime's rule for op kind ``kind``."""
    if kind not in OP_KINDS:
        near = closest(kind, OP_KINDS)
        raise field_error("ops.rules", "kind", kind, f"an op kind ({', '.join(OP_KINDS)})",
                          fix=f"did you mean {near!r}?" if near else
                          "register it with snngraph.compiler.ops.register")
    model = OP_KINDS[kind]
    found = {name: table.get(kind) for name, table in _registries().items()}
    return OpRules(kind=kind, model=model, made_by=_makers(model), printer=found["printer"],
                   numba=found["numba"], rate=found["rate"], reference=found["reference"],
                   bptt=_bptt(model, found["rate"]), loihi=_loihi(model, found["numba"]),
                   unsupported=dict(model.unsupported))


def _bptt(model: type[Op], rate: Any) -> str | None:
    if "bptt" in model.unsupported or rate is None:
        return None
    steps = "; steppable (may sit in a recurrent unit)" if model.steppable else ""
    return f"the rate rule over every step{steps}"


def _loihi(model: type[Op], numba: type | None) -> str | None:
    where = [f"on a core: {model.loihi_role}"] if model.loihi_role != "host" else []
    if numba is not None and "loihi" not in model.unsupported:
        where.append("on the host: the numba executor")
    return "; ".join(where) or None


def _makers(model: type[Op]) -> tuple[str, ...]:
    """Compiler functions and methods that construct the model (``ops.Linear(...)``):
    the lowering rules and passes that create this kind."""
    import snngraph.compiler.passes as passes
    from snngraph.compiler import lower

    modules = [lower] + [importlib.import_module(f"{passes.__name__}.{m.name}")
                         for m in pkgutil.iter_modules(passes.__path__)]
    found = []
    for module in modules:
        short = module.__name__.rsplit(".", 1)[-1]
        for qualname, fn in _functions(module):
            if _refers_to(fn, model):
                found.append(f"{short}.{qualname}")
    return tuple(found)


def _functions(module: Any) -> list[tuple[str, Any]]:
    """A module's own functions and the methods of its own classes."""
    out = []
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            out.append((name, obj))
        elif inspect.isclass(obj):
            out += [(f"{name}.{k}", v) for k, v in vars(obj).items() if inspect.isfunction(v)]
    return out


def _refers_to(fn: Any, model: type) -> bool:
    """Whether ``fn`` (or a function nested in it) loads ``model`` as a global or as an
    attribute of a module holding it (``ops.Linear``)."""
    codes, seen = [fn.__code__], False
    while codes and not seen:
        code = codes.pop()
        codes += [c for c in code.co_consts if inspect.iscode(c)]
        prev = None
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                prev = fn.__globals__.get(ins.argval)
                seen |= prev is model
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and prev is not None:
                seen |= getattr(prev, ins.argval, None) is model and inspect.ismodule(prev)
                prev = None
            else:
                prev = None
    return seen


def register(model: type[Op], *, printer: Callable[[Any, Any], str],
             numba: type | None = None, rate: Any = None,
             reference: Callable | None = None) -> type[Op]:
    """Add op kind ``model`` and its rules to every registry, from any module.

    ``printer(ir, op) -> str``: its attributes in the dump. ``numba``: an executor class
    (``runtimes/numba_cpu/backend.py``'s ``Executor``). ``rate``: a rule class or instance
    with ``forward(ctx, op, x)`` and ``backward(ctx, op, saved, dy, need_dx)``
    (``runtimes/rate/vjp.py``). ``reference(ir, op, x, inputs, batch)``: its steady-state
    value in plain numpy (``runtimes/reference.py``). A rule left out needs a reason in
    the model's ``unsupported``.
    """
    kind = _kind_of(model)
    try:
        register_op(model)
    except ValueError as exc:
        raise field_error(model.__name__, "op", kind, "a kind name not taken",
                          fix=f"name it differently ({exc})") from None
    tables = _registries()
    tables["printer"][kind] = printer
    for name, rule in (("numba", numba), ("reference", reference)):
        if rule is not None:
            tables[name][kind] = rule
    if rate is not None:
        tables["rate"][kind] = rate() if isinstance(rate, type) else rate
    gaps = rules(kind).missing()
    if gaps:
        unregister(kind)  # all or nothing
        raise field_error(f"ops.register({model.__name__})", gaps[0], None,
                          f"a rule for every runtime (none for {', '.join(gaps)})",
                          fix=f"pass {gaps[0]}=..., or say why not: "
                              f"{model.__name__}.unsupported = {{{gaps[0]!r}: 'why'}}")
    return model


def _kind_of(model: Any) -> str:
    """The kind name of an op model (the default of its ``op`` field)."""
    op = getattr(model, "model_fields", {}).get("op")
    kind = getattr(op, "default", None)
    if not (isinstance(model, type) and issubclass(model, Op) and isinstance(kind, str)):
        raise field_error("ops.register", "model", model, "a subclass of "
                          "snngraph.schemas.ir.Op with a field op: Literal['name'] = 'name'")
    return kind


def unregister(kind: str) -> None:
    """Remove op kind ``kind`` and its rules from every registry (tests, reloading)."""
    for registry in (OP_KINDS, *_registries().values()):
        registry.pop(kind, None)


RUNTIME_NAMES = {"numba": "the numba runtime", "rate": "the rate runtime",
                 "reference": "the reference oracle", "bptt": "training through time",
                 "loihi": "the Loihi target"}


def refuse_unsupported(ir: Any, runtime: str) -> None:
    """Raise when ``ir`` holds an op with side effects (a learning rule) that ``runtime``
    has no rule for: no output needs such an op, so the runtime would skip it silently
    and run something else than the network."""
    from snngraph.compiler.printer import FORMATTERS

    from snngraph.errors import CompileError, op_origin

    for op in ir.ops():
        why = type(op).unsupported.get(runtime)
        if why and type(op).side_effect:
            raise CompileError(
                f"{op_origin(op)}: its {op.op} op {op.name} ({FORMATTERS[op.op](ir, op)}) "
                f"cannot run on {RUNTIME_NAMES[runtime]}: {why}\n  fix: run it with "
                "sg.Simulator(net) (backend='numba'), or remove its learning_rule_type")


def table() -> str:
    """Every op kind and where its rules are, one block per kind."""
    out = []
    for kind in OP_KINDS:
        r = rules(kind)
        out.append(f"{kind}: {r.model.__module__}.{r.model.__name__}")
        for label, value in (("made by", ", ".join(r.made_by) or None),
                             ("printer", _qual(r.printer)), ("numba", _qual(r.numba)),
                             ("rate", _qual(type(r.rate) if r.rate is not None else None)),
                             ("reference", _qual(r.reference)), ("bptt", r.bptt),
                             ("loihi", r.loihi)):
            runtime = label.split()[0]
            shown = value or f"none: {r.unsupported.get(runtime, '-')}"
            out.append(f"  {label:<9} {shown}")
    return "\n".join(out)


def _qual(obj: Any) -> str | None:
    return None if obj is None else f"{obj.__module__}.{obj.__qualname__}"
