"""The wall map in real headless Chromium (Debian's), served by a real `onemap serve` process on the
sample city: loads with no console errors and no request to another origin, every group toggles,
an incident placed in the UI gets the routing API's answer, changes posted by another client show
up within 5 s, closures recompute routes, the hash is a permalink, search, wall mode, PNG export."""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely

from layers.settings import Settings
from layers.store import open_store

READY = "document.documentElement.dataset.onemapReady === '1' && window.onemap && window.onemap.versions !== null"
ARTIFACTS = Path(os.environ.get("ONEMAP_TEST_ARTIFACTS", "var/test-artifacts"))
CENTRE = "#13/35.41000/116.59000"
RESOURCES = "rescue_stations,supply_depots,shelters"


class Page:
    """A page on the live server, recording console errors and requests to other origins."""

    def __init__(self, browser: Any, base: str, *, width: int = 1600, height: int = 1000) -> None:
        self.base = base
        # bypass_csp: Playwright's string predicates are evaluated (eval), which the pages' CSP
        # forbids; and with the CSP off, data parsed as HTML would run, so the tests show that
        # our code never does that (the CSP is checked separately, as headers).
        self.page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True, bypass_csp=True)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.outside.append(r.url) if not r.url.startswith((base, "data:", "blob:")) else None)
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_function(READY, timeout=90_000)
        return self.page

    def settle(self) -> None:
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(READY, timeout=90_000)


@pytest.fixture
def wall(browser: Any, live_server: str) -> Iterator[Page]:
    """A page on a server of its own (for the tests that write)."""
    page = Page(browser, live_server)
    yield page
    page.page.close()


@pytest.fixture
def reader(browser: Any, read_only_server: str) -> Iterator[Page]:
    """A page on the shared read-only server (tests/conftest.py)."""
    page = Page(browser, read_only_server)
    yield page
    page.page.close()


read_only = pytest.mark.xdist_group("read-only-server")


def _markers(page: Any, layer: str) -> int:
    return int(page.locator(f".om-m-{layer}, .om-c-{layer}").count())


@read_only
def test_the_wall_map_loads_offline_and_every_group_toggles(reader: Page) -> None:
    page = reader.open("/map")
    # the test browser asks for less motion (tests/conftest.py): no zoom or fade animations
    assert page.evaluate("[window.onemap.map.options.zoomAnimation, window.onemap.map.options.fadeAnimation]") == [False, False]
    assert _markers(page, "shelters") > 50 and _markers(page, "rescue_stations") > 0
    assert page.locator("path.om-p-flood_prone_areas").count() > 100
    assert page.locator("img.leaflet-tile-loaded").count() > 0, "the offline basemap is drawn"
    assert page.locator(".om-label").count() == 11, "county names at city zoom"
    counts = {row.get_attribute("data-count"): row.inner_text() for row in page.locator("[data-count]").all()}
    assert counts["reservoirs"] == "248" and counts["rescue_stations"] == "668" and counts["shelters"] == "135"
    legend = page.locator("#om-layers").inner_text()
    for word in ("危险源", "应急资源", "分析", "底图", "重大", "较大", "一般", "低", "超汛限水位", "本地底图"):
        assert word in legend
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wallmap.png"))

    for group, probes in (("hazard", ["reservoirs", "geohazard_points"]), ("resource", ["shelters", "rescue_stations"])):
        page.locator(f"input[data-group={group}]").uncheck()
        reader.settle()
        assert all(_markers(page, layer) == 0 for layer in probes), group
        page.locator(f"input[data-group={group}]").check()
        reader.settle()
        assert all(_markers(page, layer) > 0 for layer in probes), group
    page.locator("input[data-group=basemap]").uncheck()
    reader.settle()
    assert page.locator(".om-label").count() == 0
    page.locator("input[data-group=basemap]").check()
    page.locator("input[data-group=analysis]").check()
    reader.settle()
    assert page.locator(".leaflet-tile-container img[src*='/risk/tiles/']").count() > 0
    assert page.locator("path.om-p-coverage_gaps").count() > 0
    page.locator("input[data-group=analysis]").uncheck()
    reader.settle()
    assert page.locator("img[src*='/risk/tiles/']").count() == 0 and page.locator("path.om-p-coverage_gaps").count() == 0
    page.screenshot(path=str(ARTIFACTS / "wallmap-after-toggles.png"))
    assert reader.errors == []
    assert reader.outside == [], f"the page asked other origins for {reader.outside}"


