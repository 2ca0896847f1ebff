"""Issue 16, items 3, 6, 8 and 12: the input current probe, run-time checks of Node
functions and data, messages for bad arguments, and one result key per probe. Every
message test checks that the message names the object or argument, the bad value and a
fix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import quiet
from snngraph.compiler.program import Program

import snngraph as sg


# ------------------------------------------------------------------ 3. neuron input probe
def current_net(neuron_type=None, on_chip=None):
    """A constant input through a dense connection into 4 neurons and straight into
    the ensemble (encoders), with an input probe on the neurons."""
    with sg.Network(seed=3) as net:
        stim = sg.Node([0.5, -0.25, 1.0], label="stim")
        ens = sg.Ensemble(4, 1, neuron_type=neuron_type or sg.LIF(), label="ens")
        w = np.arange(12, dtype=float).reshape(4, 3) / 10 - 0.5
        sg.Connection(stim, ens.neurons, transform=w, synapse=None, label="dense")
        sg.Connection(stim[0], ens, synapse=None, label="decoded")
        probe = sg.Probe(ens.neurons, "input", label="J")
        spikes = sg.Probe(ens.neurons, label="spikes")
    if on_chip is not None:
        net.config[ens].on_chip = on_chip
    return net, ens, w, probe, spikes


def hand_current(program, ens, w):
    """J = gain * (W x + encoders x[0] / radius) + bias, Nengo's neuron input."""
    ir = program.ir
    neurons = ir.op(program.op_of(ens))
    gain, bias = ir.params[neurons.gain], ir.params[neurons.bias]
    enc = next(op for op in ir.ops() if op.op == "linear" and op.role == "encoders")
    x = np.array([0.5, -0.25, 1.0])
    return gain * (w @ x + ir.params[enc.weights] @ x[:1]) + bias


@pytest.mark.parametrize("neuron_type", [sg.LIF(), sg.RectifiedLinear(), sg.Leaky(beta=0.9)],
                         ids=["LIF", "ReLU", "Leaky"])
def test_neuron_input_probe_records_the_current_not_the_spikes(neuron_type):
    net, ens, w, probe, spikes = current_net(neuron_type)
    with quiet(net) as sim:
        sim.run_steps(5)
        J = sim.data[probe]
        expected = hand_current(sim.program, ens, w)
        assert J.shape == (1, 5, 4)
        np.testing.assert_allclose(J[0], np.tile(expected, (5, 1)), rtol=1e-5, atol=1e-6)
        assert not np.allclose(J, sim.data[spikes])


def test_neuron_input_probe_in_predict_fused_and_rate_runtimes():
    net, ens, w, probe, _ = current_net()
    for fuse in (True, False):
        with quiet(net, fuse=fuse) as sim:
            out = sim.predict(np.zeros((2, 3)) + [0.5, -0.25, 1.0], n_steps=3)
            expected = hand_current(sim.program, ens, w)
            np.testing.assert_allclose(out[probe], np.broadcast_to(expected, (2, 3, 4)),
                                       rtol=1e-5, atol=1e-6)
    with quiet(net, backend="rate") as sim:
        sim.run_steps(2)
        np.testing.assert_allclose(sim.data[probe][0, -1], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)


def test_neuron_input_probe_follows_scale_firing_rates():
    net, ens, w, probe, _ = current_net(sg.RectifiedLinear())
    with quiet(net, scale_firing_rates=4.0) as sim:
        sim.run_steps(1)
        np.testing.assert_allclose(sim.data[probe][0, 0], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sim.data[probe][0, 0],
                                   4.0 * hand_current(sg.compile(net), ens, w), rtol=1e-5,
                                   atol=1e-6)


def test_neuron_input_probe_of_a_chip_ensemble_is_refused_at_compile_time():
    net, *_ = current_net(sg.LoihiLIF(), on_chip=True)
    with pytest.raises(sg.CompileError, match=r"(?s)'J'.*input.*'ens'.*on_chip = False"):
        sg.compile(net, target="loihi")


def test_neuron_input_probe_of_a_host_ensemble_on_the_loihi_target():
    net, ens, w, probe, _ = current_net(sg.LoihiLIF(), on_chip=False)
    with quiet(net, backend="loihi") as sim:
        sim.run_steps(2)
        np.testing.assert_allclose(sim.data[probe][0, -1], hand_current(sim.program, ens, w),
                                   rtol=1e-5, atol=1e-6)


