"""What the benchmark scripts share: the example scripts they time, the options of an
inference benchmark, and a timing loop. (Run a benchmark as ``python benchmarks/x.py``:
its folder is then on the import path, so ``from common import ...`` finds this file.)
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inference_parser(description: str, images: int) -> argparse.ArgumentParser:
    """``--images`` (default ``images``), ``--steps``, ``--minibatch`` and ``--repeats``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=int, default=images)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--minibatch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """The wall time of each of ``repeats`` calls of ``fn``, and what the last returned
    (call it once before, so that compiling is not timed)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result
