"""``DecodeNeurons``: NengoLoihi's on/off decode neurons, as a setting of the Loihi target.

A decoded connection between two chip ensembles can run as full neuron-to-neuron weights
(``encoders @ decoders``, ``n_post x n_pre`` synapses) or through a small group of
*decode neurons* on the chip: spiking ReLUs in on/off pairs, ``pairs_per_dim`` pairs per
decoded dimension, that re-encode the decoded value as spikes; the post reads them
through its encoders. That costs ``(n_pre + n_post) x 2 x pairs x d`` synapses instead of
``n_pre x n_post``, one more step of latency and some spike noise. The Loihi target's
``nef_to_chip`` pass picks one (``compile(loihi_decode=...)``, ``net.config[conn]
.loihi_decode``; docs/loihi_nef.md).

The arithmetic is NengoLoihi 1.1.0's (``nengo_loihi/decode_neurons.py``): pair ``p`` has
gain ``g_p`` and bias ``b_p`` (Hz at a decoded value of 1), the on neuron fires at about
``g_p y + b_p`` and the off one at ``-g_p y + b_p``, and a difference of one spike per
step between on and off neurons decodes ``scale * dt`` (the post weights are
``encoders * scale * dt``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import model_validator

from snngraph.base import FieldError, Spec
from snngraph.schemas.base import PosFloat, PosInt

PRESETS = {  # NengoLoihi's Preset5/Preset10DecodeNeurons: (intercepts, max rates, x_ref)
    5: ((-0.8, 0.8), (160.0, 70.0), 0.85),
    10: ((-1.171, 0.484), (171.186, 74.620), 1.0),
}
PRESET_SCALE_FACTOR = 1.02
"""NengoLoihi's output gain for the presets (1.00 suits a channel, 1.05 added inputs)."""


class DecodeNeurons(Spec):
    """On/off decode neurons, as NengoLoihi builds them (its default: ``kind='preset'``,
    ten heterogeneous pairs per dimension and a 5 ms filter after them).

    ``kind='preset'``: NengoLoihi's Preset5/Preset10 pairs (``pairs_per_dim`` 5 or 10),
    intercepts and max rates spread over the pairs, output scaled to decode 1.02 x the
    value at a reference point. ``kind='onoff'``: identical pairs (``OnOffDecodeNeurons``)
    with gain and bias ``rate / 2``, so both neurons of a pair fire at ``rate / 2`` at zero;
    ``rate`` defaults to ``1 / (dt pairs_per_dim)`` (a dimension's neurons together average
    one spike per step); a chip ReLU's rate is a staircase (``1 / (dt ceil(1 / (J dt)))``),
    so a single pair near one spike per step decodes coarsely. ``tau``: the Lowpass filter
    after the decode neurons, on the post ensemble's compartments (NengoLoihi's 0.005 s by
    default); ``None`` adds no filter of its own.
    """

    family: ClassVar[str] = "backend"

    pairs_per_dim: PosInt = 10
    """On/off pairs per decoded dimension (5 or 10 for the presets)."""
    kind: Literal["preset", "onoff"] = "preset"
    """``'preset'``: NengoLoihi's heterogeneous pairs; ``'onoff'``: identical pairs."""
    rate: PosFloat | None = None
    """``'onoff'`` only: each neuron's rate at a decoded value of 1 (Hz); default
    ``1 / (dt pairs_per_dim)``."""
    scale_factor: PosFloat | None = None
    """Gain on the decoded output; None: NengoLoihi's, 1.02 for the presets (its
    compromise between a channel, best at 1.00, and added inputs, at 1.05) and 1 for
    ``'onoff'``. A recurrent loop with a gain above 1 grows (the oscillator's amplitude),
    so a loop that ``compensate`` corrects takes 1.0 unless this is set."""
    tau: PosFloat | None = 0.005
    """The filter (seconds) on the post after the decode neurons (NengoLoihi's 5 ms: without it
    their spikes reach the post raw, several times noisier); None: no filter of its own.
    A post whose other inputs share another filter keeps theirs (one per compartment)."""

    compensate: bool = True
    """A recurrent connection through decode neurons that decodes its ensemble's own value
    gets its transform corrected for the filter and the step they add to the loop
    (``M' = (I + (tau + dt) A) M`` with ``A = (M - I) / tau_syn``: the mapping of the NEF's
    principle 3 onto two synapses in series); NengoLoihi does not (its oscillator runs
    15 % slow)."""

    @model_validator(mode="after")
    def _preset_pairs(self) -> DecodeNeurons:
        if self.kind == "preset" and self.pairs_per_dim not in PRESETS:
            raise FieldError("pairs_per_dim", self.pairs_per_dim,
                             f"NengoLoihi's presets have {' or '.join(map(str, PRESETS))} "
                             "pairs per dimension; use kind='onoff' for other counts")
        if self.kind == "preset" and self.rate is not None:
            raise FieldError("rate", self.rate, "the presets set each pair's rate "
                             "themselves; rate applies to kind='onoff'")
        return self

    def pairs(self, dt: float) -> tuple[np.ndarray, np.ndarray, float]:
        """``(gain, bias, scale)``: per pair, the gain and bias (Hz at a decoded value of
        1) of its neurons, and the decoded value per spike per second of on - off."""
        from snngraph.neurons.loihi import LoihiSpikingRectifiedLinear

        if self.kind == "onoff":
            rate = 1.0 / (dt * self.pairs_per_dim) if self.rate is None else self.rate
            gain = np.full(self.pairs_per_dim, 0.5 * rate)
            factor = 1.0 if self.scale_factor is None else self.scale_factor
            return gain, gain.copy(), factor / (dt * rate * self.pairs_per_dim)
        (i0, i1), (r0, r1), x_ref = PRESETS[self.pairs_per_dim]
        neuron = LoihiSpikingRectifiedLinear()
        gain, bias = neuron.gain_bias(np.linspace(r0, r1, self.pairs_per_dim),
                                      np.linspace(i0, i1, self.pairs_per_dim))
        total = float(np.sum(neuron.rates(x_ref * gain + bias, dt=dt)))
        factor = PRESET_SCALE_FACTOR if self.scale_factor is None else self.scale_factor
        return gain, bias, factor * x_ref / (dt * total)

    def layout(self, d: int, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For ``d`` dimensions, NengoLoihi's order (per pair: ``d`` on neurons then ``d``
        off neurons): each neuron's gain, bias and sign (+1 on, -1 off); ``2 d pairs``
        neurons, neuron ``i`` decoding dimension ``i % d``."""
        gain, bias, _ = self.pairs(dt)
        sign = np.tile(np.repeat([1.0, -1.0], d), self.pairs_per_dim)
        return gain.repeat(2 * d), bias.repeat(2 * d), sign

    def compartments(self, d: int) -> int:
        return 2 * d * self.pairs_per_dim
