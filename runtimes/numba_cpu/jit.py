"""Compiling the kernels that neuron types and processes bring (plain Python functions).

A model's module stays free of Numba (describing, saving and loading a network never
imports it); the runtime compiles its kernels here, once per process, cached on disk.
A kernel may call helpers of its own module marked with ``snngraph.neurons.kernel_helper``
(e.g. one neuron's single step, shared by its step kernel and its training kernels): they
are compiled first and stand in for the plain functions in the kernel's globals.
"""

from __future__ import annotations

import types
from collections.abc import Callable

from numba import njit

JITTED: dict[str, Callable] = {}
"""Compiled kernels by ``module.function`` (fused code refers to them by name)."""


def jit_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__name__}"


def jit(fn: Callable) -> Callable:
    """Compile a model's kernel once (cached on disk by Numba; ``nogil`` so row blocks can
    run in parallel threads)."""
    name = jit_name(fn)
    if name not in JITTED:
        JITTED[name] = njit(cache=True, nogil=True, error_model="numpy")(with_helpers(fn))
    return JITTED[name]


def with_helpers(fn: Callable) -> Callable:
    """``fn`` with the compiled form of each kernel helper it names (itself if none)."""
    glob = fn.__globals__
    helpers = {k: jit(glob[k]) for k in fn.__code__.co_names
               if getattr(glob.get(k), "kernel_helper", False)}
    if not helpers:
        return fn
    code = types.FunctionType(fn.__code__, dict(glob, **helpers), fn.__name__,
                              fn.__defaults__, fn.__closure__)
    code.__qualname__, code.__module__ = fn.__qualname__, fn.__module__
    return code
