"""Dynamics of the Numba CPU runtime, each checked against an independent result.

- measured spike rates of every spiking neuron type against its rate curve, and the
  output of every rate type against its curve;
- the spiking kernels step by step against per-step references written out here from
  the peers' published semantics (snnTorch ``Leaky``, Norse ``LIFCell``/``LICell``, Nengo
  ``LIF``/``SpikingRectifiedLinear``, NengoLoihi's ``LoihiLIF``/
  ``LoihiSpikingRectifiedLinear``, as NengoLoihi 1.1's ``emulator/interface.py`` steps them);
- synapses against their closed-form responses, with the one-step delay the backend
  documents (``runtimes/numba_cpu/backend.py``: a synapse or delay outputs at step ``k``
  what it held at the end of step ``k - 1``, and takes step ``k``'s input afterwards);
- encoders against their NumPy references and statistics, seeds, minibatch independence;
- a recurrent Leaky layer against a NumPy loop of snnTorch ``RLeaky``.

Nothing here is compared with the runtime's own kernels. Step ``k`` (0-based) of a probe
is the value at the end of that step, ``t = (k + 1) dt``.
"""

from __future__ import annotations

import numpy as np
import pytest

import snngraph as sg

DT = 0.001
N = 100
FUSE = [pytest.param(False, id="loop"), pytest.param(True, id="fused")]


# ----------------------------------------------------------------------------- helpers
def neuron_net(neuron_type, n, attrs=("output",)):
    """An input Node of ``n`` currents straight into ``n`` neurons (gain 1, bias 0)."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n))
        ens = sg.Ensemble(n, 1, neuron_type=neuron_type, gain=np.ones(n), bias=np.zeros(n))
        sg.Connection(inp, ens.neurons, synapse=None)
        probes = {a: sg.Probe(ens.neurons, None if a == "output" else a) for a in attrs}
    return net, inp, probes


def run_neurons(neuron_type, J, n_steps, attrs=("output",), fuse="auto"):
    """Probed ``attrs`` of neurons driven by ``J`` ([n] constant or [n_steps, n]), each
    as ``[n_steps, n]``."""
    J = np.asarray(J, dtype=np.float32)
    net, inp, probes = neuron_net(neuron_type, J.shape[-1], attrs)
    data = J[None] if J.ndim == 2 else J[None, None]
    with sg.Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run_steps(n_steps, data={inp: data})
        return {a: sim.data[p][0].astype(float) for a, p in probes.items()}


def spike_counts(out, neuron_type):
    """Spikes per step: Nengo-style types output ``amplitude / dt`` per spike, discrete
    (snnTorch/Norse) types ``amplitude``."""
    per_spike = neuron_type.amplitude * (1.0 if neuron_type.discrete else 1.0 / DT)
    counts = out / per_spike
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4,
                               err_msg="output is not a whole number of spikes per step")
    return np.round(counts)


def measured_rate(counts, step_seconds):
    """Rate per neuron from spike counts ``[steps, n]``: the spikes after the first one
    up to the last one, over the time between them.

    A plain count over a fixed window is off by up to one spike (1 / (rate T): 2.8% for
    20 Hz over 1.8 s), because the window cuts inter-spike intervals at both ends. Counting
    from a spike to a spike measures whole intervals, so the error is at most one step of
    jitter over the span (< 0.1% here) for periodic trains. Neurons with fewer than two
    spikes get count / window.
    """
    rates = counts.sum(axis=0) / (len(counts) * step_seconds)
    for i in range(counts.shape[1]):
        steps = np.flatnonzero(counts[:, i])
        if len(steps) >= 2:
            span = (steps[-1] - steps[0]) * step_seconds
            rates[i] = counts[steps[0] + 1:steps[-1] + 1, i].sum() / span
    return rates


def half_step(periods):
    """Offsets so that a period (in steps) lies half-way between whole steps: an aliased
    (at most one spike per step) neuron then has no threshold tie to round either way."""
    return np.asarray(periods, float) + 0.5


# ------------------------------------------------------------- 1. rates vs rate curves
def _loihi_tau_rc(tau_rc):
    """NengoLoihi's emulator: the decay rounded to 12 bits, as a time constant."""
    return -DT / np.log1p(-np.round((1 - np.exp(-DT / tau_rc)) * 4095) / 4095)


