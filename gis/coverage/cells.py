"""The populated cells of a population grid, given whole (a frame) or a chunk at a time (a
function giving the chunks, for a province's 16 million cells): validated, with their centres in
the metric CRS and the admin area each lies in; and their polygons again, chunk by chunk, for the
gap polygons.

Given whole, the cells keep their polygons (the output cells are those squares). Read in chunks,
only numbers are kept (centres, residents, ids, areas): 16 million polygons would be 7 GB, so the
output cells are their centres, and the gaps read the polygons a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from .gaps import locate
from .params import CoverageInputError

CELL_CHUNK = 1_000_000
"""Population cells projected at a time (for their centres)."""
PopulationChunks = Callable[[], Iterable[gpd.GeoDataFrame]]
"""The population grid a chunk at a time, in the same order at each call (read twice)."""


@dataclass(frozen=True)
class PopulatedCells:
    """The cells with residents, in the order read: centres (x, y metres in the work CRS),
    residents, ids (``source_id``, else the row number), each admin level's row per cell (-1:
    outside), the grid's own CRS and, when given whole, the polygons as given (else None)."""

    xy: NDArray[np.float64]
    persons: NDArray[np.float64]
    cell_id: NDArray[np.generic]
    area_rows: dict[str, NDArray[np.int64]]
    crs: object
    polygons: NDArray[np.object_] | None

    def __len__(self) -> int:
        return len(self.persons)


def chunks_of(population: gpd.GeoDataFrame | PopulationChunks) -> PopulationChunks:
    """The chunks of ``population``: a frame is one chunk."""
    return population if callable(population) else lambda: [population]


def _populated(chunk: gpd.GeoDataFrame, offset: int, label: str) -> NDArray[np.bool_]:
    """Which rows of ``chunk`` (rows ``offset + 1`` … of the grid) have residents; a bad row is
    a ``CoverageInputError`` naming it."""
    if "persons" not in chunk:
        raise CoverageInputError(f"{label}: no persons column (人口) in the population grid")
    if chunk.crs is None:
        raise CoverageInputError(f"{label}: no coordinate reference system; say which (e.g. EPSG:4326) before analysing")
    type_ids = shapely.get_type_id(np.asarray(chunk.geometry.array, dtype=object))
    bad = np.flatnonzero(~np.isin(type_ids, [3, 6]))  # Polygon, MultiPolygon
    if bad.size:
        geometry = chunk.geometry.iloc[int(bad[0])]
        kind = "nothing" if geometry is None else geometry.geom_type
        raise CoverageInputError(f"{label}: population cells must be polygons (grid squares); cell {offset + bad[0] + 1} is {kind}")
    persons = chunk["persons"].astype(float).to_numpy()
    wrong = (persons < 0) | np.isnan(persons)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        value = chunk["persons"].iloc[row]
        shown = value.item() if isinstance(value, np.generic) else value  # -1.0, not np.float64(-1.0)
        raise CoverageInputError(f"{label}: cell {offset + row + 1} has persons {shown!r}; residents must be 0 or more")
    return persons > 0


def _in_metric(geometries: NDArray[np.object_], crs: object, epsg: int) -> NDArray[np.object_]:
    return np.asarray(gpd.GeoSeries(geometries, crs=crs).to_crs(epsg).array, dtype=object)


def read_cells(population: PopulationChunks, epsg: int, levels: dict[str, gpd.GeoDataFrame], label: str, *, whole: bool) -> PopulatedCells:
    """The populated cells of ``population``, their centres projected ``CELL_CHUNK`` at a time
    (never the whole grid projected, nor as points, at once) and located in each level's areas
    (same CRS as ``epsg``). ``whole``: keep the polygons (a grid given as one frame)."""
    xy: list[NDArray[np.float64]] = []
    persons: list[NDArray[np.float64]] = []
    ids: list[NDArray[np.generic]] = []
    polygons: list[NDArray[np.object_]] = []
    rows: dict[str, list[NDArray[np.int64]]] = {level: [] for level in levels}
    offset, crs = 0, None
    for chunk in population():
        populated = _populated(chunk, offset, label)
        crs = chunk.crs if crs is None else crs
        geometry = np.asarray(chunk.geometry.array, dtype=object)[populated]
        for start in range(0, len(geometry), CELL_CHUNK):
            points = shapely.centroid(_in_metric(geometry[start : start + CELL_CHUNK], chunk.crs, epsg))
            xy.append(shapely.get_coordinates(points))
            for level, level_areas in levels.items():
                rows[level].append(locate(points, level_areas))
        kept = int(sum(p.size for p in persons))
        ids.append(chunk["source_id"].to_numpy(dtype=object)[populated] if "source_id" in chunk else np.arange(kept, kept + int(populated.sum())))
        persons.append(chunk["persons"].to_numpy(dtype=float)[populated])
        if whole:
            polygons.append(geometry)
        offset += len(chunk)
    if offset == 0:
        raise CoverageInputError(f"{label}: the population grid is empty: import one (onemap import population FILE) or run onemap sample")
    if not any(p.size for p in persons):
        raise CoverageInputError(f"{label}: no cell of the population grid has residents")
    return PopulatedCells(
        xy=np.concatenate(xy),
        persons=np.concatenate(persons),
        cell_id=np.concatenate(ids),
        area_rows={level: np.concatenate(found) for level, found in rows.items()},
        crs=crs,
        polygons=np.concatenate(polygons) if whole else None,
    )


def populated_polygons(population: PopulationChunks | None, cells: PopulatedCells) -> Iterator[gpd.GeoSeries]:
    """The populated cells' polygons (their own CRS), a chunk at a time, in the order of
    ``read_cells``: those kept, or the grid read again (which must not have changed since)."""
    if cells.polygons is not None:
        yield gpd.GeoSeries(cells.polygons, crs=cells.crs)
        return
    if population is None:
        raise ValueError("the cells kept no polygons: give the grid's chunks to read them again")
    seen = 0
    for chunk in population():
        populated = chunk["persons"].to_numpy(dtype=float) > 0
        seen += int(populated.sum())
        if seen > len(cells):
            break
        yield gpd.GeoSeries(np.asarray(chunk.geometry.array, dtype=object)[populated], crs=chunk.crs)
    if seen != len(cells):
        raise CoverageInputError(f"the population grid changed while the analysis read it ({len(cells):,} populated cells, then {seen:,}): run it again")
