"""Neuron rate curves, gain/bias, encoders, distributions and the L2 solver, each checked
against an independent computation: a closed form written out here, or a brute-force
simulation of the dynamics the peers publish (snnTorch 1.0's and Norse 1.1's neuron
code; NengoLoihi 1.1's ``emulator/interface.py`` for the Loihi types). Nothing is
compared with itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snngraph as sg
from snngraph.dists import Choice, Gaussian, Glorot, Uniform, UniformHypersphere

DT = 0.001
J_GRID = np.array([-2.0, -0.5, 0.0, 0.5, 0.999, 1.0, 1.0001, 1.1, 1.5, 2.0, 3.7, 10.0, 150.0])


def lif_formula(J, tau_rc, tau_ref):
    J = np.asarray(J, dtype=float)
    out = np.zeros_like(J)
    for idx, j in np.ndenumerate(J):
        if j > 1:
            out[idx] = 1.0 / (tau_ref + tau_rc * math.log1p(1.0 / (j - 1.0)))
    return out


# ---------------------------------------------------------------------- LIF
@pytest.mark.parametrize("cls", [sg.LIFRate, sg.LIF])
@pytest.mark.parametrize("tau_rc, tau_ref, amplitude",
                         [(0.02, 0.002, 1.0), (0.05, 0.0, 0.3), (0.01, 0.004, 2.0)])
def test_lif_rates_match_formula(cls, tau_rc, tau_ref, amplitude):
    neuron = cls(tau_rc=tau_rc, tau_ref=tau_ref, amplitude=amplitude)
    expected = amplitude * lif_formula(J_GRID, tau_rc, tau_ref)
    np.testing.assert_allclose(neuron.rates(J_GRID), expected, rtol=1e-12, atol=0)
    assert np.all(neuron.rates(J_GRID[J_GRID <= 1]) == 0)


def simulate_lif_isi(J, tau_rc, tau_ref, dt=1e-6, T=0.5):
    """Euler integration of tau_rc dv/dt = J - v with a tiny step; spike when v crosses 1
    (crossing time interpolated within the step), then v = 0 held for tau_ref. Returns
    the mean inter-spike interval, or inf when fewer than two spikes happened."""
    a = dt / tau_rc
    n_ref = round(tau_ref / dt)
    v, ref, spikes = 0.0, 0, []
    for k in range(round(T / dt)):
        if ref:
            ref -= 1
            continue
        v_new = v + a * (J - v)
        if v_new > 1.0:
            spikes.append((k + (1.0 - v) / (v_new - v)) * dt)
            v, ref = 0.0, n_ref
        else:
            v = v_new
    if len(spikes) < 2:
        return math.inf
    return (spikes[-1] - spikes[0]) / (len(spikes) - 1)


@pytest.mark.parametrize("J", [0.8, 1.1, 1.6, 4.0, 25.0])
def test_lif_rates_match_brute_force_ode(J):
    tau_rc, tau_ref = 0.02, 0.002
    measured = 1.0 / simulate_lif_isi(J, tau_rc, tau_ref)
    for neuron in (sg.LIF(tau_rc=tau_rc, tau_ref=tau_ref), sg.LIFRate(tau_rc, tau_ref)):
        rate = float(neuron.rates(np.array([J]))[0])
        if J <= 1:
            assert measured == 0 and rate == 0
        else:
            assert rate == pytest.approx(measured, rel=2e-3)


# ---------------------------------------------------------------------- ReLU, sigmoid, tanh
@pytest.mark.parametrize("cls", [sg.RectifiedLinear, sg.SpikingRectifiedLinear])
@pytest.mark.parametrize("amplitude", [1.0, 0.25])
def test_relu_rates(cls, amplitude):
    neuron = cls(amplitude=amplitude)
    expected = np.array([amplitude * max(j, 0.0) for j in J_GRID])
    np.testing.assert_array_equal(neuron.rates(J_GRID), expected)


def test_spiking_relu_nengo_step_long_run_rate():
    # Nengo's SpikingRectifiedLinear step: v += J dt; n = floor(v) spikes; v -= n
    J = np.array([0.0, 3.3, 47.0, 512.5, 2500.0])
    v = np.zeros_like(J)
    count = np.zeros_like(J)
    n_steps = 4000
    for _ in range(n_steps):
        v += np.maximum(J, 0) * DT
        n = np.floor(v)
        count += n
        v -= n
    measured = count / (n_steps * DT)
    rates = sg.SpikingRectifiedLinear().rates(J)
    np.testing.assert_allclose(rates, measured, atol=1.0 / (n_steps * DT))


@pytest.mark.parametrize("tau_ref, amplitude", [(0.0025, 1.0), (0.001, 0.5)])
def test_sigmoid_and_tanh_rates_are_nengos(tau_ref, amplitude):
    J = np.linspace(-8, 8, 33)
    sig = sg.Sigmoid(tau_ref=tau_ref, amplitude=amplitude).rates(J)
    expected_sig = [amplitude / tau_ref / (1.0 + math.exp(-j)) for j in J]
    np.testing.assert_allclose(sig, expected_sig, rtol=1e-12)
    tanh = sg.Tanh(tau_ref=tau_ref, amplitude=amplitude).rates(J)
    expected_tanh = [amplitude * math.tanh(j) / tau_ref for j in J]
    np.testing.assert_allclose(tanh, expected_tanh, rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------------- Loihi
def measured_rate(spikes: np.ndarray, dt: float, skip_first: bool = True) -> np.ndarray:
    """Rate from the steady-state inter-spike interval of a [steps, n] 0/1 record
    (the interval between the last two spikes); 0 where fewer than 3 spikes."""
    out = np.zeros(spikes.shape[1])
    for i in range(spikes.shape[1]):
        t = np.flatnonzero(spikes[:, i])
        if len(t) >= (3 if skip_first else 2):
            isis = np.diff(t[1:] if skip_first else t)
            assert np.all(isis == isis[-1]), f"aperiodic spikes in column {i}: {isis}"
            out[i] = 1.0 / (isis[-1] * dt)
    return out


def not_on_step_boundary(period_steps: np.ndarray) -> np.ndarray:
    """False where period/dt is within 1e-6 of an integer (strict v > 1 vs ceil)."""
    with np.errstate(invalid="ignore"):
        return np.abs(period_steps - np.round(period_steps)) > 1e-6


def test_loihi_spiking_relu_matches_chip_steps():
    J = np.concatenate([[-5.0, 0.0, 3.3, 7.7, 45.0, 130.0, 333.3, 480.0, 999.0, 1500.0],
                        np.logspace(0.5, 3.3, 300)])
    period = np.where(J > 0, 1.0 / np.where(J > 0, J, 1.0) / DT, np.inf)
    J = J[~np.isfinite(period) | not_on_step_boundary(period)]
    n_steps = 1500
    v = np.zeros_like(J)
    spikes = np.zeros((n_steps, J.size))
    for t in range(n_steps):  # NengoLoihi's emulator: v += J dt; spike if v > 1; v = 0; v >= 0
        v = np.maximum(v + J * DT, 0.0)
        spiked = v > 1.0
        v[spiked] = 0.0
        spikes[t] = spiked
    measured = measured_rate(spikes, DT, skip_first=False)
    for amplitude in (1.0, 0.4):
        neuron = sg.LoihiSpikingRectifiedLinear(amplitude=amplitude)
        np.testing.assert_allclose(neuron.rates(J), amplitude * measured, rtol=1e-9)


def loihi_decay(tau_rc: float, dt: float) -> float:
    """NengoLoihi's emulator: the voltage decay per step, rounded to 12 bits (over 4095)."""
    return round((1.0 - math.exp(-dt / tau_rc)) * 4095) / 4095


