"""NIR graph <-> snngraph objects (extra ``nir``); docs/nir.md is the user's guide.

``sg.nir.export(net_or_program, path, dt=None, discretisation=None)`` writes what a
compiled Program runs as a NIR file (checked by ``nir.read`` with type checking) and
returns a ``Report`` of every mapping made; ``sg.nir.load(path, dt=None,
discretisation=None)`` returns a Network (``net.nir_report`` lists each mapping).
Importing snngraph does not import ``nir`` or h5py; these functions do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from snngraph.errors import SerializationError, ValidationError
from snngraph.neurons.nir_cells import DISCRETISATIONS

__all__ = ["Report", "export", "load"]


class Report:
    """What an export or import did: one line per mapping, NIR node <-> snngraph object."""

    def __init__(self, lines: list[str], metadata: dict[str, Any] | None = None):
        self.lines = list(lines)
        self.metadata = dict(metadata or {})

    def __str__(self) -> str:
        head = ", ".join(f"{k.split('.', 1)[-1]}={v}" for k, v in self.metadata.items())
        return "\n".join(([head] if head else []) + self.lines)

    def __repr__(self) -> str:
        return f"<Report: {len(self.lines)} mappings>"


def _require_nir() -> Any:
    try:
        import nir
    except ImportError:
        raise SerializationError("NIR import and export need the nir package: pip install "
                                 "'snngraph[nir]'") from None
    return nir


def _check_how(discretisation: Any, call: str) -> None:
    if discretisation is not None and discretisation not in DISCRETISATIONS:
        raise ValidationError(f"{call}: discretisation must be 'euler', 'exact' or None "
                              f"(got {discretisation!r})", obj=call, field="discretisation",
                              value=discretisation)


def _check_dt(dt: Any, call: str) -> None:
    if dt is not None and (not isinstance(dt, int | float) or not dt > 0):
        raise ValidationError(f"{call}: dt must be a positive time step in seconds (got "
                              f"{dt!r})", obj=call, field="dt", value=dt)


def export(net_or_program: Any, path: str | os.PathLike, dt: float | None = None,
           discretisation: str | None = None) -> Report:
    """Write ``net_or_program`` (a Network is compiled for the cpu first) as a NIR file.

    ``dt``: the time step the file's time constants are computed for (default: the
    Program's; a Network is compiled at it). ``discretisation``: ``'euler'`` (as snnTorch
    and Norse step), ``'exact'`` (exponential), or None (each neuron type's own, Euler
    for snnTorch's and Norse's). What NIR cannot express raises a SerializationError
    naming the object and why; the file is written only when everything maps.
    """
    nir = _require_nir()
    import snngraph as sg
    from snngraph.compiler.program import Program
    from snngraph.nir.exporter import Exporter, needed_ops

    _check_how(discretisation, "sg.nir.export")
    _check_dt(dt, "sg.nir.export")
    if isinstance(net_or_program, Program):
        program = net_or_program
        if dt is not None and abs(dt - program.ir.dt) > 1e-12:
            raise ValidationError(f"sg.nir.export: the Program was compiled with dt="
                                  f"{program.ir.dt:g} s, not dt={dt:g} s; compile it again "
                                  "at that step or leave dt out", obj="sg.nir.export",
                                  field="dt", value=dt)
    elif isinstance(net_or_program, sg.Network):
        program = sg.compile(net_or_program, target="cpu", dt=dt or 0.001)
    else:
        raise ValidationError(f"sg.nir.export: expected a Network or a compiled Program, got "
                              f"{type(net_or_program).__name__}", obj="sg.nir.export",
                              field="net_or_program", value=net_or_program)
    step = program.ir.dt
    exporter = Exporter(program, step, discretisation)
    needed = needed_ops(program.ir)
    if not any(program.ir.op(n).op == "probe" for n in needed):
        raise SerializationError("sg.nir.export: the network has no Probe of an output, so "
                                 "the NIR graph would have no Output\n  fix: add sg.Probe(x) "
                                 "on what the graph computes")
    exporter.export(needed)
    metadata = _graph_metadata(exporter, step)
    edges = exporter.resolved_edges()
    exporter.check_cycles(edges)
    graph = nir.NIRGraph(nodes=exporter.nodes, edges=edges, metadata=metadata,
                         type_check=False)
    _write_checked(nir, graph, Path(path))
    return Report(exporter.lines, metadata)


def _graph_metadata(exporter: Any, dt: float) -> dict[str, Any]:
    import snngraph as sg

    how = exporter.discretisations
    resets = exporter.resets
    return {"snngraph.dt": float(dt),
            "snngraph.discretisation": how.pop() if len(how) == 1 else
            ("mixed" if how else "exact"),
            "snngraph.reset": resets.pop() if len(resets) == 1 else
            ("mixed" if resets else "none"),
            "snngraph.version": sg.__version__}


def _write_checked(nir: Any, graph: Any, path: Path) -> None:
    """Write to a temporary file, read it back with NIR's own type checks, then move it
    into place (a failed export leaves no file behind, nor a half-written one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".nir", dir=path.parent)
    os.close(fd)
    try:
        nir.write(tmp, graph)
        try:
            nir.read(tmp)
        except Exception as exc:  # nir's own checks: a bug here, say what nir said
            raise SerializationError(f"sg.nir.export: the graph written for {path} fails "
                                     f"nir.read's type check ({type(exc).__name__}: {exc})"
                                     ) from None
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path_or_graph: Any, dt: float | None = None, discretisation: str | None = None,
         restore: bool = True, reset: str | None = None, convention: str = "nir") -> Any:
    """Read a NIR file (or a ``nir.NIRGraph``) as a Network.

    ``dt``: the producer's time step (delays are counted in it and snngraph's own types
    are checked at it); default from the file's metadata, else the convention's, else an
    error asks for it. ``discretisation``: how NIR's neuron nodes are stepped,
    ``'euler'`` (snnTorch's and Norse's convention) or ``'exact'``; default from the
    file's metadata, else Euler. ``convention``: whose reading of the file
    (snngraph/nir/conventions.py, docs/nir.md): ``'nir'`` (NIR as written, the default),
    ``'snntorch'`` or ``'norse'`` (the producer's step, reset, initial state and, for
    Norse, ``w_in``; neither library writes these to the file). ``reset``: the
    convention's reset, ``'zero'`` or ``'subtract'`` (snnTorch's reset by subtraction
    one step later; the default of ``'snntorch'``, which writes it as ``v_reset = 0``
    all the same); default the convention's. ``restore``: nodes snngraph wrote for one
    of its own types (named in their metadata) come back as that type when their NIR
    fields are exactly what it writes; False reads every node as NIR states it.
    ``net.nir_report`` lists each mapping made.
    """
    from snngraph.nir.conventions import convention as pick

    _check_how(discretisation, "sg.nir.load")
    conv, reset = pick(convention, reset, discretisation)
    _check_dt(dt, "sg.nir.load")
    import snngraph as sg
    from snngraph.nir.build import Builder, restore_groups
    from snngraph.nir.graph import break_cycles, flatten, read_raw

    raw, source = read_raw(path_or_graph)
    graph = flatten(raw, source)
    meta = graph.metadata
    dt_from = None
    if dt is None:
        dt = _meta_float(meta, "snngraph.dt", source)
        dt_from = "from the file's metadata" if dt is not None else None
    if dt is None and conv.dt is not None:
        dt, dt_from = conv.dt, f"{conv.name}'s step, not in the file"
    if dt is None:
        raise SerializationError(f"{source}: the file does not say its time step (no "
                                 "snngraph.dt in its metadata)\n  fix: pass the producer's "
                                 "step, e.g. sg.nir.load(path, dt=1e-4) for snnTorch's "
                                 "exports or dt=1e-3 for Norse's, or its convention: "
                                 "sg.nir.load(path, convention='snntorch')")
    how = discretisation or _meta_how(meta) or "euler"
    stepped = "forward Euler" if how == "euler" else "the exact solution"
    lines: list[str] = [f"dt = {dt:g} s{f' ({dt_from})' if dt_from else ''}; neuron nodes "
                        f"stepped by {stepped}; {conv.describe(reset)}"]
    if restore:
        restore_groups(graph, dt, lines)
    break_cycles(graph)
    lines += graph.lines
    label = Path(source).stem if not source.startswith("<") else "nir"
    with sg.Network(label=label, seed=0) as net:
        builder = Builder(graph, dt, how, forced=discretisation is not None, reset=reset,
                          convention=conv)
        builder.build()
    net._nir_report = lines + builder.lines
    net._nir_dt = float(dt)
    return net


def _meta_float(meta: dict[str, Any], key: str, source: str) -> float | None:
    if key not in meta:
        return None
    try:
        value = float(meta[key])
    except (TypeError, ValueError):
        raise SerializationError(f"{source}: metadata {key} must be a number of seconds, got "
                                 f"{meta[key]!r}") from None
    if not value > 0:
        raise SerializationError(f"{source}: metadata {key} must be positive, got {value}")
    return value


def _meta_how(meta: dict[str, Any]) -> str | None:
    how = meta.get("snngraph.discretisation")
    return how if how in DISCRETISATIONS else None
