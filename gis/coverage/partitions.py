"""Walking reach partitioned by county, for a cluster: each county's populated cells with a halo of
the shelters that can reach them, searched apart, then stitched into the ``Reach`` that one
``network_reach`` over every cell gives (the same arrays, value for value).

The halo: a walk is never shorter than the straight line (the off-road legs are straight, the road
edges at least as long as their chords), so a shelter can reach a cell only if it lies within its
reach × walking speed of it in a straight line. Each partition searches from the shelters within
that distance of its cells' box; every other shelter still takes part in the cells' nearest
shelter (one multi-source search over the whole network, as in one process) but is searched from
nowhere else. The walking graph is the whole network in every partition (sent once to each
worker), so no walk is cut at a county's edge.

Pure: arrays and the graph in, a ``Reach`` out; how the partitions run is the caller's
(``run_partitions``: ``function(task, graph=graph)`` for each task, results in any order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..network import RoadGraph
from ..partitions import RunPartitions, in_this_process
from .reach import Reach, network_reach


@dataclass(frozen=True)
class ReachTask:
    """One partition: its cells (positions in the whole run and their x, y), every shelter's x, y
    and reach (minutes), which of them to search from, and the walking parameters."""

    label: str
    cells: NDArray[np.int64]
    cells_xy: NDArray[np.float64]
    shelters_xy: NDArray[np.float64]
    limit_min: NDArray[np.float64]
    searched: NDArray[np.bool_]
    walk_kmh: float
    max_snap_m: float


def reach_of(task: ReachTask, graph: RoadGraph) -> tuple[ReachTask, Reach]:
    """The partition's reach, in its own cell positions."""
    return task, network_reach(graph, task.cells_xy, task.shelters_xy, task.limit_min, walk_kmh=task.walk_kmh, max_snap_m=task.max_snap_m, searched=task.searched)


def reach_tasks(cells_xy: NDArray[np.float64], shelters_xy: NDArray[np.float64], limit_min: NDArray[np.float64], group: NDArray[np.int64],
                labels: list[str], *, walk_kmh: float, max_snap_m: float) -> list[ReachTask]:
    """One task per group of cells (``group``: each cell's county row, -1 for none: their own
    partition), each searching the shelters within their reach of its cells' box."""
    radius = np.asarray(limit_min, dtype=float) * 60.0 * walk_kmh / 3.6 + 1.0  # metres, a metre spare against rounding
    tasks = []
    for value in np.unique(group):
        cells = np.flatnonzero(group == value)
        xy = cells_xy[cells]
        (west, south), (east, north) = xy.min(axis=0), xy.max(axis=0)
        dx = np.maximum(0.0, np.maximum(west - shelters_xy[:, 0], shelters_xy[:, 0] - east))
        dy = np.maximum(0.0, np.maximum(south - shelters_xy[:, 1], shelters_xy[:, 1] - north))
        searched = np.hypot(dx, dy) <= radius
        label = labels[value] if value >= 0 else "outside every county"
        tasks.append(ReachTask(label, cells, xy, shelters_xy, limit_min, searched, walk_kmh, max_snap_m))
    return tasks


def partitioned_reach(graph: RoadGraph, cells_xy: NDArray[np.float64], shelters_xy: NDArray[np.float64], limit_min: NDArray[np.float64],
                      group: NDArray[np.int64], labels: list[str], *, walk_kmh: float, max_snap_m: float,
                      run_partitions: RunPartitions = in_this_process) -> Reach:
    """``network_reach`` of every cell, computed per group of cells and stitched: the same arrays."""
    n_cells = len(cells_xy)
    tasks = reach_tasks(cells_xy, shelters_xy, limit_min, group, labels, walk_kmh=walk_kmh, max_snap_m=max_snap_m)
    nearest_shelter = np.full(n_cells, -1, dtype=np.int64)
    nearest_minutes = np.full(n_cells, np.nan)
    cell_parts, shelter_parts, minute_parts, off_parts = [], [], [], []
    shelters_off = np.zeros(0, dtype=np.int64)
    for task, reach in run_partitions(reach_of, tasks, graph=graph):
        cell_parts.append(task.cells[reach.cell])
        shelter_parts.append(reach.shelter)
        minute_parts.append(reach.minutes)
        off_parts.append(task.cells[reach.cells_off_network])
        nearest_shelter[task.cells] = reach.nearest_shelter
        nearest_minutes[task.cells] = reach.nearest_minutes
        shelters_off = reach.shelters_off_network
    cell = np.concatenate(cell_parts) if cell_parts else np.zeros(0, np.int64)
    shelter = np.concatenate(shelter_parts) if shelter_parts else np.zeros(0, np.int64)
    minutes = np.concatenate(minute_parts) if minute_parts else np.zeros(0)
    order = np.lexsort((shelter, cell))  # as one run orders its pairs: by cell, then shelter
    return Reach(
        mode="network",
        cell=cell[order],
        shelter=shelter[order],
        minutes=minutes[order],
        nearest_shelter=nearest_shelter,
        nearest_minutes=nearest_minutes,
        n_shelters=len(shelters_xy),
        cells_off_network=np.sort(np.concatenate(off_parts)) if off_parts else np.zeros(0, np.int64),
        shelters_off_network=shelters_off,
    )
