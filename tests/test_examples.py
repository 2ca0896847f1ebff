"""The workload examples (examples/w*.py): every network builds with the neuron count its
architecture implies, survives save/load exactly (JSON, and YAML for one), matches the
committed JSON Schema, and every
script runs on the bundled MNIST subset."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import load_example as example
from snngraph.schemas.export import load_schema

import snngraph as sg
from snngraph.config import BACKEND_PARAMS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = ["w1_spiking_mnist", "w2_keras_to_loihi", "w3_norse_recurrent",
           "w4_snntorch_conv", "w5_snntorch_recurrent"]


# A few fixed "images" for the PresentInput variant, so the tests need no data set.
IMAGES = (np.arange(3 * 784).reshape(3, 784) % 256).astype(np.float32)

# Expected neuron counts, by hand from each architecture (valid convolutions:
# out = (in - kernel) // stride + 1; 2x2 pooling halves each side).
W1_NEURONS = 26 * 26 * 32 + 12 * 12 * 64 + 5 * 5 * 128  # 34,048 LIF
W2_NEURONS = 28 * 28 * 3 + 13 * 13 * 32 + 6 * 6 * 64 + 100  # 10,164 (to-spikes .. dense0)
W3_NEURONS = 100 + 10  # recurrent CubaLIF layer + LI readout
W3_CONV_NEURONS = 24 * 24 * 20 + 8 * 8 * 50 + 500 + 10  # LIF after each conv, fc1 LIF, LI
W4_NEURONS = 12 * 12 * 12 + 4 * 4 * 64 + 10  # Leaky after each conv+pool, and after fc1
W5_NEURONS = 128 + 10  # two recurrent Leaky layers

# (id, script, factory, keyword arguments, expected neurons); kwargs are built lazily so
# that collecting the tests does not construct neuron types at import time.
CASES = [
    ("w1", "w1_spiking_mnist", "build", dict, W1_NEURONS),
    ("w1-lifrate", "w1_spiking_mnist", "build",
     lambda: {"neuron_type": sg.LIFRate(amplitude=0.01)}, W1_NEURONS),
    ("w2-relu", "w2_keras_to_loihi", "build", dict, W2_NEURONS),
    ("w2-spiking-relu", "w2_keras_to_loihi", "build",
     lambda: {"neuron_type": sg.SpikingRectifiedLinear(), "scale_firing_rates": 100,
              "synapse": 0.005}, W2_NEURONS),
    ("w2-loihi-per-layer-scale", "w2_keras_to_loihi", "build",
     lambda: {"neuron_type": sg.LoihiSpikingRectifiedLinear(), "synapse": 0.005,
              "scale_firing_rates": {"to-spikes": 2.5, "conv0": 4.0, "conv1": 8.0,
                                     "dense0": 20.0}}, W2_NEURONS),
    ("w2-loihi-on-chip", "w2_keras_to_loihi", "build",
     lambda: {"neuron_type": sg.LoihiSpikingRectifiedLinear(), "synapse": 0.005,
              "scale_firing_rates": 400, "block_shapes": True, "present_images": IMAGES},
     W2_NEURONS),
    ("w3-constant-current", "w3_norse_recurrent", "build",
     lambda: {"encoder": "constant_current"}, W3_NEURONS),
    ("w3-poisson", "w3_norse_recurrent", "build", lambda: {"encoder": "poisson"},
     W3_NEURONS),
    ("w3-latency", "w3_norse_recurrent", "build", lambda: {"encoder": "latency"},
     W3_NEURONS),
    ("w3-conv", "w3_norse_recurrent", "build_conv", dict, W3_CONV_NEURONS),
    ("w4", "w4_snntorch_conv", "build", dict, W4_NEURONS),
    ("w5", "w5_snntorch_recurrent", "build", dict, W5_NEURONS),
]
PARAMS = [pytest.param(*case[1:], id=case[0]) for case in CASES]


def build(script: str, factory: str, kwargs) -> sg.Network:
    return getattr(example(script), factory)(**kwargs())


@pytest.mark.parametrize(("script", "factory", "kwargs", "neurons"), PARAMS)
def test_builds_with_expected_neuron_count(script, factory, kwargs, neurons):
    net = build(script, factory, kwargs)
    assert isinstance(net, sg.Network)
    assert net.n_neurons == neurons
    assert f"neurons: {neurons:,} (" in sg.summary(net)


def assert_exact_round_trip(net: sg.Network, path: Path) -> sg.Network:
    """Save and load ``net``; the copy must be the same document, arrays and objects."""
    sg.save(net, path)
    loaded = sg.load(path)

    assert loaded.to_dict() == net.to_dict()  # ids and creation sites included
    arrays, loaded_arrays = {}, {}
    assert loaded.to_dict(arrays=loaded_arrays) == net.to_dict(arrays=arrays)
    assert loaded_arrays.keys() == arrays.keys()
    for key, value in arrays.items():
        assert loaded_arrays[key].dtype == value.dtype, key
        assert np.array_equal(loaded_arrays[key], value), key

    def identity(o):
        return type(o).__name__, o.label, o.seed

    assert [identity(o) for o in loaded.all_objects] == [identity(o) for o in net.all_objects]
    assert identity(loaded) == identity(net)
    for old, new in zip(net.all_objects, loaded.all_objects, strict=True):
        for name in BACKEND_PARAMS[type(old).__name__]:  # on_chip, block_shape, trainable
            assert getattr(loaded.config[new], name) == getattr(net.config[old], name)
    return loaded


@pytest.mark.parametrize(("script", "factory", "kwargs", "neurons"), PARAMS)
def test_json_round_trip_is_exact(tmp_path, script, factory, kwargs, neurons):
    assert_exact_round_trip(build(script, factory, kwargs), tmp_path / "m.json")


@pytest.mark.parametrize(("script", "factory", "kwargs", "neurons"), PARAMS)
def test_saved_document_matches_the_json_schema(tmp_path, script, factory, kwargs, neurons):
    validator = jsonschema.Draft202012Validator(load_schema())
    path = sg.save(build(script, factory, kwargs), tmp_path / "m.json")
    doc = json.loads(path.read_text())
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_yaml_round_trip_keeps_loihi_settings(tmp_path):
    pytest.importorskip("yaml")
    w2 = example("w2_keras_to_loihi")
    net = w2.build(sg.LoihiSpikingRectifiedLinear(), synapse=0.005, scale_firing_rates=400,
                   block_shapes=True, present_images=IMAGES)
    loaded = assert_exact_round_trip(net, tmp_path / "m.yaml")

    settings = {e.label: (loaded.config[e].on_chip, loaded.config[e].block_shape)
                for e in loaded.ensembles}
    assert settings == {
        "to-spikes": (False, None),
        "conv0": (True, sg.BlockShape((16, 16, 4), (13, 13, 32))),
        "conv1": (True, sg.BlockShape((8, 8, 16), (6, 6, 64))),
        "dense0": (True, sg.BlockShape((50,), (100,))),
    }
    process = loaded.nodes[0].output
    assert isinstance(process, sg.PresentInput) and process.presentation_time == 0.03
    assert np.array_equal(process.inputs, IMAGES)


def test_w3_recurrent_weights_have_no_autapses():
    net = example("w3_norse_recurrent").build()
    recurrent = [c for c in net.connections if c.pre_obj is c.post_obj]
    assert len(recurrent) == 1 and recurrent[0].synapse == sg.Delay(1)
    weights = recurrent[0].transform.init
    assert weights.shape == (100, 100) and not np.any(np.diag(weights))


def test_w4_pools_before_the_neurons():
    net = example("w4_snntorch_conv").build()
    into_neurons = [c for c in net.connections if isinstance(c.post, sg.Neurons)]
    feeding = [c.pre.label for c in into_neurons]
    assert feeding == ["pool1", "pool2", "fc1"]


QUICK_ARGS = {  # a few hundred images: the scripts' full runs are accuracy runs
    "w1_spiking_mnist": ["--epochs", "1", "--train-images", "200", "--test-images", "40",
                         "--plot"],
    "w2_keras_to_loihi": ["--epochs", "1", "--train-images", "200", "--test-images", "40",
                          "--steps", "10", "--plot"],
    "w3_norse_recurrent": ["--epochs", "1", "--train-images", "256", "--test-images", "64",
                           "--plot"],
    "w4_snntorch_conv": ["--epochs", "1", "--train-images", "128", "--test-images", "32",
                         "--plot"],
    "w5_snntorch_recurrent": ["--epochs", "1", "--train-images", "256", "--test-images", "64",
                              "--plot"],
}
PLOTS = {  # what --plot writes (sg.plot figures)
    "w1_spiking_mnist": ["w1_outputs", "w1_raster", "w1_rates", "w1_history",
                         "w1_rate_vs_spiking"],
    "w2_keras_to_loihi": ["w2_outputs", "w2_raster", "w2_core_map", "w2_history",
                          "w2_rate_vs_spiking"],
    "w3_norse_recurrent": ["w3_history", "w3_raster", "w3_rates", "w3_readout"],
    "w4_snntorch_conv": ["w4_history", "w4_raster", "w4_rates"],
    "w5_snntorch_recurrent": ["w5_history", "w5_raster", "w5_rates"],
}


# Accuracy floors for the runs above (percent; chance is 10%): each script's main
# accuracy line, measured on the bundled subset with exactly these arguments (the runs
# are seeded: two runs printed the same figures), then lowered by a margin of a few
# test images so that a change of initialisation or a default (for example the ensemble
# bias no longer trained in W4/W5) does not trip them, while a training that no longer
# learns does (W1, W2 and W5 fail with the optimizer's step removed; W3 and W4 learn too
# little in these short runs for any floor to tell).
ACCURACY_FLOORS = {
    # measured 30.00% of 40 (15.00% before training and untrained)
    "w1_spiking_mnist": (r"spiking accuracy after training: ([\d.]+)%", 20.0),
    # measured 20.00% of 40 for the rate network, 10.00% untrained (its spiking variants:
    # 12.50%, near chance)
    "w2_keras_to_loihi": (r"ReLU \(rate\): accuracy ([\d.]+)%", 15.0),
    # measured 17.19% of 64; untrained 15.62%: two Adam steps barely move W3, so this
    # floor, like W4's, only catches a broken evaluation
    "w3_norse_recurrent": (r"test accuracy \(max over time[^:]*: ([\d.]+)%", 12.5),
    # measured 15.62% of 32, the same with 3 epochs: one Adam step per epoch on 128
    # images leaves the output layer silent (loss ln 10). This floor only catches a
    # broken evaluation; W4 learns nothing at this size.
    "w4_snntorch_conv": (r"test accuracy \(spike count[^:]*: ([\d.]+)%", 12.5),
    # measured 29.69% of 64; 32.81% with the ensemble bias frozen; 7.81% untrained
    "w5_snntorch_recurrent": (r"test accuracy \(spike count[^:]*: ([\d.]+)%", 20.0),
}


def printed_accuracy(script: str, stdout: str) -> float:
    pattern, _ = ACCURACY_FLOORS[script]
    found = re.search(pattern, stdout)
    assert found, f"{script} printed no line matching {pattern!r}:\n{stdout}"
    return float(found.group(1))


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_runs_on_bundled_subset(tmp_path, script):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SNNGRAPH_DATA", "SNNGRAPH_ALLOW_DOWNLOAD", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path)  # no cached full MNIST either
    args = QUICK_ARGS.get(script, [])
    # the timeout only guards against a hang: a cold Numba cache on a slow machine takes
    # minutes to compile a script's kernels
    env["MPLBACKEND"] = "Agg"  # --plot draws without a display
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{script}.py"), *args], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "neurons:" in result.stdout and "parameters:" in result.stdout
    assert "accuracy" in result.stdout and "mean" in result.stdout  # trains, tests, reports
    floor = ACCURACY_FLOORS[script][1]
    assert printed_accuracy(script, result.stdout) >= floor, result.stdout
    notices = [line for line in result.stderr.splitlines() if "bundled subset" in line]
    assert len(notices) == 1, result.stderr
    for name in PLOTS.get(script, []):
        assert (tmp_path / f"{name}.png").stat().st_size > 0, name
