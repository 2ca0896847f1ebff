"""Plain-numpy reference semantics for the NIR fixtures in tests/data/nir/.

Each fixture there is a graph exported by snnTorch 1.0.0 or Norse 1.1.0 plus the spike trains
the producer's own model gave on a fixed input. This module re-runs such a graph step by step
from its NIR parameters and dt, with the per-step update the producer runs (``RULES``, named
in ``tests/data/nir/fixtures.json``), so that tests/test_nir_fixtures.py can check that the
recorded spikes and the documented semantics agree. It needs only numpy and the ``nir``
package (no torch, no snngraph), so benchmarks/peers/nir_fixtures.py uses it too, under the
peers' python, to check each fixture before writing it.

Graph semantics (as NIRTorch and both producers run them): edges carry signals unchanged;
several edges into one node are summed; an edge that closes a cycle carries the source's
output from the previous step. What that edge carries at t = 0 is a per-fixture choice
(``recurrent_t0``): ``"zero"`` (NIRTorch) or ``"bias"`` (snnTorch's RLeaky/RSynaptic apply
their recurrent Linear to the zero initial spikes, so its bias already arrives at t = 0).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def heaviside(x):
    """Both producers fire on a strict ``x > 0``."""
    return (x > 0).astype(F32)


def _p(node, name):
    return np.asarray(getattr(node, name), dtype=F32)


# --- neuron rules: one class per producer update, built from the NIR node and dt ------------


class _Threshold:
    thr: np.ndarray

    def _thr(self, like):
        return np.broadcast_to(self.thr, like.shape)


class SnnTorchLeaky(_Threshold):
    """snn.Leaky / snn.RLeaky (nir.LIF): beta = 1 - dt/tau, input gain r*dt/tau (= 1).

    Per step, with R = H(U[t-1] - thr) (the spike of the previous step, reset delayed):
    subtract: U = beta*U[t-1] + g*I - thr*R; Leaky zero: U = beta*(1-R)*U[t-1] + g*I;
    RLeaky zero: U = (1-R)*(beta*U[t-1] + g*I) (the new membrane is cleared, input included).
    S = H(U - thr). The recorded membrane is U, before the next step's reset.
    """

    def __init__(self, node, dt, reset, zero_clears_new=False):
        tau = _p(node, "tau")
        self.beta = F32(1) - F32(dt) / tau
        self.gain = _p(node, "r") * F32(dt) / tau
        self.leak = F32(dt) / tau * _p(node, "v_leak")
        self.thr = _p(node, "v_threshold")
        self.reset = reset
        self.zero_clears_new = zero_clears_new
        self.u = None

    def step(self, i):
        if self.u is None:
            self.u = np.zeros_like(i)
        r = heaviside(self.u - self.thr)
        drive = self.gain * i + self.leak
        if self.reset == "subtract":
            u = self.beta * self.u + drive - self.thr * r
        elif self.zero_clears_new:
            u = (F32(1) - r) * (self.beta * self.u + drive)
        else:
            u = self.beta * ((F32(1) - r) * self.u) + drive
        self.u = u
        s = heaviside(u - self.thr)
        return s, {"spikes": s, "v": u, "v_pre": u, "thr": self._thr(u)}


class SnnTorchSynaptic(_Threshold):
    """snn.Synaptic / snn.RSynaptic (nir.CubaLIF): alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem,
    gains w_in*dt/tau_syn and r*dt/tau_mem (both 1 as snnTorch exports).

    syn = alpha*syn[t-1] + g_syn*I; then with R = H(U[t-1] - thr):
    subtract: U = beta*U[t-1] + g_mem*syn - thr*R; zero: U = (1-R)*(beta*U[t-1] + g_mem*syn)
    (syn is not reset). S = H(U - thr).
    """

    def __init__(self, node, dt, reset):
        tau_syn, tau_mem = _p(node, "tau_syn"), _p(node, "tau_mem")
        self.alpha = F32(1) - F32(dt) / tau_syn
        self.beta = F32(1) - F32(dt) / tau_mem
        self.g_syn = _p(node, "w_in") * F32(dt) / tau_syn
        self.g_mem = _p(node, "r") * F32(dt) / tau_mem
        self.leak = F32(dt) / tau_mem * _p(node, "v_leak")
        self.thr = _p(node, "v_threshold")
        self.reset = reset
        self.syn = self.u = None

    def step(self, i):
        if self.u is None:
            self.syn, self.u = np.zeros_like(i), np.zeros_like(i)
        r = heaviside(self.u - self.thr)
        self.syn = self.alpha * self.syn + self.g_syn * i
        u = self.beta * self.u + self.g_mem * self.syn + self.leak
        u = u - self.thr * r if self.reset == "subtract" else (F32(1) - r) * u
        self.u = u
        s = heaviside(u - self.thr)
        return s, {"spikes": s, "v": u, "syn": self.syn, "v_pre": u, "thr": self._thr(u)}


class NorseLIFBox(_Threshold):
    """norse LIFBoxCell (nir.LIF): v~ = v + dt/tau*(v_leak - v + r*I); z = H(v~ - thr);
    v = (1-z)*v~ + z*v_reset (no delay). v starts at v_leak. The recorded v is after the reset.
    """

    def __init__(self, node, dt, reset="zero"):
        self.k = F32(dt) / _p(node, "tau")
        self.r = _p(node, "r")
        self.v_leak = _p(node, "v_leak")
        self.thr = _p(node, "v_threshold")
        self.v_reset = _p(node, "v_reset")
        self.v = None

    def step(self, i):
        if self.v is None:
            self.v = np.broadcast_to(self.v_leak, i.shape).astype(F32)
        v_pre = self.v + self.k * ((self.v_leak - self.v) + self.r * i)
        z = heaviside(v_pre - self.thr)
        self.v = (F32(1) - z) * v_pre + z * self.v_reset
        return z, {"spikes": z, "v": self.v, "v_pre": v_pre, "thr": self._thr(v_pre)}


class NorseLIBox:
    """norse LIBoxCell (nir.LI): v = v + dt/tau*(v_leak - v + r*I); output v; v starts at v_leak."""

    def __init__(self, node, dt, reset=None):
        self.k = F32(dt) / _p(node, "tau")
        self.r = _p(node, "r")
        self.v_leak = _p(node, "v_leak")
        self.v = None

    def step(self, i):
        if self.v is None:
            self.v = np.broadcast_to(self.v_leak, i.shape).astype(F32)
        self.v = self.v + self.k * ((self.v_leak - self.v) + self.r * i)
        return self.v, {"v": self.v}


class NorseLIF(_Threshold):
    """norse LIFCell / LIFRecurrentCell (nir.CubaLIF): the input jumps into the current unscaled,
    i' = i + I (Norse writes w_in = 1, and it is not a factor in Norse's step);
    v~ = v + dt/tau_mem*(v_leak - v + r*i'); i = (1 - dt/tau_syn)*i';
    z = H(v~ - thr); v = (1-z)*v~ + z*v_reset. v starts at v_leak, i at 0.
    """

    def __init__(self, node, dt, reset="zero"):
        if not np.all(_p(node, "w_in") == 1):
            raise ValueError("the Norse CubaLIF rule expects w_in == 1, as Norse exports it")
        self.k_mem = F32(dt) / _p(node, "tau_mem")
        self.k_syn = F32(dt) / _p(node, "tau_syn")
        self.r = _p(node, "r")
        self.v_leak = _p(node, "v_leak")
        self.thr = _p(node, "v_threshold")
        self.v_reset = _p(node, "v_reset")
        self.v = self.i = None

    def step(self, x):
        if self.v is None:
            self.v = np.broadcast_to(self.v_leak, x.shape).astype(F32)
            self.i = np.zeros_like(x)
        i_jump = self.i + x
        v_pre = self.v + self.k_mem * ((self.v_leak - self.v) + self.r * i_jump)
        self.i = i_jump - self.k_syn * i_jump
        z = heaviside(v_pre - self.thr)
        self.v = (F32(1) - z) * v_pre + z * self.v_reset
        return z, {"spikes": z, "v": self.v, "i": self.i, "v_pre": v_pre, "thr": self._thr(v_pre)}


RULES = {
    "snntorch.Leaky": SnnTorchLeaky,
    "snntorch.RLeaky": lambda node, dt, reset: SnnTorchLeaky(node, dt, reset, True),
    "snntorch.Synaptic": SnnTorchSynaptic,
    "snntorch.RSynaptic": SnnTorchSynaptic,
    "norse.LIFBoxCell": NorseLIFBox,
    "norse.LIBoxCell": NorseLIBox,
    "norse.LIFCell": NorseLIF,
    "norse.LIFRecurrentCell": NorseLIF,
}


# --- stateless nodes --------------------------------------------------------------------------


def _pair(v):
    v = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(v[0]), int(v[-1]))


def conv2d(x, node):
    """PyTorch Conv2d semantics on x [B, C, H, W] (groups = 1, numeric padding)."""
    if int(np.asarray(node.groups)) != 1 or isinstance(node.padding, str):
        raise NotImplementedError("reference conv2d: groups=1 and numeric padding only")
    w, b = _p(node, "weight"), _p(node, "bias")
    (sy, sx), (py, px), (dy, dx) = _pair(node.stride), _pair(node.padding), _pair(node.dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (py, py), (px, px)))
    kh, kw = w.shape[-2:]
    oh = (xp.shape[2] - dy * (kh - 1) - 1) // sy + 1
    ow = (xp.shape[3] - dx * (kw - 1) - 1) // sx + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=F32)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky * dy: ky * dy + sy * oh: sy, kx * dx: kx * dx + sx * ow: sx]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, ky, kx]).astype(F32)
    return out + b[None, :, None, None]


def pool2d(x, node, mean):
    """AvgPool2d (mean=True, count_include_pad as torch) or SumPool2d on x [B, C, H, W]."""
    (kh, kw), (sy, sx), (py, px) = (_pair(node.kernel_size), _pair(node.stride),
                                    _pair(node.padding))
    xp = np.pad(x, ((0, 0), (0, 0), (py, py), (px, px)))
    oh, ow = (xp.shape[2] - kh) // sy + 1, (xp.shape[3] - kw) // sx + 1
    out = np.zeros(x.shape[:2] + (oh, ow), dtype=F32)
    for ky in range(kh):
        for kx in range(kw):
            out += xp[:, :, ky: ky + sy * oh: sy, kx: kx + sx * ow: sx]
    return out / F32(kh * kw) if mean else out


def flatten(x, node):
    """nir.Flatten's dims leave out the batch: dim d here is dim d + 1 of x."""
    nd = x.ndim - 1
    start = int(node.start_dim) % nd + 1
    end = int(node.end_dim) % nd + 1
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


def stateless(node, x):
    """Output of a node without state for input x [B, ...]."""
    kind = type(node).__name__
    if kind in ("Input", "Output"):
        return x
    if kind == "Affine":
        return (x @ _p(node, "weight").T + _p(node, "bias")).astype(F32)
    if kind == "Linear":
        return (x @ _p(node, "weight").T).astype(F32)
    if kind == "Scale":
        return x * _p(node, "scale")
    if kind == "Conv2d":
        return conv2d(x, node)
    if kind in ("AvgPool2d", "SumPool2d"):
        return pool2d(x, node, mean=kind == "AvgPool2d")
    if kind == "Flatten":
        return flatten(x, node)
    raise NotImplementedError(f"reference evaluator: no rule for node type {kind}")


# --- graph schedule and run -------------------------------------------------------------------


def schedule(graph):
    """(order, back_edges): a topological order of the nodes once the edges that close a cycle
    (found by depth-first search from the Input nodes) are taken out; those edges are read with
    a one-step delay."""
    back = _back_edges(graph)
    forward = [tuple(e) for e in graph.edges if tuple(e) not in back]
    return _topological(graph.nodes, forward), back


def _back_edges(graph):
    succ = {k: [] for k in graph.nodes}
    for src, dst in graph.edges:
        succ[src].append(dst)
    back, state = set(), {}

    def visit(n):
        state[n] = "open"
        for m in succ[n]:
            if state.get(m) == "open":
                back.add((n, m))
            elif m not in state:
                visit(m)
        state[n] = "done"

    for name, node in graph.nodes.items():
        if type(node).__name__ == "Input" and name not in state:
            visit(name)
    return back


def _topological(nodes, edges):
    indeg = {k: 0 for k in nodes}
    for _, dst in edges:
        indeg[dst] += 1
    order, ready = [], [k for k, d in indeg.items() if d == 0]
    while ready:
        n = ready.pop(0)
        order.append(n)
        for src, dst in edges:
            if src == n:
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    ready.append(dst)
    if len(order) != len(indeg):
        raise ValueError("graph has a cycle not reachable from an Input node")
    return order


def _initial_back_values(graph, back, out_shapes, recurrent_t0):
    prev = {}
    for src, _ in back:
        zero = np.zeros(out_shapes[src], dtype=F32)
        node = graph.nodes[src]
        # what the source gives for zero input: its bias for an Affine, as in snnTorch's step 0
        prev[src] = stateless(node, zero) if recurrent_t0 == "bias" else zero
    return prev


def _shapes(graph, batch):
    shapes = {}
    for name, node in graph.nodes.items():
        out = list(node.output_type.values())[0]
        shapes[name] = (batch,) + tuple(int(s) for s in np.asarray(out))
    return shapes


def run(graph, inputs, dt, neurons, recurrent_t0="zero"):
    """Run a flat NIR graph on inputs [T, B, *shape] (fed to its single Input node).

    neurons: {node name: {"rule": one of RULES, "reset": "subtract" | "zero" | None}}; every
    neuron node of the graph must be named. Returns {node name: {quantity: array [T, B, ...]}}
    with quantity "out" for every node and what the rule records for neuron nodes.
    """
    order, back = schedule(graph)
    cells = {n: RULES[spec["rule"]](graph.nodes[n], dt, spec.get("reset"))
             for n, spec in neurons.items()}
    inputs = np.asarray(inputs, dtype=F32)
    shapes = _shapes(graph, inputs.shape[1])
    prev = _initial_back_values(graph, back, shapes, recurrent_t0)
    entry = [n for n in order if type(graph.nodes[n]).__name__ == "Input"]
    records = {n: {} for n in graph.nodes}
    for x in inputs:
        outs = {}
        for n in order:
            drive = [outs[s] for s, d in graph.edges if d == n and (s, d) not in back]
            drive += [prev[s] for s, d in graph.edges if d == n and (s, d) in back]
            i = x if n in entry else np.sum(drive, axis=0, dtype=F32)
            if n in cells:
                outs[n], rec = cells[n].step(i)
            elif isinstance(graph.nodes[n], _neuron_types()):
                raise ValueError(f"neuron node {n!r} has no rule in the fixture index")
            else:
                outs[n], rec = stateless(graph.nodes[n], i), {}
            for key, val in {"out": outs[n], **rec}.items():
                records[n].setdefault(key, []).append(np.array(val, copy=True))
        prev = {s: outs[s] for s, _ in back}
    return {n: {k: np.stack(v) for k, v in r.items()} for n, r in records.items()}


def _neuron_types():
    import nir

    return (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.IF, nir.I)


def threshold_margin(record):
    """Smallest |v - threshold| over every step of a spiking neuron's record (how far the
    recorded spikes are from flipping under a different rounding)."""
    return float(np.min(np.abs(record["v_pre"] - record["thr"])))


# --- the published single-LIF trace (neuromorphs/NIR paper/01_lif) ----------------------------


def exact_lif_trace(inputs, dt, tau, r, v_leak, v_th):
    """Event-driven exact solution of one NIR LIF with the input held constant over each step and
    reset by subtraction at the exact crossing time, as the NIR paper's ``lif_exact_sim.py`` does.
    Returns (v at the end of each step, spike per step)."""
    v, vs, spikes = 0.0, [], np.zeros(len(inputs))
    for k, amp in enumerate(inputs):
        left, target = dt, v_leak + r * amp
        while True:
            hit = _time_to_threshold(v, target, tau, v_th)
            if hit >= left:
                break
            v = 0.0  # at the crossing v == v_th, and the reset subtracts v_th
            spikes[min(int((k * dt + dt - left + hit) / dt), len(inputs) - 1)] = 1
            left -= hit
        v = target + (v - target) * np.exp(-left / tau)
        vs.append(v)
    return np.asarray(vs), spikes


def _time_to_threshold(v, target, tau, v_th):
    """Time for v to reach v_th while relaxing towards target with time constant tau (inf if
    never)."""
    if v == target:
        return np.inf
    ratio = (v_th - target) / (v - target)
    if ratio <= 0 or ratio >= 1:
        return np.inf
    return -tau * np.log(ratio)
