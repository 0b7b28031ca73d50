"""The offline field kit on a share link's phone page (headless Chromium, 360×640): the user opens
a basemap and a layers archive (PMTiles, as ``onemap export-tiles`` writes them) from the phone;
they are kept; with no network and after a reload the basemap is drawn from the archive.

The basemap archive here holds magenta tiles, written by the real archive writer, so the
screenshot tells the archive's tiles apart from the link's own basemap (which has no magenta)."""

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


def _magenta_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), MAGENTA).save(buffer, format="PNG")
    return buffer.getvalue()


def _kit(folder: Path) -> tuple[Path, Path]:
    """A basemap archive of magenta PNGs and a layers archive of one point, zooms 8–11."""
    tiles = tiles_covering(shapely.box(*AREA), min_zoom=8, max_zoom=11)
    png = _magenta_png()
    mvt = mapbox_vector_tile.encode([{"name": "shelters", "features": [{"geometry": "POINT(2048 2048)", "properties": {"name": "避难场所"}}]}])
    basemap, layers = folder / "test-basemap.pmtiles", folder / "test.pmtiles"
    write_archives([
        ArchiveJob(basemap, tiles, lambda z, x, y: png, "png", AREA, basemap_metadata(city="济宁市", adcode="370800")),
        ArchiveJob(layers, tiles, lambda z, x, y: mvt, "mvt", AREA,
                   {"vector_layers": [{"id": "shelters", "fields": {"name": "String"}}], "onemap": {"city": "济宁市", "kind": "layers"}}),
    ])
    return basemap, layers


def _magenta_share(page: Any) -> float:
    """The share of the map's pixels that are the archive's magenta."""
    box = page.locator("#map").bounding_box()
    shot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
    red, green, blue = (band.point(lambda v, t=t: 255 if t(v) else 0) for band, t in zip(shot.split(), (lambda v: v > 230, lambda v: v < 25, lambda v: v > 230), strict=True))
    hits = ImageChops.multiply(ImageChops.multiply(red, green), blue)
    return sum(hits.histogram()[255:]) / (shot.width * shot.height)


def test_the_kit_draws_the_basemap_with_no_network(browser: Any, read_only_server: str, tmp_path: Path) -> None:
    base = read_only_server
    basemap, layers = _kit(tmp_path)
    created = httpx.post(f"{base}/shares", json={"lon": 116.59, "lat": 35.41, "layers": ["shelters"], "k": 1, "zoom": 12, "service_areas": False}, timeout=60)
    assert created.status_code == 201, created.text
    url = base + created.json()["url"]

    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    assert "未载入" in page.locator("#kit-status").inner_text()
    page.wait_for_selector("img.leaflet-tile-loaded")
    assert _magenta_share(page) == 0, "before the kit, the link's own basemap"
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
    assert "底图：济宁市 z8–11" in status and "图层（1 个" in status, status

    context.set_offline(True)
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === 'basemap layers'")
    page.wait_for_selector(".om-kit-basemap img.leaflet-tile-loaded")
    drawn = page.evaluate("() => [...document.querySelectorAll('.om-kit-basemap img.leaflet-tile-loaded')].map((i) => [i.src.slice(0, 5), i.naturalWidth])")
    assert drawn and all(src == "blob:" and width == 256 for src, width in drawn), drawn
    assert page.locator(f"img.leaflet-tile[src*='{created.json()['url']}/tiles/']").count() == 0, "offline, the link's own tiles are not asked for"
    page.wait_for_function("() => [...document.querySelectorAll('.om-kit-basemap img.leaflet-tile-loaded')].every((i) => i.style.opacity === '1')")  # faded in
    assert _magenta_share(page) > 0.3, "the basemap comes from the archive"
    assert "底图：济宁市" in page.locator("#kit-status").inner_text()

    context.set_offline(False)
    page.locator("#kit-remove").click()
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === ''")
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.onemapReady === '1'")
    page.wait_for_function("() => document.getElementById('kit-status').dataset.kinds === ''")
    assert page.locator(".om-kit-basemap").count() == 0, "removed, the kit stays removed"
    context.close()
    assert errors == [], errors
