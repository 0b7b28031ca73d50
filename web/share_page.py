"""The read-only phone page of a share link (``/s/{token}``): the incident, the route to it, the
nearest shelter and supply depot with a "navigate" hand-off, the user's own position if they
allow it, on the link's own basemap tiles. Works at 360×640; its payload is the link's small
snapshot; a service worker keeps the assets (and the pages seen) for re-opening offline. Its
离线图包 card opens the offline field kit (``onemap export-tiles``: PMTiles archives) from the
phone, read by the npm ``pmtiles`` library and kept in the browser (IndexedDB), so the basemap is
drawn with no network even where the user never looked before.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

from gis.grades import WARNING_COLOURS
from layers.accounts.store import Share
from layers.catalogue import CATALOGUE

from .page_parts import json_data_block

SERVICE_WORKER_FILE = Path(__file__).resolve().parent / "static" / "share-sw.js"
SHARE_ASSETS = (
    "leaflet/leaflet.js", "leaflet/leaflet.css", "pmtiles/pmtiles.js", "onemap/share.js", "onemap/share.css", "onemap/favicon.svg",
    "onemap/shared/colours.js", "onemap/shared/dom.js", "onemap/shared/format.js", "onemap/shared/live.js",
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
    data = {**share.snapshot, "expires_at": share.expires_at.isoformat(), "glyphs": glyphs, "warning_colours": WARNING_COLOURS}
    return (
        _head(share.title)
        + '<script src="/static/leaflet/leaflet.js"></script><script src="/static/pmtiles/pmtiles.js"></script>'
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
