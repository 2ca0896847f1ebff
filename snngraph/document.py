"""Description documents: a network as plain JSON (or YAML) plus an ``.npz`` of arrays.

The document is derived from the pydantic models, field by field (no second list of
fields). Objects refer to each other by id; specs (neuron types, synapses, ...) are
``{"type": ClassName, field: value, ...}``; arrays are inline ``{"dtype", "shape",
"data"}`` or ``{"$array": key}`` into the sidecar, which is read with
``allow_pickle=False``. Loading constructs objects through their validated constructors
and never imports or executes anything named in the document.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from snngraph.base import SPECS, SnnObject, Spec, isolated_context
from snngraph.errors import SerializationError, ValidationError, short_repr
from snngraph.network import Network
from snngraph.schemas.base import FORMAT_VERSION, SourceLoc
from snngraph.views import LearningRule, Neurons, ObjView

FORMAT = "snngraph"


# ------------------------------------------------------------------ writing
class _Writer:
    """Turns a network into a document, collecting arrays when a dict is given."""

    def __init__(self, net: Network, arrays: dict[str, np.ndarray] | None):
        ordered = sorted([net, *net.all_objects], key=lambda o: o._order)
        self.ids = {id(o): str(i) for i, o in enumerate(ordered)}
        self.arrays = arrays

    def network(self, net: Network) -> dict[str, Any]:
        entry = self._header(net)
        entry["config"] = self._config(net)
        entry["objects"] = [self.network(o) if isinstance(o, Network) else self.obj(o)
                            for o in net.objects]
        return entry

    def _header(self, obj: SnnObject) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": type(obj).__name__, "id": self.ids[id(obj)]}
        for field in ("label", "seed"):
            entry[field] = getattr(obj, field)
        if obj.site is not None:
            entry["site"] = obj.site.model_dump()
        return entry

    def obj(self, obj: SnnObject) -> dict[str, Any]:
        entry = self._header(obj)
        oid = entry["id"]
        for field in type(obj).model_fields:
            if field not in entry:
                entry[field] = self.value(getattr(obj, field), f"{oid}.{field}", obj, field)
        return entry

    def value(self, value: Any, key: str, owner: Any, field: str) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.ndarray):
            return self._array(value, key)
        if isinstance(value, tuple | list):
            return [self.value(v, f"{key}.{i}", owner, field) for i, v in enumerate(value)]
        if isinstance(value, dict) and value and all(isinstance(v, Spec) and isinstance(k, str)
                                                     for k, v in value.items()):
            return {k: self.value(v, f"{key}.{k}", owner, field) for k, v in value.items()}
        if isinstance(value, Spec):
            out = {"type": type(value).spec_name}
            for name in type(value).model_fields:
                out[name] = self.value(getattr(value, name), f"{key}.{name}", owner, field)
            return out
        if isinstance(value, SnnObject | Neurons | ObjView | LearningRule):
            return self.ref(value, owner, field)
        if callable(value):
            name = getattr(value, "__name__", value)
            raise SerializationError(
                f"{owner._describe()}.{field}: a Python callable ({name!r}) "
                f"cannot be saved in a description document (loading one never runs code)"
                f"{_where(owner)}\n  fix: use an array, a Process (e.g. sg.PresentInput) or "
                "a passthrough Node fed at run time instead of a function")
        raise SerializationError(f"{owner._describe()}.{field}: cannot save a value of type "
                                 f"{type(value).__name__}{_where(owner)}")

    def value_inline(self, spec: Spec) -> dict[str, Any]:
        """A spec with inline arrays (no network, no sidecar)."""
        self.arrays, self.ids = None, {}
        return self.value(spec, "", spec, "spec")

    def _array(self, arr: np.ndarray, key: str) -> dict[str, Any]:
        if self.arrays is None:
            return {"dtype": arr.dtype.str, "shape": list(arr.shape),
                    "data": arr.ravel().tolist()}
        self.arrays[key] = arr
        return {"$array": key, "dtype": arr.dtype.str, "shape": list(arr.shape)}

    def ref(self, target: Any, owner: Any, field: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(target, ObjView):
            key = target.key
            if isinstance(key, slice):
                out["slice"] = [key.start, key.stop, key.step]
            elif isinstance(key, int | np.integer):
                out["slice"] = int(key)
            else:
                out["slice"] = {"indices": [int(i) for i in np.asarray(key)]}
            target = target.obj
        if isinstance(target, Neurons):
            out["attr"] = "neurons"
            target = target.ensemble
        if isinstance(target, LearningRule):  # a connection's rule: by index or dict key
            out["attr"] = "learning_rule"
            if target.key is not None:
                out["key"] = target.key
            target = target.connection
        if id(target) not in self.ids:
            raise SerializationError(f"{owner._describe()}.{field}: refers to {target!r}, "
                                     f"which is not part of the network being saved"
                                     f"{_where(owner)}")
        return {"$ref": self.ids[id(target)], **out}

    def _config(self, net: Network) -> dict[str, Any]:
        config = net.config
        defaults = {
            cls.__name__: {f: self.value(v, f"config.{cls.__name__}.{f}", net, "config")
                           for f, v in fields.items()}
            for cls, fields in config.defaults.items() if fields
        }
        params = {
            self.ref(obj, net, "config")["$ref"]: {
                name: self.value(v, f"config.{self.ids[id(obj)]}.{name}", net, "config")
                for name, v in values.items()}
            for obj, values in config.params.items() if values
        }
        return {"defaults": defaults, "params": params}


def _where(obj: Any) -> str:
    return f"\n  created at {obj.site}" if getattr(obj, "site", None) else ""


def to_dict(net: Network, arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The description document of ``net``. Arrays go into ``arrays`` when given (as
    ``{"$array": key}`` references), inline otherwise."""
    if not isinstance(net, Network):
        raise SerializationError(f"to_dict: expected a Network, got {type(net).__name__}")
    return {"format": FORMAT, "version": FORMAT_VERSION,
            "network": _Writer(net, arrays).network(net)}


