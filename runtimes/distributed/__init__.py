"""Running snngraph's jobs on a Dask cluster (``dask.distributed``, extra ``dask``).

A thin layer over the single-process paths, imported only when ``client=`` is given:
``cluster.py`` turns ``client=`` into a connected, checked ``Client`` (or starts a local
cluster), ``shards.py`` splits ``predict``/``evaluate`` into ranges of examples,
``sweep.py`` runs ``sg.sweep``'s settings as tasks, ``training.py`` computes ``fit``'s
minibatch gradients in parts, and ``worker.py`` holds what runs on the workers. Dask
schedules, moves data, retries and replaces lost workers; nothing here re-implements
that. See docs/distributed.md.
"""

from __future__ import annotations

from snngraph.runtimes.distributed.cluster import (
    CHECK_TIMEOUT,
    CONNECT_TIMEOUT,
    RETRIES,
    ClusterError,
    check_workers,
    connect,
)

__all__ = ["CHECK_TIMEOUT", "CONNECT_TIMEOUT", "RETRIES", "ClusterError", "check_workers",
           "connect"]
