"""The sample province (``onemap sample --scale province``): a seeded, Shandong-sized tiling of
sample-city prefectures, for measuring the analyses at a province's scale.

Each prefecture is the sample city (layers/sample/land.py, roads.py, facilities.py, monitoring.py)
drawn from its own seed — derived from the province's seed and the prefecture's number, so a
prefecture is drawn the same whatever the number of prefectures (only its border roads depend on
which neighbours it has) — at province density: population at 100 m (≈ 1 million cells with
people each), road junctions every 400 m in the country and 180 m in towns (≈ 190,000 edges
each), the published Jining counts of every facility (≈ 1,870 points each). The prefecture is
cut to a 130 km × 150 km tile round the city's centre and moved, as drawn in metres, to its
place in a grid of tiles (4 × 4 for 16): no two prefectures overlap, neighbours share the
straight tile edges, and three roads (省道 跨市连接线) cross each shared edge, so the province's
roads are one network (routing keeps only the largest connected part of a network). Sixteen
prefectures give ≈ 16.2 M population cells, ≈ 3 M road edges, ≈ 30,000 facility points and
≈ 179,000 km² of land in a 520 km × 600 km box.

Coordinates: every prefecture is drawn and moved in EPSG:4548 (CGCS2000 3° Gauss-Krüger, CM
117°E), and the province is analysed in it (its profile says so). The province reaches about
±260 km from the central meridian (about 114.0-120.0 °E, 33.5-38.9 °N), past the zone's ±1.5°: lengths there are
up to about 0.8 ‰ longer than geodesic ones (k = 1 + x²/2R²), a price the benchmark accepts for
one metric frame; a real province spanning zones would choose its zone per analysis window.

Names and codes: the prefectures carry the names and adcodes of Shandong's 16 prefecture-level
cities, in a grid roughly like their real places (south-west to north-east); their counties and
townships keep the sample city's names under the prefecture's adcode. Everything else is synthetic.

Source ids are the city's with the prefecture's four-digit code in front (``3701-SK0001``);
population cells are named by their row and column in one province-wide grid (``R40123C1450``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from gis.crs import WORK_EPSG
from layers.catalogue import ROAD_CLASSES
from layers.city import make_profile, profile_rows
from layers.sample import REGION_BUFFER_KM, _frame, admin_frame_of
from layers.sample import facilities as facility_builders
from layers.sample.land import (
    Land,
    PopulationGrid,
    Township,
    build_land,
    build_population,
    build_townships,
)
from layers.sample.monitoring import monitoring_stations
from layers.sample.roads import RoadNetwork, build_roads
from layers.store.base import Store, WriteCounts

PROVINCE_NAME = "山东省"
PROVINCE_ADCODE = "370000"

PREFECTURES: tuple[tuple[str, str], ...] = (
    # south row, west to east; then northwards (a grid roughly like their real places)
    ("371700", "菏泽市"), ("370800", "济宁市"), ("370400", "枣庄市"), ("371300", "临沂市"),
    ("371500", "聊城市"), ("370900", "泰安市"), ("371100", "日照市"), ("370200", "青岛市"),
    ("371400", "德州市"), ("370100", "济南市"), ("370300", "淄博市"), ("370700", "潍坊市"),
    ("371600", "滨州市"), ("370500", "东营市"), ("370600", "烟台市"), ("371000", "威海市"),
)
"""Shandong's 16 prefecture-level cities (adcode, name), in the order the tiles are filled."""

TILE_M = (130_000.0, 150_000.0)
"""A prefecture's tile (width, height in metres): the sample city's outline is about this size."""
_CITY_CENTRE_M = (478_000.0, 3_902_500.0)
"""The centre of the sample city's outline in EPSG:4548: the centre of the tile it is cut to."""
_PROVINCE_CENTRE_M = (500_000.0, 4_010_000.0)
"""Where the province's grid is centred in EPSG:4548: on the central meridian, at about 36.2 °N."""
_OFFSET_STEP_M = 10_000.0
"""Offsets are whole multiples of this, so every prefecture's cells fall on one province grid."""

