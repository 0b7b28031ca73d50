"""GET /routing/nearest and /routing/areas, and `onemap route`, on the sample city."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.settings import Settings
from tests.helpers import run_cli

INCIDENT = {"lon": 116.59, "lat": 35.41}


def test_nearest_answers_a_geojson_collection(client: TestClient) -> None:
    response = client.get("/routing/nearest", params={**INCIDENT, "layers": "rescue_stations,supply_depots", "k": 3})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["incident"] == INCIDENT
    features = body["features"]
    assert [f["properties"]["layer"] for f in features] == ["rescue_stations"] * 3 + ["supply_depots"] * 3
    for feature in features:
        properties = feature["properties"]
        assert {"resource_id", "layer", "name", "travel_time_min", "distance_km", "snap_m_incident", "snap_m_resource"} <= set(properties)
        assert feature["geometry"]["type"] == "LineString"
        end = feature["geometry"]["coordinates"][-1]
        assert abs(end[0] - INCIDENT["lon"]) < 0.01 and abs(end[1] - INCIDENT["lat"]) < 0.01
    times = [f["properties"]["travel_time_min"] for f in features[:3]]
    assert times == sorted(times)


def _cut_on(feature: dict[str, object], metres: float = 60) -> shapely.Polygon:
    """A flood polygon around the middle of a route (EPSG:4326)."""
    middle = shapely.geometry.shape(feature["geometry"]).interpolate(0.5, normalized=True)
    return gpd.GeoSeries([middle], crs=4326).to_crs(4548).buffer(metres).to_crs(4326).iloc[0]


def _answer(feature: dict[str, object]) -> tuple[str, float]:
    properties = feature["properties"]
    assert isinstance(properties, dict)
    return properties["resource_id"], round(properties["travel_time_min"], 6)


def test_a_what_if_closure_in_a_post_body_changes_the_route(client: TestClient) -> None:
    first = client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
    flood = _cut_on(first)
    body = {**INCIDENT, "layers": ["shelters"], "k": 1, "what_if": shapely.geometry.mapping(flood)}
    answer = client.post("/routing/nearest", json=body).json()
    second = answer["features"][0]
    assert _answer(second) != _answer(first)
    assert not shapely.geometry.shape(second["geometry"]).intersects(flood)
    assert answer["closures"] == {"stored": "applied", "stored_closures": [], "what_if_polygons": 1, "closed_edges": []}
    areas = client.post("/routing/areas", json={**INCIDENT, "minutes": [5], "what_if": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": shapely.geometry.mapping(flood), "properties": {}}]}}).json()
    assert areas["closures"]["what_if_polygons"] == 1 and len(areas["features"]) == 1


def test_stored_closures_give_one_answer_to_the_api_and_the_cli(client: TestClient, sample_settings: Settings) -> None:
    """A closure drawn on the wall map (stored in road_closures) changes the GET answer and the
    CLI's alike; closures=none and --ignore-closures give the open network; each says which."""
    open_network = client.get("/routing/nearest", params={**INCIDENT, "layers": "rescue_stations", "k": 1}).json()
    assert open_network["closures"]["stored_closures"] == []
    flood = _cut_on(open_network["features"][0], 80)
    saved = client.post("/closures", json={"geometry": shapely.geometry.mapping(flood), "cause": "洪水", "name": "测试封闭区"})
    assert saved.status_code == 201, saved.text
    closure_id = saved.json()["properties"]["source_id"]

    api = client.get("/routing/nearest", params={**INCIDENT, "layers": "rescue_stations", "k": 1}).json()
    assert _answer(api["features"][0]) != _answer(open_network["features"][0])
    assert api["closures"]["stored_closures"] == [{"source_id": closure_id, "name": "测试封闭区"}]
    cli = run_cli(sample_settings, "route", "nearest", "--lon", "116.59", "--lat", "35.41", "--layers", "rescue_stations", "-k", "1", "--json")
    assert cli.exit_code == 0, cli.output
    assert "已避开 1 处在册封闭区" in cli.stderr
    cli_answer = json.loads(cli.stdout)
    assert _answer(cli_answer["features"][0]) == _answer(api["features"][0])
    assert cli_answer["closures"] == api["closures"]

    ignored = client.get("/routing/nearest", params={**INCIDENT, "layers": "rescue_stations", "k": 1, "closures": "none"}).json()
    assert _answer(ignored["features"][0]) == _answer(open_network["features"][0]) and ignored["closures"]["stored"] == "ignored"
    cli_open = run_cli(sample_settings, "route", "nearest", "--lon", "116.59", "--lat", "35.41", "--layers", "rescue_stations", "-k", "1", "--json", "--ignore-closures")
    assert _answer(json.loads(cli_open.stdout)["features"][0]) == _answer(open_network["features"][0])

    areas_api = client.get("/routing/areas", params={**INCIDENT, "minutes": "10"}).json()
    areas_open = client.get("/routing/areas", params={**INCIDENT, "minutes": "10", "closures": "none"}).json()
    assert areas_api["closures"]["stored_closures"][0]["source_id"] == closure_id
    cli_areas = run_cli(sample_settings, "route", "areas", "--lon", "116.59", "--lat", "35.41", "--minutes", "10", "--json")
    assert json.loads(cli_areas.stdout)["features"][0]["properties"]["reached_km"] == pytest.approx(areas_api["features"][0]["properties"]["reached_km"])
    assert areas_api["features"][0]["properties"]["reached_km"] != pytest.approx(areas_open["features"][0]["properties"]["reached_km"])

    assert client.post(f"/closures/{closure_id}/lift").status_code == 200
    lifted = client.get("/routing/nearest", params={**INCIDENT, "layers": "rescue_stations", "k": 1}).json()
    assert _answer(lifted["features"][0]) == _answer(open_network["features"][0]) and lifted["closures"]["stored_closures"] == []


