"""The page: the template (``template.html``, ``view.css``, ``view.js``, kept as files
so they read as HTML, CSS and JavaScript) with the page data inlined as JSON.

The result is one file with nothing to fetch: no network, no CDN. The data sit in a
``<script type="application/json">`` element, so they are parsed, never executed.
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np


def render(data: dict) -> str:
    """The HTML text for ``data`` (from ``snngraph.view.data.page_data``)."""
    text = _asset("template.html")
    parts = {
        "{{title}}": html.escape(data["title"]),
        "{{css}}": _asset("view.css"),
        "{{js}}": _asset("view.js"),
        # '</' could close the script element early; JSON allows '<\/' for it
        "{{data}}": json.dumps(_clean(data), allow_nan=False).replace("</", "<\\/"),
    }
    for key, value in parts.items():
        text = text.replace(key, value)
    return text


def write(path: str | Path, data: dict) -> Path:
    """Render, then write atomically (a reader never sees half a page)."""
    from snngraph.document import _atomic_write

    text = render(data)
    path = Path(path)
    _atomic_write(path, lambda fh: fh.write(text.encode()))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # a page to share: readable as any new file would be
    return path


def _asset(name: str) -> str:
    return resources.files("snngraph.view").joinpath(name).read_text(encoding="utf-8")


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays as numbers and lists, tuples as lists, and
    non-finite numbers as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"page data: cannot write {type(value).__name__} as JSON")
