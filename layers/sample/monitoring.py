"""The sample city's monitoring stations (监测站点): a water-level gauge (水位) at every large and
medium reservoir, river and lake level gauges along the main rivers and on the Nansi Lake, and a
rain gauge (雨量) about every 10 km over the city. Synthetic, seeded like the rest: the rivers'
courses are traced by hand (``geography.RIVERS``), the levels are plausible, not surveyed.

Levels are metres above the vertical datum (1985 国家高程基准): a reservoir gauge carries its
reservoir's 汛限水位 and a 设计洪水位 2-4 m above it; a river gauge its 警戒水位 and a 保证水位
1-2 m above that, from a ground level that rises away from the lake and into the eastern hills.
Station codes are 8 digits (the ministry's 测站编码 form): 5110xxxx river and lake, 5111xxxx
reservoir, 5112xxxx rain. No observations here: a storm is played elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
import shapely.ops

from gis.grades import RESERVOIR_CLASSES
from layers.sample.facilities import county_of
from layers.sample.geography import LAKE_GAUGES, RIVERS
from layers.sample.land import Land, Township, to_metres

Columns = dict[str, Any]

GAUGED_RESERVOIR_CLASSES = RESERVOIR_CLASSES[:3]
"""大(1)型, 大(2)型, 中型: the reservoirs with a water-level gauge."""
RIVER_GAUGE_FRACTIONS = (0.3, 0.7)
"""Where along each river (fraction of its length from the upper end) a gauge stands."""
RAIN_SPACING_M = 10_000.0
"""Rain gauges stand about this far apart (EPSG:4548 metres), inside the city's outline."""
LAKE_LEVEL_M = 33.0
"""The ground level by the lake (m) that river gauges' levels rise from."""


def monitoring_stations(land: Land, townships: list[Township], reservoirs: Columns, rng: np.random.Generator) -> Columns:
    """The stations' columns in EPSG:4548 (as the other builders give theirs); ``reservoirs``
    are the reservoir builder's columns (metric points, classes, 汛限水位)."""
    parts = [_reservoir_gauges(reservoirs, rng), _river_gauges(land, townships, rng), _rain_gauges(land, townships, rng)]
    columns: Columns = {name: [value for part in parts for value in part[name]] for name in parts[0]}
    xy = shapely.get_coordinates(np.asarray(columns["geometry"], dtype=object))
    columns["name"] = _unique(columns["name"])
    columns["status"] = ["在线"] * len(xy)
    columns["last_seen_at"] = [None] * len(xy)
    columns["county_adcode"] = county_of(land, xy)
    return columns


def _station(**values: Any) -> Columns:
    """One station's columns as lists, the fields it does not set None."""
    fields = ("source_id", "name", "kind", "reservoir_id", "river", "unit", "flood_limit_level_m", "warning_level_m", "guaranteed_level_m", "design_flood_level_m", "geometry")
    return {name: [values.get(name)] for name in fields}


def _merge(stations: list[Columns]) -> Columns:
    return {name: [s[name][0] for s in stations] for name in stations[0]}


def _reservoir_gauges(reservoirs: Columns, rng: np.random.Generator) -> Columns:
    chosen = [i for i, c in enumerate(reservoirs["reservoir_class"]) if c in GAUGED_RESERVOIR_CLASSES]
    stations = []
    for number, i in enumerate(chosen, start=1):
        limit = float(reservoirs["flood_limit_level_m"][i])
        dam = shapely.get_coordinates(reservoirs["geometry"][i])[0] + (0.0, -120.0)  # at the dam, just south
        stations.append(_station(
            source_id=f"5111{number:04d}", name=f"{reservoirs['name'][i]}水位站", kind="水位", reservoir_id=reservoirs["source_id"][i], unit="m",
            flood_limit_level_m=round(limit, 2), design_flood_level_m=round(limit + float(rng.uniform(2.0, 4.0)), 2), geometry=shapely.Point(dam),
        ))
    return _merge(stations)


def _river_gauges(land: Land, townships: list[Township], rng: np.random.Generator) -> Columns:
    lake = land.lake.intersection(land.boundary)
    places: list[tuple[str, shapely.Point]] = []
    for river, course in RIVERS:
        line = shapely.LineString([to_metres(lon, lat) for lon, lat in course])
        places += [(river, line.interpolate(f, normalized=True)) for f in RIVER_GAUGE_FRACTIONS]
    inner_lake = lake.buffer(-300.0)
    places += [(name, shapely.ops.nearest_points(inner_lake, shapely.Point(to_metres(lon, lat)))[0]) for name, lon, lat in LAKE_GAUGES]
    stations = []
    for number, (river, point) in enumerate(places, start=1):
        if not land.boundary.contains(point):
            continue
        if lake.contains(point):  # a lake gauge: the lake's own level
            warning = LAKE_LEVEL_M + float(rng.uniform(1.0, 2.0))
        else:  # the river's bank: higher away from the lake and in the eastern hills
            hills = float(land.hilliness(np.array([point.x]), np.array([point.y]))[0])
            warning = LAKE_LEVEL_M + 0.25 * lake.distance(point) / 1000.0 + 60.0 * hills + float(rng.uniform(2.5, 4.0))
        stations.append(_station(
            source_id=f"5110{number:04d}", name=f"{river}{_township_name(townships, point)}水位站", kind="水位", river=river, unit="m",
            warning_level_m=round(warning, 2), guaranteed_level_m=round(warning + float(rng.uniform(1.0, 2.0)), 2), geometry=point,
        ))
    return _merge(stations)


def _rain_gauges(land: Land, townships: list[Township], rng: np.random.Generator) -> Columns:
    min_x, min_y, max_x, max_y = land.boundary.bounds
    offset = rng.uniform(0, RAIN_SPACING_M, 2)
    gx, gy = np.meshgrid(np.arange(min_x + offset[0], max_x, RAIN_SPACING_M), np.arange(min_y + offset[1], max_y, RAIN_SPACING_M))
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-1500.0, 1500.0, (gx.size, 2))
    xy = xy[shapely.contains_xy(land.boundary, xy[:, 0], xy[:, 1])]
    return _merge([_station(source_id=f"5112{n:04d}", name=f"{_township_name(townships, shapely.Point(p))}雨量站", kind="雨量", unit="mm", geometry=shapely.Point(p))
                   for n, p in enumerate(xy, start=1)])


def _township_name(townships: list[Township], point: shapely.Point) -> str:
    """The township the point stands in (else the nearest one)."""
    for township in townships:
        if township.polygon.contains(point):
            return township.name
    return min(townships, key=lambda t: t.polygon.distance(point)).name


def _unique(names: list[str]) -> list[str]:
    """Names made unique: the second 某某雨量站 in one township is 某某雨量二站, and so on."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        n = seen[name]
        result.append(name if n == 1 else name[:-1] + "一二三四五六七八九十"[min(n, 10) - 1] + "站")
    return result
