"""Imported NIR graphs on the Loihi target: the NIR cells a core runs exactly (CubaLIF and
LIF stepped by Euler, IF, Threshold: reset to 0, start at 0) map onto its compartment
(``NIRCell.compartment``), and the chip's spikes match the cpu runtime's; what a core
cannot run is refused naming the ensemble and the fix; the published graphs compile for
the cpu, and for Loihi or with a ResourceError saying what does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from snngraph.compiler.passes.partition import ResourceError

import snngraph as sg
from snngraph.errors import CompileError

nir = pytest.importorskip("nir")
pytest.importorskip("h5py")

DATA = Path(__file__).parent / "data" / "nir"
PUBLISHED = DATA / "published"


def spikes(net, backend, x, dt):
    """{ensemble label: spikes [B, T, n]} on ``backend`` for input ``x`` [B, T, d]."""
    inp = next(o for o in net.all_nodes if o.label == "input")
    with net:
        probes = {e.label: sg.Probe(e.neurons) for e in net.all_ensembles}
    with sg.Simulator(net, dt=dt, backend=backend, progress_bar=False,
                      minibatch_size=x.shape[0]) as sim:
        sim.run_steps(x.shape[1], data={inp: x})
        return {k: sim.data[p] for k, p in probes.items()}


def chip_against_cpu(path, dt, x, **load):
    cpu = spikes(sg.nir.load(path, dt=dt, **load), "numba", x, dt)
    chip = spikes(sg.nir.load(path, dt=dt, **load), "loihi", x, dt)
    for label, want in cpu.items():
        got = chip[label]
        # NIR's spike is 1 held for a step, on the chip as on the cpu
        assert set(np.unique(got)) <= {0.0, 1.0}, label
        assert want.sum() > 20, f"{label}: too few spikes to compare"
        # the chip's integer weights, decays and thresholds: counts close, not equal
        assert abs(got.sum() - want.sum()) <= 0.05 * want.sum(), (label, got.sum(),
                                                                 want.sum())
        per_neuron = np.abs(got.sum(1) - want.sum(1))
        assert per_neuron.max() <= max(3, 0.1 * want.sum(1).max()), label
    return cpu, chip


def test_braille_cubalif_recurrent_on_the_chip_matches_the_cpu():
    x = (np.random.default_rng(0).random((2, 300, 12)) < 0.3).astype(np.float32)
    chip_against_cpu(PUBLISHED / "braille_noDelay_bias_zero.nir", 1e-4, x)


def test_single_lif_on_the_chip_matches_the_cpu():
    x = (np.random.default_rng(1).random((2, 300, 1)) < 0.3).astype(np.float32)
    chip_against_cpu(PUBLISHED / "lif_norse.nir", 1e-4, x)


def _if_graph(path):
    """Input(6) -> Affine -> IF(8) -> Affine -> IF(4) at dt = 1 (Sinabs' step)."""
    rng = np.random.default_rng(2)
    nodes = {"input": nir.Input(input_type=np.array([6])),
             "fc1": nir.Affine(weight=rng.uniform(0, 0.6, (8, 6)), bias=np.full(8, 0.02)),
             "if1": nir.IF(r=np.ones(8), v_threshold=np.ones(8), v_reset=np.zeros(8)),
             "fc2": nir.Linear(weight=rng.uniform(0, 0.5, (4, 8))),
             "if2": nir.IF(r=np.ones(4), v_threshold=np.full(4, 0.8), v_reset=np.zeros(4)),
             "output": nir.Output(output_type=np.array([4]))}
    edges = [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"),
             ("if2", "output")]
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def test_if_layers_on_the_chip_match_the_cpu(tmp_path):
    _if_graph(tmp_path / "if.nir")
    x = (np.random.default_rng(3).random((2, 200, 6)) < 0.4).astype(np.float32)
    chip_against_cpu(tmp_path / "if.nir", 1.0, x)


@pytest.mark.parametrize("name, dt", [("lif_norse", 1e-4), ("cnn_sinabs", 1.0),
                                      ("braille_noDelay_bias_zero", 1e-4),
                                      ("braille_noDelay_noBias_subtract", 1e-4)])
def test_published_graphs_compile_for_cpu_and_loihi(name, dt):
    net = sg.nir.load(PUBLISHED / f"{name}.nir", dt=dt)
    sg.compile(net, target="cpu", dt=dt)
    try:
        program = sg.compile(net, target="loihi", dt=dt)
    except ResourceError as exc:
        # the N-MNIST CNN: its first convolution runs on the host (a padded host input),
        # its 4096 outputs reach the chip as 8192 on/off spikes, more axons than a core has
        assert name == "cnn_sinabs", str(exc)
        text = str(exc)
        assert "Ensemble '1'" in text and "in axons, over the limit 4,096" in text
        assert "no block shape fits" in text and "fix: run this ensemble on the host" in text
        return
    assert any(op.chip for op in program.ir.ops() if op.op == "neurons")


@pytest.mark.parametrize("fixture, load, why", [
    ("snntorch/leaky.nir", dict(convention="snntorch"), "reset='subtract_next'"),
    ("norse/lif_box.nir", dict(convention="norse"), "start_at='v_leak'"),
    ("norse/li_box.nir", dict(convention="norse"), "outputs its voltage"),
])
def test_what_a_core_cannot_run_is_refused_naming_the_ensemble(fixture, load, why):
    net = sg.nir.load(DATA / fixture, **load)
    with pytest.raises(CompileError, match=r"(?s)Ensemble '.*" + why.replace("(", r"\(")
                       + r".*fix: run it on the host with net.config\[ens\].on_chip = False"):
        sg.compile(net, target="loihi", dt=net.nir_dt)


def test_exact_cubalif_is_refused_on_the_chip():
    net = sg.nir.load(PUBLISHED / "braille_noDelay_bias_zero.nir", dt=1e-4,
                      discretisation="exact")
    with pytest.raises(CompileError, match=r"(?s)Ensemble 'lif1.lif'.*discretisation='exact'"
                                           r".*load with discretisation='euler'"):
        sg.compile(net, target="loihi", dt=1e-4)


def test_exact_lif_runs_on_the_chip():
    """LIF's exact step has the compartment's form too (decay 1 - e^(-dt/tau))."""
    spec = sg.NIRLIF(tau=0.01, r=2.0, v_threshold=0.5, discretisation="exact")
    comp = spec.compartment(1e-3)
    np.testing.assert_allclose(comp.decay_v, -np.expm1(-0.1))
    assert comp.decay_u == 1.0 and comp.input_scale == 2.0
