"""The one training loop behind ``Simulator.fit`` (every method) and the evaluation of
``validation_data``.

Data arrive checked and shaped by the Simulator: inputs ``{input op: [examples, steps,
size]}`` and one ``Objective`` per probe with a loss or metrics. A ``Method``
(methods.py) runs each minibatch forward and backward; the loop scores it, updates the
parameters, calls the callbacks, writes checkpoints and stops on a non-finite loss or
gradient. Minibatches are drawn from a permutation seeded by ``(seed, epoch)``: a
resumed run sees the same order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from snngraph.runtimes.rate.blas import one_blas_thread
from snngraph.runtimes.training import params as params_io
from snngraph.runtimes.training.methods import Method
from snngraph.runtimes.training.results import (
    History,
    Objective,
    Score,
    Totals,
    TrainingError,
    score,
)

from snngraph.callbacks import CallbackList, TrainingView


@dataclass
class FitOptions:
    """How ``Trainer.fit`` runs (checked by ``Simulator.fit``)."""

    epochs: int
    optimizer: Any
    batch_size: int
    sim: Any  # the Simulator: its stop_training flag, the callbacks' view
    shuffle: bool = True
    seed: int = 0
    callbacks: list = field(default_factory=list)
    validation: Any = None  # () -> {"val_loss": ...}, after every epoch
    checkpoint: Path | None = None
    verbose: int = 0
    progress: Any = None  # (total, unit, what) -> a progress bar, or None


@dataclass
class Run:
    """The state of one ``fit``: the live parameters, the optimizer's state, the
    parameters before the last update (restored if it made the loss non-finite)."""

    live: dict[str, np.ndarray]
    state: dict
    hooks: Any = None  # the callbacks
    previous: dict | None = None
    last: tuple = ()  # (epoch, batch, idx) of the last update


class Trainer:
    def __init__(self, method: Method, objectives: list[Objective], describe: Any):
        self.method, self.objectives, self.describe = method, objectives, describe
        self.model = method.model
        self.outputs = [o.name for o in objectives]

    # -- one minibatch
    def batch(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
              train: bool, epoch: int = 0) -> tuple[Score, Any, dict]:
        ys, tape, values = self.method.run(feeds, idx, steps, self.outputs, train, epoch)
        scored = score(self.objectives, ys, idx, self.method.gradient if train else None)
        if len(scored.parts) < 2:
            scored.parts = {}  # one loss: "loss" says it all
        return scored, tape, values

    # -- a pass without training (validation)
    def evaluate(self, feeds: dict[str, np.ndarray], n: int, steps: int,
                 batch_size: int, prefix: str = "") -> dict[str, float]:
        with one_blas_thread():
            totals = Totals(self.objectives)
            for start in range(0, n, batch_size):
                idx = np.arange(start, min(start + batch_size, n))
                s, _, _ = self.batch(feeds, idx, steps, train=False)
                totals.add(s.loss, s.parts, s.metric, len(idx))
            return totals.logs(prefix)

    # -- training
    def fit(self, feeds: dict[str, np.ndarray], n: int, steps: int,
            options: FitOptions) -> History:
        with one_blas_thread():
            return self._fit(feeds, n, steps, options)

    def _fit(self, feeds: dict[str, np.ndarray], n: int, steps: int,
             opt: FitOptions) -> History:
        model, sim = self.model, opt.sim
        live = {k: model.params[k] for k in sorted(k for k in model.trainable
                                                   if k in model.params)}
        run = Run(live, opt.optimizer.init(live))
        history, first = History(), 0
        if opt.checkpoint is not None and Path(opt.checkpoint).exists():
            first = self._resume(opt.checkpoint, run, history, opt.optimizer, opt.verbose)
        run.hooks = CallbackList(opt.callbacks, TrainingView(sim, live))
        sim.stop_training, logs = False, {}
        run.hooks.train_begin()
        for epoch in range(first, opt.epochs):
            run.hooks.epoch_begin(epoch)
            start = time.perf_counter()
            logs = self._epoch(feeds, n, steps, epoch, run, opt)
            if opt.validation is not None:
                logs.update(opt.validation())
            logs["epoch_seconds"] = time.perf_counter() - start
            history.add(epoch, logs)
            self._end_epoch(epoch, logs, run, history, opt)
            if sim.stop_training:
                break
        sim.stop_training = False
        run.hooks.train_end(dict(logs))
        if run.previous is not None:  # the last update is checked like every other one
            self._check_last(feeds, steps, run)
        return history

    def _epoch(self, feeds: dict[str, np.ndarray], n: int, steps: int, epoch: int,
               run: Run, opt: FitOptions) -> dict[str, float]:
        n_batches = math.ceil(n / opt.batch_size)
        order = np.random.default_rng([opt.seed, epoch]).permutation(n) if opt.shuffle \
            else np.arange(n)
        totals = Totals(self.objectives)
        bar = opt.progress(n_batches, "minibatch", f"epoch {epoch + 1}/{opt.epochs}") \
            if opt.progress else None
        for b in range(n_batches):
            run.hooks.batch_begin(b)
            idx = order[b * opt.batch_size:(b + 1) * opt.batch_size]
            s = self._step(feeds, idx, steps, epoch, b, run, opt.optimizer)
            totals.add(s.loss, s.parts, s.metric, len(idx))
            run.hooks.batch_end(b, {"loss": s.loss})
            if bar:
                bar.update(1)
            if opt.sim.stop_training:
                break  # as Keras: the epoch ends after this batch
        if bar:
            bar.close()
        return totals.logs()

    def _step(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int, epoch: int,
              b: int, run: Run, optimizer: Any) -> Score:
        """One minibatch forward, backward and update, refusing non-finite values."""
        s, tape, values = self.batch(feeds, idx, steps, True, epoch)
        if not math.isfinite(s.loss):
            self._stop(epoch, b, idx, "loss", s.loss, values, run.live, run.previous)
        grads = self.model.backward(tape, s.dys)
        bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
        if bad:
            self._stop(epoch, b, idx, f"gradient of {self.describe(bad[0])}", None,
                       values, run.live, None)
        run.previous = {k: v.copy() for k, v in run.live.items()}
        run.last = (epoch, b, idx)
        optimizer.update(run.live, grads, run.state)
        return s

    def _end_epoch(self, epoch: int, logs: dict[str, float], run: Run, history: History,
                   opt: FitOptions) -> None:
        if opt.checkpoint is not None:
            self._save_checkpoint(opt.checkpoint, run, history, opt.optimizer, epoch + 1)
        if opt.verbose:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items()
                              if k != "epoch_seconds")
            print(f"epoch {epoch + 1}/{opt.epochs}: {shown}  ({logs['epoch_seconds']:.1f} s)",
                  flush=True)
        run.hooks.epoch_end(epoch, logs)

    def _check_last(self, feeds: dict[str, np.ndarray], steps: int, run: Run) -> None:
        epoch, b, idx = run.last
        s, _, values = self.batch(feeds, idx, steps, False)
        if not math.isfinite(s.loss):
            self._stop(epoch, b, idx, "loss after the last update", s.loss, values, run.live,
                       run.previous)

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

    def _save_checkpoint(self, path: Path, run: Run, history: History, optimizer: Any,
                         epochs_done: int) -> None:
        meta = {"checkpoint": {"epochs_done": epochs_done, "optimizer": repr(optimizer),
                               "history": history.history, "epoch": history.epoch}}
        params_io.write(path, run.live, meta,
                        extra={f"opt/{k}": v for k, v in run.state.items()})

    def _resume(self, path: Path, run: Run, history: History, optimizer: Any,
                verbose: int) -> int:
        arrays, meta, extra = params_io.read(path)
        info = meta.get("checkpoint")
        if info is None:
            raise TrainingError(f"fit: {str(path)!r} is a parameters file, not a checkpoint")
        if info["optimizer"] != repr(optimizer):
            raise TrainingError(f"fit: checkpoint {str(path)!r} was written with "
                                f"{info['optimizer']}, this run uses {optimizer!r}; resume "
                                "with the same optimizer or remove the checkpoint")
        for key, value in run.live.items():
            if key not in arrays or arrays[key].shape != value.shape:
                raise TrainingError(f"fit: checkpoint {str(path)!r} does not match this "
                                    f"network ({self.describe(key)})")
        for key, value in run.live.items():
            value[...] = arrays[key]
        for key in run.state:
            run.state[key] = np.array(extra[f"opt/{key}"])
        history.history, history.epoch = info["history"], info["epoch"]
        if verbose:
            print(f"fit: resuming from {path} after epoch {info['epochs_done']}", flush=True)
        return int(info["epochs_done"])
