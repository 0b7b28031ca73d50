"""POST /scenarios, GET /scenarios[/{id}], activate and end (issue 16): a plume stored with its
footprint as GeoJSON and its impact; an active scenario closes the roads inside it until it ends
(routing follows at once); an incident carries it; bad input refused with a 4xx and nothing
written; stocks set by hand are what the scenario sends."""

from __future__ import annotations

import time
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from layers.settings import Settings
from layers.store import open_store
from tests.helpers import snapshot

PLUME = {"kind": "plume", "lon": 116.59, "lat": 35.41, "wind_from_deg": 45, "wind_speed_ms": 3, "stability": "D", "release_g_s": 1000, "thresholds_mg_m3": [58, 5.8, 1.5]}


def _create(client: TestClient, body: dict[str, Any]) -> Any:
    """POST until it is done (202 → the same body again after Retry-After)."""
    for _ in range(60):
        response = client.post("/scenarios", json=body)
        if response.status_code != 202:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    raise AssertionError("the scenario never finished")


def test_a_plume_is_stored_and_read_back_as_geojson_with_its_impact(client: TestClient, sample_settings: Settings) -> None:
    response = _create(client, {**PLUME, "name": "<b>氯气</b>泄漏"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"/scenarios/{created['id']}"
    got = client.get(f"/scenarios/{created['id']}")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/geo+json")
    body = got.json()
    assert body["type"] == "FeatureCollection" and body["id"] == created["id"] and body["kind"] == "plume" and body["status"] == "预案"
    assert body["name"] == "<b>氯气</b>泄漏" and body["parameters"]["wind_from_deg"] == 45
    assert [f["properties"]["zone"] for f in body["features"]] == ["红区", "橙区", "黄区"]
    outer = shapely.geometry.shape(body["features"][-1]["geometry"])
    assert outer.is_valid and outer.area > 0
    assert {"residents", "displaced", "by_township"} <= set(body["impact"]) and body["impact"]["residents"] > 1000
    assert body["needs"] and body["shortfalls"] and body["closure_id"] is None
    listed = client.get("/scenarios").json()
    assert [f["id"] for f in listed["features"]] == [created["id"]]
    assert listed["features"][0]["properties"]["residents"] == body["impact"]["residents"]
    assert snapshot(sample_settings, "road_closures").empty, "a 预案 closes nothing"


def test_an_active_scenario_closes_its_roads_until_it_ends(client: TestClient, sample_settings: Settings) -> None:
    incident = client.post("/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "危化品事故"}).json()
    created = _create(client, {**PLUME, "active": True, "incident_id": incident["id"]}).json()
    assert created["status"] == "生效中" and created["incident_id"] == incident["id"]
    closure_id = created["closure_id"]
    closures = snapshot(sample_settings, "road_closures")
    assert list(closures["source_id"]) == [closure_id] and closures["status"].iloc[0] == "封闭中"
    footprint = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in created["features"]])
    assert closures.geometry.iloc[0].symmetric_difference(footprint.intersection(shapely.box(115, 33, 118, 37))).area < 1e-2 * footprint.area, "the footprint, simplified by about 2 m"
    assert [f["id"] for f in client.get("/scenarios", params={"incident_id": incident["id"]}).json()["features"]] == [created["id"]]
    route = client.get("/routing/nearest", params={"lon": 116.57, "lat": 35.39, "layers": "rescue_stations", "k": 1})
    assert route.status_code == 200, route.text
    assert closure_id in route.text, "routing names the scenario's closure it avoids"

    ended = client.post(f"/scenarios/{created['id']}/end")
    assert ended.status_code == 200, ended.text
    assert ended.json()["properties"]["status"] == "已结束"
    assert snapshot(sample_settings, "road_closures")["status"].tolist() == ["已解除"]
    assert client.post(f"/scenarios/{created['id']}/end").status_code == 400, "ended once"
    assert client.get("/scenarios", params={"status": "生效中"}).json()["features"] == []


def test_a_footprint_beyond_the_region_closes_the_roads_inside_it(client: TestClient, sample_settings: Settings) -> None:
    from layers.city import read_city_profile
    from layers.store import open_store as opened

    body = {**PLUME, "lon": 116.8929, "lat": 35.4370, "wind_from_deg": 90, "wind_speed_ms": 2, "stability": "E", "release_g_s": 2000, "active": True}
    created = _create(client, body)
    assert created.status_code == 201, created.text
    with opened(sample_settings) as store:
        region = sample_settings.with_profile(read_city_profile(store)).region_geometry()
    footprint = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in created.json()["features"]])
    closure = snapshot(sample_settings, "road_closures").geometry.iloc[0]
    assert not region.covers(footprint), "the plume reaches beyond the region"
    assert closure.difference(region).area < 1e-9 and closure.area == pytest.approx(footprint.intersection(region).area, rel=0.01)


