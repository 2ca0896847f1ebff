"""A fast, fixed part of Nengo 4.1's own test suite, run against snngraph's Nengo
backend (tests/nengo/pytest.ini points Nengo's ``Simulator`` fixture at it). The whole
suite is ``python tests/nengo/compliance.py`` (minutes; its counts are in the README).
Tests in pytest.ini's unsupported list are skipped with their reason; any other failure
fails this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nengo")

HERE = Path(__file__).resolve().parent / "nengo"
SUBSET = "test_node or test_probe or test_simulator or test_processes or test_synapses"
"""Nengo's test files (and tests) these names pick (``-k``); the unsupported list
matches test paths, so the suite runs as ``--pyargs nengo``, as in the full run."""


def test_nengo_suite_subset_passes():
    done = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "nengo", "-k", SUBSET,
                           "-p", "no:cacheprovider", "--timeout", "300"],
                          cwd=HERE, capture_output=True, text=True, timeout=1200)
    tail = "\n".join(done.stdout.splitlines()[-40:])
    assert done.returncode == 0, f"Nengo's tests failed on snngraph.nengo:\n{tail}"
    assert " passed" in done.stdout
