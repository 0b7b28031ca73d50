"""The factor surfaces of risk zoning on its grid (``RiskGrid``: metric CRS, square cells of
``resolution_m`` metres): hazard intensity burnt from polygons, residents per cell, the DEM's
slope, and straight-line minutes to the nearest station. Arrays are (rows, cols) float32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from rasterio import features
from scipy import ndimage

from gis.risk.model import RiskGrid

RAIN_MULTIPLIER = "rain_multiplier"
"""A hazard frame's column of live multipliers (≥ 1) from the rain over each feature."""


def hazard_intensity(frame: gpd.GeoDataFrame, spec: Mapping[str, Any], name: str, notes: list[str]) -> NDArray[np.float64]:
    """Each feature's intensity (0–1) from its ``spec["class_field"]`` through ``spec["intensity"]``;
    a reservoir above its flood-limit level is raised by ``alert_multiplier``, and a feature with a
    ``rain_multiplier`` (set from the live rain gauges, ``gis.risk.live``) by that; capped at 1.
    What was assumed is appended to ``notes``."""
    field_name = spec.get("class_field")
    table = spec.get("intensity") or {}
    if field_name not in frame:
        notes.append(f"{name}: no {field_name} column; every feature counts with intensity 1")
        return np.ones(len(frame))
    values = frame[field_name].map(lambda v: table.get(v, np.nan)).astype(float).to_numpy(copy=True)  # written below
    missing = ~np.isfinite(values)
    if missing.any():
        notes.append(f"{name}: {int(missing.sum())} feature(s) without a known {field_name} count with the lowest intensity")
        values[missing] = min(table.values()) if table else 1.0
    if name == "reservoirs" and {"current_level_m", "flood_limit_level_m"} <= set(frame.columns):
        above = (frame["current_level_m"].astype(float) > frame["flood_limit_level_m"].astype(float)).to_numpy()
        values = np.where(above, np.minimum(1.0, values * float(spec.get("alert_multiplier", 1.5))), values)
    if RAIN_MULTIPLIER in frame.columns:
        boost = pd.to_numeric(frame[RAIN_MULTIPLIER], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        values = np.minimum(1.0, values * np.maximum(boost, 1.0))
    return values


def polygon_surface(grid: RiskGrid, geometries: NDArray[np.object_], intensity: NDArray[np.float64]) -> NDArray[np.float32]:
    """The intensity of the polygon covering each cell centre (the largest where several do)."""
    if len(geometries) == 0:
        return np.zeros(grid.shape, dtype=np.float32)
    order = np.argsort(intensity, kind="stable")  # strongest burnt last
    shapes = [(geometries[i], float(intensity[i])) for i in order if intensity[i] > 0]
    if not shapes:
        return np.zeros(grid.shape, dtype=np.float32)
    return features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0.0, dtype="float32")


def population_grid(grid: RiskGrid, population: gpd.GeoDataFrame) -> NDArray[np.float32]:
    """Residents per grid cell: a population cell no larger than a grid cell adds its persons to the
    cell holding its centre; a larger one spreads them evenly by area (density × cell area)."""
    persons = np.zeros(grid.shape, dtype=np.float64)
    add_population(persons, grid, population)
    return persons.astype(np.float32)


def add_population(persons: NDArray[np.float64], grid: RiskGrid, population: gpd.GeoDataFrame) -> None:
    """Add ``population``'s residents to ``persons`` (grid shape) as ``population_grid`` counts
    them: a layer read in chunks (fid order) adds up to the same grid as the whole layer at once."""
    if population.empty:
        return
    geometry = np.asarray(population.geometry.array, dtype=object)
    count = population["persons"].to_numpy(dtype=float)
    area = shapely.area(geometry)
    small = area <= grid.resolution_m**2 * 1.0001
    if small.any():
        row, col, inside = grid.cell_of(shapely.get_coordinates(shapely.centroid(geometry[small])))
        np.add.at(persons, (row[inside], col[inside]), count[small][inside])
    big = np.flatnonzero(~small & (count > 0))
    if big.size:
        density = features.rasterize([(geometry[i], count[i] / area[i]) for i in big], out_shape=grid.shape, transform=grid.transform, fill=0.0, dtype="float64")
        persons += density * grid.resolution_m**2


@dataclass(frozen=True)
class Dem:
    """Elevations (metres) with their transform and CRS (any), as read from a GeoTIFF."""

    elevation: NDArray[np.float64]
    transform: Any
    crs: Any
    nodata: float | None = None


def resample_dem(grid: RiskGrid, dem: Dem) -> NDArray[np.float32]:
    """The DEM resampled (bilinear) onto the whole grid, NaN where it has no data. Done once for
    the whole grid: GDAL's warper scales its kernel per request, so block by block would differ."""
    from rasterio.warp import Resampling, reproject

    resampled = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(dem.elevation.astype(np.float32), resampled, src_transform=dem.transform, src_crs=dem.crs, src_nodata=dem.nodata,
              dst_transform=grid.transform, dst_crs=f"EPSG:{grid.epsg}", dst_nodata=np.nan, resampling=Resampling.bilinear)
    return resampled


def slope_surface(elevation: NDArray[np.floating[Any]], resolution_m: float, max_slope_deg: float) -> NDArray[np.float32]:
    """min(1, slope° / max) of an elevation grid (metres; NaN = no data → 0)."""
    if elevation.shape[0] < 2 or elevation.shape[1] < 2:
        return np.zeros(elevation.shape, dtype=np.float32)
    dz_dy, dz_dx = np.gradient(elevation.astype(np.float64), resolution_m)
    degrees = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    return np.nan_to_num(np.clip(degrees / max_slope_deg, 0.0, 1.0), nan=0.0).astype(np.float32)


def straight_line_minutes(grid: RiskGrid, stations_xy: NDArray[np.float64], kmh: float) -> NDArray[np.float32]:
    """Minutes from each cell to the nearest station in a straight line at ``kmh`` (inf: none)."""
    row, col, inside = grid.cell_of(np.asarray(stations_xy, dtype=float).reshape(-1, 2))
    if not inside.any():
        return np.full(grid.shape, np.inf, dtype=np.float32)
    mask = np.ones(grid.shape, dtype=bool)
    mask[row[inside], col[inside]] = False
    distance = ndimage.distance_transform_edt(mask, sampling=grid.resolution_m)
    return (distance / (kmh * 1000.0 / 60.0)).astype(np.float32)
