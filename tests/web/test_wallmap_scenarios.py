"""Scenarios on the wall map, in real headless Chromium against a real `onemap serve` of the sample
city with auth on, as an editor: the plume tool (a release point clicked beside a chemical park,
the wind set by dragging the arrow's head, 计算 → the zones in their colours, the popup's figures as
the API has them, a zone's tooltip); a scenario made through the API with a hostile name, pushed to
the open page when its closure is written, shown as text; and ended from its popup, gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import TEST_PASSWORD, secured_copy, serving
from web.wallmap import SCENARIO_ZONE_COLOURS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scenarios")]  # a browser on a served wall map; one server, one worker

READY = "document.documentElement.dataset.onemapReady === '1' && window.onemap && window.onemap.versions !== null"
PARK = (116.736062, 35.495831)
"""兖州工业园区化工园区 (sample city): north-east of the city centre, so a north-easterly wind blows over town."""
SCREENSHOT = Path("/tmp/wallmap-scenario.png")
HOSTILE = "<img src=x onerror=window.__pwned=1>"
ZONE_NAMES = ("红区", "橙区", "黄区")


@pytest.fixture(scope="module")
def served(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample city served with auth on; an editor `duty` (password TEST_PASSWORD) and its token."""
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path_factory.mktemp("scenarios"), {"duty": "editor"})
    accounts.close()
    with serving(settings) as base:
        yield {"base": base, "auth": {"Authorization": f"Bearer {tokens['duty']}"}}


