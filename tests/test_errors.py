"""Bad input gets a clear error and leaves nothing behind (docs/architecture.md, quality bars).

Every case in ``CASES`` builds a small valid network, records its objects, does one bad
thing and checks the error: it is a ``sg.ValidationError`` (a ``ValueError``) whose message
names the object (class and label), the field and the bad value, carries ``err.field``,
points at the user's creation site in this file ("created at ...test_errors.py:N") exactly
once, and nothing half-made was added to the network.

Cases where the package falls short are ``xfail(strict=True)`` with the reason; fixing the
package turns them into XPASS failures, which is the cue to drop the marker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import snngraph as sg

THIS_FILE = os.path.basename(__file__)


def world(net: sg.Network) -> SimpleNamespace:
    """The valid objects the cases start from (created inside ``net``)."""
    w = SimpleNamespace(net=net)
    w.a = sg.Ensemble(10, 2, label="a")
    w.b = sg.Ensemble(10, 3, label="b")
    w.n = sg.Node([1.0, 2.0], label="n")
    w.img = sg.Node(np.zeros(48), label="img")
    w.pr = sg.Probe(w.a, label="pr")
    w.c = sg.Connection(w.a, w.b[:2], label="c")
    return w


@dataclass
class Case:
    id: str
    bad: Callable[[SimpleNamespace], Any]
    parts: tuple[str, ...]
    field: str | None
    exc: type[Exception] = sg.ValidationError
    outside: bool = False
    xfail: str | None = None


def case(id: str, bad: Callable, *parts: str, field: str | None, **kw: Any) -> Case:
    return Case(id, bad, parts, field, **kw)


def _div0(t: float) -> float:
    return 1 / 0


def _first_eight(x: np.ndarray) -> float:
    return x[7]


CASES = [
    # ------------------------------------------------------------------ Ensemble
    case("ensemble-n_neurons-negative", lambda w: sg.Ensemble(-3, 1, label="e"),
         "Ensemble 'e'", "n_neurons", "-3", field="n_neurons"),
    case("ensemble-n_neurons-zero", lambda w: sg.Ensemble(0, 1, label="e"),
         "Ensemble 'e'", "n_neurons", "got 0", field="n_neurons"),
    case("ensemble-n_neurons-string-number", lambda w: sg.Ensemble("10", 1, label="e"),
         "Ensemble 'e'", "n_neurons", "'10'", field="n_neurons"),
    case("ensemble-dimensions-string-number", lambda w: sg.Ensemble(10, "2", label="e"),
         "Ensemble 'e'", "dimensions", "'2'", field="dimensions"),
    case("ensemble-n_neurons-float", lambda w: sg.Ensemble(3.5, 1, label="e"),
         "Ensemble 'e'", "n_neurons", "3.5", field="n_neurons"),
    case("ensemble-n_neurons-bool", lambda w: sg.Ensemble(True, 1, label="e"),
         "Ensemble 'e'", "n_neurons", "True", field="n_neurons"),
    case("ensemble-radius-zero", lambda w: sg.Ensemble(10, 1, radius=0, label="e"),
         "Ensemble 'e'", "radius", "got 0", field="radius"),
    case("ensemble-radius-nan", lambda w: sg.Ensemble(10, 1, radius=float("nan"), label="e"),
         "Ensemble 'e'", "radius", "nan", field="radius"),
    case("ensemble-neuron_type-string",
         lambda w: sg.Ensemble(10, 1, neuron_type="lif", label="e"),
         "Ensemble 'e'", "neuron_type", "'lif'", field="neuron_type"),
    case("ensemble-neuron_type-class-not-instance",
         lambda w: sg.Ensemble(10, 1, neuron_type=sg.LIF, label="e"),
         "Ensemble 'e'", "neuron_type", "LIF", field="neuron_type"),
    case("ensemble-max_rates-shape",
         lambda w: sg.Ensemble(10, 1, max_rates=np.full(3, 100.0), label="e"),
         "Ensemble 'e'", "max_rates", "(3,)", "(10,)", field="max_rates"),
    case("ensemble-intercepts-shape",
         lambda w: sg.Ensemble(10, 1, intercepts=np.zeros(4), label="e"),
         "Ensemble 'e'", "intercepts", "(4,)", "(10,)", field="intercepts"),
    case("ensemble-encoders-shape",
         lambda w: sg.Ensemble(3, 2, encoders=np.ones((3, 3)), label="e"),
         "Ensemble 'e'", "encoders", "(3, 3)", "(3, 2)", field="encoders"),
    case("ensemble-gain-shape",
         lambda w: sg.Ensemble(3, 1, gain=np.ones(2), bias=np.zeros(2), label="e"),
         "Ensemble 'e'", "gain", "(2,)", "(3,)", field="gain"),
    case("ensemble-bias-shape",
         lambda w: sg.Ensemble(3, 1, gain=np.ones(3), bias=np.zeros(5), label="e"),
         "Ensemble 'e'", "bias", "(5,)", "(3,)", field="bias"),
    case("ensemble-intercepts-out-of-range",
         lambda w: sg.Ensemble(3, 1, intercepts=[0.0, 0.5, 1.5], label="e"),
         "Ensemble 'e'", "intercepts", "1.5", field="intercepts"),
    case("ensemble-max_rates-negative",
         lambda w: sg.Ensemble(3, 1, max_rates=[100.0, -5.0, 200.0], label="e"),
         "Ensemble 'e'", "max_rates", "-5", field="max_rates"),
    case("ensemble-gain-without-bias", lambda w: sg.Ensemble(3, 1, gain=np.ones(3), label="e"),
         "Ensemble 'e'", "gain", "bias", "[1. 1. 1.]", field="gain"),
    case("ensemble-bias-without-gain",
         lambda w: sg.Ensemble(3, 1, bias=np.full(3, 0.5), label="e"),
         "Ensemble 'e'", "bias", "gain", "[0.5 0.5 0.5]", field="bias"),
    case("ensemble-unknown-keyword-typo",
         lambda w: sg.Ensemble(3, 1, max_rate=100.0, label="e"),
         "Ensemble 'e'", "max_rate", "unknown", "100.0", "max_rates", field="max_rate"),
    case("ensemble-too-many-positional", lambda w: sg.Ensemble(3, 1, sg.LIF(), label="e"),
         "Ensemble 'e'", "positional", "n_neurons, dimensions", "got 3", field=None),
    case("ensemble-positional-and-keyword",
         lambda w: sg.Ensemble(3, 1, n_neurons=4, label="e"),
         "Ensemble 'e'", "n_neurons", "both", "3", field="n_neurons"),
    case("ensemble-eval_points-shape",
         lambda w: sg.Ensemble(10, 2, eval_points=np.ones((5, 3)), label="e"),
         "Ensemble 'e'", "eval_points", "(5, 3)", "(n_points, 2)", field="eval_points"),
    case("ensemble-seed-negative", lambda w: sg.Ensemble(10, 1, seed=-1, label="e"),
         "Ensemble 'e'", "seed", "-1", field="seed"),
    case("ensemble-label-not-a-string", lambda w: sg.Ensemble(10, 1, label=5),
         "Ensemble", "label", "got 5", field="label"),
    case("ensemble-nan-in-max_rates",
         lambda w: sg.Ensemble(3, 1, max_rates=[100.0, np.nan, 200.0], label="e"),
         "Ensemble 'e'", "max_rates", "nan", "finite", field="max_rates"),
    case("ensemble-inf-in-encoders",
         lambda w: sg.Ensemble(2, 1, encoders=[[1.0], [np.inf]], label="e"),
         "Ensemble 'e'", "encoders", "inf", "finite", field="encoders"),
    case("ensemble-max_rates-string",
         lambda w: sg.Ensemble(10, 1, max_rates="fast", label="e"),
         "Ensemble 'e'", "max_rates", "'fast'", field="max_rates"),
    case("ensemble-normalize_encoders-string",
         lambda w: sg.Ensemble(10, 1, normalize_encoders="no", label="e"),
         "Ensemble 'e'", "normalize_encoders", "'no'", field="normalize_encoders"),
    case("ensemble-leaky-beta-per-neuron-length",
         lambda w: sg.Ensemble(3, 1, neuron_type=sg.Leaky(beta=[0.5, 0.6]), label="e"),
         "Ensemble 'e'", "neuron_type", "beta", "(2,)", field="neuron_type"),
    case("ensemble-outside-network", lambda w: sg.Ensemble(10, 1, label="x"),
         "Ensemble 'x'", "inside a network", field=None, exc=sg.NetworkContextError,
         outside=True),
    # ------------------------------------------------------------------ Network
    case("network-seed-negative", lambda w: sg.Network(seed=-1, label="sub"),
         "Network 'sub'", "seed", "-1", field="seed"),
    case("network-seed-too-large", lambda w: sg.Network(seed=2**32, label="sub"),
         "Network 'sub'", "seed", str(2**32), field="seed"),
    # ------------------------------------------------------------------ Node
    case("node-passthrough-without-size_in", lambda w: sg.Node(label="p"),
         "Node 'p'", "size_in", "got 0", field="size_in"),
    case("node-size_out-mismatch", lambda w: sg.Node([1.0, 2.0], size_out=3, label="p"),
         "Node 'p'", "size_out", "got 3", "expected 2", field="size_out"),
    case("node-2d-output", lambda w: sg.Node(np.ones((2, 2)), label="p"),
         "Node 'p'", "output", "(2, 2)", field="output"),
    case("node-constant-output-with-size_in", lambda w: sg.Node([1.0], size_in=2, label="p"),
         "Node 'p'", "size_in", "got 2", field="size_in"),
    case("node-callable-raises", lambda w: sg.Node(_div0, label="p"),
         "Node 'p'", "output", "ZeroDivisionError", "_div0", field="output"),
    case("node-callable-returns-string", lambda w: sg.Node(lambda t: "x", label="p"),
         "Node 'p'", "output", "'x'", field="output"),
    case("node-output-string", lambda w: sg.Node("abc", label="p"),
         "Node 'p'", "output", "'abc'", field="output"),
    case("node-encoder-without-size_in", lambda w: sg.Node(sg.PoissonEncoder(), label="p"),
         "Node 'p'", "size_in", "PoissonEncoder", "got 0", field="size_in"),
    case("node-size_in-negative", lambda w: sg.Node(size_in=-2, label="p"),
         "Node 'p'", "size_in", "-2", field="size_in"),
    # ------------------------------------------------------------------ Connection
    case("connection-pre-is-probe", lambda w: sg.Connection(w.pr, w.b, label="x"),
         "Connection 'x'", "pre", "Probe 'pr'", field="pre"),
    case("connection-pre-is-string", lambda w: sg.Connection("a", w.b, label="x"),
         "Connection 'x'", "pre", "'a'", field="pre"),
    case("connection-post-size_in-zero", lambda w: sg.Connection(w.a, w.n, label="x"),
         "Connection 'x'", "post", "Node 'n'", "size_in=0", field="post"),
    case("connection-transform-matrix-shape",
         lambda w: sg.Connection(w.a, w.b, transform=np.ones((2, 3)), label="x"),
         "Connection 'x'", "transform", "(2, 3)", "(3, 2)", field="transform"),
    case("connection-unlabelled-transform-matrix-shape",
         lambda w: sg.Connection(w.a, w.b, transform=np.ones((4, 4))),
         "Connection from <Ensemble 'a'> to <Ensemble 'b'>", "transform", "(4, 4)", "(3, 2)",
         field="transform"),
    case("connection-scalar-transform-unequal-sizes",
         lambda w: sg.Connection(w.a, w.b, transform=2.0, label="x"),
         "Connection 'x'", "transform", "2.0", "(3, 2)", field="transform"),
    case("connection-diagonal-wrong-length",
         lambda w: sg.Connection(w.a, w.a, transform=np.ones(3), label="x"),
         "Connection 'x'", "transform", "(3,)", "length 2", field="transform"),
    case("connection-transform-3d",
         lambda w: sg.Connection(w.a, w.a, transform=np.ones((2, 2, 2)), label="x"),
         "Connection 'x'", "transform", "(2, 2, 2)", field="transform"),
    case("connection-nan-in-transform",
         lambda w: sg.Connection(w.a, w.a, transform=np.array([[1.0, np.nan], [0.0, 1.0]]),
                                 label="x"),
         "Connection 'x'", "transform", "nan", "finite", field="transform"),
    case("dense-init-wrong-shape",
         lambda w: sg.Connection(w.a, w.b, transform=sg.Dense((3, 2), np.ones((2, 2))),
                                 label="x"),
         "Dense", "init", "(2, 2)", "(3, 2)", field="init"),
    case("connection-dense-size-mismatch",
         lambda w: sg.Connection(w.a, w.b, transform=sg.Dense((3, 4), sg.dists.Uniform()),
                                 label="x"),
         "Connection 'x'", "transform", "(4,)", "2 -> 3", field="transform"),
    case("connection-convolution-input-size",
         lambda w: sg.Connection(w.img, w.b.neurons, transform=sg.Convolution(2, (5, 5, 1)),
                                 label="x"),
         "Connection 'x'", "transform", "48", "25", "(5, 5, 1)", field="transform"),
    case("convolution-kernel-too-large", lambda w: sg.Convolution(2, (4, 4, 3), kernel_size=5),
         "Convolution", "kernel_size", "(5, 5)", "(4, 4)", field="kernel_size"),
    case("convolution-init-shape",
         lambda w: sg.Convolution(2, (5, 5, 1), init=np.ones((3, 3, 2, 2))),
         "Convolution", "init", "(3, 3, 2, 2)", "(3, 3, 1, 2)", field="init"),
    case("convolution-padding-full", lambda w: sg.Convolution(2, (5, 5, 1), padding="full"),
         "Convolution", "padding", "'full'", field="padding"),
    case("connection-function-on-neurons",
         lambda w: sg.Connection(w.a.neurons, w.b, function=np.sin, label="x"),
         "Connection 'x'", "function", "sin", field="function"),
    case("connection-function-raises",
         lambda w: sg.Connection(w.a, w.b[0], function=_first_eight, label="x"),
         "Connection 'x'", "function", "IndexError", "_first_eight", field="function"),
    case("connection-function-returns-string",
         lambda w: sg.Connection(w.a, w.b, function=lambda x: "abc", label="x"),
         "Connection 'x'", "function", "'abc'", field="function"),
    case("connection-eval_points-shape",
         lambda w: sg.Connection(w.a, w.b[:2], eval_points=np.ones((5, 3)), label="x"),
         "Connection 'x'", "eval_points", "(5, 3)", "(n_points, 2)", field="eval_points"),
    case("connection-eval_points-from-node",
         lambda w: sg.Connection(w.n, w.a, eval_points=np.ones((3, 2)), label="x"),
         "Connection 'x'", "eval_points", "(3, 2)", field="eval_points"),
    case("connection-synapse-string",
         lambda w: sg.Connection(w.a, w.a, synapse="fast", label="x"),
         "Connection 'x'", "synapse", "'fast'", field="synapse"),
    case("connection-synapse-bool", lambda w: sg.Connection(w.a, w.a, synapse=True, label="x"),
         "Connection 'x'", "synapse", "True", field="synapse"),
    case("connection-synapse-negative-number",
         lambda w: sg.Connection(w.a, w.a, synapse=-1, label="x"),
         "Connection 'x'", "synapse", "-1", field="synapse"),
    # ------------------------------------------------------------------ Probe
    case("probe-bad-attr", lambda w: sg.Probe(w.a, "spikes", label="x"),
         "Probe 'x'", "attr", "'spikes'", "decoded_output", field="attr"),
    case("probe-target-string", lambda w: sg.Probe("a", label="x"),
         "Probe 'x'", "target", "'a'", field="target"),
    case("probe-target-network", lambda w: sg.Probe(w.net, label="x"),
         "Probe 'x'", "target", "Network", field="target"),
    case("probe-negative-sample_every", lambda w: sg.Probe(w.a, sample_every=-0.1, label="x"),
         "Probe 'x'", "sample_every", "-0.1", field="sample_every"),
    # ------------------------------------------------------------------ slices
    case("slice-index-out-of-range", lambda w: w.a[5],
         "Ensemble 'a'", "[index]", "got 5", "[-2, 2)", field="[index]"),
    case("slice-empty", lambda w: w.a[1:1],
         "Ensemble 'a'", "[index]", "slice(1, 1, None)", field="[index]"),
    case("slice-float-index", lambda w: w.a[0.5],
         "Ensemble 'a'", "[index]", "0.5", field="[index]"),
    case("slice-node-list-out-of-range", lambda w: w.n[[0, 2]],
         "Node 'n'", "[index]", "[0, 2]", field="[index]"),
    case("slice-neurons-list-out-of-range", lambda w: w.a.neurons[[0, 99]],
         "Neurons of <Ensemble 'a'>", "[index]", "[0, 99]", "[-10, 10)", field="[index]"),
    # ------------------------------------------------------------------ neuron types
    case("lif-tau_rc-negative", lambda w: sg.LIF(tau_rc=-0.02),
         "LIF", "tau_rc", "-0.02", field="tau_rc"),
    case("lifrate-tau_rc-zero", lambda w: sg.LIFRate(tau_rc=0),
         "LIFRate", "tau_rc", "got 0", field="tau_rc"),
    case("lifrate-tau_ref-negative", lambda w: sg.LIFRate(tau_ref=-0.001),
         "LIFRate", "tau_ref", "-0.001", field="tau_ref"),
    case("lif-amplitude-zero", lambda w: sg.LIF(amplitude=0),
         "LIF", "amplitude", "got 0", field="amplitude"),
    case("lif-too-many-positional", lambda w: sg.LIF(0.02, 0.002, 1.0),
         "LIF", "positional", "tau_rc, tau_ref", "got 3", field=None),
    case("relu-amplitude-negative", lambda w: sg.RectifiedLinear(amplitude=-1),
         "RectifiedLinear", "amplitude", "-1", field="amplitude"),
    case("spiking-relu-amplitude-string", lambda w: sg.SpikingRectifiedLinear(amplitude="1"),
         "SpikingRectifiedLinear", "amplitude", "'1'", field="amplitude"),
    case("leaky-beta-above-one", lambda w: sg.Leaky(beta=1.5),
         "Leaky", "beta", "1.5", field="beta"),
    case("leaky-beta-array-negative", lambda w: sg.Leaky(beta=[0.5, -0.1, 0.9]),
         "Leaky", "beta", "-0.1", field="beta"),
    case("leaky-beta-2d", lambda w: sg.Leaky(beta=[[0.5]]),
         "Leaky", "beta", "[[0.5]]", field="beta"),
    case("leaky-bad-reset", lambda w: sg.Leaky(reset="hard"),
         "Leaky", "reset", "'hard'", "'subtract'", field="reset"),
    case("leaky-threshold-zero", lambda w: sg.Leaky(threshold=0),
         "Leaky", "threshold", "got 0", field="threshold"),
    case("li-tau_mem-zero", lambda w: sg.LI(tau_mem=0),
         "LI", "tau_mem", "got 0", field="tau_mem"),
    case("li-tau_syn-negative", lambda w: sg.LI(tau_syn=-0.005),
         "LI", "tau_syn", "-0.005", field="tau_syn"),
    case("cubalif-v_reset-at-threshold", lambda w: sg.CubaLIF(v_reset=1.0),
         "CubaLIF", "v_reset", "1.0", "v_th", field="v_reset"),
    case("cubalif-tau_syn-zero", lambda w: sg.CubaLIF(tau_syn=0),
         "CubaLIF", "tau_syn", "got 0", field="tau_syn"),
    case("sigmoid-tau_ref-zero", lambda w: sg.Sigmoid(tau_ref=0),
         "Sigmoid", "tau_ref", "got 0", field="tau_ref"),
    case("tanh-tau_ref-negative", lambda w: sg.Tanh(tau_ref=-1),
         "Tanh", "tau_ref", "-1", field="tau_ref"),
    case("loihilif-tau_rc-zero", lambda w: sg.LoihiLIF(tau_rc=0),
         "LoihiLIF", "tau_rc", "got 0", field="tau_rc"),
    case("loihi-relu-amplitude-nan",
         lambda w: sg.LoihiSpikingRectifiedLinear(amplitude=float("nan")),
         "LoihiSpikingRectifiedLinear", "amplitude", "nan", field="amplitude"),
    # ------------------------------------------------------------------ synapses
    case("lowpass-negative", lambda w: sg.Lowpass(-1), "Lowpass", "tau", "-1", field="tau"),
    case("alpha-zero", lambda w: sg.Alpha(0), "Alpha", "tau", "got 0", field="tau"),
    case("linearfilter-empty-den", lambda w: sg.LinearFilter([1.0], []),
         "LinearFilter", "den", "[]", field="den"),
    case("linearfilter-leading-zero", lambda w: sg.LinearFilter([1.0], [0.0, 1.0]),
         "LinearFilter", "den", "[0. 1.]", field="den"),
    case("linearfilter-improper", lambda w: sg.LinearFilter([1.0, 2.0, 3.0], [1.0, 1.0]),
         "LinearFilter", "num", "[1. 2. 3.]", field="num"),
    case("delay-zero", lambda w: sg.Delay(0), "Delay", "steps", "got 0", field="steps"),
    case("delay-fractional", lambda w: sg.Delay(1.5), "Delay", "steps", "1.5", field="steps"),
    # ------------------------------------------------------------------ distributions
    # (low > high is allowed for real values, as in Nengo: it draws from (high, low])
    case("uniform-integer-low-above-high", lambda w: sg.dists.Uniform(1.0, 0.0, integer=True),
         "Uniform", "high", "0.0", "low=1", field="high"),
    case("gaussian-std-zero", lambda w: sg.dists.Gaussian(0.0, 0.0),
         "Gaussian", "std", "0.0", field="std"),
    case("choice-empty", lambda w: sg.dists.Choice([]),
         "Choice", "options", "shape=(0,)", field="options"),
    case("choice-weights-wrong-length", lambda w: sg.dists.Choice([1, 2, 3], [1.0, 1.0]),
         "Choice", "weights", "(2,)", "(3,)", field="weights"),
    case("choice-weights-negative", lambda w: sg.dists.Choice([1, 2], [1.0, -1.0]),
         "Choice", "weights", "-1.", field="weights"),
    case("choice-nan-option", lambda w: sg.dists.Choice([1.0, np.nan]),
         "Choice", "options", "nan", "finite", field="options"),
    case("hypersphere-min_magnitude-one",
         lambda w: sg.dists.UniformHypersphere(min_magnitude=1.0),
         "UniformHypersphere", "min_magnitude", "1.0", field="min_magnitude"),
    case("hypersphere-surface-with-min_magnitude",
         lambda w: sg.dists.UniformHypersphere(surface=True, min_magnitude=0.5),
         "UniformHypersphere", "min_magnitude", "0.5", "surface", field="min_magnitude"),
    case("glorot-bad-distribution", lambda w: sg.dists.Glorot(distribution="cauchy"),
         "Glorot", "distribution", "'cauchy'", field="distribution"),
    # ------------------------------------------------------------------ transforms
    case("sparse-indices-out-of-range", lambda w: sg.Sparse((3, 3), [[0, 0], [3, 1]]),
         "Sparse", "indices", "[3 1]", "(3, 3)", field="indices"),
    case("sparse-float-indices", lambda w: sg.Sparse((3, 3), [[0, 0], [1.5, 1]]),
         "Sparse", "indices", "1.5", "float64", field="indices"),
    case("pooling-window-too-large", lambda w: sg.Pooling((2, 2, 1), 3),
         "Pooling", "pool_size", "(3, 3)", "(2, 2)", field="pool_size"),
    case("pooling-bad-kind", lambda w: sg.Pooling((4, 4, 1), 2, kind="median"),
         "Pooling", "kind", "'median'", field="kind"),
    case("dense-shape-negative", lambda w: sg.Dense((3, -2)),
         "Dense", "shape", "-2", field="shape.1"),
    # ------------------------------------------------------------------ processes
    case("present-input-empty", lambda w: sg.PresentInput(np.zeros((0, 3)), 0.1),
         "PresentInput", "inputs", "(0, 3)", field="inputs"),
    case("present-input-time-zero", lambda w: sg.PresentInput(np.zeros((2, 3)), 0),
         "PresentInput", "presentation_time", "got 0", field="presentation_time"),
    case("poisson-f_max-negative", lambda w: sg.PoissonEncoder(f_max=-5),
         "PoissonEncoder", "f_max", "-5", field="f_max"),
    case("constant-current-encoder-tau_mem-zero",
         lambda w: sg.ConstantCurrentLIFEncoder(tau_mem=0),
         "ConstantCurrentLIFEncoder", "tau_mem", "got 0", field="tau_mem"),
    # ------------------------------------------------------------------ BlockShape
    case("blockshape-rank-mismatch", lambda w: sg.BlockShape((4, 4), (10,)),
         "BlockShape", "shape", "(4, 4)", "(10,)", field="shape"),
    case("blockshape-zero-block", lambda w: sg.BlockShape((0, 4), (10, 10)),
         "BlockShape", "shape", "got 0", field="shape.0"),
    # ------------------------------------------------------------------ config
    case("config-unknown-class-attribute",
         lambda w: setattr(w.net.config[sg.Ensemble], "max_rate", 100.0),
         "Config[Ensemble]", "max_rate", "max_rates", "got 100.0", field="max_rate"),
    case("config-wrong-typed-default",
         lambda w: setattr(w.net.config[sg.Ensemble], "max_rates", "fast"),
         "Config[Ensemble]", "max_rates", "'fast'", field="max_rates"),
    case("config-block_shape-wrong-neuron-count",
         lambda w: setattr(w.net.config[w.a], "block_shape", sg.BlockShape((4,), (12,))),
         "Ensemble 'a'", "block_shape", "12", "10", field="block_shape"),
    case("config-unknown-instance-setting",
         lambda w: setattr(w.net.config[w.a], "unknown_setting", 1),
         "Ensemble 'a'", "unknown_setting", "on_chip", "got 1", field="unknown_setting"),
    case("config-on_chip-string",
         lambda w: setattr(w.net.config[w.a], "on_chip", "yes"),
         "Ensemble 'a'", "on_chip", "'yes'", field="on_chip"),
    # ------------------------------------------------------------------ Layer
    case("layer-shape_in-wrong-count",
         lambda w: sg.Layer(sg.Conv2D(2))(w.img, shape_in=(5, 5, 1), label="conv1"),
         "conv1", "Conv2D", "shape_in", "(5, 5, 1)", "48", field="shape_in"),
    case("layer-conv2d-non-image-shape_in",
         lambda w: sg.Layer(sg.Conv2D(2))(w.img, shape_in=(48,)),
         "Layer(Conv2D)", "shape_in", "(48,)", field="shape_in"),
    case("layer-not-a-spec", lambda w: sg.Layer("relu"),
         "Layer", "spec", "'relu'", field="spec"),
    case("layer-neurons-on-a-connection-leaves-nothing",
         lambda w: sg.Layer(sg.LIF())(w.c, label="L"),
         "'L'", "x", "Connection 'c'", field="x"),
    case("layer-dense-on-a-connection-leaves-nothing",
         lambda w: sg.Layer(sg.Dense(5))(w.c, label="D"),
         "'D'", "x", "Connection 'c'", field="x"),
]


def _params():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        yield pytest.param(c, id=c.id, marks=marks)


def test_enough_distinct_cases():
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", list(_params()))
def test_bad_input(c: Case):
    net = sg.Network(label="world")
    with net:
        w = world(net)
        before = list(net.all_objects)
        if not c.outside:
            with pytest.raises(c.exc) as err:
                c.bad(w)
            after = list(net.all_objects)
    if c.outside:
        with pytest.raises(c.exc) as err:
            c.bad(w)
        after = list(net.all_objects)

    msg = str(err.value)
    # object, field and value must be in the message itself, not only in the echoed
    # source line that follows "created at"
    head = msg.split("\n  created at")[0]
    for part in c.parts:
        assert part in head, f"{part!r} missing from:\n{msg}"
    if c.field is not None:
        assert err.value.field == c.field, msg
    assert "created at" in msg, msg
    assert THIS_FILE in msg, msg
    assert msg.count("created at") == 1, msg
    assert after == before, f"partial objects left: {after[len(before):]}"
    if c.exc is sg.ValidationError:
        assert isinstance(err.value, ValueError)


# ---------------------------------------------------------------------- assignment
def test_assign_n_neurons_negative_keeps_old_value():
    with sg.Network():
        ens = sg.Ensemble(10, 1, label="a")
        with pytest.raises(sg.ValidationError) as err:
            ens.n_neurons = -1
    msg = str(err.value)
    assert "Ensemble 'a'" in msg and "n_neurons" in msg and "-1" in msg
    assert err.value.field == "n_neurons"
    assert "created at" in msg and THIS_FILE in msg
    assert ens.n_neurons == 10


def test_assign_n_neurons_that_breaks_array_shapes_keeps_old_value():
    with sg.Network():
        ens = sg.Ensemble(3, 1, max_rates=[100.0, 200.0, 300.0], label="a")
        with pytest.raises(sg.ValidationError) as err:
            ens.n_neurons = 4
    assert "max_rates" in str(err.value) and "(4,)" in str(err.value)
    assert ens.n_neurons == 3


def test_assign_unknown_attribute():
    with sg.Network():
        ens = sg.Ensemble(10, 1, label="a")
        with pytest.raises(sg.ValidationError) as err:
            ens.n_neuron = 5
    msg = str(err.value)
    assert "Ensemble 'a'" in msg and "n_neuron" in msg and "n_neurons" in msg
    assert err.value.field == "n_neuron"
    assert not hasattr(ens, "n_neuron")


def test_assign_transform_wrong_shape_keeps_old_transform():
    with sg.Network():
        a = sg.Ensemble(10, 2, label="a")
        b = sg.Ensemble(10, 3, label="b")
        old = np.arange(6.0).reshape(3, 2)
        conn = sg.Connection(a, b, transform=old, label="c")
        with pytest.raises(sg.ValidationError) as err:
            conn.transform = np.ones((2, 3))
    msg = str(err.value)
    assert "Connection 'c'" in msg and "transform" in msg
    assert "(2, 3)" in msg and "(3, 2)" in msg
    assert err.value.field == "transform"
    assert "created at" in msg and THIS_FILE in msg
    np.testing.assert_array_equal(conn.transform, old)
    assert conn.transform.shape == (3, 2)


def test_assign_node_size_out_keeps_old_value():
    with sg.Network():
        node = sg.Node([1.0, 2.0], label="n")
        with pytest.raises(sg.ValidationError) as err:
            node.size_out = 7
    assert "Node 'n'" in str(err.value) and "size_out" in str(err.value)
    assert node.size_out == 2


def test_assign_lif_tau_rc_zero():
    lif = sg.LIF(tau_rc=0.03)
    with pytest.raises(sg.ValidationError) as err:
        lif.tau_rc = 0
    msg = str(err.value)
    assert "LIF" in msg and "tau_rc" in msg and "got 0" in msg
    assert err.value.field == "tau_rc"
    assert "created at" in msg and THIS_FILE in msg
    assert lif.tau_rc == 0.03


def test_assign_leaky_reset_bad_string():
    neuron = sg.Leaky(0.8, reset="zero")
    with pytest.raises(sg.ValidationError) as err:
        neuron.reset = "hard"
    assert "'hard'" in str(err.value) and err.value.field == "reset"
    assert neuron.reset == "zero"


# ---------------------------------------------------------------------- error types
def test_validation_error_is_a_value_error():
    assert issubclass(sg.ValidationError, ValueError)
    assert issubclass(sg.ValidationError, sg.SnnError)
    with sg.Network():
        with pytest.raises(ValueError):
            sg.Ensemble(-1, 1)


def test_network_context_error_is_an_snn_error():
    assert issubclass(sg.NetworkContextError, sg.SnnError)
    with pytest.raises(sg.SnnError):
        sg.Node([1.0])


def test_error_attributes():
    with sg.Network():
        with pytest.raises(sg.ValidationError) as err:
            sg.Ensemble(10, 1, radius=-2.0, label="r")
    e = err.value
    assert e.obj == "Ensemble 'r'"
    assert e.field == "radius"
    assert e.value == -2.0
    assert e.site is not None and THIS_FILE in str(e.site.file)
    assert "radius=-2.0" in e.site.code


def test_block_larger_than_ensemble_axis_is_accepted():
    # The W2 tutorial's block shape: edge tiles are clipped, so (16, 16, 4) over (13, 13, 32)
    # is valid (one tile along the clipped axes), as in NengoLoihi.
    shape = sg.BlockShape((16, 16, 4), (13, 13, 32))
    assert shape.n_neurons == 13 * 13 * 32
    assert shape.n_blocks == 8