def test_a_saved_scenario_can_be_made_active_later(client: TestClient, sample_settings: Settings) -> None:
    created = _create(client, PLUME).json()
    activated = client.post(f"/scenarios/{created['id']}/activate")
    assert activated.status_code == 200, activated.text
    assert activated.json()["properties"]["status"] == "生效中"
    assert snapshot(sample_settings, "road_closures")["source_id"].tolist() == [f"CL-{created['id']}"]
    assert client.post(f"/scenarios/{created['id']}/activate").status_code == 400


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"wind_speed_ms": 0}, 400, "wind"),
        ({"release_g_s": -5}, 400, "release"),
        ({"stability": "Z"}, 400, "stability"),
        ({"thresholds_mg_m3": []}, 422, "thresholds"),
        ({"lon": 200}, 422, "lon"),
        ({"incident_id": "INC-nope"}, 400, "INC-nope"),
        ({"kind": "dam-break", "reservoir_id": "SK0001"}, 400, "ONEMAP_DEM"),
        ({"kind": "area", "geometry": {"type": "Point", "coordinates": [116.5, 35.4]}}, 400, "polygons"),
        ({"kind": "area", "geometry": {"type": "FeatureCollection", "features": "x"}}, 400, "features"),
        ({"wind_speed_ms": "NaN"}, 422, "wind_speed_ms"),
    ],
)
def test_bad_scenarios_are_refused_and_nothing_is_stored(client: TestClient, sample_settings: Settings, change: dict[str, Any], status: int, message: str) -> None:
    body = {**PLUME, **change}
    if body["kind"] != "plume":
        body = {k: v for k, v in body.items() if k not in PLUME or k == "kind"}
    response = _create(client, body)
    assert response.status_code == status, response.text
    assert message in response.text
    with open_store(sample_settings) as store:
        assert store.list_scenarios() == []


def test_a_missing_scenario_is_404_and_viewers_cannot_make_one(client: TestClient) -> None:
    assert client.get("/scenarios/SC-none").status_code == 404
    assert client.post("/scenarios/SC-none/end").status_code == 404


def test_stocks_set_by_hand_are_sent_to_the_scenario(client: TestClient, sample_settings: Settings) -> None:
    depots = snapshot(sample_settings, "supply_depots")
    depot = str(depots["source_id"].iloc[0])
    put = client.put(f"/depot-stocks/{depot}/rice", json={"quantity": 1200, "unit": "千克"})
    assert put.status_code == 200, put.text
    assert put.json()["quantity"] == 1200 and put.json()["unit"] == "kg" and put.json()["name_zh"] == "大米"
    assert client.put(f"/depot-stocks/{depot}/rice", json={"quantity": 5, "unit": "l"}).status_code == 400
    assert client.put("/depot-stocks/NOPE/rice", json={"quantity": 5, "unit": "kg"}).status_code == 400
    assert client.put(f"/depot-stocks/{depot}/rice", json={"quantity": -1, "unit": "kg"}).status_code == 422
    listed = client.get("/depot-stocks").json()
    assert [(s["depot_id"], s["item"], s["quantity"]) for s in listed["stocks"]] == [(depot, "rice", 1200)]
    body = _create(client, PLUME).json()
    rice = next(s for s in body["shortfalls"] if s["item"] == "rice")
    assert rice["available"] == 1200 and rice["sent"] + rice["short"] == pytest.approx(rice["needed"], abs=0.1)
    assert client.delete(f"/depot-stocks/{depot}/rice").json() == {"depot_id": depot, "item": "rice", "deleted": True}
    assert client.delete(f"/depot-stocks/{depot}/rice").status_code == 404