def _sweep(name):
    k = np.arange(N)
    if name == "LoihiLIF":  # tau_rc' log1p(1 / (J - 1)) = (k + 0.5) steps
        return 1.0 + 1.0 / np.expm1(half_step(k) * DT / _loihi_tau_rc(0.02))
    if name == "LoihiSpikingRectifiedLinear":  # 1 / J = (k + 0.5) steps, and some J <= 0
        return np.concatenate([-np.linspace(0, 100, 10), 1.0 / (half_step(k[:90]) * DT)])
    if name == "Leaky-zero":  # J (1 - b^n) / (1 - b) = theta at n = k + 0.5
        return 0.1 / (1 - 0.9 ** half_step(k))
    if name == "CubaLIF":  # u (1 - 0.9^n) = 1 at n = k + 0.5, u = J tau_syn / dt
        return DT / 0.005 / (1 - 0.9 ** half_step(k))
    return {"LIF": np.linspace(0.5, 20.0, N),
            "LIF-amp": np.linspace(0.5, 20.0, N),
            "SpikingRectifiedLinear": np.linspace(-50.0, 2500.0, N),
            "Leaky-subtract": np.linspace(-0.05, 1.3, N) + 1e-3 * np.sqrt(2),
            "Leaky-none": np.linspace(-0.05, 0.3, N)}[name]


SPIKING = {
    "LIF": sg.LIF(),
    "LIF-amp": sg.LIF(tau_rc=0.03, tau_ref=0.001, amplitude=0.5),
    "SpikingRectifiedLinear": sg.SpikingRectifiedLinear(),
    "LoihiLIF": sg.LoihiLIF(),
    "LoihiSpikingRectifiedLinear": sg.LoihiSpikingRectifiedLinear(),
    "Leaky-subtract": sg.Leaky(0.9, reset="subtract"),
    "Leaky-zero": sg.Leaky(0.9, reset="zero"),
    "Leaky-none": sg.Leaky(0.9, reset="none"),
    "CubaLIF": sg.CubaLIF(),
}


@pytest.mark.parametrize("name", list(SPIKING))
def test_spike_rates_match_rate_curve(name):
    """100 neurons, 2 s at dt = 1 ms, constant currents; the first 0.2 s (the state
    starts at rest) is skipped. Within 1% wherever the curve is above 5 Hz (0.005 spikes
    per step for the discrete types), and silent where the curve is 0."""
    neuron = SPIKING[name]
    J = _sweep(name).astype(np.float32)
    # op-by-op mode: fused code compiles once per network structure (seconds each on a
    # cold cache), and the tests below check that both modes give the same steps
    out = run_neurons(neuron, J, 2000, fuse=False)["output"]
    counts = spike_counts(out[200:], neuron)
    unit = 1.0 if neuron.discrete else DT  # discrete types' rates are per step
    measured = neuron.amplitude * measured_rate(counts, unit)
    expected = neuron.rates(J.astype(float), DT)
    floor = 0.005 if neuron.discrete else 5.0
    checked = expected > floor * neuron.amplitude
    assert checked.sum() >= 50, "the sweep should exercise the curve"
    rel = np.abs(measured[checked] - expected[checked]) / expected[checked]
    worst = np.argmax(rel)
    assert rel.max() < 0.01, (f"{name}: J={J[checked][worst]!r}: measured "
                              f"{measured[checked][worst]!r}, curve {expected[checked][worst]!r}")
    silent = expected == 0
    assert np.all(counts[:, silent] == 0), f"{name}: spikes where the curve is 0"
    if name == "Leaky-subtract":
        # the curve has no closed form here (it counts spikes over a fixed window of its own
        # iteration, good to ~1 / (2000 rate)): a much longer run of the snnTorch map is
        # sharper, and the runtime is well within 0.2% of it
        long_run = subtract_rate_long_run(J.astype(float), 0.9, 1.0)
        rel = np.abs(measured[checked] - long_run[checked]) / long_run[checked]
        assert rel.max() < 0.002, f"J={J[checked][np.argmax(rel)]!r}: {rel.max():.2e}"


def subtract_rate_long_run(J, beta, theta, steps=40_000, skip=1_000):
    """Spikes per step of ``U = βU + J - θS[t-1]``, ``S = H(U - θ)``, over a long run."""
    mem, spikes, count = np.zeros_like(J), np.zeros_like(J), np.zeros_like(J)
    for t in range(steps):
        mem = beta * mem + J - spikes * theta
        spikes = (mem > theta).astype(float)
        if t >= skip:
            count += spikes
    return count / (steps - skip)


