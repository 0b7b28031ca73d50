"""Small vectorised helpers shared by the analyses."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray


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
    return np.where(shapely.get_type_id(geometries) == 0, geometries, shapely.point_on_surface(geometries))
