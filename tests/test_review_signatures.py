"""Issue 16, item 13: readable signatures and documented parameters for every public class.

``help(sg.Ensemble)`` used to show pydantic's generated signature (``*args`` and 5,584
characters of validator metadata) and docstrings that named few parameters. Each public
class must show the user's parameters in order with their defaults, and its docstring
must describe each one (times in seconds, rates in Hz).
"""

from __future__ import annotations

import inspect
import pydoc
import re

import pytest

import snngraph as sg

MODULES = (sg, sg.dists, sg.losses, sg.metrics, sg.optim, sg.processes, sg.surrogates)
TIMES = re.compile(r"^(tau.*|dt|presentation_time|sample_every)$")
RATES = re.compile(r"^(max_rates|f_max)$")


def public_classes() -> dict[str, type]:
    """Every class a user reaches from ``snngraph`` and its submodules (errors aside)."""
    found: dict[str, type] = {}
    for module in MODULES:
        names = getattr(module, "__all__", None) or [n for n in vars(module)
                                                     if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if (inspect.isclass(obj) and obj.__module__.startswith("snngraph")
                    and not issubclass(obj, Exception) and obj not in found.values()):
                found[f"{module.__name__}.{name}"] = obj
    return found


CLASSES = public_classes()


def parameter_docs(doc: str) -> dict[str, str]:
    """The numpy-style Parameters section: each ``name : type`` and its indented text."""
    section = doc.split("Parameters\n----------\n", 1)
    entries: dict[str, str] = {}
    if len(section) < 2:
        return entries
    name = None
    for line in section[1].splitlines():
        if line and not line[0].isspace():
            match = re.match(r"(\*{0,2}\w+)\s*(:|$)", line)
            if not match:  # the next section
                break
            name = match.group(1).lstrip("*")
            entries[name] = ""
        elif name and line.strip():
            entries[name] += line.strip() + " "
    return entries


def test_the_walk_finds_the_classes_of_the_issue():
    names = {cls.__name__ for cls in CLASSES.values()}
    for expected in ("Network", "Ensemble", "Node", "Connection", "Probe", "LIF", "Leaky",
                     "Lowpass", "Dense", "Uniform", "PoissonEncoder", "Layer", "Conv2D",
                     "BlockShape", "Adam", "CrossEntropy", "Accuracy", "ATan", "Simulator"):
        assert expected in names


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_signature_is_the_users_parameters(name):
    cls = CLASSES[name]
    sig = inspect.signature(cls)
    kinds = [p.kind for p in sig.parameters.values()]
    assert inspect.Parameter.VAR_POSITIONAL not in kinds, f"{name}{sig}"
    assert len(str(sig)) < 400, f"{name}{sig}"
    assert "Annotated" not in str(sig) and "FieldInfo" not in str(sig)
    fields = getattr(cls, "model_fields", None)
    if fields is not None:  # every field is a parameter, positional ones first
        assert set(sig.parameters) == set(fields)
        positional = list(getattr(cls, "_positional", ()))
        assert list(sig.parameters)[:len(positional)] == positional
        for p in sig.parameters.values():
            info = fields[p.name]
            assert (p.default is inspect.Parameter.empty) == info.is_required()


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_docstring_describes_each_parameter(name):
    cls = CLASSES[name]
    entries = parameter_docs(inspect.getdoc(cls) or "")
    for pname in inspect.signature(cls).parameters:
        assert entries.get(pname, "").strip(), f"{name}: parameter {pname!r} undocumented"
        text = entries[pname]
        if TIMES.match(pname):
            assert "second" in text, f"{name}.{pname}: say the unit (seconds): {text}"
        if RATES.match(pname):
            assert "Hz" in text, f"{name}.{pname}: say the unit (Hz): {text}"


def test_help_of_ensemble_is_short_and_readable():
    text = pydoc.render_doc(sg.Ensemble, renderer=pydoc.plaintext)
    sig_line = next(line for line in text.splitlines() if "Ensemble(" in line
                    and "n_neurons" in line)
    assert len(sig_line) < 400
    assert "Ensemble(n_neurons, dimensions, *, radius=1.0" in sig_line
    assert "max_rates : " in text and "Hz" in text


def test_schema_keeps_the_written_docstring():
    """The generated Parameters section is help text, not part of the JSON Schema."""
    schema = sg.Ensemble.model_json_schema()
    assert "Parameters\n----------" not in schema.get("description", "")
    assert schema["description"].startswith("``n_neurons`` neurons")
