"""Browser assets for onemap's maps, from the npm packages that .ci/setup installs in web/node_modules.

folium's default page loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, so offline it is
blank. Maps built here use Leaflet alone and carry it inline, so a saved map opens anywhere with no
network at all.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import cast

import folium
from branca.element import Figure, MacroElement
from jinja2 import Template

NODE_MODULES = Path(__file__).resolve().parent / "node_modules"


class AssetsMissingError(RuntimeError):
    """The npm assets are not installed."""


@cache
def _read(relative: str) -> str:
    path = NODE_MODULES / relative
    if not path.exists():
        raise AssetsMissingError(f"{path} is missing: run `bash .ci/setup` (it installs Leaflet with npm)")
    return path.read_text(encoding="utf-8")


def leaflet_js() -> str:
    return _read("leaflet/dist/leaflet.js")


def leaflet_css() -> str:
    return _read("leaflet/dist/leaflet.css")


def page(fmap: folium.Map) -> Figure:
    """The HTML page a folium map renders into (its header, html body and script parts)."""
    return cast(Figure, fmap.get_root())


def offline_map(location: tuple[float, float], zoom_start: int = 12) -> folium.Map:
    """A folium map at ``location`` (lat, lon) with no CDN assets and no online basemap;
    Leaflet is inlined into its page."""
    fmap = folium.Map(location=list(location), zoom_start=zoom_start, tiles=None, control_scale=True)
    fmap.default_js = []
    fmap.default_css = []
    page(fmap).header.add_child(folium.Element(f"<style>{leaflet_css()}</style>\n<script>{leaflet_js()}</script>"), name="leaflet_inline", index=0)
    return fmap


class StringPopup(MacroElement):
    """A Leaflet popup from an HTML string, bound with plain Leaflet: folium's own ``Popup``
    builds its content with jQuery, which onemap's offline pages do not load."""

    _template = Template("{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {maxWidth: {{ this.max_width }}});{% endmacro %}")

    def __init__(self, html_text: str, max_width: int = 320) -> None:
        super().__init__()
        self._name = "StringPopup"
        self.html = html_text
        self.max_width = max_width