def test_spiking_relu_fires_several_spikes_per_step():
    out = run_neurons(sg.SpikingRectifiedLinear(), [2500.0, 1000.0], 20)["output"]
    counts = spike_counts(out, sg.SpikingRectifiedLinear())
    assert set(np.unique(counts[:, 0])) == {2.0, 3.0}  # 2.5 spikes per step
    assert counts[:, 0].sum() == 50 and np.all(counts[:, 1] == 1)


def test_loihi_relu_at_most_one_spike_per_step():
    out = run_neurons(sg.LoihiSpikingRectifiedLinear(), [2500.0, 1e5], 20)["output"]
    np.testing.assert_allclose(out, 1.0 / DT, rtol=1e-6)  # one per step, not 2.5 or 100


RATE_TYPES = {
    "LIFRate": (sg.LIFRate(), np.linspace(0.0, 10.0, N)),
    "LIFRate-amp": (sg.LIFRate(tau_rc=0.05, tau_ref=0.004, amplitude=0.3),
                    np.linspace(0.0, 10.0, N)),
    "RectifiedLinear": (sg.RectifiedLinear(amplitude=2.0), np.linspace(-5.0, 500.0, N)),
    "Sigmoid": (sg.Sigmoid(), np.linspace(-6.0, 6.0, N)),
    "Tanh": (sg.Tanh(tau_ref=0.01), np.linspace(-3.0, 3.0, N)),
}


@pytest.mark.parametrize("name", list(RATE_TYPES))
def test_rate_types_output_their_curve(name):
    neuron, J = RATE_TYPES[name]
    J = J.astype(np.float32)
    out = run_neurons(neuron, J, 3)["output"]
    expected = neuron.rates(J.astype(float), DT)
    for k in range(3):
        np.testing.assert_allclose(out[k], expected, rtol=2e-7, atol=1e-6)


def test_li_converges_to_its_steady_state():
    """LI's 'rate' is its steady-state voltage v_leak + J tau_syn / dt."""
    neuron = sg.LI(tau_syn=0.004, tau_mem=0.02, v_leak=0.1)
    J = np.linspace(-1.0, 1.0, N).astype(np.float32)
    out = run_neurons(neuron, J, 2000, fuse=False)["output"]
    expected = 0.1 + J.astype(float) * 0.004 / DT
    np.testing.assert_allclose(neuron.rates(J.astype(float), DT), expected, rtol=1e-12)
    np.testing.assert_allclose(out[-1], expected, rtol=1e-5, atol=1e-5)
    assert np.abs(out[5] - expected).max() > 0.1  # it starts away from it


# ------------------------------------------------- 2. kernels vs per-step references
def ref_snntorch_leaky(cur, beta, theta, reset, reset_delay):
    """snnTorch 1.0 ``Leaky.forward``, per step (snntorch/_neurons/leaky.py):
    ``R = H(U - θ)`` from the previous membrane; subtract ``U = βU + I - Rθ``, zero
    ``U = β(1 - R)U + I``, none ``U = βU + I``; ``S = H(U - θ)``; without the reset
    delay, ``U -= (S - R)θ`` (subtract) or ``U -= (S - R)U`` (zero) in the same step."""
    mem = np.zeros(cur.shape[1])
    spikes, mems = np.zeros_like(cur), np.zeros_like(cur)
    for t in range(len(cur)):
        R = (mem > theta).astype(float)
        if reset == "subtract":
            mem = beta * mem + cur[t] - R * theta
        elif reset == "zero":
            mem = beta * ((1 - R) * mem) + cur[t]
        else:
            mem = beta * mem + cur[t]
        S = (mem > theta).astype(float)
        if not reset_delay:
            do_reset = S - R
            if reset == "subtract":
                mem = mem - do_reset * theta
            elif reset == "zero":
                mem = mem - do_reset * mem
        spikes[t], mems[t] = S, mem
    return spikes, mems


def ref_norse_cuba(x, dt, tau_mem, tau_syn, v_th, v_leak, v_reset, spiking=True):
    """Norse ``lif_feed_forward_step`` (``li_feed_forward_step`` with spiking=False):
    current jump first, forward Euler voltage, reset to v_reset without delay."""
    v, i = np.full(x.shape[1], v_leak), np.zeros(x.shape[1])
    zs, vs, cs = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for t in range(len(x)):
        jumped = i + x[t]
        v_new = v + dt / tau_mem * ((v_leak - v) + jumped)
        i = jumped - dt / tau_syn * jumped
        z = (v_new > v_th).astype(float) if spiking else np.zeros_like(v)
        v = (1 - z) * v_new + z * v_reset
        zs[t], vs[t], cs[t] = z, v, i
    return zs, vs, cs