@pytest.mark.parametrize("tau_rc, tau_ref", [(0.02, 0.002), (0.05, 0.0013), (0.007, 0.0)])
def test_loihi_lif_matches_chip_steps(tau_rc, tau_ref):
    d = loihi_decay(tau_rc, DT)
    m = round(tau_ref / DT)  # whole refractory steps (v held at 0 after the spike step)
    tau_rc_d = -DT / math.log1p(-d)
    # a dense grid, so that even the 12-bit rounding of the decay moves some periods
    # across a whole step
    J = np.concatenate([[0.5, 1.0], 1.0 + np.logspace(-3, 2.5, 400)])
    with np.errstate(divide="ignore", invalid="ignore"):
        period = (m * DT + tau_rc_d * np.log1p(1.0 / (J - 1.0))) / DT
    J = J[(J <= 1) | not_on_step_boundary(period)]
    n_steps = 3000
    v = np.zeros_like(J)
    ref = np.zeros(J.shape, dtype=int)
    spikes = np.zeros((n_steps, J.size))
    for t in range(n_steps):
        active = ref == 0
        # exact decay over a whole non-refractory step with the 12-bit decay: LoihiLIF.step
        v = np.where(active, v + (J - v) * d, 0.0)
        ref = np.where(active, 0, ref - 1)
        spiked = v > 1.0
        v[spiked] = 0.0
        ref[spiked] = m
        spikes[t] = spiked
    measured = measured_rate(spikes, DT)
    neuron = sg.LoihiLIF(tau_rc=tau_rc, tau_ref=tau_ref)
    np.testing.assert_allclose(neuron.rates(J), measured, rtol=1e-9)
    assert np.all(measured[J <= 1] == 0)
    assert np.all(measured[J > 1] > 0)


