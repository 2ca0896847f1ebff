"""Threshold profiles (``discretize.threshold_profiles``): per-neuron power-of-two scales
that let an NEF ensemble with Nengo's default gains keep its weights' bits on the chip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loihi_nef import _integrator

import snngraph as sg
from snngraph.errors import CompileError

LIF = sg.LoihiLIF()


def _compile(net, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one-scale runs' precision warning
        return sg.compile(net, target="loihi", **options)


def _hold(net, probe, **options) -> float:
    with sg.Simulator(_compile(net, **options), backend="loihi", progress_bar=False) as sim:
        sim.run_steps(1400)
        return float(sim.data[probe][0, 900:, 0].mean())


def test_integrator_with_nengo_gains_holds_its_value_as_the_float_network_does():
    """Nengo's default gains, a 100 ms recurrent synapse: with one scale per core
    (NengoLoihi's) a quarter of the recurrent weights' norm rounds away and the held
    value collapses (measured 0.02); with the profiles it holds what numba's float
    network holds (0.366 both)."""
    net, probe = _integrator(loihi_defaults=False)
    with sg.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(1400)
        ref = float(sim.data[probe][0, 900:, 0].mean())
    assert abs(_hold(net, probe) - ref) < 0.05
    assert _hold(net, probe, loihi_vth_profiles=1) < 0.5 * ref


@pytest.mark.parametrize("profiles", [1, 2, 3, 7])
def test_each_core_uses_at_most_the_profiles_asked_and_powers_of_two(profiles):
    net, _ = _integrator(loihi_defaults=False)
    program = _compile(net, loihi_vth_profiles=profiles)
    ir = program.ir
    name = program.op_of(next(e for e in net.all_ensembles if e.label == "integrator"))
    v_scale = ir.params[f"{name}.loihi.v_scale"]
    ratio = v_scale / v_scale.min()
    assert len(np.unique(ratio)) <= profiles
    assert np.allclose(np.log2(ratio), np.round(np.log2(ratio)))
    # the threshold is the float one (1) at every neuron's scale, to its 64-unit step
    vth = ir.params[f"{name}.loihi.vth"]
    assert np.all(np.abs(vth - v_scale) <= 33)
    assert f"vth profiles {len(np.unique(ratio))}" in str(program)
    (row,) = program.resources().rows  # the resource report counts them per core
    assert row["vth_profiles"] == len(np.unique(ratio))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(20, 120), tau=st.sampled_from([0.02, 0.1]),
       high=st.floats(0.5, 0.95))
def test_profiles_round_nef_weights_no_worse_than_one_scale(seed, n, tau, high):
    """Scaling a neuron's integers by a power of two only adds bits: the folded weights'
    rounding error (``Program.quantization``) is at most the one-scale error (within a
    rounding step's worth of slack), and much smaller where high intercepts make a few
    neurons' biases large."""
    with sg.Network(seed=seed) as net:
        net.config[sg.Ensemble].intercepts = sg.dists.Uniform(-1.0, high)
        stim = sg.Node(lambda t: np.sin(6 * t))
        a = sg.Ensemble(n, 1, neuron_type=LIF, label="a")
        b = sg.Ensemble(n, 1, neuron_type=LIF, label="b")
        sg.Connection(stim, a, synapse=tau)
        sg.Connection(a, b, synapse=tau)
        sg.Connection(b, b, transform=0.5, synapse=tau)
    errors = {}
    for profiles in (1, 7):
        rows = _compile(net, loihi_vth_profiles=profiles).quantization
        errors[profiles] = np.array([r.rms_error for r in rows])
    assert np.all(errors[7] <= errors[1] * 1.1 + 0.01)


def test_neuron_level_layers_keep_nengo_loihis_one_scale():
    """A layer fed by neuron-to-neuron weights: its input current is not its gain times a
    value in the radius, so it is not rescaled: the same integers either way."""
    rng = np.random.default_rng(0)
    with sg.Network(seed=0) as net:
        inp = sg.Node(rng.uniform(0, 1, 10))
        a = sg.Ensemble(30, 1, neuron_type=LIF, gain=rng.uniform(0.5, 2, 30),
                        bias=rng.uniform(-1, 1.5, 30))
        sg.Connection(inp, a.neurons, transform=rng.normal(size=(30, 10)), synapse=0.005)
        sg.Connection(a.neurons, a.neurons, transform=rng.normal(size=(30, 30)) * 0.05,
                      synapse=0.005)
        sg.Probe(a.neurons)
    one, many = (_compile(net, loihi_vth_profiles=p).ir.params for p in (1, 7))
    chip = [k for k in one if ".loihi." in k]
    assert chip and all(np.array_equal(one[k], many[k]) for k in chip)


@pytest.mark.parametrize("bad", [0, 8, 2.5, True, "7"])
def test_bad_profile_counts_are_refused_naming_the_option(bad):
    net, _ = _integrator(loihi_defaults=False)
    with pytest.raises(CompileError, match=r"loihi_vth_profiles must be an integer from 1 "
                                           r"to 7"):
        sg.compile(net, target="loihi", loihi_vth_profiles=bad)


def test_profiles_need_the_loihi_target():
    net, _ = _integrator(loihi_defaults=False)
    with pytest.raises(CompileError, match="loihi_vth_profiles=1 needs"):
        sg.compile(net, target="cpu", loihi_vth_profiles=1)
