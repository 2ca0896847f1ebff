"""The Simulator Nengo's test suite runs: ``snngraph.nengo.Simulator`` in the precision
Nengo's own setting asks for (pytest.ini: ``nengo_simloader``; Nengo's pytest plugin
calls ``load(request)`` for each test and the test calls what it returns).

``nengo.rc["precision"]["bits"]`` is 64 by default, so the suite runs in float64, as
Nengo's reference simulator does; a test that sets 32 (``test_dtype``) gets float32, and
one that sets 16 gets snngraph's error for a precision it does not compute in. The
setting is read when the test builds its Simulator, after the test has changed it.
"""

from __future__ import annotations

from typing import Any

import nengo

import snngraph.nengo


def load(request: Any) -> Any:
    """Nengo's ``nengo_simloader`` hook: the Simulator factory for one test."""
    return simulator


def simulator(network: Any, *args: Any, **kwargs: Any) -> snngraph.nengo.Simulator:
    """``snngraph.nengo.Simulator`` with ``dtype`` from Nengo's precision (unless the test
    passes one)."""
    bits = nengo.rc.get("precision", "bits")
    kwargs.setdefault("dtype", f"float{bits}")
    return snngraph.nengo.Simulator(network, *args, **kwargs)