def ref_nengo_relu(J, dt, amplitude=1.0):
    """Nengo ``SpikingRectifiedLinear.step``: ``v += max(J, 0) dt``; floor(v) spikes."""
    v = np.zeros(J.shape[1])
    out, vs = np.zeros_like(J), np.zeros_like(J)
    for t in range(len(J)):
        v = v + np.maximum(J[t], 0) * dt
        n_spikes = np.floor(v)
        out[t] = amplitude / dt * n_spikes
        v = v - n_spikes
        vs[t] = v
    return out, vs


def ref_loihi_relu(J, dt, amplitude=1.0):
    """NengoLoihi ``LoihiSpikingRectifiedLinear.step``: ``v += J dt``; one spike when
    ``v > 1``, then ``v = 0`` (the overshoot is lost); ``v >= 0``."""
    v = np.zeros(J.shape[1])
    out, vs = np.zeros_like(J), np.zeros_like(J)
    for t in range(len(J)):
        v = v + J[t] * dt
        spiked = v > 1
        out[t] = spiked * (amplitude / dt)
        v[v < 0] = 0
        v[spiked] = 0
        vs[t] = v
    return out, vs


def ref_nengo_lif(J, dt, tau_rc, tau_ref, loihi=False, amplitude=1.0, min_voltage=0.0):
    """Nengo ``LIF.step`` (exact sub-step integration, interpolated spike time, refractory
    from it) or, with ``loihi``, NengoLoihi ``LoihiLIF.step`` (discretised tau_rc and
    tau_ref, refractory ``tau_ref' + dt``)."""
    if loihi:
        tau_rc, tau_ref = _loihi_tau_rc(tau_rc), dt * np.round(tau_ref / dt)
    v, ref = np.zeros(J.shape[1]), np.zeros(J.shape[1])
    out, vs = np.zeros_like(J), np.zeros_like(J)
    for t in range(len(J)):
        ref = ref - dt
        delta = np.clip(dt - ref, 0, dt)
        v = v - (J[t] - v) * np.expm1(-delta / tau_rc)
        spiked = v > 1
        out[t] = spiked * (amplitude / dt)
        if loihi:
            new_ref = tau_ref + dt
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                new_ref = tau_ref + dt + tau_rc * np.log1p(-(v - 1) / (J[t] - 1))
        v[v < min_voltage] = min_voltage
        v[spiked] = 0
        ref = np.where(spiked, new_ref, ref)
        vs[t] = v
    return out, vs


def f32(a):
    """Values the float32 runtime represents exactly (inputs and parameters)."""
    return np.asarray(a, dtype=np.float32).astype(float)


STEPS = 200