def test_input_probes_of_a_neuron_slice_and_of_an_ensemble():
    """``ens.neurons[1:3]`` records its part of J; ``Probe(ens, "input")`` records the
    vector fed to the ensemble (its dimensions, as Nengo), not the encoded one."""
    with sg.Network(seed=3) as net:
        stim = sg.Node([0.5, -0.25], label="stim")
        ens = sg.Ensemble(4, 2, label="ens")
        sg.Connection(stim, ens, synapse=None)
        sg.Connection(stim[1], ens[0], transform=2.0, synapse=None)
        part = sg.Probe(ens.neurons[1:3], "input", label="part")
        vec = sg.Probe(ens, "input", label="vec")
        first = sg.Probe(ens[1], "input", label="first")
    with quiet(net) as sim:
        sim.run_steps(2)
        ir = sim.program.ir
        enc = next(op for op in ir.ops() if op.op == "linear" and op.role == "encoders")
        current = next(op for op in ir.ops() if op.op == "linear" and op.role == "current")
        x = np.array([0.5 - 0.5, -0.25])
        J = ir.params[current.weights] * (ir.params[enc.weights] @ x) + ir.params[current.bias]
        np.testing.assert_allclose(sim.data[part][0, -1], J[1:3], rtol=1e-5)
        np.testing.assert_allclose(sim.data[vec][0, -1], x, rtol=1e-6)
        np.testing.assert_allclose(sim.data[first][0, -1], x[1:], rtol=1e-6)


# ------------------------------------------------------------------ 12. one key per probe
def two_probe_net():
    with sg.Network(seed=1, label="two") as net:
        inp = sg.Node(np.zeros(3), label="inp")
        ens = sg.Ensemble(5, 1, neuron_type=sg.RectifiedLinear(), label="out")  # takes %out
        sg.Connection(inp, ens.neurons, transform=np.ones((5, 3)), synapse=None)
        p = sg.Probe(ens.neurons, label="out")  # its op is %out_2
        q = sg.Probe(ens.neurons, synapse=0.01)  # unlabelled
    return net, p, q


def test_predict_and_data_have_one_key_per_probe_the_probe_object():
    net, p, q = two_probe_net()
    x = np.ones((2, 4, 3), np.float32)
    with quiet(net) as sim:
        out = sim.predict(x)
        assert list(out) == [p, q] and len(out) == 2
        sim.run_steps(4, data=x[:1])
        assert list(sim.data) == [p, q]
        np.testing.assert_array_equal(out["out"], out[p])  # by label too
        np.testing.assert_array_equal(out[sim.program.op_of(p)], out[p])  # and op name
        assert "out" in out and p in out and "nope" not in out
        with pytest.raises(sg.ValidationError, match=r"(?s)'nope' is not a probe.*probes: "
                                                     r"out, .*fix: index with a Probe"):
            out["nope"]


def test_a_simulator_from_a_saved_program_keys_results_by_label(tmp_path):
    net, p, q = two_probe_net()
    x = np.ones((2, 4, 3), np.float32)
    with quiet(net) as sim:
        want = sim.predict(x)
    path = sg.compile(net).save(tmp_path / "prog.json")
    program = Program.load(path)
    with quiet(program) as sim:
        out = sim.predict(x)
        unlabelled = next(k for k in out if k != "out")
        assert list(out) == ["out", unlabelled] and unlabelled.startswith("probe")
        np.testing.assert_array_equal(out["out"], want[p])
        np.testing.assert_array_equal(out[p], want[p])  # the user's Probe finds its label
        np.testing.assert_array_equal(out[unlabelled], want[q])
        sim.run_steps(4, data=x[:1])
        assert list(sim.data) == ["out", unlabelled]
        np.testing.assert_array_equal(sim.data[p], want[p][:1])


# ------------------------------------------------------------------ 6. run-time checks
def node_net(fn, size_in=0, label="f"):
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(2), label="inp")
        f = sg.Node(fn, size_in=size_in, label=label)
        if size_in:
            sg.Connection(inp, f, synapse=None)
        out = sg.Node(size_in=f.size_out, label="out")
        sg.Connection(f, out, synapse=None)
        probe = sg.Probe(out, label="p")
    return net, probe


