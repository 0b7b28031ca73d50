"""The API fields the wall map reads (web/static/wallmap/fields.js, read here with node) are sent by
the real routes: a route that stops sending one fails here, not as a blank on the wall."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.settings import Settings
from tests.helpers import when_ready

FIELDS_MODULE = Path(__file__).resolve().parents[2] / "web" / "static" / "wallmap" / "fields.js"
LON, LAT = 116.59, 35.41
RESOURCES = "rescue_stations,supply_depots,shelters"


def api_fields() -> dict[str, list[str]]:
    """``API_FIELDS`` of fields.js, as node reads it (the module is the one list)."""
    script = f"import({json.dumps(FIELDS_MODULE.as_uri())}).then((m) => process.stdout.write(JSON.stringify(m.API_FIELDS)))"
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True, timeout=60)
    return dict(json.loads(done.stdout))


def missing(body: Any, path: str) -> list[str]:
    """Where ``path`` (``features[].properties.rank``: ``[]`` is every item of a list) is not in
    ``body``. A list with no items is reported too: it shows nothing about its items' fields."""
    absent: list[str] = []
    nodes: list[tuple[str, Any]] = [("", body)]
    for part in path.split("."):
        name = part.removesuffix("[]")
        found: list[tuple[str, Any]] = []
        for where, node in nodes:
            if not isinstance(node, dict) or name not in node:
                absent.append(where + name)
            elif part.endswith("[]"):
                items = node[name]
                if not isinstance(items, list) or not items:
                    absent.append(f"{where}{name}[] (no items)")
                else:
                    found.extend((f"{where}{name}[{number}].", item) for number, item in enumerate(items))
            else:
                found.append((f"{where}{name}.", node[name]))
        nodes = found
    return absent


def answers(client: TestClient) -> dict[str, Any]:
    """One real answer of each route the wall map asks, by the keys of fields.js."""
    got: dict[str, Any] = {}
    computing = client.get("/risk/summary")  # the first ask starts the zoning in the background
    assert computing.status_code == 202, computing.text
    got["a 202 answer (computing)"] = computing.json()
    incident = client.post("/incidents", json={"lon": LON, "lat": LAT, "kind": "火灾", "name": "字段检查"})
    assert incident.status_code == 201, incident.text
    got["POST /incidents"] = incident.json()
    share = client.post("/shares", json={"incident_id": incident.json()["id"], "layers": ["shelters"], "k": 1})
    assert share.status_code == 201, share.text
    got["POST /shares"] = share.json()
    plume = {"kind": "plume", "lon": LON, "lat": LAT, "wind_from_deg": 45, "wind_speed_ms": 3, "stability": "D", "release_g_s": 1000, "thresholds_mg_m3": [58, 5.8, 1.5], "active": True}
    scenario = when_ready(lambda: client.post("/scenarios", json=plume))
    assert scenario.status_code == 201, scenario.text
    got["GET /scenarios"] = client.get("/scenarios", params={"status": "生效中"}).json()
    got["GET /scenarios/{id}"] = client.get(f"/scenarios/{scenario.json()['id']}").json()
    got["POST /scenarios/{id}/end"] = client.post(f"/scenarios/{scenario.json()['id']}/end").json()
    error = client.get("/collections/no_such_layer/items")
    assert error.status_code == 404
    got["an error answer"] = error.json()
    bbox = f"{LON - 0.1},{LAT - 0.1},{LON + 0.1},{LAT + 0.1}"
    asks = {
        "GET /collections": "/collections",
        "GET /collections/{id}/items": f"/collections/shelters/items?bbox={bbox}&limit=50",
        "GET /collections/reservoirs/items": "/collections/reservoirs/items?limit=50",
        "GET /collections/incidents/items": "/collections/incidents/items",
        "GET /map/live": "/map/live",
        "GET /map/search": "/map/search?q=尼山",
        "GET /map/places": "/map/places?level=区县",
        "GET /map/situation": f"/map/situation?lon={LON}&lat={LAT}",
        "GET /risk/at": f"/risk/at?lon={LON}&lat={LAT}",
        "GET /routing/nearest": f"/routing/nearest?lon={LON}&lat={LAT}&layers={RESOURCES}&k=3",
        "GET /routing/areas": f"/routing/areas?lon={LON}&lat={LAT}&minutes=5,10,15",
        "GET /coverage/gaps": "/coverage/gaps",
        "GET /auth/me": "/auth/me",
    }
    got.update(warning_answers(client))
    for key, url in asks.items():
        response = when_ready(lambda url=url: client.get(url))
        assert response.status_code == 200, (url, response.text)
        got[key] = response.json()
    return got


def warning_answers(client: TestClient) -> dict[str, Any]:
    """The early-warning routes' answers: a reservoir gauge posted above its 设计洪水位 raises an
    alert (acknowledged here); the first change event of a one-second stream."""
    stations = client.get("/collections/monitoring_stations/items", params={"kind": "水位", "limit": 500}).json()["features"]
    gauge = next(f for f in stations if f["properties"].get("design_flood_level_m") and f["properties"].get("flood_limit_level_m"))
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [{"station": gauge["id"], "time": (now - timedelta(minutes=m)).isoformat(), "value": gauge["properties"]["design_flood_level_m"] + 0.5, "unit": "m"} for m in (10, 5, 0)]
    assert client.post("/observations", json=readings).status_code == 200
    assert client.post("/alerts/evaluate").status_code == 200
    got: dict[str, Any] = {"GET /alerts": client.get("/alerts").json()}
    got["POST /alerts/{id}/ack"] = client.post(f"/alerts/{got['GET /alerts']['alerts'][0]['id']}/ack").json()
    got["GET /stations/{id}/observations"] = client.get(f"/stations/{gauge['id']}/observations", params={"hours": 24}).json()
    got["GET /map/figures"] = client.get("/map/figures").json()
    stream = client.get("/events", params={"seconds": 1}).text
    data = next(line.removeprefix("data:").strip() for line in stream.splitlines() if line.startswith("data:"))
    got["GET /events"] = {"change": json.loads(data)}
    return got


def test_every_field_the_wall_map_reads_is_sent(sample_settings: Settings) -> None:
    fields = api_fields()
    settings = sample_settings.model_copy(update={"risk_resolution_m": 500.0})  # a short zoning job
    with TestClient(create_app(settings)) as client:
        got = answers(client)
    assert sorted(got) == sorted(fields), "a request here for every route of fields.js"
    absent = {route: where for route, paths in fields.items() for path in paths if (where := missing(got[route], path))}
    assert absent == {}, f"the wall map reads fields these answers do not send: {absent}"


@pytest.mark.parametrize(("body", "path", "expected"), [
    ({"features": [{"properties": {"rank": 1}}, {"properties": {}}]}, "features[].properties.rank", ["features[1].properties.rank"]),
    ({"features": []}, "features[].id", ["features[] (no items)"]),
    ({"closures": {"stored": []}}, "closures.stored_closures", ["closures.stored_closures"]),
    ({"level": None}, "level", []),
    ({"hits": [{"kind": "feature"}]}, "hits[].kind", []),
])
def test_a_field_that_is_not_sent_is_named(body: Any, path: str, expected: list[str]) -> None:
    assert missing(body, path) == expected
