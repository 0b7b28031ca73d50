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


def test_a_closure_on_the_route_changes_it(client: TestClient) -> None:
    first = client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
    route = shapely.geometry.shape(first["geometry"])
    middle = route.interpolate(0.5, normalized=True)
    flood = gpd.GeoSeries([middle], crs=4326).to_crs(4548).buffer(60).to_crs(4326).iloc[0]
    params = {**INCIDENT, "layers": "shelters", "k": 1, "closures": json.dumps(shapely.geometry.mapping(flood))}
    second = client.get("/routing/nearest", params=params).json()["features"][0]
    assert second["properties"]["travel_time_min"] > first["properties"]["travel_time_min"] or second["properties"]["resource_id"] != first["properties"]["resource_id"]
    assert not shapely.geometry.shape(second["geometry"]).intersects(flood)


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
        ({**INCIDENT, "closures": '{"type": "LineString", "coordinates": [[116, 35], [117, 35]]}'}, 400, "closures must be polygons"),
        ({**INCIDENT, "closures": "not json"}, 400, "not GeoJSON polygons"),
        ({**INCIDENT, "closed_edges": "RD999999999"}, 400, "not in the network"),
    ],
)
def test_nearest_rejects_bad_input(client: TestClient, params: dict[str, object], status: int, message: str) -> None:
    response = client.get("/routing/nearest", params=params)
    assert response.status_code == status, response.text
    assert message in response.json()["description"]


def test_areas_reject_bad_minutes(client: TestClient) -> None:
    for minutes, message in (("a,b", "give numbers"), ("0", "between 0 and 240"), ("999", "between 0 and 240")):
        response = client.get("/routing/areas", params={**INCIDENT, "minutes": minutes})
        assert response.status_code == 400 and message in response.json()["description"]


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

    monkeypatch.chdir(tmp_path)  # the PostGIS store caches graphs under ./var/cache
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with open_store(settings) as store:
        store.upsert_many({name: sample_city[name] for name in ("roads", "shelters")})
    with TestClient(create_app(settings)) as pg_client:
        first = pg_client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
        with open_store(settings) as store:
            roads = store.read("roads")
            store.upsert("roads", roads.assign(speed_kmh=10.0))  # every road at 10 km/h
        second = pg_client.get("/routing/nearest", params={**INCIDENT, "layers": "shelters", "k": 1}).json()["features"][0]
    assert second["properties"]["travel_time_min"] > first["properties"]["travel_time_min"] * 2
    assert len(list((tmp_path / "var" / "cache").glob("roads-*.npz"))) == 1