def test_areas_answer_bands_with_contents(client: TestClient) -> None:
    body = client.get("/routing/areas", params={**INCIDENT, "minutes": "5,10"}).json()
    assert [f["properties"]["minutes"] for f in body["features"]] == [5.0, 10.0]
    assert body["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert 0 < body["features"][0]["properties"]["residents"] < body["features"][1]["properties"]["residents"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"lon": 200, "lat": 35.4}, 422, "less than or equal to 180"),
        ({"lon": 116.6, "lat": 95}, 422, "less than or equal to 90"),
        ({**INCIDENT, "k": 0}, 422, "greater than or equal to 1"),
        ({"lon": 18.0, "lat": 0.0}, 400, "from any open road"),  # the work CRS cannot project it (found by schemathesis)
        ({**INCIDENT, "k": 51}, 422, "less than or equal to 50"),
        ({**INCIDENT, "layers": "volcanoes"}, 400, "unknown resource layer"),
        ({"lon": 100.0, "lat": 30.0}, 400, "from any open road"),
        ({**INCIDENT, "closures": '{"type": "Polygon"}'}, 422, "'stored' or 'none'"),
        ({**INCIDENT, "closed_edges": "RD999999999"}, 400, "not in the network"),
    ],
)
def test_nearest_rejects_bad_input(client: TestClient, params: dict[str, object], status: int, message: str) -> None:
    response = client.get("/routing/nearest", params=params)
    assert response.status_code == status, response.text
    assert message in response.json()["description"]


