"""The sample city's land: boundary, Nansi Lake, counties, population grid and townships.

All geometry here is in the work CRS (EPSG:4548, metres); ``layers.sample`` converts the finished
layers to EPSG:4326. Every random draw comes from the one seeded generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry

from gis.crs import STORE_EPSG, WORK_EPSG
from layers.sample.geography import (
    CITY_AREA_KM2,
    CITY_POPULATION,
    COUNTIES,
    HILLY_EAST_LON,
    NANSI_LAKE_LINE,
    OUTLINE,
    County,
)

Array = NDArray[Any]
IntArray = NDArray[np.int64]
CELL_SIZE_M = 500.0
"""Population grid cell size (metres)."""

_TO_METRES = Transformer.from_crs(STORE_EPSG, WORK_EPSG, always_xy=True)
_NAME_FIRST = "东西南北王李张刘陈杨黄赵周吴马孙胡朱高林何郭罗梁宋郑谢唐韩冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾丁魏薛叶余潘杜夏钟汪田任姜范方石姚谭廖熊金陆孔白崔康毛邱秦江史顾侯孟龙万段雷钱汤尹黎常武乔贺文"
_NAME_SECOND = "庄集店屯桥楼营寨口湾河岭村埠坊堂铺岗洼圩"


def to_metres(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 lon/lat (degrees) to EPSG:4548 x/y (metres)."""
    x, y = _TO_METRES.transform(lon, lat)
    return float(x), float(y)


@dataclass
class Land:
    """The metric canvas every sample layer is drawn on."""

    boundary: BaseGeometry
    lake: BaseGeometry
    counties: list[tuple[County, BaseGeometry]]
    seats: Array  # (11, 2) county-town x/y, metres

    def hilliness(self, x: Array, y: Array) -> Array:
        """0 on the western plain … 1 in the eastern hills, smoothly across ~25 km."""
        east_x, _ = to_metres(HILLY_EAST_LON, 35.4)
        return np.clip((x - east_x) / 25_000.0, 0.0, 1.0) * np.clip((y - 3.86e6) / 30_000.0, 0.3, 1.0)


@dataclass
class PopulationGrid:
    """Cell centres (metres), persons per cell (integers summing to the city population)."""

    x: Array
    y: Array
    persons: IntArray
    row: IntArray
    col: IntArray
    county: IntArray  # index into COUNTIES: the nearest county town (the Voronoi rule)
    township: IntArray | None = None  # index into the township list, once drawn
    cell_size_m: float = CELL_SIZE_M

    def cells(self) -> Array:
        half = self.cell_size_m / 2.0
        return shapely.box(self.x - half, self.y - half, self.x + half, self.y + half)


@dataclass
class Township:
    adcode: str
    name: str
    county: County
    seat: tuple[float, float]
    polygon: BaseGeometry  # Polygon or MultiPolygon, metres
    urban: bool


def build_lake() -> BaseGeometry:
    """The Nansi Lake chain as one polygon, metres."""
    parts = []
    for (lon0, lat0, w0), (lon1, lat1, w1) in zip(NANSI_LAKE_LINE, NANSI_LAKE_LINE[1:], strict=False):
        a, b = to_metres(lon0, lat0), to_metres(lon1, lat1)
        parts.append(LineString([a, b]).buffer((w0 + w1) / 2.0, quad_segs=8))
    return shapely.union_all(parts).simplify(200.0)


def build_boundary(seats: Array, rng: np.random.Generator) -> BaseGeometry:
    """The hand-traced outline, wobbled like a real border and scaled to the city's real area."""
    corners = np.array([to_metres(lon, lat) for lon, lat in OUTLINE])
    ring = shapely.segmentize(Polygon(corners), 1500.0)
    coords = np.asarray(ring.exterior.coords)[:-1]
    # A border follows rivers and fields: a smooth random offset of a few kilometres.
    along = np.linspace(0.0, 2 * np.pi, len(coords), endpoint=False)
    offset = np.zeros(len(coords))
    for k in (7, 13, 29, 53):
        offset += rng.uniform(400, 1500) * np.sin(k * along + rng.uniform(0, 2 * np.pi))
    centre = corners.mean(axis=0)
    direction = coords - centre
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    outline: BaseGeometry = Polygon(coords + direction * offset[:, None]).buffer(0)
    outline = outline.union(MultiPoint([tuple(s) for s in seats]).buffer(3000.0))  # towns inside, whatever the seed
    scale = np.sqrt(CITY_AREA_KM2 * 1e6 / outline.area)
    return shapely.affinity.scale(outline, scale, scale, origin=(centre[0], centre[1]))


def build_land(rng: np.random.Generator) -> Land:
    seats = np.array([to_metres(c.lon, c.lat) for c in COUNTIES])
    lake = build_lake()
    boundary = build_boundary(seats, rng)
    cells = shapely.voronoi_polygons(MultiPoint([tuple(s) for s in seats]), extend_to=boundary.buffer(10_000))
    counties = []
    for county, seat in zip(COUNTIES, seats, strict=True):
        cell = next(c for c in cells.geoms if c.contains(shapely.Point(seat)))
        counties.append((county, cell.intersection(boundary)))
    return Land(boundary=boundary, lake=lake, counties=counties, seats=seats)


