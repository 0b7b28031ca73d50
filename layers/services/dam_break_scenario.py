"""A dam-break scenario over one store: the reservoir from the store, the DEM from a GeoTIFF
(any CRS) read around the dam, the lake from water_bodies; the flood by
gis/scenario/dam_break.py, then assessed as any footprint (layers/services/scenarios.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.crs import to_lonlat, to_metric
from gis.partitions import RunPartitions
from gis.scenario.needs import NeedsProfile
from layers.errors import InputError
from layers.services.scenarios import ScenarioOutcome, assess, input_errors
from layers.settings import Settings
from layers.store import Store


@input_errors
def dam_break_scenario(
    store: Store,
    settings: Settings,
    *,
    reservoir_id: str,
    dem_path: Path,
    cell_m: float = 30.0,
    level_m: float | None = None,
    reach_km: float = 40.0,
    profile: NeedsProfile,
    days: float | None = None,
    stocks_path: Path | None = None,
    run_partitions: RunPartitions | None = None,
) -> ScenarioOutcome:
    """The dam of reservoir ``reservoir_id`` breaks: its flood from the DEM at ``dem_path`` (any
    CRS, read onto the work CRS at ``cell_m`` metres around the dam), by the simplified method of
    gis/scenario/dam_break.py; zoned by depth class (deepest first), with the arrival bands
    alongside. The reservoir's capacity and current level come from the store (``level_m``
    replaces the level); the lake and rivers of water_bodies end the flood. Everyone in the
    flood's depth classes counts as displaced."""
    from rasterio import features

    from gis.scenario.dam_break import DamBreakParams, LevelBelowBedError, Reservoir, dam_break

    row = store.get("reservoirs", reservoir_id).iloc[0]  # NotFoundError when there is none
    capacity, level = _number(row.get("capacity_m3")), level_m if level_m is not None else _number(row.get("current_level_m"))
    dam = to_metric(row.geometry, epsg=settings.work_epsg)
    params = DamBreakParams(reach_km=reach_km)
    reach = (params.reach_km + params.margin_km) * 1000.0
    elevation, transform = _dem_around(dem_path, settings, dam, reach, cell_m)
    water = _water_mask(store, settings, elevation.shape, transform, features)
    name = str(row.get("name") or reservoir_id)
    stored_level_note = None
    try:
        result = dam_break(elevation, transform, (dam.x, dam.y), Reservoir(capacity, level, None, name), params=params, water=water)
    except LevelBelowBedError as error:
        if level_m is not None:  # the caller's own level: say so
            raise InputError(f"{error}; --level is in the DEM's height datum") from None
        stored_level_note = (f"the stored level of {name} ({error.level_m:g} m) is not above the DEM's streambed at the dam ({error.bed_m:.1f} m): "
                             "the ledger and the DEM use different height datums, or the level is wrong; the release is from the capacity alone (give --level in the DEM's datum)")
        level = None
        result = dam_break(elevation, transform, (dam.x, dam.y), Reservoir(capacity, None, None, name), params=params, water=water)
    depth = result.zones_of("depth")
    zones = gpd.GeoDataFrame({"zone": [f"水深 {z.name}" for z in depth]}, geometry=[z.polygon for z in depth], crs=settings.work_epsg)
    arrival = result.zones_of("arrival")
    bands = gpd.GeoSeries([z.polygon for z in arrival], crs=settings.work_epsg).to_crs(4326)
    parameters = {"reservoir_id": reservoir_id, "name": name, "lon": round(float(row.geometry.x), 6), "lat": round(float(row.geometry.y), 6), "capacity_m3": capacity, "level_m": level, "dem": str(dem_path), "cell_m": cell_m,
                  "reach_km": reach_km, "method": "simplified volume-limited dam break: Froehlich (1995) peak, USBR (1989) attenuation, HAND rating curves (Zheng et al. 2018), kinematic-wave arrival"}
    details = {
        "dam_break": {"peak_outflow_m3s": round(result.peak_outflow_m3s, 1), "released_volume_m3": round(result.released_volume_m3), "flooded_volume_m3": round(result.flooded_volume_m3),
                      "head_m": round(result.head_m, 2), "volume_limited": result.volume_limited, "flow_path_km": round(float(result.path_distance_m[-1]) / 1000.0, 2) if result.path_distance_m.size else 0.0,
                      "notes": list(result.notes)},
        "arrival_bands": [{"band": z.name, "area_km2": round(z.area_km2, 3), "geometry": shapely.geometry.mapping(g)} for z, g in zip(arrival, bands, strict=True)],
    }
    outcome = assess(store, settings, "dam-break", parameters, zones, profile=profile, days=days, displacement=1.0, stocks_path=stocks_path, details=details, run_partitions=run_partitions)
    outcome.warnings.extend([*([stored_level_note] if stored_level_note else []), *result.notes])
    return outcome


def _number(value: Any) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def _dem_around(path: Path, settings: Settings, dam: shapely.Point, reach_m: float, cell_m: float) -> tuple[NDArray[np.float32], Any]:
    """The DEM within ``reach_m`` of the dam (as much of it as the file covers), work CRS."""
    from layers.io.dem_file import dem_footprint, read_dem

    if not Path(path).exists():
        raise InputError(f"{path}: DEM file not found (onemap sample --dem FILE writes the sample city's)")
    covered = dem_footprint(path, work_epsg=settings.work_epsg)
    if not covered.contains(dam):
        raise InputError(f"{path}: the DEM misses the reservoir (its dam at {dam.x:.0f}, {dam.y:.0f} in EPSG:{settings.work_epsg} is outside it); give a DEM that covers the dam and its valley downstream")
    wanted = shapely.box(dam.x - reach_m, dam.y - reach_m, dam.x + reach_m, dam.y + reach_m)
    window = wanted.intersection(covered.buffer(-2 * cell_m))
    return read_dem(path, work_epsg=settings.work_epsg, bounds=window.bounds, cell_m=cell_m)


def _water_mask(store: Store, settings: Settings, shape: tuple[int, ...], transform: Any, features: Any) -> NDArray[np.bool_] | None:
    """True on the cells of the water_bodies layer (the lake ends a dam-break flood)."""
    rows, cols = shape
    grid = shapely.box(transform.c, transform.f + transform.e * rows, transform.c + transform.a * cols, transform.f)
    water = store.read("water_bodies", bbox=to_lonlat(grid, epsg=settings.work_epsg).bounds)
    if water.empty:
        return None
    shapes = [(g, 1) for g in water.to_crs(settings.work_epsg).geometry if g is not None and not g.is_empty]
    return np.asarray(features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8") == 1)


