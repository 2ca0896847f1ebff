"""Integer Loihi core arithmetic, batched over independent examples (Numba).

One step of a layer (NengoLoihi's ``emulator/interface.py``, ``CompartmentState.update``):

1. each input spike of the previous step adds its integer weights to ``q`` (event
   driven: only spiking axons cost anything);
2. ``q`` wraps at 21 bits plus sign; ``u = decay(u, decay_u, offset 1) + q`` wraps at 23
   bits; ``u2 = u + bias`` (also checked at 23 bits);
3. ``v = decay(v, decay_v) + u2``, clipped to ``[vmin, vmax]``, held at 0 while
   refractory;
4. ``v > vth`` spikes (at most one per step), resets ``v`` to 0 and sets the refractory
   counter to ``ref``; every counter then counts down by one.

``decay(x, d, offset) = sign(x) * ((|x| * (4096 - offset - d)) >> 12)``. Overflows are
counted (per layer) so the runtime can report them; the values wrap as on the chip.

``run_dense`` runs every step of a chip whose connections are all dense in one call
(the emulator's default for NEF models); ``dense_input``/``conv_input`` and ``update``
step one layer at a time (convolutions).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

Q_BITS = 21
U_BITS = 23


@njit(cache=True, inline="always")
def _wrap(x, bits):
    """Two's-complement overflow to ``bits`` bits plus sign (``overflow_signed``): the
    low ``bits + 1`` bits, sign-extended. Branch-free, so the update loop vectorises."""
    s = np.int64(1) << bits
    y = ((x + s) & (2 * s - 1)) - s
    return y, np.int64(y != x)


@njit(cache=True, inline="always")
def _decay(x, decay, offset):
    r = np.int64(4096 - offset - decay)
    sign = np.int64(x >= 0) * 2 - 1  # on the magnitude, then the sign back, in
    return sign * ((abs(x) * r) >> 12)  # arithmetic: the loops vectorise


@njit(cache=True, inline="always")
def _dense_row(spikes, weights, q):
    for i in range(spikes.shape[0]):
        if spikes[i]:
            row = weights[i]
            for j in range(row.shape[0]):
                q[j] += row[j]


@njit(cache=True, parallel=True)
def dense_input(spikes, weights, q):
    """``q[b] += weights[i]`` for every pre neuron ``i`` that spiked in example ``b``."""
    for b in prange(spikes.shape[0]):
        _dense_row(spikes[b], weights, q[b])


@njit(cache=True)
def dense_input_serial(spikes, weights, q):
    """``dense_input`` on the calling thread (small minibatches: entering a parallel
    region every step costs more than the work)."""
    for b in range(spikes.shape[0]):
        _dense_row(spikes[b], weights, q[b])


@njit(cache=True, inline="always")
def _conv_row(spikes, kernels, blockmap, shape_in, shape_out, strides, pads, q):
    h, w, c_in = shape_in[0], shape_in[1], shape_in[2]
    ho, wo, c_out = shape_out[0], shape_out[1], shape_out[2]
    kh, kw = kernels.shape[1], kernels.shape[2]
    sy, sx, py, px = strides[0], strides[1], pads[0], pads[1]
    single = kernels.shape[0] == 1
    for p in range(h * w * c_in):
        if not spikes[p]:
            continue
        c = p % c_in
        j = (p // c_in) % w
        i = p // (c_in * w)
        oi0 = max(0, -((kh - 1 - i - py) // sy))  # ceil((i + py - kh + 1) / sy)
        oi1 = min(ho - 1, (i + py) // sy)
        oj0 = max(0, -((kw - 1 - j - px) // sx))
        oj1 = min(wo - 1, (j + px) // sx)
        for oi in range(oi0, oi1 + 1):
            ki = i + py - oi * sy
            for oj in range(oj0, oj1 + 1):
                kj = j + px - oj * sx
                base = (oi * wo + oj) * c_out
                if single:
                    for co in range(c_out):
                        q[base + co] += kernels[0, ki, kj, c, co]
                else:
                    for co in range(c_out):
                        q[base + co] += kernels[blockmap[base + co], ki, kj, c, co]


@njit(cache=True, parallel=True)
def conv_input(spikes, kernels, blockmap, shape_in, shape_out, strides, pads, q):
    """Convolution from input spikes ``[b, h*w*c_in]`` (channels last): every spiking
    pixel adds its kernel slices to the outputs it reaches. ``kernels[blockmap[o]]`` is
    the integer kernel of the block holding output compartment ``o``."""
    for b in prange(spikes.shape[0]):
        _conv_row(spikes[b], kernels, blockmap, shape_in, shape_out, strides, pads, q[b])


@njit(cache=True)
def conv_input_serial(spikes, kernels, blockmap, shape_in, shape_out, strides, pads, q):
    """``conv_input`` on the calling thread (small minibatches)."""
    for b in range(spikes.shape[0]):
        _conv_row(spikes[b], kernels, blockmap, shape_in, shape_out, strides, pads, q[b])


@njit(cache=True, inline="always")
def _update_span(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,
                 spiked):
    """One example's compartments (1-D state rows and parameters of one length); returns
    (overflows, active updates). Two passes, each with few arrays and selects written
    as arithmetic, so that LLVM vectorises both (one pass with branches ran three times
    slower). Callers pass slices rather than index bounds: a loop from an unknown start
    index does not vectorise (numba's negative-index wraparound)."""
    wrapped, busy = 0, 0
    for i in range(q.shape[0]):  # the input current u
        qi, o1 = _wrap(q[i], Q_BITS)
        ui, o2 = _wrap(_decay(np.int64(u[i]), decay_u[i], 1) + qi, U_BITS)
        q[i] = qi
        u[i] = ui
        wrapped += o1 + o2
    for i in range(q.shape[0]):  # voltage, spike, reset and refractory count
        u2, o3 = _wrap(np.int64(u[i]) + bias[i], U_BITS)
        vi = _decay(np.int64(v[i]), decay_v[i], 0) + u2
        vi = min(max(vi, np.int64(vmin[i])), np.int64(vmax[i]))
        count = ref_count[i]
        vi = vi * (count <= 0)  # held at 0 while refractory
        fired = np.int64(vi > vth[i])
        spiked[i] = np.uint8(fired)
        count = ref[i] * fired + count * (1 - fired)
        ref_count[i] = count - (count > 0)
        v[i] = vi * (1 - fired)
        busy += (q[i] != 0) | fired  # an update with input or a spike
        q[i] = 0
        wrapped += o3
    return wrapped, busy


@njit(cache=True, inline="always")
def _update_row(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,
                spiked, overflows, active, b):
    wrapped, busy = _update_span(q[b], u[b], v[b], ref_count[b], decay_u, decay_v, vth,
                                 bias, ref, vmin, vmax, spiked[b])
    overflows[b] += wrapped
    active[b] += busy


@njit(cache=True, parallel=True)
def update(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax, spiked,
           overflows, active):
    """One compartment update for every example; ``q`` is cleared for the next step.
    ``active`` counts updates with input or a spike (they cost more energy)."""
    for b in prange(q.shape[0]):
        _update_row(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,
                    spiked, overflows, active, b)


@njit(cache=True)
def update_serial(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,
                  spiked, overflows, active):
    """``update`` on the calling thread (small minibatches)."""
    for b in range(q.shape[0]):
        _update_row(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,
                    spiked, overflows, active, b)


@njit(cache=True)
def dense_input_each(spikes, weights, q):
    """``q[b] += weights[b, i]``: each example through its own weights (a learning
    synapse: the examples of a minibatch learn independently)."""
    for b in range(spikes.shape[0]):
        _dense_row(spikes[b], weights[b], q[b])


@njit(cache=True, inline="always")
def _deliver_dense(sb, qb, synapses, weights, acc):
    """Every dense connection's input from the spikes in ``sb``. Row ``k`` of ``synapses``:
    source offset and size in ``sb``, target offset and size in ``qb``, offset of its
    row-major weights in ``weights``, and their shift: the chip's weights are a mantissa
    times a power of two, so the mantissas (8 bits) are summed in ``acc`` (32 bits, as
    wide as the vector lanes allow) and shifted once into the 64-bit input."""
    for k in range(synapses.shape[0]):
        s0, ns, d0, nd, w0, shift = (synapses[k, 0], synapses[k, 1], synapses[k, 2],
                                     synapses[k, 3], synapses[k, 4], synapses[k, 5])
        total = acc[:nd]
        hit = False
        for i in range(ns):
            if sb[s0 + i]:
                row = weights[w0 + i * nd:w0 + (i + 1) * nd]
                if not hit:
                    for j in range(nd):
                        total[j] = row[j]
                    hit = True
                else:
                    for j in range(nd):
                        total[j] += row[j]
        if hit:
            target = qb[d0:d0 + nd]
            for j in range(nd):
                target[j] += np.int64(total[j]) << shift


@njit(cache=True, inline="always")
def _run_example(b, host, synapses, weights, layer_off, q, u, v, ref_count, decay_u,
                 decay_v, vth, bias, ref, vmin, vmax, spikes, out, overflows, active, acc):
    """Every step of one example on the whole chip. ``spikes[b]`` holds what was emitted
    at the previous step: the compartments' spikes, then the host inputs'."""
    n = q.shape[1]
    sb, qb, ub, vb, rb = spikes[b], q[b], u[b], v[b], ref_count[b]
    for t in range(host.shape[1]):
        _deliver_dense(sb, qb, synapses, weights, acc[b])
        for m in range(layer_off.shape[0] - 1):
            lo, hi = layer_off[m], layer_off[m + 1]
            wrapped, busy = _update_span(qb[lo:hi], ub[lo:hi], vb[lo:hi], rb[lo:hi],
                                         decay_u[lo:hi], decay_v[lo:hi], vth[lo:hi],
                                         bias[lo:hi], ref[lo:hi], vmin[lo:hi], vmax[lo:hi],
                                         sb[lo:hi])
            overflows[b, m] += wrapped
            active[b, m] += busy
        for i in range(n):
            out[b, t, i] = sb[i]
        for i in range(host.shape[2]):
            sb[n + i] = host[b, t, i]


@njit(cache=True, parallel=True)
def run_dense(host, synapses, weights, layer_off, q, u, v, ref_count, decay_u, decay_v,
              vth, bias, ref, vmin, vmax, spikes, out, overflows, active, acc):
    """A whole run of a chip whose connections are all dense, one example per thread:
    examples never interact, so the steps loop inside the kernel (no call per layer and
    step). ``host[b, t]`` are the host's spikes made at step t (they arrive at t + 1)."""
    for b in prange(q.shape[0]):
        _run_example(b, host, synapses, weights, layer_off, q, u, v, ref_count, decay_u,
                     decay_v, vth, bias, ref, vmin, vmax, spikes, out, overflows, active,
                     acc)


@njit(cache=True)
def run_dense_serial(host, synapses, weights, layer_off, q, u, v, ref_count, decay_u,
                     decay_v, vth, bias, ref, vmin, vmax, spikes, out, overflows, active,
                     acc):
    """``run_dense`` on the calling thread (small minibatches)."""
    for b in range(q.shape[0]):
        _run_example(b, host, synapses, weights, layer_off, q, u, v, ref_count, decay_u,
                     decay_v, vth, bias, ref, vmin, vmax, spikes, out, overflows, active,
                     acc)