# ------------------------------------------------------------------ reading
class _Reader:
    """Rebuilds objects from a document through their validated constructors."""

    def __init__(self, arrays: Any, source: str):
        self.arrays, self.source = arrays, source
        self.objects: dict[str, Any] = {}
        self.failed: set[str] = set()

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, dict):
            return value
        if "$array" in value:
            return self._sidecar(value, where)
        if "data" in value and "dtype" in value:
            return _inline_array(value, where)
        if "$ref" in value:
            return self.ref(value, where)
        if "type" in value:
            return self.spec(value, where)
        if value and all(isinstance(v, dict) and "type" in v for v in value.values()):
            return {k: self.spec(v, f"{where}.{k}") for k, v in value.items()}  # named specs
        raise SerializationError(f"{where}: unrecognised value {value!r}")

    def _sidecar(self, value: dict, where: str) -> np.ndarray:
        key = value["$array"]
        if self.arrays is None or key not in self.arrays:
            raise SerializationError(f"{self.source}: {where}: array {key!r} is missing from "
                                     "the .npz sidecar\n  fix: keep the document with the "
                                     ".npz that sg.save wrote with it (was the document moved "
                                     "without it, or paired with another network's .npz?)")
        arr = np.asarray(self.arrays[key])
        if "shape" in value and list(arr.shape) != list(value["shape"]):
            raise SerializationError(f"{self.source}: {where}: array {key!r} has shape "
                                     f"{arr.shape} in the .npz, the document says "
                                     f"{tuple(value['shape'])}\n  fix: the .npz belongs to "
                                     "another version of the network; save the network again "
                                     "(sg.save writes both files together)")
        return arr

    def spec(self, value: dict, where: str) -> Spec:
        name = value["type"]
        cls = SPECS.get(name)
        if cls is None:
            raise SerializationError(f"{self.source}: {where}: unknown type {name!r}; expected "
                                     f"one of {', '.join(sorted(SPECS))}"
                                     + _did_you_mean(name, SPECS))
        kwargs = {k: self.value(v, f"{where}.{k}") for k, v in value.items() if k != "type"}
        return cls(**kwargs, _site=SourceLoc(file=self.source, line=0, code=where))

    def ref(self, value: dict, where: str) -> Any:
        target = self.objects.get(value["$ref"])
        if target is None:
            raise _Unresolved(value["$ref"])  # built on a later sweep, if ever
        if value.get("attr") == "neurons":
            target = target.neurons
        if value.get("attr") == "learning_rule":
            target = _learning_rule(target, value.get("key"), where)
        key = value.get("slice")
        if isinstance(key, list | tuple):
            key = slice(*key)
        elif isinstance(key, dict):
            key = list(key["indices"])
        return target if key is None else target[key]

    def network(self, entry: dict, where: str) -> Network:
        site = self._site(entry, where)
        net = Network(label=entry.get("label"), seed=entry.get("seed"), _site=site)
        self.objects[entry["id"]] = net
        return net

    def obj(self, entry: dict, where: str) -> SnnObject:
        cls = _object_classes().get(entry.get("type"))
        if cls is None:
            raise SerializationError(f"{self.source}: {where}: unknown object type "
                                     f"{entry.get('type')!r}; expected one of "
                                     f"{', '.join([*_object_classes(), 'Network'])}"
                                     + _did_you_mean(entry.get("type"), _object_classes()))
        kwargs = {k: self.value(v, f"{where}.{k}") for k, v in entry.items()
                  if k not in ("type", "id", "site")}
        obj = cls(**kwargs, _site=self._site(entry, where))
        self.objects[entry["id"]] = obj
        return obj

    def _site(self, entry: dict, where: str) -> SourceLoc:
        if isinstance(entry.get("site"), dict):
            return SourceLoc(**entry["site"])
        return SourceLoc(file=self.source, line=0, code=where)


