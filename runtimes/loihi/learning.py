"""PES on the emulated chip: a learning synapse's trace, error and integer weights.

The chip's learning arithmetic as NengoLoihi 1.1's emulator runs it
(``emulator/interface.py`` ``SynapseState``, ``builder/discretize.py``), on the full
weights ``W = M @ decoders`` that ``pes_to_chip`` makes:

- every ``TRAIN_EPOCH`` (2) steps each pre axon's **trace** decays by ``exp(-2 / tau)``
  (``tau`` the rule's ``pre_synapse`` in steps) and, if the axon spiked in the epoch,
  grows by ``TRACE_SCALE * (1 - exp(-1 / tau))``; it is stochastically rounded to an
  integer and clipped to 7 bits (0..127), so it is about ``TRACE_SCALE`` times the pre
  neuron's filtered spikes per step;
- the **error** arrives from the host every step (one step after the host computed it)
  as ``round(e * ERROR_SCALE)`` clipped to 8 bits (NengoLoihi's ``pes_error_scale``, 100,
  and its ``scale_pes_errors``); the last one received is used;
- every ``LEARN_EPOCH`` (4) steps the weights change by PES's ``-k dt / n_pre`` (times
  the 4 steps) times ``outer(M e, a)`` (``a`` the trace over ``TRACE_SCALE dt``), in the
  synapse's integer units, and are **stochastically rounded to the weight's 8-bit
  mantissa** at its exponent (``learn_quantum``), clipped to its range (``learn_max``),
  as NengoLoihi's ``weight_update`` does.

What differs from NengoLoihi: it learns decoders into decode neurons, where the post
factor of each decode neuron is ``+e`` or ``-e``; full weights need the error projected
onto each post neuron (``M e``, computed in float here: the chip has no such projection,
decode neurons would make it unnecessary). Stochastic rounding draws from a xorshift
generator per example, seeded from the simulator's seed (NengoLoihi: NumPy's
``RandomState``), so a run is reproducible but not NengoLoihi's draws.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from snngraph.document import spec_from_dict

TRAIN_EPOCH = 2
LEARN_EPOCH = 4
TRACE_MAX = 127
TRACE_SCALE = 127.0
"""Trace units per filtered spike per step (a neuron spiking every step saturates it)."""
ERROR_SCALE = 100.0
ERROR_MAX = 127


class ChipPES:
    """One learning synapse: input ``k`` of a chip layer, changed by learn op ``rule``."""

    def __init__(self, ir, layer: str, k: int, weights: np.ndarray, rule, seed_key: int):
        from snngraph.compiler.chip import describe
        from snngraph.compiler.passes.discretize import key

        self.rule, self.w0, self.origin = rule.name, weights, describe(rule)
        self.clipped = 0
        """Error values beyond the 8 bits, clipped since the last report."""
        self.unit = np.asarray(ir.params[key(layer, f"in{k}.learn_unit")], np.float64)
        self.quantum = np.asarray(ir.params[key(layer, f"in{k}.learn_quantum")], np.int64)
        self.limit = np.asarray(ir.params[key(layer, f"in{k}.learn_max")], np.int64)
        self.project = np.ascontiguousarray(ir.params[rule.encoders], np.float64)
        synapse = spec_from_dict(rule.rule["pre_synapse"])
        tau = max(1, int(round(float(synapse.tau) / ir.dt)))
        self.decay = float(np.exp(-TRAIN_EPOCH / tau))
        self.mag = TRACE_SCALE * float(-np.expm1(-1.0 / tau))
        n_pre = weights.shape[0]
        rate = float(rule.rule["learning_rate"])
        # PES's change per learn epoch, per unit of (M e_int) x trace, in weight units
        self.alpha = -rate * ir.dt / n_pre * LEARN_EPOCH / (TRACE_SCALE * ir.dt) / ERROR_SCALE
        self.seed_key = seed_key
        self.d = self.project.shape[1]

    def allocate(self, batch: int) -> None:
        n_pre, n_post = self.w0.shape
        self.w = np.empty((batch, n_pre, n_post), np.int32)
        self.trace = np.zeros((batch, n_pre), np.int32)
        self.seen = np.zeros((batch, n_pre), np.uint8)
        self.error = np.zeros((batch, self.d), np.float64)
        self.rng = np.zeros(batch, np.uint64)

    def reset(self, seed: int) -> None:
        self.w[...] = self.w0[None]
        self.trace[...] = 0
        self.seen[...] = 0
        self.error[...] = 0.0
        for b in range(len(self.rng)):  # one nonzero xorshift state per example
            self.rng[b] = np.uint64((hash((seed, self.seed_key, b)) & 0xFFFFFFFFFFFF) | 1)

    def step(self, t: int, spikes: np.ndarray) -> None:
        """After this step's input is delivered (``spikes``: the pre spikes it carried),
        as NengoLoihi orders it: traces, then weights, then the compartments."""
        np.bitwise_or(self.seen, spikes, out=self.seen)
        if t % TRAIN_EPOCH == 0:
            update_traces(self.trace, self.seen, self.decay, self.mag, self.rng)
        if t % LEARN_EPOCH == 0:
            self.clipped += update_weights(self.w, self.trace, self.error, self.project,
                                           self.unit, self.quantum, self.limit, self.alpha,
                                           self.rng)

    def clip_report(self) -> str | None:
        """A warning for errors clipped since the last report (NengoLoihi warns too)."""
        if not self.clipped:
            return None
        text = (f"{self.origin}: its PES error exceeded the chip's 8 bits ({ERROR_MAX} / "
                f"{ERROR_SCALE:g} = {ERROR_MAX / ERROR_SCALE:g}) {self.clipped} time(s) and "
                "was clipped (NengoLoihi's pes_error_scale), so it learned more slowly\n  "
                "fix: scale the error connection down and the learning rate up by the same "
                "factor")
        self.clipped = 0
        return text

    def receive(self, error: np.ndarray) -> None:
        """The host's error of the previous step, ``[batch, d]`` (float)."""
        self.error[...] = error