def test_a_node_returning_nan_at_run_time_is_named_with_the_step_and_value():
    net, _ = node_net(lambda t: [np.nan, 1.0] if t > 0.0025 else [0.0, 1.0])
    for fuse in (False, True):  # a function of time is tabulated for fused code
        with quiet(net, fuse=fuse) as sim, pytest.raises(sg.SimulationError) as info:
            sim.run_steps(5)
        msg = str(info.value)
        assert "Node 'f'.output" in msg and "step 3 (t=0.003 s" in msg
        assert "nan" in msg and "fix: return finite numbers" in msg


def test_a_node_of_its_input_returning_nan_names_the_example():
    net, _ = node_net(lambda t, x: x * np.nan if t > 0 and x[0] == 0 else x, size_in=2)
    x = np.array([[1.0, 2.0], [0.0, 0.0]])
    with quiet(net) as sim, pytest.raises(sg.SimulationError,
                                         match=r"(?s)Node 'f'.output: returned a non-finite "
                                               r"value.*step 1 .*example 1.*fix"):
        sim.predict(x, n_steps=2)


def test_a_node_returning_the_wrong_number_of_values_names_node_and_sizes():
    net, _ = node_net(lambda t: [1.0, 2.0] if t == 0 else [1.0, 2.0, 3.0])
    with quiet(net, fuse=False) as sim, pytest.raises(sg.SimulationError) as info:
        sim.run_steps(2)
    msg = str(info.value)
    assert "Node 'f'.output: returned 3 value(s) ([1.0, 2.0, 3.0]), expected 2" in msg
    assert "step 1" in msg and "fix: return 2 number(s) at every step (size_out=2)" in msg


def test_complex_input_data_are_refused_naming_the_input():
    net, _ = node_net(lambda t, x: x, size_in=2)
    with quiet(net) as sim, pytest.raises(sg.ValidationError) as info:
        sim.predict(np.ones((2, 2)) * (1 + 2j), n_steps=2)
    msg = str(info.value)
    assert "data for %inp (Node 'inp')" in msg and "complex128" in msg
    assert "imaginary part" in msg and "fix: pass real values: np.real(x)" in msg


def test_fit_and_predict_on_an_empty_dataset_are_refused():
    net, probe = node_net(lambda t, x: x, size_in=2)
    with quiet(net) as sim:
        for call in (lambda: sim.fit(np.zeros((0, 2)), {probe: np.zeros((0, 2))},
                                     loss=sg.losses.MSE(), verbose=0),
                     lambda: sim.predict(np.zeros((0, 2)), n_steps=2)):
            with pytest.raises(sg.ValidationError, match=r"(?s)%inp \(Node 'inp'\): has 0 "
                                                         r"examples \(shape \(0, 2\)\).*fix: "
                                                         "pass at least one"):
                call()


# ------------------------------------------------------------------ 8. messages
def test_a_minibatch_too_big_for_memory_names_the_argument_before_allocating():
    net, _ = node_net(lambda t, x: x, size_in=2)
    with pytest.raises(sg.ValidationError) as info:
        quiet(net, minibatch_size=10**12)
    msg = str(info.value)
    assert msg.startswith("Simulator.minibatch_size: 1,000,000,000,000 examples")
    assert "TiB" in msg and "memory available" in msg
    assert "fix: use a smaller minibatch_size" in msg and info.value.field == "minibatch_size"


def test_predict_on_a_network_without_probes_says_so():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(2), label="inp")
        sg.Connection(inp, sg.Ensemble(5, 2, label="ens"))
    with quiet(net) as sim, pytest.raises(sg.ValidationError,
                                         match=r"(?s)has no probes.*got data=array.*fix: add "
                                               r"sg.Probe\(obj\)"):
        sim.predict(np.ones((2, 2)), n_steps=2)


@pytest.mark.parametrize("x, says", [
    (np.array([["a", "b"]]), r"holds <U1 values \(e.g. np.str_\('a'\)\), not numbers.*fix: "
                             r"convert the data to numbers"),
    (np.array([[1.0, None]], dtype=object), r"holds None \(NoneType\) at index \(0, 1\), not "
                                            r"a number.*fix: fill in the missing values"),
    ([[1.0, 2.0], [1.0]], r"is not a rectangular array.*fix: give every example the same"),
    (np.array([[1.0, np.inf]]), r"contains NaN or inf \(1 value\(s\); the first, inf, at "
                                r"index \(0, 0, 1\)\).*fix: replace or drop"),
], ids=["strings", "None", "ragged", "inf"])
def test_data_that_are_not_finite_numbers_are_named(x, says):
    net, _ = node_net(lambda t, x: x, size_in=2)
    with quiet(net) as sim, pytest.raises(sg.ValidationError,
                                         match=r"(?s)data for %inp \(Node 'inp'\): " + says):
        sim.predict(x, n_steps=2)


