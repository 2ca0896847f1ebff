"""Reading the files snngraph writes, with errors that say what a file is and what to run.

Every reader (``sg.load``, ``Program.load``, ``sim.load_params``, the command line) opens
files through here, so a wrong file gets one message whichever door it came through:
the file, what it looks like, what was expected, and the command or call that reads it.
Arrays are read with ``allow_pickle=False`` and a file that would need pickling is
reported as not an snngraph file (never with advice to unpickle it).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from snngraph.errors import SerializationError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"

# What each kind of file is, and how to use it, for 'this is X; run Y' messages.
_KINDS = {
    "description": ("a description document (a network)",
                    "load it with sg.load({p!r}) or check it with `snngraph validate {p}`"),
    "program": ("a compiled program",
                "load it with snngraph.compiler.program.Program.load({p!r}) or show it with "
                "`snngraph inspect {p}`"),
    "params": ("a parameters file (written by sim.save_params)",
               "load it into a Simulator with sim.load_params({p!r})"),
    "arrays": ("an .npz of arrays (the sidecar of a document or program)",
               "load the .json beside it instead (sg.load or Program.load)"),
    "python": ("a Python model file",
               "compile it with `snngraph compile {p}` (it must define `net` or `build()`)"),
    "nir": ("a NIR graph (HDF5)",
            "read it as a network with sg.nir.load({p!r}) or convert it with `snngraph nir "
            "import {p} -o model.json` (extra nir: pip install 'snngraph[nir]'; "
            "docs/nir.md)"),
}


def describe(kind: str, path: Path | str) -> tuple[str, str]:
    """``(what the file is, how to use it)`` for a kind from ``sniff``."""
    what, use = _KINDS[kind]
    return what, use.format(p=str(path))


def wrong_kind(path: Path | str, kind: str, expected: str) -> SerializationError:
    """'FILE: this is X, not EXPECTED; fix: RUN Y'."""
    what, use = describe(kind, path)
    return SerializationError(f"{path}: this is {what}, not {expected}\n  fix: {use}")


def check_file(path: str | os.PathLike, expected: str) -> Path:
    """``path`` as a Path, or an error when it is missing or a directory."""
    path = Path(path)
    if path.is_dir():
        raise SerializationError(f"{path}: is a directory, expected {expected}\n  fix: pass "
                                 "the file itself (e.g. net.json), not the folder holding it")
    if not path.exists():
        near = sorted(p.name for p in path.parent.glob(f"*{path.suffix}"))[:5] \
            if path.parent.is_dir() and path.suffix else []
        hint = f" ({path.parent} has: {', '.join(near)})" if near else ""
        raise SerializationError(f"{path}: no such file, expected {expected}{hint}\n  fix: "
                                 "check the path (relative paths start from the current "
                                 f"folder, {Path.cwd()})")
    return path


def check_writable(path: str | os.PathLike, writer: str) -> Path:
    """``path`` as a Path, or an error when its folder is missing or it is a folder."""
    path = Path(path)
    if path.is_dir():
        raise SerializationError(f"{writer}: {path} is a directory, expected a file name "
                                 f"such as {path / 'net.json'}\n  fix: add the file name")
    if not path.parent.is_dir():
        raise SerializationError(f"{writer}: folder {path.parent} does not exist (writing "
                                 f"{path.name})\n  fix: create it first "
                                 f"(Path({str(path.parent)!r}).mkdir(parents=True))")
    return path


def sniff(path: Path) -> str | None:
    """The kind of a file by its first bytes or its name (None when unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_HDF5_MAGIC) or path.suffix.lower() == ".nir":
        return "nir"
    if head.startswith(_ZIP_MAGIC) or path.suffix.lower() == ".npz":
        return "params" if _is_params(path) else "arrays"
    if path.suffix.lower() == ".py":
        return "python"
    return None


def _is_params(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "meta.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def doc_kind(doc: Any) -> str | None:
    """``"description"`` or ``"program"`` for a parsed JSON/YAML document's format field."""
    fmt = doc.get("format") if isinstance(doc, dict) else None
    return {"snngraph": "description", "snngraph-program": "program"}.get(fmt)


def read_text(path: str | os.PathLike, expected: str) -> tuple[Path, str]:
    """The UTF-8 text of a JSON/YAML file; binary formats snngraph knows (NIR, .npz) and
    non-UTF-8 bytes are reported with what the file is and what reads it."""
    path = check_file(path, expected)
    kind = sniff(path)
    if kind is not None:
        raise wrong_kind(path, kind, expected)
    data = path.read_bytes()
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerializationError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}), "
            f"expected {expected} in UTF-8 text\n  fix: check that this is "
            "the file you meant; re-save a hand-edited document as UTF-8 (sg.save writes "
            "UTF-8)") from None


def parse(path: Path, text: str, expected: str) -> Any:
    """JSON, or YAML for .yaml/.yml (pyyaml); a syntax error names the file and line."""
    if path.suffix.lower() in (".yaml", ".yml"):
        yaml = yaml_module()
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SerializationError(f"{path}: not valid YAML, expected {expected} "
                                     f"({' '.join(str(exc).split())})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SerializationError(f"{path}: not valid JSON, expected {expected} ({exc})\n"
                                 "  fix: a document written by hand must be JSON (or YAML "
                                 "with a .yaml suffix)") from None


def yaml_module() -> Any:
    try:
        import yaml
    except ImportError:
        raise SerializationError("YAML documents need pyyaml, which is not installed\n  fix: "
                                 "pip install 'snngraph[yaml]' (or save as .json)") from None
    return yaml


def load_npz(path: str | os.PathLike, expected: str, owner: str = "") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (``allow_pickle=False``); a truncated, foreign or
    pickled file is named with what was expected and how to get a good one."""
    path = check_file(path, expected)
    if sniff(path) == "nir":
        raise wrong_kind(path, "nir", expected)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):  # a bare .npy: one array, not a set of them
                raise ValueError("a single .npy array")
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        with open(path, "rb") as fh:
            pickled = fh.read(1) == b"\x80" or "Object arrays" in str(exc)
        why = ("it holds pickled Python objects, which snngraph never loads" if pickled
               else "truncated, or another format")
        by = f", written by {owner}" if owner else ""
        raise SerializationError(f"{path}: not a complete .npz file ({why}), expected "
                                 f"{expected}{by}\n  fix: write it again with snngraph "
                                 "(a copy interrupted midway is truncated)") from None
