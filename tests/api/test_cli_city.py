"""`onemap init` and `onemap info` as a user runs them, and a second city end to end: a city that is
not Jining, in another Gauss-Krüger zone, set up from its DataV boundary (GCJ-02) with no setting
by hand, then routed, covered and zoned, its lengths geodesic to 0.1 %."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from pyproj import Geod

from api.cli import main
from api.main import create_app
from gis.crs import wgs84_to_gcj02
from layers.sample import other_city
from layers.sample.other_city import build_other_city, to_other_city_files
from layers.settings import JINING_REGION_BBOX, Settings
from layers.store import open_store

pytestmark = pytest.mark.xdist_group("cli-city")  # its module fixtures are built once, on one worker (--dist loadgroup)

GEOD = Geod(ellps="WGS84")
LAYERS = ("roads", "population", "shelters", "rescue_stations", "supply_depots", "reservoirs", "geohazard_points", "chemical_parks", "flood_prone_areas")


@pytest.fixture(autouse=True)
def _no_settings_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ONEMAP_WORK_EPSG", "ONEMAP_REGION_BBOX", "ONEMAP_REGION_BUFFER_KM", "ONEMAP_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def city_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return to_other_city_files(tmp_path_factory.mktemp("jinguan-files"))


@pytest.fixture(scope="module")
def city_store(tmp_path_factory: pytest.TempPathFactory, city_files: dict[str, Path]) -> Path:
    """A GeoPackage set up as a bureau would: init from the DataV _full file, then the ledgers
    imported with `onemap import` — no ONEMAP_WORK_EPSG, no region. Copy before writing."""
    store = tmp_path_factory.mktemp("jinguan") / "store.gpkg"
    result = onemap(store, "init", "--boundary", str(city_files["boundary_full"]), "--from", "gcj02", "--name", other_city.NAME)
    assert result.exit_code == 0, result.output
    for layer in LAYERS:
        imported = onemap(store, "import", layer, str(city_files[layer]))
        assert imported.exit_code == 0, imported.output
    return store


def onemap(store: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--store", str(store), *args], catch_exceptions=False)


def _state(path: Path) -> dict[str, tuple[int, str]]:
    with open_store(Settings(store=str(path))) as store:
        return {info.name: (info.count, store.layer_version(info.name)) for info in store.list_layers()}


def test_init_prints_the_city_and_its_repairs(tmp_path: Path, city_files: dict[str, Path]) -> None:
    result = onemap(tmp_path / "s.gpkg", "init", "--boundary", str(city_files["boundary_full"]), "--from", "gcj02", "--name", other_city.NAME)
    assert result.exit_code == 0, result.output
    assert f"城市 city: {other_city.NAME} ({other_city.ADCODE})" in result.stdout
    assert "EPSG:4544" in result.stdout and "outline + 5 km" in result.stdout and "3 区县, 0 乡镇街道: 4 new" in result.stdout
    assert "锦里区 (519902): Self-intersection" in result.stderr and "repaired" in result.stderr
    assert "converted from GCJ02 to WGS 84" in result.stderr


def test_info_json(city_store: Path) -> None:
    result = onemap(city_store, "info", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["city"], info["adcode"], info["work_epsg"]) == (other_city.NAME, other_city.ADCODE, 4544)
    assert info["region_buffer_km"] == 5.0 and info["region"] == "outline buffered"
    assert info["sources"] == {"work_epsg": "profile", "region_bbox": "profile", "region_buffer_km": "profile"}
    geodesic_km2 = abs(GEOD.geometry_area_perimeter(build_other_city().outline)[0]) / 1e6
    assert info["outline_area_km2"] == pytest.approx(geodesic_km2, rel=1e-3)
    x0, y0, x1, y1 = info["region_bbox"]
    outline = build_other_city().outline.bounds
    assert x0 < outline[0] and y0 < outline[1] and x1 > outline[2] and y1 > outline[3]
    assert (outline[1] - y0) * 111.2 == pytest.approx(5.0, rel=0.02)
    assert info["admin_areas"] == {"市": 1, "区县": 3, "乡镇街道": 0}
    text = onemap(city_store, "info").stdout
    assert "锦官市 (519900)" in text and "EPSG:4544  [profile]" in text


def test_the_environment_overrides_the_profile(city_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEMAP_WORK_EPSG", "4545")
    info = json.loads(onemap(city_store, "info", "--json").stdout)
    assert info["work_epsg"] == 4545 and info["profile_work_epsg"] == 4544
    assert info["sources"]["work_epsg"] == "environment" and info["sources"]["region_bbox"] == "profile"


def test_info_without_a_profile_creates_nothing(tmp_path: Path) -> None:
    store = tmp_path / "none.gpkg"
    result = onemap(store, "info", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["city"] is None and info["work_epsg"] == 4548 and info["region_bbox"] == list(JINING_REGION_BBOX)
    assert set(info["sources"].values()) == {"default"}
    assert not store.exists()
    assert "no city profile in this store — run onemap init" in onemap(store, "info").stdout


def test_a_second_city_in_another_zone_runs_route_coverage_and_risk(city_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(city_store, store)
    lon, lat = other_city.CENTRE
    routed = onemap(store, "route", "nearest", "--lon", str(lon), "--lat", str(lat), "--layers", "rescue_stations,shelters", "-k", "2", "--json")
    assert routed.exit_code == 0, routed.output
    features = json.loads(routed.stdout)["features"]
    routes = [f for f in features if f["geometry"] and f["geometry"]["type"] == "LineString"]
    assert len(routes) == 4 and all(0 < f["properties"]["travel_time_min"] < 30 for f in routes)
    covered = onemap(store, "coverage", "--out", str(tmp_path / "coverage"))
    assert covered.exit_code == 0, covered.output
    assert "避难场所覆盖 shelter coverage" in covered.stdout and (tmp_path / "coverage" / "coverage.gpkg").exists()
    zoned = onemap(store, "risk", "--resolution", "500", "--out", str(tmp_path / "risk"))
    assert zoned.exit_code == 0, zoned.output
    assert "stored" in zoned.stdout and "risk_zones" in zoned.stdout
    with rasterio.open(tmp_path / "risk" / "risk_level.tif") as raster:
        assert raster.crs.to_epsg() == 4544  # the city's own zone, from the profile


def test_stored_road_lengths_are_geodesic_to_a_thousandth(city_store: Path) -> None:
    with open_store(Settings(store=str(city_store))) as store:
        roads = store.read("roads")
    assert len(roads) > 250
    geodesic = roads.geometry.map(GEOD.geometry_length)
    ratio = roads["length_m"] / geodesic
    assert (ratio - 1).abs().max() < 1e-3, (ratio - 1).abs().max()
    jining_zone = roads.geometry.to_crs(4548).length / geodesic  # what a fixed EPSG:4548 would have stored
    assert ((jining_zone - 1).abs() > 1e-2).all()


def test_a_point_in_the_box_but_outside_the_outline_is_refused(city_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(city_store, store)
    lon, lat = build_other_city().outside_point
    with TestClient(create_app(Settings(store=str(store)))) as client:
        settings = client.app.state.settings  # type: ignore[attr-defined]
        assert settings.work_epsg == 4544 and settings.city_profile.name == other_city.NAME
        x0, y0, x1, y1 = settings.region_bbox
        assert x0 < lon < x1 and y0 < lat < y1  # inside the region's rectangle …
        refused = client.post("/incidents", json={"lon": lon, "lat": lat, "kind": "火灾"})
        assert refused.status_code == 400 and "outside the configured region: 锦官市's outline buffered by 5 km" in refused.text
        placed = client.post("/incidents", json={"lon": other_city.CENTRE[0], "lat": other_city.CENTRE[1], "kind": "火灾"})
        assert placed.status_code == 201, placed.text
    with open_store(Settings(store=str(store))) as opened:
        assert opened.count("incidents") == 1


def test_jinings_sample_region_is_its_buffered_outline(client: TestClient) -> None:
    """The sample writes Jining's profile: its old box's corner is no longer "in Jining"."""
    assert client.app.state.settings.city_profile.name == "济宁市"  # type: ignore[attr-defined]
    response = client.post("/incidents", json={"lon": 115.5, "lat": 34.0, "kind": "火灾"})
    assert response.status_code == 400 and "济宁市's outline buffered by 5 km" in response.text


# --- bad input: exit 2, one line, the store unchanged ------------------------------------------------


def test_a_boundary_without_polygon_is_refused(city_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(city_store, store)
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"adcode": 519900, "name": "锦官市", "level": "city"}, "geometry": {"type": "Point", "coordinates": [104.06, 30.66]}},
    ]}), encoding="utf-8")
    before = _state(store)
    result = onemap(store, "init", "--boundary", str(points))
    assert result.exit_code == 2
    assert "no polygon in the file (1 features, geometry Point)" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _state(store) == before


def _jining_outline_file(tmp_path: Path) -> Path:
    """A boundary of Jining in DataV form (a rough outline, offset to GCJ-02)."""
    ring = [[float(v) for v in wgs84_to_gcj02(x, y)] for x, y in ((116.0, 34.5), (117.5, 34.5), (117.5, 35.9), (116.0, 35.9), (116.0, 34.5))]
    path = tmp_path / "370800.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "adcode": 370800, "name": "济宁市", "level": "city", "parent": {"adcode": 370000}, "center": [116.587, 35.415], "childrenNum": 11, "acroutes": [100000, 370000]},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}, ensure_ascii=False), encoding="utf-8")
    return path


def test_another_city_on_a_store_with_data_needs_replace(city_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(city_store, store)
    jining = _jining_outline_file(tmp_path)
    before = _state(store)
    result = onemap(store, "init", "--boundary", str(jining), "--from", "gcj02")
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "370800.json (济宁市) is another city than the store's (锦官市): its centre is" in message
    assert "roads 273" in message and "Use --replace" in message
    assert _state(store) == before
    replaced = onemap(store, "init", "--boundary", str(jining), "--from", "gcj02", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "admin areas of the previous city deleted" in replaced.stderr and "re-import them" in replaced.stderr
    info = json.loads(onemap(store, "info", "--json").stdout)
    assert (info["city"], info["work_epsg"]) == ("济宁市", 4548)


def test_init_on_postgis(pg_url: str, pg_schema: str, city_files: dict[str, Path]) -> None:
    args = ["--store", pg_url, "init", "--boundary", str(city_files["boundary_city"]), "--from", "gcj02"]
    result = CliRunner().invoke(main, args, env={"ONEMAP_PG_SCHEMA": pg_schema}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(main, ["--store", pg_url, "info", "--json"], env={"ONEMAP_PG_SCHEMA": pg_schema}, catch_exceptions=False)
    assert json.loads(info.stdout)["work_epsg"] == 4544


@pytest.mark.parametrize("command", [["init"], ["info"]])
def test_help_teaches_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="onemap")
    assert result.exit_code == 0 and "Examples:" in result.output  # that the examples run: tests/api/test_cli_help.py
    if command == ["init"]:
        assert "onemap init --boundary 370800_full.json --from gcj02" in result.output and "--replace" in result.output