@pytest.mark.parametrize("pre", ["ensemble", "node"])
def test_a_connection_function_of_the_wrong_size_names_the_function(pre):
    with sg.Network(seed=0):
        a = sg.Ensemble(5, 2, label="a") if pre == "ensemble" else sg.Node([0, 0], label="a")
        b = sg.Ensemble(5, 2, label="b")
        with pytest.raises(sg.ValidationError) as info:
            sg.Connection(a, b, function=lambda x: [x[0], x[1], 1.0], label="c")
    msg = str(info.value)
    assert msg.startswith("Connection 'c'.function: returns 3 value(s) but post "
                          "<Ensemble 'b'> takes 2 (got <function")
    assert "fix: return 2 value(s) from the function, or give a transform of shape (2, 3)" \
        in msg and "transform" not in msg.split("\n")[0]


def test_a_transform_after_a_function_counts_the_function_output():
    with sg.Network(seed=0):
        a, b = sg.Ensemble(5, 2, label="a"), sg.Ensemble(5, 2, label="b")
        with pytest.raises(sg.ValidationError,
                           match=r"expected shape \(2, 3\) = \(post size, function output "
                                 r"size\) from <Ensemble 'a'> through its function \(3 "
                                 r"values\)"):
            sg.Connection(a, b, function=lambda x: [x[0], x[1], 1.0], transform=np.ones((2, 2)))


def test_a_misspelled_simulator_keyword_gets_did_you_mean():
    net, _ = node_net(lambda t, x: x, size_in=2)
    with pytest.raises(sg.ArgumentError) as info:
        sg.Simulator(net, minibatch=200)
    assert str(info.value) == ("Simulator: unknown keyword argument 'minibatch' (got "
                               "minibatch=200)\n  fix: did you mean minibatch_size? "
                               "Simulator(..., minibatch_size=200)")
    assert isinstance(info.value, TypeError) and info.value.field == "minibatch"


@pytest.mark.parametrize("call, bad, good", [
    (lambda sim, x, p: sim.fit(x, {p: x}, epoch=2), "epoch", "epochs"),
    (lambda sim, x, p: sim.evaluate(x, {p: x}, metric=None), "metric", "metrics"),
    (lambda sim, x, p: sim.predict(x, nsteps=3), "nsteps", "n_steps"),
    (lambda sim, x, p: sim.compile(lose=sg.losses.MSE()), "lose", "loss"),
    (lambda sim, x, p: sim.run_steps(3, dat=x), "dat", "data"),
], ids=["fit", "evaluate", "predict", "compile", "run_steps"])
def test_misspelled_method_keywords_get_did_you_mean(call, bad, good):
    net, probe = node_net(lambda t, x: x, size_in=2)
    with quiet(net) as sim, pytest.raises(sg.ArgumentError) as info:
        call(sim, np.ones((1, 2)), probe)
    msg = str(info.value)
    assert f"unknown keyword argument {bad!r} (got {bad}=" in msg
    assert f"fix: did you mean {good}?" in msg


def test_a_misspelled_compile_keyword_gets_did_you_mean():
    net, _ = node_net(lambda t, x: x, size_in=2)
    with pytest.raises(sg.ArgumentError, match=r"compile: unknown keyword argument 'scale_"
                                               r"firing_rate' \(got scale_firing_rate=2\)\n  "
                                               "fix: did you mean scale_firing_rates?"):
        sg.compile(net, scale_firing_rate=2)


def test_channels_first_shape_in_gets_a_channel_order_hint():
    with sg.Network(seed=0):
        inp = sg.Node(np.zeros(784), label="inp")
        with pytest.raises(sg.ValidationError) as info:
            sg.Layer(sg.Conv2D(8, 3))(inp, shape_in=(1, 28, 28), label="conv")
        msg = str(info.value)
        assert msg.startswith("Layer(Conv2D).shape_in: does not fit the layer")
        assert "(got (1, 28, 28))" in msg
        assert "fix: snngraph images are channels-last (height, width, channels); for a " \
               "channels-first image pass shape_in=(28, 28, 1)" in msg
        rgb = sg.Node(np.zeros(3 * 32 * 32), label="rgb")  # fits, but surely not meant
        with pytest.warns(UserWarning, match=r"shape_in=\(3, 32, 32\) looks channels-first.*"
                                             r"shape_in=\(32, 32, 3\)"):
            sg.Layer(sg.Conv2D(8, 3))(rgb, shape_in=(3, 32, 32), label="conv_rgb")
        with pytest.raises(sg.ValidationError, match=r"(?s)Convolution.kernel_size.*fix: "
                                                     r"snngraph images are channels-last.*"
                                                     r"input_shape=\(28, 28, 1\)"):
            sg.Convolution(4, (1, 28, 28), kernel_size=(3, 3))


