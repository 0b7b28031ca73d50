"""From reach to gaps: accessibility (2SFCA), shelter load, per-area tables and gap polygons.

Pure functions on arrays and GeoDataFrames. Definitions (also in the outputs' metadata):

- demand of a cell = residents × the analysis type's demand share;
- 2SFCA (Luo & Wang 2003, binary catchments): R_j = capacity_j / Σ demand_i over cells i within
  shelter j's reach; score_i = Σ R_j over shelters j within reach of cell i — shelter places per
  person of demand (≥ 1: enough places nearby);
- a shelter's catchment = the cells for which it is the nearest shelter within reach; load ratio
  = catchment demand / capacity (> 1: over capacity);
- per area: residents, covered and uncovered residents, demand, shelter capacity located in the
  area, capacity shortfall = max(0, demand − capacity), shelter area per resident (m²/人).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from ..arraytools import first_per_group
from .reach import Reach


def two_step_fca(reach: Reach, demand: NDArray[np.float64], capacity: NDArray[np.float64]) -> NDArray[np.float64]:
    """2SFCA score per cell (places per person of demand); 0 where no shelter is within reach.

    A shelter whose catchment has no demand contributes nothing (its ratio is undefined).
    """
    catchment_demand = np.bincount(reach.shelter, weights=demand[reach.cell], minlength=reach.n_shelters)
    ratio = np.divide(capacity, catchment_demand, out=np.zeros(reach.n_shelters), where=catchment_demand > 0)
    return np.bincount(reach.cell, weights=ratio[reach.shelter], minlength=reach.n_cells).astype(float)


def nearest_within_reach(reach: Reach) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per cell, the fastest shelter within reach (-1 if none) and its walking minutes (NaN)."""
    shelter = np.full(reach.n_cells, -1, dtype=np.int64)
    minutes = np.full(reach.n_cells, np.nan)
    if reach.cell.size:
        best = first_per_group(reach.cell, reach.minutes)
        shelter[reach.cell[best]] = reach.shelter[best]
        minutes[reach.cell[best]] = reach.minutes[best]
    return shelter, minutes


def shelter_load(reach: Reach, residents: NDArray[np.float64], demand: NDArray[np.float64], capacity: NDArray[np.float64]) -> pd.DataFrame:
    """Per shelter: residents within reach, its catchment (nearest within reach) residents and
    demand, and load ratio = catchment demand / capacity."""
    catchment, _ = nearest_within_reach(reach)
    assigned = catchment >= 0
    f = reach.n_shelters
    in_reach = np.bincount(reach.shelter, weights=residents[reach.cell], minlength=f)
    catch_residents = np.bincount(catchment[assigned], weights=residents[assigned], minlength=f)
    catch_demand = np.bincount(catchment[assigned], weights=demand[assigned], minlength=f)
    return pd.DataFrame(
        {
            "residents_in_reach": in_reach,
            "catchment_residents": catch_residents,
            "catchment_demand": catch_demand,
            "load_ratio": catch_demand / capacity,
        }
    )


def locate(points: NDArray[np.object_], areas: gpd.GeoDataFrame | NDArray[np.object_]) -> NDArray[np.int64]:
    """Row position in ``areas`` (same CRS) of the polygon holding each point; -1 outside all.
    A point on a shared border goes to the lowest row.

    The points go in the tree and the polygons ask, so that GEOS prepares each polygon once: about
    3× faster than asking point by point.
    """
    where = np.full(len(points), -1, dtype=np.int64)
    polygons = np.asarray(areas.geometry.array if isinstance(areas, gpd.GeoDataFrame) else areas, dtype=object)
    if len(points) == 0 or polygons.size == 0:
        return where
    area_index, point_index = shapely.STRtree(points).query(polygons, predicate="covers")
    lowest = first_per_group(point_index, area_index)
    where[point_index[lowest]] = area_index[lowest]
    return where


