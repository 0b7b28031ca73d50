"""Which facility reaches each junction of the road network first, and in how many minutes: one
multi-source Dijkstra over the graph with every facility joined to its snapped edge's ends
(seconds inside; minutes out). Used for the drive-time capacity of risk zoning."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .arraytools import with_source_rows
from .network import RoadGraph
from .routing import DEFAULT_MAX_SNAP_M, RoutingError, arc_time_s, part_seconds, snap_points


def coverage_by_time(
    graph: RoadGraph,
    facilities: gpd.GeoDataFrame,
    *,
    minutes: float | None = None,
    closed: NDArray[np.bool_] | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """For every junction: the facility (row position in ``facilities``) that reaches it first and
    how many minutes it takes, by one multi-source Dijkstra. Beyond ``minutes`` (or unreachable):
    facility -1 and NaN minutes. Facilities off the network take no part."""
    points = np.asarray(facilities.to_crs(graph.epsg).geometry.array, dtype=object)
    snaps = snap_points(graph, points, closed=closed, max_snap_m=max_snap_m)
    n, f = graph.node_count, len(points)
    tails, heads, times = [], [], []
    for i in np.flatnonzero(snaps.edge >= 0):
        edge, fraction = int(snaps.edge[i]), float(snaps.fraction[i])
        for node, seconds in ((graph.edge_v[edge], part_seconds(1 - fraction, arc_time_s(graph, edge, True, closed))), (graph.edge_u[edge], part_seconds(fraction, arc_time_s(graph, edge, False, closed)))):
            if np.isfinite(seconds):
                tails.append(n + i)
                heads.append(int(node))
                times.append(seconds)
    forward = graph.weights(closed)
    virtual = csr_matrix((times, (np.array(tails, dtype=np.int64) - n, heads)), shape=(f, n + f))
    augmented = with_source_rows(forward, virtual)
    limit = np.inf if minutes is None else minutes * 60.0
    sources = np.flatnonzero(snaps.edge >= 0) + n
    if sources.size == 0:
        raise RoutingError("no facility is within reach of the road network")
    dist, _, origin = dijkstra(augmented, directed=True, indices=sources, min_only=True, return_predecessors=True, limit=limit)
    reached = np.isfinite(dist[:n])
    return pd.DataFrame(
        {
            "node": np.arange(n),
            "facility": np.where(reached, origin[:n] - n, -1),
            "minutes": np.where(reached, dist[:n] / 60.0, np.nan),
        }
    )