def _open(browser: Any, base: str, path: str) -> tuple[Any, list[str]]:
    # bypass_csp: Playwright's string predicates are evaluated (eval), which the page's CSP forbids
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def dialog(d: Any) -> None:  # script from the data would open one
        errors.append(f"dialog {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(f"{base}/login?next={path.split('#')[0]}")
    page.fill("#username", "duty")
    page.fill("#password", TEST_PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{base}/map**")
    page.goto("about:blank")  # then the view in the hash (a fragment does not travel through ?next=), loaded afresh
    page.goto(f"{base}{path}")
    page.wait_for_function(READY, timeout=60_000)
    assert page.evaluate("window.onemap.map.getZoom()") == float(path.split("#")[1].split("/")[0])
    return page, errors


def _screen(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where (lon, lat) is on the page, CSS pixels."""
    point = page.evaluate("""([lon, lat]) => { const m = window.onemap.map, box = m.getContainer().getBoundingClientRect();
        const p = m.latLngToContainerPoint(window.onemap.ll(lon, lat)); return [box.left + p.x, box.top + p.y]; }""", [lon, lat])
    return float(point[0]), float(point[1])


def _scenario(served: dict[str, Any], scenario_id: str) -> dict[str, Any]:
    response = httpx.get(f"{served['base']}/scenarios/{scenario_id}", headers=served["auth"], timeout=30)
    response.raise_for_status()
    return dict(response.json())


def test_an_editor_sets_the_wind_by_dragging_the_arrow_and_computes_a_plume(browser: Any, served: dict[str, Any]) -> None:
    page, errors = _open(browser, served["base"], f"/map#13/{PARK[1]:.5f}/{PARK[0]:.5f}")
    page.click("#om-plume-mode")  # shown to editors only, once the role is known
    assert page.locator("#om-plume-wind").inner_text() == "请在地图上点击泄漏点"
    sx, sy = _screen(page, *PARK)
    page.mouse.click(sx, sy)
    handle = page.locator(".om-plume-handle")
    handle.wait_for(state="visible")
    assert page.locator("#om-plume-wind").inner_text() == "风向 南风 180°，烟羽向北", "the first arrow points north"
    source = page.locator(".om-plume-source").bounding_box()
    assert abs(source["x"] + source["width"] / 2 - sx) < 2 and abs(source["y"] + source["height"] / 2 - sy) < 2, "the release point is where it was clicked"

    # drag the head south-west of the release point, the way the gas is to go
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(sx - 120, sy + 120, steps=12)
    page.mouse.up()
    wind = page.locator("#om-plume-wind").inner_text()
    wind_from = int(page.locator("#om-plume-wind").get_attribute("data-wind-from"))
    assert "东北风" in wind and "烟羽向西南" in wind and abs(wind_from - 45) <= 1, wind
    assert wind == f"风向 东北风 {wind_from}°，烟羽向西南"
    assert page.locator(".om-plume-label").inner_text() == f"东北风 {wind_from}°", "the wind beside the arrow too"

    # a value the API refuses: its reason in the panel, as the server says it
    page.fill("#om-plume-release", "0")
    page.click("#om-plume-compute")
    refused = page.locator("#om-plume-error")
    page.wait_for_function("document.getElementById('om-plume-error').textContent !== ''", timeout=30_000)
    assert refused.inner_text().startswith("计算失败：") and "release" in refused.inner_text(), refused.inner_text()
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    errors.clear()

    page.fill("#om-plume-release", "1000")
    page.fill("#om-plume-name", "兖州化工园区氯气泄漏（演练）")
    page.click("#om-plume-compute")
    popup = page.locator(".leaflet-popup .om-scenario")
    popup.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(READY, timeout=60_000)
    assert page.locator("#om-plume-error").inner_text() == ""

    scenario = _scenario(served, popup.get_attribute("data-scenario"))
    assert scenario["parameters"]["wind_from_deg"] == wind_from and scenario["parameters"]["stability"] == "D"
    assert scenario["parameters"]["thresholds_mg_m3"] == [58, 5.8, 1.5] and scenario["status"] == "预案"
    zones = [f for f in scenario["features"] if f["properties"]["part"] == "zone" and f["geometry"]]
    assert [f["properties"]["zone"] for f in zones] == list(ZONE_NAMES)

    # the zones: SVG paths in their overlay pane (above the layers' polygons), the gravest red and drawn last (on top)
    paths = page.locator(".leaflet-om-scenarios-pane path.om-p-scenarios")
    assert paths.count() >= len(zones)
    fills = [p.get_attribute("fill") for p in paths.all()]
    assert set(fills) == set(SCENARIO_ZONE_COLOURS[: len(zones)]) and fills[-1] == SCENARIO_ZONE_COLOURS[0]
    assert page.locator("path.om-zone-1").first.get_attribute("fill-opacity") == "0.35"

    # the popup: the API's figures, with thousands separators
    assert scenario["residents"] > 1000, "the plume crosses town"
    assert popup.locator("h4").inner_text() == "兖州化工园区氯气泄漏（演练）"
    assert popup.locator(".om-sub").first.inner_text().startswith("危化品泄漏 · 预案")
    assert popup.locator("[data-value=residents]").inner_text() == f"{scenario['residents']:,} 人"
    assert popup.locator("[data-value=displaced]").inner_text() == f"{scenario['displaced']:,} 人"
    assert "," in popup.locator("[data-value=residents]").inner_text()
    assert popup.locator(".om-needs tr").first.locator("th").all_inner_texts() == ["物资", "需求", "缺口", "单位"]
    assert popup.locator(".om-needs tr[data-item]").count() == len(scenario["needs"]) > 0
    short = {s["item"]: s["short"] for s in scenario["shortfalls"]}
    first = scenario["needs"][0]
    row = popup.locator(f".om-needs tr[data-item='{first['item']}'] td").all_inner_texts()
    assert row[0] == first["name_zh"] and row[3] == first["unit_zh"] == "千克" and row[2].replace(",", "") == f"{short[first['item']]:g}"
    assert popup.locator("button[data-action=activate]").inner_text() == "生效"
    assert popup.locator("button[data-action=end]").inner_text() == "结束"
    page.screenshot(path=str(SCREENSHOT))

    # a zone's tooltip, on hover (the tool closed first: its arrow lies along the plume)
    page.click("#om-plume-form button:has-text('关闭')")
    page.evaluate("() => { window.onemap.map.closePopup(); }")
    assert page.locator(".om-plume-handle").count() == 0 and paths.count() >= len(zones), "the zones stay"
    page.locator("path.om-zone-1").first.hover()
    tip = page.locator(".leaflet-tooltip.om-zone-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().startswith("红区 · 面积 ") and tip.inner_text().endswith(" km²")
    assert errors == []
    page.context.close()


def test_a_hostile_name_shows_as_text_and_ending_from_the_popup_removes_it(browser: Any, served: dict[str, Any]) -> None:
    lon, lat = 116.892897, 35.436993  # 邹城工业园区化工产业园
    page, errors = _open(browser, served["base"], f"/map#12/{lat:.5f}/{lon:.5f}")
    shown_before = page.evaluate("() => [...window.onemap.scenarios.keys()]")

    # made active through the API by another client: its closure's change brings it to the open page
    body = {"kind": "plume", "lon": lon, "lat": lat, "wind_from_deg": 90, "wind_speed_ms": 3, "stability": "D", "release_g_s": 1000,
            "thresholds_mg_m3": [58, 5.8, 1.5], "name": HOSTILE, "active": True}
    response = httpx.post(f"{served['base']}/scenarios", json=body, headers=served["auth"], timeout=120)
    while response.status_code == 202:
        page.wait_for_timeout(1000 * int(response.headers["Retry-After"]))
        response = httpx.post(f"{served['base']}/scenarios", json=body, headers=served["auth"], timeout=120)
    assert response.status_code == 201, response.text
    scenario = response.json()
    assert scenario["status"] == "生效中" and scenario["closure_id"]
    page.wait_for_function(f"window.onemap.scenarios.has('{scenario['id']}')", timeout=15_000)
    assert scenario["id"] not in shown_before

    # a click on its gravest zone opens its popup: the name as text, no markup, no script
    centre = page.evaluate(f"() => {{ const c = window.onemap._zoneLayers.get('{scenario['id']}').getBounds().getCenter(); return [c.lng, c.lat]; }}")
    page.evaluate(f"() => {{ window.onemap.map.setView([{centre[1]}, {centre[0]}], 15, {{ animate: false }}); }}")
    page.wait_for_function(READY, timeout=60_000)
    page.mouse.click(*_screen(page, *centre))
    popup = page.locator(f".leaflet-popup .om-scenario[data-scenario='{scenario['id']}']")
    popup.wait_for(state="visible", timeout=10_000)
    assert popup.locator("h4").inner_text() == HOSTILE
    assert popup.locator(".om-sub").first.inner_text().startswith("危化品泄漏 · 生效中")
    assert popup.locator("[data-value=residents]").inner_text() == f"{scenario['residents']:,} 人"
    assert page.locator("img[src='x']").count() == 0 and page.evaluate("window.__pwned") is None
    assert popup.locator("button[data-action=activate]").count() == 0, "already active"

    # 结束 from the popup: the scenario and its zones leave the map, its closure is lifted
    zones_before = page.locator("path.om-p-scenarios").count()
    popup.locator("button[data-action=end]").click()
    page.wait_for_function(f"!window.onemap.scenarios.has('{scenario['id']}')", timeout=15_000)
    page.wait_for_function(READY, timeout=60_000)
    drawn = sum(1 for f in scenario["features"] if f["properties"]["part"] == "zone" and f["geometry"])
    assert page.locator("path.om-p-scenarios").count() == zones_before - drawn
    assert _scenario(served, scenario["id"])["status"] == "已结束"
    closure = httpx.get(f"{served['base']}/collections/road_closures/items/{scenario['closure_id']}", headers=served["auth"], timeout=30).json()
    assert closure["properties"]["status"] != "封闭中"
    assert page.evaluate("window.__pwned") is None
    assert errors == []
    page.context.close()