@njit(cache=True, inline="always")
def _uniform(state, b):
    """xorshift64*: a uniform draw in [0, 1) from example ``b``'s state."""
    x = state[b]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[b] = x
    return ((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def update_traces(trace, seen, decay, mag, rng):
    """``trace = stochastic_round(decay * trace + mag * seen)``, clipped to 7 bits."""
    for b in range(trace.shape[0]):
        for j in range(trace.shape[1]):
            x = decay * trace[b, j] + (mag if seen[b, j] else 0.0)
            n = np.floor(x)
            if _uniform(rng, b) < x - n:
                n += 1.0
            trace[b, j] = min(int(n), TRACE_MAX)
            seen[b, j] = 0


@njit(cache=True)
def update_weights(w, trace, error, project, unit, quantum, limit, alpha, rng):
    """``w += alpha * unit * (M e_int) x trace``, each entry stochastically rounded to its
    quantum (the 8-bit mantissa's step) and clipped to ``+-limit``. Returns how many error
    values were beyond 8 bits (clipped)."""
    n_post, d = project.shape
    clipped = 0
    for b in range(w.shape[0]):
        for k in range(d):
            if abs(np.round(error[b, k] * ERROR_SCALE)) > ERROR_MAX:
                clipped += 1
        for i in range(n_post):
            e = 0.0
            for k in range(d):
                ek = np.round(error[b, k] * ERROR_SCALE)
                ek = min(max(ek, -ERROR_MAX), ERROR_MAX)
                e += project[i, k] * ek
            f = alpha * unit[i] * e
            if f == 0.0:
                continue
            q = quantum[i]
            for j in range(w.shape[1]):
                tj = trace[b, j]
                if tj == 0:
                    continue
                x = (w[b, j, i] + f * tj) / q
                n = np.floor(x)
                if _uniform(rng, b) < x - n:
                    n += 1.0
                v = int(n) * q
                w[b, j, i] = min(max(v, -limit[i]), limit[i])
    return clipped
