"""``onemap scenario plume|area`` on the sample city (issue 16, first part): the footprint's
residents against an independent geopandas overlay, facilities inside, InaSAFE's needs, and bad
input refused with exit 2."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.settings import Settings
from tests.helpers import run_cli, snapshot

pytestmark = pytest.mark.xdist_group("cli-scenario")  # its module fixtures are built once, on one worker (--dist loadgroup)

PLUME = ["scenario", "plume", "--at", "116.59,35.41", "--wind-from", "45", "--wind-speed", "3", "--stability", "D", "--rate", "1000", "--thresholds", "58,5.8,1.5"]


def _json(settings: Settings, *args: str) -> dict[str, Any]:
    result = run_cli(settings, *args, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _overlay_residents(settings: Settings, footprint: shapely.Geometry) -> float:
    """Persons in ``footprint`` (EPSG:4326) by an independent overlay: each cell's persons × the
    share of its area inside, in the work CRS."""
    cells = snapshot(settings, "population").to_crs(4548)
    area = gpd.GeoDataFrame(geometry=[footprint], crs=4326).to_crs(4548)
    pieces = gpd.overlay(cells.assign(cell_area=cells.area), area, how="intersection")
    return float((pieces["persons"] * pieces.area / pieces["cell_area"]).sum())


def test_a_plume_reaches_the_residents_an_overlay_counts_and_needs_what_inasafe_says(sample_settings: Settings) -> None:
    body = _json(sample_settings, *PLUME)
    assert {"id", "kind", "zones", "impact", "needs", "shortfalls"} <= set(body) and body["kind"] == "plume"
    zones = [shapely.geometry.shape(z["geometry"]) for z in body["zones"]]
    assert [z["zone"] for z in body["zones"]] == ["红区", "橙区", "黄区"]
    assert zones[0].area < zones[1].area < zones[2].area
    assert zones[0].difference(zones[1]).area < 1e-4 * zones[0].area and zones[1].difference(zones[2]).area < 1e-4 * zones[1].area, "nested"
    centre = shapely.unary_union(zones).centroid
    assert centre.x < 116.59 and centre.y < 35.41, "a north-east wind carries the gas south-west"

    impact = body["impact"]
    expected = _overlay_residents(sample_settings, zones[2])
    assert impact["residents"] == pytest.approx(expected, rel=1e-6, abs=1)
    assert impact["residents"] > 1000 and impact["displaced"] == impact["residents"]
    assert sum(t["residents"] for t in impact["by_township"]) == pytest.approx(impact["residents"], abs=len(impact["by_township"]))
    assert {t["zone"] for t in impact["by_township"]} == {"红区", "橙区", "黄区"}

    for facility in body["facilities_inside"]:
        assert zones[2].contains(shapely.Point(facility["lon"], facility["lat"]))
    depots = snapshot(sample_settings, "supply_depots")
    inside = depots[depots.within(zones[2])]
    assert sorted(f["source_id"] for f in body["facilities_inside"] if f["layer"] == "supply_depots") == sorted(inside["source_id"])

    needs = {n["item"]: n["quantity"] for n in body["needs"]}
    displaced = impact["displaced"]
    assert body["needs_profile"]["days"] == 7
    assert needs["rice"] == pytest.approx(2.8 * displaced, rel=1e-3), "InaSAFE: 2.8 kg of rice per person per week"
    assert needs["toilet"] == -(-displaced // 20), "one toilet per 20 persons, rounded up"
    assert any("--stocks" in w for w in body["warnings"]), "without a ledger nothing is available: said"
    assert {s["item"]: (s["available"], s["short"]) for s in body["shortfalls"]} == {item: (0, quantity) for item, quantity in needs.items()}


def test_a_hazard_area_in_another_crs_with_depth_classes(sample_settings: Settings, tmp_path: Path) -> None:
    centre = gpd.GeoSeries([shapely.Point(116.59, 35.41)], crs=4326).to_crs(4548).iloc[0]
    deep, shallow = centre.buffer(800), centre.buffer(2000).difference(centre.buffer(800))
    path = tmp_path / "flood.gpkg"
    gpd.GeoDataFrame({"水深": ["0.5-1.5m", ">1.5m"]}, geometry=[shallow, deep], crs=4548).to_file(path)
    body = _json(sample_settings, "scenario", "area", str(path), "--zone-field", "水深", "--order", ">1.5m,0.5-1.5m", "--displaced", "0.5")
    assert [z["zone"] for z in body["zones"]] == [">1.5m", "0.5-1.5m"]
    by_zone = {z["zone"]: z for z in body["impact"]["by_zone"]}
    whole = gpd.GeoSeries([centre.buffer(2000)], crs=4548).to_crs(4326).iloc[0]
    assert body["impact"]["residents"] == pytest.approx(_overlay_residents(sample_settings, whole), rel=1e-6, abs=1)
    assert by_zone[">1.5m"]["displaced"] == pytest.approx(by_zone[">1.5m"]["residents"] * 0.5, abs=1)

    # the displaced go to shelters outside the water, none over its capacity
    evacuation = body["evacuation"]
    assert evacuation["placed"] + evacuation["unplaced"] == pytest.approx(body["impact"]["displaced"], abs=2)
    flooded = {f["source_id"] for f in body["facilities_inside"] if f["layer"] == "shelters"}
    assert flooded, "the 2 km disc holds shelters, which cannot be used"
    used = {s["source_id"] for s in evacuation["shelters"]}
    assert used and not used & flooded
    assert all(s["assigned"] <= s["capacity"] for s in evacuation["shelters"])
    assert sum(s["assigned"] for s in evacuation["shelters"]) == pytest.approx(evacuation["placed"], abs=len(used))
    assert 0 < evacuation["mean_walk_min"] <= 60


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--wind-speed", "0"], "wind_ms must be > 0"),
        (["--rate", "-5"], "release_g_s must be > 0"),
        (["--stability", "Q"], "stability"),
        (["--thresholds", "1.5,5.8,58"], "strictly decreasing"),
    ],
)
def test_bad_plume_input_is_exit_2_with_the_reason(sample_settings: Settings, change: list[str], message: str) -> None:
    args = list(PLUME)
    option = args.index(change[0])
    args[option + 1] = change[1]
    result = run_cli(sample_settings, *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    _nothing_stored(sample_settings)


def _nothing_stored(settings: Settings) -> None:
    from layers.store import open_store

    with open_store(settings) as store:
        assert store.list_scenarios() == [] and snapshot(settings, "road_closures").empty, "a refused scenario writes nothing"


def test_a_needs_profile_with_an_unknown_unit_is_named(sample_settings: Settings, tmp_path: Path) -> None:
    profile = tmp_path / "needs.yaml"
    profile.write_text("name: test\nsource: a test\ndays: 3\nitems:\n  - {item: rice, name_zh: 大米, unit: catty, quantity: 1, period: day}\n", encoding="utf-8")
    result = run_cli(sample_settings, *PLUME, "--profile", str(profile))
    assert result.exit_code == 2 and "needs.yaml" in result.output and "catty" in result.output and "kg" in result.output, result.output


def test_a_footprint_outside_the_city_is_said(sample_settings: Settings) -> None:
    body = _json(sample_settings, "scenario", "plume", "--at", "113.0,30.0", *PLUME[4:])
    assert body["impact"]["residents"] == 0 and any("lies outside the city's region" in w for w in body["warnings"])


def test_an_area_file_of_points_is_refused(sample_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(116.59, 35.41)], crs=4326).to_file(path)
    result = run_cli(sample_settings, "scenario", "area", str(path))
    assert result.exit_code == 2 and "points.geojson" in result.output and "must be polygons" in result.output, result.output


def _flood(tmp_path: Path) -> Path:
    centre = gpd.GeoSeries([shapely.Point(116.59, 35.41)], crs=4326).to_crs(4548).iloc[0]
    path = tmp_path / "flood.gpkg"
    gpd.GeoDataFrame({"水深": ["0.5-1.5m", ">1.5m"]}, geometry=[centre.buffer(2000).difference(centre.buffer(800)), centre.buffer(800)], crs=4548).to_file(path)
    return path


def _ledger(tmp_path: Path, rows: Sequence[tuple[object, ...]]) -> Path:
    import pandas as pd

    path = tmp_path / "库存台账.xlsx"
    pd.DataFrame(rows, columns=["储备库", "物资", "数量", "单位"]).to_excel(path, index=False)
    return path


def test_stocks_are_sent_by_road_around_the_flood_and_shortfalls_add_up(sample_settings: Settings, tmp_path: Path) -> None:
    from layers.services.routing import Closures, RoutingService
    from layers.store import open_store

    depots = snapshot(sample_settings, "supply_depots")
    flood = _flood(tmp_path)
    footprint = gpd.read_file(flood).to_crs(4326).union_all()
    drowned = depots.loc[depots.within(footprint), "source_id"].iloc[0]
    rows = [("WZ0001", "大米", 20000, "千克"), ("任城区应急物资储备库", "rice", 5000, "kg"), ("WZ0003", "饮用水", 100000, "升"), ("WZ0005", "厕所", 300, "个"), (drowned, "大米", 99999, "公斤"), ("WZ0005", "帐篷", 50, "顶")]
    body = _json(sample_settings, "scenario", "area", str(flood), "--zone-field", "水深", "--stocks", str(_ledger(tmp_path, rows)))
    short = {r["item"]: r for r in body["shortfalls"]}
    assert short["rice"]["available"] == 20000 + 5000 + 99999
    assert short["rice"]["sent"] == 25000, "the depot under water sends nothing"
    assert any(drowned in w for w in body["warnings"]) and any("帐篷" in w for w in body["warnings"])
    for row in short.values():
        assert row["sent"] + row["short"] == pytest.approx(row["needed"], rel=1e-9)
        assert row["sent"] <= row["available"]
    assert short["clean_water"]["sent"] == 0 and short["clean_water"]["short"] == short["clean_water"]["needed"]
    received: dict[str, float] = {}
    for delivery in body["deliveries"]:
        received[delivery["item"]] = received.get(delivery["item"], 0) + delivery["quantity"]
    assert received["rice"] == 25000 and received["toilet"] == 300

    # one delivery's time, again by the routing service's own route around the same closures
    delivery = body["deliveries"][0]
    shelter = next(s for s in body["evacuation"]["shelters"] if s["source_id"] == delivery["shelter_id"])
    depot = depots.set_index("source_id").geometry[delivery["depot_id"]]
    with open_store(sample_settings) as store:
        routing = RoutingService(store, sample_settings)
        route = routing.route((depot.x, depot.y), (shelter["lon"], shelter["lat"]), closures=routing.closures(Closures(tuple(gpd.read_file(flood).to_crs(4326).geometry))))
    assert delivery["travel_time_min"] == pytest.approx(route["travel_time_min"].iloc[0], abs=0.05)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("WZ9999", "大米", 10, "千克"), "row 2 储备库: no supply depot has the id or name 'WZ9999'"),
        (("WZ0001", "大米", 10, "升"), "row 2 单位: 大米 is counted in kg"),
        (("WZ0001", "大米", -3, "千克"), "row 2 数量"),
    ],
)
def test_a_bad_stock_ledger_names_the_row_and_field(sample_settings: Settings, tmp_path: Path, row: tuple[object, ...], message: str) -> None:
    result = run_cli(sample_settings, "scenario", "area", str(_flood(tmp_path)), "--stocks", str(_ledger(tmp_path, [row])))
    assert result.exit_code == 2 and message in result.output and "库存台账.xlsx" in result.output, result.output


@pytest.fixture(scope="module")
def dem_sample(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """A copy of the sample city and its synthetic DEM, written by ``onemap sample --dem``."""
    import shutil

    folder = tmp_path_factory.mktemp("dem-sample")
    shutil.copy(sample_gpkg, folder / "store.gpkg")
    settings = Settings(store=str(folder / "store.gpkg"))
    result = run_cli(settings, "sample", "--dem", str(folder / "dem.tif"))
    assert result.exit_code == 0 and "sample DEM (synthetic, 90 m, EPSG:4548)" in result.output, result.output
    return settings, folder / "dem.tif"


def test_a_dam_break_floods_downstream_within_the_released_volume(dem_sample: tuple[Settings, Path]) -> None:
    settings, dem = dem_sample
    body = _json(settings, "scenario", "dam-break", "--reservoir", "SK0001", "--dem", str(dem))
    assert body["kind"] == "dam-break" and body["parameters"]["name"] == "尼山水库"
    flood = body["dam_break"]
    assert 0 < flood["flooded_volume_m3"] <= flood["released_volume_m3"] == 107_757_000
    assert flood["peak_outflow_m3s"] > 0
    assert any("not above the DEM's streambed" in w for w in body["warnings"]), "the ledger's level and the DEM disagree: said, not hidden"
    zones = [shapely.geometry.shape(z["geometry"]) for z in body["zones"]]
    assert [z["zone"] for z in body["zones"]][0].startswith("水深 >") and len(zones) == 4
    assert body["arrival_bands"] and all(b["area_km2"] >= 0 for b in body["arrival_bands"])
    whole = shapely.unary_union([b for b in zones if not b.is_empty])
    arrivals = shapely.unary_union([shapely.geometry.shape(b["geometry"]) for b in body["arrival_bands"]])
    assert abs(whole.area - arrivals.area) < 0.01 * whole.area, "the arrival bands cover the flood"
    dam = snapshot(settings, "reservoirs").set_index("source_id").geometry["SK0001"]
    assert whole.distance(dam) < 0.01, "the flood starts at the dam"
    # depth classes are disjoint (cells of one raster): their overlays add up to the flood's residents
    assert body["impact"]["residents"] == pytest.approx(sum(_overlay_residents(settings, zone) for zone in zones), rel=1e-4, abs=1)

    level = _json(settings, "scenario", "dam-break", "--reservoir", "SK0001", "--dem", str(dem), "--level", "300")
    assert level["parameters"]["level_m"] == 300 and not any("streambed" in w for w in level["warnings"])


def test_a_dem_that_misses_the_dam_or_an_unknown_reservoir_is_exit_2(dem_sample: tuple[Settings, Path], tmp_path: Path) -> None:
    from affine import Affine

    from layers.io.dem_file import to_dem_tiff

    settings, dem = dem_sample
    far = to_dem_tiff(tmp_path / "beijing.tif", np.full((20, 20), 50.0), Affine(0.01, 0, 116.3, 0, -0.01, 40.0), 4326)
    result = run_cli(settings, "scenario", "dam-break", "--reservoir", "SK0001", "--dem", str(far))
    assert result.exit_code == 2 and "beijing.tif" in result.output and "misses the reservoir" in result.output, result.output
    unknown = run_cli(settings, "scenario", "dam-break", "--reservoir", "SK9999", "--dem", str(dem))
    assert unknown.exit_code == 2 and "no feature with source_id 'SK9999'" in unknown.output, unknown.output


def test_a_reservoir_without_capacity_is_exit_2_and_nothing_is_stored(dem_sample: tuple[Settings, Path], tmp_path: Path) -> None:
    import shutil

    from layers.store import open_store

    settings, dem = dem_sample
    copy = settings.model_copy(update={"store": str(tmp_path / "store.gpkg")})
    shutil.copy(settings.store, copy.store)
    with open_store(copy) as store:
        reservoir = store.get("reservoirs", "SK0001")
        reservoir["capacity_m3"] = None
        store.upsert("reservoirs", reservoir)
        before = len(store.list_scenarios(limit=1000)), len(store.read("road_closures"))
    result = run_cli(copy, "scenario", "dam-break", "--reservoir", "SK0001", "--dem", str(dem), "--activate")
    assert result.exit_code == 2 and "capacity" in result.output and "Traceback" not in result.output, result.output
    with open_store(copy) as store:
        assert (len(store.list_scenarios(limit=1000)), len(store.read("road_closures"))) == before, "a refused dam break writes nothing"
