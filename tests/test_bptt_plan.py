"""Issue 17: the BPTT runtime's plan is a compiler decision recorded on the program; the
BPTT and rate models share parts by composition; processes dispatch by class; thread
counts come from the machine."""

import numpy as np
import pytest
from snngraph.compiler.pipeline import PASSES
from snngraph.runtimes.bptt.model import BpttModel, to_time_major
from snngraph.runtimes.rate.model import RateModel

import snngraph as sg
from snngraph import surrogates as S

U = sg.dists.Uniform(-0.5, 0.5)


def _w5_like(hidden=16):
    """W5's shape, small: dense in, two recurrent Leaky layers through Delay(1)."""
    with sg.Network(seed=1) as net:
        inp = sg.Node(np.zeros(20), label="input")
        x = sg.Layer(sg.Dense(hidden))(inp, label="fc1")
        h = sg.Layer(sg.Leaky(beta=0.9, surrogate=S.ATan(2.0)))(x, label="rlif1")
        sg.Connection(h, h, transform=sg.Dense((hidden, hidden), init=U),
                      synapse=sg.Delay(1),
                      label="rlif1.recurrent")
        x = sg.Layer(sg.Dense(4))(h, label="fc2")
        out = sg.Layer(sg.Leaky(beta=0.9, surrogate=S.ATan(2.0)))(x, label="rlif2")
        sg.Connection(out, out, transform=sg.Dense((4, 4), init=U), synapse=sg.Delay(1),
                      label="rlif2.recurrent")
        probe = sg.Probe(out, label="spk2")
    return net, probe


def _w4_like():
    """W4's shape, small: conv, max-pool, Leaky, conv, max-pool, Leaky, dense, Leaky."""
    def leaky(x, label):
        return sg.Layer(sg.Leaky(beta=0.5, surrogate=S.FastSigmoid(25)))(x, label=label)

    with sg.Network(seed=2) as net:
        inp = sg.Node(np.zeros(12 * 12), label="input")
        x = sg.Layer(sg.Conv2D(4, 3))(inp, shape_in=(12, 12, 1), label="conv1")
        x = leaky(sg.Layer(sg.MaxPool2D(2))(x, label="pool1"), "lif1")
        x = sg.Layer(sg.Conv2D(6, 3))(x, label="conv2")
        x = leaky(sg.Layer(sg.MaxPool2D(2))(x, label="pool2"), "lif2")
        out = leaky(sg.Layer(sg.Dense(3))(x, label="fc1"), "lif3")
        probe = sg.Probe(out, label="spk3")
    return net, probe


def _fit(net, steps=5):
    rng = np.random.default_rng(0)
    n_in = 20 if steps == 5 else 144
    x = rng.uniform(0, 1, (8, steps, n_in)).astype(np.float32)
    y = rng.integers(0, 2, 8)
    sim = sg.Simulator(net, progress_bar=False)
    sim.fit(x, y, epochs=1, batch_size=4, method="bptt", verbose=0)
    return sim


def _notes(program, label):
    op = program.ir.op(f"%{label}")
    return [n for n in op.notes if n.startswith("bptt: ")]


def test_training_program_dump_shows_the_w5_like_plan():
    net, _ = _w5_like()
    sim = _fit(net)
    text = str(sim.training_program)
    assert "plan_bptt: " in text
    assert ("fused layer (linear %rlif1.recurrent -> neurons %rlif1 -> delay "
            "%rlif1.recurrent.delay) in one kernel, its backward too up to batch 11718") in text
    [note] = _notes(sim.training_program, "rlif1.recurrent.delay")
    assert note.startswith("bptt: unit=") and "op 1/3, recurrent: fused layer" in note
    [note] = _notes(sim.training_program, "fc2")
    assert "event-driven when its input over time has density < 0.15" in note
    [note] = _notes(sim.training_program, "rlif1.recurrent")
    assert "weight gradient event-driven when spike density < 0.15" in note


def test_training_program_dump_shows_the_w4_like_plan():
    net, _ = _w4_like()
    sim = _fit(net, steps=4)
    [note] = _notes(sim.training_program, "conv2")
    assert note.endswith("event-driven when its input over time has density < 0.13 (input "
                         "gradient too when the output gradient's density < 0.4)")
    assert "plan_bptt: 10 units, 0 run step by step" in str(sim.training_program)


