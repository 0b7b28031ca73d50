"""How partitioned analyses hand their partitions to whatever runs them: ``run(function, tasks,
**shared)`` calls ``function(task, **shared)`` for each task and yields the results in any order
(``map``'s signature, plus what every task shares, such as a walking graph). In this process by
default (``in_this_process``); on a cluster through ``layers.services.cluster``. Pure: no engine
is named here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol


class RunPartitions(Protocol):
    """``run(function, tasks, **shared)``: ``function(task, **shared)`` per task, results in any order."""

    def __call__(self, function: Callable[..., Any], tasks: Iterable[Any], **shared: Any) -> Iterator[Any]: ...


def in_this_process(function: Callable[..., Any], tasks: Iterable[Any], **shared: Any) -> Iterator[Any]:
    """The partitions one after the other, here."""
    return (function(task, **shared) for task in tasks)
