"""The wall map's dense layers from vector tiles, in real headless Chromium on a real `onemap serve`:
roads, administrative areas, flood-prone areas, risk zones and the population grid are drawn from
``/collections/{layer}/tiles/WebMercatorQuad/…`` (never from ``/items``), in their colours; a road's
hover tooltip and the popups of a risk zone and a flood-prone area give their fields in Chinese;
a hostile road name shows as text and never runs; the layer control and the permalink follow."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image

from layers.settings import Settings
from layers.store import open_store
from tests.helpers import serving
from tests.web.test_wallmap import ARTIFACTS, Page

pytestmark = pytest.mark.xdist_group("read-only-server")  # a browser reader, on the worker of the others

DENSE = {"roads", "admin_areas", "flood_prone_areas", "risk_zones", "population"}
PAYLOAD = "<img src=x onerror=window.__pwned=1>国道'\"&"
"""A road name that would run script if it were ever parsed as HTML."""
TILE = re.compile(r"/collections/(\w+)/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)$")
ITEMS = re.compile(r"/collections/(\w+)/items")


@dataclass(frozen=True)
class Served:
    url: str
    centre: tuple[float, float]
    """Where the page opens (lon, lat): a flood-prone area's inner point."""
    grave: tuple[float, float]
    """The middle of the 重大 risk zone written for the test (lon, lat)."""


def _square(lon: float, lat: float, half: float) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([shapely.box(lon - half, lat - half, lon + half, lat + half)])