def build_population(land: Land, rng: np.random.Generator, *, cell_size_m: float = CELL_SIZE_M) -> PopulationGrid:
    """Persons per cell (500 m unless ``cell_size_m`` says otherwise): a rural base (thinner in the
    hills) plus town kernels, no one in the lake; each county scaled to its share of the city's 8.3 million."""
    min_x, min_y, max_x, max_y = land.boundary.bounds
    cols = np.arange(np.floor(min_x / cell_size_m), np.ceil(max_x / cell_size_m))
    rows = np.arange(np.floor(min_y / cell_size_m), np.ceil(max_y / cell_size_m))
    col_grid, row_grid = np.meshgrid(cols, rows)
    x = (col_grid.ravel() + 0.5) * cell_size_m
    y = (row_grid.ravel() + 0.5) * cell_size_m
    inside = shapely.contains_xy(land.boundary, x, y) & ~shapely.contains_xy(land.lake, x, y)
    x, y = x[inside], y[inside]
    col = col_grid.ravel()[inside].astype(np.int64)
    row = row_grid.ravel()[inside].astype(np.int64)

    cell_km2 = (cell_size_m / 1000.0) ** 2
    density = 300.0 * (1.0 - 0.5 * land.hilliness(x, y)) * rng.lognormal(0.0, 0.45, x.size)
    county_of_cell = _nearest(land.seats, x, y)
    for index, county in enumerate(COUNTIES):
        sx, sy = land.seats[index]
        sigma = county.urban_radius_km * 1000.0 / 1.6
        kernel = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * sigma**2))
        density += 0.45 * county.population * kernel / kernel.sum() / cell_km2
    persons = density * cell_km2
    scale = CITY_POPULATION / sum(c.population for c in COUNTIES)
    for index, county in enumerate(COUNTIES):
        mine = county_of_cell == index
        persons[mine] *= county.population * scale / persons[mine].sum()
    return PopulationGrid(x, y, _integer_total(persons, CITY_POPULATION), row, col, county_of_cell, cell_size_m=cell_size_m)


def _nearest(seats: Array, x: Array, y: Array) -> IntArray:
    """Index of the nearest seat to each point: who a Voronoi partition gives it to."""
    distances = (x[:, None] - seats[None, :, 0]) ** 2 + (y[:, None] - seats[None, :, 1]) ** 2
    return np.argmin(distances, axis=1).astype(np.int64)


def _integer_total(values: Array, total: int) -> IntArray:
    """Round to integers that sum exactly to ``total`` (largest remainders, ties by position)."""
    scaled = values * (total / values.sum())
    floors = np.floor(scaled).astype(np.int64)
    missing = total - int(floors.sum())
    order = np.argsort(-(scaled - floors), kind="stable")
    floors[order[:missing]] += 1
    return floors


def township_names(count: int, rng: np.random.Generator) -> list[str]:
    """Distinct two-character place names such as 马集, 杨庄 (suffix added by the caller)."""
    combos = np.array([a + b for a in _NAME_FIRST for b in _NAME_SECOND])
    return list(combos[rng.permutation(combos.size)[:count]])


def build_townships(land: Land, population: PopulationGrid, rng: np.random.Generator) -> list[Township]:
    """Township seats drawn where people live (at least 3 km apart); polygons by Voronoi in each county."""
    names = iter(township_names(sum(c.townships for c, _ in land.counties), rng))
    townships: list[Township] = []
    population.township = np.full(population.x.size, -1, dtype=np.int64)
    for index, (county, polygon) in enumerate(land.counties):
        inside = population.county == index
        weights = population.persons[inside].astype(float) ** 1.5
        candidates = rng.choice(np.flatnonzero(inside), size=min(4000, int(inside.sum())), replace=False, p=weights / weights.sum())
        seats = [tuple(land.seats[index])]
        for candidate in candidates:
            point = (population.x[candidate], population.y[candidate])
            if all((point[0] - s[0]) ** 2 + (point[1] - s[1]) ** 2 > 3000.0**2 for s in seats):
                seats.append(point)
            if len(seats) == county.townships:
                break
        seat_array = np.array(seats)
        population.township[inside] = len(townships) + _nearest(seat_array, population.x[inside], population.y[inside])
        cells = shapely.voronoi_polygons(MultiPoint(seats), extend_to=polygon.buffer(10_000))
        for number, seat in enumerate(seats, start=1):
            cell = next(c for c in cells.geoms if c.contains(shapely.Point(seat)))
            area = cell.intersection(polygon)
            sx, sy = land.seats[index]
            urban = (seat[0] - sx) ** 2 + (seat[1] - sy) ** 2 < (county.urban_radius_km * 1000.0) ** 2
            suffix = "街道" if urban else ("镇" if rng.random() < 0.8 else "乡")
            townships.append(
                Township(f"{county.adcode}{number:03d}", next(names) + suffix, county, (float(seat[0]), float(seat[1])), area, urban)
            )
    return townships
