"""Op kinds: their traits, the registry of their rules, and the worked example of
docs/architecture.md ("Adding an op kind"), executed from the document."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from snngraph.compiler import ops
from snngraph.compiler.program import Program
from snngraph.runtimes import reference
from snngraph.schemas import ir as schema

import snngraph as sg
from snngraph.errors import SerializationError, ValidationError

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ every kind has its rules
@pytest.mark.parametrize("kind", sorted(schema.OP_KINDS))
def test_every_kind_has_a_rule_in_every_runtime_or_says_why(kind):
    r = ops.rules(kind)
    assert r.missing() == [], f"op kind {kind!r} has no rule for {r.missing()}"
    assert r.model.unsupported.keys() <= set(ops.RUNTIMES)
    assert all(len(why) > 20 for why in r.model.unsupported.values())
    if r.rate is not None and not r.model.source:  # something may feed it a gradient
        assert callable(getattr(r.rate, "backward", None)), f"{kind}: rate rule has no backward"
    assert r.made_by, f"{kind}: no compiler function creates it"


def test_rules_of_an_unknown_kind_suggest_the_closest():
    with pytest.raises(ValidationError, match=r"(?s)'lienar'.*did you mean 'linear'"):
        ops.rules("lienar")


def test_table_lists_every_kind_and_its_rules():
    text = ops.table()
    for kind in schema.OP_KINDS:
        assert f"\n{kind}: " in "\n" + text
    assert "snngraph.runtimes.rate.vjp.Conv2d" in text
    assert "none: synaptic filters are not trained through time yet" in text


# ------------------------------------------------------------------ traits replace kind lists
def test_traits_give_the_kind_sets_the_runtimes_used():
    assert schema.kinds_with("steppable") == {"neurons", "linear", "delay", "sum", "slice",
                                              "scatter", "probe"}  # BPTT's recurrent units
    assert schema.kinds_with("time_invariant") == {"input", "sum", "linear", "conv2d",
                                                   "conv_transpose2d", "pool2d", "slice",
                                                   "scatter"}
    assert schema.kinds_with("delayed") == set(schema.STATEFUL_DELAY) == {"synapse", "delay"}
    assert schema.kinds_with("weighted") == {"linear", "conv2d", "conv_transpose2d"}
    with pytest.raises(AttributeError, match="no trait 'stepable'.*steppable"):
        schema.kinds_with("stepable")


def test_traits_are_not_fields_and_not_in_the_schema():
    assert "steppable" not in schema.Linear.model_fields
    assert "steppable" not in (ROOT / "schemas" / "ir.schema.json").read_text()


OWNED = ["schemas/ir.py", "compiler/ir.py", "compiler/passes/optimize.py",
         "compiler/printer.py", "compiler/lower.py", "runtimes/reference.py",
         "runtimes/rate/vjp.py", "runtimes/rate/backend.py"]


@pytest.mark.parametrize("path", OWNED)
def test_no_hand_kept_list_of_op_kinds(path):
    """A tuple, list or set literal of two or more op kind names (not a registry call
    such as ``@rule("sum", "delay")``): the traits say which kinds, not a list."""
    kinds = "|".join(schema.OP_KINDS)
    literal = re.compile(rf'(?<![\w.])[([{{]\s*"({kinds})"\s*,\s*"({kinds})"')
    text = (ROOT / path).read_text()
    assert not literal.search(text), literal.search(text).group(0)


# ------------------------------------------------------------------ register checks its input
def test_register_names_the_missing_runtime_and_the_fix():
    from typing import Literal

    class Half(schema.Op):
        op: Literal["half_test"] = "half_test"

    with pytest.raises(ValidationError, match=r"(?s)ops.register\(Half\).*numba.*fix: pass "
                                              r"numba=\.\.\., or say why not: Half.unsupported"):
        ops.register(Half, printer=lambda ir, op: "")
    assert "half_test" not in schema.OP_KINDS


def test_register_refuses_a_taken_kind_and_a_non_op():
    from typing import Literal

    class Other(schema.Op):
        op: Literal["linear"] = "linear"

    with pytest.raises(ValidationError, match="Other.op.*not taken"):
        ops.register(Other, printer=lambda ir, op: "")
    assert schema.OP_KINDS["linear"] is schema.Linear
    with pytest.raises(ValidationError, match="subclass of snngraph.schemas.ir.Op"):
        ops.register(dict, printer=lambda ir, op: "")


# ------------------------------------------------------------------ the worked example
def example_code() -> str:
    """The python block of the section 'Adding an op kind' of docs/architecture.md."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Adding an op kind", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section should hold one python block"
    return blocks[0]


