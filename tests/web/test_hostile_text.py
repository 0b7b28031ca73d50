"""Hostile text from the data never runs and always shows verbatim.

Every free-text field of every layer of the sample city is replaced with markup that would run
script if it were ever parsed as HTML (an ``<img onerror>``, a ``</script>`` breakout, an inline
``<svg onload>``). Then, in real Chromium on a real ``onemap serve``, every kind of element a user
can read is opened: marker and polygon popups, place labels, the coverage-gap tooltips, an
incident's route and service-area tooltips, the ETA table, search hits and their popup, and the
share page on a phone. No script may run (no dialog, no ``window.__xss``), no element the payload
describes may exist, and the text must be shown as typed. The pages carry a Content-Security-Policy
without inline script.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from layers.catalogue import CATALOGUE
from layers.settings import Settings
from layers.store import open_store
from tests.helpers import serving
from tests.web.test_wallmap import CENTRE, RESOURCES, Page

PAYLOAD = "<img src=x onerror=\"window.__xss=1\"></script><script>window.__xss=2</script><svg onload=alert(3)>名'&\""
"""Three ways in: an attribute handler, a script-element breakout, an inline SVG handler."""
pytestmark = pytest.mark.xdist_group("hostile")

INJECTED = "img[src='x'], svg[onload], script:not([src]):not([type='application/json'])"
"""What the payload would create if parsed as markup (our pages have no inline script of their own)."""


def _hostile_store(settings: Settings) -> None:
    """Every free-text field (str, no allowed-values list, not an id) of every layer → the payload."""
    with open_store(settings) as store:
        for name, spec in CATALOGUE.items():
            frame = store.read(name)
            if frame.empty:
                continue
            fields = [f.name for f in spec.fields if f.type == "str" and f.enum is None and not f.derived and f.name in frame.columns]
            if not fields:
                continue
            for field in fields:
                frame[field] = [f"{PAYLOAD}{number}" for number in range(len(frame))]
            store.upsert(name, frame)


@dataclass(frozen=True)
class Hostile:
    settings: Settings
    url: str


@pytest.fixture(scope="module")
def hostile(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """One served copy of the sample city with the payload in every free-text field, shared by this
    module's tests (on one worker: ``xdist_group("hostile")``); they only add to it."""
    copy = tmp_path_factory.mktemp("hostile") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    settings = Settings(store=str(copy), risk_resolution_m=500.0)  # a short zoning job
    _hostile_store(settings)
    with serving(settings) as url:
        yield Hostile(settings, url)


@pytest.fixture
def hostile_server(hostile: Hostile) -> str:
    return hostile.url


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    assert dialogs == [], f"a dialog opened: {dialogs}"
    assert page.evaluate("window.__xss") is None, "script from the data ran"
    assert page.locator(INJECTED).count() == 0, "markup from the data became elements"


def _shown_verbatim(text: str) -> None:
    assert PAYLOAD in text, f"the payload is not shown as typed: {text[:300]!r}"


def test_the_pages_forbid_inline_script(hostile_server: str) -> None:
    for path in ("/map", "/login"):
        response = httpx.get(hostile_server + path, timeout=30)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in response.text, f"{path} holds inline script"
    api = httpx.get(hostile_server + "/collections", timeout=30)
    assert api.headers["x-content-type-options"] == "nosniff"
    docs = httpx.get(hostile_server + "/docs", timeout=30)
    assert docs.status_code == 200 and "cdn" not in docs.text.lower() and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert httpx.get(hostile_server + "/static/swagger-ui/swagger-ui-bundle.js", timeout=30).status_code == 200