# ---------------------------------------------------------------------- snnTorch Leaky
def snntorch_leaky(current, beta, theta, reset, reset_delay, n_steps, amplitude=1.0):
    """snnTorch 1.0 ``Leaky.forward`` step by step (snntorch/_neurons/leaky.py)."""
    current = np.asarray(current, dtype=float)
    beta = np.clip(np.broadcast_to(np.asarray(beta, dtype=float), current.shape), 0.0, 1.0)
    mem = np.zeros_like(current)
    out = np.zeros((n_steps,) + current.shape)
    for t in range(n_steps):
        r = (mem - theta > 0).astype(float)  # reset from the previous membrane
        if reset == "subtract":
            mem = beta * mem + current - r * theta
        elif reset == "zero":
            mem = beta * ((1.0 - r) * mem) + current
        else:
            mem = beta * mem + current
        spk = (mem - theta > 0).astype(float)
        if not reset_delay:
            do_reset = spk - r  # snnTorch avoids a double reset
            if reset == "subtract":
                mem = mem - do_reset * theta
            elif reset == "zero":
                mem = mem - do_reset * mem
        out[t] = amplitude * spk
    return out


LEAKY_J = np.concatenate([[-0.3, 0.0, 0.07, 0.13, 0.37, 0.61, 0.88, 1.7, 3.1],
                          np.random.default_rng(7).uniform(-0.2, 2.5, 120)])


def _long_run(out: np.ndarray, window: int = 1000) -> np.ndarray:
    return out[-window:].mean(axis=0)


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.97, 1.0])
def test_leaky_zero_reset_matches_snntorch(beta, reset_delay):
    neuron = sg.Leaky(beta=beta, reset="zero", reset_delay=reset_delay)
    out = snntorch_leaky(LEAKY_J, beta, 1.0, "zero", reset_delay, 2000)
    rates = neuron.rates(LEAKY_J)
    np.testing.assert_allclose(rates, _long_run(out), atol=1e-3)
    # zero reset is exactly periodic: the interval between the last two spikes is 1/rate
    np.testing.assert_allclose(rates, measured_rate(out, 1.0, skip_first=False), rtol=1e-12)


@pytest.mark.parametrize("reset_delay", [True, False])
def test_leaky_per_neuron_beta_matches_snntorch(reset_delay):
    beta = np.array([0.0, 0.3, 0.8, 0.95, 1.0])
    theta, amplitude = 0.7, 2.0
    neuron = sg.Leaky(beta=beta, threshold=theta, reset="zero", reset_delay=reset_delay,
                      amplitude=amplitude)
    J = LEAKY_J[:40, None] * np.ones(beta.size)  # rows of inputs, one column per neuron
    out = snntorch_leaky(J, beta, theta, "zero", reset_delay, 2000, amplitude)
    rates = neuron.rates(J)
    assert rates.shape == J.shape
    np.testing.assert_allclose(rates, _long_run(out), atol=amplitude * 1e-3)


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("beta", [0.5, 0.9, 1.0, [0.2, 0.6, 0.9, 0.99, 1.0, 0.5, 0.5, 0.9, 0.1]])
def test_leaky_no_reset_matches_snntorch(beta, reset_delay):
    neuron = sg.Leaky(beta=beta, reset="none", reset_delay=reset_delay)
    J = LEAKY_J if np.ndim(beta) == 0 else LEAKY_J[:40, None] * np.ones(len(beta))
    out = snntorch_leaky(J, beta, 1.0, "none", reset_delay, 2000)
    np.testing.assert_allclose(neuron.rates(J), _long_run(out), atol=1e-3)


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("theta", [1.0, 0.6])
def test_leaky_subtract_beta_one_matches_snntorch(theta, reset_delay):
    neuron = sg.Leaky(beta=1.0, threshold=theta, reset="subtract", reset_delay=reset_delay)
    out = snntorch_leaky(LEAKY_J, 1.0, theta, "subtract", reset_delay, 2000)
    np.testing.assert_allclose(neuron.rates(LEAKY_J), _long_run(out), atol=2e-3)


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("beta", [0.5, 0.9, [0.2, 0.6, 0.9, 0.99, 1.0, 0.5, 0.5, 0.9, 0.1]])
def test_leaky_subtract_with_leak_matches_snntorch(beta, reset_delay):
    """No closed form: the rate is measured from the map; it must agree with snnTorch."""
    neuron = sg.Leaky(beta=beta, reset="subtract", reset_delay=reset_delay)
    J = LEAKY_J if np.ndim(beta) == 0 else LEAKY_J[:40, None] * np.ones(len(beta))
    out = snntorch_leaky(J, beta, 1.0, "subtract", reset_delay, 6000)
    np.testing.assert_allclose(neuron.rates(J), out[-3000:].mean(axis=0), atol=3e-3)


