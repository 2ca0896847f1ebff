"""``fit``'s argument checks, Keras's ``validation_split``, and how training messages
name a parameter (its owner and role) or a neuron op."""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.errors import SerializationError, ValidationError, short_repr


def count_examples(feeds: dict[str, np.ndarray]) -> int:
    if not feeds:
        raise ValidationError("Simulator.fit: needs input data x", obj="Simulator",
                              field="x", value=None)
    return len(next(iter(feeds.values())))


def check_count(field: str, value: Any, where: str = "fit", fix: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        whole = isinstance(value, float) and value.is_integer() and value >= 1
        if whole:
            fix = f"{field}={int(value)} (a whole number)"
        fix = fix or f"{field}=1 or more"
        raise ValidationError(f"Simulator.{where}.{field}: expected an integer >= 1 (got "
                              f"{short_repr(value)})\n  fix: {fix}", obj="Simulator",
                              field=field, value=value)


def check_split(split: Any, validation_data: Any) -> None:
    if split is None or (not isinstance(split, bool) and isinstance(split, int | float)
                         and split == 0):
        return
    ok = not isinstance(split, bool) and isinstance(split, int | float) and 0 < split < 1
    if not ok:
        raise ValidationError(f"Simulator.fit.validation_split: expected a fraction between "
                              f"0 and 1 (got {short_repr(split)})\n  fix: "
                              "validation_split=0.2 holds out the last 20% of the examples",
                              obj="Simulator", field="validation_split", value=split)
    if validation_data is not None:
        raise ValidationError(f"Simulator.fit.validation_split: {split} given together with "
                              "validation_data; give one of them\n  fix: drop "
                              "validation_split to score validation_data, or drop "
                              "validation_data", obj="Simulator", field="validation_split",
                              value=split)


def split_validation(feeds: dict[str, np.ndarray], y: Any, n: int, split: float) -> tuple:
    """Keras's ``validation_split``: the last ``split`` of the examples, in order, become
    the validation data; returns the training feeds and y, the validation data and the
    training count."""
    at = int(n * (1.0 - split))
    if at < 1 or at >= n:
        raise ValidationError(
            f"Simulator.fit.validation_split: {split} of {n} examples leaves "
            f"{'no example to train on' if at < 1 else 'no example to validate on'}\n  fix: "
            f"a fraction that holds out between 1 and {n - 1} examples (e.g. 0.2)",
            obj="Simulator", field="validation_split", value=split)

    def cut(value: Any, part: slice) -> Any:
        if isinstance(value, dict):
            return {k: cut(v, part) for k, v in value.items()}
        arr = np.asarray(value) if value is not None else None
        return arr[part] if arr is not None and arr.ndim and len(arr) == n else value

    train, held = slice(0, at), slice(at, n)
    return ({k: v[train] for k, v in feeds.items()}, cut(y, train),
            ({k: v[held] for k, v in feeds.items()}, cut(y, held)), at)


def owner_text(ir: Any, key: str) -> str:
    obj, role = ir.owners[key]
    site = f" (created at {obj.site})" if obj.site else ""
    return f"{obj._describe()} {role.replace('_', ' ')}{site}"


def check_known(path: Any, arrays: dict[str, Any], names: dict[str, str]) -> None:
    """Every array in a parameters file must be one of this network's (by label, or by
    internal key in files from before labels)."""
    import difflib

    known = set(names) | set(names.values())
    extra = sorted(set(arrays) - known)
    if not extra:
        return
    close = difflib.get_close_matches(extra[0], sorted(names.values()), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise SerializationError(
        f"load_params: {str(path)!r} holds parameters this network does not have "
        f"({', '.join(map(repr, extra[:5]))}); this network's are "
        f"{', '.join(sorted(names.values())[:8])}\n  fix: {hint}load a file saved from this "
        "network (sim.save_params), or rename the arrays to these names")


def check_asked(net: Any) -> None:
    """``config[conn].trainable = True`` on a connection whose transform stores nothing
    training can change (Sparse, pooling, the identity) is a mistake worth naming."""
    from snngraph.connection import decodes
    from snngraph.errors import where
    from snngraph.params import explicit, setting, transform_sizes

    for conn in net.all_connections:
        if not (explicit(net, conn) and setting(net, conn)) or decodes(conn.pre):
            continue
        weights, bias, _ = transform_sizes(conn.transform, conn.size_out)
        if weights + bias == 0:
            raise ValidationError(
                f"Config[{conn._describe()}].trainable: set to True, but its transform "
                f"({type(conn.transform).__name__}: {short_repr(conn.transform, 60)}) stores "
                f"nothing training can change{where(conn.site)}\n  fix: use a Dense or "
                "Convolution transform (Sparse weights are not trained), or remove the "
                "setting: del net.config[conn].trainable", obj=conn._describe(),
                field="trainable", value=True, site=conn.site)
