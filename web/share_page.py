"""The read-only phone page of a share link (``/s/{token}``): the incident, the route to it, the
nearest shelter and supply depot with a "navigate" hand-off, the user's own position if they
allow it, on the link's own basemap tiles. Works at 360×640; its payload is the link's small
snapshot; a service worker keeps the assets (and the pages seen) for re-opening offline. Its
离线图包 card opens the offline field kit (``onemap export-tiles``: PMTiles archives) from the
phone, read by the npm ``pmtiles`` library and kept in the browser (IndexedDB), so the basemap is
drawn with no network even where the user never looked before.

The link's dense layers in scope (flood-prone areas, say) are drawn from the link's own vector
tiles (``/s/{token}/collections/{layer}/tiles/…``) by Leaflet.VectorGrid, in the wall map's
styles (``web/static/wallmap/vector_layers.js``); offline, or when the user chooses it, the kit's
layers archive is drawn instead: the service worker answers ``/s/kit/{z}/{x}/{y}.pbf`` from the
archive kept in IndexedDB, so VectorGrid's MVT decoder reads it as any other tile.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

from gis.grades import WARNING_COLOURS
from layers.accounts.store import Share
from layers.catalogue import CATALOGUE

from .page_parts import json_data_block

SERVICE_WORKER_FILE = Path(__file__).resolve().parent / "static" / "share-sw.js"
SHARE_ASSETS = (
    "leaflet/leaflet.js", "leaflet/leaflet.css", "pmtiles/pmtiles.js", "vectorgrid/Leaflet.VectorGrid.bundled.js",
    "onemap/share.js", "onemap/share.css", "onemap/favicon.svg",
    "onemap/shared/colours.js", "onemap/shared/dom.js", "onemap/shared/format.js", "onemap/shared/live.js",
    "onemap/wallmap/vector_layers.js",
)
"""The share page's assets under /static/, which the service worker keeps for offline use: every
module that share.js imports is here (tests/web/test_share_page.py follows the imports)."""


def build_id() -> str:
    """A hash of the share page's assets and the worker itself (12 hex digits): it changes
    whenever an upgrade changes any of them."""
    from .wallmap import STATIC_MOUNTS

    digest = hashlib.sha256(SERVICE_WORKER_FILE.read_bytes())
    for asset in SHARE_ASSETS:
        mount, _, name = asset.partition("/")
        path = STATIC_MOUNTS[mount] / name
        digest.update(path.read_bytes() if path.is_file() else b"missing:" + asset.encode())
    return digest.hexdigest()[:12]


def service_worker_js() -> str:
    """The share page's service worker, its cache named for this build."""
    assets = json.dumps([f"/static/{asset}" for asset in SHARE_ASSETS])
    return SERVICE_WORKER_FILE.read_text(encoding="utf-8").replace("__BUILD__", build_id()).replace("__ASSETS__", assets)
"""Served at /s/sw.js (a worker controls only the paths below its own)."""


def vector_views() -> dict[str, dict[str, Any]]:
    """How each catalogue layer is drawn from vector tiles, by its MVT layer name: the wall map's
    ``id``, ``title``, ``geometry``, ``style`` (its colours), ``tile_classes`` and ``tip`` (the
    fields ``vector_layers.js`` reads). Every layer, not only the link's: a kit's archive may hold any."""
    from .wallmap import TILE_CLASSES, TIP_FIELDS

    views: dict[str, dict[str, Any]] = {}
    for name, spec in CATALOGUE.items():
        style = spec.style
        by, classes = TILE_CLASSES.get(name, (style.color_by, tuple((value, colour, 2.0) for value, colour in style.class_colors)))
        views[name] = {
            "id": name, "title": spec.title_zh, "geometry": spec.geometry_type,
            "style": {"color": style.color, "fill_color": style.fill_color, "radius": style.radius},
            "tile_classes": {"by": by, "classes": [list(c) for c in classes]} if by else None,
            "tip": [[field, spec.field(field).label_zh, spec.field(field).unit, spec.field(field).type] for field in TIP_FIELDS.get(name, ())],
        }
    return views


def tiled_layers() -> tuple[str, ...]:
    """The layers the wall map draws from vector tiles (the dense ones): a link with one of them in
    scope draws it from the link's tiles rather than its snapshot."""
    from .wallmap import BASE_VIEWS, RISK_ZONES, VIEWS

    return tuple(view.id for view in (*VIEWS, *BASE_VIEWS, RISK_ZONES) if view.tiles)


def _head(title: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
        f"<title>{html.escape(title)} · 应急一张图</title>"
        '<link rel="icon" href="/static/onemap/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/leaflet/leaflet.css"><link rel="stylesheet" href="/static/onemap/share.css">'
    )


def share_page_html(share: Share, token: str) -> str:
    """The page of an active share; the snapshot is inlined (it is small and scoped)."""
    glyphs = {name: spec.style.glyph for name, spec in CATALOGUE.items() if spec.style.glyph}
    tiled = [name for name in share.scope if name in tiled_layers()]
    data = {**share.snapshot, "expires_at": share.expires_at.isoformat(), "glyphs": glyphs, "warning_colours": WARNING_COLOURS,
            "vector": {"tiled": tiled, "views": vector_views()}}
    return (
        _head(share.title)
        + '<script src="/static/leaflet/leaflet.js"></script><script src="/static/pmtiles/pmtiles.js"></script>'
        + '<script src="/static/vectorgrid/Leaflet.VectorGrid.bundled.js"></script>'
        + '<script type="module" src="/static/onemap/share.js"></script></head>'
        + '<body><div id="map" role="application" aria-label="地图"></div>'
        + '<section id="sheet" aria-live="polite"></section>'
        + f'<script id="onemap-share" type="application/json">{json_data_block(data)}</script></body></html>'
    )


def share_error_html(heading: str, reason: str) -> str:
    """The page a link that cannot be opened shows: ``heading`` (Chinese) and ``reason`` (escaped)."""
    return (
        _head(heading) + '</head><body class="om-error-page"><main>'
        f'<h1 id="share-error">{heading}</h1><p>{html.escape(reason)}</p>'
        "<p>请联系指挥中心获取新的链接。</p></main></body></html>"
    )
