"""Keras-style callbacks for ``Simulator.fit``: ``sg.callbacks.Callback`` and
``EarlyStopping``.

``fit`` calls, on every callback that defines them, ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)``, ``on_batch_begin(batch, logs)``,
``on_batch_end(batch, logs)`` (or ``on_train_batch_end``), ``on_epoch_end(epoch, logs)``
and ``on_train_end(logs)``, as Keras does; a plain function is called as
``f(epoch, logs)`` at the end of each epoch. Any object with one of these methods works
(a ``tf.keras.callbacks.Callback`` subclass too); an object with none is refused, so a
callback is never ignored without a word.

A callback's ``model`` (given through ``set_model``) is a view of the training run:
``model.stop_training = True`` stops after the current batch, ``model.get_weights()``
returns ``{parameter key: array copy}`` and ``model.set_weights(weights)`` writes them
back.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from snngraph.errors import ValidationError, short_repr

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


class Callback:
    """Base class with every hook doing nothing; override the ones you need."""

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """After the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Before epoch ``epoch`` (counted from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """After epoch ``epoch``; ``logs`` holds its loss, metrics and ``val_`` results."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Before minibatch ``batch`` of the epoch."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After minibatch ``batch``'s update; ``logs["loss"]`` is its loss."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)  # Keras's newer name, the same hook

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)


class EarlyStopping(Callback):
    """Stop training when ``monitor`` (a key of the epoch logs, e.g. ``"val_loss"`` or
    ``"val_<probe>_accuracy"``; ``"val_accuracy"`` finds it when only one probe has an
    accuracy) has not improved by more than ``min_delta`` for ``patience`` epochs, as
    Keras's ``EarlyStopping``.

    ``mode``: ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for accuracies, else
    ``"min"``). ``baseline``: epochs count as not improving until the value beats it.
    ``restore_best_weights``: at the end of training, put back the parameters of the
    best epoch. ``start_from_epoch``: epochs before it are not watched (a warm-up).
    ``verbose=1`` prints the epoch it stopped at.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        _check("monitor", monitor, isinstance(monitor, str),
               "expected the name of a logged value", "monitor='val_loss' or 'loss'")
        _check("mode", mode, mode in ("auto", "min", "max"),
               "expected 'auto', 'min' or 'max'", "mode='min' for losses, 'max' for accuracies")
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            _check(name, value, _is_int(value) and value >= 0, "expected an integer >= 0",
                   f"{name}=2")
        _check("min_delta", min_delta, _is_real(min_delta), "expected a number",
               "min_delta=0.001")
        _check("baseline", baseline, baseline is None or _is_real(baseline),
               "expected a number or None", "baseline=None")
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.mode_resolved = mode if mode != "auto" else (
            "max" if any(w in monitor for w in ("acc", "auc")) else "min")
        self.min_delta = abs(float(min_delta))
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode_resolved == "min" else -math.inf
        self.best_weights = None

    def _improves(self, value: float, reference: float) -> bool:
        if self.mode_resolved == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = float(logs[_monitored(self.monitor, logs or {})])
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose:
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}: "
                  f"{self.monitor} best {self.best:.4g} at epoch {self.best_epoch + 1}",
                  flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def _monitored(monitor: str, logs: dict) -> str:
    """The logged key ``monitor`` names: itself, or Keras's name for a single probe's
    value (``"val_accuracy"`` for ``"val_<probe>_accuracy"`` when only one probe has
    one)."""
    if monitor in logs:
        return monitor
    val = monitor.startswith("val_")
    base = monitor.removeprefix("val_")
    found = [k for k in logs if k.startswith("val_") == val and k.endswith(f"_{base}")
             and k.removeprefix("val_").count("_") > base.count("_")]
    if len(found) == 1:
        return found[0]
    keys = [k for k in logs if k != "epoch_seconds"]
    hints = []
    close = difflib.get_close_matches(monitor, keys, n=1)
    if val and not any(k.startswith("val_") for k in keys):
        hints.append("validation values need validation_data=(x, y) or validation_split=0.2 "
                     "in fit")
    if close:
        hints.append(f"did you mean {close[0]!r}?")
    hints.append("monitor one of the logged values")
    raise ValidationError(
        f"EarlyStopping.monitor: {monitor!r} is not among the values fit logs "
        f"({', '.join(keys)})\n  fix: {'; or '.join(hints)}",
        obj="EarlyStopping", field="monitor", value=monitor)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check(field: str, value: Any, ok: bool, expected: str, fix: str) -> None:
    if not ok:
        raise ValidationError(f"EarlyStopping.{field}: {expected} (got {short_repr(value)})"
                              f"\n  fix: {fix}", obj="EarlyStopping", field=field,
                              value=value)


