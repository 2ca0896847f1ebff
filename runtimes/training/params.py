"""Parameter files: trained arrays by parameter key, in one ``.npz`` written atomically.

Layout: ``param/<key>`` per array, ``extra/<name>`` for anything else a checkpoint
keeps (optimizer state), and ``meta``: JSON (format, network label, each key's shape
and owner, whatever the writer adds). Reading checks the whole file before anyone
uses it, so a truncated or foreign file changes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from snngraph import files
from snngraph.document import _atomic_write
from snngraph.errors import SerializationError

FORMAT = "snngraph-params/1"


def write(path: str | os.PathLike, params: dict[str, np.ndarray], meta: dict[str, Any],
          extra: dict[str, np.ndarray] | None = None) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise SerializationError(f"save_params: folder {str(path.parent)!r} does not exist")
    entries = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    entries.update({f"extra/{k}": np.asarray(v) for k, v in (extra or {}).items()})
    meta = {"format": FORMAT, **meta,
            "shapes": {k: list(np.shape(v)) for k, v in params.items()}}
    entries["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _atomic_write(path, lambda fh: np.savez(fh, **entries))
    return path


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any],
                                            dict[str, np.ndarray]]:
    """``(params, meta, extra)``; a SerializationError says what is wrong with the file."""
    expected = "a parameters file (.npz written by sim.save_params)"
    try:
        path = files.check_file(path, expected)
    except SerializationError as exc:
        why = "does not exist" if not Path(path).is_dir() else "is a directory"
        raise SerializationError(f"load_params: {str(path)!r} {why}; {exc}") from None
    kind = files.sniff(path)
    if kind not in ("params", "arrays"):
        try:
            text_kind = files.doc_kind(json.loads(path.read_bytes()))
        except ValueError:
            text_kind = None
        if kind or text_kind:
            raise files.wrong_kind(path, kind or text_kind, expected)
    try:
        entries = files.load_npz(path, expected, "sim.save_params")
    except SerializationError as exc:
        raise SerializationError(f"load_params: {str(path)!r} is not a complete parameters "
                                 f"file; {exc}") from None
    try:
        meta = json.loads(entries.pop("meta").tobytes().decode())
        assert meta.get("format") == FORMAT
    except Exception:
        raise SerializationError(f"load_params: {str(path)!r} is not a snngraph parameters "
                                 f"file (no '{FORMAT}' header: an .npz of "
                                 f"{', '.join(sorted(entries)[:4]) or 'nothing'})\n  fix: pass "
                                 "a file written by sim.save_params (a document's .npz holds "
                                 "the network's own arrays; load those with sg.load)"
                                 ) from None
    params = {k[6:]: v for k, v in entries.items() if k.startswith("param/")}
    extra = {k[6:]: v for k, v in entries.items() if k.startswith("extra/")}
    missing = [k for k in meta.get("shapes", {}) if k not in params]
    if missing:
        raise SerializationError(f"load_params: {str(path)!r} is incomplete: no array for "
                                 f"{', '.join(missing[:5])}")
    return params, meta, extra