# ------------------------------------------------------------------ more bad inputs
# Each names the object or argument and the bad value, and gives a fix.
def dense_net():
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(8))(inp, label="dense")
        h = sg.Layer(sg.RectifiedLinear())(h, label="hidden")
        out = sg.Layer(sg.Dense(3))(h, label="out")
        probe = sg.Probe(out, label="out_p")
    return net, probe


X = np.random.default_rng(0).uniform(0, 1, (8, 4)).astype(np.float32)
Y = np.zeros((8, 3), np.float32)


def bad(call, error, *parts):
    """``call`` raises ``error`` whose message holds every part (in order)."""
    with pytest.raises(error) as info:
        call()
    msg = str(info.value)
    at = 0
    for part in parts:
        found = msg.find(part, at)
        assert found >= 0, f"{part!r} not in (after {at}): {msg}"
        at = found + len(part)
    assert "fix: " in msg, msg
    return msg


# -- compile
def test_bad_compile_target_gets_did_you_mean():
    bad(lambda: sg.compile(dense_net()[0], target="CPU"), sg.CompileError,
        "compile: unknown target 'CPU'", "fix: did you mean target='cpu'?")


def test_bad_simulator_target_points_to_backend():
    bad(lambda: sg.Simulator(dense_net()[0], target="loihi"), sg.ValidationError,
        "Simulator: target='loihi'", "fix: pass backend=")


def test_bad_scale_firing_rates_label_gets_did_you_mean():
    bad(lambda: sg.compile(dense_net()[0], scale_firing_rates={"hiden": 2.0}), sg.CompileError,
        "scale_firing_rates names 'hiden'", "(ensembles: hidden)", "did you mean 'hidden'?")


def test_bad_compile_dt_string():
    bad(lambda: sg.compile(dense_net()[0], dt="0.001"), sg.CompileError,
        "compile: dt must be", "(got '0.001')", "fix: pass a number, e.g. dt=0.001")


def test_bad_print_after_pass_name_gets_did_you_mean():
    bad(lambda: sg.compile(dense_net()[0], print_after="optimise"), sg.CompileError,
        "print_after names 'optimise'", "did you mean print_after='optimize'?")


def test_bad_swap_word_gets_did_you_mean():
    bad(lambda: sg.compile(dense_net()[0], swap="spiking"), sg.CompileError,
        "compile: swap must be", "(got 'spiking')", "did you mean swap='spike'?")


# -- simulate
def test_bad_backend_name_gets_did_you_mean():
    bad(lambda: sg.Simulator(dense_net()[0], backend="Numba"), sg.ValidationError,
        "Simulator.backend: unknown backend 'Numba'", "did you mean backend='numba'?")


def test_bad_result_label_gets_did_you_mean():
    net, _ = dense_net()
    with quiet(net) as sim:
        out = sim.predict(X, n_steps=1)
        bad(lambda: out["out_q"], sg.ValidationError,
            "sim.predict(...): 'out_q' is not a probe", "(probes: out_p)",
            "did you mean 'out_p'?")
        sim.run_steps(1, data=X[:1])
        bad(lambda: sim.data["outp"], sg.ValidationError, "sim.data: 'outp'",
            "did you mean 'out_p'?")


def test_bad_connection_function_value_at_run_time_names_the_connection():
    with sg.Network(seed=0) as net:
        a = sg.Node(np.zeros(2), label="a")
        b = sg.Node(size_in=2, label="b")
        sg.Connection(a, b, function=lambda x: x * np.nan if x[0] < 0 else x, label="c",
                      synapse=None)
        sg.Probe(b, label="pb")
    with quiet(net) as sim:
        bad(lambda: sim.predict(np.array([[1.0, 2.0], [-1.0, 0.0]]), n_steps=2),
            sg.SimulationError, "Connection 'c'.function: returned a non-finite value",
            "at step 1 (t=0.001 s, example 1)", "fix: return finite numbers")


