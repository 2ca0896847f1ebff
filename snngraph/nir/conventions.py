"""How a producer runs the NIR nodes it writes, for ``sg.nir.load(..., convention=...)``.

A NIR file says neither its time step nor how its producer resets, where its neurons
start, or (Norse) what ``w_in`` means; docs/nir_peers.md records what snnTorch 1.0 and
Norse 1.1 actually run. A convention turns that into the fields of snngraph's NIR cells
(snngraph/neurons/nir_cells.py), so the producer's model is reproduced step for step:

- ``"nir"`` (default): NIR as written. ``reset="zero"`` is ``v <- v_reset`` right after
  the spike; ``reset="subtract"`` reads every spiking node as snnTorch's subtraction one
  step later (its exporter writes ``v_reset = 0`` for it too).
- ``"snntorch"``: ``dt = 1e-4`` unless given (snnTorch's exporter assumes it), forward
  Euler, ``reset="subtract"`` (its default) or ``"zero"``. Its zero reset differs by
  layer: a ``Leaky`` (a LIF node with no recurrent input) decays from 0 after a spike;
  an ``RLeaky`` (a LIF node on a cycle) and every ``Synaptic``/``RSynaptic`` (CubaLIF)
  have the whole next membrane cleared.
- ``"norse"``: ``dt = 1e-3`` unless given (Norse's cells' default), forward Euler, the
  reset to ``v_reset`` in the same step, the voltage starting at ``v_leak``, and a
  CubaLIF's input added whole to its current (Norse writes ``w_in = 1`` and runs
  ``i <- i + x``: read as ``w_in * tau_syn/dt``).
"""

from __future__ import annotations

from dataclasses import dataclass

from snngraph.errors import ValidationError


@dataclass(frozen=True)
class Convention:
    name: str
    dt: float | None
    """The producer's step when neither the call nor the file gives one."""
    resets: tuple[str, ...]
    """The ``reset=`` values it knows, its default first."""
    start_at: str
    input_jump: bool
    """CubaLIF's input enters the current whole (``w_in`` read times ``tau_syn/dt``)."""
    euler_only: bool

    def cell_reset(self, reset: str, kind: str, recurrent: bool) -> str:
        """The ``reset`` field of an imported spiking cell of NIR type ``kind``."""
        if reset == "subtract":
            return "subtract_next"
        if self.name == "snntorch" and (kind == "CubaLIF" or recurrent):
            return "clear_next"  # RLeaky / Synaptic / RSynaptic clear the new membrane
        if self.name == "snntorch":
            return "zero_next"
        return "value"

    def describe(self, reset: str) -> str:
        if self.name == "nir":
            return ("convention nir (NIR as written): spiking nodes reset "
                    + ("by subtraction one step later (snnTorch's)" if reset == "subtract"
                       else "to v_reset"))
        if self.name == "snntorch":
            how = ("by subtracting the threshold one step later" if reset == "subtract" else
                   "to zero one step later (Leaky: the decay restarts from 0; RLeaky, "
                   "Synaptic, RSynaptic: the next membrane is cleared)")
            return (f"convention snntorch: reset {how}; voltages start at 0; the reported "
                    "membrane is before the reset")
        return ("convention norse: reset to v_reset in the step; voltages start at v_leak; "
                "a CubaLIF's input is added whole to its current (w_in read as "
                "w_in * tau_syn/dt)")


CONVENTIONS = {
    "nir": Convention("nir", None, ("zero", "subtract"), "zero", False, False),
    "snntorch": Convention("snntorch", 1e-4, ("subtract", "zero"), "zero", False, True),
    "norse": Convention("norse", 1e-3, ("zero",), "v_leak", True, True),
}


def convention(name: str, reset: str | None, discretisation: str | None,
               call: str = "sg.nir.load") -> tuple[Convention, str]:
    """The convention named and the reset to read with, checked."""
    if name not in CONVENTIONS:
        raise ValidationError(f"{call}: convention must be one of {sorted(CONVENTIONS)} (got "
                              f"{name!r})", obj=call, field="convention", value=name)
    conv = CONVENTIONS[name]
    reset = reset or conv.resets[0]
    if reset not in conv.resets:
        raise ValidationError(f"{call}: reset={reset!r} is not a reset of convention "
                              f"{name!r}, which knows {list(conv.resets)}\n  fix: "
                              f"reset={conv.resets[0]!r}, or convention='nir'", obj=call,
                              field="reset", value=reset)
    if conv.euler_only and discretisation not in (None, "euler"):
        raise ValidationError(f"{call}: convention {name!r} steps by forward Euler, as "
                              f"{name} does; discretisation={discretisation!r} would not "
                              "reproduce it\n  fix: leave discretisation out", obj=call,
                              field="discretisation", value=discretisation)
    return conv, reset
