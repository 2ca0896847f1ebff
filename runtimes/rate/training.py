"""The training loop behind ``Simulator.fit`` (rate method) and the rate evaluation of
``validation_data``.

Data arrive checked and shaped by the Simulator: inputs ``{input op: [examples, steps,
size]}`` and one ``Objective`` per probe with a loss or metrics. Every step of every
example is an independent row at steady state, so a minibatch of ``b`` examples with
``T`` steps is one forward pass over ``b * T`` rows. Minibatches are drawn from a
permutation seeded by ``(seed, epoch)``: a resumed run sees the same order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from snngraph.runtimes.rate import params as params_io
from snngraph.runtimes.rate.blas import one_blas_thread
from snngraph.runtimes.rate.model import RateModel

from snngraph.callbacks import CallbackList, TrainingView
from snngraph.errors import SnnError


class TrainingError(SnnError, RuntimeError):
    """Training stopped: a non-finite loss or gradient."""


@dataclass
class Objective:
    """What ``fit``/``evaluate`` measure on one probe."""

    name: str  # the probe op
    label: str  # used in history keys: "<label>_loss", "<label>_accuracy"
    loss: Any = None
    metrics: list = field(default_factory=list)
    target: np.ndarray | None = None  # prepared for the loss
    labels: np.ndarray | None = None  # prepared for the metrics


class History:
    """Per-epoch results, as Keras's: ``history.history["loss"][epoch]``."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.method: str | None = None  # "rate" or "bptt", set by Simulator.fit
        self.method_reason = ""  # why fit chose that method

    def add(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs: {last})"


class Totals:
    """Running sums of losses and metrics over a pass through the data. Losses are
    weighted by minibatch size (a last partial minibatch counts for what it holds)."""

    def __init__(self, objectives: list[Objective]):
        self.objectives = objectives
        self.loss = 0.0
        self.sums: dict[str, list[float]] = {}
        self.batches = 0

    def add(self, loss: float, parts: dict[str, float], metric: dict[str, tuple],
            examples: int) -> None:
        self.batches += examples
        self.loss += loss * examples
        for key, value in parts.items():
            self.sums.setdefault(key, [0.0, 0])[0] += value * examples
            self.sums[key][1] += examples
        for key, (total, count) in metric.items():
            self.sums.setdefault(key, [0.0, 0])[0] += total
            self.sums[key][1] += count

    def logs(self, prefix: str = "") -> dict[str, float]:
        out = {}
        if any(o.loss is not None for o in self.objectives):
            out[f"{prefix}loss"] = self.loss / max(self.batches, 1)
        for key, (total, count) in self.sums.items():
            out[f"{prefix}{key}"] = total / max(count, 1)
        return out


