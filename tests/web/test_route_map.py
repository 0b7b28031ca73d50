"""The route map of one query, opened in real headless Chromium with no network."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.settings import Settings
from tests.helpers import run_cli


def test_route_map_draws_offline_in_chromium(browser, sample_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flood = tmp_path / "flood.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(116.575, 35.395, 116.60, 35.405)], crs=4326).to_file(flood)
    page_path = tmp_path / "route.html"
    result = run_cli(sample_settings, "route", "nearest", "--lon", "116.59", "--lat", "35.41", "--layers", "rescue_stations", "-k", "5", "--closures", str(flood), "--map", str(page_path))
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(("file:", "data:")) else None)
    page.goto(page_path.as_uri())
    page.wait_for_selector("path.onemap-route")
    assert page.locator("path.onemap-route").count() == 5
    assert page.locator("path.rank-1").count() == 1
    assert page.locator(".onemap-eta").count() == 5
    assert page.locator("path[fill='url(#onemap-hatch)']").count() == 1
    assert "第1名" in page.locator("#onemap-legend").inner_text()
    screenshot = tmp_path / "route.png"
    page.screenshot(path=str(screenshot))
    page.close()
    assert outside == [], f"the map asked the network for {outside}"
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 60) & (pixels[:, :, 2] < 60)
    assert red.sum() > 50, "the rank-1 route and the incident are drawn in red"
    assert pixels.std() > 10, "the page is not blank"