LINKS_PER_BORDER = 3
"""Roads crossing each border between two neighbouring prefectures."""
BORDER_LINK_NAME = "跨市连接线"

PREFECTURE_STEPS = ("land", "population", "townships", "roads", "facilities", "writing")
"""The steps of each prefecture, reported one by one to ``progress`` as each begins."""
STEP_WEIGHTS = {"land": 1, "population": 2, "townships": 1, "roads": 15, "facilities": 2, "writing": 60, "profile": 5}
"""About how long each step takes at full size (seconds on 2 cores), for a progress bar's ETA:
writing a prefecture's million population cells is most of the work."""

Progress = Callable[[int, str, str], None]
"""``progress(prefecture number, prefecture name, step)``; the step ``"profile"`` comes once, last."""


@dataclass(frozen=True)
class ProvinceSize:
    """How many prefectures, and how finely each is drawn (metres)."""

    prefectures: int = 16
    cell_size_m: float = 100.0
    rural_spacing_m: float = 400.0
    urban_spacing_m: float = 180.0
    population_batch: int = 250_000
    """Population cells written per batch (one transaction per prefecture still)."""

    def __post_init__(self) -> None:
        if not 1 <= self.prefectures <= len(PREFECTURES):
            raise ValueError(f"prefectures must be 1-{len(PREFECTURES)}, got {self.prefectures}")
        if _OFFSET_STEP_M % self.cell_size_m and self.cell_size_m % _OFFSET_STEP_M:
            raise ValueError(f"cell_size_m must divide {_OFFSET_STEP_M:g} m or be a multiple of it, got {self.cell_size_m:g}")


PROVINCE = ProvinceSize()
"""The full province: 16 prefectures at 100 m."""
MINI = ProvinceSize(prefectures=2, cell_size_m=2_000.0, rural_spacing_m=2_000.0, urban_spacing_m=1_000.0)
"""Two coarse prefectures (2 km cells, junctions every 2 km): a province in a second, for tests."""


def prefecture_seed(seed: int, number: int) -> np.random.SeedSequence:
    """The seed of prefecture ``number`` (0-based) of the province drawn from ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(number,))


def prefecture_offset(number: int, count: int) -> tuple[float, float]:
    """How far (metres, EPSG:4548) prefecture ``number`` of ``count`` moves from the sample city's place."""
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    column, row = number % columns, number // columns
    centre_x = _PROVINCE_CENTRE_M[0] + (column - (columns - 1) / 2) * TILE_M[0]
    centre_y = _PROVINCE_CENTRE_M[1] + (row - (rows - 1) / 2) * TILE_M[1]
    dx = round((centre_x - _CITY_CENTRE_M[0]) / _OFFSET_STEP_M) * _OFFSET_STEP_M
    dy = round((centre_y - _CITY_CENTRE_M[1]) / _OFFSET_STEP_M) * _OFFSET_STEP_M
    return dx, dy


