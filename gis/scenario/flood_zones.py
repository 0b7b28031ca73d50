"""A flood's depth and arrival grids as zones: depth classes and arrival-time bands, each one
(Multi)Polygon vectorised from the grid's cells (rasterio.features.shapes), in the grid's CRS."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio import features
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class FloodZone:
    """One depth class (m) or arrival band (minutes): cells with ``lower`` < value ≤ ``upper``,
    as polygons in the DEM's CRS (metres)."""

    name: str
    kind: Literal["depth", "arrival"]
    lower: float
    upper: float
    polygon: shapely.Polygon | shapely.MultiPolygon
    area_km2: float



def flood_zones(depth: NDArray[np.float64], arrival: NDArray[np.float64], transform: Affine, *, depth_breaks_m: tuple[float, ...], arrival_breaks_min: tuple[float, ...]) -> tuple[FloodZone, ...]:
    """Depth classes (deepest first) and arrival bands (earliest first) as polygons in the grid's
    CRS: cells with depth > 0 (m) classed by ``depth_breaks_m`` and by their ``arrival`` minutes."""
    wet = depth > 0
    cell_km2 = abs(transform.a * transform.e) / 1e6
    specs: list[tuple[Literal["depth", "arrival"], NDArray[np.float64], tuple[float, ...], str]] = [
        ("depth", depth, depth_breaks_m, "m"), ("arrival", arrival, arrival_breaks_min, "min")]
    if wet.any():
        rows, cols = np.nonzero(wet)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    zones: list[FloodZone] = []
    for kind, values, breaks, unit in specs:
        edges = (0.0, *breaks, math.inf)
        classes = np.where(wet, np.digitize(np.nan_to_num(values), breaks, right=True) + 1, 0).astype(np.uint8)
        parts: dict[int, list[BaseGeometry]] = {}
        if wet.any():
            crop = classes[r0:r1, c0:c1]
            for geometry, value in features.shapes(crop, mask=crop > 0, transform=transform @ Affine.translation(c0, r0)):
                parts.setdefault(int(value), []).append(shapely.geometry.shape(geometry))
        found = []
        for k in range(1, len(edges)):
            polygons = parts.get(k, [])
            polygon = shapely.MultiPolygon(cast(list[shapely.Polygon], polygons))
            area = float((classes == k).sum() * cell_km2)
            found.append(FloodZone(_label(edges[k - 1], edges[k], unit), kind, edges[k - 1], edges[k], polygon, area))
        zones.extend(reversed(found) if kind == "depth" else found)
    return tuple(zones)


def _label(lower: float, upper: float, unit: str) -> str:
    """"< 0.5 m", "0.5–1.5 m", "> 3 m"; "≤ 30 min", "30–60 min", "1–2 h", "> 2 h"."""
    if unit == "min":
        scale, unit = (60.0, "h") if (lower if math.isinf(upper) else upper) > 60 else (1.0, "min")
        lower, upper = lower / scale, upper / scale
    if lower == 0:
        return f"{'<' if unit == 'm' else '≤'} {upper:g} {unit}"
    return f"> {lower:g} {unit}" if math.isinf(upper) else f"{lower:g}–{upper:g} {unit}"
