"""The offline field kit on a share link's phone page (headless Chromium, 360×640): the user opens
a basemap and a layers archive (PMTiles, as ``onemap export-tiles`` writes them) from the phone;
they are kept; with no network and after a reload the basemap is drawn from the archive, and the
layers from the layers archive (vector tiles the service worker serves to Leaflet.VectorGrid).
Online, the link's dense layer in scope is drawn from the link's own vector tiles.

The basemap archive here holds magenta tiles, written by the real archive writer, so the
screenshot tells the archive's tiles apart from the link's own basemap (which has no magenta).
The layers archive holds, in every tile, a small square flood-prone area with a hostile name and a
shelter, so they are drawn wherever the map looks."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
import shapely
from PIL import Image, ImageChops

from layers.io.pmtiles_export import ArchiveJob, basemap_metadata, tiles_covering, write_archives

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("read-only-server")]

MAGENTA = (255, 0, 255)
AREA = (116.3, 35.2, 116.9, 35.6)
"""The kit's area (lon/lat, degrees): around the shared point 116.59, 35.41."""
HOSTILE = "<img src=x onerror=alert(1)>易涝点"
FLOOD_COLOUR = "#2c7fb8"
"""The 易涝区 class colour of flood-prone areas (the wall map's, web/wallmap.py TILE_CLASSES)."""


def _magenta_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), MAGENTA).save(buffer, format="PNG")
    return buffer.getvalue()


def _kit(folder: Path) -> tuple[Path, Path]:
    """A basemap archive of magenta PNGs and a layers archive of a square and a point, zooms 8–11."""
    tiles = tiles_covering(shapely.box(*AREA), min_zoom=8, max_zoom=11)
    png = _magenta_png()
    mvt = mapbox_vector_tile.encode([
        {"name": "flood_prone_areas", "features": [{"geometry": "POLYGON((256 256, 1536 256, 1536 1536, 256 1536, 256 256))", "properties": {"name": HOSTILE, "kind": "易涝区", "source_id": "F-1"}}]},
        {"name": "shelters", "features": [{"geometry": "POINT(2048 2048)", "properties": {"name": "避难场所"}}]},
    ])
    basemap, layers = folder / "test-basemap.pmtiles", folder / "test.pmtiles"
    write_archives([
        ArchiveJob(basemap, tiles, lambda z, x, y: png, "png", AREA, basemap_metadata(city="济宁市", adcode="370800")),
        ArchiveJob(layers, tiles, lambda z, x, y: mvt, "mvt", AREA,
                   {"vector_layers": [{"id": "flood_prone_areas", "fields": {"name": "String", "kind": "String"}}, {"id": "shelters", "fields": {"name": "String"}}],
                    "onemap": {"city": "济宁市", "kind": "layers"}}),
    ])
    return basemap, layers


def _magenta_share(page: Any) -> float:
    """The share of the map's pixels that are the archive's magenta."""
    box = page.locator("#map").bounding_box()
    shot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
    red, green, blue = (band.point(lambda v, t=t: 255 if t(v) else 0) for band, t in zip(shot.split(), (lambda v: v > 230, lambda v: v < 25, lambda v: v > 230), strict=True))
    hits = ImageChops.multiply(ImageChops.multiply(red, green), blue)
    return sum(hits.histogram()[255:]) / (shot.width * shot.height)


def _vector_tiles(answers: list[tuple[str, int]]) -> list[int]:
    """The statuses of the link's vector tiles of flood-prone areas the page asked for."""
    return [status for url, status in answers if "/collections/flood_prone_areas/tiles/WebMercatorQuad/" in url]