def area_table(
    areas: gpd.GeoDataFrame,
    *,
    cell_area: NDArray[np.int64],
    residents: NDArray[np.float64],
    covered: NDArray[np.bool_],
    demand: NDArray[np.float64],
    shelter_area: NDArray[np.int64],
    capacity: NDArray[np.float64],
    shelter_m2: NDArray[np.float64],
) -> pd.DataFrame:
    """One row per area (``areas`` order; ``adcode``, ``name``, ``level``, ``parent_adcode``):
    residents, covered, uncovered, demand, shelters, capacity, shortfall, m² per resident.
    ``cell_area``/``shelter_area`` are each cell's/shelter's row in ``areas`` (-1: outside)."""
    k = len(areas)
    inside, placed = cell_area >= 0, shelter_area >= 0

    def total(index: NDArray[np.int64], values: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        return np.bincount(index[mask], weights=values[mask], minlength=k).astype(float)

    people = total(cell_area, residents, inside)
    covered_people = total(cell_area, residents, inside & covered)
    need = total(cell_area, demand, inside)
    places = total(shelter_area, capacity, placed)
    square_m = total(shelter_area, shelter_m2, placed)
    table = pd.DataFrame(
        {
            "adcode": areas["adcode"].to_numpy(),
            "name": areas["name"].to_numpy(),
            "level": areas["level"].to_numpy(),
            "parent_adcode": areas["parent_adcode"].to_numpy() if "parent_adcode" in areas else None,
            "residents": people,
            "residents_covered": covered_people,
            "residents_uncovered": people - covered_people,
            "covered_pct": np.divide(100 * covered_people, people, out=np.full(k, np.nan), where=people > 0),
            "demand_persons": need,
            "shelters": np.bincount(shelter_area[placed], minlength=k),
            "capacity_persons": places,
            "capacity_shortfall_persons": np.maximum(need - places, 0.0),
            "shelter_area_m2": square_m,
            "shelter_m2_per_resident": np.divide(square_m, people, out=np.full(k, np.nan), where=people > 0),
        }
    )
    return table


def gap_polygons(
    cells: gpd.GeoDataFrame | gpd.GeoSeries | Iterable[gpd.GeoSeries],
    *,
    uncovered: NDArray[np.bool_],
    residents: NDArray[np.float64],
    nearest_minutes: NDArray[np.float64],
    group: NDArray[np.int64] | None = None,
    epsg: int | None = None,
) -> gpd.GeoDataFrame:
    """Uncovered cells dissolved into connected gap polygons (in ``epsg``, default the CRS of
    ``cells``), largest population first: ``gap_id``, ``group`` (e.g. the township row each cell
    lies in, so that a gap never spans two townships; -1 outside all), ``residents``, ``cells``,
    ``nearest_shelter_min`` (the quickest walk to any shelter from inside the gap; NaN if none).

    ``cells``: the cells' polygons, whole or as consecutive chunks (a province's grid read again
    from the store); the per-cell arrays are of all the cells. Each chunk is projected and
    dissolved a group at a time, and a group's pieces from several chunks dissolved again, so no
    projected copy of the whole grid is ever held.

    Grid cells are a coverage (edge-sharing, non-overlapping), so GEOS's coverage union dissolves
    them in near-linear time, much faster than a general union; cells that are not a clean
    coverage give invalid parts, and then the general union is used.
    """
    columns = ["gap_id", "group", "residents", "cells", "nearest_shelter_min", "geometry"]
    chunks = [cells] if isinstance(cells, gpd.GeoDataFrame | gpd.GeoSeries) else cells
    chosen = np.flatnonzero(uncovered)
    groups = np.zeros(chosen.size, np.int64) if group is None else np.asarray(group)[chosen]
    pieces: dict[int, list[NDArray[np.object_]]] = {}
    interior = np.full((chosen.size, 2), np.nan)
    crs: object = epsg
    offset = 0
    for chunk in chunks:
        crs = chunk.crs if epsg is None else epsg
        take = np.flatnonzero(uncovered[offset : offset + len(chunk)])
        first = int(np.searchsorted(chosen, offset))
        polygons = np.asarray(chunk.geometry.array if isinstance(chunk, gpd.GeoDataFrame) else chunk.array, dtype=object)[take]
        chunk_groups = groups[first : first + take.size]
        for value in np.unique(chunk_groups):
            in_group = np.flatnonzero(chunk_groups == value)
            members = polygons[in_group]
            if epsg is not None:
                members = np.asarray(gpd.GeoSeries(members, crs=chunk.crs).to_crs(epsg).array, dtype=object)
            interior[first + in_group] = shapely.get_coordinates(shapely.point_on_surface(members))
            pieces.setdefault(int(value), []).append(_dissolved(members))
        offset += len(chunk)
    if offset != len(uncovered):
        raise ValueError(f"the cells' chunks hold {offset:,} cells, the arrays {len(uncovered):,}")
    if chosen.size == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry="geometry", crs=crs)
    part_geoms, part_groups = [], []
    where = np.full(chosen.size, -1, dtype=np.int64)
    found = 0
    for value in sorted(pieces):
        parts = pieces[value][0] if len(pieces[value]) == 1 else _dissolved(np.concatenate(pieces[value]))
        in_group = np.flatnonzero(groups == value)
        # Each cell belongs to the part of its own group that holds its interior point.
        part_index, cell_index = shapely.STRtree(np.asarray(shapely.points(interior[in_group]), dtype=object)).query(parts, predicate="covers")
        where[in_group[cell_index]] = found + part_index
        found += len(parts)
        part_geoms.append(parts)
        part_groups.append(np.full(len(parts), value))
    parts = np.asarray(np.concatenate(part_geoms), dtype=object)
    part_group = np.concatenate(part_groups)
    ok = where >= 0
    totals = np.bincount(where[ok], weights=residents[chosen][ok], minlength=parts.size)
    counts = np.bincount(where[ok], minlength=parts.size)
    nearest = pd.Series(nearest_minutes[chosen][ok]).groupby(where[ok]).min().reindex(range(parts.size)).to_numpy()
    order = np.lexsort((np.arange(parts.size), -totals))
    return gpd.GeoDataFrame(
        {
            "gap_id": np.arange(1, parts.size + 1),
            "group": part_group[order],
            "residents": totals[order],
            "cells": counts[order],
            "nearest_shelter_min": nearest[order],
            "geometry": parts[order],
        },
        geometry="geometry",
        crs=crs,
    )


def _dissolved(polygons: NDArray[np.object_]) -> NDArray[np.object_]:
    """The connected parts of the union of ``polygons`` (a coverage union when they form a
    clean coverage, else the general union)."""
    parts = shapely.get_parts(shapely.coverage_union_all(polygons))
    if not shapely.is_valid(parts).all():  # not a clean coverage (overlaps, slivers): the general union
        parts = shapely.get_parts(shapely.union_all(polygons))
    return np.asarray(parts, dtype=object)
