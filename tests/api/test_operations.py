"""POST /incidents, PATCH /incidents/{id}, POST /reservoirs/{id}/level, POST /closures and
/closures/{id}/lift: stored as sent, derived fields right, bad input refused with a message and
nothing written; the live tokens follow every write."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.settings import Settings
from layers.store import open_store
from tests.helpers import snapshot

INCIDENT = {"lon": 116.59, "lat": 35.41, "kind": "火灾"}
SQUARE = {"type": "Polygon", "coordinates": [[[116.58, 35.40], [116.60, 35.40], [116.60, 35.42], [116.58, 35.42], [116.58, 35.40]]]}


def test_an_incident_is_stored_verbatim_and_changes_the_live_token(client: TestClient, sample_settings: Settings) -> None:
    before = client.get("/map/live").json()["versions"]
    name = "<script>alert(1)</script>'; DROP TABLE incidents; --"
    response = client.post("/incidents", json={**INCIDENT, "name": name, "description": "三楼起火"})
    assert response.status_code == 201, response.text
    feature = response.json()
    assert feature["geometry"] == {"type": "Point", "coordinates": [116.59, 35.41]}
    assert feature["properties"]["name"] == name and feature["properties"]["status"] == "已上报"
    assert feature["properties"]["occurred_at"]
    stored = snapshot(sample_settings, "incidents")
    assert list(stored["source_id"]) == [feature["id"]] and stored["name"].iloc[0] == name
    after = client.get("/map/live").json()["versions"]
    assert after["incidents"] != before["incidents"]
    assert after["reservoirs"] == before["reservoirs"] and after["road_closures"] == before["road_closures"]


def test_an_incident_moves_through_its_statuses(client: TestClient) -> None:
    created = client.post("/incidents", json=INCIDENT).json()
    patched = client.patch(f"/incidents/{created['id']}", json={"status": "处置中", "description": "消防已到场"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["properties"]["status"] == "处置中"
    assert patched.json()["properties"]["description"] == "消防已到场"
    assert patched.json()["geometry"] == created["geometry"]
    assert client.patch(f"/incidents/{created['id']}", json={"status": "已结束"}).json()["properties"]["status"] == "已结束"
    empty = client.patch(f"/incidents/{created['id']}", json={})
    assert empty.status_code == 400 and "nothing to change" in empty.json()["description"], "an empty change is refused, not audited as an update"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**INCIDENT, "kind": "爆炸"}, 422, "火灾"),
        ({**INCIDENT, "lon": 121.47, "lat": 31.23}, 400, "outside the configured region"),
        ({**INCIDENT, "lon": "NaN"}, 422, "lon"),
        ({**INCIDENT, "lat": 95}, 422, "less than or equal to 90"),
        ({**INCIDENT, "name": "a\x00b"}, 400, "NUL"),
        ({**INCIDENT, "colour": "red"}, 422, "colour"),
        ({"lon": 116.59, "lat": 35.41}, 422, "kind"),
        ({**INCIDENT, "status": "完成"}, 422, "已上报"),
        ({**INCIDENT, "occurred_at": "yesterday"}, 422, "occurred_at"),
    ],
)
def test_bad_incidents_are_refused_and_nothing_is_written(client: TestClient, sample_settings: Settings, body: dict[str, object], status: int, message: str) -> None:
    response = client.post("/incidents", json=body)
    assert response.status_code == status, response.text
    assert message in response.text
    assert snapshot(sample_settings, "incidents").empty


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_an_incident_time_out_of_range_is_refused(client: TestClient, when: str) -> None:
    response = client.post("/incidents", json={**INCIDENT, "occurred_at": when})
    assert response.status_code == 422 and "1900 and 2100" in response.text, response.text


def test_patching_an_unknown_incident_is_404(client: TestClient) -> None:
    response = client.patch("/incidents/INC-nope", json={"status": "已结束"})
    assert response.status_code == 404 and "INC-nope" in response.json()["description"]


def test_a_reservoir_level_above_the_flood_limit_raises_the_alert(client: TestClient, sample_settings: Settings) -> None:
    reservoirs = snapshot(sample_settings, "reservoirs")
    row = reservoirs.loc[reservoirs["flood_limit_level_m"].notna()].iloc[0]
    limit = float(row["flood_limit_level_m"])
    token = client.get("/map/live").json()["versions"]["reservoirs"]
    above = client.post(f"/reservoirs/{row['source_id']}/level", json={"current_level_m": limit + 0.5})
    assert above.status_code == 200, above.text
    assert above.json()["properties"]["current_level_m"] == limit + 0.5
    assert above.json()["properties"]["above_flood_limit"] is True
    assert client.get("/map/live").json()["versions"]["reservoirs"] != token
    below = client.post(f"/reservoirs/{row['source_id']}/level", json={"current_level_m": limit - 1})
    assert below.json()["properties"]["above_flood_limit"] is False
    stored = snapshot(sample_settings, "reservoirs").set_index("source_id").loc[row["source_id"]]
    assert stored["current_level_m"] == limit - 1 and not stored["above_flood_limit"]
    assert stored["name"] == row["name"] and stored["capacity_m3"] == row["capacity_m3"]


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/reservoirs/NOPE/level", {"current_level_m": 30}, 404),
    ("/reservoirs/{id}/level", {"current_level_m": "high"}, 422),
    ("/reservoirs/{id}/level", {"current_level_m": 1e9}, 422),
])
def test_bad_level_updates_change_nothing(client: TestClient, sample_settings: Settings, path: str, body: dict[str, object], status: int) -> None:
    before = snapshot(sample_settings, "reservoirs")
    response = client.post(path.format(id=before["source_id"].iloc[0]), json=body)
    assert response.status_code == status, response.text
    assert snapshot(sample_settings, "reservoirs").equals(before)


def test_a_closure_is_stored_then_lifted(client: TestClient, sample_settings: Settings) -> None:
    created = client.post("/closures", json={"geometry": SQUARE, "cause": "塌方"})
    assert created.status_code == 201, created.text
    properties = created.json()["properties"]
    assert properties["status"] == "封闭中" and properties["cause"] == "塌方" and properties["created_at"]
    active = client.get("/collections/road_closures/items", params={"status": "封闭中"}).json()
    assert [f["id"] for f in active["features"]] == [created.json()["id"]]
    lifted = client.post(f"/closures/{created.json()['id']}/lift")
    assert lifted.status_code == 200 and lifted.json()["properties"]["status"] == "已解除"
    assert lifted.json()["properties"]["lifted_at"]
    assert client.get("/collections/road_closures/items", params={"status": "封闭中"}).json()["features"] == []
    again = client.post(f"/closures/{created.json()['id']}/lift")
    assert again.status_code == 400 and "already lifted" in again.json()["description"]
    assert len(snapshot(sample_settings, "road_closures")) == 1


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [116.59, 35.41]}, "must be a polygon"),
        ({"type": "Polygon", "coordinates": [[[116.58, 35.40], [116.60, 35.42], [116.60, 35.40], [116.58, 35.42], [116.58, 35.40]]]}, "not valid"),
        ({"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.5, 31.3], [121.4, 31.2]]]}, "outside the configured region"),
        ({"type": "Polygon", "coordinates": [[[115.5, 34.0], [118.0, 34.0], [118.0, 36.4], [115.5, 36.4], [115.5, 34.0]]]}, "more than"),
        ({"type": "Polygon", "coordinates": "nonsense"}, "not a GeoJSON polygon"),
    ],
)
def test_bad_closures_are_refused_and_nothing_is_written(client: TestClient, sample_settings: Settings, geometry: dict[str, object], message: str) -> None:
    response = client.post("/closures", json={"geometry": geometry, "cause": "洪水"})
    assert response.status_code == 400, response.text
    assert message in response.json()["description"]
    assert snapshot(sample_settings, "road_closures").empty


def test_operations_on_a_postgis_store(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with TestClient(create_app(settings)) as client:
        # A NUL, which PostgreSQL text cannot hold, is the input's fault (400), and no answer
        # names the database server.
        for method, path, body in (("PATCH", "/incidents/%00", {"status": "处置中"}), ("POST", "/reservoirs/%00/level", {"current_level_m": 1.0}), ("POST", "/closures/%00/lift", None)):
            answer = client.request(method, path, json=body)
            assert answer.status_code == 400 and "NUL" in answer.text and "127.0.0.1" not in answer.text and "onemap_test" not in answer.text, answer.text
        created = client.post("/incidents", json={**INCIDENT, "name": "泗河堤防管涌"})
        assert created.status_code == 201, created.text
        closure = client.post("/closures", json={"geometry": SQUARE, "cause": "洪水"})
        assert closure.status_code == 201, closure.text
        assert client.post(f"/closures/{closure.json()['id']}/lift").json()["properties"]["status"] == "已解除"
    with open_store(settings) as store:
        assert list(store.read("incidents")["name"]) == ["泗河堤防管涌"]
        assert list(store.read("road_closures")["status"]) == ["已解除"]
