"""The Simulator's training API (NengoDL's, on Keras's model): ``compile``, ``fit``,
``evaluate``, ``save_params``, ``load_params``, ``freeze_params``.

``fit`` trains through the rate program (``sg.compile(net, target="rate")``: every
spiking neuron on its rate curve, synapses at steady state), whatever backend the
Simulator runs, as NengoDL does; ``evaluate`` and ``predict`` then run the Simulator's
own backend (the spiking network on ``numba``) with the trained parameters. Trained
arrays are kept by parameter key and handed to the compiler, so every target sees the
same values; ``freeze_params`` writes them into the network's objects.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from snngraph.compiler.passes.plan_bptt import plan_bptt
from snngraph.runtimes.training import params as params_io
from snngraph.runtimes.training.checks import (
    check_asked,
    check_count,
    check_known,
    check_split,
    count_examples,
    owner_text,
    split_validation,
)
from snngraph.runtimes.training.loop import FitOptions, Trainer
from snngraph.runtimes.training.methods import METHOD_TEXT, choose_method, method_for
from snngraph.runtimes.training.results import Objective, score

from snngraph import lookup
from snngraph.callbacks import check_callbacks
from snngraph.errors import SerializationError, ValidationError, closest, op_origin, short_repr
from snngraph.losses import CrossEntropy, Loss
from snngraph.metrics import Metric
from snngraph.optim import RMSprop


def _gradients(client: Any, trainer: Trainer, program: Any, method: str,
               feeds: dict[str, np.ndarray]) -> Any:
    """Where fit's gradients are computed: here (no client), or in parts on a Dask
    cluster (imported only then: snngraph does not import dask unless asked)."""
    if client is None:
        return nullcontext(None)
    from snngraph.runtimes.distributed.training import data_parallel

    return data_parallel(client, trainer, program, method, feeds)


class Training:
    """Mixed into ``Simulator``; uses its program, network, feeds and probes."""

    def _init_training(self) -> None:
        self._trained: dict[str, np.ndarray] = {}
        self._compiled: dict[str, Any] = {}
        self._rate = None  # the rate program for the current parameters
        self.training_program = None  # what the last fit trained (its log says why)
        self.stop_training = False

    # -- Keras-style defaults
    def compile(self, optimizer: Any = None, loss: Any = None, metrics: Any = None) -> None:
        """Defaults for later ``fit``/``evaluate`` calls (NengoDL's ``sim.compile``);
        Keras's strings work (``optimizer="adam"``, ``loss="mse"``,
        ``metrics=["accuracy"]``, see snngraph/lookup.py) and are checked here."""
        where = "Simulator.compile"
        if optimizer is not None:
            optimizer = lookup.optimizer_from(optimizer, where)
        self._compiled = {"optimizer": optimizer,
                          "loss": lookup.resolve(loss, lookup.loss_from, where),
                          "metrics": lookup.resolve(metrics, lookup.metric_from, where)}

    # -- training
    def fit(self, x: Any = None, y: Any = None, epochs: int = 1, loss: Any = None,
            optimizer: Any = None, metrics: Any = None, validation_data: Any = None,
            shuffle: bool = True, callbacks: Any = None, batch_size: int | None = None,
            checkpoint: str | Path | None = None, method: str | None = None,
            n_steps: int | None = None, checkpoint_every: int | None = None,
            verbose: int | str = 1, validation_split: float = 0.0,
            client: Any = None) -> Any:
        """Train on ``x`` (``{input node: [examples, steps, size]}`` or an array) toward
        ``y`` (``{probe: targets}`` or an array). Returns the per-epoch History.

        ``loss``: a Loss for every probe in ``y``, or ``{probe: Loss}`` (a
        RateRegularizer needs no ``y``); default softmax cross-entropy from logits.
        ``optimizer``: default ``RMSprop(lr=0.001)``. ``metrics``: a Metric, a list, or
        ``{probe: metrics}``. Keras's strings work: ``optimizer="adam"`` (``"sgd"``,
        ``"rmsprop"``, Keras's defaults), ``loss="sparse_categorical_crossentropy"``
        (``"categorical_crossentropy"``: both from logits; ``"mse"``),
        ``metrics=["accuracy"]``. ``batch_size`` defaults to ``minibatch_size``.
        ``validation_split``: the last fraction of the examples (before any shuffling, as
        Keras) is held out and scored as ``val_`` values after every epoch.
        ``callbacks``: Keras-style objects (``on_train_begin``, ``on_epoch_end(epoch,
        logs)``, ... see snngraph/callbacks.py, e.g. ``sg.callbacks.EarlyStopping``) or
        functions ``f(epoch, logs)``. ``verbose``: 0 silent; 1 a progress bar per epoch
        on a terminal and one line per epoch; 2 the lines only.
        ``checkpoint``: a file saved after every epoch; if it exists, training resumes
        after the epoch it holds. ``n_steps``: steps per example when ``x`` holds one
        value per example (an image shown at every step); default: the data's steps.

        ``method``: ``"rate"`` trains the rate equivalent (every step an independent
        steady state); ``"bptt"`` unrolls the spiking network over the steps and
        back-propagates through time, each spiking neuron's ``surrogate`` standing in for
        the spike's derivative. Default: ``"bptt"`` when the data have more than one step
        and some neuron has a surrogate (given, or its type's documented default: ATan
        for Leaky, SuperSpike for CubaLIF) and every spiking or stateful neuron can be
        trained through time, else ``"rate"``. ``history.method`` says which was used,
        ``history.method_reason`` why (also printed unless ``verbose=0``, and logged in
        the dump of ``sim.training_program``).
        ``checkpoint_every=k`` (bptt): keep the forward pass's intermediate values for
        only k steps at a time and recompute them segment by segment in the reverse pass
        (the same gradients; memory about k steps instead of T, compute about 1.5x).
        ``client``: a ``dask.distributed.Client``, a scheduler address or ``"local"``:
        each minibatch's gradient is computed in parts on the cluster's workers and
        averaged here, where the one optimizer step, checkpoints and the non-finite stop
        stay (equal to this process's training up to the order of the sums; see
        docs/distributed.md).
        """
        from snngraph.runtimes.progress import check_verbose

        self._check_open()
        self._check_trains_in_float32()
        check_count("epochs", epochs, fix="epochs=3")
        verbose = check_verbose(verbose, "Simulator.fit")
        callbacks = check_callbacks(callbacks)
        if method not in (None, "rate", "bptt"):
            raise ValidationError(f"Simulator.fit.method: expected 'rate', 'bptt' or None "
                                  f"(choose), got {short_repr(method)}",
                                  obj="Simulator", field="method", value=method)
        if n_steps is not None:
            check_count("n_steps", n_steps)
        if checkpoint_every is not None:
            check_count("checkpoint_every", checkpoint_every)
        batch_size = self.minibatch_size if batch_size is None else batch_size
        check_count("batch_size", batch_size)
        optimizer = self._pick("optimizer", optimizer) or RMSprop(lr=0.001)
        optimizer = lookup.optimizer_from(optimizer, "Simulator.fit")
        loss = lookup.resolve(loss, lookup.loss_from, "Simulator.fit")
        metrics = lookup.resolve(metrics, lookup.metric_from, "Simulator.fit")
        check_split(validation_split, validation_data)
        feeds, fed_steps = self._feeds(x, n_steps, None, exact=False)
        n = count_examples(feeds)
        if validation_split:
            feeds, y, validation_data, n = split_validation(feeds, y, n, validation_split)
        steps = n_steps or fed_steps
        if method is None:
            method, reason = choose_method(steps, self._spiking_program)
        else:
            reason = f"method={method!r} was given"
        if checkpoint_every is not None and method != "bptt":
            raise ValidationError(
                "Simulator.fit.checkpoint_every: segments of steps apply to training "
                "through time (method='bptt'); this fit uses the rate method",
                obj="Simulator", field="checkpoint_every", value=checkpoint_every)
        program, model = self._training_model(method, steps, reason)
        model.checkpoint_every = checkpoint_every
        objectives = self._objectives(y, self._pick("loss", loss) or CrossEntropy(),
                                      self._pick("metrics", metrics), n, steps, "fit")
        if not any(o.loss is not None for o in objectives):
            raise ValidationError("Simulator.fit: nothing to train toward; give y data for a "
                                  "probe with a loss", obj="Simulator", field="y", value=None)
        trainer = Trainer(method_for(method, model), objectives,
                          self._describe_key(program.ir))
        if verbose:
            print(f"fit: {METHOD_TEXT[method]}, {steps} step(s) per example, {n} examples",
                  flush=True)
            print(f"  why {method}: {reason}", flush=True)
        validation = None
        if validation_data is not None:
            validation = self._validation(model, validation_data, loss, metrics, batch_size,
                                          method, n_steps)
        try:
            with _gradients(client, trainer, program, method, feeds) as gradients:
                history = trainer.fit(feeds, n, steps, FitOptions(
                    epochs, optimizer, batch_size, self, shuffle=shuffle, seed=self.seed,
                    callbacks=callbacks, validation=validation,
                    checkpoint=Path(checkpoint) if checkpoint is not None else None,
                    verbose=verbose, progress=self._progress_factory(verbose),
                    gradients=gradients))
        finally:  # what was trained so far is kept, also when training stopped early
            self._set_trained({k: model.params[k] / np.float32(program.ir.scales.get(k, 1.0))
                               for k in program.ir.owners})
        history.method, history.method_reason = method, reason
        return history

    def _check_trains_in_float32(self) -> None:
        """The rate and bptt runtimes compute in float32: a float64 Simulator runs a
        network trained by a float32 one, it does not train."""
        if self.dtype != np.float32:
            raise ValidationError(
                f"Simulator.fit: training computes in float32 (the rate and bptt runtimes), "
                f"and this Simulator runs in dtype={self.dtype.name!r}\n  fix: train with a "
                "float32 Simulator (dtype left out), sim.save_params(path), then "
                "load_params(path) into this one", obj="Simulator", field="dtype",
                value=self.dtype.name)

    def _training_model(self, method: str, steps: int, reason: str = ""
                        ) -> tuple[Any, Any]:
        if method == "rate":
            from snngraph.runtimes.rate.model import RateModel

            program = self._rate_program()
            program.ir.log.append(f"fit: method=rate: {reason}")
            self.training_program = program
            return program, RateModel(program, self._trainable_keys(program.ir))
        from snngraph.runtimes.bptt.model import BpttModel

        if steps < 2:
            raise ValidationError(
                "Simulator.fit: method='bptt' trains through time, but the data have 1 step "
                "per example; give x as [examples, steps, size] or pass n_steps=T (the "
                "value held at every step)", obj="Simulator", field="method", value="bptt")
        program = self._spiking_program()
        program.ir.log.append(f"fit: method=bptt over {steps} steps (surrogate gradients): "
                              f"{reason}")
        model = BpttModel(program, self._trainable_keys(program.ir), seed=self.seed or 0)
        return program, model

    def _spiking_program(self) -> Any:
        """The program training through time unrolls: the spiking network (target cpu)
        with the current parameters."""
        if self.network is None:
            if self.program.target != "cpu":
                raise ValidationError(
                    "Simulator: training through time needs the network or a Program "
                    f"compiled for 'cpu' (this one is for {self.program.target!r})",
                    obj="Simulator", field="network", value="Program")
            return self.program
        import snngraph as sg

        self.training_program = sg.compile(self.network, target="cpu", params=self._trained,
                                           **self.compile_options)
        # how it runs through time (recurrent units, fused layers, event-driven paths) is
        # the compiler's decision, recorded on the program and shown in its dump
        plan_bptt(self.training_program.ir)
        return self.training_program

    def _validation(self, model: Any, data: Any, loss: Any, metrics: Any,
                    batch_size: int, method: str, n_steps: int | None) -> Any:
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise ValidationError("Simulator.fit.validation_data: expected (x, y)",
                                  obj="Simulator", field="validation_data",
                                  value=short_repr(data))
        feeds, fed_steps = self._feeds(data[0], n_steps, None, exact=False)
        n = count_examples(feeds)
        steps = n_steps or fed_steps
        objectives = self._objectives(data[1], self._pick("loss", loss) or CrossEntropy(),
                                      self._pick("metrics", metrics), n, steps,
                                      "fit.validation_data")
        trainer = Trainer(method_for(method, model), objectives, self._describe_key(model.ir))
        return lambda: trainer.evaluate(feeds, n, steps, batch_size, prefix="val_")

    def evaluate(self, x: Any, y: Any, loss: Any = None, metrics: Any = None,
                 n_steps: int | None = None, batch_size: int | None = None,
                 verbose: int | str = "auto", client: Any = None) -> dict[str, float]:
        """Run ``x`` on this Simulator's backend (``predict``) and score the outputs:
        ``{"loss": ..., "<probe>_<metric>": ...}``. ``loss``/``metrics`` take Keras's
        strings as ``fit`` does; ``batch_size``, ``verbose`` and ``client`` (a Dask
        cluster runs the examples; the outputs are scored here, so the scores are those
        of the single-process run, bit for bit) as in ``predict``."""
        self._check_open()
        loss = lookup.resolve(self._pick("loss", loss), lookup.loss_from, "Simulator.evaluate")
        metrics = lookup.resolve(self._pick("metrics", metrics), lookup.metric_from,
                                 "Simulator.evaluate")
        if loss is None and metrics is None:
            raise ValidationError("Simulator.evaluate: give a loss or metrics (e.g. "
                                  "metrics=sg.metrics.Accuracy(last_step=True))",
                                  obj="Simulator", field="metrics", value=None)
        out = self._predict(x, n_steps, batch_size, verbose, "evaluate", client)
        first = next(iter(out.values()))
        n, steps = first.shape[0], first.shape[1]
        objectives = self._objectives(y, loss, metrics, n, steps, "evaluate")
        scored = score(objectives, {o.name: out[o.name].reshape(n, steps, -1)
                                    for o in objectives}, slice(None))
        results = {k: scored.parts[k] if k in scored.parts
                   else scored.metric[k][0] / scored.metric[k][1] for k in scored.keys}
        return {"loss": scored.loss, **results} if loss is not None else results

    # -- parameters
    def trainable_params(self) -> dict[str, np.ndarray]:
        """What ``fit`` trains, under the user's labels: ``{"fc1.weights": array,
        "fc1.bias": ..., "lif1.bias": ...}`` (copies of the current values, float32).
        Which arrays train by default, and how names are made: ``snngraph.params`` and
        the README's "Parameters and their defaults"."""
        from snngraph.params import public_names

        self._check_open()
        ir = self._rate_program().ir
        names, keys = public_names(ir.owners), self._trainable_keys(ir)
        current = self._current_params()
        return {names[k]: current[k].copy() for k in ir.owners if k in keys}

    def save_params(self, path: str | Path) -> Path:
        """Write every parameter training may change (trainable or frozen) to ``path`` (an
        .npz, atomically), each under its name in ``trainable_params`` (user labels)."""
        from snngraph.params import public_names

        self._check_open()
        current = self._current_params()
        ir = self._rate_program().ir
        names = public_names(ir.owners)
        meta = {"network": ir.label, "owners": {names[k]: owner_text(ir, k) for k in current}}
        return params_io.write(path, {names[k]: v for k, v in current.items()}, meta)

    def load_params(self, path: str | Path) -> None:
        """Read parameters saved by ``save_params``; every array is checked against this
        network before any is used. Files written before parameters were named by label
        (keys such as ``%fc1_2.w``) are read too."""
        from snngraph.params import public_names

        self._check_open()
        arrays, _, _ = params_io.read(path)
        current = self._current_params()
        ir = self._rate_program().ir
        names = public_names(ir.owners)
        check_known(path, arrays, names)
        arrays = {k: arrays[names[k]] if names[k] in arrays else arrays.get(k)
                  for k in current}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        for key, value in current.items():
            if key not in arrays:
                raise SerializationError(f"load_params: {str(path)!r} has no values for "
                                         f"{owner_text(ir, key)} ({names[key]}); it was "
                                         "saved from a different network")
            if arrays[key].shape != value.shape:
                raise SerializationError(
                    f"load_params: {str(path)!r}: {owner_text(ir, key)} ({names[key]}) has shape "
                    f"{arrays[key].shape} in the file but {value.shape} in this network")
        self._set_trained({k: np.asarray(arrays[k], np.float32) for k in current})

    def freeze_params(self, net: Any = None) -> None:
        """Write the trained parameters into the network's objects (connection
        transforms, ensemble gains and biases), so any runtime or a saved description
        document uses them."""
        from snngraph.runtimes.training.freeze import freeze

        self._check_open()
        net = net if net is not None else self.network
        if net is None:
            raise ValidationError("Simulator.freeze_params: this Simulator was built from a "
                                  "Program; pass the network to write into", obj="Simulator",
                                  field="net", value=None)
        ir = self._rate_program().ir
        freeze(net, ir, self._current_params())

    # -- internals
    def _pick(self, name: str, value: Any) -> Any:
        return value if value is not None else self._compiled.get(name)

    def _rate_program(self) -> Any:
        if self._rate is None:
            if self.network is not None:
                import snngraph as sg

                self._rate = sg.compile(self.network, target="rate",
                                        params=self._trained, **self.compile_options)
            elif self.program.target == "rate":
                self._rate = self.program
            else:
                raise ValidationError(
                    "Simulator: training and parameter files need the network (this "
                    f"Simulator runs a Program compiled for {self.program.target!r}); create "
                    "it from the network, or from a Program compiled with target='rate'",
                    obj="Simulator", field="network", value="Program")
        return self._rate

    def _current_params(self) -> dict[str, np.ndarray]:
        """Trained (or initial) values by key, as lowered: before ``scale_firing_rates``."""
        ir = self._rate_program().ir
        return {k: np.asarray(self._trained[k] if k in self._trained
                              else ir.params[k] / ir.scales.get(k, 1.0), np.float32)
                for k in ir.owners}

    def _set_trained(self, values: dict[str, np.ndarray]) -> None:
        """New parameter values: recompile (or patch the given program) and rebuild the
        backend, so predict and evaluate use them."""
        self._trained = {k: np.asarray(v, np.float32) for k, v in values.items()}
        if self.network is not None:
            import snngraph as sg

            target = {"rate": "rate", "loihi": "loihi"}.get(self.backend_name, "cpu")
            self.program = sg.compile(self.network, target=target, params=self._trained,
                                      **self.compile_options)
            self._rate = None
        else:
            ir = self.program.ir
            for key, value in self._trained.items():
                if key in ir.params:
                    ir.params[key] = (value * ir.scales.get(key, 1.0)).astype(ir.params[key].dtype)
        self._backend = self._new_backend()
        self.reset()

    def _trainable_keys(self, ir: Any) -> set[str]:
        from snngraph.params import is_trainable

        if self.network is None:
            return set(ir.owners)
        check_asked(self.network)
        return {k for k, (obj, role) in ir.owners.items()
                if is_trainable(self.network, obj, role)}

    def _describe_key(self, ir: Any) -> Any:
        def describe(name: str) -> str:
            if name in ir.owners:
                return owner_text(ir, name)
            if name in ir.graph:
                op = ir.op(name)
                return op_origin(op)
            return name
        return describe

    def _progress_factory(self, verbose: int) -> Any:
        """fit's per-epoch bar: on a terminal at verbose=1 only (off a terminal, and at
        verbose=2, the epoch lines say it all)."""
        if not self.progress_bar or verbose != 1:
            return None
        from snngraph.runtimes.progress import Progress

        return lambda total, unit, what: Progress(total, unit, what, lines=False)

    def _probe_name(self, key: Any, where: str) -> str:
        name = self._probe_op(key)  # a Probe, its label or its op name
        if name is not None:
            return name
        labels = [op.label or p[1:] for p, op in self._probes.items()]
        near = closest(key, labels)
        raise ValidationError(f"Simulator.{where}: {short_repr(key)} is not a probe of this "
                              f"network (probes: {', '.join(labels)})"
                              + (f"\n  fix: did you mean {near!r}?" if near else ""),
                              obj="Simulator", field="y", value=key)

    def _objectives(self, y: Any, loss: Any, metrics: Any, n: int, steps: int,
                    where: str) -> list:
        ys = self._by_probe_arg(y, "y", where)
        losses = self._by_probe_arg(loss, "loss", where, default_keys=list(ys))
        mets = self._by_probe_arg(metrics, "metrics", where, default_keys=list(ys))
        names = list(dict.fromkeys([*ys, *losses, *mets]))
        out = []
        for name in names:
            op = self._probes[name]
            shape = (n, steps, int(np.prod(op.shape)))
            what = f"{where}: y for probe {name[1:]}"
            lo = losses.get(name)
            if lo is not None and not isinstance(lo, Loss):
                raise ValidationError(f"Simulator.{where}.loss: expected an sg.losses loss "
                                      f"(got {short_repr(lo)})", obj="Simulator",
                                      field="loss", value=lo)
            ms = mets.get(name) or []
            ms = list(ms) if isinstance(ms, list | tuple) else [ms]
            bad = [m for m in ms if not isinstance(m, Metric)]
            if bad:
                raise ValidationError(f"Simulator.{where}.metrics: expected sg.metrics metrics "
                                      f"(got {short_repr(bad[0])})", obj="Simulator",
                                      field="metrics", value=bad[0])
            data = ys.get(name)
            needs = (lo is not None and lo.needs_data) or ms
            if needs and data is None:
                raise ValidationError(f"Simulator.{where}: probe {name[1:]} has a loss or "
                                      "metric that needs target data, but y has none for it",
                                      obj="Simulator", field="y", value=None)
            target = lo.prepare(data, shape, what) if lo is not None and data is not None \
                else None
            labels = ms[0].prepare(data, shape, what) if ms else None
            out.append(Objective(name, name[1:], lo, ms, target, labels))
        return out

    def _by_probe_arg(self, value: Any, field: str, where: str,
                      default_keys: list[str] | None = None) -> dict[str, Any]:
        """``{probe: value}``, a bare value (for every probe in y, or the only probe)."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return {self._probe_name(k, where): v for k, v in value.items()}
        keys = default_keys or []
        if not keys:
            if len(self._probes) != 1:
                raise ValidationError(
                    f"Simulator.{where}.{field}: a bare value needs exactly one probe, this "
                    f"network has {len(self._probes)} "
                    f"({', '.join(p[1:] for p in self._probes)}); pass {{probe: value}}",
                    obj="Simulator", field=field, value=short_repr(value))
            keys = list(self._probes)
        return {k: value for k in keys}