def _api_nearest(base: str, lon: float, lat: float, k: int) -> list[tuple[str, int, str, str]]:
    """The API's answer (around the closures in force, as the wall map's)."""
    params: dict[str, Any] = {"lon": lon, "lat": lat, "layers": RESOURCES, "k": k}
    body = httpx.get(f"{base}/routing/nearest", params=params, timeout=60).json()
    return [(f["properties"]["layer"], f["properties"]["rank"], f["properties"]["resource_id"], f"{f['properties']['travel_time_min']:.1f} 分钟") for f in body["features"]]


def _ui_table(page: Any) -> list[tuple[str, int, str, str]]:
    rows = []
    for row in page.locator("tr.om-eta-row").all():
        cells = row.locator("td").all_inner_texts()
        rows.append((row.get_attribute("data-layer"), int(row.get_attribute("data-rank")), row.get_attribute("data-id"), cells[2]))
    return rows


def _place_incident(wall: Page, x: int = 800, y: int = 500) -> Any:
    page = wall.page
    page.click("#om-incident-mode")
    page.mouse.click(x, y)
    page.select_option("#om-incident-kind", "危化品事故")
    page.fill("#om-incident-name", "<img src=x onerror=alert(1)>罐区泄漏")
    page.click("#om-incident-save")
    page.wait_for_selector("tr.om-eta-row", timeout=60_000)
    wall.settle()
    return page


@pytest.mark.slow
def test_an_incident_placed_in_the_ui_gets_the_routing_apis_answer_and_a_closure_reroutes_it(wall: Page, sample_settings: Settings) -> None:
    """One flow on one page (a served city and a placed incident cost seconds each): the incident,
    its table, routes, areas, share link and brief; then closures cut, drawn and lifted."""
    page = wall.open(f"/map{CENTRE}/layers={RESOURCES},incidents,road_closures,labels")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _place_incident(wall)
    with open_store(sample_settings) as store:
        incidents = store.read("incidents")
    assert len(incidents) == 1 and incidents["kind"].iloc[0] == "危化品事故"
    assert incidents["name"].iloc[0] == "<img src=x onerror=alert(1)>罐区泄漏", "stored verbatim"
    point = incidents.geometry.iloc[0]
    expected = _api_nearest(wall.base, point.x, point.y, k=3)
    assert len(expected) == 9
    assert _ui_table(page) == expected
    assert page.locator("path.om-route").count() == sum(1 for row in expected if row[3] != "不可达")
    side = page.locator("#om-side").inner_text()
    assert "<img src=x onerror=alert(1)>罐区泄漏" in side, "the name is shown as text"
    assert "风险等级" in side and "1 km 内" in side and "5 km 内" in side
    assert page.locator("path.om-p-service_areas").count() >= 3
    assert page.locator("input[data-layer=service_areas]").is_checked()
    assert dialogs == [], "no script from the data ran"
    page.screenshot(path=str(ARTIFACTS / "wallmap-incident.png"))

    page.click("#om-share")
    link = page.locator("#om-share-link input").input_value()
    assert "/s/" in link
    shared = httpx.get(link, timeout=30)
    assert shared.status_code == 200 and "罐区泄漏" in httpx.get(link + "/data", timeout=30).json()["title"]

    with page.expect_download(timeout=60_000) as download:
        page.click("#om-brief")
    brief = download.value.path()
    text = subprocess.run(["pdftotext", "-layout", str(brief), "-"], check=True, capture_output=True, text=True).stdout
    assert "突发事件简报" in text and "<img src=x onerror=alert(1)>罐区泄漏" in text and "最近救援力量" in text, "the brief of this incident, its name as text"
    assert download.value.suggested_filename.endswith(".pdf")

    page.select_option("#om-k", "5")
    page.wait_for_function("document.querySelectorAll('tr.om-eta-row').length === 15", timeout=60_000)
    wall.settle()
    assert _ui_table(page) == _api_nearest(wall.base, point.x, point.y, k=5)
    assert wall.errors == [] and wall.outside == []
    _closures_recompute_the_routes(wall)


