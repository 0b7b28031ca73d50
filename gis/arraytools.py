"""Small vectorised helpers shared by the analyses."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix


def first_per_group(group: NDArray[np.integer], *keys: NDArray[np.generic]) -> NDArray[np.int64]:
    """Positions of the best element of each group: sorted by ``group`` then by ``keys`` in turn
    (lowest first), the first of each group. The result is in ascending group order."""
    order = np.lexsort((*keys[::-1], group))
    sorted_group = group[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    return order[first].astype(np.int64)


def anchor_points(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """Points as they are; any other geometry by a point on its surface."""
    geometries = np.asarray(geometries, dtype=object)
    others = shapely.get_type_id(geometries) != 0
    if not others.any():
        return geometries  # GEOS's point on the surface of 30,000 points took 0.2 s, to give them back
    anchors = geometries.copy()
    anchors[others] = shapely.point_on_surface(geometries[others])
    return anchors


def with_source_rows(graph: csr_matrix, rows: csr_matrix) -> csr_matrix:
    """The n-node CSR ``graph`` with ``rows`` (f × (n + f): the arcs of f new nodes) below it, as
    one (n + f)-node graph: the arrays joined once. scipy's ``hstack``/``vstack`` would go through
    COO copies of the whole graph (gigabytes for a province's 6 million arcs); the result is the
    same, entry for entry, for a graph without duplicate entries."""
    n, f = graph.shape[0], rows.shape[0]
    rows = csr_matrix(rows)
    # int32 where it holds them, as scipy builds its own (its Dijkstra works in int32)
    index = np.int32 if max(graph.nnz + rows.nnz, n + f) < 2**31 else np.int64
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + rows.indptr[1:]]).astype(index, copy=False)
    indices = np.concatenate([graph.indices, rows.indices]).astype(index, copy=False)
    return csr_matrix((np.concatenate([graph.data, rows.data]), indices, indptr), shape=(n + f, n + f))
