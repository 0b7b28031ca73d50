"""Who may see and change what, with auth on: a table-driven test over every route of the app for
anonymous, viewer, editor and admin; restricted fields; tokens (unguessable, stored as hashes,
rate-limited); share links (scope, expiry, revocation); the audit log; log-in; the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.cli import main
from api.main import create_app
from layers.accounts.store import AccountStore, new_token, token_hash
from layers.catalogue import CATALOGUE
from layers.settings import Settings
from tests.helpers import TEST_PASSWORD, secured_copy, settings_env
from web.tile_grid import tile_of

PASSWORD = TEST_PASSWORD
ROLES = ("viewer", "editor", "admin")
RESTRICTED = sorted({f.name for spec in CATALOGUE.values() for f in spec.fields if f.restricted})
INCIDENT = {"lon": 116.59, "lat": 35.41, "kind": "火灾"}
SQUARE = {"type": "Polygon", "coordinates": [[[116.58, 35.40], [116.60, 35.40], [116.60, 35.42], [116.58, 35.42], [116.58, 35.40]]]}


@dataclass
class Secured:
    app: FastAPI
    client: TestClient
    settings: Settings
    accounts: AccountStore
    tokens: dict[str, str]

    def as_role(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


@pytest.fixture
def secured(sample_gpkg: Path, tmp_path: Path) -> Iterator[Secured]:
    """The sample city with auth on and one user (and bearer token) per role."""
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {role: role for role in ROLES})
    app = create_app(settings)
    with TestClient(app) as client:
        yield Secured(app, client, settings, accounts, tokens)
    accounts.close()


PUBLIC = {("GET", "/"), ("GET", "/conformance"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/s/sw.js"),
          ("GET", "/s/{token}"), ("GET", "/s/{token}/data"), ("GET", "/s/{token}/tiles/{z}/{x}/{y}.png"), ("GET", "/s/{token}/collections/{layer}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"), ("GET", "/s/{token}/route"),
          ("GET", "/s/{token}/live"), ("GET", "/s/{token}/events"),
          ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect")}
EDITOR = {("POST", "/incidents"), ("PATCH", "/incidents/{incident_id}"), ("POST", "/reservoirs/{reservoir_id}/level"), ("POST", "/closures"),
          ("POST", "/closures/{closure_id}/lift"), ("GET", "/shares"), ("POST", "/shares"), ("POST", "/shares/{share_id}/revoke"),
          ("POST", "/alerts/{alert_id}/ack"), ("POST", "/alerts/{alert_id}/resolve"), ("POST", "/alerts/evaluate"),
          ("POST", "/observations"), ("POST", "/scenarios"), ("POST", "/scenarios/{scenario_id}/activate"), ("POST", "/scenarios/{scenario_id}/end"),
          ("PUT", "/depot-stocks/{depot_id}/{item}"), ("DELETE", "/depot-stocks/{depot_id}/{item}")}  # observations: also sensor accounts (tests/api/test_alerts.py)
ADMIN = {("GET", "/users"), ("POST", "/users"), ("GET", "/audit")}
PLUME = {"kind": "plume", "lon": 116.59, "lat": 35.41, "wind_from_deg": 45, "wind_speed_ms": 3, "stability": "D", "release_g_s": 1000, "thresholds_mg_m3": [58, 5.8, 1.5]}
READS_WITH_POST = {("POST", "/coverage/site"), ("POST", "/routing/nearest"), ("POST", "/routing/areas")}
"""Computations, not writes: viewers may ask where new shelters would go, or route with what-if closures."""


def _api_routes(routes: Any, prefix: str = "") -> Iterator[tuple[set[str], str]]:
    """Every API route of the app, also inside included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield set(route.methods), prefix + route.path
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def _needed(method: str, path: str) -> str | None:
    if (method, path) in PUBLIC:
        return None
    if (method, path) in ADMIN:
        return "admin"
    if (method, path) in EDITOR:
        return "editor"
    assert method == "GET" or (method, path) in READS_WITH_POST, f"{method} {path} writes: classify it in EDITOR or ADMIN"
    return "viewer"


