"""Risk zoning from frames: config validation, skipped empty layers, flood polygons, a reservoir above
its flood-limit level, population spread onto the grid, the per-area table."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.risk import RiskGrid, RiskInputError
from gis.risk.surfaces import population_grid
from gis.risk.zoning import config_from_mapping, zone_risk

EPSG = 4548
X0, Y0 = 500_000.0, 3_900_000.0


def _town() -> dict[str, gpd.GeoDataFrame]:
    """A 3 km × 2 km town of 500 m population cells, two townships, one reservoir, one flood area."""
    cells = [shapely.box(X0 + x, Y0 + y, X0 + x + 500, Y0 + y + 500) for x in range(0, 3000, 500) for y in range(0, 2000, 500)]
    population = gpd.GeoDataFrame({"persons": np.full(len(cells), 2500.0)}, geometry=cells, crs=EPSG)
    admin = gpd.GeoDataFrame(
        {"adcode": ["370811", "370811001", "370811002"], "name": ["区", "西", "东"], "level": ["区县", "乡镇街道", "乡镇街道"], "parent_adcode": ["370800", "370811", "370811"]},
        geometry=[shapely.box(X0, Y0, X0 + 3000, Y0 + 2000), shapely.box(X0, Y0, X0 + 1500, Y0 + 2000), shapely.box(X0 + 1500, Y0, X0 + 3000, Y0 + 2000)],
        crs=EPSG,
    )
    reservoirs = gpd.GeoDataFrame({"name": ["东湖"], "reservoir_class": ["中型"], "flood_limit_level_m": [50.0], "current_level_m": [49.0]}, geometry=[shapely.Point(X0 + 2750, Y0 + 1750)], crs=EPSG)
    flood = gpd.GeoDataFrame({"kind": ["易涝区"]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 500)], crs=EPSG)
    stations = gpd.GeoDataFrame({"name": ["站"]}, geometry=[shapely.Point(X0 + 250, Y0 + 1750)], crs=EPSG)
    return {"population": population, "admin_areas": admin, "reservoirs": reservoirs, "flood_prone_areas": flood, "rescue_stations": stations}


def _zone(town: dict[str, gpd.GeoDataFrame], **config: object):  # type: ignore[no-untyped-def]
    grid = RiskGrid.covering(town["admin_areas"].total_bounds, 100.0, EPSG)
    layers = {k: v for k, v in town.items() if k in ("reservoirs", "flood_prone_areas", "geohazard_points")}
    return zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid, config=config_from_mapping(config or None))


def test_zoning_on_a_small_town() -> None:
    town = _town()
    result = _zone(town, classification="fixed", breaks=[0.05, 0.1, 0.2])
    assert result.grid.shape == (20, 30)
    assert result.persons.sum() == pytest.approx(town["population"]["persons"].sum())
    assert result.persons.max() == pytest.approx(100.0), "2,500 residents spread over 25 cells of 100 m"
    # The flood area burns the intensity of 易涝区 into its cells (bottom-left 1 km × 500 m).
    assert result.hazards["flood_prone_areas"][15:20, 0:10] == pytest.approx(0.6)  # 易涝区 in ordinary weather
    assert result.hazards["flood_prone_areas"][0:15].max() == 0
    assert result.capacity_mode == "euclidean" and any("straight-line" in n for n in result.notes)
    assert any("geohazard_points: no features" in n for n in result.notes)
    assert (result.levels > 0).all() and set(np.unique(result.levels)) <= {1, 2, 3, 4}
    townships = result.areas.loc[result.areas["level"] == "乡镇街道"]
    per_level = townships[[f"residents_{z}" for z in ("低", "一般", "较大", "重大")]].sum(axis=1)
    assert per_level.sum() == pytest.approx(result.persons.sum(), rel=1e-6)
    assert set(townships["top_hazards"].str.split("、").explode()) <= {"reservoirs", "flood_prone_areas", "capacity"}
    assert set(result.polygons["level"]) <= {"低", "一般", "较大", "重大"} and result.polygons.crs.to_epsg() == 4326
    for code, name in ((1, "低"), (2, "一般"), (3, "较大"), (4, "重大")):  # the totals, cell by cell
        cells = result.levels == code
        assert result.level_totals[name]["area_km2"] == pytest.approx(cells.sum() * 0.01)
        assert result.level_totals[name]["residents"] == pytest.approx(float(result.persons[cells].sum()), rel=1e-6)
    assert sum(t["residents"] for t in result.level_totals.values()) == pytest.approx(town["population"]["persons"].sum(), rel=1e-6)


def test_a_reservoir_above_its_flood_limit_counts_more() -> None:
    town = _town()
    calm = _zone(town).hazards["reservoirs"]
    town["reservoirs"] = town["reservoirs"].assign(current_level_m=51.0)
    alert = _zone(town).hazards["reservoirs"]
    assert alert.max() == pytest.approx(min(1.0, 0.65 * 1.5))
    assert (alert >= calm).all() and (alert > calm).any()


def test_population_larger_than_the_grid_is_spread_by_area() -> None:
    grid = RiskGrid(EPSG, 1000.0, X0, Y0 + 1000, 1, 1)
    half = gpd.GeoDataFrame({"persons": [400.0]}, geometry=[shapely.box(X0 - 1000, Y0, X0 + 1000, Y0 + 1000)], crs=EPSG)
    assert population_grid(grid, half)[0, 0] == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"weights": {"volcanoes": 1}}, "unknown factors ['volcanoes']"),
        ({"weights": {"reservoirs": -0.2}}, "weight of reservoirs must be a number ≥ 0"),
        ({"weights": {"reservoirs": 0}}, "every weight is 0"),
        ({"factors": {"tsunami": {}}}, "unknown factor 'tsunami'"),
        ({"colour": "red"}, "unknown keys ['colour']"),
        ({"classification": "guess"}, "classification must be one of"),
        ({"breaks": [0.3, 0.2, 0.1]}, "three increasing"),
        ({"ahp": {"factors": ["reservoirs", "flood_prone_areas", "capacity"], "matrix": [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]}}, "inconsistent: CR ="),
        ({"ahp": {"factors": ["reservoirs", "lava"], "matrix": [[1, 2], [0.5, 1]]}}, "unknown ['lava']"),
        ({"weights": {"reservoirs": 1}, "ahp": {}}, "not both"),
    ],
)
def test_bad_configs_are_refused(document: dict[str, object], words: str) -> None:
    with pytest.raises(RiskInputError, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        config_from_mapping(document, source="risk.yaml")


def test_consistent_ahp_gives_the_weights() -> None:
    config = config_from_mapping({"ahp": {"factors": ["reservoirs", "flood_prone_areas", "capacity"], "matrix": [[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]]}})
    assert list(config.weights.values()) == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    assert config.as_dict()["ahp"]["consistency_ratio"] == pytest.approx(0.0, abs=1e-9)


def test_no_hazard_at_all_is_an_error() -> None:
    town = _town()
    town["reservoirs"] = town["reservoirs"].iloc[0:0]
    town["flood_prone_areas"] = town["flood_prone_areas"].iloc[0:0]
    with pytest.raises(RiskInputError, match="no hazard layer has features"):
        _zone(town)


def test_a_dem_in_another_crs_gives_the_slope_factor() -> None:
    from rasterio.transform import from_origin

    from gis.risk.surfaces import Dem

    town = _town()
    # A DEM in lon/lat rising 10 m per 100 m eastwards (≈ 5.7°) over a box larger than the town.
    west, south, east, north = town["admin_areas"].to_crs(4326).total_bounds
    step = 0.0005
    cols, rows = int((east - west) / step) + 20, int((north - south) / step) + 20
    lon = west - 10 * step + step * (np.arange(cols) + 0.5)
    metres_east = (lon - lon[0]) * 111_320 * np.cos(np.radians((south + north) / 2))
    elevation = np.tile(metres_east * 0.1, (rows, 1))
    dem = Dem(elevation, from_origin(west - 10 * step, north + 10 * step, step, step), "EPSG:4326")
    grid = RiskGrid.covering(town["admin_areas"].total_bounds, 100.0, EPSG)
    layers = {"reservoirs": town["reservoirs"]}
    result = zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid, dem=dem)
    slope = result.hazards["slope"][2:-2, 2:-2]
    assert np.degrees(np.arctan(0.1)) / 30 == pytest.approx(float(np.median(slope)), rel=0.05)
    far = Dem(elevation, from_origin(100.0, 30.0, step, step), "EPSG:4326")
    with pytest.raises(RiskInputError, match="the DEM covers only 0% of the city"):
        zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid, dem=far)
    without = zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid)
    assert "slope" not in without.hazards and any("slope: no DEM given" in n for n in without.notes)


def test_blocks_do_not_change_the_answer() -> None:
    from rasterio.transform import from_origin

    from gis.risk.surfaces import Dem

    town = _town()
    town["geohazard_points"] = gpd.GeoDataFrame({"danger_grade": ["大型"]}, geometry=[shapely.Point(X0 + 1210, Y0 + 980)], crs=EPSG)
    west, south, east, north = town["admin_areas"].to_crs(4326).total_bounds
    rng = np.random.default_rng(3)
    dem = Dem(rng.uniform(0, 50, (80, 80)), from_origin(west - 0.01, north + 0.01, (east - west + 0.02) / 80, (north - south + 0.02) / 80), "EPSG:4326")
    grid = RiskGrid.covering(town["admin_areas"].total_bounds, 100.0, EPSG)
    layers = {k: town[k] for k in ("reservoirs", "flood_prone_areas", "geohazard_points")}
    whole = zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid, dem=dem)
    for rows in (1, 3, 7):
        blocked = zone_risk(layers, town["population"], town["admin_areas"], town["rescue_stations"], grid=grid, dem=dem, block_rows=rows)
        assert np.array_equal(blocked.score, whole.score) and np.array_equal(blocked.levels, whole.levels)
        for name in whole.hazards:
            assert np.array_equal(blocked.hazards[name], whole.hazards[name]), name
        assert np.array_equal(blocked.persons, whole.persons)


def test_a_reservoir_without_a_class_counts_with_the_lowest_intensity() -> None:
    town = _town()
    town["reservoirs"]["reservoir_class"] = [None]  # a ledger without 规模 (found on a second city)
    result = _zone(town)
    assert result.hazards["reservoirs"].max() > 0
    assert any("without a known reservoir_class" in n for n in result.notes)
