"""Shared fixtures and the ``--run-slow`` option.

Tests marked ``@pytest.mark.slow`` repeat coverage a faster test keeps (long runs, every
variant of a sweep); ``python -m pytest`` skips them, ``python -m pytest --run-slow`` runs
them too.

Helpers (``from conftest import ...``):
- ``quiet(net, **kwargs)``: a Simulator without a progress bar;
- ``blobs(n, seed)``: a small separable classification problem to train on;
- ``load_example(name)``: an example script imported by path, once (module-level code).

Fixtures:
- ``example``: ``example("w4_snntorch_conv")`` imports an example script by path, once;
- ``small_net``: ``small_net(kind, neuron_type, **sizes)`` builds one of the small networks
  of ``SMALL_NETS`` (the networks tests/test_conformance.py runs on every runtime);
- ``bptt_forward``: the BPTT forward pass of a compiled program, per probe, in
  ``predict``'s layout;
- ``mnist_subset``: the MNIST subset bundled with the package (no data set needed);
- ``tmp_docs``: an empty working directory for tests that save documents by bare name.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import snngraph as sg

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ --run-slow
def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (skipped by default)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with python -m pytest --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# ------------------------------------------------------------------- simple helpers
def quiet(net, **kwargs) -> sg.Simulator:
    """A Simulator without a progress bar (``kwargs`` as ``sg.Simulator`` takes them)."""
    return sg.Simulator(net, progress_bar=False, **kwargs)


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable classes in 4-D: ``x`` [n, 4] float32, sparse labels ``y`` [n]."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    y = rng.integers(0, 3, n)
    x = centers[y] + 0.5 * rng.standard_normal((n, 4)).astype(np.float32)
    return x.astype(np.float32), y


@cache
def load_example(name: str):
    """An example script imported by path (examples/ is not a package), once; for
    module-level helpers, which cannot take the ``example`` fixture."""
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def example():
    """``example(name)``: an example script imported by path (examples/ is not a
    package), executed once per session."""
    return load_example


@pytest.fixture(scope="session")
def mnist_subset():
    """``((x_train, y_train), (x_test, y_test))`` of the subset shipped with the package."""
    return sg.datasets.load_mnist(subset="bundled")


@pytest.fixture
def tmp_docs(tmp_path, monkeypatch):
    """An empty working directory: documents saved by bare name land here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------- small networks
def _fixed_gain(net: sg.Network) -> None:
    """Neurons take their input as current directly (gain 1, bias 0), as snnTorch's."""
    net.config[sg.Ensemble].gain = sg.dists.Choice([1.0])
    net.config[sg.Ensemble].bias = sg.dists.Choice([0.0])


def dense_net(neuron_type, n_in=6, n_h=8, n_out=5, seed=0, synapse=None):
    """input -> Dense -> h1 -> Dense -> h2, both layers probed."""
    with sg.Network(seed=seed, label="dense") as net:
        _fixed_gain(net)
        inp = sg.Node(np.zeros(n_in), label="input")
        h1 = sg.Ensemble(n_h, 1, neuron_type=neuron_type, label="h1")
        h2 = sg.Ensemble(n_out, 1, neuron_type=neuron_type, label="h2")
        sg.Connection(inp, h1.neurons, synapse=None,
                      transform=sg.Dense((n_h, n_in), init=sg.dists.Uniform(-0.4, 1.0)))
        sg.Connection(h1.neurons, h2.neurons, synapse=synapse,
                      transform=sg.Dense((n_out, n_h), init=sg.dists.Uniform(-0.2, 0.6)))
        probes = {"h1": sg.Probe(h1.neurons, label="h1"),
                  "h2": sg.Probe(h2.neurons, label="h2")}
    return net, probes