def _request(secured: Secured, method: str, path: str, role: str | None, fixtures: dict[str, str]) -> Any:
    """A plausible request for each route: path parameters from real features, small valid bodies."""
    values = {"layer": "shelters", "feature_id": fixtures["shelter"], "incident_id": fixtures["incident"], "reservoir_id": fixtures["reservoir"],
              "closure_id": fixtures["closure"], "share_id": fixtures["share"], "token": fixtures["token"], "z": "12", "x": "3421", "y": "1623",
              "alert_id": "ALT-none", "station_id": "ST-none", "scenario_id": fixtures["scenario"], "depot_id": fixtures["depot"], "item": "rice", "fmt": "pdf",
              "tileMatrixSetId": "WebMercatorQuad", "tileMatrix": "12", "tileRow": "1623", "tileCol": "3374"}
    url = path.format(**{k: v for k, v in values.items() if "{" + k + "}" in path})
    query = {"/routing/nearest": {"lon": 116.59, "lat": 35.41, "k": 1}, "/routing/areas": {"lon": 116.59, "lat": 35.41, "minutes": "5"},
             "/risk/at": {"lon": 116.59, "lat": 35.41}, "/map/situation": {"lon": 116.59, "lat": 35.41}, "/map/search": {"q": "尼山"},
             "/map/places": {"level": "区县"}, "/s/{token}/route": {"lon": 116.59, "lat": 35.41}, "/events": {"seconds": 1}, "/s/{token}/events": {"seconds": 1}}.get(path, {})
    body = {"/incidents": INCIDENT, "/incidents/{incident_id}": {"status": "处置中"}, "/reservoirs/{reservoir_id}/level": {"current_level_m": 30.0},
            "/closures": {"geometry": SQUARE, "cause": "洪水"}, "/shares": {"lon": 116.59, "lat": 35.41, "service_areas": False},
            "/users": {"username": f"u{new_token()[:8]}".replace("-", "x"), "password": PASSWORD, "role": "viewer"}, "/coverage/site": {"p": 1},
            "/routing/nearest": {"lon": 116.59, "lat": 35.41, "k": 1}, "/routing/areas": {"lon": 116.59, "lat": 35.41, "minutes": [5]},
            "/observations": [], "/scenarios": PLUME, "/depot-stocks/{depot_id}/{item}": {"quantity": 10, "unit": "kg"}}.get(path)
    secured.client.cookies.clear()  # each request speaks only for its role
    if path == "/login" and method == "POST":
        return secured.client.post(url, data={"username": "viewer", "password": PASSWORD}, follow_redirects=False)
    query = query if method == "GET" else {}
    return secured.client.request(method, url, params=query, json=body if method != "GET" else None, headers={**secured.as_role(role), "Accept": "application/json"}, follow_redirects=False)


def _fixtures(secured: Secured) -> dict[str, str]:
    admin = secured.as_role("admin")
    client = secured.client
    incident = client.post("/incidents", json=INCIDENT, headers=admin).json()["id"]
    closure = client.post("/closures", json={"geometry": SQUARE, "cause": "洪水"}, headers=admin).json()["id"]
    share = client.post("/shares", json={"incident_id": incident, "service_areas": False}, headers=admin).json()
    shelter = client.get("/collections/shelters/items", params={"limit": 1}, headers=admin).json()["features"][0]["id"]
    reservoir = client.get("/collections/reservoirs/items", params={"limit": 1}, headers=admin).json()["features"][0]["id"]
    depot = client.get("/collections/supply_depots/items", params={"limit": 1}, headers=admin).json()["features"][0]["id"]
    scenario = client.post("/scenarios", json={**PLUME, "incident_id": incident}, headers=admin).json()["id"]
    return {"incident": incident, "closure": closure, "share": share["id"], "token": share["url"].rsplit("/", 1)[1], "shelter": shelter, "reservoir": reservoir,
            "depot": depot, "scenario": scenario}