def test_areas_reject_bad_minutes(client: TestClient) -> None:
    many = ",".join(str(m) for m in range(1, 201))
    for minutes, message in (("a,b", "give numbers"), ("0", "between 0 and 240"), ("999", "between 0 and 240"), ("1,2,3,4,5,6,7", "at most 6")):
        response = client.get("/routing/areas", params={**INCIDENT, "minutes": minutes})
        assert response.status_code == 400 and message in response.json()["description"], response.text
    assert client.get("/routing/areas", params={**INCIDENT, "minutes": many}).status_code == 422  # longer than the parameter may be
    assert client.post("/routing/areas", json={**INCIDENT, "minutes": list(range(1, 8))}).status_code == 422


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**INCIDENT, "what_if": {"type": "LineString", "coordinates": [[116, 35], [117, 35]]}}, "closures must be polygons"),
        ({**INCIDENT, "what_if": {"type": "Polygon", "coordinates": "x"}}, "not a GeoJSON polygon"),
        ({**INCIDENT, "what_if": {"type": "FeatureCollection", "features": [{"type": "Point"}] * 201}}, "at most 200"),
        ({**INCIDENT, "closed_edges": ["RD999999999"]}, "not in the network"),
    ],
)
def test_what_if_closures_are_checked(client: TestClient, body: dict[str, object], message: str) -> None:
    response = client.post("/routing/nearest", json=body)
    assert response.status_code == 400 and message in response.json()["description"], response.text


def test_no_roads_is_a_4xx(tmp_path: Path) -> None:
    from api.main import create_app

    with TestClient(create_app(Settings(store=str(tmp_path / "empty.gpkg")))) as empty:
        response = empty.get("/routing/nearest", params=INCIDENT)
    assert response.status_code == 400 and "roads layer is empty" in response.json()["description"]


def test_cli_route_nearest_json_table_and_map(sample_settings: Settings, tmp_path: Path) -> None:
    result = run_cli(sample_settings, "route", "nearest", "--lon", "116.59", "--lat", "35.41", "--layers", "rescue_stations", "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    collection = json.loads(result.stdout)
    assert len(collection["features"]) == 2
    table = run_cli(sample_settings, "route", "nearest", "--lon", "116.59", "--lat", "35.41", "-k", "1", "--map", str(tmp_path / "m.html"))
    assert table.exit_code == 0 and "rescue_stations" in table.stdout and "supply_depots" in table.stdout
    assert (tmp_path / "m.html").stat().st_size > 100_000  # Leaflet is inline


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lon", "116.59", "--lat", "35.41", "--layers", "volcanoes"], "unknown resource layer"),
        (["--lon", "300", "--lat", "35.41"], "300"),
        (["--lon", "116.59", "--lat", "35.41", "-k", "99"], "99"),
        (["--lon", "100", "--lat", "30"], "from any open road"),
    ],
)
def test_cli_route_bad_input(sample_settings: Settings, args: list[str], message: str) -> None:
    result = run_cli(sample_settings, "route", "nearest", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_route_areas(sample_settings: Settings) -> None:
    result = run_cli(sample_settings, "route", "areas", "--lon", "116.59", "--lat", "35.41", "--minutes", "5")
    assert result.exit_code == 0, result.output
    assert "居民 residents" in result.stdout


def test_routing_on_a_postgis_store_rebuilds_when_roads_change(pg_url: str, pg_schema: str, sample_city: dict[str, gpd.GeoDataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app
    from layers.store import open_store

    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the PostGIS store caches graphs in the user's cache folder
    monkeypatch.delenv("ONEMAP_CACHE_DIR", raising=False)  # … by default, which is what this checks
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with open_store(settings) as store:
        store.upsert_many({name: sample_city[name] for name in ("roads", "shelters")})
    with TestClient(create_app(settings)) as pg_client:
        first = pg_client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
        assert len(list((tmp_path / "xdg" / "onemap").glob(f"*-{pg_schema}/roads-*.npz"))) == 1, "the graph cached per database, under XDG_CACHE_HOME"
        with open_store(settings) as store:
            roads = store.read("roads")
            store.upsert("roads", roads.assign(speed_kmh=10.0))  # every road at 10 km/h
        second = pg_client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
    assert second["properties"]["travel_time_min"] > first["properties"]["travel_time_min"] * 2
    cached = sorted((tmp_path / "xdg" / "onemap").glob(f"*-{pg_schema}/roads-*.npz"), key=lambda p: p.stat().st_mtime)
    assert len(cached) == 2, "the new graph beside the old (a few are kept, KEEP_GRAPHS, for folders stores share)"
    assert not any((tmp_path / "cwd").iterdir()), "nothing written to the current directory"
