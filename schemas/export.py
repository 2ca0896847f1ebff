"""``snngraph schema``: write schemas/*.schema.json from the models.

The one module of ``snngraph.schemas`` that imports upward: it needs the object model's
classes to describe them. The files are committed; a test regenerates them and fails
when they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent


def schemas() -> dict[str, dict[str, Any]]:
    """Every schema file's name and content."""
    from snngraph.schemas.description import document_schema
    from snngraph.schemas.ir import ProgramDoc

    import snngraph  # noqa: F401  (registers every spec class)
    from snngraph.base import SPECS
    from snngraph.connection import Connection
    from snngraph.ensemble import Ensemble
    from snngraph.node import Node
    from snngraph.probe import Probe

    specs = [SPECS[name] for name in sorted(SPECS)]
    program = ProgramDoc.model_json_schema()
    program["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    program["title"] = "snngraph program (compiled IR)"
    return {"description.schema.json": document_schema([Ensemble, Node, Connection, Probe],
                                                       specs),
            "ir.schema.json": program}


def render(schema: dict[str, Any]) -> str:
    """The exact text written to disk (stable, so drift shows up as a diff)."""
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_schemas(out_dir: str | Path | None = None) -> list[Path]:
    """Write every schema into ``out_dir`` (default: this package's folder)."""
    out = Path(out_dir) if out_dir else SCHEMA_DIR
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = out / name
        path.write_text(render(schema))
        written.append(path)
    return written


def load_schema(name: str = "description.schema.json") -> dict[str, Any]:
    """A committed schema file."""
    return json.loads((SCHEMA_DIR / name).read_text())