def test_bad_node_output_type_at_run_time():
    net, _ = node_net(lambda t: [0.0, 1.0] if t == 0 else "ready")
    with quiet(net, fuse=False) as sim:
        bad(lambda: sim.run_steps(2), sg.SimulationError,
            "Node 'f'.output: returned 'ready', not numbers", "at step 1",
            "fix: return 2 number(s) at every step (size_out=2)")


def test_bad_node_output_on_the_rate_backend():
    net, _ = node_net(lambda t, x: np.append(x, 1.0) if t > 0 else x, size_in=2)
    with quiet(net, backend="rate") as sim:
        bad(lambda: sim.predict(X[:, :2], n_steps=1), sg.SimulationError,
            "Node 'f'.output: returned 3 value(s)", "expected 2", "fix: return 2 number(s)")


def test_bad_run_seconds_type():
    net, _ = dense_net()
    with quiet(net) as sim:
        bad(lambda: sim.run("1"), sg.ValidationError, "Simulator.run.seconds: expected a "
            "number of seconds (got '1')", "fix: e.g. sim.run(0.5)")


def test_bad_predict_n_steps_zero_is_refused():
    """It ran the data's own steps before (one step here) as if n_steps were not given."""
    net, _ = dense_net()
    with quiet(net) as sim:
        bad(lambda: sim.predict(X, n_steps=0), sg.ValidationError,
            "Simulator.n_steps: expected an integer >= 1 (got 0)", "fix: pass a whole "
            "number, e.g. n_steps=1")


# -- fit
def test_bad_fit_probe_label_gets_did_you_mean():
    net, _ = dense_net()
    with quiet(net) as sim:
        bad(lambda: sim.fit(X, {"out_P": Y}, loss=sg.losses.MSE(), verbose=0),
            sg.ValidationError, "Simulator.fit: 'out_P' is not a probe of this network",
            "did you mean 'out_p'?")


def test_bad_fit_validation_data_without_examples():
    net, p = dense_net()
    with quiet(net) as sim:
        bad(lambda: sim.fit(X, {p: Y}, loss=sg.losses.MSE(), verbose=0,
                            validation_data=(X[:0], {p: Y[:0]})),
            sg.ValidationError, "data for %inp (Node 'inp'): has 0 examples (shape (0, 4))",
            "fix: pass at least one example")


def test_bad_fit_targets_nan_and_complex():
    net, p = dense_net()
    y = Y.copy()
    y[5, 2] = np.nan
    with quiet(net) as sim:
        bad(lambda: sim.fit(X, {p: y}, loss=sg.losses.MSE(), verbose=0), sg.ValidationError,
            "y for probe out_p: targets contain NaN or inf", "the first, nan, at index "
            "(5, 2)", "fix: replace or drop")
        bad(lambda: sim.fit(X, {p: Y + 1j}, loss=sg.losses.MSE(), verbose=0),
            sg.ValidationError, "y for probe out_p: expected a numeric array", "complex",
            "fix: pass real targets")


def test_bad_fit_epochs_float_suggests_the_whole_number():
    net, p = dense_net()
    with quiet(net) as sim:
        bad(lambda: sim.fit(X, {p: Y}, epochs=2.0, verbose=0), sg.ValidationError,
            "fit.epochs: expected an integer >= 1 (got 2.0)", "fix: epochs=2")


@pytest.mark.parametrize("backend", ["numba", "rate"])
def test_input_probes_of_an_unconnected_ensemble_read_the_bias_and_zero(backend):
    """Before: 'takes no input' (a slice's input probe) and a crash on None (rate)."""
    with sg.Network(seed=0) as net:
        ens = sg.Ensemble(3, 1, neuron_type=sg.RectifiedLinear(), label="e")
        current = sg.Probe(ens.neurons, "input", label="J")
        first = sg.Probe(ens[0], "input", label="x0")
    with quiet(net, backend=backend) as sim:
        sim.run_steps(2)
        ir = sim.program.ir  # the neurons op itself is gone: no probe reads its output
        op = next(op for op in ir.ops() if getattr(op, "role", None) == "current")
        bias = ir.params[op.bias]
        assert op.bias == f"{sim.program.op_of(ens)}.bias"
        np.testing.assert_allclose(sim.data[current][0], np.tile(bias, (2, 1)), rtol=1e-6)
        np.testing.assert_array_equal(sim.data[first][0], np.zeros((2, 1)))
