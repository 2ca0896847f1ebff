"""One way to name the user objects behind an IR op in messages (snngraph.errors:
origin_text, op_origin, op_site): an op whose objects have no known creation site, or
that no user object made, never reads "created at None" or "at None"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from snngraph.compiler.chip import describe
from snngraph.compiler.passes.swap_neurons import _to_rate
from snngraph.runtimes.rate.model import _check_feed_forward
from snngraph.runtimes.rate.vjp import RULES
from snngraph.runtimes.rate.vjp import where as rate_where
from snngraph.schemas import ir as ops
from snngraph.schemas.base import SourceLoc

import snngraph as sg
import snngraph.base
from snngraph.errors import op_origin, op_site, origin_text

SITE = SourceLoc(file="model.py", line=7, code="a = sg.Ensemble(5, 1)")


def no_site_op(*objs: str, **fields) -> ops.Op:
    src = tuple(ops.Origin(obj=o) for o in objs)
    return ops.Sum(name=fields.pop("name", "x"), shape=(2,), src=src, **fields)


@pytest.fixture
def no_sites(monkeypatch):
    """Objects made while this is active have no creation site (as objects made by
    generated code, or read from a document without sites)."""
    monkeypatch.setattr(snngraph.base, "user_site", lambda: None)


def clean(msg: str) -> str:
    assert "None" not in msg, msg
    return msg


def test_origin_text_with_and_without_site():
    assert origin_text(ops.Origin(obj="Ensemble 'a'", site=SITE)) == \
        "Ensemble 'a' (created at model.py:7)"
    assert origin_text(ops.Origin(obj="Ensemble 'a'")) == "Ensemble 'a'"


def test_op_origin_lists_each_object_once_or_the_op_name():
    op = ops.Sum(name="s", shape=(1,), src=(ops.Origin(obj="Node 'n'", site=SITE),
                                            ops.Origin(obj="Node 'n'", site=SITE),
                                            ops.Origin(obj="Node 'm'")))
    assert op_origin(op) == "Node 'n' (created at model.py:7), Node 'm'"
    assert op_origin(op, sites=False) == "Node 'n', Node 'm'"
    assert op_origin(op, first=True) == "Node 'n' (created at model.py:7)"
    assert op_site(op) == SITE
    bare = ops.Sum(name="made_by_a_pass", shape=(1,))
    assert op_origin(bare) == "made_by_a_pass" and op_site(bare) is None


@pytest.mark.parametrize("objs", [(), ("Ensemble 'a'",), ("Ensemble 'a'", "Node 'b'")])
def test_messages_built_from_ops_without_sites(objs):
    op = no_site_op(*objs)
    assert clean(describe(op)) == (objs[0] if objs else "x")  # Loihi messages: the first
    assert clean(rate_where(op)) == (", ".join(objs) or "x")


def test_rate_process_and_probe_errors_without_sites():
    proc = ops.Process(name="p", shape=(1,), src=(ops.Origin(obj="Node 'p'"),),
                       process={"type": "WhiteNoise"})
    with pytest.raises(sg.CompileError) as info:
        RULES["process"].forward(SimpleNamespace(feeds={}), proc, None)
    assert "Node 'p'" in clean(str(info.value))
    probe = ops.Probe(name="pr", shape=(1,), target="x", attr="voltage",
                      src=(ops.Origin(obj="Probe 'v'"),))
    with pytest.raises(sg.CompileError) as info:
        RULES["probe"].forward(None, probe, None)
    assert "Probe 'v'" in clean(str(info.value))
    bare = probe.model_copy(update={"src": ()})
    with pytest.raises(sg.CompileError) as info:  # no user object at all: the op's name
        RULES["probe"].forward(None, bare, None)
    assert "pr: probes" in clean(str(info.value))


def recurrent(synapse) -> sg.Network:
    with sg.Network(seed=0) as net:
        a = sg.Ensemble(5, 1, label="a")
        sg.Connection(a, a, synapse=synapse)
        sg.Probe(a, label="pa")
    return net


def test_algebraic_loop_without_sites(no_sites):
    with pytest.raises(sg.CompileError) as info:
        sg.compile(recurrent(None))
    assert "Ensemble 'a'" in clean(str(info.value))


def test_rate_runtime_recurrent_loop_without_sites(no_sites):
    ir = sg.compile(recurrent(sg.Lowpass(0.01))).ir
    with pytest.raises(sg.CompileError) as info:
        _check_feed_forward(ir)
    assert "Ensemble 'a'" in clean(str(info.value))


def test_ambiguous_label_without_sites(no_sites):
    with sg.Network(seed=0) as net:
        sg.Probe(sg.Ensemble(5, 1, label="ens").neurons)
        sg.Probe(sg.Ensemble(5, 1, label="ens").neurons)
    with pytest.raises(sg.CompileError) as info:
        sg.compile(net, scale_firing_rates={"ens": 2.0})
    assert "ambiguous" in clean(str(info.value))


def test_no_rate_curve_without_sites(no_sites):
    with sg.Network(seed=0) as net:
        sg.Probe(sg.Ensemble(5, 1, neuron_type=sg.CubaLIF(tau_mem=0.0005), label="c").neurons)
    ir = sg.compile(net).ir
    name = next(n for n, d in ir.graph.nodes(data=True) if d["op"].op == "neurons")
    with pytest.raises(sg.CompileError) as info:
        _to_rate(ir, name, None)
    msg = clean(str(info.value))
    assert "Ensemble 'c'" in msg and "created at" not in msg


def test_node_error_without_sites(no_sites):
    with sg.Network(seed=0) as net:
        node = sg.Node(lambda t: [np.nan], label="f")
        sg.Probe(node)
    with sg.Simulator(net, progress_bar=False) as sim, pytest.raises(sg.SimulationError) as info:
        sim.run_steps(2)
    msg = clean(str(info.value))
    assert "Node 'f'" in msg and "created at" not in msg

