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
from scipy.ndimage import binary_dilation
from shapely.geometry.base import BaseGeometry


def _cells(xy: NDArray[np.float64], cell_m: float) -> tuple[tuple[int, int], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The grid the points fall in, with a margin of two empty cells all round: its shape, each
    point's row and column, and the x and y of the cell centres (metres; rows run north to south)."""
    min_x, min_y = xy.min(axis=0) - 2 * cell_m
    max_x, max_y = xy.max(axis=0)
    width = int(np.ceil((max_x - min_x) / cell_m)) + 3
    height = int(np.ceil((max_y - min_y) / cell_m)) + 3
    top = min_y + height * cell_m
    rows = ((top - xy[:, 1]) // cell_m).astype(np.int64)
    columns = ((xy[:, 0] - min_x) // cell_m).astype(np.int64)
    x = min_x + (np.arange(width) + 0.5) * cell_m
    y = top - (np.arange(height) + 0.5) * cell_m
    return (height, width), rows, columns, x, y


def _polygons(filled: Any) -> BaseGeometry:
    """contourpy's filled output (FillType.OuterOffset: per polygon, its points and the offsets
    of its rings, the outer ring first) as one shapely geometry."""
    polygons = []
    for points, offsets in zip(*filled, strict=True):
        bounds = np.asarray(offsets, dtype=np.int64)
        ring_lengths = bounds[1:] - bounds[:-1]
        rings: NDArray[np.object_] = np.asarray(shapely.linearrings(points, indices=np.repeat(np.arange(ring_lengths.size), ring_lengths)))
        polygons.append(shapely.Polygon(rings[0], holes=list(rings[1:])))
    if not polygons:
        return shapely.Polygon()
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def reach_outlines(xy: NDArray[np.float64], seconds: NDArray[np.float64], budgets_s: Sequence[float], cell_m: float) -> list[BaseGeometry]:
    """For each budget, the area within about ``cell_m`` of the points reached within it.

    ``xy``: points along the reached roads no more than half a cell apart (metres), ``seconds``
    the time to reach each. Every point within half a cell of a reached point is inside, nothing
    farther than 2√2 cells is; the outline is simplified by half a cell."""
    reached = np.isfinite(seconds) & (seconds <= max(budgets_s, default=-np.inf))
    if not reached.any():
        return [shapely.Polygon() for _ in budgets_s]
    shape, rows, columns, x, y = _cells(xy[reached], cell_m)
    seconds = seconds[reached]
    # Contoured at 0.5 between grown (1) and not (0) cell centres: the outline runs midway, along
    # the grown cells' edges, cutting their outer corners.
    outlines: list[BaseGeometry] = []
    for budget in budgets_s:
        cells = np.zeros(shape, bool)
        within = seconds <= budget
        cells[rows[within], columns[within]] = True
        cells = binary_dilation(cells, structure=np.ones((3, 3), bool))
        if not cells.any():
            outlines.append(shapely.Polygon())
            continue
        generator = contourpy.contour_generator(x, y, cells.astype(np.float64), name="serial", fill_type=contourpy.FillType.OuterOffset)
        outline = _polygons(generator.filled(0.5, 2.0))
        # Douglas-Peucker ring by ring is six times faster than GEOS's topology-preserving
        # simplifier here; rings at least a cell apart rarely cross, and when they do, that one
        # outline is simplified again the slow, safe way.
        simple = shapely.simplify(outline, cell_m / 2, preserve_topology=False)
        outlines.append(simple if simple.is_valid else shapely.simplify(outline, cell_m / 2, preserve_topology=True))
    return outlines