@pytest.mark.parametrize("fuse", FUSE)
@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_leaky_matches_snntorch(reset, reset_delay, fuse):
    rng = np.random.default_rng(1)
    n = 40
    beta = f32(rng.uniform(0.5, 1.0, n))  # one beta per neuron
    beta[:3] = [0.0, 1.0, 0.9]
    theta = 0.75
    cur = f32(rng.uniform(-0.2, 0.6, (STEPS, n)))
    cur[:, 3] = f32(2.1)  # subtracting theta once is not enough: spikes on consecutive steps
    neuron = sg.Leaky(beta, threshold=theta, reset=reset, reset_delay=reset_delay,
                      amplitude=1.5)
    got = run_neurons(neuron, cur, STEPS, ("output", "voltage"), fuse=fuse)
    spikes, mems = ref_snntorch_leaky(cur, beta, theta, reset, reset_delay)
    assert 0.05 < spikes.mean() < 0.9
    np.testing.assert_array_equal(got["output"], 1.5 * spikes)
    np.testing.assert_allclose(got["voltage"], mems, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("fuse", FUSE)
def test_cuba_lif_matches_norse(fuse):
    rng = np.random.default_rng(2)
    p = {"tau_mem": 0.02, "tau_syn": 0.004, "v_th": 0.8, "v_leak": 0.1, "v_reset": -0.2}
    x = f32(rng.uniform(-0.1, 0.8, (STEPS, 30)))
    neuron = sg.CubaLIF(**p, amplitude=2.0)
    got = run_neurons(neuron, x, STEPS, ("output", "voltage", "current"), fuse=fuse)
    z, v, i = ref_norse_cuba(x, DT, **p)
    assert 0.02 < z.mean() < 0.5
    np.testing.assert_array_equal(got["output"], 2.0 * z)
    np.testing.assert_allclose(got["voltage"], v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["current"], i, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fuse", FUSE)
def test_li_matches_norse(fuse):
    rng = np.random.default_rng(3)
    x = f32(rng.uniform(-1.0, 1.0, (STEPS, 30)))
    neuron = sg.LI(tau_syn=0.004, tau_mem=0.02, v_leak=0.1)
    got = run_neurons(neuron, x, STEPS, ("output", "voltage", "current"), fuse=fuse)
    _, v, i = ref_norse_cuba(x, DT, 0.02, 0.004, np.inf, 0.1, 0.0, spiking=False)
    np.testing.assert_allclose(got["output"], v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["voltage"], v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["current"], i, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fuse", FUSE)
def test_spiking_relu_matches_nengo(fuse):
    rng = np.random.default_rng(4)
    J = f32(rng.uniform(-500.0, 3500.0, (STEPS, 30)))
    got = run_neurons(sg.SpikingRectifiedLinear(amplitude=0.5), J, STEPS,
                      ("output", "voltage"), fuse=fuse)
    out, v = ref_nengo_relu(J, DT, amplitude=0.5)
    assert (out * DT / 0.5).max() >= 3  # several spikes in one step
    np.testing.assert_allclose(got["output"], out, rtol=1e-6)
    np.testing.assert_allclose(got["voltage"], v, atol=1e-4)


@pytest.mark.parametrize("fuse", FUSE)
def test_loihi_relu_matches_nengo_loihi(fuse):
    rng = np.random.default_rng(5)
    J = f32(rng.uniform(-300.0, 1500.0, (STEPS, 30)))
    got = run_neurons(sg.LoihiSpikingRectifiedLinear(), J, STEPS, ("output", "voltage"),
                      fuse=fuse)
    out, v = ref_loihi_relu(J, DT)
    assert set(np.unique(out * DT)) == {0.0, 1.0} and (J * DT > 1).any()
    np.testing.assert_allclose(got["output"], out, rtol=1e-6)
    np.testing.assert_allclose(got["voltage"], v, atol=1e-5)


@pytest.mark.parametrize("fuse", FUSE)
@pytest.mark.parametrize("loihi", [False, True], ids=["LIF", "LoihiLIF"])
def test_lif_matches_nengo(loihi, fuse):
    rng = np.random.default_rng(6)
    n = 30
    J = f32(rng.uniform(0.0, 6.0, (STEPS, n)))
    J[:, :5] = f32(rng.uniform(0.0, 6.0, 5))  # some constant currents too
    cls = sg.LoihiLIF if loihi else sg.LIF
    neuron = cls(tau_rc=0.02, tau_ref=0.002, min_voltage=-0.5)
    got = run_neurons(neuron, J, STEPS, ("output", "voltage"), fuse=fuse)
    out, v = ref_nengo_lif(J, DT, 0.02, 0.002, loihi=loihi, min_voltage=-0.5)
    assert 0.02 < (out * DT).mean() < 0.5
    np.testing.assert_allclose(got["output"], out, rtol=1e-6)
    np.testing.assert_allclose(got["voltage"], v, atol=2e-5)


# ------------------------------------------------------------------------ 3. synapses
def filter_net(synapses, size=1):
    """An input Node into passthrough Nodes through each synapse (one probe each)."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(size))
        probes = []
        for syn in synapses:
            out = sg.Node(size_in=size)
            sg.Connection(inp, out, synapse=syn)
            probes.append(sg.Probe(out))
    return net, inp, probes


def run_filters(synapses, u, fuse="auto"):
    """Outputs ``[steps, size]`` of each synapse for the input ``u`` ``[steps, size]``."""
    u = np.asarray(u, np.float32)
    net, inp, probes = filter_net(synapses, u.shape[1])
    with sg.Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run_steps(len(u), data={inp: u[None]})
        return [sim.data[p][0].astype(float) for p in probes]


def lowpass_ref(u, tau, dt=DT):
    """Zero-order-hold lowpass with the runtime's offset: the output at step k is the
    filter's state after the inputs of steps 0..k-1."""
    a = np.exp(-dt / tau)
    y, out = np.zeros(u.shape[1]), np.zeros_like(u, dtype=float)
    for k in range(len(u)):
        out[k] = y
        y = a * y + (1 - a) * u[k]
    return out


@pytest.mark.parametrize("fuse", FUSE)
def test_lowpass_step_response(fuse):
    tau, n = 0.02, 150
    (y,) = run_filters([sg.Lowpass(tau)], np.ones((n, 1)), fuse=fuse)
    k = np.arange(n)
    # state after k steps of input: the continuous response at t = k dt, i.e. one step
    # behind the probe's time (k + 1) dt
    np.testing.assert_allclose(y[:, 0], 1 - np.exp(-DT * k / tau), rtol=0, atol=1e-6)
    assert y[0, 0] == 0.0
    # a one-step offset either way is far outside that tolerance
    assert np.abs(y[:, 0] - (1 - np.exp(-DT * (k + 1) / tau))).max() > 0.04
    assert np.abs(y[1:, 0] - (1 - np.exp(-DT * (k[1:] - 1) / tau))).max() > 0.04


def alpha_step(t, tau):
    return 1 - (1 + t / tau) * np.exp(-t / tau)


@pytest.mark.parametrize("fuse", FUSE)
def test_alpha_step_and_impulse_response(fuse):
    tau, n = 0.01, 120
    impulse = np.zeros((n, 1))
    impulse[0] = 1 / DT
    (step,) = run_filters([sg.Alpha(tau)], np.ones((n, 1)), fuse=fuse)
    (imp,) = run_filters([sg.Alpha(tau)], impulse, fuse=fuse)
    t = DT * np.arange(n)  # the same one-step offset as Lowpass
    # ZOH is exact for a piecewise-constant input: the samples of the continuous response
    np.testing.assert_allclose(step[:, 0], alpha_step(t, tau), rtol=0, atol=1e-6)
    later = t >= 3 * tau
    rel = np.abs(step[later, 0] - alpha_step(t[later], tau)) / alpha_step(t[later], tau)
    assert rel.max() < 0.02
    # an impulse of area 1 held for one step: (s(k dt) - s((k-1) dt)) / dt
    zoh = np.concatenate([[0.0], np.diff(alpha_step(t, tau)) / DT])
    np.testing.assert_allclose(imp[:, 0], zoh, rtol=1e-5, atol=1e-4)
    # ... and the continuous impulse response t / tau^2 exp(-t / tau), half a step back
    mid = t[1:] - DT / 2
    h = mid / tau**2 * np.exp(-mid / tau)
    window = (mid >= tau) & (mid <= 6 * tau)
    np.testing.assert_allclose(imp[1:, 0][window], h[window], rtol=0.02)


@pytest.mark.parametrize("fuse", FUSE)
def test_linear_filters_equal_lowpass_and_alpha(fuse):
    tau = 0.015
    a = np.exp(-DT / tau)
    u = np.random.default_rng(7).uniform(-1, 1, (100, 3))
    low, lin, alpha, lin2, digital = run_filters(
        [sg.Lowpass(tau), sg.LinearFilter([1.0], [tau, 1.0]), sg.Alpha(tau),
         sg.LinearFilter([1.0], [tau * tau, 2 * tau, 1.0]),
         sg.LinearFilter([1 - a], [1.0, -a], analog=False)], u, fuse=fuse)
    np.testing.assert_array_equal(lin, low)
    np.testing.assert_array_equal(lin2, alpha)
    np.testing.assert_allclose(low, lowpass_ref(f32(u), tau), atol=1e-6)
    np.testing.assert_allclose(digital, low, atol=1e-6)


@pytest.mark.parametrize("fuse", FUSE)
def test_delay_is_exactly_three_steps(fuse):
    u = f32(np.random.default_rng(8).normal(size=(60, 4)))
    (y,) = run_filters([sg.Delay(3)], u, fuse=fuse)
    np.testing.assert_array_equal(y[:3], 0.0)
    np.testing.assert_array_equal(y[3:], u[:-3])


@pytest.mark.parametrize("fuse", FUSE)
def test_probe_synapse_is_a_lowpass_of_the_probed_signal(fuse):
    n, tau = 20, 0.01
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.linspace(1.5, 8.0, n))
        ens = sg.Ensemble(n, 1, neuron_type=sg.LIF(), gain=np.ones(n), bias=np.zeros(n))
        sg.Connection(inp, ens.neurons, synapse=None)
        raw = sg.Probe(ens.neurons)
        filtered = sg.Probe(ens.neurons, synapse=tau)
    with sg.Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run_steps(300)
        x, y = sim.data[raw][0].astype(float), sim.data[filtered][0].astype(float)
    assert x.sum() > 0
    np.testing.assert_allclose(y, lowpass_ref(x, tau), rtol=1e-5, atol=2e-3)


# ------------------------------------------------------------------------ 4. encoders
def encoder_net(process, n):
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n))
        enc = sg.Node(process, size_in=n)
        sg.Connection(inp, enc, synapse=None)
        probe = sg.Probe(enc)
    return net, inp, probe


