"""Early warning on the wall (issue 15), in real headless Chromium against a real `onemap serve` of
the sample city after a simulated rainstorm, logged in as an editor: the alert panel (gravest first,
headlines verbatim and inert, acknowledging), the strip of key figures, pulsing stations, a station's
chart with its threshold lines, the city fitted to the screen, wall mode's type; and alerts pushed to
an open page by server-sent events, and by polling when the browser has no EventSource."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from layers.store import open_store
from tests.helpers import TEST_PASSWORD, run_cli, secured_copy, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("storm")]  # a browser on a served wall map; one storm, one worker

READY = "document.documentElement.dataset.onemapReady === '1' && window.onemap && window.onemap.versions !== null"
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>马寨乡雨量站"
RENAMED = "51120024"  # a rain gauge the sample storm (seed 7) alerts
LEVELS = ["蓝", "黄", "橙", "红"]


@pytest.fixture(scope="module")
def storm(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample city after the simulated storm, a station renamed to hostile text first, served
    with auth on; an editor `duty` (password TEST_PASSWORD) and its API token."""
    settings, accounts, tokens = secured_copy(sample_gpkg, tmp_path_factory.mktemp("storm"), {"duty": "editor"})
    accounts.close()
    with open_store(settings) as store:
        station = store.get("monitoring_stations", RENAMED)
        store.upsert("monitoring_stations", station.assign(name=HOSTILE))
        gauges = store.read("monitoring_stations", filters={"kind": "水位"})
    assert run_cli(settings, "simulate", "rainstorm", "--speed", "0").exit_code == 0
    reservoirs = gauges[gauges["flood_limit_level_m"].notna() & gauges["design_flood_level_m"].notna()]
    with serving(settings) as base:
        yield {"base": base, "auth": {"Authorization": f"Bearer {tokens['duty']}"}, "gauges": reservoirs}


def _open(browser: Any, base: str, path: str, *, no_event_source: bool = False, width: int = 1920, height: int = 1080) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    if no_event_source:
        context.add_init_script("delete window.EventSource")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (errors.extend([f"dialog {d.message}"]), d.dismiss()))
    page.goto(f"{base}/login?next={path}")
    page.fill("#username", "duty")
    page.fill("#password", TEST_PASSWORD)
    page.click("#login")
    page.wait_for_function(READY, timeout=60_000)
    return page, errors


def _alerts(storm: dict[str, Any]) -> list[dict[str, Any]]:
    return list(httpx.get(f"{storm['base']}/alerts", headers=storm["auth"], timeout=30).json()["alerts"])