# ---------------------------------------------------------------------- Norse LI, CubaLIF
@pytest.mark.parametrize("tau_syn, tau_mem, v_leak, amplitude, dt",
                         [(0.005, 0.01, 0.0, 1.0, 0.001), (0.002, 0.02, 0.3, 0.5, 0.001),
                          (0.005, 0.01, -0.1, 1.0, 0.0005)])
def test_li_fixed_point_matches_norse(tau_syn, tau_mem, v_leak, amplitude, dt):
    neuron = sg.LI(tau_syn, tau_mem, v_leak=v_leak, amplitude=amplitude)
    x = np.array([-1.0, 0.0, 0.05, 0.2, 1.0, 3.0])
    v, i = np.full_like(x, v_leak), np.zeros_like(x)
    for _ in range(4000):  # norse li_feed_forward_step
        i_jump = i + x
        v = v + dt / tau_mem * ((v_leak - v) + i_jump)
        i = (1.0 - dt / tau_syn) * i_jump
    np.testing.assert_allclose(neuron.rates(x, dt=dt), amplitude * v, rtol=1e-9, atol=1e-12)


def norse_lif(x, n_steps, tau_syn, tau_mem, v_th, v_leak, v_reset, dt=DT):
    """Norse ``lif_feed_forward_step`` with a constant input per step."""
    v, i = np.full_like(x, v_leak), np.zeros_like(x)
    out = np.zeros((n_steps,) + x.shape)
    for t in range(n_steps):
        i_jump = i + x
        v_dec = v + dt / tau_mem * ((v_leak - v) + i_jump)
        i = i_jump - dt / tau_syn * i_jump
        z = (v_dec - v_th > 0).astype(float)
        v = (1.0 - z) * v_dec + z * v_reset
        out[t] = z
    return out


@pytest.mark.parametrize("params", [
    {},
    {"tau_syn": 0.002, "tau_mem": 0.02, "v_th": 0.8, "v_leak": 0.1, "v_reset": -0.2},
    {"tau_syn": 0.01, "tau_mem": 0.005, "v_th": 1.5, "amplitude": 3.0},
])
def test_cubalif_matches_norse(params):
    neuron = sg.CubaLIF(**params)
    x = np.concatenate([[-0.1, 0.0, 0.1, 0.19, 0.21, 0.25, 0.33, 0.5, 1.0, 3.0, 20.0],
                        np.random.default_rng(8).uniform(0.0, 3.0, 100)])
    u = neuron.v_leak + x * neuron.tau_syn / DT  # settled v~ target, only to drop boundaries
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log((u - neuron.v_th) / (u - neuron.v_reset)) / np.log1p(-DT / neuron.tau_mem)
    x = x[~(u > neuron.v_th) | not_on_step_boundary(ratio)]
    out = norse_lif(x, 3000, neuron.tau_syn, neuron.tau_mem, neuron.v_th, neuron.v_leak,
                    neuron.v_reset)
    late = out[1000:]
    measured = measured_rate(late, 1.0)
    np.testing.assert_allclose(neuron.rates(x), neuron.amplitude * measured, rtol=1e-12)


# ---------------------------------------------------------------------- gain and bias
rates_st = st.lists(st.floats(10.0, 400.0), min_size=1, max_size=6)
intercepts_st = st.floats(-0.95, 0.95)


def _draw(data_rates, intercept):
    max_rates = np.array(data_rates)
    intercepts = np.linspace(intercept, -intercept, len(max_rates))  # varied, in range
    return max_rates, intercepts


