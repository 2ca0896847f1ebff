"""Fused mode: the whole time loop of a program as one generated Numba function.

The op-by-op loop in ``backend.py`` pays a few microseconds of Python per op per step,
which dominates small networks (an NEF chain spends ~5 us per op on ~1 us of work), and
walks every buffer of the minibatch once per op per step. Here each executor emits the
line(s) of one row's step, and the lines are assembled into
``run(n_steps, t0, constant, seed, example0, batch, *arrays)``: rows in parallel, each
row running all its steps with its working set in cache. The module is written to the
user cache (named by the hash of its text, so Numba's on-disk cache works across runs)
and compiled once. Arrays are arguments, so one compiled function serves every
minibatch size and every set of weights with the same structure.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba import njit


class CodeGen:
    """Collects the generated lines and the arrays they read (as named arguments)."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.getters: list[Callable[[], Any]] = []
        self.lines: list[str] = []
        self.updates: list[str] = []
        self.imports: dict[str, str] = {}

    def arg(self, getter: Callable[[], Any]) -> str:
        self.getters.append(getter)
        return f"a{len(self.getters) - 1}"

    def out(self, name: str) -> str:
        """Row ``b`` of op ``name``'s output (the generated loop runs row by row)."""
        return self.rows(lambda e=self.backend.executors[name]: e.out)

    def rows(self, getter: Callable[[], Any]) -> str:
        """Row ``b`` of a ``[batch, ...]`` array, as a one-row 2-D view."""
        return f"{self.arg(getter)}[b:b + 1]"

    def input(self, name: str) -> str | None:
        """The variable holding the summed inputs of op ``name`` (None: no inputs)."""
        ins = self.backend.inputs[name]
        if not ins:
            return None
        if len(ins) == 1:
            return self.out(ins[0])
        total = self.rows(lambda n=name: self.backend.sums[n])
        self.lines.append(f"copy({self.out(ins[0])}, {total})")
        for i in ins[1:]:
            self.lines.append(f"add({self.out(i)}, {total})")
        return total

    def zeros(self, name: str) -> str:
        return self.rows(lambda e=self.backend.executors[name]: e.zeros_in)

    def summed(self, name: str) -> str:
        """Op ``name``'s summed inputs, or zeros when nothing feeds it."""
        return self.input(name) or self.zeros(name)

    def call(self, fn: str, *args: Any) -> bool:
        """Add the line ``fn(args...)``; True, for an executor's ``emit`` to return."""
        self.lines.append(f"{fn}({', '.join(str(a) for a in args)})")
        return True

    def kernel(self, fn: Callable) -> str:
        """A neuron type's step function: the backend's compiled dispatcher, by name."""
        from snngraph.runtimes.numba_cpu.jit import fingerprint, jit, jit_name

        jit(fn)
        alias = f"k_{jit_name(fn).replace('.', '_')}"
        self.imports[alias] = f"{alias} = JITTED[{jit_name(fn)!r}]  # {fingerprint(fn)}"
        return alias


def generate(backend: Any) -> CodeGen | None:
    """The code of one step for every op, or None if an op cannot be fused."""
    g = CodeGen(backend)
    for name in backend.order:
        executor = backend.executors[name]
        hoisted = backend.program.ir.op(name).every == "presentation"
        before = len(g.lines)
        if not executor.emit(g):
            return None
        if hoisted:
            body = g.lines[before:]
            g.lines[before:] = ["if k == 0 or not constant:"] + ["    " + b for b in body]
    return g


def source(g: CodeGen, records: list[str], parallel: bool = True) -> str:
    """The module text: imports, then ``run``. ``parallel=False`` (one row) runs on the
    calling thread: entering a parallel region wakes the thread pool, which costs
    milliseconds per call when the other core is busy (measured: 4-6 ms for one row)."""
    args = ", ".join(f"a{i}" for i in range(len(g.getters)))
    rows = ("    for b in prange(batch):  # rows are independent: each runs all its steps"
            if parallel else "    for b in range(batch):  # one row: no thread pool")
    head = ["import numpy as np", "from numba import njit, prange",
            "from snngraph.runtimes.numba_cpu import kernels",
            "from snngraph.runtimes.numba_cpu.jit import JITTED",
            "from snngraph.runtimes.numba_cpu.fused import (add, copy, divide, feed_rows, "
            "lowpass, rows_from)",
            *g.imports.values(), "",
            f"@njit(cache=True, parallel={parallel}, error_model='numpy')",
            f"def run(n_steps, t0, constant, seed, example0, batch, {args}):",
            rows,
            "        for k in range(n_steps):",
            "            t = t0 + k"]
    body = ["            " + line for line in g.lines + g.updates + records]
    return "\n".join(head + body) + "\n"


def _module_path(text: str) -> Path:
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    folder = Path(os.environ.get("SNNGRAPH_CACHE", Path.home() / ".cache" / "snngraph")) \
        / "fused"
    return folder / f"step_{digest}.py"


def compiled_before(text: str) -> bool:
    """Whether this code ran before (so Numba's disk cache holds it compiled and loading
    it costs a fraction of a second, not the seconds of compiling)."""
    return _module_path(text).with_suffix(".ran").exists()


def mark_compiled(text: str) -> None:
    _module_path(text).with_suffix(".ran").touch()


def compile_source(text: str) -> Callable:
    """Import the generated module from the user cache (written once per distinct text)."""
    path = _module_path(text)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    # importable by name (Numba's cache re-imports the module when it loads the code)
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return importlib.import_module(path.stem).run


# ------------------------------------------------------------------ helpers used by the code
@njit(cache=True)
def copy(src, dst):
    dst[:] = src


@njit(cache=True)
def add(src, dst):
    dst += src


@njit(cache=True)
def divide(out, by):
    """``out /= by`` along each row (an ensemble's noise over its neurons' gain)."""
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[r, i] /= by[i]


@njit(cache=True)
def lowpass(out, x, a, b):
    """``out = a out + b x``: a first-order filter's update."""
    batch, n = out.shape
    for r in range(batch):
        for i in range(n):
            out[r, i] = a * out[r, i] + b * x[r, i]


@njit(cache=True)
def rows_from(table, k, out):
    """Every row of ``out`` gets ``table[k]`` (a function of time, precomputed)."""
    for r in range(out.shape[0]):
        out[r, :] = table[k]


@njit(cache=True)
def feed_rows(feed, k, out):
    """Row ``r`` of ``out`` gets ``feed[r, k]`` (or ``feed[r, 0]`` for held data)."""
    j = min(k, feed.shape[1] - 1)
    for r in range(out.shape[0]):
        out[r, :] = feed[r, j]


def arrays(g: CodeGen) -> list[Any]:
    return [get() for get in g.getters]