def _wait_for(condition: Any, seconds: float = 5.0) -> float:
    """Seconds until ``condition()`` holds; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_changes_posted_by_another_client_appear_within_5_seconds(wall: Page, sample_settings: Settings) -> None:
    page = wall.open(f"/map{CENTRE}/layers=reservoirs,incidents,road_closures")
    assert _markers(page, "incidents") == 0
    posted = httpx.post(f"{wall.base}/incidents", json={"lon": 116.5912, "lat": 35.4105, "kind": "洪涝", "name": "城区内涝点"}, timeout=30)
    assert posted.status_code == 201, posted.text
    _wait_for(lambda: _markers(page, "incidents") == 1)
    assert "城区内涝点" in page.locator("#om-ticker").inner_text()

    with open_store(sample_settings) as store:
        reservoirs = store.read("reservoirs")
    row = reservoirs.loc[reservoirs["flood_limit_level_m"].notna() & ~reservoirs["above_flood_limit"].fillna(False).astype(bool)].iloc[0]
    page.evaluate(f"() => {{ window.onemap.map.setView([{row.geometry.y}, {row.geometry.x}], 14); }}")
    wall.settle()
    alerts_before = page.locator(".om-m-reservoirs .om-alert").count()
    httpx.post(f"{wall.base}/reservoirs/{row['source_id']}/level", json={"current_level_m": float(row["flood_limit_level_m"]) + 1}, timeout=30).raise_for_status()
    _wait_for(lambda: page.locator(".om-m-reservoirs .om-alert").count() == alerts_before + 1)

    square = shapely.Point(row.geometry.x, row.geometry.y).buffer(0.005)
    httpx.post(f"{wall.base}/closures", json={"geometry": shapely.geometry.mapping(square), "cause": "洪水"}, timeout=30).raise_for_status()
    _wait_for(lambda: page.locator("path.om-p-road_closures").count() == 1)
    assert wall.errors == [] and wall.outside == []


def _closures_recompute_the_routes(wall: Page) -> None:
    """A closure posted by another client cuts the fastest rescue route: the table (5 per layer)
    becomes the API's answer around it; a closure drawn in the UI is saved, one lifted is gone."""
    page = wall.page
    before = _ui_table(page)
    incident = page.evaluate("[window.onemap.incident.lon, window.onemap.incident.lat]")
    first = httpx.get(f"{wall.base}/routing/nearest", params={"lon": incident[0], "lat": incident[1], "layers": "rescue_stations", "k": 1}, timeout=30).json()["features"][0]
    route = shapely.geometry.shape(first["geometry"])
    cut = gpd.GeoSeries([route.interpolate(0.5, normalized=True)], crs=4326).to_crs(4548).buffer(80).to_crs(4326).iloc[0]
    httpx.post(f"{wall.base}/closures", json={"geometry": shapely.geometry.mapping(cut), "cause": "塌方"}, timeout=30).raise_for_status()
    expected = _api_nearest(wall.base, incident[0], incident[1], k=5)
    assert expected != before, "the closure cuts the fastest rescue route"
    page.wait_for_function("document.querySelector('#om-closures-used') && document.querySelector('#om-closures-used').innerText.includes('已避开 1 处封闭区')", timeout=10_000)
    wall.settle()
    assert _ui_table(page) == expected

    # a closure drawn in the UI is saved, then lifted from its popup
    page.click("#om-closure-mode")
    for x, y in ((1000, 720), (1060, 720), (1060, 780), (1000, 780)):
        page.mouse.click(x, y)
    page.click("#om-closure-finish")
    page.select_option("#om-closure-cause", "积水")
    page.click("#om-closure-save")
    page.wait_for_function("document.querySelectorAll('path.om-p-road_closures').length === 2", timeout=10_000)
    active = httpx.get(f"{wall.base}/collections/road_closures/items", params={"status": "封闭中"}, timeout=30).json()["features"]
    assert sorted(f["properties"]["cause"] for f in active) == ["塌方", "积水"]
    wall.settle()
    assert page.locator("[data-count=road_closures]").inner_text() == "2"
    lifted = next(f["id"] for f in active if f["properties"]["cause"] == "塌方")
    httpx.post(f"{wall.base}/closures/{lifted}/lift", timeout=30).raise_for_status()
    page.wait_for_function("document.querySelectorAll('path.om-p-road_closures').length === 1", timeout=10_000)
    # the layer's count is of closures in force: the lifted one is kept in the store, not counted
    wall.settle()
    assert page.locator("[data-count=road_closures]").inner_text() == "1"
    assert wall.errors == [] and wall.outside == []


