"""Running the partitioned analyses' tasks on ``dask.distributed``: a ``LocalCluster`` of
``--workers N`` processes on this machine, or an existing cluster's scheduler
(``--scheduler tcp://HOST:8786``), with the same code.

An analysis hands over its partitions as a function and an iterable of tasks, ``map``'s signature
(``RunTasks``); this module is the only one that knows about Dask. Tasks are scattered to the
workers before they are mapped (a county's population cells are megabytes: a task graph should
not carry them), and results are returned as they complete (the analyses stitch by partition, so
the order does not matter).

A scheduler that cannot be reached fails within ``CONNECT_TIMEOUT_S`` seconds with what to check,
never a hang. The workers of an existing cluster must have onemap installed (the same version as
the client: the tasks are this package's functions, pickled by reference).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from layers.errors import InputError

CONNECT_TIMEOUT_S = 3
"""How long to try an existing scheduler before giving up, in seconds."""
MAX_LOCAL_WORKERS = 64
WORKER_PRELOAD = ("gis.risk.windows", "gis.coverage.reach")
"""Imported by each local worker as it starts, so the first task does not wait for them."""

T = TypeVar("T")
R = TypeVar("R")
RunTasks = Callable[..., Iterator[R]]
"""``run_tasks(function, tasks, **shared)``: ``function(task, **shared)`` for each task, results in
any order (``map``'s signature, plus what every task shares)."""


@dataclass(frozen=True)
class ClusterInfo:
    """What the analysis ran on: ``kind`` "local" or "scheduler", its address and worker count."""

    kind: str
    address: str
    workers: int

    def describe(self) -> str:
        where = f"LocalCluster ({self.workers} worker processes)" if self.kind == "local" else f"the cluster at {self.address} ({self.workers} workers)"
        return f"partitioned by county on dask.distributed: {where}"


def check_cluster_options(workers: int | None, scheduler: str | None) -> None:
    """``InputError`` for options that cannot work together or at all, before anything starts."""
    if workers is not None and scheduler is not None:
        raise InputError("give --workers N (a local cluster) or --scheduler tcp://HOST:8786 (an existing one), not both")
    if workers is not None and not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise InputError(f"--workers must be 1-{MAX_LOCAL_WORKERS}, got {workers}")
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise InputError(f"--scheduler must be an address like tcp://HOST:8786, got {scheduler!r}")


@contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None) -> Iterator[tuple[RunTasks[Any], ClusterInfo] | None]:
    """``(run_tasks, info)`` on a local cluster of ``workers`` processes or on ``scheduler``; None
    when neither is given (the caller runs in this process). The cluster is closed on exit."""
    check_cluster_options(workers, scheduler)
    if workers is None and scheduler is None:
        yield None
        return
    from distributed import Client, LocalCluster, as_completed
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    for name in ("distributed", "distributed.worker", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.ERROR)  # their INFO lines are not for an analyst's terminal
    started: dict[str, Any] = {}
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as error:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s ({error.__class__.__name__}): "
                "is `dask scheduler` running there, and is its port open from here? Or run on this machine with --workers N"
            ) from None
        started["client"] = client
        info = ClusterInfo("scheduler", scheduler, len(client.scheduler_info().get("workers", {})))
        starting = None
    else:
        assert workers is not None

        def start() -> None:  # in the background: the workers import while this process reads the layers
            try:
                started["local"] = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                                silence_logs=logging.ERROR, preload=list(WORKER_PRELOAD))
                started["client"] = Client(started["local"])
            except Exception as error:  # re-raised where the cluster is first needed
                started["error"] = error

        starting = threading.Thread(target=start, name="onemap-local-cluster", daemon=True)
        starting.start()
        info = ClusterInfo("local", "LocalCluster", workers)

    def ready() -> Any:
        if starting is not None:
            starting.join()
        if "error" in started:
            raise InputError(f"the local Dask cluster did not start: {started['error']}") from started["error"]
        return started["client"]

    def run_tasks(function: Callable[..., R], tasks: Iterable[T], **shared: Any) -> Iterator[R]:
        """``function(task, **shared)`` for each task on the workers; ``shared`` (a walking graph)
        is sent once to every worker, the tasks one each."""
        listed = list(tasks)
        if not listed:  # Client.scatter refuses an empty list
            return
        client = ready()
        scattered = client.scatter(listed, hash=False)  # hashing a county's frames costs more than sending them
        everywhere = {name: client.scatter(value, broadcast=True, hash=False) for name, value in shared.items()}
        for future in as_completed(client.map(function, scattered, pure=False, **everywhere)):
            try:
                yield future.result()
            except (KilledWorker, CommClosedError) as error:
                raise InputError(f"a Dask worker died while running {getattr(function, '__name__', 'a task')} ({error.__class__.__name__}): "
                                 "most often out of memory; give the workers more memory, or use fewer per machine") from None

    try:
        yield run_tasks, info
    finally:
        if starting is not None:
            starting.join()
        if "client" in started:
            started["client"].close()
        if "local" in started:
            started["local"].close()