@pytest.fixture
def clip_example(tmp_path, monkeypatch):
    """The example as a user module (outside the package), imported; its kind is
    unregistered afterwards."""
    (tmp_path / "clip_example.py").write_text(example_code())
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield importlib.import_module("clip_example")
    finally:
        sys.modules.pop("clip_example", None)
        if "clip" in schema.OP_KINDS:
            ops.unregister("clip")


def _run(program: Program, backend: str, x_op: str, x: np.ndarray) -> np.ndarray:
    with sg.Simulator(program, backend=backend, minibatch_size=len(x), progress_bar=False) as sim:
        sim.run_steps(x.shape[1], data={x_op: x})
        return np.asarray(sim.data["y"])


def test_the_worked_example_runs_on_numba_and_rate_as_the_reference(clip_example):
    m = clip_example
    dump = str(m.cpu)
    assert re.search(r"%x\.clip\s+: real\[3\]\s+= clip\(%x\)\s+lo=-0.5 hi=0.5 "
                     r"every=presentation\s+\[clip_after\]", dump), dump
    r = ops.rules("clip")
    assert r.missing() == [] and r.numba is m.ClipExec and isinstance(r.rate, m.ClipRule)
    assert "clip" in schema.kinds_with("steppable")

    x0 = np.array([[0.9, 0.2, -1.0], [0.1, -0.3, 0.3]])
    x = np.stack([x0, 0.5 * x0, -x0], axis=1)  # [batch, steps, size]: changes every step
    cpu, x_op = m.cpu, m.cpu.op_of(m.x)
    rate = m.clip_after(sg.compile(m.net, target="rate"), m.x, -0.5, 0.5)
    expected = np.stack([reference.evaluate(cpu.ir, {x_op: x[:, k]}, batch=2)[
        cpu.op_of(m.probe)] for k in range(3)], axis=1)
    W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]])
    assert np.allclose(expected, np.clip(x, -0.5, 0.5) @ W.T)
    for program, backend in ((cpu, "numba"), (rate, "rate")):
        got = _run(program, backend, x_op, x)
        assert np.allclose(got, expected, atol=1e-6), backend


def test_a_program_with_a_registered_kind_saves_and_loads(clip_example, tmp_path):
    m = clip_example
    path = m.cpu.save(tmp_path / "clip.json")
    assert '"op": "clip"' in path.read_text()
    loaded = Program.load(path)
    assert loaded.dump(source=False) == m.cpu.dump(source=False)
    x = np.array([[[0.9, 0.2, -1.0]]])
    assert np.allclose(_run(loaded, "numba", "%x", x), _run(m.cpu, "numba", "%x", x))


def test_a_saved_program_with_an_unregistered_kind_says_which(clip_example, tmp_path):
    path = clip_example.cpu.save(tmp_path / "clip.json")
    ops.unregister("clip")
    with pytest.raises(SerializationError, match=r"'clip' not registered: import the module "
                                                 r"that registers them"):
        Program.load(path)


def test_the_worked_example_trains_through_its_rate_rule(clip_example):
    """Training uses the reverse rule: no gradient reaches the weights of a clipped
    output."""
    from snngraph.runtimes.rate.model import RateModel

    m = clip_example
    rate = m.clip_after(sg.compile(m.net, target="rate"), m.y, -0.5, 0.5)
    model = RateModel(rate)
    x_op, y_op = rate.op_of(m.x), rate.op_of(m.probe)
    x = np.array([[0.9, 0.2, -1.0]], np.float32)
    values, tape = model.forward({x_op: x}, [y_op], 1)
    assert np.allclose(values[y_op], [[0.2, 0.5]])  # W x = [0.2, 0.8], clipped
    grads = model.backward(tape, {y_op: np.ones((1, 2), np.float32)})
    (key,) = [k for k in grads if k.endswith(".w")]
    assert np.allclose(grads[key], [[0.9, 0.2, -1.0], [0.0, 0.0, 0.0]])
