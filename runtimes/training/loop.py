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
    gradients: Any = None  # (feeds, idx, steps, epoch) -> Gradient; None: Trainer.gradient


@dataclass
class Gradient:
    """What one process computes for (a part of) a minibatch: its score, the gradients
    of the mean loss over its examples, how many examples, and the first op with
    non-finite values (its name, when the loss or a gradient is not finite)."""

    score: Score
    grads: dict[str, np.ndarray]
    examples: int
    first_bad: str | None = None

    @classmethod
    def combine(cls, parts: list[Gradient]) -> Gradient:
        """The minibatch's Gradient from its parts': every loss is a mean over examples,
        so the minibatch's is the parts' weighted by their sizes (as are the losses);
        metrics add up their (total, count). Equal to one process's up to the order of
        the sums (float64 here)."""
        n = sum(p.examples for p in parts)
        w = [p.examples / n for p in parts]
        first = parts[0].score
        out = Score(loss=float(sum(wi * p.score.loss for wi, p in zip(w, parts))),
                    keys=list(first.keys))
        out.parts = {k: float(sum(wi * p.score.parts[k] for wi, p in zip(w, parts)))
                     for k in first.parts}
        out.metric = {k: (sum(p.score.metric[k][0] for p in parts),
                          sum(p.score.metric[k][1] for p in parts)) for k in first.metric}
        grads = {}
        if all(p.grads for p in parts):  # a part with a non-finite loss has none
            for k in parts[0].grads:
                total = sum(wi * p.grads[k].astype(np.float64) for wi, p in zip(w, parts))
                grads[k] = np.asarray(total, np.float32)
        bad = next((p.first_bad for p in parts if p.first_bad), None)
        return cls(out, grads, n, bad)


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

    def gradient(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
                 epoch: int) -> Gradient:
        """Forward and backward over examples ``idx`` at the current parameters: a whole
        minibatch in one process, or a part of it on a worker (data-parallel fit, see
        runtimes/distributed/training.py). No gradients when the loss is not finite."""
        s, tape, values = self.batch(feeds, idx, steps, True, epoch)
        if not math.isfinite(s.loss):
            return Gradient(s, {}, len(idx), self._first_bad(values))
        grads = self.model.backward(tape, s.dys)
        s.dys = {}
        finite = all(np.all(np.isfinite(g)) for g in grads.values())
        return Gradient(s, grads, len(idx), None if finite else self._first_bad(values))

    def _first_bad(self, values: dict) -> str | None:
        return next((n for n in self.model.needed(self.outputs)
                     if n in values and not np.all(np.isfinite(values[n]))), None)

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
            s = self._step(feeds, idx, steps, epoch, b, run, opt)
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
              b: int, run: Run, opt: FitOptions) -> Score:
        """One minibatch forward, backward (here, or in parts on a cluster) and update,
        refusing non-finite values."""
        g = (opt.gradients or self.gradient)(feeds, idx, steps, epoch)
        if not math.isfinite(g.score.loss):
            self._stop(epoch, b, idx, "loss", g.score.loss, g.first_bad, run.live,
                       run.previous)
        bad = [k for k, v in g.grads.items() if not np.all(np.isfinite(v))]
        if bad:
            self._stop(epoch, b, idx, f"gradient of {self.describe(bad[0])}", None,
                       g.first_bad, run.live, None)
        run.previous = {k: v.copy() for k, v in run.live.items()}
        run.last = (epoch, b, idx)
        opt.optimizer.update(run.live, g.grads, run.state)
        return g.score

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
            self._stop(epoch, b, idx, "loss after the last update", s.loss,
                       self._first_bad(values), run.live, run.previous)

    def _stop(self, epoch: int, b: int, idx: np.ndarray, what: str, loss: Any,
              first_bad: str | None, live: dict, previous: dict | None) -> None:
        """Restore the last parameters that gave a finite loss, and say where it broke
        (``first_bad``: the first op with non-finite values)."""
        if previous is not None:
            for k, v in previous.items():
                live[k][...] = v
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
