"""Data fed to a Simulator: each input node's data checked and shaped as ``[examples,
steps or 1, size]`` (NengoDL's layout; ``[examples, size]`` is held constant over the
steps), with messages that name the node, the shape expected and a fix."""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.errors import ValidationError, short_repr


class Feeds:
    """Mixed into ``Simulator``; uses its program, probes and ``dtype``."""

    def _input_ops(self) -> dict[str, Any]:
        return {op.name: op for op in self.program.ir.ops() if op.op == "input"}

    def _feeds(self, data: Any, n_steps: int | None, batch: int | None,
               exact: bool) -> tuple[dict[str, np.ndarray], int]:
        """Each input op's data as ``[examples, steps or 1, size]``, and the most steps
        any input gives."""
        inputs = self._input_ops()
        if not self._probes and (data is not None or not exact):
            raise ValidationError(
                "Simulator: this network has no probes, so a run returns nothing (and the "
                "compiler removed every op no probe reads, its input nodes included; got "
                f"data={short_repr(data, 40)})\n  fix: add sg.Probe(obj) inside the "
                "network's with-block for each value you want back", obj="Simulator",
                field="probes", value=None)
        if data is None:
            if not exact:
                raise ValidationError("Simulator.predict: needs input data",
                                      obj="Simulator", field="x", value=None)
            return {}, 0
        if not isinstance(data, dict):
            if len(inputs) != 1:
                raise ValidationError(
                    f"Simulator: a bare array needs exactly one input node, this network has "
                    f"{len(inputs)}; pass {{node: array}}", obj="Simulator", field="data",
                    value=short_repr(data))
            data = {next(iter(inputs)): data}
        feeds = {}
        for key, value in data.items():
            name = self._op_name(key, inputs)
            feeds[name] = self._shaped(name, inputs[name], value, n_steps, batch)
        sizes = {len(v) for v in feeds.values()}
        if len(sizes) > 1:
            raise ValidationError(f"Simulator: inputs have different numbers of examples "
                                  f"({sorted(sizes)})", obj="Simulator", field="data",
                                  value=sorted(sizes))
        steps = max((v.shape[1] for v in feeds.values()), default=0)
        return {k: _held(v) for k, v in feeds.items()}, steps

    def _op_name(self, key: Any, inputs: dict[str, Any]) -> str:
        if isinstance(key, str) and key in inputs:
            return key
        try:
            name = self.program.op_of(key)
        except KeyError:
            name = None
        if name not in inputs:
            raise ValidationError(f"Simulator: {short_repr(key)} is not an input node of this "
                                  f"network (inputs: {', '.join(inputs) or 'none'})",
                                  obj="Simulator", field="data", value=key)
        return name

    def _shaped(self, name: str, op: Any, value: Any, n_steps: int | None,
                batch: int | None) -> np.ndarray:
        where = f"Simulator: data for {name} ({', '.join(o.obj for o in op.src)})"
        arr = _numbers(value, where, self.dtype)
        if arr.ndim == 2:
            arr = arr[:, None, :]  # [examples, size] held constant over the steps
        if arr.ndim != 3 or arr.shape[2] != op.size:
            raise ValidationError(f"{where}: expected shape [examples, steps, {op.size}] or "
                                  f"[examples, {op.size}], got {np.shape(value)}"
                                  + _reshape_fix(value, op.size),
                                  obj="Simulator", field="data", value=np.shape(value))
        if n_steps is not None and arr.shape[1] not in (1, n_steps):
            raise ValidationError(f"{where}: has {arr.shape[1]} steps, the run has {n_steps}",
                                  obj="Simulator", field="data", value=np.shape(value))
        if len(arr) == 0:
            raise ValidationError(f"{where}: has 0 examples (shape {np.shape(value)})\n  fix: pass "
                                  "at least one example", obj="Simulator", field="data",
                                  value=np.shape(value))
        if batch is not None and len(arr) != batch:
            raise ValidationError(f"{where}: has {len(arr)} examples but minibatch_size is "
                                  f"{batch}; use sim.predict for a whole dataset",
                                  obj="Simulator", field="data", value=np.shape(value))
        finite = np.isfinite(_held(arr))
        if not np.all(finite):
            index = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValidationError(f"{where}: contains NaN or inf ({int((~finite).sum())} "
                                  f"value(s); the first, {_held(arr)[index]}, at index "
                                  f"{index})\n  fix: replace or drop the non-finite values "
                                  "(e.g. np.nan_to_num(x))", obj="Simulator", field="data",
                                  value="non-finite")
        return arr


def _reshape_fix(value: Any, size: int) -> str:
    """The reshape that fits data holding ``size`` values per example as an image
    (``load_mnist``'s uint8 ``[n, 28, 28]`` for a 784-value node), or ''."""
    shape, dtype = np.shape(value), getattr(value, "dtype", None)
    for lead in (1, 2):  # [n, *image] or [n, steps, *image]
        if len(shape) > lead + 1 and int(np.prod(shape[lead:])) == size:
            dims = ("len(x)", "x.shape[1]")[:lead]
            fix = f"x.reshape({', '.join(dims)}, -1)"
            if dtype == np.uint8:
                fix += " / 255  (uint8 pixels to [0, 1])"
            return (f"\n  fix: one row of {size} values per example"
                    f"{'' if lead == 1 else ' and step'}: {fix}")
    return ""


def _numbers(value: Any, where: str, dtype: Any = np.float32) -> np.ndarray:
    """``value`` in ``dtype`` (the Simulator's precision), refusing what a cast would
    silently change or misreport: complex values (the imaginary part dropped), strings,
    None and other objects."""
    def refuse(what: str, fix: str) -> ValidationError:
        return ValidationError(f"{where}: {what}\n  fix: {fix}", obj="Simulator",
                               field="data", value=short_repr(value))
    try:
        raw = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise refuse(f"is not a rectangular array ({exc})", "give every example the same "
                     "number of steps and values (an array [examples, steps, size])") from None
    kind = raw.dtype.kind
    if kind == "c":
        raise refuse(f"holds complex numbers (dtype {raw.dtype}); casting would drop the "
                     "imaginary part", "pass real values: np.real(x), np.abs(x), or the two "
                     "parts as separate inputs")
    if kind == "O":
        flat = raw.ravel()
        ok = np.frompyfunc(lambda v: isinstance(v, int | float | np.number)
                           and not isinstance(v, complex | np.complexfloating), 1, 1)(flat)
        bad = np.flatnonzero(~ok.astype(bool))
        if len(bad):
            index = np.unravel_index(bad[0], raw.shape)
            raise refuse(f"holds {short_repr(flat[bad[0]], 30)} ({type(flat[bad[0]]).__name__})"
                         f" at index {tuple(int(i) for i in index)}, not a number "
                         f"({len(bad)} such entries)", "fill in the missing values (e.g. "
                         "with 0) and pass a numeric array")
    elif kind not in "biuf":
        example = short_repr(raw.ravel()[0], 30) if raw.size else "none"
        raise refuse(f"holds {raw.dtype} values (e.g. {example}), not numbers",
                     "convert the data to numbers first (e.g. np.asarray(x, dtype=np.float32) "
                     "for numeric strings, or encode categories as integers)")
    return raw.astype(dtype, copy=False)


def _held(arr: np.ndarray) -> np.ndarray:
    """An input repeated over the steps by ``np.broadcast_to`` (a zero stride on the step
    axis) as one row per example, which the runtimes hold: never copied out step by step
    (10,000 MNIST images x 32 steps would be 1 GB)."""
    return arr[:, :1] if arr.shape[1] > 1 and arr.strides[1] == 0 else arr
