"""A plausible rainstorm over the sample city, as the gauges would report it (``onemap simulate
rainstorm``): a convective cell drifting west to east across the city, with the rain gauges
reporting every 5 minutes and the water-level gauges rising with the rain that fell near them.

Synthetic, seeded and simple on purpose — enough to watch the chain work end to end, not a
hydrological model: rain at a gauge is the cell's peak intensity (mm/h) times a Gaussian of its
distance from the cell's track; a water gauge rises in proportion to the rain of the nearest rain
gauges over the last hour, starting just below its own first threshold, so reservoirs pass 汛限水位
and rivers 警戒水位 as the cell goes over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from layers.catalogue import SOURCE_ID

STEP_MIN = 5
"""Minutes between two reports of a gauge."""


@dataclass(frozen=True)
class StormParameters:
    """The cell: peak intensity (mm/h), its radius (km, one Gaussian sigma), how far north of the
    city's middle its track runs (fraction of the city's height), and how fast levels respond
    (metres of rise per mm of nearby rain in the last hour)."""

    peak_mm_h: float = 90.0
    sigma_km: float = 25.0
    track_offset: float = 0.0
    rise_m_per_mm: float = 0.02


def _metric_xy(frame: gpd.GeoDataFrame, epsg: int) -> np.ndarray:
    return np.column_stack([frame.to_crs(epsg).geometry.x, frame.to_crs(epsg).geometry.y]) if len(frame) else np.zeros((0, 2))


def storm_steps(stations: gpd.GeoDataFrame, *, start: datetime, minutes: int = 90, epsg: int = 4548, seed: int = 7,
                parameters: StormParameters = StormParameters()) -> Iterator[tuple[datetime, list[dict[str, object]]]]:
    """Every 5 minutes from ``start`` (timezone-aware) for ``minutes``: the time and the readings
    of every gauge then, as the JSON records the ingest takes (station, time, value, unit)."""
    if start.tzinfo is None:
        raise ValueError("the storm's start must carry its time zone")
    rng = np.random.default_rng(seed)
    rain = stations[stations["kind"] == "雨量"].reset_index(drop=True)
    water = stations[stations["kind"] == "水位"].reset_index(drop=True)
    rain_xy, water_xy = _metric_xy(rain, epsg), _metric_xy(water, epsg)
    everything = np.vstack([rain_xy, water_xy]) if len(stations) else np.zeros((1, 2))
    (x0, y0), (x1, y1) = everything.min(axis=0), everything.max(axis=0)
    track_y = (y0 + y1) / 2 + parameters.track_offset * (y1 - y0)
    near = cKDTree(rain_xy).query(water_xy, k=min(3, len(rain_xy)))[1].reshape(len(water_xy), -1) if len(rain_xy) and len(water_xy) else np.zeros((len(water_xy), 0), int)
    start_level = np.array([_first_threshold(row) - 0.25 for _, row in water.iterrows()]) if len(water) else np.zeros(0)
    steps = minutes // STEP_MIN
    history = np.zeros((0, len(rain)))
    for step in range(steps + 1):
        moment = start + timedelta(minutes=STEP_MIN * step)
        cell_x = x0 + (0.2 + 0.6 * step / max(steps, 1)) * (x1 - x0)  # drifts west to east across the middle of the city
        distance_km = np.hypot(rain_xy[:, 0] - cell_x, rain_xy[:, 1] - track_y) / 1000.0
        intensity = parameters.peak_mm_h * np.exp(-0.5 * (distance_km / parameters.sigma_km) ** 2) * rng.uniform(0.85, 1.15, len(rain))
        increment = np.round(intensity * STEP_MIN / 60.0, 1)  # gauges report to 0.1 mm
        history = np.vstack([history, increment])[-12:]  # the last hour
        nearby_mm = history.sum(axis=0)[near].mean(axis=1) if near.size else np.zeros(len(water))
        level = np.round(start_level + parameters.rise_m_per_mm * nearby_mm * (1 + step / max(steps, 1)), 2)
        records: list[dict[str, object]] = [
            {"station": code, "time": moment.isoformat(), "value": float(value), "unit": "mm"} for code, value in zip(rain[SOURCE_ID], increment, strict=True)
        ] + [{"station": code, "time": moment.isoformat(), "value": float(value), "unit": "m"} for code, value in zip(water[SOURCE_ID], level, strict=True)]
        yield moment, records


def _first_threshold(station: pd.Series) -> float:
    """The lowest level the station warns at (m): 汛限水位, else 警戒水位, else 保证水位, else 0."""
    for name in ("flood_limit_level_m", "warning_level_m", "guaranteed_level_m", "design_flood_level_m"):
        value = station.get(name)
        if value is not None and pd.notna(value):
            return float(value)
    return 0.0