def test_stepped_unit_is_recorded_when_the_layer_cannot_fuse():
    """A recurrent connection through a non-square path is no fused layer."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(6), label="input")
        a = sg.Layer(sg.Leaky(0.8, surrogate=S.ATan()))(sg.Layer(sg.Dense(5))(inp), label="a")
        b = sg.Layer(sg.Leaky(0.8, surrogate=S.ATan()))(sg.Layer(sg.Dense(3))(a), label="b")
        sg.Connection(b, a, transform=sg.Dense((5, 3), init=U), synapse=sg.Delay(1))
        sg.Probe(b)
    program = sg.compile(net)
    PASSES["plan_bptt"](program.ir, None)
    notes = [n for op in program.ir.ops() for n in op.notes if n.startswith("bptt: ")]
    stepped = [n for n in notes if "recurrent: step by step" in n]
    assert len(stepped) == 5 and any("op 1/5" in n for n in stepped)
    assert not any("fused layer" in n for n in notes)


def test_the_model_runs_the_recorded_plan_not_its_own():
    """Edit the recorded threshold: the runtime follows the note (no second scheduler)."""
    net, probe = _w5_like()
    program = sg.compile(net)
    PASSES["plan_bptt"](program.ir, None)
    name = "%fc2"
    op = program.ir.op(name)
    notes = tuple(n.replace("< 0.15", "< 1.01") if n.startswith("bptt: ") else n
                  for n in op.notes)
    program.ir.update(name, notes=notes)
    x = np.random.default_rng(0).uniform(0, 1, (3, 6, 20)).astype(np.float32)
    out = program.op_of(probe)
    _, tape = BpttModel(program).forward_steps({"%input": x}, [out], 6, 3)
    assert type(tape[name][1]).__name__ == "SparseInput"  # always event-driven now
    program.ir.update(name, notes=tuple(n.replace("< 1.01", "< 0.0") for n in notes))
    _, tape = BpttModel(program).forward_steps({"%input": x}, [out], 6, 3)
    assert type(tape[name][1]).__name__ != "SparseInput"  # never


def test_plan_pass_is_idempotent_and_round_trips():
    from snngraph.compiler.passes.plan_bptt import make_plan, read_plan

    net, _ = _w5_like()
    program = sg.compile(net)
    PASSES["plan_bptt"](program.ir, None)
    first = str(program)
    PASSES["plan_bptt"](program.ir, None)
    assert str(program) == first
    assert first.count("# bptt: ") == program.ir.graph.number_of_nodes()
    assert first.count("plan_bptt: ") == 1
    assert read_plan(program.ir) == make_plan(program.ir)


def test_models_compose_instead_of_inheriting():
    from snngraph.runtimes.training import TrainableModel as Model

    net, _ = _w5_like()
    program = sg.compile(net)
    model = BpttModel(program)
    assert not issubclass(BpttModel, RateModel)
    assert not hasattr(model, "forward")  # no rate-semantics forward on a spiking program
    assert isinstance(model, Model)
    with sg.Network() as ff:
        sg.Probe(sg.Layer(sg.Dense(3))(sg.Node(np.zeros(4), label="input")))
    rate = RateModel(sg.compile(ff, target="rate"))
    assert isinstance(rate, Model)
    assert type(model.work) is type(rate.work)  # the shared parts: one helper object


def test_processes_dispatch_by_class():
    from snngraph.runtimes.bptt.processes import PROCESSES

    assert {cls.__name__ for cls in PROCESSES} == {
        "PresentInput", "PoissonEncoder", "ConstantCurrentLIFEncoder",
        "SpikeLatencyLIFEncoder"}
    assert all(isinstance(cls, type) for cls in PROCESSES)


def test_threads_come_from_the_machine(monkeypatch):
    from snngraph.runtimes import parallel
    from snngraph.runtimes.bptt.values import blocks

    monkeypatch.setattr(parallel, "THREADS", 3)
    assert len(blocks(12, 1 << 20)) == 3
    monkeypatch.setattr(parallel, "THREADS", 1)
    assert blocks(12, 1 << 20) == [(0, 12)]


@pytest.mark.parametrize("fuse", [True, False])
def test_w5_like_gradients_flow_through_the_plan(fuse):
    net, probe = _w5_like()
    program = sg.compile(net)
    model = BpttModel(program)
    model.fuse = fuse
    out = program.op_of(probe)
    x = np.random.default_rng(0).uniform(0, 2, (3, 6, 20)).astype(np.float32)
    values, tape = model.forward_steps({"%input": x}, [out], 6, 3)
    coef = np.random.default_rng(1).normal(size=(3, 6, 4)).astype(np.float32)
    grads = model.backward((values, tape), {out: to_time_major(coef)})
    assert set(grads) == set(model.trainable)