def test_every_route_for_every_role(secured: Secured) -> None:
    fixtures = _fixtures(secured)
    routes = [(method, path) for methods, path in _api_routes(secured.app.routes) for method in sorted(methods - {"HEAD"})]
    assert len(routes) >= 35
    failures = []
    for method, path in routes:
        needed = _needed(method, path)
        for role in (None, *ROLES):
            response = _request(secured, method, path, role, fixtures)
            allowed = needed is None or (role is not None and ROLES.index(role) >= ROLES.index(needed))
            if response.status_code >= 500:
                failures.append(f"{method} {path} as {role}: {response.status_code}")
            elif allowed and response.status_code in (401, 403):
                failures.append(f"{method} {path} as {role}: refused ({response.status_code}) but should be allowed")
            elif not allowed and response.status_code != (401 if role is None else 403):
                failures.append(f"{method} {path} as {role}: {response.status_code}, expected {401 if role is None else 403}")
    assert failures == []
    # nothing was written by a role that may not write
    actors = {entry["actor"] for entry in secured.accounts.audit() if entry["action"] != "login"}
    assert actors <= {"admin", "editor"}, actors


def test_anonymous_browsers_are_sent_to_the_login_page_and_back(secured: Secured) -> None:
    client = secured.client
    page = client.get("/map", params={"wall": 1}, headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/map%3Fwall%3D1"
    api = client.get("/collections/shelters/items")
    assert api.status_code == 401 and api.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post("/login", data={"username": "viewer", "password": "not-the-password", "next": "/map"}, follow_redirects=False)
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    right = client.post("/login", data={"username": "viewer", "password": PASSWORD, "next": "/map?wall=1"}, follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/map?wall=1"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and PASSWORD not in cookie
    assert client.get("/map").status_code == 200
    assert client.get("/auth/me").json() == {"username": "viewer", "role": "viewer", "sees_restricted": False}
    assert client.post("/incidents", json=INCIDENT).status_code == 403
    client.post("/logout", follow_redirects=False)
    assert client.get("/auth/me").status_code == 401
    evil = client.post("/login", data={"username": "viewer", "password": PASSWORD, "next": "https://evil.example/x"}, follow_redirects=False)
    assert evil.headers["location"] == "/map", "no open redirect"
    assert client.post("/login", data={"username": "viewer", "password": PASSWORD, "next": "//evil.example"}, follow_redirects=False).headers["location"] == "/map"


def test_passwords_are_hashed_and_never_stored_or_logged_in_clear(secured: Secured, caplog: pytest.LogCaptureFixture) -> None:
    with secured.accounts.engine.connect() as connection:
        dump = json.dumps([list(map(str, row)) for row in connection.exec_driver_sql("SELECT * FROM users").all()])
        tokens = json.dumps([list(map(str, row)) for row in connection.exec_driver_sql("SELECT * FROM api_tokens").all()])
    assert PASSWORD not in dump and "$argon2id$" in dump
    assert all(token not in tokens for token in secured.tokens.values()), "tokens are stored only as hashes"
    secured.client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert PASSWORD not in caplog.text


def test_restricted_fields_only_for_editors(secured: Secured) -> None:
    assert RESTRICTED == ["category", "major_hazard_level"]
    classes = {c["id"]: c["sensitivity"] for c in secured.client.get("/collections", headers=secured.as_role("viewer")).json()["collections"]}
    assert classes["hazardous_enterprises"] == "restricted" and classes["shelters"] == "internal"
    for role, sees in (("viewer", False), ("editor", True), ("admin", True)):
        body = secured.client.get("/collections/hazardous_enterprises/items", params={"limit": 5}, headers=secured.as_role(role)).json()
        keys = set().union(*(f["properties"] for f in body["features"]))
        assert (set(RESTRICTED) <= keys) is sees and (set(RESTRICTED) & keys == set()) is not sees, role
        one = secured.client.get(f"/collections/hazardous_enterprises/items/{body['features'][0]['id']}", headers=secured.as_role(role)).json()
        assert ("major_hazard_level" in one["properties"]) is sees
        described = secured.client.get("/collections/hazardous_enterprises", headers=secured.as_role(role)).json()["description"]
        listed = next(c for c in secured.client.get("/collections", headers=secured.as_role(role)).json()["collections"] if c["id"] == "hazardous_enterprises")
        for text in (described, listed["description"]):
            assert all((f"{name}:" in text) is sees for name in RESTRICTED), f"{role}: the description names the restricted fields only to whom sees them"
    probe = secured.client.get("/collections/hazardous_enterprises/items", params={"major_hazard_level": "一级"}, headers=secured.as_role("viewer"))
    assert probe.status_code == 400, "a viewer cannot learn a restricted value by filtering on it"
    for unknown in ("sortby", "category", "properties"):
        refused = secured.client.get("/collections/hazardous_enterprises/items", params={unknown: "x"}, headers=secured.as_role("viewer"))
        listed = refused.json()["description"].partition("fields:")[2]
        assert refused.status_code == 400 and listed and not [name for name in RESTRICTED if name in listed], f"{unknown}: the fields listed name no restricted one"


def test_share_links_carry_only_their_scope_and_never_restricted_fields(secured: Secured) -> None:
    editor = secured.as_role("editor")
    incident = secured.client.post("/incidents", json={**INCIDENT, "name": "<script>x</script>'; DROP TABLE shares;--"}, headers=editor).json()
    created = secured.client.post("/shares", json={"incident_id": incident["id"], "layers": ["hazardous_enterprises", "shelters"], "expires_hours": 2}, headers=editor)
    assert created.status_code == 201, created.text
    share = created.json()
    token = share["url"].removeprefix("/s/")
    assert len(token) >= 22 and share["token"] == token and share["scope"] == ["hazardous_enterprises", "shelters"]
    assert datetime.fromisoformat(share["expires_at"]) - datetime.fromisoformat(share["created_at"]) == timedelta(hours=2)
    anonymous = TestClient(secured.app)
    data = anonymous.get(f"/s/{token}/data")
    assert data.status_code == 200
    text = data.text
    for name in RESTRICTED:
        assert f'"{name}"' not in text, name
    body = data.json()
    assert set(body["layers"]) == {"hazardous_enterprises", "shelters"}
    assert body["incident"]["name"] == "<script>x</script>'; DROP TABLE shares;--", "stored verbatim"
    assert body["nearest"]["shelter"]["minutes"] > 0 and body["nearest"]["depot"]["km"] > 0
    assert {f["properties"]["layer"] for f in body["routes"]["features"]} == {"rescue_stations", "supply_depots", "shelters"}
    page = anonymous.get(f"/s/{token}")
    assert page.status_code == 200 and "<script>x</script>'; DROP" not in page.text, "the snapshot in the page cannot close its script element"
    # the token opens nothing but its own page, data and tiles
    for path in ("/collections/shelters/items", "/collections/hazardous_enterprises/items", "/map", "/routing/nearest?lon=116.59&lat=35.41", "/shares"):
        assert anonymous.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401, path
    assert anonymous.get(f"/s/{token}/tiles/14/13500/6500.png").status_code == 404, "tiles outside the link's area"
    inside = anonymous.get("/s/{}/tiles/14/{}/{}.png".format(token, *tile_of(body["point"]["lon"], body["point"]["lat"], 14)))
    assert inside.status_code == 200 and inside.content.startswith(b"\x89PNG"), "the tile under the link's own point"
    route = anonymous.get(f"/s/{token}/route", params={"lon": 116.57, "lat": 35.43})
    assert route.status_code == 200 and route.json()["features"][0]["properties"]["travel_time_min"] > 0
    assert route.json()["features"][0]["geometry"]["type"] == "LineString"
    far = anonymous.get(f"/s/{token}/route", params={"lon": 117.5, "lat": 35.9})
    assert far.status_code == 400 and "outside this link's area" in far.json()["description"]
    listed = secured.client.get("/shares", headers=editor).json()["shares"]
    assert [s["id"] for s in listed] == [share["id"]] and "token" not in listed[0] and listed[0]["state"] == "active"
    # the live situation: the incident now, warnings in force within 5 km (not farther), closures — nothing else
    near, far = (body["point"]["lon"] + 0.01, body["point"]["lat"]), (117.4, 35.9)
    alerts = gpd.GeoDataFrame({"source_id": ["ALT-NEAR", "ALT-FAR"], "station_id": ["S1", "S2"], "rule": ["暴雨", "暴雨"], "level": ["橙", "红"], "status": ["已发布", "已发布"],
                               "headline": ["<b>近</b>", "远"], "raised_at": [datetime.now(UTC)] * 2, "revision": [1, 1], "clearable": [False, False]},
                              geometry=[shapely.Point(*near), shapely.Point(*far)], crs=4326)
    secured.app.state.store.upsert("alerts", alerts)
    live = anonymous.get(f"/s/{token}/live")
    assert live.status_code == 200 and set(live.json()["situation"]) == {"incident", "alerts", "closures"}
    assert [(a["id"], a["level"], a["headline"]) for a in live.json()["situation"]["alerts"]] == [("ALT-NEAR", "橙", "<b>近</b>")]
    for name in RESTRICTED:
        assert f'"{name}"' not in live.text, name


def test_expired_revoked_and_unknown_links(secured: Secured) -> None:
    editor = secured.as_role("editor")
    anonymous = TestClient(secured.app)
    first = secured.client.post("/shares", json={"lon": 116.59, "lat": 35.41, "service_areas": False}, headers=editor).json()
    token = first["url"].removeprefix("/s/")
    table = secured.accounts.metadata.tables["shares"]
    with secured.accounts.engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == first["id"]).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = anonymous.get(f"/s/{token}")
    assert expired.status_code == 410 and "链接已失效" in expired.text
    assert anonymous.get(f"/s/{token}/data").status_code == 410
    assert anonymous.get(f"/s/{token}/route", params={"lon": 116.59, "lat": 35.41}).status_code == 410
    assert anonymous.get(f"/s/{token}/live").status_code == 410 and anonymous.get(f"/s/{token}/events").status_code == 410, "an ended link's stream is refused before it opens"
    second = secured.client.post("/shares", json={"lon": 116.59, "lat": 35.41, "service_areas": False}, headers=editor).json()
    assert secured.client.post(f"/shares/{second['id']}/revoke", headers=editor).json()["state"] == "revoked"
    assert anonymous.get(second["url"]).status_code == 410
    assert secured.client.post(f"/shares/{second['id']}/revoke", headers=editor).status_code == 400
    unknown = anonymous.get(f"/s/{new_token()}")
    assert unknown.status_code == 404 and "链接不存在" in unknown.text
    assert anonymous.get(f"/s/{new_token()}/events").status_code == 404
    for body, status, message in (({"lon": 116.59, "lat": 35.41, "expires_hours": 169}, 422, "less than or equal to 168"), ({"lon": 116.59, "lat": 35.41, "layers": ["population"]}, 400, "cannot share"),
                                  ({"incident_id": "INC-nope"}, 404, "INC-nope"), ({}, 400, "incident_id, or lon and lat")):
        response = secured.client.post("/shares", json=body, headers=editor)
        assert response.status_code == status and message in response.text, (body, response.status_code, response.text)


def test_tokens_are_unguessable_stored_as_hashes_and_rate_limited(secured: Secured) -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000 and min(len(t) for t in tokens) >= 32  # 24 random bytes = 192 bits
    # A token is looked up by its SHA-256, so how long a lookup takes says nothing about the
    # token: the store holds the hash and never the token itself.
    token = secured.tokens["viewer"]
    assert secured.client.get("/auth/me", headers=secured.as_role("viewer")).status_code == 200
    with secured.accounts.engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(select(secured.accounts._table("api_tokens"))).mappings()]
    stored = json.dumps(rows, default=str)
    assert token not in stored and token_hash(token) in stored

    anonymous = TestClient(secured.app)
    statuses = [anonymous.get(f"/s/{new_token()}").status_code for _ in range(25)]
    assert statuses[:20] == [404] * 20 and set(statuses[20:]) == {429}
    bearer = [anonymous.get("/collections", headers={"Authorization": f"Bearer {new_token()}"}).status_code for _ in range(25)]
    assert bearer[:20] == [401] * 20 and set(bearer[20:]) == {429}, "token guessing is limited per address"
    cookies = [TestClient(secured.app, cookies={"onemap_session": new_token()}).get("/collections").status_code for _ in range(25)]
    assert set(cookies[20:]) == {429}, "bad session cookies are limited too"
    wrong = [anonymous.post("/login", data={"username": "viewer", "password": "wrong password!"}, follow_redirects=False).status_code for _ in range(25)]
    assert set(wrong[20:]) == {429}

    # A valid credential is never refused for those failures, from the same address.
    assert anonymous.get("/collections", headers=secured.as_role("viewer")).status_code == 200
    share = secured.client.post("/shares", json={"lon": 116.59, "lat": 35.41, "service_areas": False}, headers=secured.as_role("editor")).json()
    assert anonymous.get(share["url"]).status_code == 200
    other_user = anonymous.post("/login", data={"username": "editor", "password": PASSWORD}, follow_redirects=False)
    assert other_user.status_code == 303, "another user's password guesses do not lock this user out"


