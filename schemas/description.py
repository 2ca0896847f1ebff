"""JSON Schema of the description document, derived from the object-model classes.

The classes are passed in (this package never imports ``snngraph``): the network
object classes, and the registered spec classes. A field typed with a family base
(``NeuronType``, ``Synapse``, ...) becomes a ``oneOf`` over the family's members, each
tagged by ``"type": "<ClassName>"``; arrays, object references and callables get the
schemas of ``schemas.base``.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from snngraph.schemas.base import FORMAT_VERSION, SourceLoc


class _DocumentSchema(GenerateJsonSchema):
    """Pydantic's generator with snngraph's document conventions."""

    def model_schema(self, schema: Any) -> dict[str, Any]:
        cls = schema["cls"]
        if getattr(cls, "abstract", False) and hasattr(cls, "members"):
            return self._family(cls)
        out = super().model_schema(schema)
        if hasattr(cls, "members"):  # a concrete spec: tag it with its type
            out.setdefault("properties", {})
            out["properties"] = {"type": {"const": cls.spec_name}, **out["properties"]}
            out["required"] = ["type", *out.get("required", [])]
            out["additionalProperties"] = False
        return out

    def _family(self, cls: Any) -> dict[str, Any]:
        """A family's tagged union. A family met again inside one of its own members (a
        solver holding solvers: ``LstsqDrop.solver1``) is checked by its tag only there:
        a JSON Schema cannot expand it forever (loading validates it in full)."""
        names = [m.spec_name for m in cls.members()]
        busy = self.__dict__.setdefault("_families_busy", set())
        if cls in busy:
            return {"type": "object", "required": ["type"],
                    "properties": {"type": {"enum": names}}}
        busy.add(cls)
        try:
            return tagged_union({m.spec_name: self.generate_inner(m.__pydantic_core_schema__)
                                 for m in cls.members()})
        finally:
            busy.discard(cls)

    def callable_schema(self, schema: Any) -> dict[str, Any]:
        # Callables cannot be stored in a document: nothing matches.
        return {"not": {}, "description": "a Python callable (cannot be saved)"}


def tagged_union(members: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One of several object schemas chosen by their ``type`` tag. Written as
    if/then rather than oneOf so a validator reports the failure inside the member the
    document names, not a guess among all of them."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(members)}},
        "allOf": [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                   "then": schema} for name, schema in members.items()],
    }


_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
           "le": "maximum"}


def _standard_bounds(node: Any) -> Any:
    """Pydantic leaves constraints behind a before-validator as ``gt``/``ge``/...;
    rename them to the JSON Schema keywords so validators enforce them."""
    if isinstance(node, dict):
        return {_BOUNDS.get(k, k) if k in _BOUNDS and "type" in node else k:
                _standard_bounds(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_bounds(v) for v in node]
    return node


def _network_schema(object_names: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"const": "Network"},
            "id": {"type": "string"},
            "label": {"type": ["string", "null"]},
            "seed": {"type": ["integer", "null"], "minimum": 0},
            "site": {"$ref": "#/$defs/SourceLoc"},
            "config": {
                "type": "object",
                "properties": {
                    "defaults": {"type": "object",
                                 "additionalProperties": {"type": "object"}},
                    "params": {"type": "object", "additionalProperties": {"type": "object"}},
                },
                "additionalProperties": False,
            },
            "objects": {
                "type": "array",
                "items": tagged_union({n: {"$ref": f"#/$defs/{n}"}
                                       for n in [*object_names, "Network"]}),
            },
        },
        "required": ["type", "id", "objects"],
        "additionalProperties": False,
    }


def document_schema(object_classes: list[type], spec_classes: list[type]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a snngraph description document."""
    models = [(c, "validation") for c in [*object_classes, *spec_classes, SourceLoc]]
    _, top = models_json_schema(models, schema_generator=_DocumentSchema,
                                ref_template="#/$defs/{model}")
    defs = _standard_bounds(top["$defs"])
    for cls in object_classes:
        entry = defs[cls.__name__]
        entry["properties"] = {"type": {"const": cls.__name__}, "id": {"type": "string"},
                               "site": {"$ref": "#/$defs/SourceLoc"}, **entry["properties"]}
        entry["required"] = ["type", "id", *entry.get("required", [])]
        entry["additionalProperties"] = False
    defs["Network"] = _network_schema([c.__name__ for c in object_classes])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://snngraph.dev/schemas/description.schema.json",
        "title": "snngraph description document",
        "description": "A network of ensembles, nodes, connections and probes; arrays are "
                       "inline or keys into the .npz file named by 'arrays'.",
        "type": "object",
        "properties": {
            "format": {"const": "snngraph"},
            "version": {"const": FORMAT_VERSION},
            "arrays": {"type": "string"},
            "network": {"$ref": "#/$defs/Network"},
        },
        "required": ["format", "version", "network"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }
