"""The layer catalogue's styles (``layers.catalogue.LayerStyle``) are the wall map's: the page's
config carries them as they are, and a colour changed in the catalogue is the colour drawn in
Chromium — no copy of a style is kept in web/."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.catalogue import CATALOGUE, get_layer
from layers.settings import Settings
from web.wallmap import VIEWS, wall_map_config

BASE = "http://onemap.test"
READY = "document.documentElement.dataset.onemapReady === '1' && window.onemap && window.onemap.versions !== null"


def _config() -> dict[str, Any]:
    return wall_map_config(providers=[{"id": "local", "title": "本地", "url": "/basemap/tiles/{z}/{x}/{y}.png"}], live_interval_s=5,
                           region_bbox=(116.0, 35.0, 117.0, 36.0), city_bbox=None, wall=False)


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: view.id)
def test_every_wall_map_layer_has_a_whole_style(view: Any) -> None:
    spec = get_layer(view.id)
    style = spec.style
    assert style.glyph and len(style.glyph) == 1, "one character in the badge"
    if style.color_by:
        allowed = spec.field(style.color_by).enum
        assert allowed is not None and [value for value, _ in style.class_colors] == list(allowed), "a colour for every allowed value, in order"
    else:
        assert style.class_colors == ()
    if style.size_by:
        assert spec.field(style.size_by).type in ("int", "float")


def test_the_config_carries_the_catalogue_styles() -> None:
    for layer in _config()["layers"]:
        spec = get_layer(layer["id"])
        assert layer["style"] == dataclasses.asdict(spec.style)
        assert layer["group"] == spec.group


@pytest.fixture
def recoloured(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The shelters' catalogue colour, changed for this test only."""
    colour = "#123456"
    spec = CATALOGUE["shelters"]
    monkeypatch.setitem(CATALOGUE, "shelters", dataclasses.replace(spec, style=dataclasses.replace(spec.style, color=colour)))
    yield colour


def _forward_to(client: TestClient) -> Any:
    """A Playwright route handler answering the browser from the app in this process (so the
    monkeypatched catalogue is the app's)."""

    def forward(route: Any) -> None:
        request = route.request
        url = urlsplit(request.url)
        if url.path == "/events":  # an endless stream cannot be answered whole: the page polls instead
            route.abort()
            return
        response = client.request(request.method, url.path + (f"?{url.query}" if url.query else ""), content=request.post_data_buffer,
                                  headers={"Content-Type": request.headers.get("content-type", "application/json")})
        headers = {name: value for name, value in response.headers.items() if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
        route.fulfill(status=response.status_code, headers=headers, body=response.content)

    return forward


def test_a_catalogue_colour_is_the_colour_on_the_map(browser: Any, sample_settings: Settings, recoloured: str) -> None:
    assert next(layer for layer in _config()["layers"] if layer["id"] == "shelters")["style"]["color"] == recoloured
    with TestClient(create_app(sample_settings)) as client:
        page = browser.new_page(viewport={"width": 1200, "height": 800}, bypass_csp=True)  # string predicates need eval
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(f"{BASE}/**", _forward_to(client))
        page.goto(f"{BASE}/map#14/35.41000/116.59000/layers=shelters,incidents")
        page.wait_for_function(READY, timeout=90_000)
        rgb = "rgb(18, 52, 86)"  # #123456
        markers = page.locator(".om-m-shelters .om-icon")
        assert markers.count() > 0
        assert set(markers.evaluate_all("(nodes) => nodes.map((node) => getComputedStyle(node).backgroundColor)")) == {rgb}
        swatch = page.locator("[data-layer=shelters] ~ .om-swatch, label.om-row:has(input[data-layer=shelters]) .om-swatch")
        assert swatch.first.evaluate("(node) => getComputedStyle(node).backgroundColor") == rgb, "the layer panel's swatch"
        page.close()
    assert errors == []
