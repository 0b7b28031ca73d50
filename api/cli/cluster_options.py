"""The ``--workers N`` / ``--scheduler tcp://HOST:8786`` options of the analyses that run
partitioned by county on dask.distributed (``onemap risk``, ``onemap coverage``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from layers.services.cluster import CONNECT_TIMEOUT_S, MAX_LOCAL_WORKERS

WORKERS_HELP = (
    "Partition by county and run on a local Dask cluster of N worker processes (dask.distributed "
    "LocalCluster). The outputs are the same as without it."
)
SCHEDULER_HELP = (
    "Partition by county and run on an existing Dask cluster (its scheduler's address, e.g. "
    f"tcp://10.0.0.5:8786; its workers need onemap installed). Gives up after {CONNECT_TIMEOUT_S} s if it cannot be reached."
)


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``workers`` and ``scheduler`` to a command's parameters."""
    command = click.option("--scheduler", metavar="tcp://HOST:PORT", default=None, help=SCHEDULER_HELP)(command)
    return click.option("--workers", type=click.IntRange(1, MAX_LOCAL_WORKERS), default=None, metavar="N", help=WORKERS_HELP)(command)