THRESHOLD_TYPES = [sg.LIFRate(), sg.LIF(tau_rc=0.03, tau_ref=0.001), sg.RectifiedLinear(),
                   sg.SpikingRectifiedLinear(amplitude=0.5)]


@pytest.mark.parametrize("neuron", THRESHOLD_TYPES, ids=lambda n: type(n).__name__)
@settings(max_examples=30, deadline=None)
@given(rates=rates_st, intercept=intercepts_st)
def test_gain_bias_threshold_types(neuron, rates, intercept):
    max_rates, intercepts = _draw(rates, intercept)
    gain, bias = neuron.gain_bias(max_rates, intercepts)
    top = gain + bias
    np.testing.assert_allclose(neuron.rates(top) / neuron.amplitude, max_rates, rtol=1e-6)
    threshold = 1.0 if isinstance(neuron, sg.LIFRate) else 0.0
    np.testing.assert_allclose(gain * intercepts + bias, threshold,
                               atol=1e-9 * (1 + np.abs(gain).max()))
    assert np.all(neuron.rates(gain * (intercepts - 1e-6) + bias) == 0)
    assert np.all(neuron.rates(gain * (intercepts + 1e-6) + bias) > 0)
    mr, ic = neuron.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(mr, max_rates, rtol=1e-6)
    np.testing.assert_allclose(ic, intercepts, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(rates=rates_st, intercept=intercepts_st)
def test_gain_bias_loihi_lif(rates, intercept):
    # NengoLoihi solves gain/bias on the continuous LIF curve; the chip's rate at x=1 is
    # that period rounded up to whole steps with the discretised time constants.
    tau_rc, tau_ref = 0.02, 0.002
    neuron = sg.LoihiLIF(tau_rc=tau_rc, tau_ref=tau_ref)
    max_rates, intercepts = _draw(rates, intercept)
    gain, bias = neuron.gain_bias(max_rates, intercepts)
    top = gain + bias
    np.testing.assert_allclose(lif_formula(top, tau_rc, tau_ref), max_rates, rtol=1e-6)
    tau_rc_d = -DT / math.log1p(-loihi_decay(tau_rc, DT))
    period_d = DT * round(tau_ref / DT) + tau_rc_d * np.log1p(1.0 / (top - 1.0))
    chip_period = 1.0 / neuron.rates(top)
    assert np.all(chip_period >= period_d - 1e-12)
    assert np.all(chip_period < period_d + DT + 1e-12)
    np.testing.assert_allclose(gain * intercepts + bias, 1.0, atol=1e-9 * (1 + np.abs(gain).max()))
    assert np.all(neuron.rates(gain * (intercepts - 1e-6) + bias) == 0)
    assert np.all(neuron.rates(gain * (intercepts + 1e-6) + bias) > 0)
    mr, ic = neuron.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(mr, max_rates, rtol=1e-6)
    np.testing.assert_allclose(ic, intercepts, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(rates=rates_st, intercept=intercepts_st)
def test_gain_bias_sigmoid_and_tanh(rates, intercept):
    max_rates, intercepts = _draw(rates, intercept)
    tau_ref = 0.002  # max rate 500 Hz
    sig = sg.Sigmoid(tau_ref=tau_ref)
    gain, bias = sig.gain_bias(max_rates, intercepts)
    np.testing.assert_allclose(sig.rates(gain + bias), max_rates, rtol=1e-6)
    # Nengo: a sigmoid's intercept is its inflection point (half the maximum rate)
    np.testing.assert_allclose(sig.rates(gain * intercepts + bias), 0.5 / tau_ref, rtol=1e-6)
    mr, ic = sig.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(mr, max_rates, rtol=1e-6)
    np.testing.assert_allclose(ic, intercepts, atol=1e-9)

    tanh = sg.Tanh(tau_ref=tau_ref)
    gain, bias = tanh.gain_bias(max_rates, intercepts)
    np.testing.assert_allclose(tanh.rates(gain + bias), max_rates, rtol=1e-6)
    np.testing.assert_allclose(gain * intercepts + bias, 0.0, atol=1e-9 * (1 + np.abs(gain).max()))
    assert np.all(tanh.rates(gain * (intercepts - 1e-6) + bias) < 0)
    assert np.all(tanh.rates(gain * (intercepts + 1e-6) + bias) > 0)
    mr, ic = tanh.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(mr, max_rates, rtol=1e-6)
    np.testing.assert_allclose(ic, intercepts, atol=1e-9)


def _generic_vs_closed_form(max_rate, intercept):
    neuron = sg.LIFRate()
    g0, b0 = neuron.gain_bias([max_rate], [intercept])
    g1, b1 = sg.NeuronType.gain_bias(neuron, [max_rate], [intercept])
    assert g1[0] == pytest.approx(g0[0], rel=0.01)
    # the rate at x=1 and the x where firing starts
    assert neuron.rates(g1 + b1)[0] == pytest.approx(max_rate, rel=0.01)
    assert (1.0 - b1[0]) / g1[0] == pytest.approx(intercept, abs=0.01)


@pytest.mark.parametrize("max_rate", [20.0, 50.0, 120.0, 250.0, 400.0, 480.0])
@pytest.mark.parametrize("intercept", [-0.95, 0.0, 0.9])
def test_generic_gain_bias_agrees_with_lif_closed_form(max_rate, intercept):
    _generic_vs_closed_form(max_rate, intercept)


@pytest.mark.parametrize("intercept", [-0.5, 0.0, 0.9])
def test_generic_gain_bias_low_max_rate(intercept):
    _generic_vs_closed_form(10.0, intercept)


@pytest.mark.parametrize("neuron, limit", [(sg.LIF(), 500.0), (sg.LIFRate(tau_ref=0.004), 250.0),
                                           (sg.Sigmoid(), 400.0), (sg.Tanh(), 400.0)],
                         ids=["LIF", "LIFRate", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("excess", [0.0, 1.0, 300.0])
def test_gain_bias_rejects_max_rates_at_or_above_limit(neuron, limit, excess):
    bad = limit + excess
    with pytest.raises(sg.ValidationError) as err:
        neuron.gain_bias(np.array([100.0, bad]), np.array([0.0, 0.0]))
    msg = str(err.value)
    assert err.value.field == "max_rates"
    assert "max_rates" in msg and type(neuron).__name__ in msg
    assert f"{bad:g}" in msg
    assert "test_neurons.py" in msg  # where the neuron type was created


# ---------------------------------------------------------------------- encoders
def test_poisson_encoder_mean_rate():
    enc = sg.PoissonEncoder(f_max=100.0, amplitude=2.0)
    x = np.array([0.0, 0.1, 0.5, 1.0])
    n = 20000
    out = enc.run(x, n, dt=DT, rng=np.random.default_rng(1))
    assert out.shape == (n, 4)
    assert set(np.unique(out)) <= {0.0, 2.0}
    p = DT * enc.f_max * x
    measured = out.mean(axis=0) / enc.amplitude
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(measured - p) <= 5 * sigma + 1e-12)
    assert measured[0] == 0
    again = enc.run(x, n, dt=DT, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(out, again)


def norse_constant_current_lif(value, n_steps, tau_mem, v_th, v_leak, v_reset, dt=DT):
    """norse constant_current_lif_encode for one input value, step by step."""
    v, out = 0.0, []
    for _ in range(n_steps):
        v = v + dt * (1.0 / tau_mem) * ((v_leak - v) + value)
        z = 1.0 if v - v_th > 0 else 0.0
        v = v - z * (v - v_reset)
        out.append(z)
    return np.array(out)


ENCODER_X = np.array([[-1.0, 0.0, 0.5, 0.99], [1.0, 1.01, 1.5, 2.82], [4.0, 10.0, 40.0, 200.0]])
ENCODER_PARAMS = [{}, {"tau_mem": 0.02, "v_th": 0.5, "v_leak": 0.1, "v_reset": -0.3,
                       "amplitude": 3.0}]


@pytest.mark.parametrize("params", ENCODER_PARAMS)
def test_constant_current_encoder_matches_norse(params):
    enc = sg.ConstantCurrentLIFEncoder(**params)
    n = 300
    out = enc.run(ENCODER_X, n, dt=DT)
    assert out.shape == (n,) + ENCODER_X.shape
    for idx, value in np.ndenumerate(ENCODER_X):
        expected = enc.amplitude * norse_constant_current_lif(
            value, n, enc.tau_mem, enc.v_th, enc.v_leak, enc.v_reset)
        np.testing.assert_array_equal(out[(slice(None),) + idx], expected, err_msg=str(value))


@pytest.mark.parametrize("params", ENCODER_PARAMS)
def test_spike_latency_encoder_keeps_only_the_first_spike(params):
    enc = sg.SpikeLatencyLIFEncoder(**params)
    n = 300
    out = enc.run(ENCODER_X, n, dt=DT)
    assert out.shape == (n,) + ENCODER_X.shape
    spikes = out > 0
    assert np.all(spikes.sum(axis=0) <= 1)
    for idx, value in np.ndenumerate(ENCODER_X):
        cc = norse_constant_current_lif(value, n, enc.tau_mem, enc.v_th, enc.v_leak,
                                        enc.v_reset)
        col = out[(slice(None),) + idx]
        if cc.any():
            first = int(np.argmax(cc))
            assert np.flatnonzero(col).tolist() == [first]
            assert col[first] == enc.amplitude
        else:
            assert not col.any()
        if enc.v_leak + value <= enc.v_th:  # the membrane settles at or below threshold
            assert not col.any()


def test_default_encoders_never_spike_below_threshold():
    x = np.array([-3.0, 0.0, 0.3, 0.9, 0.999, 1.0])
    for enc in (sg.ConstantCurrentLIFEncoder(), sg.SpikeLatencyLIFEncoder()):
        assert not enc.run(x, 2000).any()
    assert sg.ConstantCurrentLIFEncoder().run(np.array([1.01]), 2000).any()


@pytest.mark.parametrize("T, n_steps", [(0.01, 60), (0.005, 37), (0.001, 9)])
def test_present_input_shows_item_k_during_its_interval(T, n_steps):
    items = np.arange(4 * 2 * 3, dtype=float).reshape(4, 2, 3)
    out = sg.PresentInput(items, T).run(n_steps, dt=DT)
    assert out.shape == (n_steps, 6)
    per_item = round(T / DT)
    for i in range(n_steps):  # step i covers [i dt, (i+1) dt)
        k = (i // per_item) % len(items)
        np.testing.assert_array_equal(out[i], items[k].ravel())


def test_present_input_non_integer_steps_follows_nengo():
    items = np.arange(5.0)[:, None]
    T = 0.0025
    out = sg.PresentInput(items, T).run(20, dt=DT)
    t = (np.arange(20) + 1) * DT
    expected = np.array([items[int((tt - DT) / T + 1e-7) % 5, 0] for tt in t])
    np.testing.assert_array_equal(out[:, 0], expected)


# ---------------------------------------------------------------------- distributions
ALL_DISTS = [Uniform(-2.0, 3.0), Uniform(0.0, 5.0, integer=True), Gaussian(1.0, 0.5),
             Choice([1.0, 2.5, 7.0]), UniformHypersphere(), UniformHypersphere(surface=True),
             Glorot()]


@pytest.mark.parametrize("dist", ALL_DISTS, ids=repr)
def test_sample_shapes_and_determinism(dist):
    assert dist.sample(7, rng=np.random.default_rng(0)).shape == (7,)
    assert dist.sample(7, 3, rng=np.random.default_rng(0)).shape == (7, 3)
    assert dist.sample_shape((7, 3), rng=np.random.default_rng(0)).shape == (7, 3)
    a = dist.sample(50, 4, rng=np.random.default_rng(123))
    b = dist.sample(50, 4, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    c = dist.sample(50, 4, rng=np.random.default_rng(124))
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("dist", [
    Uniform(-2.0, 3.0), Gaussian(1.0, 0.5), Glorot(),
    Choice([1.0, 2.5, 7.0]),
], ids=repr)
def test_sample_shape_fills_a_kernel(dist):
    shape = (3, 3, 2, 4)  # (kh, kw, in, out), as Convolution.init is sampled
    assert dist.sample_shape(shape, rng=np.random.default_rng(0)).shape == shape


def test_uniform_bounds():
    x = Uniform(-2.0, 3.0).sample(5000, rng=np.random.default_rng(0))
    assert x.min() >= -2.0 and x.max() < 3.0
    assert x.min() < -1.9 and x.max() > 2.9
    k = Uniform(0.0, 5.0, integer=True).sample(2000, rng=np.random.default_rng(0))
    assert set(np.unique(k)) == {0.0, 1.0, 2.0, 3.0, 4.0}


def test_choice_options_and_zero_weights():
    d = Choice([1.0, 2.5, 7.0], weights=[1.0, 0.0, 3.0])
    x = d.sample(3000, rng=np.random.default_rng(0))
    assert set(np.unique(x)) == {1.0, 7.0}
    assert np.mean(x == 7.0) == pytest.approx(0.75, abs=0.04)
    rows = Choice([[0.0, 1.0], [2.0, 3.0]]).sample(50, 2, rng=np.random.default_rng(0))
    assert rows.shape == (50, 2)
    assert all(tuple(r) in {(0.0, 1.0), (2.0, 3.0)} for r in rows)


@pytest.mark.parametrize("d", [1, 2, 5, 16])
def test_uniform_hypersphere(d):
    rng = np.random.default_rng(d)
    surface = UniformHypersphere(surface=True).sample(1000, d, rng=rng)
    np.testing.assert_allclose(np.linalg.norm(surface, axis=1), 1.0, rtol=1e-12)
    ball = UniformHypersphere().sample(1000, d, rng=rng)
    norms = np.linalg.norm(ball, axis=1)
    assert np.all(norms <= 1.0 + 1e-12)
    assert norms.max() > 0.9
    shell = UniformHypersphere(min_magnitude=0.6).sample(1000, d, rng=rng)
    norms = np.linalg.norm(shell, axis=1)
    assert np.all(norms >= 0.6 - 1e-12) and np.all(norms <= 1.0 + 1e-12)


@pytest.mark.parametrize("shape, fan_in, fan_out", [((30, 50), 50, 30),
                                                    ((3, 3, 4, 8), 36, 72),
                                                    ((5, 5, 1, 6), 25, 150)])
def test_glorot_uniform_limit(shape, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w = Glorot().sample_shape(shape, rng=np.random.default_rng(0))
    assert w.shape == shape
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.95 * limit
    w2 = Glorot(scale=2.0).sample_shape(shape, rng=np.random.default_rng(0))
    assert np.abs(w2).max() <= 2 * limit and np.abs(w2).max() > 1.9 * limit


def test_glorot_normal_std():
    w = Glorot(distribution="normal").sample_shape((200, 300), rng=np.random.default_rng(0))
    assert w.std() == pytest.approx(math.sqrt(2.0 / 500), rel=0.02)


# ---------------------------------------------------------------------- solver
@pytest.mark.parametrize("reg", [0.0, 0.01, 0.1, 1.0])
def test_lstsq_l2_matches_normal_equations(reg):
    rng = np.random.default_rng(3)
    m, n = 80, 25
    A = np.maximum(rng.normal(50.0, 40.0, size=(m, n)), 0.0)
    Y = rng.uniform(-1, 1, size=(m, 2))
    sigma = reg * A.max()
    expected = np.linalg.inv(A.T @ A + m * sigma**2 * np.eye(n)) @ A.T @ Y
    D = sg.LstsqL2(reg).solve(A, Y)
    np.testing.assert_allclose(D, expected, rtol=1e-6, atol=1e-10)
    # the minimiser of |AD - Y|^2 + m sigma^2 |D|^2 has zero gradient
    grad = A.T @ (A @ D - Y) + m * sigma**2 * D
    assert np.abs(grad).max() < 1e-6 * np.abs(A.T @ Y).max()
    if reg == 0:
        np.testing.assert_allclose(D, np.linalg.lstsq(A, Y, rcond=None)[0], rtol=1e-6)


@pytest.mark.parametrize("max_rate, intercept, ok", [
    (100.0, 1.1, True), (300.0, 0.0, True), (300.0, 1.1, False), (100.0, 0.9, False),
    (300.0, 1.0, False)])
def test_sigmoid_intercepts_checked_by_the_gain_they_give(max_rate, intercept, ok):
    """Sigmoid has no threshold: an intercept of 1.1 is valid below the inflection rate,
    and a pair that gives a negative or infinite gain is refused naming the ensemble."""
    with sg.Network() as net:
        ens = sg.Ensemble(1, 1, neuron_type=sg.Sigmoid(), max_rates=[max_rate],
                          intercepts=[intercept], label="curve")
    if ok:
        sg.compile(net)
        gain, bias = sg.Sigmoid().gain_bias([max_rate], [intercept])
        assert gain[0] > 0
        assert sg.Sigmoid().rates(gain + bias)[0] == pytest.approx(max_rate)  # at x = 1
    else:
        with pytest.raises(sg.CompileError, match="curve.*negative or non-finite gain"):
            sg.compile(net)
    assert ens.label == "curve"


def test_lif_intercepts_still_refused_at_one():
    with pytest.raises(Exception, match="intercepts"), sg.Network():
        sg.Ensemble(1, 1, intercepts=[1.1])