@pytest.mark.slow
def test_hostile_names_in_every_layer_never_run_on_the_wall_map(browser: Any, hostile_server: str) -> None:
    wall = Page(browser, hostile_server)
    page = wall.open(f"/map{CENTRE}/layers={RESOURCES},reservoirs,geohazard_points,chemical_parks,hazardous_enterprises,flood_prone_areas,incidents,road_closures,labels")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # place labels (township names at this zoom)
    labels = page.locator(".om-label").all_inner_texts()
    assert labels and all(PAYLOAD in label for label in labels)

    # a popup of every kind of marker and polygon in view, clicked as a user clicks
    opened = []
    for zoom in (13, 16):
        page.evaluate(f"() => {{ window.onemap.map.setZoom({zoom}); }}")
        wall.settle()
        for layer in ("rescue_stations", "supply_depots", "shelters", "reservoirs", "geohazard_points", "hazardous_enterprises", "chemical_parks", "flood_prone_areas"):
            if layer in opened:
                continue
            # The popup's text is read as the click opens it: a view refreshed a moment later (the
            # popup's pan) may redraw the marker, and its popup with it.
            shown = page.evaluate(
                """(layer) => { const node = document.querySelector(`.om-m-${layer}, path.om-p-${layer}`);
                     if (!node) return null; node.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: 5, clientY: 5 }));
                     const popup = document.querySelector(".leaflet-popup-content"); return popup ? popup.innerText : null; }""",
                layer,
            )
            if shown is not None:
                _shown_verbatim(shown)
                opened.append(layer)
                page.evaluate("() => { window.onemap.map.closePopup(); }")
                page.wait_for_selector(".leaflet-popup", state="detached")
    assert len(opened) >= 6, f"only these popups opened: {opened}"
    page.evaluate("() => { window.onemap.map.setZoom(13); }")
    wall.settle()

    # coverage-gap tooltips (township names)
    page.locator("input[data-layer=coverage_gaps]").check()
    page.wait_for_selector("path.om-p-coverage_gaps", state="attached", timeout=60_000)
    wall.settle()
    page.evaluate("""() => { window.onemap.analyses.coverage_gaps.eachLayer((g) => g.eachLayer ? g.eachLayer((l) => l.openTooltip()) : g.openTooltip()); }""")
    tips = page.locator(".leaflet-tooltip").all_inner_texts()
    assert tips and all(PAYLOAD in tip for tip in tips)
    gaps = httpx.get(f"{hostile_server}/coverage/gaps", timeout=60).json()["features"]
    assert max(f["properties"]["residents"] for f in gaps) > 0
    assert any(f"未覆盖 {round(f['properties']['residents']):,} 人" in tip for tip in tips for f in gaps), "the tooltip gives the gap's residents"
    page.evaluate("window.onemap.map.eachLayer((l) => l.closeTooltip && l.closeTooltip())")
    page.locator("input[data-layer=coverage_gaps]").uncheck()

    # an incident with a hostile name: the panel, the ETA table, route and service-area tooltips
    posted = httpx.post(f"{hostile_server}/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "危化品事故", "name": PAYLOAD}, timeout=30).json()
    page.evaluate("([id, name]) => window.onemap.analyse({ lon: 116.59, lat: 35.41, id, name })", [posted["id"], PAYLOAD])
    page.wait_for_selector("tr.om-eta-row", timeout=60_000)
    wall.settle()
    side = page.locator("#om-side").inner_text()
    _shown_verbatim(side)
    assert all(PAYLOAD in name for name in page.locator("tr.om-eta-row td:nth-child(2)").all_inner_texts())
    page.evaluate("""() => { window.onemap.routeLayer.eachLayer((l) => l.getTooltip && l.getTooltip() && l.openTooltip());
                             window.onemap.analyses.service_areas.eachLayer((l) => l.getTooltip && l.getTooltip() && l.openTooltip()); }""")
    tips = page.locator(".leaflet-tooltip").all_inner_texts()
    assert any(PAYLOAD in tip for tip in tips), "route tooltips name the station as typed"
    assert any("分钟车程" in tip for tip in tips), "service-area tooltips open"

    # search hits and the hit's popup
    page.fill("#om-search", "名'&")
    page.wait_for_selector("#om-hits li[data-hit]", timeout=30_000)
    _shown_verbatim(page.locator("#om-hits").inner_text())
    page.locator("#om-hits li[data-hit]").first.click()
    _shown_verbatim(page.locator(".leaflet-popup-content").inner_text())
    _no_script_ran(page, dialogs)
    assert wall.errors == [] and wall.outside == []

    # the share page of that incident, on a phone
    link = httpx.post(f"{hostile_server}/shares", json={"incident_id": posted["id"]}, timeout=60).json()["url"]
    phone = Page(browser, hostile_server, width=360, height=640)
    phone_dialogs: list[str] = []
    phone.page.on("dialog", lambda d: (phone_dialogs.append(d.message), d.dismiss()))
    phone.page.goto(hostile_server + link)
    phone.page.wait_for_selector("#sheet h1, #sheet h2", timeout=30_000)
    _shown_verbatim(phone.page.locator("#sheet").inner_text())
    phone.page.evaluate("""() => { document.querySelectorAll('.leaflet-marker-icon').forEach((m) => m.dispatchEvent(new MouseEvent('click', { bubbles: true }))); }""")
    _no_script_ran(phone.page, phone_dialogs)
    wall.page.close()
    phone.page.close()


HOSTILE = f"{PAYLOAD}<img src=x onerror=alert(1)><script>alert(2)</script>'; DROP TABLE shelters; --"
"""The payload and an SQL injection (the payload first: the other test here finds it in every text)."""


def test_hostile_text_in_every_field_is_stored_verbatim_and_shown_inert(browser: Any, hostile: Hostile, tmp_path: Path) -> None:
    from layers.catalogue import get_layer
    from tests.helpers import run_cli
    from web.wallmap import VIEWS

    sample_settings = hostile.settings
    wall = Page(browser, hostile.url)
    written: dict[str, tuple[str, dict[str, str]]] = {}
    with open_store(sample_settings) as store:
        for view in VIEWS:
            spec = get_layer(view.id)
            text_fields = [f.name for f in spec.fields if f.type == "str" and f.enum is None]
            frame = store.read(view.id, bbox=(116.55, 35.37, 116.63, 35.45), limit=1)
            if frame.empty or not text_fields:
                continue
            values = {name: f"{HOSTILE} {name}" for name in text_fields}
            store.upsert(view.id, frame.assign(**values))
            written[view.id] = (str(frame["source_id"].iloc[0]), values)
    csv = tmp_path / "shelters.csv"
    csv.write_text(f'编号,名称,类型,经度,纬度,容纳人数\nSH-X,"{HOSTILE.replace(chr(34), chr(34) * 2)}",紧急,116.592,35.412,500\n', encoding="utf-8")
    assert run_cli(sample_settings, "import", "shelters", str(csv)).exit_code == 0
    written["shelters-import"] = ("SH-X", {"name": HOSTILE})
    with open_store(sample_settings) as store:
        for layer, (source_id, values) in written.items():
            row = store.get(layer.removesuffix("-import"), source_id).iloc[0]
            assert {name: row[name] for name in values} == values, "stored verbatim"
    posted = httpx.post(f"{wall.base}/incidents", json={"lon": 116.59, "lat": 35.41, "kind": "其他", "name": HOSTILE, "description": HOSTILE}, timeout=30)
    written["incidents"] = (posted.json()["id"], {"name": HOSTILE, "description": HOSTILE})

    dialogs: list[str] = []
    wall.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    layers = ",".join(v.id for v in VIEWS)
    page = wall.open(f"/map#14/35.41000/116.59000/layers={layers}")
    assert len(written) >= 6, sorted(written)
    for layer, (source_id, values) in written.items():
        opened = page.evaluate("""([layer, id]) => { const state = window.onemap.layers[layer];
            const found = state.container.getLayers().find((l) => l.featureId === id);
            if (!found) return false; if (state.container.zoomToShowLayer) { state.container.zoomToShowLayer(found, () => found.openPopup()); } else { found.openPopup(); } return true; }""",
            [layer.removesuffix("-import"), source_id])
        assert opened, f"{layer} {source_id} is drawn"
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        for value in values.values():
            assert value in text, (layer, value)
        assert popup.locator("img, script").count() == 0, "markup from the data is not markup"
        page.evaluate("() => { window.onemap.map.closePopup(); }")
        page.wait_for_selector(".leaflet-popup", state="detached")
    assert dialogs == [] and wall.errors == []
    wall.page.close()