def _did_you_mean(name: Any, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"\n  fix: did you mean {close[0]!r}?" if close else ""


def _learning_rule(conn: Any, key: Any, where: str) -> LearningRule:
    """``conn.learning_rule`` (``[key]`` for one of a list or dict of rules)."""
    rules = getattr(conn, "learning_rule", None)
    try:
        return rules if key is None and isinstance(rules, LearningRule) else rules[key]
    except (TypeError, KeyError, IndexError):
        raise SerializationError(f"{where}: refers to learning rule {key!r} of {conn!r}, "
                                 f"which has {conn.learning_rule_type!r}") from None


class _Unresolved(Exception):
    """An entry refers to an object not built yet (built on a later sweep)."""


def _object_classes() -> dict[str, type]:
    from snngraph.connection import Connection
    from snngraph.ensemble import Ensemble
    from snngraph.node import Node
    from snngraph.probe import Probe

    return {c.__name__: c for c in (Ensemble, Node, Connection, Probe)}


def _inline_array(value: dict, where: str) -> np.ndarray:
    try:
        arr = np.array(value["data"], dtype=np.dtype(value["dtype"]))
        return arr.reshape(value["shape"])
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{where}: bad inline array ({exc})") from None


def _entries(entry: dict, parent: str | None, where: str, out: list) -> None:
    """Flatten the nested document into (entry, parent id, location) in document order."""
    out.append((entry, parent, where))
    if entry.get("type") == "Network":
        for i, child in enumerate(entry.get("objects", [])):
            _entries(child, entry["id"], f"{where}.objects[{i}]", out)


def from_dict(doc: dict[str, Any], arrays: Any = None, source: str = "<document>") -> Network:
    """Rebuild a network from a description document (see ``to_dict``)."""
    top = _check_header(doc, source)
    reader, flat = _Reader(arrays, source), []
    _entries(top, None, "network", flat)
    with isolated_context():  # a loaded network is not added to the caller's network
        _build(reader, flat)
    for entry, _, where in flat:
        if entry.get("type") == "Network":
            _restore_config(reader, entry, where)
    return reader.objects[top["id"]]


def _check_header(doc: Any, source: str) -> dict:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise SerializationError(f"{source}: not a snngraph description document "
                                 f"(expected \"format\": \"{FORMAT}\", got {got!r})\n  fix: "
                                 "load documents written by sg.save (a compiled program: "
                                 "Program.load or `snngraph inspect`)")
    if doc.get("version") != FORMAT_VERSION:
        raise SerializationError(f"{source}: document version {doc.get('version')!r} is not "
                                 f"supported (this snngraph reads version {FORMAT_VERSION})"
                                 f"\n  fix: set \"version\": {FORMAT_VERSION} if the document "
                                 "was written by hand, or load it with the snngraph that "
                                 "wrote it and save it again")
    top = doc.get("network")
    if not isinstance(top, dict) or top.get("type") != "Network":
        got = top.get("type") if isinstance(top, dict) else short_repr(top)
        raise SerializationError(f"{source}: \"network\" must be a Network entry "
                                 f"({{\"type\": \"Network\", ...}}), got {got!r}\n  fix: "
                                 "documents hold one top-level network, as sg.save writes")
    return top


def _build(reader: _Reader, flat: list, errors: list[str] | None = None) -> None:
    """Create every object inside its network, in creation order (ids are creation
    order when the document was written by snngraph); entries that refer to objects
    not built yet wait for a later sweep. With ``errors``, invalid entries are recorded
    there and skipped (``snngraph validate``) instead of raising."""
    order = sorted(range(len(flat)), key=lambda i: (_id_rank(flat[i][0]), i))
    pending = [flat[i] for i in order]
    while pending:
        waiting = []
        for entry, parent, where in pending:
            try:
                _build_one(reader, entry, parent, where)
            except _Unresolved:
                waiting.append((entry, parent, where))
            except (ValidationError, SerializationError) as exc:
                if errors is None:
                    raise _in_document(exc, reader.source, entry, where) from None
                errors.append(f"{where} ({entry.get('type')} id={entry.get('id')!r}): {exc}")
                reader.failed.add(entry.get("id"))
        if len(waiting) == len(pending):
            _report_unresolved(reader, waiting, errors)
            return
        pending = waiting


def _in_document(exc: Exception, source: str, entry: dict, where: str) -> Exception:
    """The same error, prefixed with the file and the entry it came from (an object's own
    message names the object and its original creation site, not the document)."""
    text = str(exc)
    if text.startswith(source):
        return exc
    text = f"{source}: {where} ({entry.get('type')} id={entry.get('id')!r}): {text}"
    if isinstance(exc, ValidationError):
        return ValidationError(text, obj=exc.obj, field=exc.field, value=exc.value,
                               site=exc.site)
    return type(exc)(text)


def _build_one(reader: _Reader, entry: dict, parent: str | None, where: str) -> None:
    if parent is None:
        reader.network(entry, where)
        return
    if parent not in reader.objects:
        raise _Unresolved(parent)
    with reader.objects[parent]:
        if entry.get("type") == "Network":
            reader.network(entry, where)
        else:
            reader.obj(entry, where)


def _report_unresolved(reader: _Reader, waiting: list, errors: list[str] | None) -> None:
    lines = []
    for entry, _, where in waiting:
        ref = next((r for r in _refs(entry) if r not in reader.objects), "?")
        why = "an invalid object" if ref in reader.failed else "an object not in the document"
        lines.append(f"{where} ({entry.get('type')} id={entry.get('id')!r}): refers to {why} "
                     f"(id {ref!r})")
    if errors is None:
        known = ", ".join(sorted(reader.objects, key=lambda i: (len(i), i))[:12])
        raise SerializationError(f"{reader.source}: " + "; ".join(lines) + "\n  fix: each "
                                 f"\"$ref\" must be the \"id\" of an object in the document "
                                 f"(ids here: {known})")
    errors.extend(lines)


def validate_document(doc: Any, arrays: Any = None, source: str = "<document>"
                      ) -> list[str]:
    """Every problem found in a document (empty when it loads): structure, then each
    object's validation, continuing past invalid objects."""
    try:
        top = _check_header(doc, source)
    except SerializationError as exc:
        return [str(exc)]
    reader, flat, errors = _Reader(arrays, source), [], []
    _entries(top, None, "network", flat)
    try:
        with isolated_context():
            _build(reader, flat, errors)
        for entry, _, where in flat:
            if entry.get("type") == "Network" and entry.get("id") in reader.objects:
                _restore_config(reader, entry, where)
    except (ValidationError, SerializationError) as exc:
        errors.append(str(exc))
    except (KeyError, TypeError, AttributeError) as exc:
        errors.append(f"{source}: malformed document ({type(exc).__name__}: {exc})")
    return errors


def _id_rank(entry: dict) -> float:
    oid = str(entry.get("id", ""))
    return int(oid) if oid.isdigit() else math.inf


def _refs(value: Any) -> list[str]:
    """Every object id an entry refers to."""
    if isinstance(value, dict):
        own = [str(value["$ref"])] if "$ref" in value else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _restore_config(reader: _Reader, entry: dict, where: str) -> None:
    net = reader.objects[entry["id"]]
    config = entry.get("config") or {}
    for cls_name, fields in (config.get("defaults") or {}).items():
        cls = {**_object_classes(), "Network": Network}.get(cls_name)
        if cls is None:
            raise SerializationError(f"{where}.config: cannot configure {cls_name!r}")
        for name, value in fields.items():
            setattr(net.config[cls], name, reader.value(value, f"{where}.config.{name}"))
    for oid, params in (config.get("params") or {}).items():
        obj = reader.objects.get(oid)
        if obj is None:
            raise SerializationError(f"{where}.config.params: no object with id {oid!r}")
        for name, value in params.items():
            setattr(net.config[obj], name, reader.value(value, f"{where}.config.{name}"))


# ------------------------------------------------------------------ files
def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name.rsplit(".", 1)[0] + ".npz")


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: a failure never
    leaves a half-written file where a good one was."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(net: Network, path: str | os.PathLike) -> Path:
    """Write ``net`` to ``path`` (``.json``, or ``.yaml``/``.yml`` with pyyaml) and its
    arrays to the ``.npz`` beside it. Returns the document's path."""
    from snngraph.files import check_writable

    path = check_writable(path, "sg.save")
    arrays: dict[str, np.ndarray] = {}
    doc = to_dict(net, arrays)
    doc["arrays"] = _sidecar_path(path).name
    text = _dumps(doc, path)
    _atomic_write(_sidecar_path(path), lambda fh: np.savez(fh, **arrays))
    _atomic_write(path, lambda fh: fh.write(text.encode()))
    return path