def _gravest_first(alerts: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(alerts, key=lambda a: (a["status"] == "已解除", -LEVELS.index(a["level"]), -datetime.fromisoformat(a["raised_at"]).timestamp(), a["id"]))
    return [a["id"] for a in ordered]


def test_the_alert_panel_strip_pulse_chart_and_fit(browser: Any, storm: dict[str, Any]) -> None:
    alerts = _alerts(storm)
    assert len(alerts) > 10 and any(HOSTILE in a["headline"] for a in alerts)
    page, errors = _open(browser, storm["base"], "/map")

    # opened fitted to the city: its outline's box fills ≥ 60 % of the map in its tighter direction
    share = page.evaluate("""() => { const [w, s, e, n] = window.onemap.config.city_bbox; const m = window.onemap.map;
        const a = m.latLngToContainerPoint([n, w]), b = m.latLngToContainerPoint([s, e]), size = m.getSize();
        return Math.max((b.x - a.x) / size.x, (b.y - a.y) / size.y); }""")
    assert share >= 0.6, f"the city fills {share:.0%} of the screen"

    page.wait_for_function(f"document.querySelectorAll('#om-alert-list li[data-alert]').length === {len(alerts)}", timeout=10_000)
    items = page.locator("#om-alert-list li[data-alert]")
    assert [item.get_attribute("data-alert") for item in items.all()] == _gravest_first(alerts)
    by_id = {a["id"]: a for a in alerts}
    assert page.locator(".om-alert-headline").all_inner_texts() == [by_id[i]["headline"] for i in _gravest_first(alerts)], "verbatim"
    assert page.locator("#om-alerts img, #om-alerts script").count() == 0, "markup from the data is not markup"

    figures = httpx.get(f"{storm['base']}/map/figures", headers=storm["auth"], timeout=30).json()
    page.wait_for_selector("[data-figure='alerts-橙']")
    for level in LEVELS:
        assert page.locator(f"[data-figure='alerts-{level}'] .om-fig-value").inner_text() == f"{figures['alerts'][level]} 条"
    assert page.locator("[data-figure=stations_offline] .om-fig-value").inner_text() == f"{figures['stations_offline']} / {figures['stations']} 个"
    assert page.locator("[data-figure=residents_in_grave_risk] .om-fig-value").inner_text() in ("—",) or figures["residents_in_grave_risk"] is not None

    pulsing = page.locator(".om-m-monitoring_stations .om-alerting")
    assert pulsing.count() >= 1
    assert pulsing.first.evaluate("(node) => getComputedStyle(node).animationName") == "none", "a screen asking for less motion: a steady ring"
    assert pulsing.first.evaluate("(node) => getComputedStyle(node).boxShadow") != "none"
    page.emulate_media(reduced_motion="no-preference")
    assert pulsing.first.evaluate("(node) => getComputedStyle(node).animationName") == "om-alert-pulse", "otherwise it pulses"
    page.emulate_media(reduced_motion="reduce")  # the pulse costs Chromium most of a core while the page is open

    # a click on an alerting rain gauge: its bars; a reservoir gauge's popup: its threshold lines
    pulsing.first.click()
    page.wait_for_selector(".leaflet-popup-content .om-chart canvas", timeout=10_000)
    gauge = storm["gauges"].iloc[0]
    page.evaluate("""(id) => { const state = window.onemap.layers.monitoring_stations;
        state.container.getLayers().find((l) => l.featureId === id).openPopup(); }""", gauge["source_id"])
    page.wait_for_selector(f".om-chart[data-station='{gauge['source_id']}'] canvas", timeout=10_000)
    labels = page.locator(".om-thresholds").inner_text()
    assert "汛限水位" in labels and "设计洪水位" in labels and f"{gauge['flood_limit_level_m']:.2f} m" in labels
    page.evaluate("() => { window.onemap.map.closePopup(); }")
    page.wait_for_selector(".leaflet-popup", state="detached")

    first = page.locator("#om-alert-list li[data-status='已发布']").first
    acked = first.get_attribute("data-alert")
    first.locator("button[data-action=ack]").click()
    page.wait_for_selector(f"li[data-alert='{acked}'][data-status='已确认']", timeout=10_000)
    assert page.locator(f"li[data-alert='{acked}'] .om-alert-status").inner_text() == "已确认"
    assert next(a for a in _alerts(storm) if a["id"] == acked)["status"] == "已确认"

    # wall mode: read from across the room
    page.goto(f"{storm['base']}/map?wall=1")
    page.wait_for_function(READY, timeout=60_000)
    page.wait_for_selector(".om-alert-headline")
    for selector in (".om-alert-headline", ".om-fig-label", ".om-label", ".om-row"):
        size = page.locator(selector).first.evaluate("(node) => parseFloat(getComputedStyle(node).fontSize)")
        assert size >= 18, (selector, size)
    assert errors == []
    page.context.close()


def _raise_alert(storm: dict[str, Any], gauge: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [{"station": gauge["source_id"], "time": (now - timedelta(minutes=m)).isoformat(), "value": float(gauge["design_flood_level_m"]) + 0.5, "unit": "m"} for m in (5, 0)]
    httpx.post(f"{storm['base']}/observations", json=readings, headers=storm["auth"], timeout=30).raise_for_status()


def test_a_new_alert_is_pushed_to_the_open_page_and_polled_without_event_source(browser: Any, storm: dict[str, Any]) -> None:
    for number, no_event_source in enumerate((False, True), start=1):
        page, errors = _open(browser, storm["base"], "/map", no_event_source=no_event_source)
        mode = "poll" if no_event_source else "push"
        page.wait_for_function(f"document.getElementById('om-status').dataset.mode === '{mode}'", timeout=10_000)
        gauge = storm["gauges"].iloc[number]
        started = time.monotonic()
        _raise_alert(storm, gauge)
        page.wait_for_function(f"[...document.querySelectorAll('.om-alert-station')].some((n) => n.textContent === '{gauge['source_id']}')", timeout=10_000)
        took = time.monotonic() - started
        assert took < (3 if mode == "push" else 8), f"{mode}: {took:.1f} s"
        active = httpx.get(f"{storm['base']}/map/figures", headers=storm["auth"], timeout=30).json()["alerts"]
        strip = " ".join(f"{active[level]} 条" for level in reversed(LEVELS))
        page.wait_for_function(f"[...document.querySelectorAll('[data-figure^=alerts-] .om-fig-value')].map((n) => n.textContent).join(' ') === '{strip}'", timeout=5_000)
        assert errors == []
        page.context.close()