def conv_net(neuron_type, size=8, channels=3, seed=0):
    """an image (size x size x 1) -> 3x3 Conv2D -> h1 -> 2x2 average pool -> h2."""
    with sg.Network(seed=seed, label="conv") as net:
        _fixed_gain(net)
        inp = sg.Node(np.zeros(size * size), label="input")
        x = sg.Layer(sg.Conv2D(channels, 3, kernel_initializer=sg.dists.Uniform(-0.3, 0.8)))(
            inp, shape_in=(size, size, 1), label="conv")
        h1 = sg.Layer(neuron_type)(x, label="h1")
        x = sg.Layer(sg.AvgPool2D(2))(h1, label="pool")
        h2 = sg.Layer(neuron_type)(x, label="h2")
        probes = {"h1": sg.Probe(h1, label="h1"), "h2": sg.Probe(h2, label="h2")}
    return net, probes


def recurrent_net(neuron_type, n_in=6, n_h=8, seed=0):
    """input -> Dense -> h, and h -> Dense -> h through a one-step delay."""
    with sg.Network(seed=seed, label="recurrent") as net:
        _fixed_gain(net)
        inp = sg.Node(np.zeros(n_in), label="input")
        h = sg.Ensemble(n_h, 1, neuron_type=neuron_type, label="h")
        sg.Connection(inp, h.neurons, synapse=None,
                      transform=sg.Dense((n_h, n_in), init=sg.dists.Uniform(-0.4, 1.0)))
        sg.Connection(h.neurons, h.neurons, synapse=sg.Delay(1),
                      transform=sg.Dense((n_h, n_h), init=sg.dists.Uniform(-0.3, 0.3)))
        probes = {"h": sg.Probe(h.neurons, label="h")}
    return net, probes


def nef_channel(neuron_type, n=50, dims=1, seed=0):
    """The NEF communication channel: input -> A -> B, B's decoded value probed
    (filtered, 10 ms) and unfiltered."""
    with sg.Network(seed=seed, label="channel") as net:
        inp = sg.Node(np.zeros(dims), label="input")
        a = sg.Ensemble(n, dims, neuron_type=neuron_type, label="A")
        b = sg.Ensemble(n, dims, neuron_type=neuron_type, label="B")
        sg.Connection(inp, a, synapse=None)
        sg.Connection(a, b, synapse=0.005)
        probes = {"B": sg.Probe(b, synapse=0.01, label="B"),
                  "B-raw": sg.Probe(b, label="B-raw")}
    return net, probes


SMALL_NETS = {"dense": dense_net, "conv": conv_net, "recurrent": recurrent_net,
              "nef-channel": nef_channel}


@pytest.fixture(scope="session")
def small_net():
    """``small_net(kind, neuron_type, **sizes) -> (net, {label: probe})``, ``kind`` one of
    ``SMALL_NETS``; every network has one input Node labelled ``input``."""
    def build(kind: str, neuron_type, **sizes):
        return SMALL_NETS[kind](neuron_type, **sizes)
    return build


# ---------------------------------------------------------------------- BPTT forward
def _bptt_forward(program, x: np.ndarray, probes, steps: int, seed: int = 0):
    """Each probe's output from the BPTT forward pass of ``program`` (the model
    ``fit(method="bptt")`` trains), as ``[examples, steps, ...]`` like ``predict``'s.
    ``x``: ``[examples, size]`` held at every step, or ``[examples, steps, size]``."""
    from snngraph.runtimes.bptt.model import BpttModel, to_examples

    outs = [program.op_of(p) for p in probes]
    feed = x if x.ndim == 3 else x[:, None]
    (name,) = [op.name for op in program.ir.ops() if op.op == "input"]
    values, _ = BpttModel(program, seed=seed).forward_steps({name: feed}, outs, steps, len(x))
    return [to_examples(values[o], steps, len(x)) for o in outs]


@pytest.fixture(scope="session")
def bptt_forward():
    """``bptt_forward(program, x, probes, steps, seed=0) -> [array per probe]``."""
    return _bptt_forward