def _dumps(doc: dict, path: Path) -> str:
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml().safe_dump(doc, sort_keys=False)
    return json.dumps(doc, indent=1)


def _yaml() -> Any:
    from snngraph.files import yaml_module

    return yaml_module()


def read_document(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """The document at ``path`` and its sidecar arrays (empty when there is none)."""
    from snngraph import files

    expected = "a description document (.json or .yaml, written by sg.save)"
    path, text = files.read_text(path, expected)
    doc = files.parse(path, text, expected)
    if files.doc_kind(doc) == "program":
        raise files.wrong_kind(path, "program", "a description document")
    arrays: dict[str, np.ndarray] = {}
    name = doc.get("arrays") if isinstance(doc, dict) else None
    if name:
        sidecar = path.parent / Path(name).name  # never outside the document's folder
        if not sidecar.exists():
            raise SerializationError(f"{path}: its arrays file {sidecar} is missing\n  fix: "
                                     "keep the .npz that sg.save wrote beside the document")
        arrays = files.load_npz(sidecar, f"the arrays of {path}", "sg.save")
    return doc, arrays


def load(path: str | os.PathLike) -> Network:
    """Read a network saved with ``save`` (JSON or YAML, plus its ``.npz``)."""
    doc, arrays = read_document(path)
    try:
        return from_dict(doc, arrays, source=str(path))
    except ValidationError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise SerializationError(f"{path}: malformed document ({type(exc).__name__}: {exc})"
                                 f"\n  fix: run `snngraph validate {path}` to list each "
                                 "problem against the schema") from None




def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """A spec (neuron type, synapse, process, ...) as a plain dict with inline arrays,
    the form IR ops carry."""
    return _Writer.__new__(_Writer).value_inline(spec)


def spec_from_dict(data: dict[str, Any]) -> Spec:
    """The inverse of ``spec_to_dict`` (validated, never executes code)."""
    return _Reader(None, "<ir>").spec(data, "spec")
