"""``sg.sweep(build, grid, data, metric=...)``: one network per setting of a grid
(conversion settings such as ``scale_firing_rates``, synapses, block shapes, neuron
types), each evaluated on the same data, here one after the other or on a Dask cluster
one task per setting (``client=``). Each setting's scores are those of the
single-process run: the same ``build``, the same ``Simulator.evaluate``, in whichever
process runs it.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from snngraph.errors import ValidationError, short_repr


class SweepPoint(NamedTuple):
    """One setting of the grid and what ``evaluate`` scored for it."""

    setting: dict[str, Any]
    scores: dict[str, float]


@dataclass
class SweepJob:
    """What every setting's task shares: the builder, the data and evaluate's options
    (sent to each worker once)."""

    build: Any
    x: Any
    y: Any
    options: dict[str, Any]

    def evaluate(self, setting: dict[str, Any]) -> dict[str, float]:
        from snngraph.runtimes.simulator import Simulator

        made = self.build(**setting)
        if isinstance(made, Simulator):
            sim = made
        else:
            sim = Simulator(made, minibatch_size=self.options.get("batch_size") or 100,
                            progress_bar=False)
        with sim:
            return sim.evaluate(self.x, self.y, verbose=0, **self.options)


def sweep(build: Any, grid: Any, data: Any, metric: Any = None, loss: Any = None,
          n_steps: int | None = None, batch_size: int | None = None, client: Any = None,
          verbose: int | str = "auto") -> list[SweepPoint]:
    """Evaluate ``build(**setting)`` on ``data`` for every setting of ``grid``.

    ``build``: a function of the grid's names returning a ``Simulator``, a Network or a
    Program (run by ``sg.Simulator(made, minibatch_size=batch_size or 100)``).
    ``grid``: ``{name: [values]}`` (every combination, the first name varying slowest)
    or a list of ``{name: value}`` settings. ``data``: ``(x, y)`` as ``evaluate`` takes
    them; probes are named by label (a Probe object is turned into its label, since each
    setting builds its own network). ``metric``/``loss``: ``evaluate``'s ``metrics`` and
    ``loss``. ``client``: a ``dask.distributed.Client``, a scheduler address or
    ``"local"``: one task per setting on the cluster. Returns one ``SweepPoint(setting,
    scores)`` per setting, in the grid's order.
    """
    from snngraph.runtimes.progress import check_verbose

    settings = _settings(grid)
    verbose = check_verbose(verbose, "sweep")
    if not callable(build):
        raise ValidationError(f"sweep.build: expected a function of the grid's names that "
                              f"returns a Simulator, Network or Program (got "
                              f"{short_repr(build)})", obj="sweep", field="build",
                              value=short_repr(build))
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValidationError(f"sweep.data: expected (x, y) (got {short_repr(data)})",
                              obj="sweep", field="data", value=short_repr(data))
    options = {"metrics": _by_label(metric, "metric"), "loss": _by_label(loss, "loss"),
               "n_steps": n_steps, "batch_size": batch_size}
    job = SweepJob(build, _in_memory(data[0]), _by_label(_in_memory(data[1]), "data"),
                   options)
    bar = _bar(len(settings), verbose)
    if client is None:
        scores = []
        for setting in settings:
            scores.append(job.evaluate(setting))
            if bar:
                bar.update(1)
    else:
        scores = _on_cluster(job, settings, client, bar)
    if bar:
        bar.close()
    return [SweepPoint(s, r) for s, r in zip(settings, scores)]


def _on_cluster(job: SweepJob, settings: list[dict], client: Any, bar: Any) -> list[dict]:
    from snngraph.runtimes.distributed.cluster import RETRIES, connect
    from snngraph.runtimes.distributed.shards import gather_in_order
    from snngraph.runtimes.distributed.worker import run_setting

    with connect(client, "sweep") as c:
        shared = c.scatter(job, broadcast=True, hash=False)
        tag = uuid.uuid4().hex[:8]
        futures = [c.submit(run_setting, shared, s, key=f"snngraph-sweep-{tag}-{i}",
                            retries=RETRIES, pure=False) for i, s in enumerate(settings)]
        names = [f"setting {i + 1} of {len(settings)} ({_shown(s)})"
                 for i, s in enumerate(settings)]
        return gather_in_order(c, futures, names, "sweep",
                               (lambda i: bar.update(1)) if bar else None)


def _settings(grid: Any) -> list[dict[str, Any]]:
    fix = ("\n  fix: grid={'scale_firing_rates': [1, 10, 100], 'synapse': [None, 0.005]} "
           "or a list of such settings, [{'scale_firing_rates': 10}, ...]")
    if isinstance(grid, dict):
        for name, values in grid.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValidationError(f"sweep.grid: {short_repr(name)} is not a name build() "
                                      f"can take as a keyword{fix}", obj="sweep",
                                      field="grid", value=short_repr(name))
            if not isinstance(values, list | tuple) or not values:
                raise ValidationError(f"sweep.grid[{name!r}]: expected a non-empty list of "
                                      f"values (got {short_repr(values)}){fix}", obj="sweep",
                                      field="grid", value=short_repr(values))
        return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    if isinstance(grid, list | tuple) and grid and all(isinstance(s, dict) for s in grid):
        return [dict(s) for s in grid]
    raise ValidationError(f"sweep.grid: expected {{name: [values]}} or a non-empty list of "
                          f"settings (got {short_repr(grid)}){fix}", obj="sweep",
                          field="grid", value=short_repr(grid))


def _by_label(value: Any, field: str) -> Any:
    """``{Probe: v}`` as ``{label: v}``: every setting builds its own network, whose
    probes are found by label."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if isinstance(key, str):
            out[key] = v
            continue
        label = getattr(key, "label", None)
        if not label:
            raise ValidationError(f"sweep.{field}: {short_repr(key)} has no label; each "
                                  "setting builds its own network and finds its probes by "
                                  "label\n  fix: sg.Probe(..., label='out') and key the "
                                  "data by 'out'", obj="sweep", field=field,
                                  value=short_repr(key))
        out[label] = v
    return out


def _in_memory(value: Any) -> Any:
    """A dask.array as a NumPy array (every setting reads all of it)."""
    if isinstance(value, dict):
        return {k: _in_memory(v) for k, v in value.items()}
    return value.compute() if hasattr(value, "__dask_graph__") else value


def _shown(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={short_repr(v, 30)}" for k, v in setting.items())


def _bar(total: int, verbose: int) -> Any:
    if not verbose:
        return None
    from snngraph.runtimes.progress import Progress

    return Progress(total, "setting", "sweep", terminal=False if verbose == 2 else None)
