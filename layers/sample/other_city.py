"""A second, small synthetic city for the tests: 锦官市 (adcode 519900, not a real division),
around 104.06°E 30.66°N — in the CGCS2000 3-degree zone CM 105°E (EPSG:4544), not Jining's.

Seeded and deterministic. It gives:

- its boundary as 阿里云 DataV publishes boundaries: a ``_full`` FeatureCollection of three
  districts and a single-feature city file, properties ``adcode``, ``name``, ``center``,
  ``centroid``, ``childrenNum``, ``level``, ``parent`` ({"adcode": …}), ``subFeatureIndex``,
  ``acroutes``, coordinates in GCJ-02 rounded to 1e-6°; one district's ring crosses itself in a
  small loop (about 100 m), as real boundaries do;
- its layers in WGS 84 lon/lat with the catalogue's field names, as a bureau's files would give
  them: a road lattice of about 300 edges, 1 km population cells, shelters, rescue stations,
  supply depots, reservoirs, geohazard points, a chemical park and a waterlogging area.

The outline is an L: the north-east corner is missing, so that a point there lies inside the
region's bounding box but more than 5 km outside the outline (the region).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from gis.crs import STORE_EPSG, wgs84_to_gcj02

NAME = "锦官市"
ADCODE = "519900"
PROVINCE_ADCODE = "510000"
WORK_EPSG = 4544
"""CGCS2000 3-degree Gauss-Krüger CM 105°E: the zone of the city's centroid."""
CENTRE = (104.06, 30.66)
"""lon/lat (WGS 84) of the city centre."""
DISTRICTS = (("519901", "青羊新区"), ("519902", "锦里区"), ("519903", "浣花县"))
OUTSIDE_OUTLINE_KM = (12.0, 9.0)
"""A point (east, north of the centre, km) inside the region's box but ≥ 7 km from the outline."""

_TO_LONLAT = Transformer.from_crs(WORK_EPSG, STORE_EPSG, always_xy=True)
_TO_METRES = Transformer.from_crs(STORE_EPSG, WORK_EPSG, always_xy=True)
_CX, _CY = _TO_METRES.transform(*CENTRE)


@dataclass(frozen=True)
class OtherCity:
    """The city: DataV boundaries (GeoJSON dicts, GCJ-02), layers (EPSG:4326) and the outline."""

    boundary_full: dict[str, Any]
    boundary_city: dict[str, Any]
    layers: dict[str, gpd.GeoDataFrame]
    outline: BaseGeometry
    outside_point: tuple[float, float]


def _km(x: float, y: float) -> tuple[float, float]:
    return (_CX + x * 1000.0, _CY + y * 1000.0)


def _lonlat(geometry: Any) -> Any:
    """A geometry (or an array of them) from EPSG:4544 metres to lon/lat, rounded to 1e-7°."""
    def transform(coords: np.ndarray) -> np.ndarray:
        lon, lat = _TO_LONLAT.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(geometry, transform)


def _outline_metres(rng: np.random.Generator) -> shapely.Polygon:
    """The L-shaped outline in EPSG:4544 metres, its edges wobbled by up to ±400 m."""
    corners = [(-15, -12), (15, -12), (15, 2), (3, 2), (3, 12), (-15, 12)]
    points: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        steps = int(max(abs(x1 - x0), abs(y1 - y0)) // 2) or 1
        for k in range(steps):
            t = k / steps
            wobble = 0.0 if k == 0 else rng.uniform(-0.4, 0.4)
            nx, ny = (y1 - y0), -(x1 - x0)
            norm = float(np.hypot(nx, ny))
            points.append(_km(x0 + t * (x1 - x0) + wobble * nx / norm, y0 + t * (y1 - y0) + wobble * ny / norm))
    return shapely.Polygon(points)


def _districts_metres(outline: shapely.Polygon) -> list[shapely.Polygon]:
    big = 100.0
    cuts = [
        shapely.box(*_km(-big, -big), *_km(-4, big)),
        shapely.box(*_km(-4, -big), *_km(big, -3)),
        shapely.box(*_km(-4, -3), *_km(big, big)),
    ]
    parts = []
    for cut in cuts:
        piece = outline.intersection(cut)
        polygons = [g for g in shapely.get_parts(piece) if isinstance(g, shapely.Polygon)]
        parts.append(max(polygons, key=lambda g: g.area))
    # Vertices every 200 m, as published boundaries have: GCJ-02 is not linear, so a long straight
    # edge would bend differently in each neighbour when converted.
    return [shapely.segmentize(part, 200.0) for part in parts]


def _gcj02_ring(ring: np.ndarray) -> list[list[float]]:
    lon, lat = wgs84_to_gcj02(ring[:, 0], ring[:, 1])
    return [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)]


