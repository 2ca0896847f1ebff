"""Online learning rules on the numba runtime: the ``learn`` op's executor and one kernel
per rule (Nengo's PES, RLS, BCM, Oja and Voja; the math of Nengo's ``SimPES``,
``SimRLS``, ``SimBCM``, ``SimOja`` and ``SimVoja`` operators).

Every example has its own weights (the learned ``linear`` op holds them as ``[batch,
out, in]``), so examples learn independently and a minibatch gives each example the
result it would get alone.

Nengo's order within a step, kept here: the error is what the error connections deliver
during the step (``compute`` keeps it); the rule's own filters take this step's
activities before the rule reads them (Nengo builds them in "set" mode), so ``delta``
is computed once every filter has been updated (``update``, after the filters' updates
in schedule order), and added to the weights there: the weights used at step ``t`` hold
the changes up to step ``t - 1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from snngraph.runtimes.numba_cpu.executor import Executor, executes


@njit(cache=True, error_model="numpy")
def linear_each(x, w, bias, out):
    """``out[b] = w[b] @ x[b] + bias``: each example through its own weights (zero
    inputs, e.g. the absent spikes, are skipped)."""
    for b in range(x.shape[0]):
        for i in range(w.shape[1]):
            out[b, i] = bias[i]
        for j in range(w.shape[2]):
            v = x[b, j]
            if v != 0.0:
                for i in range(w.shape[1]):
                    out[b, i] += w[b, i, j] * v


@njit(cache=True, error_model="numpy")
def pes(pre, error, encoders, alpha, delta):
    """``delta = outer(alpha * e, pre)``; ``e`` the error, or projected onto the post
    neurons' scaled encoders when given (a connection into neurons)."""
    project = encoders.shape[0] > 0
    for b in range(pre.shape[0]):
        for i in range(delta.shape[1]):
            if project:
                e = 0.0
                for k in range(encoders.shape[1]):
                    e += encoders[i, k] * error[b, k]
            else:
                e = error[b, i]
            e *= alpha
            for j in range(delta.shape[2]):
                delta[b, i, j] = e * pre[b, j]


@njit(cache=True, error_model="numpy")
def rls(r, error, P, delta, pr):
    """``P -= (P r)(P r)^T / (1 + r^T P r)``, ``delta = -outer(error, P r) / (1 + r^T P
    r)`` (``P`` symmetric, float64; ``pr`` scratch)."""
    n = r.shape[1]
    for b in range(r.shape[0]):
        rpr = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += P[b, i, j] * r[b, j]
            pr[i] = acc
            rpr += r[b, i] * acc
        scale = 1.0 / (1.0 + rpr)
        for i in range(n):
            for j in range(n):
                P[b, i, j] -= pr[i] * (pr[j] * scale)
        for i in range(delta.shape[1]):
            for j in range(n):
                delta[b, i, j] = error[b, i] * (-scale * pr[j])


@njit(cache=True, error_model="numpy")
def bcm(pre, post, theta, alpha, delta):
    """``delta = outer(alpha * post * (post - theta), pre)``."""
    for b in range(pre.shape[0]):
        for i in range(delta.shape[1]):
            g = alpha * post[b, i] * (post[b, i] - theta[b, i])
            for j in range(delta.shape[2]):
                delta[b, i, j] = g * pre[b, j]


@njit(cache=True, error_model="numpy")
def oja(pre, post, w, alpha, beta, delta):
    """``delta = outer(alpha * post, pre) - beta * alpha * post^2 * W`` (row by row)."""
    for b in range(pre.shape[0]):
        for i in range(delta.shape[1]):
            p = alpha * post[b, i]
            forget = beta * p * post[b, i]
            for j in range(delta.shape[2]):
                delta[b, i, j] = p * pre[b, j] - forget * w[b, i, j]


@njit(cache=True, error_model="numpy")
def voja(x, post, signal, w, gain, alpha, radius, delta, step):
    """Nengo's ``delta = alpha * s * (gain / radius * outer(post, x) - post * E)`` on the
    scaled encoders ``E = gain * w``; ``step`` is that change in ``w``'s units (``w``
    holds the encoders over the radius, the neurons apply the gain)."""
    for b in range(x.shape[0]):
        s = alpha * (1.0 + signal[b, 0])
        for i in range(delta.shape[1]):
            p = s * post[b, i]
            for k in range(delta.shape[2]):
                step[b, i, k] = p * (x[b, k] / radius - w[b, i, k])
                delta[b, i, k] = gain[i] * step[b, i, k]


@njit(cache=True, error_model="numpy")
def add_into(w, delta):
    """``w += delta`` over every example."""
    flat_w, flat_d = w.reshape(-1), delta.reshape(-1)
    for k in range(flat_w.size):
        flat_w[k] += flat_d[k]


@executes("learn")
class LearnExec(Executor):
    """A learning rule: ``out`` is this step's ``delta`` (Nengo's units), added to the
    target's weights in ``update``; RLS keeps ``P`` per example (float64, as Nengo)."""

    delayed = True  # the change is applied once every op of the step has run
    probed_attrs = ("scaled_encoders", "inv_gamma")

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.kind = op.rule["type"]
        self.rate = float(op.rule["learning_rate"])
        self.encoders = self.param(op.encoders) if op.encoders else self.zeros(0, 0)
        self.gain = self.param(op.gain) if op.gain else None
        self.shape = tuple(op.shape)

    @property
    def target(self):
        return self.backend.executors[self.op.target]

    def allocate(self, batch):
        super().allocate(batch)
        self.delta = self.out.reshape(batch, *self.shape)
        size = 1 if self.kind == "Voja" else self.encoders.shape[1] if self.encoders.size \
            else self.shape[0]
        self.error = self.zeros(batch, size)
        n = self.shape[1]
        self.P = np.zeros((batch, n, n)) if self.kind == "RLS" else None
        self.pr = np.zeros(n)
        self.step = np.zeros_like(self.delta) if self.kind == "Voja" else self.delta

    def reset(self):
        super().reset()
        self.error[:] = 0.0
        if self.P is not None:  # Nengo: P = learning_rate * dt / n * I
            n = self.shape[1]
            self.P[:] = np.eye(n) * (self.rate * self.backend.dt / n)

    def _read(self, name):
        return None if name is None else self.backend.executors[name].out

    def compute(self, x, t):
        if x is not None:  # this step's error (an error synapse updates after the step)
            self.error[:] = x

    def update(self, x):
        self._delta()
        add_into(self.target.weights, self.step)

    def _delta(self):
        dt, op, error = self.backend.dt, self.op, self.error
        real = self.dtype.type  # the rules' constants in the runtime's precision
        pre, post = self._read(op.pre), self._read(op.post)
        if self.kind == "PES":
            pes(pre, error, self.encoders, real(-self.rate * dt / pre.shape[1]), self.delta)
        elif self.kind == "RLS":
            rls(pre, error, self.P, self.delta, self.pr)
        elif self.kind == "BCM":
            bcm(pre, post, self._read(op.theta), real(self.rate * dt), self.delta)
        elif self.kind == "Oja":
            oja(pre, post, self.target.weights, real(self.rate * dt),
                real(op.rule["beta"]), self.delta)
        else:
            voja(pre, post, error, self.target.weights, self.gain, real(self.rate * dt),
                 real(op.radius), self.delta, self.step)

    def probed(self, attr):
        if attr == "inv_gamma":
            return self.P
        return self.target.weights * self.gain[None, :, None]  # Nengo's scaled encoders
