"""``freeze``: trained arrays back into the user's objects (``Simulator.freeze_params``).

Each trainable array was recorded at lowering with its owner and role (``IR.owners``):
an ensemble's ``bias`` (its gain is written too: Nengo needs both), its ``encoders``, a
connection's ``transform`` (and ``transform_bias``) or ``decoders``. After freezing,
compiling the network for any target gives the trained values without a parameters
file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.errors import ValidationError
from snngraph.solvers import NoSolver
from snngraph.transforms import Convolution, Dense


def freeze(net: Any, ir: Any, values: dict[str, np.ndarray]) -> None:
    members = {id(o) for o in net.all_objects}
    by_obj: dict[int, dict[str, np.ndarray]] = {}
    objs: dict[int, Any] = {}
    for key, (obj, role) in ir.owners.items():
        if id(obj) not in members:
            raise ValidationError(f"Simulator.freeze_params: {obj._describe()} is not part of "
                                  f"{net._describe()}; pass the network this Simulator was "
                                  "built from", obj="Simulator", field="net", value=net)
        by_obj.setdefault(id(obj), {})[role] = np.asarray(values[key], float)
        if role == "bias":  # the gain sits next to it: "%ens.bias" -> "%ens.gain"
            gain = key[:-len("bias")] + "gain"
            by_obj[id(obj)]["gain"] = np.asarray(ir.params[gain], float) / ir.scales.get(
                gain, 1.0)
        objs[id(obj)] = obj
    for oid, roles in by_obj.items():
        obj = objs[oid]
        if "bias" in roles:
            _set_gain_bias(obj, roles["gain"], roles["bias"])
        if "encoders" in roles:
            obj.normalize_encoders = False
            obj.encoders = roles["encoders"] * obj.radius
        if "transform" in roles:
            obj.transform = _transform(obj.transform, roles["transform"],
                                       roles.get("transform_bias"))
        if "decoders" in roles:
            obj.solver = NoSolver(roles["decoders"].T)


def _set_gain_bias(ens: Any, gain: np.ndarray, bias: np.ndarray) -> None:
    """Both at once: the ensemble checks they are given together."""
    old = ens.gain
    ens.__dict__["gain"] = gain
    try:
        ens.bias = bias
        ens.gain = gain
    except Exception:
        ens.__dict__["gain"] = old
        raise


def _transform(old: Any, weights: np.ndarray, bias: np.ndarray | None) -> Any:
    if isinstance(old, Convolution):  # a 1-D kernel ran as a 2-D one of height 1
        return old.model_copy(update={"init": weights.reshape(old.kernel_shape),
                                      "bias": bias if bias is not None else old.bias})
    if isinstance(old, Dense):
        shape = weights.shape if weights.ndim == 2 else old.shape
        # autapses=False must survive: a later fit keeps the diagonal at zero from it
        return Dense(shape, init=weights, bias=bias if bias is not None else old.bias,
                     autapses=old.autapses)
    return weights  # a plain array (or scalar) transform