def _with_loop(ring: list[list[float]], size_deg: float = 0.001) -> list[list[float]]:
    """The ring with a small self-crossing loop put into its longest edge (outward side)."""
    lengths = [np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(ring[:-1], ring[1:], strict=True)]
    i = int(np.argmax(lengths))
    a, b = np.array(ring[i]), np.array(ring[i + 1])
    u = (b - a) / np.linalg.norm(b - a)
    v = np.array([u[1], -u[0]])  # right of the direction: outward for a counter-clockwise ring
    c = (a + b) / 2
    loop = [c, c + size_deg * (u + v), c + size_deg * v, c + size_deg * u]
    return ring[: i + 1] + [[round(float(p[0]), 6), round(float(p[1]), 6)] for p in loop] + ring[i + 1 :]


def _datav_feature(adcode: str, name: str, level: str, parent: str, geometry_wgs84: shapely.Polygon, index: int, *, loop: bool = False) -> dict[str, Any]:
    ring = _gcj02_ring(np.asarray(shapely.orient_polygons(geometry_wgs84).exterior.coords))
    if loop:
        ring = _with_loop(ring)
    centroid = geometry_wgs84.centroid
    clon, clat = wgs84_to_gcj02(centroid.x, centroid.y)
    return {
        "type": "Feature",
        "properties": {
            "adcode": int(adcode), "name": name,
            "center": [round(float(clon), 6), round(float(clat), 6)],
            "centroid": [round(float(clon), 6), round(float(clat), 6)],
            "childrenNum": 0 if level == "district" else len(DISTRICTS), "level": level,
            "parent": {"adcode": int(parent)}, "subFeatureIndex": index,
            "acroutes": [100000, int(PROVINCE_ADCODE)] + ([int(ADCODE)] if level == "district" else []),
        },
        "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]},
    }


