"""Keras's strings for ``fit``, ``compile`` and ``evaluate``: ``optimizer="adam"``,
``loss="sparse_categorical_crossentropy"``, ``metrics=["accuracy"]``.

Names match case-insensitively and with or without underscores (``"RMSprop"``,
``"SparseCategoricalCrossentropy"``). Optimizers get Keras's defaults. The
cross-entropy strings mean ``CrossEntropy(from_logits=True)``, unlike Keras (whose
string default is ``from_logits=False``): a snngraph network's output is a probe on a
linear layer or on neurons, never a softmax, so it always holds logits, and what a
NengoDL user passes is ``SparseCategoricalCrossentropy(from_logits=True)``. For outputs
that already hold probabilities pass ``sg.losses.CrossEntropy(from_logits=False)``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from snngraph.errors import ValidationError, short_repr


def _optimizers() -> dict[str, Callable[[], Any]]:
    from snngraph import optim  # numba: only when fit needs it

    return {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop}


def _losses() -> dict[str, Callable[[], Any]]:
    from snngraph import losses

    return {"sparse_categorical_crossentropy": losses.CrossEntropy,
            "categorical_crossentropy": losses.CrossEntropy,
            "mse": losses.MSE, "mean_squared_error": losses.MSE}


def _metrics() -> dict[str, Callable[[], Any]]:
    from snngraph import metrics

    return {"accuracy": metrics.Accuracy, "acc": metrics.Accuracy,
            "sparse_categorical_accuracy": metrics.Accuracy,
            "categorical_accuracy": metrics.Accuracy}


_KINDS = {
    "optimizer": (_optimizers, "an sg.optim optimizer such as sg.optim.Adam(lr=1e-3)"),
    "loss": (_losses, "an sg.losses loss such as sg.losses.CrossEntropy()"),
    "metrics": (_metrics, "an sg.metrics metric such as sg.metrics.Accuracy()"),
}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace(" ", "")


def _from(kind: str, value: Any, where: str, base: type) -> Any:
    """``value`` if it is already a ``base``, the object a known string names, or an
    error listing the names with the closest one."""
    if isinstance(value, base):
        return value
    table, spelled = _KINDS[kind]
    names = table()
    if isinstance(value, str):
        by_key = {_key(n): n for n in names}
        if _key(value) in by_key:
            return names[by_key[_key(value)]]()
        close = difflib.get_close_matches(value.lower(), list(names), n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}? Or pass" if close else "pass"
        raise ValidationError(
            f"{where}.{kind}: unknown name {value!r}; accepted: "
            f"{', '.join(repr(n) for n in names)}\n  fix: {fix} {spelled}",
            obj="Simulator", field=kind, value=value)
    raise ValidationError(
        f"{where}.{kind}: expected {spelled} or one of "
        f"{', '.join(repr(n) for n in names)} (got {short_repr(value)})\n  fix: "
        f"{_foreign_hint(value, names, spelled)}", obj="Simulator", field=kind, value=value)


def _foreign_hint(value: Any, names: dict, spelled: str) -> str:
    """A TensorFlow/Keras (or torch) object: name the snngraph spelling of its class."""
    func = callable(value) and hasattr(value, "__name__")  # tf.metrics.sparse_..._accuracy
    cls = value.__name__ if func else type(value).__name__
    module = (getattr(value, "__module__", None) or "") if func else type(value).__module__
    by_key = {_key(n): n for n in names}
    if _key(cls) in by_key:
        logits = getattr(value, "from_logits", None)
        extra = ""
        if logits is not None:
            extra = f" (sg.losses.CrossEntropy(from_logits={bool(logits)}))"
        return (f"{cls} is from {module.split('.')[0] or 'another library'}; pass "
                f"{by_key[_key(cls)]!r} or {spelled}{extra}")
    return f"pass {spelled}"


def optimizer_from(value: Any, where: str) -> Any:
    from snngraph.optim import Optimizer

    return _from("optimizer", value, where, Optimizer)


def loss_from(value: Any, where: str) -> Any:
    from snngraph.losses import Loss

    return None if value is None else _from("loss", value, where, Loss)


def metric_from(value: Any, where: str) -> Any:
    from snngraph.metrics import Metric

    return _from("metrics", value, where, Metric)


def resolve(value: Any, convert: Callable[[Any, str], Any], where: str) -> Any:
    """Strings converted inside a ``{probe: value}`` dict or a list, once, where the
    user gave them (``compile`` checks its arguments before any ``fit``)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: resolve(v, convert, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [convert(v, where) for v in value]
    return convert(value, where)