# ------------------------------------------------------------------ used by fit
def check_callbacks(callbacks: Any, where: str = "Simulator.fit") -> list:
    """The callbacks as a list, each with a hook or callable; anything else is refused
    before training starts."""
    if callbacks is None:
        return []
    if isinstance(callbacks, str) or not isinstance(callbacks, list | tuple):
        if _has_hook(callbacks) or (callable(callbacks) and not isinstance(callbacks, type)):
            return [callbacks]  # one callback given bare
        raise ValidationError(
            f"{where}.callbacks: expected a list of callbacks (got {short_repr(callbacks)})"
            "\n  fix: callbacks=[sg.callbacks.EarlyStopping(patience=2)] or a list of "
            "objects with on_epoch_end(epoch, logs)", obj="Simulator", field="callbacks",
            value=callbacks)
    for i, cb in enumerate(callbacks):
        if not _has_hook(cb) and (not callable(cb) or isinstance(cb, type)):
            raise ValidationError(
                f"{where}.callbacks[{i}]: {short_repr(cb)} has none of the callback methods "
                f"({', '.join(HOOKS)}) and is not a function f(epoch, logs)\n  fix: "
                "subclass sg.callbacks.Callback and define on_epoch_end(self, epoch, logs) "
                "(or pass an instance, not the class)", obj="Simulator", field="callbacks",
                value=cb)
    return list(callbacks)


def _has_hook(cb: Any) -> bool:
    return not isinstance(cb, type) and any(callable(getattr(cb, h, None)) for h in HOOKS)


class TrainingView:
    """What callbacks see as ``self.model`` during ``fit``: the Simulator's
    ``stop_training`` and the parameters being trained."""

    def __init__(self, sim: Any, live: dict):
        self.sim, self._live = sim, live

    @property
    def stop_training(self) -> bool:
        return bool(getattr(self.sim, "stop_training", False))

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self.sim.stop_training = bool(value)

    def get_weights(self) -> dict:
        return {k: v.copy() for k, v in self._live.items()}

    def set_weights(self, weights: dict) -> None:
        for key, value in weights.items():
            self._live[key][...] = value


class CallbackList:
    """Calls a hook on every callback that has it (Keras's ``CallbackList``)."""

    def __init__(self, callbacks: list, model: TrainingView):
        self.callbacks = callbacks
        for cb in callbacks:
            if callable(getattr(cb, "set_model", None)):
                cb.set_model(model)

    def train_begin(self) -> None:
        self._call("on_train_begin", {})

    def train_end(self, logs: dict) -> None:
        self._call("on_train_end", logs)

    def epoch_begin(self, epoch: int) -> None:
        self._call("on_epoch_begin", epoch, {})

    def batch_begin(self, batch: int) -> None:
        self._batch("begin", batch, {})

    def batch_end(self, batch: int, logs: dict) -> None:
        self._batch("end", batch, logs)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        for cb in self.callbacks:
            if callable(getattr(cb, "on_epoch_end", None)):
                cb.on_epoch_end(epoch, logs)
            elif not _has_hook(cb):
                cb(epoch, logs)  # a plain function

    def _batch(self, when: str, batch: int, logs: dict) -> None:
        for cb in self.callbacks:
            hook = getattr(cb, f"on_train_batch_{when}", None) or \
                getattr(cb, f"on_batch_{when}", None)
            if callable(hook):
                hook(batch, logs)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if callable(method):
                method(*args)


__all__ = ["Callback", "EarlyStopping"]