def run_encoder(process, x, n_steps, fuse="auto", seed=None):
    x = np.asarray(x, np.float32)
    net, inp, probe = encoder_net(process, len(x))
    with sg.Simulator(net, progress_bar=False, fuse=fuse, seed=seed) as sim:
        sim.run_steps(n_steps, data={inp: x[None, None]})
        return sim.data[probe][0].astype(float)


def norse_constant_current(x, n_steps, dt, tau_mem, v_th, v_leak, v_reset):
    """Norse ``constant_current_lif_encode``: ``v <- v + dt/tau_mem (v_leak - v + I)``,
    ``z = H(v - v_th)``, ``v <- v - z (v - v_reset)``."""
    v, out = np.zeros_like(x), np.zeros((n_steps, len(x)))
    for t in range(n_steps):
        v = v + dt / tau_mem * ((v_leak - v) + x)
        z = (v > v_th).astype(float)
        v = v - z * (v - v_reset)
        out[t] = z
    return out


ENCODER_PARAMS = [{}, {"tau_mem": 0.02, "v_th": 0.8, "v_leak": 0.1, "v_reset": -0.1,
                       "amplitude": 2.0}]


@pytest.mark.parametrize("params, fuse", [(ENCODER_PARAMS[0], False), (ENCODER_PARAMS[1], False),
                                           (ENCODER_PARAMS[1], True)],
                         ids=["defaults-loop", "custom-loop", "custom-fused"])
