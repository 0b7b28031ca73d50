"""The sample city (``onemap sample``): a seeded, Jining-like city for running everything with no
data at hand. Real where facts are known (county towns, the Nansi Lake, hills in the east, the
published inventory counts), synthetic everywhere else; see data/README.md.

Same seed → the same frames, to the last coordinate digit (coordinates are rounded to 1e-7°).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from gis.crs import STORE_EPSG, WORK_EPSG
from layers.catalogue import ROAD_CLASSES, get_layer
from layers.city import make_profile, profile_rows
from layers.io.validate import derive_geometric_fields
from layers.sample import facilities
from layers.sample.dem import Dem, build_dem
from layers.sample.geography import CITY_ADCODE, CITY_NAME
from layers.sample.land import (
    CELL_SIZE_M,
    Land,
    PopulationGrid,
    Township,
    build_land,
    build_population,
    build_townships,
)
from layers.sample.monitoring import monitoring_stations
from layers.sample.roads import build_roads
from layers.store.base import Store, WriteCounts

Progress = Callable[[str], None]

STEPS = ("land", "population", "townships", "roads", "facilities", "monitoring stations", "admin areas")
REGION_BUFFER_KM = 5.0
"""The sample city's region: its outline buffered by 5 km (in EPSG:4548)."""
"""The generator's steps, reported one by one to ``progress``."""

_TO_LONLAT = Transformer.from_crs(WORK_EPSG, STORE_EPSG, always_xy=True)


def _to_lonlat(geometries: np.ndarray) -> np.ndarray:
    def transform(coords: np.ndarray) -> np.ndarray:
        lon, lat = _TO_LONLAT.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(geometries, transform)


def _as_multi(geometries: np.ndarray) -> np.ndarray:
    return np.array(
        [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geometries], dtype=object
    )


def _frame(layer: str, columns: dict[str, object]) -> gpd.GeoDataFrame:
    spec = get_layer(layer)
    geometry = np.asarray(columns.pop("geometry"), dtype=object)
    if spec.geometry_type == "MultiPolygon":
        geometry = _as_multi(geometry)
    if spec.geometry_type in ("Polygon", "MultiPolygon"):
        geometry = shapely.orient_polygons(geometry)  # counter-clockwise exteriors, as imports store them
    data = pd.DataFrame(columns)
    frame = gpd.GeoDataFrame(data, geometry=_to_lonlat(geometry), crs=STORE_EPSG)
    derive_geometric_fields(spec, frame, work_epsg=WORK_EPSG)
    return frame


def _population(population: PopulationGrid) -> gpd.GeoDataFrame:
    populated = population.persons > 0
    return _frame(
        "population",
        {
            "source_id": [f"R{r}C{c}" for r, c in zip(population.row[populated], population.col[populated], strict=True)],
            "persons": population.persons[populated].astype(float),
            "cell_size_m": np.full(int(populated.sum()), CELL_SIZE_M),
            "geometry": population.cells()[populated],
        },
    )


def _admin_areas(land: Land, population: PopulationGrid, townships: list[Township]) -> gpd.GeoDataFrame:
    assert population.township is not None
    by_county = np.bincount(population.county, weights=population.persons, minlength=len(land.counties))
    by_township = np.bincount(population.township, weights=population.persons, minlength=len(townships))
    rows: list[tuple[str, str, str, str | None, int, BaseGeometry]] = [
        (CITY_ADCODE, CITY_NAME, "市", None, int(population.persons.sum()), land.boundary)
    ]
    rows += [(c.adcode, c.name, "区县", CITY_ADCODE, int(n), p) for (c, p), n in zip(land.counties, by_county, strict=True)]
    rows += [(t.adcode, t.name, "乡镇街道", t.county.adcode, int(n), t.polygon) for t, n in zip(townships, by_township, strict=True)]
    return admin_frame_of(rows, np.array([r[5] for r in rows], dtype=object))


def admin_frame_of(rows: list[tuple[Any, ...]], geometry: Any) -> gpd.GeoDataFrame:
    """The admin_areas frame of rows (adcode, name, level, parent adcode, population, polygon) and
    their geometry (work CRS): the city's and each prefecture of the province's."""
    return _frame(
        "admin_areas",
        {
            "source_id": [r[0] for r in rows],
            "adcode": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "parent_adcode": [r[3] for r in rows],
            "population": [r[4] for r in rows],
            "area_km2": None,  # derived below, as the importer derives it
            "geometry": geometry,
        },
    )


