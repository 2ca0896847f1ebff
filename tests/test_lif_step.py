"""The LIF step kernel's two sub-step paths (series and libm) and the dense linear
kernel's blocked loop: each checked against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snngraph.runtimes.numba_cpu.jit import jit
from snngraph.runtimes.numba_cpu.kernels import linear_row

from snngraph.neurons.lif import (
    LIF,
    SERIES_LIMIT,
    _spikes_libm,
    _spikes_series,
    expm1_series,
    lif_step,
    log1p_series,
)

F32 = np.float32


def test_series_are_exact_to_float32_rounding_over_their_range():
    u = np.linspace(-SERIES_LIMIT, SERIES_LIMIT, 20001, dtype=F32)
    exact_log, exact_exp = np.log1p(u.astype(np.float64)), np.expm1(u.astype(np.float64))
    log = np.array([log1p_series(F32(v)) for v in u], dtype=np.float64)
    exp = np.array([expm1_series(F32(v)) for v in u], dtype=np.float64)
    scale_log = np.maximum(np.abs(exact_log), 1e-30)
    scale_exp = np.maximum(np.abs(exact_exp), 1e-30)
    assert np.max(np.abs(log - exact_log) / scale_log) < 2 * np.finfo(F32).eps
    assert np.max(np.abs(exp - exact_exp) / scale_exp) < 2 * np.finfo(F32).eps


def run_both(x, gain, bias, dt, tau_rc, v0=None):
    """Spike trains and final state of the series path and the libm path on one input."""
    n = x.shape[1]
    params = np.ascontiguousarray(LIF(tau_rc=tau_rc).kernel_params(n, dt), F32)
    step, per_step = F32(dt), F32(1.0 / dt)
    results = []
    for sub in (jit(_spikes_series), jit(_spikes_libm)):
        state = np.zeros((2, n), F32)
        if v0 is not None:
            state[0] = v0
        out = np.zeros(n, F32)
        spikes = []
        for row in x:
            state[1] -= step
            idle = state[1] <= 0
            integrated = state[0] - (gain * row + bias - state[0]) * params[4]
            state[0] = np.maximum(np.where(idle, integrated, state[0]), params[3])
            out[:] = 0
            sub(step, per_step, row, gain, bias, out, state, params)
            spikes.append(out.copy())
        results.append((np.array(spikes), state))
    return results


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), tau_rc=st.sampled_from([0.01, 0.02, 0.05]))
def test_series_path_matches_libm_path(seed, tau_rc):
    """Same spikes; sub-step times within float32 rounding of libm's."""
    rng = np.random.default_rng(seed)
    n, steps, dt = 200, 300, 0.001
    gain = rng.uniform(0.5, 20, n).astype(F32)
    bias = rng.uniform(-2, 3, n).astype(F32)
    x = (rng.standard_normal((steps, n)) * 0.5).astype(F32)
    (s_series, st_series), (s_libm, st_libm) = run_both(x, gain, bias, dt, tau_rc)
    assert np.mean(s_series != s_libm) < 1e-3  # a spike can move by a step at a tie
    same = np.all(s_series == s_libm, axis=0)  # neurons whose spikes all agree: their
    assert same.mean() > 0.95  # voltages and refractory times agree to rounding, as
    # amplified by the dynamics: a sub-step spike time divides by the voltage's rise in
    # the step, so an ulp there moved a voltage 300 steps later by 1.8e-5 (seed 18214)
    np.testing.assert_allclose(st_series[:, same], st_libm[:, same], atol=1e-4)


def test_step_uses_libm_when_a_voltage_starts_above_threshold():
    """A given initial voltage above 1 puts the spike-time argument outside the series'
    range (here -0.9): the kernel must take the libm path, not extrapolate the series
    (which would be off by a fifth)."""
    n, dt, tau_rc = 2, 0.001, 0.02
    gain, bias = np.ones(n, F32), np.array([2.0, 0.5], F32)
    params = np.ascontiguousarray(LIF().kernel_params(n, dt), F32)
    state = np.zeros((1, 2, n), F32)
    state[0, 0] = [1.9, 0.2]
    out = np.zeros((1, n), F32)
    jit(lif_step)(dt, np.zeros((1, n), F32), gain, bias, out, state, params)
    v = 1.9 - (2.0 - 1.9) * np.expm1(-dt / tau_rc)
    t_spike = dt + tau_rc * np.log1p(-(v - 1) / (2.0 - 1))
    assert out[0, 0] == pytest.approx(1000.0)
    assert state[0, 1, 0] == pytest.approx(0.002 + t_spike, rel=1e-5)
    assert log1p_series(F32(-(v - 1))) != pytest.approx(np.log1p(-(v - 1)), rel=0.1)


@settings(max_examples=30, deadline=None)
@given(n_in=st.integers(1, 23), n_out=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_dense_linear_equals_one_row_at_a_time(n_in, n_out, seed):
    """The blocked dense loop adds in the same order as one row at a time: bit-identical."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_in).astype(F32)
    wt = rng.standard_normal((n_in, n_out)).astype(F32)
    bias = rng.standard_normal(n_out).astype(F32)
    out = np.zeros(n_out, F32)
    linear_row(x, wt, bias, out, 0.0, np.zeros(n_in, np.int32))  # 0: the dense path
    expected = bias.copy()
    for j in range(n_in):
        expected += x[j] * wt[j]
    np.testing.assert_array_equal(out, expected)
