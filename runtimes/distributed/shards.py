"""``predict`` and ``evaluate`` on a cluster: the examples split into contiguous ranges
(shards), each a task on some worker, gathered back in order.

Shards are whole minibatches of the single-process run (``batch_size`` examples, the
last one possibly partial), so every worker runs exactly the minibatches ``predict``
would run here, with the same per-example random draws (seeded by the example's index
in the whole dataset, not in the shard): the result is bit-identical. The compiled
Program and parameters go to every worker once (``scatter(broadcast=True)``: a
restarted worker fetches them from another); a shard's inputs travel with its task, or,
for a ``dask.array``, are computed on the cluster slice by slice (the driver never
holds the whole array). A lost worker's shards are run again by the scheduler; each
shard's result is taken once, by its index.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
from snngraph.runtimes.distributed.cluster import RETRIES, ClusterError, connect
from snngraph.runtimes.distributed.worker import SimulatorSpec, run_range

SHARDS_PER_WORKER = 4
"""Shards per worker: enough for a fast worker to take over a slow one's share and for
the progress bar to move, few enough that each shard is many minibatches."""


def is_dask_collection(value: Any) -> bool:
    return hasattr(value, "__dask_graph__")


def task_slots(client: Any) -> int:
    """Tasks the cluster runs at once: its workers' threads (one per worker process in
    the local cluster and in docs/distributed.md's setup)."""
    return max(1, sum(client.nthreads().values()))


def shard_ranges(n: int, size: int, workers: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each shard: whole minibatches of ``size``, about
    ``SHARDS_PER_WORKER`` per worker, in order and covering ``0..n`` once."""
    batches = math.ceil(n / size)
    per_shard = math.ceil(batches / max(1, min(batches, SHARDS_PER_WORKER * workers)))
    step = per_shard * size
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def predict_on_cluster(sim: Any, x: Any, n_steps: int | None, size: int, verbose: int,
                       what: str, client: Any) -> dict[str, np.ndarray]:
    """``sim._predict``'s result (by probe op name) computed on the cluster."""
    inputs, n, steps = _checked_inputs(sim, x, n_steps)
    with connect(client, f"Simulator.{what}") as c:
        spec = c.scatter(SimulatorSpec.of(sim, uuid.uuid4().hex), broadcast=True, hash=False)
        ranges = shard_ranges(n, size, task_slots(c))
        futures = [c.submit(run_range, spec, _part(c, inputs, a, b), steps, size, a,
                            key=f"snngraph-{what}-{spec.key[-8:]}-examples-{a}-{b - 1}",
                            retries=RETRIES, pure=False)
                   for a, b in ranges]
        bar = sim._progress(n, "example", what, verbose,
                            f"{n} examples x {steps} steps on {len(ranges)} shards")
        parts = gather_in_order(c, futures, [f"examples {a}..{b - 1}" for a, b in ranges],
                                f"Simulator.{what}",
                                (lambda i: bar.update(ranges[i][1] - ranges[i][0]))
                                if bar else None)
        if bar:
            bar.close()
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _checked_inputs(sim: Any, x: Any, n_steps: int | None
                    ) -> tuple[dict[str, Any], int, int]:
    """``x`` by input op name, the number of examples and the steps, checked here as the
    single-process run checks them; a ``dask.array`` is checked on its first example
    only (the workers check the rest of their slices as they compute them)."""
    inputs = sim._input_ops()
    data = x if isinstance(x, dict) else ({next(iter(inputs)): x} if len(inputs) == 1 else x)
    if not isinstance(data, dict) or not any(is_dask_collection(v) for v in data.values()):
        feeds, fed_steps = sim._feeds(x, n_steps, None, exact=False)
        return feeds, len(next(iter(feeds.values()))), n_steps or fed_steps
    named = {sim._op_name(k, inputs): v for k, v in data.items()}
    sizes = {float(v.shape[0]) for v in named.values()}  # NaN: a dask.array's unknown length
    if len(sizes) > 1 or any(math.isnan(s) for s in sizes):
        from snngraph.errors import ValidationError

        raise ValidationError(f"Simulator: inputs have different or unknown numbers of "
                              f"examples ({sorted(sizes)})\n  fix: give dask.arrays of known "
                              "length (x.compute_chunk_sizes())", obj="Simulator",
                              field="data", value=sorted(sizes))
    head = {k: np.asarray(v[:1]) for k, v in named.items()}
    _, fed_steps = sim._feeds(head, n_steps, None, exact=False)
    return named, int(sizes.pop()), n_steps or fed_steps


def _part(client: Any, inputs: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Examples ``start..stop`` of each input: a NumPy slice (sent with the task), or a
    future of the dask.array's slice computed on the cluster."""
    return {k: client.compute(v[start:stop]) if is_dask_collection(v) else v[start:stop]
            for k, v in inputs.items()}


def gather_in_order(client: Any, futures: list, names: list[str], where: str,
                    done: Any = None) -> list[Any]:
    """Each future's result, in the futures' order, calling ``done(i)`` as the ``i``-th
    finishes (in any order). A task that failed for good (raised on its last retry, or
    its workers died ``allowed-failures`` times) cancels the rest and stops with a
    ClusterError naming its part (``names[i]``) and the cause."""
    from distributed import as_completed

    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        # with_results: each result arrives with its completion (no second round trip)
        for future, result in as_completed(futures, with_results=True, raise_errors=False):
            i = index[future.key]
            if future.status != "finished":
                raise _failed(where, names[i], future)
            results[i] = result
            if done is not None:
                done(i)
    finally:  # after a failure (or an interrupt): the rest is not needed
        pending = [f for f in futures if f.status == "pending"]
        if pending:
            client.cancel(pending)
    return results


def _failed(where: str, name: str, future: Any) -> ClusterError:
    try:
        cause = future.exception()
    except Exception as exc:  # cancelled, or the scheduler went away
        cause = exc
    kind = type(cause).__name__
    why = ("its worker died each time it ran it (the scheduler's allowed-failures); the "
           "task may crash its process (memory, a native library)" if kind == "KilledWorker"
           else f"{kind}: {cause}")
    error = ClusterError(f"{where}: {name} failed on the cluster after {RETRIES} "
                         f"retries: {why}")
    error.__cause__ = cause if isinstance(cause, BaseException) else None
    return error
