"""The risk picture kept live: a zoning brought up to date when only the intensities of some hazard
sources changed — a reservoir's observed level passing 汛限水位, a rainstorm warning over
flood-prone areas — by recomputing only the blocks of cells those sources reach.

Pure: a ``RiskResult`` and the changed hazard frames in, a new ``RiskResult`` out (the old one is
left as it was). The levels keep the base result's breaks (``upper_breaks``): a cell's level rises
because its hazard rose, not because the city's spread of scores moved; a full run recomputes
them. With the same breaks, the blocks recomputed equal a full run cell for cell (tested).
Grid and geometries are in the grid's metric CRS (``RiskGrid.epsg``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gis.arraytools import anchor_points
from gis.risk.level_outputs import areas_table, level_polygons
from gis.risk.model import (
    NODATA,
    RiskGrid,
    RiskInputError,
    classify,
    reach_m,
)
from gis.risk.surfaces import hazard_intensity
from gis.risk.windows import HazardSource, source_surface
from gis.risk.zoning import RiskResult, score_cells

BLOCK = 128
"""Cells per side of a block: the unit of recomputation (1.6 km² blocks of 12.8 km at 100 m)."""


def rain_multipliers(geometry: NDArray[np.object_], gauges_xy: NDArray[np.float64], gauge_rank: NDArray[np.int8], spec: Mapping[str, Any]) -> NDArray[np.float64]:
    """Each area's multiplier from the rain gauges in a rainstorm warning within ``spec["radius_m"]``
    metres of it: the gravest such gauge's ``spec["multipliers"][colour]`` (colours 蓝 黄 橙 红 for
    ranks 0–3), 1 where no gauge in warning is near. Geometry and gauges in the same metric CRS."""
    from gis.grades import WARNING_LEVELS

    out = np.ones(len(geometry), dtype=np.float64)
    warned = np.flatnonzero(np.asarray(gauge_rank) >= 0)
    if not len(geometry) or not warned.size:
        return out
    by_rank = np.array([float(spec.get("multipliers", {}).get(colour, 1.0)) for colour in WARNING_LEVELS])
    gauges = shapely.points(np.asarray(gauges_xy, dtype=float)[warned])
    gauge, area = shapely.STRtree(geometry).query(gauges, predicate="dwithin", distance=float(spec.get("radius_m", 5000.0)))
    np.maximum.at(out, area, by_rank[np.asarray(gauge_rank)[warned][gauge]])
    return out


def _touched_blocks(grid: RiskGrid, boxes: NDArray[np.float64], block: int) -> NDArray[np.bool_]:
    """Blocks (rows × cols of ``block`` cells) meeting any box (min x, min y, max x, max y, metres),
    one cell wider each side so that a cell centre on a box's edge is not missed."""
    rows, cols = -(-grid.height // block), -(-grid.width // block)
    touched = np.zeros((rows, cols), dtype=bool)
    if not len(boxes):
        return touched
    res = grid.resolution_m
    c0 = np.clip(np.floor((boxes[:, 0] - grid.west) / res).astype(np.int64) - 1, 0, grid.width - 1) // block
    c1 = np.clip(np.floor((boxes[:, 2] - grid.west) / res).astype(np.int64) + 1, 0, grid.width - 1) // block
    r0 = np.clip(np.floor((grid.north - boxes[:, 3]) / res).astype(np.int64) - 1, 0, grid.height - 1) // block
    r1 = np.clip(np.floor((grid.north - boxes[:, 1]) / res).astype(np.int64) + 1, 0, grid.height - 1) // block
    on_grid = (boxes[:, 2] >= grid.west) & (boxes[:, 0] <= grid.west + grid.width * res) & (boxes[:, 3] >= grid.north - grid.height * res) & (boxes[:, 1] <= grid.north)
    for a, b, c, d in zip(r0[on_grid], r1[on_grid], c0[on_grid], c1[on_grid], strict=True):
        touched[a : b + 1, c : d + 1] = True
    return touched


def _same_features(source: HazardSource, frame: gpd.GeoDataFrame) -> bool:
    """Whether ``frame`` (metric) holds the same features, in the same order, as were scored."""
    geometry = np.asarray(frame.geometry.array, dtype=object)
    if source.kind == "points":
        xy = shapely.get_coordinates(anchor_points(geometry))
        return bool(xy.shape == source.data.shape and np.array_equal(xy, source.data))
    return len(geometry) == len(source.data) and bool(shapely.equals_exact(geometry, source.data, tolerance=0.0).all())


def changed_intensities(result: RiskResult, hazard_layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, NDArray[np.float64]] | None:
    """The new intensity of every factor in ``hazard_layers`` whose intensities differ from the
    result's; None when a layer's features themselves changed (added, moved, removed), which
    needs a full run."""
    changed: dict[str, NDArray[np.float64]] = {}
    for name, frame in hazard_layers.items():
        source = result.sources.get(name)
        if source is None:
            if frame is not None and not frame.empty and result.config.weights.get(name, 0.0) > 0:
                return None  # a factor that had no features has some now
            continue
        metric = frame.to_crs(result.grid.epsg)
        if not _same_features(source, metric):
            return None
        intensity = hazard_intensity(metric, result.config.factors[name], name, [])
        if not np.array_equal(intensity, source.intensity):
            changed[name] = intensity
    return changed


def rezone(result: RiskResult, intensities: Mapping[str, NDArray[np.float64]], admin_areas: gpd.GeoDataFrame, *, block: int = BLOCK) -> RiskResult:
    """``result`` with the given factors' sources at their new intensities (one per feature, in
    the order scored): their surfaces, the score, contributions and levels recomputed in the
    blocks the changed sources reach, then the level polygons and per-area tables redone.
    ``admin_areas``: the admin areas the result was computed with (any CRS)."""
    started = time.perf_counter()
    grid, config = result.grid, result.config
    sources = dict(result.sources)
    boxes: list[NDArray[np.float64]] = []
    for name, intensity in intensities.items():
        if name not in sources:
            raise RiskInputError(f"{name}: not a factor of this result")
        source = sources[name]
        intensity = np.asarray(intensity, dtype=np.float64)
        if intensity.shape != source.intensity.shape:
            raise RiskInputError(f"{name}: {len(intensity)} intensities for {len(source.intensity)} features")
        moved = np.flatnonzero(intensity != source.intensity)
        if not moved.size:
            continue
        sources[name] = HazardSource(source.kind, source.data, intensity)
        if source.kind == "points":
            reach = reach_m(config.factors[name]["decay"])
            xy = source.data[moved]
            boxes.append(np.column_stack([xy - reach, xy + reach]))
        else:
            boxes.append(shapely.bounds(source.data[moved]))
    redrawn = [name for name in intensities if sources[name] is not result.sources[name]]
    touched = _touched_blocks(grid, np.vstack(boxes) if boxes else np.zeros((0, 4)), block)
    if not touched.any():
        return result
    hazards = {name: surface.copy() if name in redrawn else surface for name, surface in result.hazards.items()}
    score, levels = result.score.copy(), result.levels.copy()
    for block_row, block_col in zip(*np.nonzero(touched), strict=True):
        r0, c0 = int(block_row) * block, int(block_col) * block
        r1, c1 = min(grid.height, r0 + block), min(grid.width, c0 + block)
        window = grid.window(r0, r1, c0, c1)
        for name in redrawn:
            hazards[name][r0:r1, c0:c1] = source_surface(window, sources[name], config.factors[name])
        cells = (slice(r0, r1), slice(c0, c1))
        block_score = score_cells(config, grid, hazards, result.persons, result.capacity_minutes, cells)[0]
        valid = result.levels[cells] != NODATA
        block_score[~valid] = 0.0
        score[cells] = block_score
        levels[cells] = classify(block_score, result.upper_breaks, valid)
    admin_metric = admin_areas.to_crs(grid.epsg) if not admin_areas.empty else admin_areas
    polygons = level_polygons(grid, levels)
    areas = areas_table(grid, levels, result.persons, lambda part: score_cells(config, grid, hazards, result.persons, result.capacity_minutes, part)[1], admin_metric) if not admin_areas.empty else result.areas
    note = f"live: {int(touched.sum())} of {touched.size} blocks recomputed for {', '.join(redrawn)} (levels on the base run's breaks)"
    notes = [n for n in result.notes if not n.startswith("live: ")] + [note]
    timings = {**result.timings_s, "live_s": time.perf_counter() - started}
    return replace(result, score=score, levels=levels, hazards=hazards, polygons=polygons, areas=areas, notes=notes, timings_s=timings, sources=sources)
