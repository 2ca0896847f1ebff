"""The ``snngraph`` command line.

``snngraph schema [--out DIR] [--check]``  regenerate (or check) schemas/*.schema.json
``snngraph validate FILE``                  check a description document, print each problem
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _schema(args: argparse.Namespace) -> int:
    from snngraph.schemas import export

    if args.check:
        stale = [name for name, schema in export.schemas().items()
                 if not (export.SCHEMA_DIR / name).exists()
                 or (export.SCHEMA_DIR / name).read_text() != export.render(schema)]
        for name in stale:
            print(f"{name} is out of date: run `snngraph schema`", file=sys.stderr)
        return 1 if stale else 0
    for path in export.write_schemas(args.out):
        print(f"wrote {path}")
    return 0


def _schema_problems(doc: object) -> list[str]:
    """JSON Schema violations, when the optional jsonschema package is installed."""
    try:
        import jsonschema
    except ImportError:
        return []
    from snngraph.schemas.export import load_schema

    validator = jsonschema.Draft202012Validator(load_schema())
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        while err.context:  # descend into oneOf/anyOf to the most specific failure
            err = jsonschema.exceptions.best_match(err.context)
        where = "/".join(map(str, err.absolute_path)) or "(top)"
        message = err.message if len(err.message) < 200 else err.message[:197] + "..."
        problems.append(f"at {where}: {message}")
    return problems


def _validate(args: argparse.Namespace) -> int:
    import snngraph as sg
    from snngraph.document import read_document, validate_document
    from snngraph.errors import SerializationError

    path = Path(args.file)
    try:
        doc, arrays = read_document(path)
    except SerializationError as exc:
        print(f"{path}: invalid\n  {exc}", file=sys.stderr)
        return 1
    problems = [f"schema: {p}" for p in _schema_problems(doc)]
    problems += validate_document(doc, arrays, source=str(path))
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print("  - " + p.replace("\n", "\n    "), file=sys.stderr)
        return 1
    print(f"{path}: valid")
    print(sg.summary(sg.Network.from_dict(doc, arrays)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snngraph", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("schema", help="regenerate schemas/*.schema.json from the models")
    p.add_argument("--out", help="folder to write into (default: the installed schemas)")
    p.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    p.set_defaults(run=_schema)
    p = sub.add_parser("validate", help="check a description document (.json/.yaml)")
    p.add_argument("file")
    p.set_defaults(run=_validate)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
