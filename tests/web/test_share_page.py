"""A share link on a phone (headless Chromium at 360×640, touch): an editor makes it through the
API of a real server with auth on; it opens without login and shows the incident, the route and
the nearest shelter; texts from the data stay text; the user's position; it re-opens offline;
after expiry it shows the 410 page."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from tests.helpers import secured_copy, serving

NAME = "<img src=x onerror=alert(1)>化工厂泄漏"


def test_a_field_team_opens_the_link_on_a_phone(browser: Any, sample_gpkg: Path, tmp_path: Path) -> None:
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path, {"editor": "editor"})
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    with serving(settings) as base:
        incident = httpx.post(f"{base}/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "危化品事故", "name": NAME}, headers=editor, timeout=30)
        assert incident.status_code == 201, incident.text
        created = httpx.post(f"{base}/shares", json={"incident_id": incident.json()["id"], "layers": ["shelters", "supply_depots"]}, headers=editor, timeout=60)
        assert created.status_code == 201, created.text
        share = created.json()
        # The wall map itself needs a login: a browser is sent to the log-in page, an API client refused.
        browsing = httpx.get(f"{base}/map", headers={"Accept": "text/html"}, timeout=10, follow_redirects=False)
        assert browsing.status_code == 303 and browsing.headers["location"] == "/login?next=/map"
        assert httpx.get(f"{base}/map", timeout=10, follow_redirects=False).status_code == 401

        context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True, device_scale_factor=2,
                                      geolocation={"latitude": 35.43, "longitude": 116.57}, permissions=["geolocation"], bypass_csp=True)  # string predicates need eval
        page = context.new_page()
        errors: list[str] = []
        outside: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        response = page.goto(base + share["url"])
        assert response is not None and response.status == 200
        page.wait_for_function("document.documentElement.dataset.onemapReady === '1'")
        page.wait_for_selector("img.leaflet-tile-loaded")
        assert page.locator("#share-title").inner_text() == NAME, "the name is shown as text"
        assert page.locator("path.om-share-route").count() == 3, "the fastest route of each kind"
        shelter = page.locator("#nearest-shelter").inner_text()
        assert "最近避难场所" in shelter and "分钟" in shelter and "km" in shelter
        assert page.locator("#nearest-depot").is_visible()
        navigate = page.locator("#nearest-shelter a.btn.primary")
        assert navigate.get_attribute("href").startswith("geo:")  # type: ignore[union-attr]
        for button in page.locator(".btn").all():
            box = button.bounding_box()
            assert box is not None and box["height"] >= 44, "large touch targets"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scrolling at 360 px"
        page.locator("#locate").tap()
        page.wait_for_function("document.getElementById('my-distance').innerText.includes('km')")
        assert "距事件点直线" in page.locator("#my-distance").inner_text()
        page.wait_for_function("document.getElementById('my-route').innerText.includes('分钟')")
        expected = httpx.get(f"{base}{share['url']}/route", params={"lon": 116.57, "lat": 35.43}, timeout=30).json()["features"][0]["properties"]
        assert f"{expected['travel_time_min']:.1f} 分钟" in page.locator("#my-route").inner_text()
        assert page.locator("path.om-share-myroute").count() == 1
        artifacts = Path(os.environ.get("ONEMAP_TEST_ARTIFACTS", "var/test-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "share-phone.png"))

        # The situation is live: the incident's new status and a closure drawn at the command
        # centre reach the phone through the link's own event stream, without a reload.
        page.wait_for_function("document.getElementById('live-status').dataset.mode === 'push'")
        assert "无生效预警" in page.locator("#share-alerts").inner_text()
        closures_before = page.locator("path.om-share-closure").count()
        ring = [[116.592, 35.408], [116.596, 35.408], [116.596, 35.412], [116.592, 35.412], [116.592, 35.408]]
        assert httpx.post(f"{base}/closures", json={"geometry": {"type": "Polygon", "coordinates": [ring]}, "cause": "积水"}, headers=editor, timeout=30).status_code == 201
        assert httpx.patch(f"{base}/incidents/{incident.json()['id']}", json={"status": "处置中"}, headers=editor, timeout=30).status_code == 200
        page.wait_for_function("document.getElementById('share-status').innerText.includes('处置中')", timeout=15_000)
        page.wait_for_function(f"document.querySelectorAll('path.om-share-closure').length > {closures_before}", timeout=15_000)
        live = httpx.get(f"{base}{share['url']}/live", timeout=30).json()
        assert live["situation"]["incident"]["status"] == "处置中" and len(live["situation"]["closures"]["features"]) == closures_before + 1
        assert set(live["situation"]) == {"incident", "alerts", "closures"}, "a link's live situation carries nothing else"

        page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        context.set_offline(True)
        page.reload()
        page.wait_for_function("document.documentElement.dataset.onemapReady === '1'")
        assert page.locator("#share-title").inner_text() == NAME, "the link re-opens with no network"
        context.set_offline(False)
        assert errors == [] and outside == [] and dialogs == []

        table = accounts.metadata.tables["shares"]
        with accounts.engine.begin() as connection:
            connection.execute(update(table).where(table.c.id == share["id"]).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        gone = page.goto(base + share["url"])
        assert gone is not None and gone.status == 410
        assert "链接已失效" in page.locator("#share-error").inner_text()
        assert httpx.get(f"{base}{share['url']}/data", timeout=10).status_code == 410
        page.screenshot(path=str(artifacts / "share-expired.png"))
        context.close()
        assert outside == [] and dialogs == []
    accounts.close()


def test_the_service_worker_cache_is_named_per_build(client: Any, monkeypatch: Any, tmp_path: Path) -> None:
    """An upgrade that changes an asset gives a new cache name, so phones drop the old scripts."""
    import re

    import web.share_page

    before = client.get("/s/sw.js").text
    name = re.search(r'const CACHE = PREFIX \+ "([0-9a-f]{12})"', before)
    assert name and "__BUILD__" not in before and "__ASSETS__" not in before
    assert '"/static/onemap/share.js"' in before and "caches.delete" in before
    changed = tmp_path / "share-sw.js"
    changed.write_text(web.share_page.SERVICE_WORKER_FILE.read_text(encoding="utf-8") + "\n// upgraded\n", encoding="utf-8")
    monkeypatch.setattr(web.share_page, "SERVICE_WORKER_FILE", changed)
    after = client.get("/s/sw.js").text
    assert name.group(1) not in after and re.search(r'const CACHE = PREFIX \+ "([0-9a-f]{12})"', after)


def _imports(module: Path) -> set[Path]:
    """The files ``module`` imports (``import … from "./x.js"``), and theirs, transitively."""
    import re

    found: set[Path] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in re.findall(r'^\s*import\s[^"\']*["\'](\.{1,2}/[^"\']+)["\']', current.read_text(encoding="utf-8"), flags=re.MULTILINE):
            target = (current.parent / name).resolve()
            if target not in found:
                found.add(target)
                todo.append(target)
    return found


def test_the_service_worker_keeps_every_module_the_share_page_imports() -> None:
    from web.share_page import SHARE_ASSETS
    from web.wallmap import STATIC_DIR

    imported = {path.relative_to(STATIC_DIR).as_posix() for path in _imports(STATIC_DIR / "share.js")}
    assert imported >= {"shared/dom.js", "shared/colours.js", "shared/format.js"}, "share.js uses the wall map's helpers"
    kept = {asset.removeprefix("onemap/") for asset in SHARE_ASSETS if asset.startswith("onemap/")}
    assert imported <= kept, f"the worker would not keep {sorted(imported - kept)} for offline use"


def test_every_module_is_served_as_javascript(client: Any) -> None:
    """Browsers run a module only when its content type says JavaScript."""
    from web.wallmap import STATIC_DIR

    modules = sorted(STATIC_DIR.rglob("*.js"))
    assert len(modules) > 10
    for module in modules:
        response = client.get(f"/static/onemap/{module.relative_to(STATIC_DIR).as_posix()}")
        assert response.status_code == 200, module
        assert "javascript" in response.headers["content-type"], module
    wall = _imports(STATIC_DIR / "wallmap.js")
    assert all(path.is_file() for path in wall) and len(wall) >= 12, "every import of the wall map resolves to a file"
