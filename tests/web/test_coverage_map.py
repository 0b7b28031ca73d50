"""The coverage map, opened in real headless Chromium with no network: every layer drawn, popups
with the numbers, names escaped, nothing fetched from outside."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layers.settings import Settings
from layers.store import open_store
from tests.helpers import run_cli


def test_coverage_map_draws_offline_with_popups(browser, sample_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with open_store(sample_settings) as store:
        shelter = store.read("shelters").head(1).assign(name="<img src=x onerror=alert(1)>广场")
        store.upsert("shelters", shelter)
    out = tmp_path / "out"
    result = run_cli(sample_settings, "coverage", "--out", str(out), "site", "--p", "3")
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(("file:", "data:")) else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("dialog", lambda dialog: errors.append(f"a script ran: {dialog.message}"))
    page.goto((out / "coverage_map.html").as_uri())
    page.wait_for_selector("path.onemap-shelter")
    assert page.locator("path.onemap-shelter").count() == 135
    assert page.locator("path.onemap-township").count() == 156
    assert page.locator("path.onemap-gap").count() > 0
    assert page.locator(".onemap-site").count() == 3
    legend = page.locator("#onemap-legend").inner_text()
    assert "负荷率" in legend and "未覆盖人口" in legend and "路网步行时间" in legend
    assert page.locator(".leaflet-control-layers-overlays label").count() == 4

    # A click event on the site's marker itself: a pointer click at its position could land while
    # the map still settles (seen once in CI under load: no popup in 30 s).
    page.locator(".onemap-site").first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "新增覆盖人口" in popup.inner_text()
    page.screenshot(path=str(tmp_path / "coverage.png"))
    page.close()
    assert errors == []
    assert outside == [], f"the map asked the network for {outside}"

    from PIL import Image

    pixels = np.asarray(Image.open(tmp_path / "coverage.png").convert("RGB")).astype(int)
    orange = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] > 100) & (pixels[:, :, 1] < 200) & (pixels[:, :, 2] < 120)
    assert orange.sum() > 1000, "the township choropleth is drawn"


def test_shelter_popup_shows_load_and_escapes_names(browser, sample_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with open_store(sample_settings) as store:
        shelter = store.read("shelters").head(1).assign(name="<b>粗体</b>广场")
        store.upsert("shelters", shelter)
    result = run_cli(sample_settings, "coverage", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((tmp_path / "coverage_map.html").as_uri())
    page.wait_for_selector("path.onemap-shelter")
    page.evaluate("""() => { for (const k in window) { const v = window[k];
        if (v && v.getPopup && v.getPopup() && String(v.getPopup().getContent()).includes('粗体')) { v.openPopup(); return; } } }""")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "<b>粗体</b>广场" in text, "the name is shown as text, not markup"
    assert "负荷率" in text and "容纳能力" in text
    page.close()