def test_the_kit_draws_the_basemap_and_the_layers_with_no_network(browser: Any, read_only_server: str, tmp_path: Path) -> None:
    base = read_only_server
    basemap, layers = _kit(tmp_path)
    created = httpx.post(f"{base}/shares", json={"lon": 116.59, "lat": 35.41, "layers": ["shelters", "flood_prone_areas"], "k": 1, "zoom": 12, "service_areas": False}, timeout=60)
    assert created.status_code == 201, created.text
    url = base + created.json()["url"]

    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    answers: list[tuple[str, int]] = []
    asked: list[str] = []  # the URLs the page asked for, in order (answers may come after a reload)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("response", lambda r: answers.append((r.url, r.status)))
    page.on("request", lambda r: asked.append(r.url))
    page.goto(url)
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    assert "未载入" in page.locator("#kit-status").inner_text()
    page.wait_for_selector("img.leaflet-tile-loaded")
    assert _magenta_share(page) == 0, "before the kit, the link's own basemap"
    # online, the dense layer in scope comes from the link's own vector tiles, only over its area
    page.wait_for_selector(".om-share-vectors-flood_prone_areas .leaflet-tile-loaded", state="attached")
    statuses = _vector_tiles(answers)
    assert statuses and set(statuses) <= {200, 304}, f"the link's vector tiles, none outside its area (404): {answers}"
    assert all(u.startswith(f"{url}/collections/flood_prone_areas/tiles/WebMercatorQuad/") for u, _ in answers if "/collections/" in u), answers
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    wrong = tmp_path / "notes.pmtiles"
    wrong.write_bytes(b"not an archive at all" * 100)
    page.set_input_files("#kit-file", [str(wrong)])
    page.wait_for_function("() => document.getElementById('kit-status').innerText.includes('不是 PMTiles 图包')")
    page.set_input_files("#kit-file", [str(basemap), str(layers)])
    page.wait_for_function("() => (document.getElementById('kit-status').dataset.kinds || '').split(' ').length === 2")
    status = page.locator("#kit-status").inner_text()
    assert "底图：济宁市 z8–11" in status and "图层（2 个，联网时显示链接的图层，断网时绘制）" in status, status
    assert page.locator(".om-kit-vectors").count() == 0, "online, the link's own layers"
    page.locator("#kit-layers").click()  # 使用图包图层: the kit's layers online too, in place of the link's
    page.wait_for_selector(".om-kit-vectors path.om-p-flood_prone_areas", state="attached", timeout=10_000)
    assert page.locator(".om-share-vectors").count() == 0 and "图层（2 个，已绘制）" in page.locator("#kit-status").inner_text()
    page.locator("#kit-layers").click()
    page.wait_for_selector(".om-share-vectors-flood_prone_areas", state="attached")
    assert page.locator(".om-kit-vectors").count() == 0
    # every tile of the link's layer drawn, so none is still asked for when the page goes offline
    # (a load state such as networkidle is reached once per page, so it cannot wait for these)
    page.wait_for_function("""() => { const tiles = [...document.querySelectorAll('.om-share-vectors-flood_prone_areas .leaflet-tile')];
        return tiles.length > 0 && tiles.every((t) => t.classList.contains('leaflet-tile-loaded')); }""")

    context.set_offline(True)
    answers.clear()
    asked.clear()  # from here, what the reloaded page asks for: an answer to the page before may still come in
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === 'basemap layers'")
    page.wait_for_selector(".om-kit-basemap img.leaflet-tile-loaded")
    drawn = page.evaluate("() => [...document.querySelectorAll('.om-kit-basemap img.leaflet-tile-loaded')].map((i) => [i.src.slice(0, 5), i.naturalWidth])")
    assert drawn and all(src == "blob:" and width == 256 for src, width in drawn), drawn
    assert page.locator(f"img.leaflet-tile[src*='{created.json()['url']}/tiles/']").count() == 0, "offline, the link's own tiles are not asked for"
    page.wait_for_function("() => [...document.querySelectorAll('.om-kit-basemap img.leaflet-tile-loaded')].every((i) => ['', '1'].includes(i.style.opacity))")  # shown whole: faded in, or never faded (less motion)
    assert _magenta_share(page) > 0.3, "the basemap comes from the archive"
    assert "底图：济宁市" in page.locator("#kit-status").inner_text()

    # the layers archive drawn through the service worker: the square in its class colour, the shelter a dot
    page.wait_for_selector(".om-kit-vectors path.om-p-flood_prone_areas", state="attached", timeout=10_000)
    page.wait_for_selector(".om-kit-vectors path.om-p-shelters", state="attached", timeout=10_000)
    fills = page.evaluate("() => [...document.querySelectorAll('.om-kit-vectors path.om-p-flood_prone_areas')].map((p) => p.getAttribute('fill'))")
    assert fills and set(fills) == {FLOOD_COLOUR}, fills
    assert "图层（2 个，已绘制）" in page.locator("#kit-status").inner_text()
    assert page.locator(".om-share-vectors").count() == 0 and page.locator("path.om-share-snapshot").count() == 0, "the kit holds the layer: neither the link's tiles nor the snapshot"
    kit_tiles = page.evaluate("""() => Promise.all(['/s/kit/11/1687/808.pbf', '/s/kit/3/0/0.pbf'].map((u) => fetch(u).then((r) => [r.status, r.headers.get('content-type')])))""")
    assert kit_tiles == [[200, "application/vnd.mapbox-vector-tile"], [204, None]], kit_tiles
    # a tap on the square: its popup names it, as text
    spot = page.evaluate("""() => { const r = document.getElementById('map').getBoundingClientRect();
        for (let y = r.top + 10; y < r.bottom; y += 12) for (let x = r.left + 10; x < r.right; x += 12) {
          const hit = document.elementFromPoint(x, y); if (hit && hit.matches('.om-kit-vectors path.om-p-flood_prone_areas')) return [x, y]; }
        return null; }""")
    assert spot is not None, "the square lies under the map somewhere"
    page.mouse.click(*spot)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert HOSTILE in popup.inner_text() and "山洪及易涝区" in popup.inner_text() and "易涝区" in popup.inner_text(), popup.inner_text()
    assert page.locator(".leaflet-popup-content img, img[src='x']").count() == 0 and dialogs == [], "the name stays text"
    assert not [u for u in asked if "/collections/flood_prone_areas/tiles/WebMercatorQuad/" in u], "offline, the link's vector tiles are not asked for"

    context.set_offline(False)
    page.locator("#kit-remove").click()
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === ''")
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === ''")
    assert page.locator(".om-kit-basemap").count() == 0 and page.locator(".om-kit-vectors").count() == 0, "removed, the kit stays removed"
    context.close()
    assert errors == [] and dialogs == [], errors

    # with no service worker the kit's layers cannot be drawn, and the card says so
    blocked = browser.new_context(viewport={"width": 360, "height": 640}, service_workers="block")
    page = blocked.new_page()
    page.goto(url)
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    page.set_input_files("#kit-file", [str(layers)])
    page.wait_for_function("() => document.getElementById('kit-status').dataset.layers === 'no-worker'")
    assert "图层（2 个，不能绘制：此页的离线服务（Service Worker）未启用" in page.locator("#kit-status").inner_text()
    assert page.locator(".om-kit-vectors").count() == 0 and page.locator("#kit-layers").count() == 0
    blocked.close()
