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
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

Q_BITS = 21
U_BITS = 23


@njit(cache=True, inline="always")
def _wrap(x, bits):
    """Two's-complement overflow to ``bits`` bits plus sign (``overflow_signed``)."""
    s = np.int64(1) << bits
    if -s <= x < s:
        return x, 0
    y = x & (s - 1)
    if x & s:
        y -= s
    return y, 1


@njit(cache=True, inline="always")
def _decay(x, decay, offset):
    r = np.int64(4096 - offset - decay)
    d = (abs(x) * r) >> 12  # on the magnitude, then the sign back: a select, not a
    return d if x >= 0 else -d  # branch (a current's sign changes unpredictably)


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
def _update_row(q, u, v, ref_count, decay_u, decay_v, vth, bias, ref, vmin, vmax,  # noqa: C901
                spiked, overflows, active, b):  # one compiled pass, as the chip's
    wrapped, busy = 0, 0  # counted here, stored once: branches on them mispredicted
    for i in range(q.shape[1]):
        qi, o1 = _wrap(q[b, i], Q_BITS)
        q[b, i] = 0
        ui, o2 = _wrap(_decay(np.int64(u[b, i]), decay_u[i], 1) + qi, U_BITS)
        u[b, i] = ui
        u2, o3 = _wrap(ui + bias[i], U_BITS)
        wrapped += o1 + o2 + o3
        vi = _decay(np.int64(v[b, i]), decay_v[i], 0) + u2
        vi = min(max(vi, vmin[i]), vmax[i])
        refractory = ref_count[b, i] > 0
        vi = 0 if refractory else vi
        fired = vi > vth[i]
        busy += (qi != 0) | fired  # an update with input or a spike
        spiked[b, i] = fired
        count = ref[i] if fired else ref_count[b, i]
        ref_count[b, i] = count - 1 if count > 0 else count
        v[b, i] = 0 if fired else vi
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
