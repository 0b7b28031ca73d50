from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from layers.catalogue import CATALOGUE, ROAD_CLASSES
from layers.sample import generate_city, write_sample
from layers.sample.facilities import COUNTS
from layers.sample.geography import LAKE_GAUGES, RIVERS
from layers.sample.monitoring import GAUGED_RESERVOIR_CLASSES, RIVER_GAUGE_FRACTIONS
from layers.settings import JINING_REGION_BBOX
from layers.store import Store


def test_published_counts(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    for layer, count in COUNTS.items():  # Jining's published inventory
        assert len(sample_city[layer]) == count, layer
    admin = sample_city["admin_areas"]
    assert (admin["level"] == "区县").sum() == 11
    assert (admin["level"] == "乡镇街道").sum() == 156


def test_population_and_area_are_jinings(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    assert sample_city["population"]["persons"].sum() == 8_300_000
    admin = sample_city["admin_areas"]
    city = admin[admin["level"] == "市"].iloc[0]
    assert city["population"] == 8_300_000
    assert city["area_km2"] == pytest.approx(11_187, rel=0.001)
    counties = admin[admin["level"] == "区县"]
    assert counties["population"].sum() == 8_300_000
    townships = admin[admin["level"] == "乡镇街道"]
    assert townships["population"].sum() == 8_300_000
    assert townships["adcode"].is_unique and townships["name"].is_unique


def test_road_network_is_large_connected_and_hierarchical(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    roads = sample_city["roads"]
    assert len(roads) >= 30_000
    assert set(roads["road_class"]) == set(ROAD_CLASSES)
    coords = shapely.get_coordinates(roads.geometry.values).reshape(-1, 2, 2)
    _, node_ids = np.unique(coords.reshape(-1, 2), axis=0, return_inverse=True)
    ends = node_ids.reshape(-1, 2)
    n = int(node_ids.max()) + 1
    graph = coo_matrix((np.ones(len(ends)), (ends[:, 0], ends[:, 1])), shape=(n, n))
    assert connected_components(graph, directed=False)[0] == 1
    expressway_km = roads.loc[roads["road_class"] == "高速公路", "length_m"].sum() / 1000
    assert 150 < expressway_km < 1500


def test_everything_lies_in_the_region_and_is_valid(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    region = shapely.box(*JINING_REGION_BBOX)
    for layer, frame in sample_city.items():
        assert frame.crs.to_epsg() == 4326, layer
        assert frame.geometry.within(region).all(), layer
        assert frame.geometry.is_valid.all(), layer
        assert frame["source_id"].is_unique, layer
        assert set(frame.columns) == {*CATALOGUE[layer].columns, "geometry"}, layer


def test_reservoir_levels_and_classes(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    reservoirs = sample_city["reservoirs"]
    assert reservoirs["above_flood_limit"].sum() == 4
    assert (reservoirs["reservoir_class"] == "大(2)型").sum() == 1
    assert "尼山水库" in set(reservoirs["name"])


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_city(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    again = generate_city(370800)
    assert list(again) == list(sample_city)
    for layer, frame in sample_city.items():
        # the geometries byte for byte (WKB), the attributes value for value and dtype for dtype
        assert (frame.geometry.to_wkb() == again[layer].geometry.to_wkb()).all(), layer
        pd.testing.assert_frame_equal(pd.DataFrame(frame.drop(columns="geometry")), pd.DataFrame(again[layer].drop(columns="geometry")), check_exact=True, obj=layer)
        assert frame.crs == again[layer].crs, layer
    other = generate_city(1)
    assert other["shelters"].to_json() != sample_city["shelters"].to_json()


def test_writing_the_sample_twice_changes_nothing(store: Store) -> None:
    first = write_sample(store, 370800)
    assert first["roads"].inserted == store.count("roads")
    second = write_sample(store, 370800)
    assert all(c.written == 0 for c in second.values())
    counts = {i.name: i.count for i in store.list_layers()}
    for layer, count in COUNTS.items():  # Jining's published inventory
        assert counts[layer] == count


def test_the_gauges_stand_at_the_reservoirs_rivers_and_every_10_km(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    stations, reservoirs = sample_city["monitoring_stations"], sample_city["reservoirs"]
    assert stations["source_id"].is_unique and stations["name"].is_unique
    assert set(stations["status"]) == {"在线"} and stations["last_seen_at"].isna().all()
    levels = stations[stations["kind"] == "水位"]
    assert set(levels["unit"]) == {"m"}
    at_reservoirs = levels[levels["reservoir_id"].notna()].merge(reservoirs, left_on="reservoir_id", right_on="source_id", suffixes=("", "_r"))
    big = reservoirs[reservoirs["reservoir_class"].isin(GAUGED_RESERVOIR_CLASSES)]
    assert len(at_reservoirs) == len(big) == 20 and set(at_reservoirs["reservoir_id"]) == set(big["source_id"])
    assert (at_reservoirs["flood_limit_level_m"] == at_reservoirs["flood_limit_level_m_r"]).all()
    assert ((at_reservoirs["design_flood_level_m"] - at_reservoirs["flood_limit_level_m"]).between(2.0, 4.0)).all()
    gauge_m = at_reservoirs.geometry.to_crs(4548).distance(gpd.GeoSeries(at_reservoirs["geometry_r"], crs=4326).to_crs(4548))
    assert (gauge_m < 200).all(), "each at its reservoir's dam"
    rivers = levels[levels["river"].notna()]
    assert len(rivers) == len(RIVERS) * len(RIVER_GAUGE_FRACTIONS) + len(LAKE_GAUGES)
    assert set(rivers["river"]) == {name for name, _ in RIVERS} | {name for name, *_ in LAKE_GAUGES}
    assert (rivers["guaranteed_level_m"] > rivers["warning_level_m"]).all() and rivers["flood_limit_level_m"].isna().all()
    rain = stations[stations["kind"] == "雨量"]
    assert set(rain["unit"]) == {"mm"} and rain[["warning_level_m", "flood_limit_level_m"]].isna().all().all()
    admin = sample_city["admin_areas"]
    outline = admin.loc[admin["level"] == "市"].geometry.iloc[0]
    assert rain.within(outline).all() and stations["county_adcode"].notna().all()
    assert len(rain) == pytest.approx(11_187 / 100, rel=0.15), "one per 10 km × 10 km"
    xy = shapely.get_coordinates(rain.geometry.to_crs(4548).values)
    apart = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(apart, np.inf)
    assert np.median(apart.min(axis=1)) == pytest.approx(10_000, rel=0.25), "nearest neighbours about 10 km apart"