@read_only
def test_the_url_hash_is_a_permalink(reader: Page) -> None:
    page = reader.open("/map#12/35.55000/116.78000/layers=shelters,labels")
    assert page.evaluate("window.onemap.map.getZoom()") == 12
    centre = page.evaluate("[window.onemap.map.getCenter().lat, window.onemap.map.getCenter().lng]")
    assert centre == pytest.approx([35.55, 116.78], abs=1e-4)
    assert page.locator("input[data-layer=shelters]").is_checked()
    assert not page.locator("input[data-layer=reservoirs]").is_checked()
    assert _markers(page, "reservoirs") == 0 and _markers(page, "shelters") > 0
    page.locator("input[data-layer=reservoirs]").check()
    page.evaluate("() => { window.onemap.map.setZoom(13); }")
    reader.settle()
    link = page.evaluate("location.href")
    assert "/layers=shelters,labels,reservoirs" in link and "#13/" in link
    other = Page(reader.page.context.browser, reader.base)
    tile_zooms: set[str] = set()
    other.page.on("request", lambda r: tile_zooms.add(r.url.split("/")[-3]) if "/tiles/" in r.url else None)
    copy = other.open(link.replace(reader.base, ""))
    assert copy.evaluate("window.onemap.map.getZoom()") == 13
    assert tile_zooms == {"13"}, f"a linked view loads its own zoom's tiles only, not the city's first: {tile_zooms}"
    assert copy.locator("input[data-layer=reservoirs]").is_checked() and _markers(copy, "reservoirs") > 0
    other.page.close()


@read_only
def test_search_scale_coordinates_and_wall_mode(reader: Page) -> None:
    page = reader.open("/map")
    page.fill("#om-search", "尼山")
    page.wait_for_selector("#om-hits li[data-hit]")
    assert "尼山水库" in page.locator("#om-hits").inner_text()
    page.locator("#om-hits li[data-hit]").first.click()
    reader.settle()
    assert page.evaluate("window.onemap.map.getZoom()") >= 14
    popup = page.locator(".leaflet-popup")
    assert popup.count() == 1 and popup.is_visible(), "the search hit opens its popup"
    assert "尼山水库" in popup.inner_text() and "在此标绘事件" in popup.inner_text()
    assert page.locator(".leaflet-control-scale-line").count() >= 1
    page.mouse.move(700, 400)
    assert page.locator("#om-coords").inner_text().startswith("经度 1")
    page.fill("#om-search", "116.59,35.41")
    page.wait_for_selector("#om-hits li[data-hit=coordinate]").click()
    reader.settle()
    centre = page.evaluate("[window.onemap.map.getCenter().lat, window.onemap.map.getCenter().lng]")
    assert centre == pytest.approx([35.41, 116.59], abs=1e-3)

    board = Page(reader.page.context.browser, reader.base, width=1920, height=1080)
    screen = board.open("/map?wall=1")
    assert not screen.locator("#om-incident-mode").is_visible() and not screen.locator("#om-search").is_visible()
    assert screen.locator("#om-layers").is_visible()
    screen.screenshot(path=str(ARTIFACTS / "wallmap-wall-mode.png"))
    assert board.errors == [] and board.outside == []
    board.page.close()