def test_every_write_is_audited(secured: Secured) -> None:
    editor = secured.as_role("editor")
    incident = secured.client.post("/incidents", json=INCIDENT, headers=editor).json()["id"]
    secured.client.patch(f"/incidents/{incident}", json={"status": "已结束"}, headers=editor)
    closure = secured.client.post("/closures", json={"geometry": SQUARE, "cause": "塌方"}, headers=editor).json()["id"]
    secured.client.post(f"/closures/{closure}/lift", headers=editor)
    secured.client.post("/users", json={"username": "li", "password": PASSWORD, "role": "editor"}, headers=secured.as_role("admin"))
    log = secured.client.get("/audit", headers=secured.as_role("admin")).json()["entries"]
    done = [(e["actor"], e["action"], e["target"], e["before_ids"], e["after_ids"]) for e in reversed(log)]
    assert done[-5:] == [
        ("editor", "create", "incidents", [], [incident]),
        ("editor", "update", "incidents", [incident], [incident]),
        ("editor", "create", "road_closures", [], [closure]),
        ("editor", "lift", "road_closures", [closure], [closure]),
        ("admin", "create", "users", [], ["li"]),
    ]
    assert all(datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in log)


def test_cli_users_tokens_and_audited_imports(secured: Secured, tmp_path: Path) -> None:
    env = settings_env(secured.settings)
    runner = CliRunner()
    added = runner.invoke(main, ["user", "add", "wang", "--role", "editor", "--password-stdin"], input="wang-password-123\n", env=env)
    assert added.exit_code == 0, added.output
    assert "wang" in runner.invoke(main, ["user", "list"], env=env).output
    short = runner.invoke(main, ["user", "add", "zhao", "--password-stdin"], input="short\n", env=env)
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    twice = runner.invoke(main, ["user", "add", "wang", "--password-stdin"], input="wang-password-123\n", env=env)
    assert twice.exit_code == 2 and "exists already" in twice.output
    token = runner.invoke(main, ["user", "token", "wang"], env=env).output.strip()
    assert secured.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "editor"
    csv = tmp_path / "避难场所.csv"
    csv.write_text("编号,名称,类型,经度,纬度,容纳人数\nSH-NEW-1,<b>新建</b>广场,紧急,116.6,35.4,3000\n", encoding="utf-8")
    imported = runner.invoke(main, ["import", "shelters", str(csv)], env=env)
    assert imported.exit_code == 0, imported.output
    entry = secured.accounts.audit(1)[0]
    assert entry["action"] == "import" and entry["target"] == "shelters" and entry["after_ids"] == ["SH-NEW-1"] and entry["actor"].startswith("cli")