def _roads(land: Land, townships: list[Township], rng: np.random.Generator) -> gpd.GeoDataFrame:
    network = build_roads(land, townships, rng)
    lines = network.lines()
    classes = [ROAD_CLASSES[r] for r in network.rank]
    return _frame(
        "roads",
        {
            "source_id": [f"RD{i + 1:06d}" for i in range(len(lines))],
            "name": network.names,
            "road_class": classes,
            "speed_kmh": None,  # each class's speed (settings, else ROAD_CLASS_SPEED_KMH)
            "oneway": network.oneway,
            "length_m": None,  # derived below, as the importer derives it
            "declared_length_m": None,  # no ledger length: travel times use the geometry
            "geometry": lines,
        },
    )


def _city_profile(admin_areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Jining's city profile from the sample's own outline (the 市 row): EPSG:4548, 5 km region."""
    city = admin_areas.loc[admin_areas["level"] == "市"].iloc[0]
    profile = make_profile(name=CITY_NAME, adcode=CITY_ADCODE, outline=city.geometry, region_buffer_km=REGION_BUFFER_KM, work_epsg=WORK_EPSG, source_file="onemap sample")
    return profile_rows(profile)


SAMPLE_DEM_SEED = 7
"""The seed of the sample DEM's landscape (its valleys still follow the city's own reservoirs)."""


def sample_dem(seed: int, *, cell_m: float = 90.0) -> Dem:
    """The sample city's synthetic DEM (EPSG:4548, whole city + 5 km, ``cell_m`` cells): the land
    and reservoirs drawn as ``generate_city`` draws them, each reservoir in a valley draining to
    the lake (layers/sample/dem.py). Heights in metres."""
    rng = np.random.default_rng(seed)
    land = build_land(rng)
    population = build_population(land, rng)
    townships = build_townships(land, population, rng)
    reservoirs = facilities.reservoirs(land, population, townships, rng)
    return build_dem(land, cell_m=cell_m, seed=SAMPLE_DEM_SEED, valley_points=shapely.get_coordinates(np.asarray(reservoirs["geometry"])))


def generate_city(seed: int, *, progress: Progress | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Every sample layer (except the user-written ``incidents``, ``road_closures`` and ``alerts``)
    as a frame in EPSG:4326; monitoring stations without observations."""
    report = progress or (lambda step: None)
    rng = np.random.default_rng(seed)
    report("land")
    land = build_land(rng)
    report("population")
    population = build_population(land, rng)
    report("townships")
    townships = build_townships(land, population, rng)
    report("roads")
    roads = _roads(land, townships, rng)
    report("facilities")
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name in ("reservoirs", "geohazard_points", "chemical_parks", "shelters", "rescue_stations", "supply_depots", "flood_prone_areas"):
        builder: facilities.Builder = getattr(facilities, name)
        columns = builder(land, population, townships, rng)
        if name == "chemical_parks":
            enterprises = facilities.hazardous_enterprises(land, population, townships, rng, columns)
            layers["hazardous_enterprises"] = _frame("hazardous_enterprises", enterprises)
        if name == "reservoirs":
            reservoirs = dict(columns)  # _frame takes the geometry out of columns
        layers[name] = _frame(name, columns)
    report("monitoring stations")
    layers["monitoring_stations"] = _frame("monitoring_stations", monitoring_stations(land, townships, reservoirs, rng))
    report("admin areas")
    layers["water_bodies"] = _frame(
        "water_bodies",
        {"source_id": ["WB0001"], "name": ["南四湖"], "kind": ["湖泊"], "area_km2": None, "geometry": [land.lake.intersection(land.boundary)]},
    )
    layers["admin_areas"] = _admin_areas(land, population, townships)
    layers["city_profile"] = _city_profile(layers["admin_areas"])
    layers["population"] = _population(population)
    layers["roads"] = roads
    return layers


def write_sample(store: Store, seed: int, *, progress: Progress | None = None) -> dict[str, WriteCounts]:
    """Generate the sample city and upsert it into ``store`` in one transaction (all or nothing)."""
    layers = generate_city(seed, progress=progress)
    if progress:
        progress("writing")
    return store.upsert_many(layers)
