"""The ``snngraph`` command line.

``snngraph schema [--out DIR] [--check]``  regenerate (or check) schemas/*.schema.json
``snngraph validate FILE``                  check a description document, print each problem
``snngraph compile MODEL [--target T] [--print-after PASS|all] [--dump FMT] [-o FILE]``
``snngraph inspect PROGRAM.json``           the text dump and a summary of a saved program
``snngraph nir import FILE.nir -o MODEL.json [--dt S] [--discretisation D] [--reset R]
[--convention C]``
``snngraph nir export MODEL -o FILE.nir [--dt S] [--discretisation euler|exact]``
``snngraph view MODEL_OR_PROGRAM [--params FILE] [--data FILE] -o view.html``  an HTML page
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _schema(args: argparse.Namespace) -> int:
    from snngraph.schemas import export

    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"snngraph schema: --out {args.out}: is a file, expected a folder to write "
              "the *.schema.json files into\n  fix: pass a folder (it is created when "
              "missing)", file=sys.stderr)
        return 1

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


def _schema_problems(doc: object) -> list[str] | None:
    """JSON Schema violations; None when the optional jsonschema package is missing."""
    try:
        import jsonschema
    except ImportError:
        return None
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
        print(f"{path}: invalid\n  {exc}".replace("\n  fix:", "\n    fix:"), file=sys.stderr)
        return 1
    schema = _schema_problems(doc)
    if schema is None:  # say so: a silent skip reads as "the schema check passed"
        print(f"{path}: schema check skipped (the jsonschema package is not installed; "
              "pip install 'snngraph[all]' or pip install jsonschema); checking the "
              "objects only", file=sys.stderr)
    problems = [f"schema: {p}" for p in schema or []]
    problems += validate_document(doc, arrays, source=str(path))
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print("  - " + p.replace("\n", "\n    "), file=sys.stderr)
        return 1
    print(f"{path}: valid")
    print(sg.summary(sg.Network.from_dict(doc, arrays)))
    return 0


def load_model(path: Path) -> object:
    """A network from a description document, or from a Python file defining ``net`` or
    ``build()`` (the file is run, as ``python FILE`` would)."""
    import runpy

    import snngraph as sg
    from snngraph import files

    expected = "a model: a .py file defining `net` or `build()`, or a description document"
    if path.suffix.lower() != ".py":
        return sg.load(path)  # documents; names any other file and what reads it
    files.check_file(path, expected)
    scope = runpy.run_path(str(path), run_name="snngraph_model")
    if isinstance(scope.get("net"), sg.Network):
        return scope["net"]
    built = None
    if callable(scope.get("build")):
        built = scope["build"]()
        if isinstance(built, sg.Network):
            return built
    raise sg.SerializationError(
        f"{path}: defines neither a Network named `net` nor a `build()` function returning "
        f"one ({_found(scope, built)})\n  fix: end the file with `net = ...` (the network), "
        "or define `def build(): ... return net`")


def _found(scope: dict, built: object) -> str:
    """What a model file defined instead of a network (for the error message)."""
    if callable(scope.get("build")):
        return f"build() returned {type(built).__name__}"
    if "net" in scope:
        return f"`net` is a {type(scope['net']).__name__}"
    names = [n for n in scope if not n.startswith("_") and n not in ("np", "sg")]
    return "it defines " + (", ".join(names[:8]) if names else "nothing")


def _compile(args: argparse.Namespace) -> int:
    import snngraph as sg
    from snngraph.errors import SnnError

    try:
        net = load_model(Path(args.model))
        after = None if args.print_after is None else (
            "all" if args.print_after == "all" else args.print_after.split(","))
        program = sg.compile(net, target=args.target, print_after=after)
        if args.output and args.dump == "json" and args.output.endswith(".json"):
            program.save(args.output)  # the JSON plus its .npz, loadable by `inspect`
            print(f"wrote {args.output} (+ {Path(args.output).with_suffix('.npz').name})")
        elif args.output:
            Path(args.output).write_text(program.dump(args.dump) + "\n")
            print(f"wrote {args.output}")
        elif args.print_after is None or args.dump != "text":
            print(program.dump(args.dump))
    except (SnnError, OSError) as exc:
        print(f"snngraph compile: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(program.summary(), file=sys.stderr)
    if program.target == "loihi":
        print(program.resources(), file=sys.stderr)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from snngraph.compiler.program import Program
    from snngraph.errors import SnnError

    try:
        program = Program.load(args.program)
    except (SnnError, OSError) as exc:
        print(f"snngraph inspect: {exc}", file=sys.stderr)
        return 1
    print(program.dump("text"))
    print(program.summary())
    if program.target == "loihi":
        print(program.resources())
    return 0


def _is_program(path: Path) -> bool:
    """A saved program (``Program.save``), told apart from a description document."""
    import json

    from snngraph import files

    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        return files.doc_kind(json.loads(path.read_text())) == "program"
    except (ValueError, OSError):
        return False  # load_model names what is wrong with it


def _nir_export(args: argparse.Namespace) -> int:
    import snngraph as sg
    from snngraph.compiler.program import Program
    from snngraph.errors import SnnError

    try:
        path = Path(args.model)
        model = Program.load(path) if _is_program(path) else load_model(path)
        report = sg.nir.export(model, args.output, dt=args.dt,
                               discretisation=args.discretisation)
    except (SnnError, OSError) as exc:
        print(f"snngraph nir export: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    print(report)
    return 0


def _nir_import(args: argparse.Namespace) -> int:
    import snngraph as sg
    from snngraph.errors import SnnError

    try:
        net = sg.nir.load(args.file, dt=args.dt, discretisation=args.discretisation,
                          reset=args.reset, convention=args.convention)
        sg.save(net, args.output)
    except (SnnError, OSError) as exc:
        print(f"snngraph nir import: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} (+ {Path(args.output).with_suffix('.npz').name}); run it at "
          f"dt={net.nir_dt:g} s")
    print("\n".join(net.nir_report))
    print(sg.summary(net))
    return 0


def _add_nir(sub: argparse._SubParsersAction) -> None:
    nir = sub.add_parser("nir", help="NIR graphs: import into or export from snngraph")
    cmds = nir.add_subparsers(dest="nir_command", required=True)
    how = {"choices": ["euler", "exact"], "default": None,
           "help": "how NIR's neuron ODEs are stepped (default: the file's metadata, else "
                   "euler / each type's own)"}
    p = cmds.add_parser("import", help="read a .nir file, write a description document")
    p.add_argument("file", help="the .nir file")
    p.add_argument("-o", "--output", required=True, help="the document to write (.json/.yaml)")
    p.add_argument("--dt", type=float, default=None,
                   help="the producer's time step in seconds (default: the file's metadata)")
    p.add_argument("--discretisation", **how)
    p.add_argument("--convention", choices=["nir", "snntorch", "norse"], default="nir",
                   help="whose reading of the file: NIR as written (default), or the "
                        "producer's step, reset, initial state and input (snnTorch's and "
                        "Norse's files do not say them; docs/nir.md)")
    p.add_argument("--reset", choices=["zero", "subtract"], default=None,
                   help="how spiking nodes reset: the convention's default (nir: v_reset; "
                        "snntorch: subtraction one step later), or zero / subtract")
    p.set_defaults(run=_nir_import)
    p = cmds.add_parser("export", help="compile a model and write it as a .nir file")
    p.add_argument("model", help="a .py file defining `net` or `build()`, a document, or a "
                   "saved program (.json)")
    p.add_argument("-o", "--output", required=True, help="the .nir file to write")
    p.add_argument("--dt", type=float, default=None, help="the time step in seconds (default: "
                   "the program's, 0.001 for a model)")
    p.add_argument("--discretisation", **how)
    p.set_defaults(run=_nir_export)


def _view(args: argparse.Namespace) -> int:
    from snngraph.compiler.program import Program
    from snngraph.errors import SnnError
    from snngraph.view import view

    try:
        path = Path(args.model)
        is_program = _is_program(path)
        source = Program.load(path) if is_program else load_model(path)
        options = {k: v for k, v in (("scale_firing_rates", args.scale_firing_rates),
                                     ("synapse", args.synapse)) if v is not None}
        if is_program and (options or args.target != "cpu"):
            print(f"snngraph view: {path} is a compiled program; --target, "
                  "--scale-firing-rates and --synapse apply to a model", file=sys.stderr)
            return 1
        written = view(source, args.output, target=args.target, params=args.params,
                       data=args.data, steps=args.steps, examples=args.examples, **options)
    except (SnnError, OSError) as exc:
        print(f"snngraph view: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
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
    p = sub.add_parser("compile", help="compile a model and print (or write) its IR")
    p.add_argument("model", help="a .py file defining `net` or `build()`, or a document")
    p.add_argument("--target", default="cpu", choices=["cpu", "rate", "loihi"])
    p.add_argument("--print-after", metavar="PASS|all", help="print the IR after these "
                   "passes (comma-separated, or 'all', 'lower' included)")
    p.add_argument("--dump", default="text", choices=["text", "json", "dot"])
    p.add_argument("-o", "--output", help="write the dump here (json: a loadable program)")
    p.set_defaults(run=_compile)
    p = sub.add_parser("inspect", help="print a saved program's IR and a summary")
    p.add_argument("program")
    p.set_defaults(run=_inspect)
    _add_nir(sub)
    p = sub.add_parser("view", help="write one self-contained HTML page of a compiled "
                       "network (passes, ops, Loihi cores, quantisation, activity)")
    p.add_argument("model", help="a .py file defining `net` or `build()`, a description "
                   "document, or a saved program (.json)")
    p.add_argument("--target", default="cpu", choices=["cpu", "rate", "loihi"])
    p.add_argument("--params", help="parameters saved by sim.save_params (.npz)")
    p.add_argument("--data", help="inputs to measure rates on: an .npz with 'x' "
                   "([examples, size] or [examples, steps, size])")
    p.add_argument("--steps", type=int, help="steps per example (default: the data's "
                   "n_steps, its own steps, or 30)")
    p.add_argument("--examples", type=int, help="examples of the data to run (default 50)")
    p.add_argument("--scale-firing-rates", type=float, help="compile option")
    p.add_argument("--synapse", type=float, help="compile option: default synapse (s)")
    p.add_argument("-o", "--output", default="view.html", help="the page (default "
                   "view.html)")
    p.set_defaults(run=_view)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
