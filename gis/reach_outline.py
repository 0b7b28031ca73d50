"""The outline of the area around reached roads: points along the roads, each with the seconds it
takes to reach it, become one polygon per time budget (metres, in the graph's projected CRS).

Written by hand rather than with GEOS buffer + union, which takes seconds for the tens of
thousands of segments a 15-minute band reaches. The points are binned once into a grid of cells
holding the fastest time; each budget's cells are grown by one cell and traced by marching squares
(contourpy, the contouring library matplotlib uses), whose outlines run straight across the
diagonals where a traced staircase of cell edges would not: simplified by half a cell, they keep
their shape with a third of the vertices, so the answer is smaller and draws faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import contourpy
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.ndimage import minimum_filter
from shapely.geometry.base import BaseGeometry


def _cells(xy: NDArray[np.float64], cell_m: float) -> tuple[tuple[int, int], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The grid the points fall in, with a margin of two empty cells all round: its shape, each
    point's row and column, and the x and y of the cell centres (metres; rows run north to south)."""
    # Per column, not xy.min(axis=0), and floor of a quotient, not //: each is a few times faster.
    px, py = xy[:, 0], xy[:, 1]
    min_x, min_y = px.min() - 2 * cell_m, py.min() - 2 * cell_m
    max_x, max_y = px.max(), py.max()
    width = int(np.ceil((max_x - min_x) / cell_m)) + 3
    height = int(np.ceil((max_y - min_y) / cell_m)) + 3
    top = min_y + height * cell_m
    rows = np.floor((top - py) / cell_m).astype(np.int64)
    columns = np.floor((px - min_x) / cell_m).astype(np.int64)
    x = min_x + (np.arange(width) + 0.5) * cell_m
    y = top - (np.arange(height) + 0.5) * cell_m
    return (height, width), rows, columns, x, y


def _polygons(filled: Any) -> BaseGeometry:
    """contourpy's filled output in one chunk (FillType.ChunkCombinedOffsetOffset: the points, the
    offsets of the rings into them and of the polygons into the rings, outer ring first) as one
    shapely geometry, built in one call: it is MultiPolygon's ragged form."""
    points, ring_offsets, polygon_offsets = (chunks[0] for chunks in filled)
    if points is None or len(points) == 0:
        return shapely.Polygon()
    parts = np.asarray(polygon_offsets, dtype=np.int64)
    offsets = (np.asarray(ring_offsets, dtype=np.int64), parts, np.array([0, parts.size - 1]))
    multi = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, np.asarray(points, dtype=np.float64), offsets)[0]
    return multi.geoms[0] if parts.size == 2 else multi


def _crop(cells: NDArray[np.bool_]) -> tuple[slice, slice]:
    """The rows and columns of the grid holding its true cells, with one false cell all round."""
    rows, columns = np.flatnonzero(cells.any(axis=1)), np.flatnonzero(cells.any(axis=0))
    return slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(columns[0] - 1, 0), columns[-1] + 2)


def reach_outlines(xy: NDArray[np.float64], seconds: NDArray[np.float64], budgets_s: Sequence[float], cell_m: float) -> list[BaseGeometry]:
    """For each budget, the area within about ``cell_m`` of the points reached within it.

    ``xy``: points along the reached roads no more than half a cell apart (metres), ``seconds``
    the time to reach each. Every point within half a cell of a reached point is inside, nothing
    farther than 2√2 cells is; the outline is simplified by half a cell."""
    reached = np.isfinite(seconds) & (seconds <= max(budgets_s, default=-np.inf))
    if not reached.any():
        return [shapely.Polygon() for _ in budgets_s]
    shape, row, column, x, y = _cells(xy[reached], cell_m)
    # The fastest time of each cell, then of each cell and its eight neighbours (the growth by one
    # cell): one grid and one 3 × 3 minimum filter serve every budget, where growing each budget's
    # cells by binary dilation cost three times as much.
    fastest = np.full(shape, np.inf)
    np.minimum.at(fastest, (row, column), seconds[reached])
    grown = minimum_filter(fastest, size=3, mode="constant", cval=np.inf)
    # Contoured at 0.5 between grown (1) and not (0) cell centres: the outline runs midway, along
    # the grown cells' edges, cutting their outer corners.
    outlines: list[BaseGeometry] = []
    for budget in budgets_s:
        cells = grown <= budget
        if not cells.any():
            outlines.append(shapely.Polygon())
            continue
        # Traced on the band's own part of the grid: a 5-minute band needs a fraction of the cells
        # of the 15-minute one.
        rows, columns = _crop(cells)
        band = cells[rows, columns].astype(np.float64)
        generator = contourpy.contour_generator(x[columns], y[rows], band, name="serial", fill_type=contourpy.FillType.ChunkCombinedOffsetOffset)
        outline = _polygons(generator.filled(0.5, 2.0))
        # Douglas-Peucker ring by ring is six times faster than GEOS's topology-preserving
        # simplifier here; rings at least a cell apart rarely cross, and when they do, that one
        # outline is simplified again the slow, safe way.
        simple = shapely.simplify(outline, cell_m / 2, preserve_topology=False)
        outlines.append(simple if simple.is_valid else shapely.simplify(outline, cell_m / 2, preserve_topology=True))
    return outlines