@pytest.mark.parametrize("cls", [sg.ConstantCurrentLIFEncoder, sg.SpikeLatencyLIFEncoder])
def test_lif_encoders_equal_their_reference(cls, params, fuse):
    process = cls(**params)
    x = f32(np.linspace(-0.5, 3.0, 50))
    got = run_encoder(process, x, 300, fuse=fuse)
    expected = process.run(x, 300, DT)
    np.testing.assert_array_equal(got, expected)
    p = {"tau_mem": 0.01, "v_th": 1.0, "v_leak": 0.0, "v_reset": 0.0, **params}
    amplitude = p.pop("amplitude", 1.0)
    spikes = norse_constant_current(x, 300, DT, **p)
    if cls is sg.SpikeLatencyLIFEncoder:
        spikes = spikes * (np.cumsum(spikes, axis=0) == 1)
        assert np.all(spikes.sum(axis=0) <= 1) and spikes.sum() > 10
    else:
        assert spikes.sum(axis=0).max() > 10
    np.testing.assert_array_equal(got, amplitude * spikes)


def test_poisson_rate_and_seeds():
    n, steps, f_max = 50, 2000, 200.0
    x = f32(np.linspace(0.0, 1.0, n))
    process = sg.PoissonEncoder(f_max=f_max, amplitude=0.5)
    a = run_encoder(process, x, steps, seed=1)
    assert set(np.unique(a)) == {0.0, 0.5}
    counts = a.sum(axis=0) / 0.5
    p = DT * f_max * x
    sigma = np.sqrt(steps * p * (1 - p))
    assert np.all(np.abs(counts - steps * p) <= 4 * sigma + 1e-9), (counts, steps * p)
    total, expected = counts.sum(), steps * p.sum()
    assert abs(total - expected) < 3 * np.sqrt(expected)
    assert counts[0] == 0  # x = 0 never fires
    # independent across steps: spike on step k says nothing about step k + 1
    both = (a[1:] * a[:-1] > 0).sum(axis=0) / (steps - 1)
    np.testing.assert_allclose(both[-10:].mean(), (p[-10:] ** 2).mean(), atol=0.01)
    np.testing.assert_array_equal(run_encoder(process, x, steps, seed=1), a)
    b = run_encoder(process, x, steps, seed=2)
    assert not np.array_equal(a, b)
    assert abs(b.sum() / 0.5 - expected) < 3 * np.sqrt(expected)