@read_only
def test_the_view_exports_as_png(reader: Page, tmp_path: Path) -> None:
    page = reader.open(f"/map{CENTRE}/layers=shelters,labels")
    with page.expect_download(timeout=60_000) as download:
        page.click("#om-export")
    target = tmp_path / "view.png"
    download.value.save_as(target)
    from PIL import Image

    image = Image.open(target)
    assert image.size[0] >= 1000 and image.size[1] >= 600
    pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 20, "the export has the map in it"
    # The legend as the operator sees it: each layer's tick box in the export looks as on screen.
    screen = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(float)
    for layer in ("shelters", "reservoirs"):
        box = page.locator(f"input[data-layer={layer}]").bounding_box()
        x0, y0, x1, y1 = (round(v) for v in (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
        difference = np.abs(pixels[y0:y1, x0:x1].astype(float) - screen[y0:y1, x0:x1]).mean()
        assert difference < 20, f"the {layer} tick box differs in the export (mean |Δ| {difference:.0f})"
    assert reader.errors == [] and reader.outside == []


@read_only
def test_a_gcj02_basemap_shifts_our_data_by_the_same_formulas_as_gis_crs(reader: Page) -> None:
    from gis.crs import wgs84_to_gcj02

    shelter = httpx.get(f"{reader.base}/collections/shelters/items", params={"bbox": "116.55,35.37,116.63,35.45", "limit": 1}, timeout=30).json()["features"][0]
    lon, lat = shelter["geometry"]["coordinates"]
    page = reader.open(f"/map#16/{lat:.5f}/{lon:.5f}/layers=shelters")
    marker = f"window.onemap.layers.shelters.container.getLayers().find((l) => l.featureId === {shelter['id']!r}).getLatLng()"
    assert page.evaluate(f"[{marker}.lng, {marker}.lat]") == pytest.approx([lon, lat], abs=1e-9)
    page.locator("input[data-basemap=custom-1]").check()
    reader.settle()
    shifted = page.evaluate(f"[{marker}.lng, {marker}.lat]")
    expected = wgs84_to_gcj02(lon, lat)
    assert shifted == pytest.approx([float(expected[0]), float(expected[1])], abs=1e-9)
    assert abs(shifted[0] - lon) > 1e-3, "hundreds of metres, as on Gaode's tiles"
    back = page.evaluate(f"window.onemap.lonlat(L.latLng({shifted[1]}, {shifted[0]}))")
    assert back == pytest.approx([lon, lat], abs=1e-7), "clicks on the shifted map come back to WGS 84"
    assert "base=custom-1" in page.evaluate("location.hash")
    assert reader.errors == [] and reader.outside == []


def test_the_wall_map_behind_a_login(browser: Any, sample_gpkg: Path, tmp_path: Path) -> None:
    from tests.helpers import TEST_PASSWORD, secured_copy, serving

    settings, accounts, _ = secured_copy(sample_gpkg, tmp_path, {"duty": "viewer"})
    accounts.close()
    with serving(settings) as base:
        wall = Page(browser, base)
        page = wall.page
        page.goto(base + "/map#13/35.41000/116.59000/layers=shelters")
        page.wait_for_selector("#login")
        assert page.url.startswith(base + "/login?next=/map")
        page.fill("#username", "duty")
        page.fill("#password", "wrong password!")
        page.click("#login")
        assert "用户名或密码错误" in page.locator("#login-error").inner_text()
        page.fill("#username", "duty")
        page.fill("#password", TEST_PASSWORD)
        page.click("#login")
        page.wait_for_function(READY, timeout=90_000)
        assert _markers(page, "shelters") > 0
        page.wait_for_function("document.getElementById('om-user').innerText.includes('duty')")
        assert "查看" in page.locator("#om-user").inner_text()
        page.click("#om-incident-mode")
        page.mouse.click(800, 500)
        page.click("#om-incident-save")
        page.wait_for_function("document.getElementById('om-ticker').innerText.includes('事件未保存')")
        assert "viewer" in page.locator("#om-ticker").inner_text(), "a viewer is told why it cannot write"
        page.locator("#om-user button").click()
        page.wait_for_selector("#login")
        assert wall.outside == []
        wall.page.close()
