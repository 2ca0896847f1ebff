"""Compiling the kernels that neuron types and processes bring (plain Python functions).

A model's module stays free of Numba (describing, saving and loading a network never
imports it); the runtime compiles its kernels here, once per process, cached on disk.
A kernel may call helpers of its own module marked with ``snngraph.neurons.kernel_helper``
(e.g. one neuron's single step, shared by its step kernel and its training kernels): they
are compiled first and stand in for the plain functions in the kernel's globals.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable

from numba import njit

JITTED: dict[str, Callable] = {}
"""Compiled kernels by ``module.function`` (fused code refers to them by name)."""


def jit_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__name__}"


def jit(fn: Callable) -> Callable:
    """Compile a model's kernel once (cached on disk by Numba; ``nogil`` so row blocks can
    run in parallel threads). Helpers are inlined into their callers, so sharing a step
    costs nothing and specialised loops still vectorise. A kernel may name the fast-math
    flags it allows in a ``fastmath`` attribute (LIF: ``{"contract"}``)."""
    name = jit_name(fn)
    if name not in JITTED:
        inline = "always" if getattr(fn, "kernel_helper", False) else "never"
        JITTED[name] = njit(cache=True, nogil=True, error_model="numpy", inline=inline,
                            fastmath=getattr(fn, "fastmath", False))(with_helpers(fn))
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
    # Numba's disk cache checks only the kernel's own file; naming the entry by the
    # fingerprint (which covers the helpers, maybe in other files) keeps it from serving
    # a kernel compiled with an older helper
    code.__qualname__ = f"{fn.__qualname__}_{fingerprint(fn)}"
    code.__module__ = fn.__module__
    return code


def fingerprint(fn: Callable) -> str:
    """A hash of what a kernel compiles to: its code, the constants and numbers it reads
    from its module (e.g. parameter rows), and its helpers' fingerprints. Generated code
    that calls the kernel carries it, so Numba's on-disk cache of that code (which has the
    kernel compiled in) is never reused after the kernel changes."""
    code, glob = fn.__code__, fn.__globals__
    parts = [code.co_code.hex(), repr(code.co_consts), repr(getattr(fn, "fastmath", False))]
    for name in code.co_names:
        value = glob.get(name)
        if isinstance(value, (bool, int, float, str)):
            parts.append(f"{name}={value!r}")
        elif getattr(value, "kernel_helper", False):
            parts.append(f"{name}:{fingerprint(value)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