def test_poisson_independent_of_minibatch_and_fusion():
    n, examples, steps = 30, 10, 60
    x = f32(np.random.default_rng(9).uniform(0, 1, (examples, n)))
    net, inp, probe = encoder_net(sg.PoissonEncoder(f_max=300.0), n)
    results = []
    for size, fuse in [(1, False), (7, False), (7, True), (10, "auto")]:
        with sg.Simulator(net, progress_bar=False, minibatch_size=size, seed=3,
                          fuse=fuse) as sim:
            results.append(sim.predict({inp: x}, n_steps=steps)[probe])
    assert results[0].shape == (examples, steps, n)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    assert not np.array_equal(results[0][0], results[0][1])  # examples differ
    # example 0 of predict is what a plain run of that example gives
    with sg.Simulator(net, progress_bar=False, seed=3) as sim:
        sim.run_steps(steps, data={inp: x[:1]})
        np.testing.assert_array_equal(sim.data[probe][0], results[0][0])


@pytest.mark.parametrize("fuse", FUSE)
def test_present_input_presents_items_at_the_right_steps(fuse):
    items = np.arange(12.0).reshape(4, 3)
    with sg.Network(seed=0) as net:
        five = sg.Node(sg.PresentInput(items, presentation_time=0.005))
        half = sg.Node(sg.PresentInput(items, presentation_time=0.0025))
        p5, p25 = sg.Probe(five), sg.Probe(half)
    with sg.Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run_steps(25)
        sim.run_steps(20)  # time carries on across runs
        got5, got25 = sim.data[p5][0], sim.data[p25][0]
    k = np.arange(45)
    # step k ends at t = (k + 1) dt and shows item floor(k dt / T) (Nengo's rule), cycling
    np.testing.assert_array_equal(got5, items[(k // 5) % 4])
    np.testing.assert_array_equal(got25, items[(2 * k // 5) % 4])


# ------------------------------------------------------------------ 5. recurrent loops
@pytest.mark.parametrize("fuse", FUSE)
def test_recurrent_leaky_matches_rleaky(fuse):
    """``Connection(h.neurons, h.neurons, transform=W, synapse=Delay(1))`` is snnTorch's
    RLeaky (all-to-all, no bias): ``U[t] = βU[t-1] + W_in x[t] + W S[t-1] - θ R``."""
    rng = np.random.default_rng(10)
    n_in, n, steps, beta = 8, 24, 60, 0.85
    W_in = f32(rng.normal(0, 0.4, (n, n_in)))
    W = f32(rng.normal(0, 0.3, (n, n)))
    x = f32(rng.uniform(0.2, 1.2, (steps, n_in)))
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(n_in))
        h = sg.Ensemble(n, 1, neuron_type=sg.Leaky(beta), gain=np.ones(n), bias=np.zeros(n))
        sg.Connection(inp, h.neurons, transform=W_in, synapse=None)
        sg.Connection(h.neurons, h.neurons, transform=W, synapse=sg.Delay(1))
        spikes_p, mem_p = sg.Probe(h.neurons), sg.Probe(h.neurons, "voltage")
    with sg.Simulator(net, progress_bar=False, fuse=fuse) as sim:
        sim.run_steps(steps, data={inp: x[None]})
        got_s, got_u = sim.data[spikes_p][0], sim.data[mem_p][0]
    beta32 = float(np.float32(beta))
    U, S = np.zeros(n), np.zeros(n)
    ref_s, ref_u = np.zeros((steps, n)), np.zeros((steps, n))
    for t in range(steps):
        R = (U > 1.0).astype(float)
        U = beta32 * U + W_in @ x[t] + W @ S - R
        S = (U > 1.0).astype(float)
        ref_s[t], ref_u[t] = S, U
    assert 0.05 < ref_s.mean() < 0.7
    feedback = np.array([W @ s for s in ref_s[:-1]])
    assert np.abs(feedback).max() > 0.5  # the loop matters
    np.testing.assert_array_equal(got_s, ref_s)
    np.testing.assert_allclose(got_u, ref_u, rtol=1e-5, atol=2e-5)
