"""Issue 17 item 1: one training package (runtimes/training/). The same small fixed-seed
fits as before the package existed give the same History, evaluate results and trained
parameters, bit for bit (values recorded on main before the change); the loop is one class
for both methods; no module of the package (or the Simulator) is over 500 lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import blobs

import snngraph as sg

ROOT = Path(__file__).resolve().parents[1]

# History, evaluate results and parameter sums of the fits below, recorded on main
# (6fe7c1d) before the training package existed
RECORDED = json.loads((ROOT / "tests/fixtures/training/recorded_fits.json").read_text())


def net(neuron):
    with sg.Network(seed=3, label="blobs") as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100.0])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(12, bias=True))(inp, label="dense")
        h = sg.Layer(neuron)(h, label="hidden")
        out = sg.Layer(sg.Dense(3, bias=True))(h, label="out")
        p = sg.Probe(out, label="out_p")
        q = sg.Probe(h, label="h_p")
    return net, p, q


def run(method, every=None):
    """Two losses (one a regularizer), a metric, validation_split, a last partial batch."""
    x, y = blobs(96)
    if method == "rate":
        n, p, q = net(sg.RectifiedLinear(amplitude=0.01))
        kw = dict(n_steps=1)
    else:
        n, p, q = net(sg.Leaky(0.8, surrogate=sg.surrogates.ATan(1.0)))
        kw = dict(n_steps=6, checkpoint_every=every)
    with sg.Simulator(n, progress_bar=False, minibatch_size=16, seed=1) as sim:
        loss = {p: sg.losses.CrossEntropy(), q: sg.losses.RateRegularizer(0.1, 0.01)}
        h = sim.fit(x, {p: y}, epochs=2, loss=loss, method=method,
                    metrics={p: sg.metrics.Accuracy(last_step=True)},
                    optimizer=sg.optim.Adam(lr=0.01), verbose=0, validation_split=0.25,
                    batch_size=20, **kw)
        params = sim.trainable_params()
        ev = sim.evaluate(x[:24], {p: y[:24], q: None}, loss=loss, n_steps=kw["n_steps"],
                          metrics={p: sg.metrics.Accuracy(last_step=True)}, verbose=0)
    return {"history": {k: v for k, v in h.history.items() if k != "epoch_seconds"},
            "evaluate": [list(kv) for kv in ev.items()],
            "params": {k: float(v.astype(np.float64).sum()) for k, v in params.items()}}


@pytest.mark.parametrize("case", ["rate", "bptt", "bptt_segments"])
def test_fit_gives_the_results_recorded_before_the_package(case):
    got = run("bptt", 3) if case == "bptt_segments" else run(case)
    want = RECORDED[case]
    assert got["history"] == want["history"]
    assert got["evaluate"] == want["evaluate"]  # the same keys in the same order
    assert got["params"] == want["params"]


def test_one_package_holds_the_loop_and_its_types():
    import inspect

    from snngraph.runtimes import training
    from snngraph.runtimes.training import (
        FitOptions,
        History,
        Objective,
        Totals,
        Trainer,
        TrainingError,
    )

    assert Path(training.__file__).parent.name == "training"  # a package, not a module
    for gone in ("runtimes/rate/training.py", "runtimes/bptt/training.py",
                 "runtimes/rate/params.py", "runtimes/training.py"):
        assert not (ROOT / gone).exists(), gone
    # fit takes its options by name, not 14 positional arguments
    params = inspect.signature(Trainer.fit).parameters
    assert not any(p.kind is p.VAR_POSITIONAL for p in params.values())
    assert "epochs" in {f for f in FitOptions.__dataclass_fields__}
    assert History and Objective and Totals and issubclass(TrainingError, sg.SnnError)


def test_both_models_implement_the_protocol_the_loop_uses():
    from snngraph.runtimes.bptt.model import BpttModel
    from snngraph.runtimes.rate.model import RateModel
    from snngraph.runtimes.training import TrainableModel, Trainer
    from snngraph.runtimes.training.methods import BpttMethod, RateMethod

    n, _, _ = net(sg.Leaky(0.8, surrogate=sg.surrogates.ATan(1.0)))
    rate = RateModel(sg.compile(n, target="rate"))
    bptt = BpttModel(sg.compile(n, target="cpu"))
    assert isinstance(rate, TrainableModel) and isinstance(bptt, TrainableModel)
    # the loop is one class: which method runs a batch is the strategy's business
    assert Trainer(RateMethod(rate), [], str).model is rate
    assert Trainer(BpttMethod(bptt), [], str).model is bptt
    assert not [c for c in Trainer.__subclasses__()]


def test_no_module_over_500_lines():
    files = [*(ROOT / "runtimes/training").glob("*.py"), ROOT / "runtimes/simulator.py"]
    long = {f.name: n for f in files if (n := len(f.read_text().splitlines())) > 500}
    assert not long