@pytest.fixture(scope="module")
def served(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The sample city with two stored risk zones and hostile names on the roads round a flood-prone
    area, served for this module's tests (read only)."""
    copy = tmp_path_factory.mktemp("vector-wall") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    settings = Settings(store=str(copy), risk_resolution_m=500.0)
    with open_store(settings) as store:
        flood = store.read("flood_prone_areas", bbox=(116.45, 35.30, 116.75, 35.50))
        inner = flood.geometry.representative_point()
        nearest = int(np.argmin(np.hypot(inner.x - 116.59, inner.y - 35.41)))
        centre = (float(inner.x.iloc[nearest]), float(inner.y.iloc[nearest]))
        lon, lat = centre
        roads = store.read("roads", bbox=(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02))
        store.upsert("roads", roads.assign(name=[f"{PAYLOAD}{n}" for n in range(len(roads))]))
        grave = (lon + 0.015, lat - 0.005)  # in view below the layer panel, clear of the flood area
        assert not flood.geometry.iloc[nearest].intersects(_square(*grave, 0.004))
        zones = gpd.GeoDataFrame(
            {"source_id": ["RZ-4", "RZ-1"], "level": ["重大", "低"], "level_code": [4, 1], "area_km2": [0.6, 0.6], "resolution_m": [500.0, 500.0]},
            geometry=[_square(*grave, 0.004), _square(lon - 0.03, lat - 0.012, 0.004)], crs="EPSG:4326")
        store.upsert("risk_zones", zones)
    with serving(settings) as url:
        yield Served(url, centre, grave)


@pytest.fixture(scope="module")
def wall(browser: Any, served: Served) -> Iterator[tuple[Page, list[str]]]:
    """One page on the map at zoom 14 with the five dense layers on, and the URLs it asked for."""
    page = Page(browser, served.url, width=1000, height=700)
    asked: list[str] = []
    page.page.on("request", lambda request: asked.append(request.url))
    lon, lat = served.centre
    page.open(f"/map#14/{lat:.5f}/{lon:.5f}/layers={','.join(sorted(DENSE))}")
    yield page, asked
    page.page.close()


def _screen_point(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where (lon, lat) is on the screen (the basemap here is WGS 84: no offset)."""
    point = page.evaluate("([lon, lat]) => { const p = window.onemap.map.latLngToContainerPoint([lat, lon]); const r = window.onemap.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }", [lon, lat])
    return float(point[0]), float(point[1])


def _popup(page: Any, x: float, y: float) -> str:
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = str(popup.inner_text())
    assert popup.locator("img, script").count() == 0
    page.evaluate("() => { window.onemap.map.closePopup(); }")  # braces: the map itself would be serialised back
    page.wait_for_selector(".leaflet-popup", state="detached")
    return text


def test_the_dense_layers_are_drawn_from_vector_tiles(wall: tuple[Page, list[str]], served: Served) -> None:
    page, asked = wall[0].page, wall[1]
    tiles = {match.group(1) for url in asked if (match := TILE.search(url.split("?")[0]))}
    assert tiles == DENSE, "each dense layer from its tiles"
    assert not {match.group(1) for url in asked if (match := ITEMS.search(url))} & DENSE, "none of them from /items"
    drawn = {layer: page.locator(f"path.om-p-{layer}").count() for layer in DENSE}
    assert drawn["roads"] > 100 and drawn["population"] > 100 and drawn["flood_prone_areas"] > 0 and drawn["admin_areas"] > 0, drawn
    assert drawn["risk_zones"] >= 2, drawn
    fills = page.evaluate("() => [...document.querySelectorAll('path.om-p-risk_zones')].map((p) => p.getAttribute('fill'))")
    assert {"#FF0000", "#0000FF"} <= set(fills), "risk levels in their official colours"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "wallmap-vector-tiles.png"))
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500, "a drawn map, not a blank page"
    x, y = _screen_point(page, *served.grave)
    red, green, blue = pixels[round(y), round(x)]
    assert red > green + 60 and red > blue + 60, f"the 重大 zone is red on the screen: {(red, green, blue)}"

    legend = page.locator("#om-layers").inner_text()
    for word in ("基础数据", "道路", "人口网格", "行政区划", "风险分区（已存）", "山洪及易涝区"):
        assert word in legend
    assert wall[0].errors == [] and wall[0].outside == []


def test_hover_and_click_give_the_fields_and_hostile_text_stays_text(wall: tuple[Page, list[str]], served: Served) -> None:
    page = wall[0].page
    # the road nearest the middle of the screen: one of those renamed round it
    middle = page.evaluate("""() => { const r = window.onemap.map.getContainer().getBoundingClientRect(); const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
        let best = null;
        for (const path of document.querySelectorAll('path.om-p-roads')) {
          const length = path.getTotalLength(); if (!length) continue;
          const p = path.getPointAtLength(length / 2).matrixTransform(path.getScreenCTM());
          const d = Math.hypot(p.x - cx, p.y - cy); if (!best || d < best[2]) best = [p.x, p.y, d];
        } return best; }""")
    assert middle is not None and middle[2] < 150, middle
    page.mouse.move(middle[0], middle[1])
    tip = page.locator(".leaflet-tooltip")
    tip.wait_for(timeout=5_000)
    text = tip.inner_text()
    assert PAYLOAD in text and "道路等级" in text, text
    road = _popup(page, middle[0], middle[1])
    assert PAYLOAD in road and "道路等级" in road and "长度 (m)" in road and "道路" in road, road
    assert page.evaluate("window.__pwned") is None, "the name never ran"
    assert page.locator("img[src='x']").count() == 0

    page.locator("input[data-layer=roads]").uncheck()  # the layer control; roads lie over the areas
    wall[0].settle()
    assert page.locator("path.om-p-roads").count() == 0
    assert "roads" not in page.evaluate("location.hash") and "risk_zones" in page.evaluate("location.hash"), "the permalink follows"
    zone = _popup(page, *_screen_point(page, *served.grave))
    assert "风险等级" in zone and "重大" in zone and "面积 (km²)" in zone and "RZ-4" in zone, zone
    flood = _popup(page, *_screen_point(page, *served.centre))
    assert "山洪及易涝区" in flood and "类型" in flood and "威胁人数 (人)" in flood, flood
    assert wall[0].errors == []


def test_below_z8_a_merged_road_says_how_many_edges_it_holds(wall: tuple[Page, list[str]], served: Served) -> None:
    """At z7 the roads of one class and name are one line (api/vector_tiles.py MERGE_ROADS_BELOW):
    its tooltip and its popup give its class and how many edges it holds, as text."""
    page = wall[0].page
    page.locator("input[data-layer=roads]").check()
    lon, lat = served.centre
    page.evaluate("([lat, lon]) => { window.onemap.map.setView([lat, lon], 7, { animate: false }); }", [lat, lon])
    wall[0].settle()
    page.wait_for_selector("path.om-p-roads", state="attached", timeout=30_000)
    middle = page.evaluate("""() => { const r = window.onemap.map.getContainer().getBoundingClientRect();
        for (const path of document.querySelectorAll('path.om-p-roads')) {
          const length = path.getTotalLength(); if (length < 20) continue;
          const p = path.getPointAtLength(length / 2).matrixTransform(path.getScreenCTM());
          if (p.x > r.left + 260 && p.x < r.right - 20 && p.y > r.top + 20 && p.y < r.bottom - 20 && document.elementFromPoint(p.x, p.y) === path) return [p.x, p.y];
        } return null; }""")
    assert middle is not None, "a merged road lies clear on the screen at z7"
    page.mouse.move(*middle)
    tip = page.locator(".leaflet-tooltip")
    tip.wait_for(timeout=5_000)
    assert "段合并显示" in tip.inner_text() and "道路等级" in tip.inner_text(), tip.inner_text()
    road = _popup(page, *middle)
    assert "段合并显示" in road and "道路等级" in road and "undefined" not in road, road
    assert page.evaluate("window.__pwned") is None and wall[0].errors == []