def _frame(columns: dict[str, list[Any]], geometry: Sequence[BaseGeometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=_lonlat(np.asarray(geometry, dtype=object)), crs=STORE_EPSG)


def _roads(outline: shapely.Polygon, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, list[tuple[float, float]]]:
    inner = outline.buffer(-300.0)
    spacing = 2.0
    xs = np.arange(-15 + 1, 15, spacing)
    ys = np.arange(-12 + 1, 12, spacing)
    nodes: dict[tuple[int, int], tuple[float, float]] = {}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            point = _km(x + rng.uniform(-0.3, 0.3), y + rng.uniform(-0.3, 0.3))
            if inner.contains(shapely.Point(point)):
                nodes[(i, j)] = point
    mid_i, mid_j = len(xs) // 2, len(ys) // 2
    names, classes, oneway, lines = [], [], [], []
    for (i, j), start in sorted(nodes.items()):
        for di, dj in ((1, 0), (0, 1)):
            end = nodes.get((i + di, j + dj))
            if end is None:
                continue
            bend = rng.uniform(-150, 150)
            mx, my = (start[0] + end[0]) / 2 + bend * dj, (start[1] + end[1]) / 2 + bend * di
            line = shapely.LineString([start, (mx, my), end])
            on_axis = (dj == 0 and j == mid_j) or (di == 0 and i == mid_i)
            county = (dj == 0 and j % 3 == 0) or (di == 0 and i % 3 == 0)
            urban = abs(start[0] - _CX) < 4000 and abs(start[1] - _CY) < 4000
            road_class = "国道" if on_axis else "城市道路" if urban else "县道" if county else "乡道"
            classes.append(road_class)
            names.append({"国道": "G108", "县道": f"X{i:02d}{j:02d}", "城市道路": f"锦里{i}路"}.get(road_class, ""))
            oneway.append(bool(urban and not on_axis and (i + j) % 5 == 0))
            lines.append(line)
    roads = _frame({
        "source_id": [f"JG-RD{k + 1:04d}" for k in range(len(lines))],
        "name": names, "road_class": classes, "oneway": oneway,
    }, lines)
    return roads, list(nodes.values())


def _population(outline: shapely.Polygon, rng: np.random.Generator) -> gpd.GeoDataFrame:
    ids, persons, cells = [], [], []
    for r, y in enumerate(np.arange(-12, 12, 1.0)):
        for c, x in enumerate(np.arange(-15, 15, 1.0)):
            cell = shapely.box(*_km(x, y), *_km(x + 1, y + 1))
            if not outline.contains(shapely.Point(_km(x + 0.5, y + 0.5))):
                continue
            d2 = (x + 0.5) ** 2 + (y + 0.5) ** 2
            ids.append(f"JG-R{r:02d}C{c:02d}")
            persons.append(float(round(400 * rng.uniform(0.5, 1.5) + 12000 * np.exp(-d2 / 18.0))))
            cells.append(cell)
    return _frame({"source_id": ids, "persons": persons, "cell_size_m": [1000.0] * len(ids)}, cells)


def _points(nodes: list[tuple[float, float]], count: int, rng: np.random.Generator, offset_m: float = 250.0) -> list[shapely.Point]:
    chosen = rng.choice(len(nodes), size=count, replace=False)
    return [shapely.Point(nodes[k][0] + rng.uniform(-offset_m, offset_m), nodes[k][1] + rng.uniform(-offset_m, offset_m)) for k in chosen]


def _facilities(nodes: list[tuple[float, float]], rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    shelters = _points(nodes, 8, rng)
    stations = _points(nodes, 5, rng)
    depots = _points(nodes, 3, rng)
    reservoirs = [shapely.Point(_km(-11, 8)), shapely.Point(_km(10, -9))]
    hazards = [shapely.Point(_km(-12, 10)), shapely.Point(_km(-9, 9)), shapely.Point(_km(12, -10))]
    park = shapely.box(*_km(6, -8), *_km(8, -6.5))
    flood = shapely.Polygon([_km(-6, -10), _km(-1, -10), _km(-2, -7), _km(-6, -7.5)])
    return {
        "shelters": _frame({
            "source_id": [f"JG-BN{k + 1:02d}" for k in range(8)], "name": [f"锦官避难场所{k + 1}号" for k in range(8)],
            "shelter_type": ["紧急"] * 6 + ["固定"] * 2,
            "effective_area_m2": [float(round(rng.uniform(4000, 30000), -2)) for _ in range(8)],
        }, list(shelters)),
        "rescue_stations": _frame({
            "source_id": [f"JG-JY{k + 1:02d}" for k in range(5)], "name": [f"锦官救援站{k + 1}" for k in range(5)],
            "kind": ["消防站", "消防站", "基层救援站", "基层救援站", "专业救援队"],
            "staff": [int(rng.integers(10, 60)) for _ in range(5)], "vehicles": [int(rng.integers(2, 10)) for _ in range(5)],
        }, list(stations)),
        "supply_depots": _frame({
            "source_id": [f"JG-WZ{k + 1:02d}" for k in range(3)], "name": ["锦官市级储备库", "锦里区储备库", "浣花县储备库"],
            "level": ["市级", "县级", "县级"], "main_supplies": ["帐篷、棉被", "食品、饮用水", "救生衣"],
        }, list(depots)),
        "reservoirs": _frame({
            "source_id": ["JG-SK01", "JG-SK02"], "name": ["青城水库", "浣花水库"], "capacity_m3": [2.3e7, 4.5e6],
            "flood_limit_level_m": [612.0, 540.5], "current_level_m": [613.2, 538.0], "dam_type": ["土坝", "混凝土坝"],
        }, reservoirs),
        "geohazard_points": _frame({
            "source_id": ["JG-DZ01", "JG-DZ02", "JG-DZ03"], "name": ["青城山滑坡", "后山崩塌", "南坡泥石流"],
            "hazard_type": ["滑坡", "崩塌", "泥石流"], "threatened_people": [320, 60, 800],
        }, hazards),
        "chemical_parks": _frame({"source_id": ["JG-HG01"], "name": ["锦官化工园区"], "risk_score": [72.0], "enterprise_count": [14]},
                                 [shapely.MultiPolygon([park])]),
        "flood_prone_areas": _frame({"source_id": ["JG-YL01"], "name": ["锦里低洼易涝区"], "kind": ["易涝区"], "threatened_people": [5200]},
                                    [shapely.MultiPolygon([flood])]),
    }


def build_other_city(seed: int = 5199) -> OtherCity:
    """The whole city from ``seed``: the same seed gives the same boundary files and layers."""
    rng = np.random.default_rng(seed)
    outline_m = _outline_metres(rng)
    districts_m = _districts_metres(outline_m)
    features = [
        _datav_feature(code, name, "district", ADCODE, _lonlat(part), k, loop=k == 1)
        for k, ((code, name), part) in enumerate(zip(DISTRICTS, districts_m, strict=True))
    ]
    outline = _lonlat(shapely.segmentize(outline_m, 200.0))
    roads, nodes = _roads(outline_m, rng)
    layers = {"roads": roads, "population": _population(outline_m, rng), **_facilities(nodes, rng)}
    east, north = OUTSIDE_OUTLINE_KM
    outside = _lonlat(shapely.Point(_km(east, north)))
    return OtherCity(
        boundary_full={"type": "FeatureCollection", "features": features},
        boundary_city={"type": "FeatureCollection", "features": [_datav_feature(ADCODE, NAME, "city", PROVINCE_ADCODE, outline, 0)]},
        layers=layers,
        outline=outline,
        outside_point=(outside.x, outside.y),
    )


def to_other_city_files(folder: Path, seed: int = 5199) -> dict[str, Path]:
    """Write the city's files into ``folder``: ``519900_full.json`` and ``519900.json`` (DataV,
    GCJ-02) and one ``<layer>.geojson`` per layer (WGS 84); returns name → path."""
    city = build_other_city(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"boundary_full": folder / f"{ADCODE}_full.json", "boundary_city": folder / f"{ADCODE}.json"}
    paths["boundary_full"].write_text(json.dumps(city.boundary_full, ensure_ascii=False), encoding="utf-8")
    paths["boundary_city"].write_text(json.dumps(city.boundary_city, ensure_ascii=False), encoding="utf-8")
    for layer, frame in city.layers.items():
        paths[layer] = folder / f"{layer}.geojson"
        frame.to_file(paths[layer], driver="GeoJSON", engine="pyogrio")
    return paths