def _tile() -> BaseGeometry:
    (width, height), (cx, cy) = TILE_M, _CITY_CENTRE_M
    return shapely.box(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def _cut_to_tile(land: Land) -> Land:
    """The land cut to its tile (the county towns all lie well inside it)."""
    tile = _tile()
    counties = [(county, polygon.intersection(tile)) for county, polygon in land.counties]
    return Land(boundary=land.boundary.intersection(tile), lake=land.lake, counties=counties, seats=land.seats)


@dataclass(frozen=True)
class _Prefecture:
    number: int
    adcode: str
    name: str
    offset: tuple[float, float]

    @property
    def code(self) -> str:
        return self.adcode[:4]

    def source_id(self, value: Any) -> Any:
        return None if value is None else f"{self.code}-{value}"

    def adcode_of(self, city_adcode: Any) -> Any:
        """A county's or township's sample-city adcode (3708…) under this prefecture's code."""
        return None if city_adcode is None else self.code + str(city_adcode)[4:]

    def shifted(self, geometries: Any) -> np.ndarray:
        dx, dy = self.offset
        return shapely.transform(np.asarray(geometries, dtype=object), lambda xy: xy + (dx, dy))


_REFERENCES = {"hazardous_enterprises": ("park_source_id",), "monitoring_stations": ("reservoir_id",)}
_NAMED_AFTER_CITY = "济宁市"


def _localise(prefecture: _Prefecture, layer: str, columns: dict[str, Any]) -> dict[str, Any]:
    """The city builder's columns as this prefecture's: ids, codes, names, moved geometry."""
    out = dict(columns)
    out["source_id"] = [prefecture.source_id(v) for v in columns["source_id"]]
    for field in _REFERENCES.get(layer, ()):
        out[field] = [prefecture.source_id(v) for v in columns[field]]
    if "county_adcode" in columns:
        out["county_adcode"] = [prefecture.adcode_of(v) for v in columns["county_adcode"]]
    if "name" in columns:
        out["name"] = [n.replace(_NAMED_AFTER_CITY, prefecture.name) if isinstance(n, str) else n for n in columns["name"]]
    out["geometry"] = prefecture.shifted(columns["geometry"])
    empty = shapely.is_empty(out["geometry"])
    if empty.any():  # a coarse cell's valley can fall wholly in the lake: it is left out
        keep = ~empty
        out = {k: (np.asarray(v, dtype=object)[keep] if isinstance(v, list | np.ndarray) else v) for k, v in out.items()}
    return out


def _facility_frames(prefecture: _Prefecture, land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    """The hazard and resource layers, the gauges and the lake, drawn as ``generate_city`` draws them."""
    frames: dict[str, gpd.GeoDataFrame] = {}
    reservoirs: dict[str, Any] = {}
    for name in ("reservoirs", "geohazard_points", "chemical_parks", "shelters", "rescue_stations", "supply_depots", "flood_prone_areas"):
        builder: facility_builders.Builder = getattr(facility_builders, name)
        columns = builder(land, population, townships, rng)
        if name == "chemical_parks":
            enterprises = facility_builders.hazardous_enterprises(land, population, townships, rng, columns)
            frames["hazardous_enterprises"] = _frame("hazardous_enterprises", _localise(prefecture, "hazardous_enterprises", enterprises))
        if name == "reservoirs":
            reservoirs = dict(columns)
        frames[name] = _frame(name, _localise(prefecture, name, columns))
    stations = monitoring_stations(land, townships, reservoirs, rng)
    frames["monitoring_stations"] = _frame("monitoring_stations", _localise(prefecture, "monitoring_stations", stations))
    lake = {"source_id": ["WB0001"], "name": ["南四湖"], "kind": ["湖泊"], "area_km2": None, "geometry": [land.lake.intersection(land.boundary)]}
    frames["water_bodies"] = _frame("water_bodies", _localise(prefecture, "water_bodies", lake))
    return frames


def border_points(number: int, count: int) -> list[tuple[float, float]]:
    """Where prefecture ``number``'s roads cross into its neighbours (metres, the sample city's
    frame): ``LINKS_PER_BORDER`` points on each tile edge it shares. Its neighbour's own points
    on that edge, moved to the province, fall on exactly the same places."""
    columns = math.ceil(math.sqrt(count))
    column, row = number % columns, number // columns
    west, south, east, north = _tile().bounds
    shares = [(k + 1) / (LINKS_PER_BORDER + 1) for k in range(LINKS_PER_BORDER)]
    points: list[tuple[float, float]] = []
    if column > 0:
        points += [(west, south + f * (north - south)) for f in shares]
    if column < columns - 1 and number + 1 < count:
        points += [(east, south + f * (north - south)) for f in shares]
    if row > 0:
        points += [(west + f * (east - west), south) for f in shares]
    if number + columns < count:
        points += [(west + f * (east - west), north) for f in shares]
    return points


def _border_links(network: RoadNetwork, points: list[tuple[float, float]]) -> np.ndarray:
    """A road from each border point to the nearest junction of the prefecture's main network
    (the tile cut leaves a few islands of road at its edges: they are not linked)."""
    n = len(network.nodes)
    adjacency = coo_matrix((np.ones(len(network.edges)), (network.edges[:, 0], network.edges[:, 1])), shape=(n, n))
    _, component = connected_components(adjacency, directed=False)
    main = np.flatnonzero(component == np.bincount(component).argmax())
    links = []
    for x, y in points:
        nearest = main[np.argmin((network.nodes[main, 0] - x) ** 2 + (network.nodes[main, 1] - y) ** 2)]
        links.append(shapely.LineString([(x, y), tuple(network.nodes[nearest])]))
    return np.array(links, dtype=object)


def _road_frame(prefecture: _Prefecture, land: Land, townships: list[Township], rng: np.random.Generator, size: ProvinceSize) -> gpd.GeoDataFrame:
    """The prefecture's roads, and its links to the neighbours' (省道 跨市连接线): one network."""
    network = build_roads(land, townships, rng, rural_spacing_m=size.rural_spacing_m, urban_spacing_m=size.urban_spacing_m)
    links = _border_links(network, border_points(prefecture.number, size.prefectures))
    lines = np.concatenate([network.lines(), links])
    return _frame(
        "roads",
        {
            "source_id": [f"{prefecture.code}-RD{i + 1:06d}" for i in range(len(lines))],
            "name": [*network.names, *[BORDER_LINK_NAME] * len(links)],
            "road_class": [*(ROAD_CLASSES[r] for r in network.rank), *["省道"] * len(links)],
            "speed_kmh": None,
            "oneway": np.concatenate([network.oneway, np.zeros(len(links), dtype=bool)]),
            "length_m": None,
            "declared_length_m": None,
            "geometry": prefecture.shifted(lines),
        },
    )


def _population_frames(prefecture: _Prefecture, population: PopulationGrid, batch: int) -> Iterator[gpd.GeoDataFrame]:
    """The populated cells (persons > 0) as polygons, ``batch`` at a time, named in the province grid."""
    populated = np.flatnonzero(population.persons > 0)
    cell = population.cell_size_m
    row_shift = round(prefecture.offset[1] / cell)
    column_shift = round(prefecture.offset[0] / cell)
    for start in range(0, populated.size, batch):
        chosen = populated[start : start + batch]
        rows = population.row[chosen] + row_shift
        columns = population.col[chosen] + column_shift
        half = cell / 2.0
        x = population.x[chosen] + prefecture.offset[0]
        y = population.y[chosen] + prefecture.offset[1]
        yield _frame(
            "population",
            {
                "source_id": [f"R{r}C{c}" for r, c in zip(rows.tolist(), columns.tolist(), strict=True)],
                "persons": population.persons[chosen].astype(float),
                "cell_size_m": np.full(chosen.size, cell),
                "geometry": shapely.box(x - half, y - half, x + half, y + half),
            },
        )


def _admin_frame(prefecture: _Prefecture, land: Land, population: PopulationGrid, townships: list[Township]) -> gpd.GeoDataFrame:
    assert population.township is not None
    by_county = np.bincount(population.county, weights=population.persons, minlength=len(land.counties))
    by_township = np.bincount(population.township, weights=population.persons, minlength=len(townships))
    rows: list[tuple[str, str, str, str, int, BaseGeometry]] = [
        (prefecture.adcode, prefecture.name, "市", PROVINCE_ADCODE, int(population.persons.sum()), land.boundary)
    ]
    rows += [(prefecture.adcode_of(c.adcode), c.name, "区县", prefecture.adcode, int(n), p) for (c, p), n in zip(land.counties, by_county, strict=True)]
    rows += [
        (prefecture.adcode_of(t.adcode), t.name, "乡镇街道", prefecture.adcode_of(t.county.adcode), int(n), t.polygon)
        for t, n in zip(townships, by_township, strict=True)
    ]
    return admin_frame_of(rows, prefecture.shifted([r[5] for r in rows]))


def _prefectures(size: ProvinceSize) -> list[_Prefecture]:
    return [
        _Prefecture(number, adcode, name, prefecture_offset(number, size.prefectures))
        for number, (adcode, name) in enumerate(PREFECTURES[: size.prefectures])
    ]


def _draw(
    prefecture: _Prefecture, seed: int, size: ProvinceSize, report: Callable[[str], None]
) -> tuple[dict[str, gpd.GeoDataFrame], Iterator[gpd.GeoDataFrame]]:
    """One prefecture: its frames (EPSG:4326) and its population frames, lazily in batches."""
    rng = np.random.default_rng(prefecture_seed(seed, prefecture.number))
    report("land")
    land = _cut_to_tile(build_land(rng))
    report("population")
    population = build_population(land, rng, cell_size_m=size.cell_size_m)
    report("townships")
    townships = build_townships(land, population, rng)
    report("roads")
    frames = {"roads": _road_frame(prefecture, land, townships, rng, size)}
    report("facilities")
    frames.update(_facility_frames(prefecture, land, population, townships, rng))
    frames["admin_areas"] = _admin_frame(prefecture, land, population, townships)
    return frames, _population_frames(prefecture, population, size.population_batch)


def generate_prefecture(seed: int, number: int, *, size: ProvinceSize = PROVINCE) -> dict[str, gpd.GeoDataFrame]:
    """Prefecture ``number`` (0-based) of the province drawn from ``seed``, every layer in memory
    (population as one frame). For tests and small sizes: the writer streams instead."""
    frames, population = _draw(_prefectures(size)[number], seed, size, lambda step: None)
    parts = list(population)
    frames["population"] = gpd.GeoDataFrame(gpd.pd.concat(parts, ignore_index=True), crs=parts[0].crs) if parts else _frame("population", {"source_id": [], "persons": [], "cell_size_m": [], "geometry": []})
    return frames


def province_profile(outlines: list[BaseGeometry]) -> gpd.GeoDataFrame:
    """The province's ``city_profile`` rows: outline = the prefectures' union (lon/lat), work CRS
    EPSG:4548 (the frame it was drawn in), region = outline + 5 km."""
    outline = shapely.union_all(outlines)
    profile = make_profile(
        name=PROVINCE_NAME, adcode=PROVINCE_ADCODE, outline=outline, region_buffer_km=REGION_BUFFER_KM, work_epsg=WORK_EPSG, source_file="onemap sample --scale province"
    )
    return profile_rows(profile)


def write_province(store: Store, seed: int, *, size: ProvinceSize = PROVINCE, progress: Progress | None = None) -> dict[str, WriteCounts]:
    """Generate the province prefecture by prefecture and upsert each into ``store``: its
    population in one transaction (batches of ``size.population_batch`` cells), then its other
    layers in another; last, the province's profile. Memory stays at one prefecture's (about 2-3
    GB at 100 m). Same seed, same province: re-running changes nothing."""
    totals: dict[str, WriteCounts] = {}
    outlines: list[BaseGeometry] = []
    for prefecture in _prefectures(size):
        def report(step: str, prefecture: _Prefecture = prefecture) -> None:
            if progress is not None:
                progress(prefecture.number, prefecture.name, step)

        frames, population = _draw(prefecture, seed, size, report)
        report("writing")
        outlines.append(frames["admin_areas"].geometry.iloc[0])
        with store.upsert_stream("population") as write:
            counts = WriteCounts()
            for batch in population:
                counts = counts + write(batch)
        totals["population"] = totals.get("population", WriteCounts()) + counts
        for layer, written in store.upsert_many(frames).items():
            totals[layer] = totals.get(layer, WriteCounts()) + written
        del frames, population
    if progress is not None:
        progress(size.prefectures, PROVINCE_NAME, "profile")
    totals.update(store.upsert_many({"city_profile": province_profile(outlines)}))
    return totals