class Trainer:
    def __init__(self, model: RateModel, objectives: list[Objective], describe: Any):
        self.model, self.objectives, self.describe = model, objectives, describe
        self.outputs = [o.name for o in objectives]

    # -- one minibatch
    def batch(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
              train: bool) -> tuple[float, dict, dict, dict, Any, dict]:
        rows = len(idx) * steps
        fed = {k: np.broadcast_to(v[idx], (len(idx), steps, v.shape[2])).reshape(rows, -1)
               for k, v in feeds.items()}
        values, tape = self.model.forward(fed, self.outputs, rows)
        total, parts, metric, dys = 0.0, {}, {}, {}
        for obj in self.objectives:
            y = values[obj.name].reshape(len(idx), steps, -1)
            if obj.loss is not None:
                target = obj.target[idx] if obj.target is not None else None
                value, grad = obj.loss(y, target)
                total += value
                parts[f"{obj.label}_loss"] = value
                if train:
                    dys[obj.name] = grad.reshape(rows, -1)
            for m in obj.metrics:
                metric[f"{obj.label}_{m.name}"] = m(y, obj.labels[idx])
        if len(parts) < 2:
            parts = {}  # one loss: "loss" says it all
        return total, parts, metric, dys, tape, values

    # -- a pass without training (validation)
    def evaluate(self, feeds: dict[str, np.ndarray], n: int, steps: int,
                 batch_size: int, prefix: str = "") -> dict[str, float]:
        with one_blas_thread():
            return self._evaluate(feeds, n, steps, batch_size, prefix)

    def _evaluate(self, feeds: dict[str, np.ndarray], n: int, steps: int,
                  batch_size: int, prefix: str = "") -> dict[str, float]:
        totals = Totals(self.objectives)
        for start in range(0, n, batch_size):
            idx = np.arange(start, min(start + batch_size, n))
            loss, parts, metric, _, _, _ = self.batch(feeds, idx, steps, train=False)
            totals.add(loss, parts, metric, len(idx))
        return totals.logs(prefix)

    # -- training
    def fit(self, *args: Any) -> History:
        with one_blas_thread():
            return self._fit(*args)

    def _fit(self, feeds: dict[str, np.ndarray], n: int, steps: int, epochs: int,
            optimizer: Any, batch_size: int, shuffle: bool, seed: int,
            callbacks: list, validation: Any, checkpoint: Path | None, verbose: int,
            progress: Any, sim: Any) -> History:
        model = self.model
        keys = sorted(k for k in model.trainable if k in model.params)
        live = {k: model.params[k] for k in keys}
        state = optimizer.init(live)
        history, first = History(), 0
        if checkpoint is not None and Path(checkpoint).exists():
            first = self._resume(checkpoint, live, state, history, optimizer, verbose)
        n_batches = math.ceil(n / batch_size)
        previous = None
        hooks = CallbackList(callbacks, TrainingView(sim, live))
        sim.stop_training, logs = False, {}
        hooks.train_begin()
        for epoch in range(first, epochs):
            self.epoch = epoch  # BPTT draws new encoder spikes every epoch
            hooks.epoch_begin(epoch)
            start = time.perf_counter()
            order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle \
                else np.arange(n)
            totals = Totals(self.objectives)
            bar = progress(n_batches, "minibatch", f"epoch {epoch + 1}/{epochs}") \
                if progress else None
            for b in range(n_batches):
                hooks.batch_begin(b)
                idx = order[b * batch_size:(b + 1) * batch_size]
                loss, parts, metric, dys, tape, values = self.batch(feeds, idx, steps, True)
                if not math.isfinite(loss):
                    self._stop(epoch, b, idx, "loss", loss, values, live, previous)
                grads = model.backward(tape, dys)
                bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
                if bad:
                    self._stop(epoch, b, idx, f"gradient of {self.describe(bad[0])}", None,
                               values, live, None)
                previous = {k: v.copy() for k, v in live.items()}
                optimizer.update(live, grads, state)
                totals.add(loss, parts, metric, len(idx))
                hooks.batch_end(b, {"loss": loss})
                if bar:
                    bar.update(1)
                if sim.stop_training:
                    break  # as Keras: the epoch ends after this batch
            if bar:
                bar.close()
            logs = totals.logs()
            if validation is not None:
                logs.update(validation())
            logs["epoch_seconds"] = time.perf_counter() - start
            history.add(epoch, logs)
            if checkpoint is not None:
                self._save_checkpoint(checkpoint, live, state, history, optimizer, epoch + 1)
            if verbose:
                shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items()
                                  if k != "epoch_seconds")
                print(f"epoch {epoch + 1}/{epochs}: {shown}  ({logs['epoch_seconds']:.1f} s)",
                      flush=True)
            hooks.epoch_end(epoch, logs)
            if sim.stop_training:
                break
        sim.stop_training = False
        hooks.train_end(dict(logs))
        if previous is not None:  # the last update is checked like every other one
            loss, _, _, _, _, values = self.batch(feeds, idx, steps, False)
            if not math.isfinite(loss):
                self._stop(epoch, b, idx, "loss after the last update", loss, values, live,
                           previous)
        return history

    def _stop(self, epoch: int, b: int, idx: np.ndarray, what: str, loss: Any,
              values: dict, live: dict, previous: dict | None) -> None:
        """Restore the last parameters that gave a finite loss, and say where it broke."""
        if previous is not None:
            for k, v in previous.items():
                live[k][...] = v
        first_bad = next((n for n in self.model.needed(self.outputs)
                          if n in values and not np.all(np.isfinite(values[n]))), None)
        where = (f"; the first non-finite values come from {self.describe(first_bad)}"
                 if first_bad else "")
        value = f" ({loss})" if loss is not None else ""
        kept = ("the parameters are those after the previous batch, the last with a "
                "finite loss" if previous is not None else "no update was applied")
        raise TrainingError(
            f"fit: the {what} is not finite{value} at epoch {epoch + 1}, batch {b + 1} "
            f"(examples {int(idx.min())}..{int(idx.max())}){where}; {kept}.\n  fix: lower the "
            "learning rate, check the inputs' scale, or add a RateRegularizer")

    def _save_checkpoint(self, path: Path, live: dict, state: dict, history: History,
                         optimizer: Any, epochs_done: int) -> None:
        meta = {"checkpoint": {"epochs_done": epochs_done, "optimizer": repr(optimizer),
                               "history": history.history, "epoch": history.epoch}}
        params_io.write(path, live, meta, extra={f"opt/{k}": v for k, v in state.items()})

    def _resume(self, path: Path, live: dict, state: dict, history: History,
                optimizer: Any, verbose: int) -> int:
        arrays, meta, extra = params_io.read(path)
        info = meta.get("checkpoint")
        if info is None:
            raise TrainingError(f"fit: {str(path)!r} is a parameters file, not a checkpoint")
        if info["optimizer"] != repr(optimizer):
            raise TrainingError(f"fit: checkpoint {str(path)!r} was written with "
                                f"{info['optimizer']}, this run uses {optimizer!r}; resume "
                                "with the same optimizer or remove the checkpoint")
        for key, value in live.items():
            if key not in arrays or arrays[key].shape != value.shape:
                raise TrainingError(f"fit: checkpoint {str(path)!r} does not match this "
                                    f"network ({self.describe(key)})")
        for key, value in live.items():
            value[...] = arrays[key]
        for key in state:
            state[key] = np.array(extra[f"opt/{key}"])
        history.history, history.epoch = info["history"], info["epoch"]
        if verbose:
            print(f"fit: resuming from {path} after epoch {info['epochs_done']}", flush=True)
        return int(info["epochs_done"])