def test_serving_without_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    env = settings_env(Settings(store=str(tmp_path / "s.gpkg"), auth="off"))
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8999"], env=env)
    assert result.exit_code == 2 and "only on 127.0.0.1" in result.output


def _login(secured: Secured, password: str = PASSWORD) -> str:
    secured.client.cookies.clear()
    answer = secured.client.post("/login", data={"username": "editor", "password": password}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    cookie = secured.client.cookies.get("onemap_session")
    assert cookie
    secured.client.cookies.clear()
    return cookie


def test_a_password_change_ends_every_session_and_token(secured: Secured) -> None:
    session = _login(secured)
    token = secured.tokens["editor"]
    me = secured.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and secured.client.get("/auth/me", cookies={"onemap_session": session}).status_code == 200
    env = settings_env(secured.settings)
    changed = CliRunner().invoke(main, ["user", "passwd", "editor", "--password-stdin"], input="a-new-long-password\n", env=env)
    assert changed.exit_code == 0 and "2 sessions and API tokens ended" in changed.output, changed.output
    assert secured.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert secured.client.get("/auth/me", cookies={"onemap_session": session}).status_code == 401
    assert secured.accounts.verify_password("editor", "a-new-long-password") is not None
    assert secured.accounts.audit(1)[0]["action"] == "passwd"


def test_disable_tokens_and_revoke_from_the_cli(secured: Secured) -> None:
    env = settings_env(secured.settings)
    runner = CliRunner()
    second = runner.invoke(main, ["user", "token", "viewer", "--label", "大屏脚本"], env=env).output.strip()
    listed = runner.invoke(main, ["user", "tokens", "viewer"], env=env)
    assert listed.exit_code == 0 and "大屏脚本" in listed.output and second not in listed.output, "the token itself is never shown again"
    token_id = int(listed.output.splitlines()[-1].split()[0])
    revoked = runner.invoke(main, ["user", "revoke", str(token_id)], env=env)
    assert revoked.exit_code == 0 and f"API token {token_id} of viewer revoked" in revoked.output
    assert secured.client.get("/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert secured.client.get("/auth/me", headers=secured.as_role("viewer")).status_code == 200, "only that token"
    again = runner.invoke(main, ["user", "revoke", str(token_id)], env=env)
    assert again.exit_code == 2 and "already revoked" in again.output
    assert runner.invoke(main, ["user", "revoke", "999999"], env=env).exit_code == 2
    session = _login(secured)
    disabled = runner.invoke(main, ["user", "disable", "editor"], env=env)
    assert disabled.exit_code == 0, disabled.output
    assert secured.client.get("/auth/me", cookies={"onemap_session": session}).status_code == 401
    assert secured.client.get("/auth/me", headers=secured.as_role("editor")).status_code == 401
    secured.client.cookies.clear()
    assert secured.client.post("/login", data={"username": "editor", "password": PASSWORD}, follow_redirects=False).status_code != 303
    assert "(disabled)" in runner.invoke(main, ["user", "list"], env=env).output
    assert [e["action"] for e in secured.accounts.audit(4)] == ["disable", "login", "revoke", "create"]


def test_a_nul_in_a_login_name_share_id_or_share_title_is_refused_not_a_crash_on_postgis(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    settings = Settings(store=pg_url, pg_schema=pg_schema, auth="required")
    accounts = AccountStore.for_settings(settings)
    accounts.add_user("ed", PASSWORD, "editor")
    token = accounts.new_api_token("ed")
    accounts.close()
    with TestClient(create_app(settings)) as client:
        login = client.post("/login", data={"username": "ed\x00", "password": PASSWORD}, follow_redirects=False)
        assert login.status_code == 401, login.text
        revoke = client.post("/shares/aaaa%00/revoke", headers={"Authorization": f"Bearer {token}"})
        assert revoke.status_code == 404, revoke.text
        # A share's title too (an outside attack's: it was a database error, a 500).
        titled = client.post("/shares", json={"lon": 116.59, "lat": 35.41, "title": "a\u0000b", "service_areas": False}, headers={"Authorization": f"Bearer {token}"})
        assert titled.status_code == 400 and "NUL" in titled.json()["description"], titled.text


def test_expired_sessions_are_purged(secured: Secured) -> None:
    old = secured.accounts.new_session("viewer")
    sessions = secured.accounts.t["sessions"]
    with secured.accounts.engine.begin() as connection:
        connection.execute(update(sessions).values(expires_at=datetime.now(UTC) - timedelta(hours=1)))
    secured.accounts.new_session("viewer")
    with secured.accounts.engine.connect() as connection:
        assert connection.execute(sessions.select()).all().__len__() == 1, "the expired one is gone"
    assert secured.accounts.user_for(old, kind="session") is None


def test_links_use_onemap_public_url_not_the_host_header(secured: Secured) -> None:
    settings = Settings(store=secured.settings.store, auth="required", public_url="https://yjj.example.cn/onemap/")
    with TestClient(create_app(settings)) as client:
        headers = {**secured.as_role("editor"), "Host": "evil.example"}
        landing = client.get("/", headers=headers).json()
        assert {link["href"].split("/onemap")[0] for link in landing["links"]} == {"https://yjj.example.cn"}
        page = client.get("/collections/shelters/items", params={"limit": 2}, headers=headers).json()
        assert all(link["href"].startswith("https://yjj.example.cn/onemap/collections/shelters") for link in page["links"]), page["links"]
        share = client.post("/shares", json={"lon": 116.59, "lat": 35.41, "service_areas": False}, headers=headers).json()
        assert share["link"] == "https://yjj.example.cn/onemap" + share["url"]
    plain = secured.client.post("/shares", json={"lon": 116.59, "lat": 35.41, "service_areas": False}, headers={**secured.as_role("editor"), "Host": "attacker.example"}).json()
    assert "link" not in plain and "attacker.example" not in json.dumps(plain), "without ONEMAP_PUBLIC_URL no absolute link is built from the Host header"
    with pytest.raises(ValueError, match="not an http"):
        Settings(store=secured.settings.store, public_url="javascript:alert(1)")


def test_an_unknown_name_takes_as_long_to_refuse_as_a_wrong_password(secured: Secured) -> None:
    """Log-in must not tell which names exist: an unknown name is checked against a dummy Argon2
    hash. Without it, refusing an unknown name would take microseconds instead of tens of
    milliseconds."""
    import time

    def seconds(username: str) -> float:
        start = time.perf_counter()
        assert secured.accounts.verify_password(username, "wrong password!") is None
        return time.perf_counter() - start

    known = sorted(seconds("viewer") for _ in range(5))[2]
    unknown = sorted(seconds(f"nobody-{i}") for i in range(5))[2]
    assert known > 0.005, "Argon2 verification takes milliseconds"
    assert unknown > known / 3, f"unknown names answered in {unknown * 1000:.2f} ms against {known * 1000:.2f} ms"
