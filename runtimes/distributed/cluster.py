"""``client=``: a Dask ``Client``, a scheduler address or ``"local"``, turned into a
connected client whose workers run this snngraph, within stated timeouts.

``connect(client, where)`` is a context manager: it yields a ``Client`` and, for a
cluster or a connection it opened itself, closes it afterwards. Every way this can go
wrong stops with a ``ClusterError`` (or a ``ValidationError`` for a wrong argument) that
says what and how to fix it: dask is not installed, the scheduler cannot be reached
within ``CONNECT_TIMEOUT``, no worker joins within ``CONNECT_TIMEOUT``, a worker lacks
snngraph or runs another version (asked with ``Client.run`` within ``CHECK_TIMEOUT``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snngraph.errors import SnnError, ValidationError, short_repr

CONNECT_TIMEOUT = 10.0
"""Seconds to reach a scheduler, and for its first worker to join."""
CHECK_TIMEOUT = 30.0
"""Seconds for every worker to report its snngraph version."""
RETRIES = 2
"""Times a task that raised is run again (a lost worker's tasks are rescheduled by the
scheduler whatever this says: ``distributed.scheduler.allowed-failures``)."""


class ClusterError(SnnError, RuntimeError):
    """A Dask cluster cannot run snngraph's job: unreachable, without workers, workers
    without snngraph or with another version, or a part of the job failed for good."""


def dask_modules() -> Any:
    """``distributed``, or the error saying which extra installs it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError("client=: running on a Dask cluster needs dask.distributed, "
                           "which is not installed\n  fix: pip install 'snngraph[dask]'"
                           ) from None
    return distributed


@contextmanager
def connect(client: Any, where: str) -> Iterator[Any]:
    """A checked ``Client`` for ``client=`` of ``where`` (e.g. "Simulator.predict")."""
    if isinstance(client, str) and client == "local":
        with _local_cluster() as started:
            check_workers(started, where)
            yield started
        return
    if isinstance(client, str):
        opened = _open(client, where)
        try:
            check_workers(opened, where)
            yield opened
        finally:
            opened.close()
        return
    distributed = dask_modules()
    if not isinstance(client, distributed.Client):
        raise ValidationError(
            f"{where}.client: expected a dask.distributed.Client, a scheduler address such "
            f"as 'tcp://10.0.0.5:8786', or 'local' (got {short_repr(client)}, a "
            f"{type(client).__name__})\n  fix: client=Client('tcp://host:8786') (from "
            "dask.distributed import Client), or client='local' for this machine's cores",
            obj=where, field="client", value=short_repr(client))
    if client.status != "running":
        raise ClusterError(f"{where}.client: the Client is {client.status!r}, not "
                           "connected\n  fix: pass a Client that is open (not closed)")
    check_workers(client, where)
    yield client


def _open(address: str, where: str) -> Any:
    """A Client connected to the scheduler at ``address``, or a ClusterError naming it."""
    distributed = dask_modules()
    if "://" not in address and ":" not in address:
        raise ValidationError(
            f"{where}.client: {address!r} is neither 'local' nor a scheduler address\n  fix: "
            "client='tcp://host:8786' (the address `dask scheduler` prints) or "
            "client='local'", obj=where, field="client", value=address)
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"{where}.client: no Dask scheduler answered at {address!r} within "
            f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})\n  fix: start one there "
            "(`dask scheduler`, then `dask worker <address>` on each machine), check the "
            "address and port and that the firewall lets it through, or use "
            "client='local'") from None


@contextmanager
def _local_cluster() -> Iterator[Any]:
    """A cluster of this machine: one worker process per core, one task thread each
    (tasks in threads of one process would hold each other up on the GIL), closed
    after.

    The workers' Numba thread count is left as it is: the nanny sets a worker's ``env``
    only after the new process has re-imported the driver's main module, which may
    have imported Numba with its default already, and Numba refuses to change it once
    its threads run (pinning it before the nanny spawns would change the driver's own
    environment too). To pin it, start workers from a shell that sets
    ``NUMBA_NUM_THREADS=1`` (docs/distributed.md)."""
    from snngraph.runtimes.parallel import machine_threads

    distributed = dask_modules()
    n = machine_threads()
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    try:
        client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT)
        try:
            link = client.dashboard_link if cluster.dashboard_link else None
            print(f"dask: started a local cluster of {n} worker process(es), 1 thread each"
                  + (f"; dashboard: {link}" if link else ""), flush=True)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def check_workers(client: Any, where: str, package: str = "snngraph",
                  expected: str | None = None) -> dict[str, str]:
    """Every worker's version of ``package`` (default: snngraph, expected to be this
    process's ``__version__``), or a ClusterError naming the workers that lack it or run
    another version. ``{worker address: version}``."""
    if expected is None:
        import snngraph

        expected = snngraph.__version__
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (TimeoutError, OSError):
        raise ClusterError(f"{where}.client: no worker joined the scheduler "
                           f"{client.scheduler.address} within {CONNECT_TIMEOUT:g} s\n  fix: "
                           "start workers (`dask worker <scheduler address>`)") from None
    from snngraph.runtimes.distributed.probe import package_version

    try:
        found = client.run(package_version, package, on_error="return",
                           callback_timeout=CHECK_TIMEOUT)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(f"{where}.client: the workers did not report their {package} "
                           f"version within {CHECK_TIMEOUT:g} s ({type(exc).__name__})\n  "
                           "fix: check that the workers are running and not overloaded"
                           ) from None
    missing = {w: v for w, v in found.items() if not isinstance(v, str)}
    if missing:
        worker, why = next(iter(missing.items()))
        raise ClusterError(
            f"{where}.client: {len(missing)} of {len(found)} worker(s) cannot import "
            f"{package} (e.g. {worker}: {type(why).__name__}: {why})\n  fix: install the "
            f"same {package} in the workers' environment (pip install {package}=={expected}, "
            "or the same checkout with pip install -e)")
    other = {w: v for w, v in found.items() if v != expected}
    if other:
        worker, version = next(iter(other.items()))
        raise ClusterError(
            f"{where}.client: {len(other)} of {len(found)} worker(s) run {package} "
            f"{version} (e.g. {worker}), this process runs {expected}; programs and results "
            f"are only compatible within one version\n  fix: install {package}=={expected} "
            "on the workers (or the same version here)")
    return found
