"""Shared field types and the creation-site record used by every model."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

FORMAT_VERSION = 1

# A stored array: inline ({"dtype", "shape", "data"}) or a key into the .npz sidecar.
ARRAY_JSON_SCHEMA: dict[str, Any] = {
    "title": "Array",
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "dtype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "data": {"type": "array"},
            },
            "required": ["dtype", "shape", "data"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "$array": {"type": "string"},
                "dtype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            },
            "required": ["$array"],
            "additionalProperties": False,
        },
    ],
}

# A reference to another object of the document, optionally a view of it
# (``ens.neurons``, ``ens[:10]``, ``conn.learning_rule`` or ``conn.learning_rule[key]``).
OBJREF_JSON_SCHEMA: dict[str, Any] = {
    "title": "ObjectRef",
    "type": "object",
    "properties": {
        "$ref": {"type": "string"},
        "attr": {"enum": ["neurons", "learning_rule"]},
        "key": {"type": ["integer", "string"]},
        "slice": {
            "oneOf": [
                {
                    "type": "array",
                    "items": {"type": ["integer", "null"]},
                    "minItems": 3,
                    "maxItems": 3,
                },
                {"type": "object", "properties": {"indices": {"type": "array"}}},
            ]
        },
    },
    "required": ["$ref"],
    "additionalProperties": False,
}


class SourceLoc(BaseModel):
    """Where a user object was created: file, line and the source text of that line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    code: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def _as_array(value: Any) -> Any:
    """Accept array-likes (lists, tuples, numpy arrays) as numpy arrays.

    Booleans, strings and objects are left alone so the field's own check rejects them
    with the user's value in the message.
    """
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, list | tuple):
        try:
            arr = np.asarray(value)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"expected a rectangular array; {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError("expected an array of numbers")
        return arr
    return value


def _check_numeric_array(value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ValueError("expected an array of numbers")
    if value.dtype.kind not in "biuf":
        raise ValueError(f"expected an array of numbers, not dtype {value.dtype}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError("expected finite numbers (array contains NaN or inf)")
    return value


Array = Annotated[
    Any,
    BeforeValidator(lambda v: _check_numeric_array(_as_array(v))),
    WithJsonSchema(ARRAY_JSON_SCHEMA),
]
"""A numeric, finite numpy array; lists and tuples are converted."""

ObjRef = Annotated[Any, WithJsonSchema(OBJREF_JSON_SCHEMA)]
"""A reference to another network object (validated by the owning model)."""


def ref_to(kinds: tuple[type, ...], expected: str) -> Any:
    """An ``ObjRef`` that must be an instance of one of ``kinds``; ``expected`` names
    them in the error (``"expected an Ensemble or a Node (got a str)"``)."""
    def check(value: Any) -> Any:
        if not isinstance(value, kinds):
            raise ValueError(f"expected {expected} (got a {type(value).__name__})")
        return value
    return Annotated[ObjRef, AfterValidator(check)]


def _plain_number(value: Any) -> Any:
    """Numpy scalars become Python numbers; bools are not numbers here."""
    if isinstance(value, bool | np.bool_):
        raise ValueError("expected a number, not a bool")
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        return value.item()
    return value


Float = Annotated[float, BeforeValidator(_plain_number), Field(strict=True, allow_inf_nan=False)]
"""A finite real number (ints accepted, strings and bools rejected)."""
Int = Annotated[int, BeforeValidator(_plain_number), Field(strict=True)]
"""An integer (numpy integers accepted; floats, strings and bools rejected)."""
PosFloat = Annotated[Float, Field(gt=0)]
NonNegFloat = Annotated[Float, Field(ge=0)]
PosInt = Annotated[Int, Field(gt=0)]
NonNegInt = Annotated[Int, Field(ge=0)]
Bool = Annotated[bool, Field(strict=True)]
"""True or False only (no 'yes', 1 or 'no')."""
Seed = Annotated[Int, Field(ge=0, lt=2**32)]
Seconds = PosFloat
Shape = tuple[PosInt, ...]
