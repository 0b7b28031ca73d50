"""The command wall map page (``GET /map``): a full-screen Leaflet map whose data come from the API
by viewport, never inlined, so the page is the same size whatever the store holds.

The page holds no inline script (its Content-Security-Policy is ``script-src 'self'``): the config
travels as a JSON data block that ``wallmap.js`` reads, and the script creates the map itself.
That is why this page is written here and not by folium, whose maps start from inline script.

This module decides what the page shows — layer groups, Chinese titles, popup fields with units,
basemap providers — as one JSON config; each layer's glyph, shape and colours by class are its
catalogue style (``layers.catalogue.LayerStyle``), passed on as they are. The dense layers (roads,
administrative areas, flood-prone areas, risk zones, the population grid) are drawn from vector
tiles (``/collections/{id}/tiles/WebMercatorQuad``, by Leaflet.VectorGrid); what their tiles need
beyond the catalogue style — a line width or colour by class — travels as ``tile_classes``. ``web/static/wallmap.js``
and its modules in ``web/static/wallmap/`` (our code, native ES modules) draw it. Every asset is
served by the app itself under ``/static/``: no CDN, no online basemap unless a deployment
configures one.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gis.grades import RISK_LEVEL_COLOURS, RISK_LEVELS
from layers.catalogue import (
    ADMIN_LEVELS,
    CATALOGUE,
    CLOSURE_CAUSES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    get_layer,
)

from .assets import NODE_MODULES
from .basemap import ROAD_STYLE
from .page_parts import json_data_block

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_MOUNTS: dict[str, Path] = {
    "leaflet": NODE_MODULES / "leaflet" / "dist",
    "markercluster": NODE_MODULES / "leaflet.markercluster" / "dist",
    "vectorgrid": NODE_MODULES / "leaflet.vectorgrid" / "dist",
    "html-to-image": NODE_MODULES / "html-to-image" / "dist",
    "swagger-ui": NODE_MODULES / "swagger-ui-dist",
    "uplot": NODE_MODULES / "uplot" / "dist",
    "pmtiles": NODE_MODULES / "pmtiles" / "dist",
    "onemap": STATIC_DIR,
}
"""URL folder under /static/ → the folder it is served from (npm packages and our own files)."""

_JS = (
    ("leaflet", "/static/leaflet/leaflet.js"),
    ("markercluster", "/static/markercluster/leaflet.markercluster.js"),
    ("vectorgrid", "/static/vectorgrid/Leaflet.VectorGrid.bundled.js"),  # with its MVT decoder (pbf, vector-tile)
    ("html_to_image", "/static/html-to-image/html-to-image.js"),
    ("uplot", "/static/uplot/uPlot.iife.min.js"),
)
"""Third-party libraries, classic scripts that define globals (``L`` and its plugins ``L.markerClusterGroup``,
``L.vectorGrid``; ``htmlToImage``, ``uPlot``)."""
WALL_MAP_MODULE = "/static/onemap/wallmap.js"
"""Our code: the entry ES module, which imports the rest from web/static/wallmap/ and shared/."""
_CSS = (
    ("leaflet_css", "/static/leaflet/leaflet.css"),
    ("markercluster_css", "/static/markercluster/MarkerCluster.css"),
    ("markercluster_default_css", "/static/markercluster/MarkerCluster.Default.css"),
    ("uplot_css", "/static/uplot/uPlot.min.css"),
    ("onemap_wallmap_css", "/static/onemap/wallmap.css"),
)

SCENARIO_ZONE_COLOURS = ("#d7191c", "#f17c0e", "#f5c400")
"""A scenario's zones, most severe first (a plume's 红区/橙区/黄区; a flood's deepest class first):
red, orange, yellow, filled at 35 % on the wall map."""

GROUPS = (("hazard", "危险源"), ("resource", "应急资源"), ("operations", "事件处置"), ("base", "基础数据"), ("analysis", "分析"), ("basemap", "底图"))


@dataclass(frozen=True)
class LayerView:
    """How the wall map loads one store layer; how it looks is the layer's catalogue style."""

    id: str
    cluster: bool = False
    visible: bool = True
    filters: dict[str, str] = field(default_factory=dict)
    tiles: bool = False
    """Drawn from the layer's vector tiles (the dense layers), not from ``/items`` by viewport."""

    @property
    def colour(self) -> str:
        """The layer's colour: its catalogue style's (for folium maps of the same layers)."""
        return get_layer(self.id).style.color


VIEWS = (
    LayerView("reservoirs", cluster=True),
    LayerView("geohazard_points"),
    LayerView("monitoring_stations"),
    LayerView("chemical_parks"),
    LayerView("hazardous_enterprises", cluster=True),
    LayerView("flood_prone_areas", tiles=True),
    LayerView("shelters"),
    LayerView("rescue_stations", cluster=True),
    LayerView("supply_depots", cluster=True),
    LayerView("incidents"),
    LayerView("road_closures", filters={"status": "封闭中"}),
    LayerView("alerts", visible=False),
)
"""The data layers of the wall map, drawn from ``/collections/{id}/items`` for the viewport, in
the order of its layer panel. Alerts are off at first: their stations pulse in their colours,
and the alert panel lists them."""


BASE_VIEWS = (
    LayerView("roads", visible=False, tiles=True),
    LayerView("admin_areas", visible=False, tiles=True),
    LayerView("population", visible=False, tiles=True),
)
"""The base layers, from vector tiles, in their own panel group (基础数据); off at first: the local
basemap draws roads and boundaries already."""
RISK_ZONES = LayerView("risk_zones", visible=False, tiles=True)
"""The stored risk zoning (``onemap risk``), from vector tiles, among the analyses of the panel."""

TILE_CLASSES: dict[str, tuple[str, tuple[tuple[str, str | None, float], ...]]] = {
    "roads": ("road_class", tuple((name, colour, width) for name, (_, colour, width) in ROAD_STYLE.items())),
    "admin_areas": ("level", tuple(zip(ADMIN_LEVELS, (None, None, None), (3.0, 2.0, 1.0), strict=True))),
    "risk_zones": ("level", tuple((level, RISK_LEVEL_COLOURS[level], 1.0) for level in RISK_LEVELS)),
}
"""How a tiled layer's features are drawn by class beyond the catalogue style: field → (value,
colour or None for the layer's, line width in px at zoom 12). Roads as the basemap draws them
(``web.basemap.ROAD_STYLE``), boundaries thicker the higher their level, risk zones in the four
official colours (红橙黄蓝)."""
TIP_FIELDS = {
    "roads": ("road_class", "speed_kmh"),
    "admin_areas": ("level", "population"),
    "flood_prone_areas": ("kind", "threatened_people"),
    "risk_zones": ("level", "area_km2"),
    "population": ("persons", "cell_size_m"),
}
"""The fields a tiled layer's hover tooltip names after the feature's name."""


def _layer_config(view: LayerView) -> dict[str, Any]:
    spec = get_layer(view.id)
    style = spec.style
    shown = [f for f in spec.fields if f.name not in ("name",)]
    config = {
        **asdict(view),
        "group": spec.group,
        "style": asdict(style),  # class_colors stay ordered pairs: JSON objects lose their order in tojson
        "title": spec.title_zh,
        "title_en": spec.title_en,
        "by_label": spec.field(style.color_by).label_zh if style.color_by else None,
        "fields": [[f.name, f.display_label, f.type] for f in shown],
    }
    if view.tiles:
        by, classes = TILE_CLASSES.get(view.id, (style.color_by, tuple((value, colour, 2.0) for value, colour in style.class_colors)))
        config["geometry"] = spec.geometry_type
        config["tile_classes"] = {"by": by, "classes": [list(c) for c in classes]} if by else None
        config["tip"] = [[name, spec.field(name).label_zh, spec.field(name).unit, spec.field(name).type] for name in TIP_FIELDS.get(view.id, ())]
    return config


def basemap_providers(tianditu_key: str | None, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The basemap choices: the offline local basemap first (the default), then Tianditu when a
    key is configured, then the deployment's own providers (``offset: gcj02`` shifts our data)."""
    providers: list[dict[str, Any]] = [
        {"id": "local", "title": "本地底图（离线）", "url": "/basemap/tiles/{z}/{x}/{y}.png", "attribution": "onemap 本地数据", "offset": "wgs84", "maxZoom": 18}
    ]
    if tianditu_key:
        wmts = "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + tianditu_key
        for layer, labels, title in (("vec", "cva", "天地图 矢量"), ("img", "cia", "天地图 影像")):
            providers.append({
                "id": f"tianditu-{layer}", "title": title, "url": wmts.replace("{layer}", layer), "overlay": wmts.replace("{layer}", labels),
                "subdomains": "01234567", "attribution": "天地图 © 国家地理信息公共服务平台", "offset": "wgs84", "maxZoom": 18,
            })
    for number, provider in enumerate(extra, start=1):
        providers.append({"id": f"custom-{number}", "offset": "wgs84", "maxZoom": 18, "attribution": "", **provider})
    return providers


def wall_map_config(*, providers: list[dict[str, Any]], live_interval_s: float, region_bbox: tuple[float, float, float, float], city_bbox: tuple[float, float, float, float] | None, wall: bool) -> dict[str, Any]:
    """Everything the page script needs, none of it data: its size does not grow with the store.
    ``city_bbox`` (lon/lat) is where the overview opens: the city's outline, else the region."""
    return {
        "groups": [{"id": g, "title": t} for g, t in GROUPS],
        "layers": [_layer_config(view) for view in (*VIEWS, *BASE_VIEWS)],
        "analyses": [
            {"id": "risk", "title": "风险等级", "kind": "tiles", "url": "/risk/tiles/{z}/{x}/{y}.png", "ready": "/risk/summary", "legend": [[level, RISK_LEVEL_COLOURS[level]] for level in RISK_LEVELS]},
            {**_layer_config(RISK_ZONES), "title": "风险分区（已存）", "kind": "vector", "legend": [[level, RISK_LEVEL_COLOURS[level]] for level in RISK_LEVELS]},
            {"id": "coverage_gaps", "title": "避难场所覆盖缺口", "kind": "geojson", "url": "/coverage/gaps", "colour": "#e6550d"},
            {"id": "service_areas", "title": "事件服务范围", "kind": "incident"},  # legend: the time bands of shared/colours.js
            {"id": "scenarios", "title": "情景推演（生效中）", "kind": "scenarios", "colours": list(SCENARIO_ZONE_COLOURS),
             "legend": [[name, colour] for name, colour in zip(("红区（最严重）", "橙区", "黄区"), SCENARIO_ZONE_COLOURS, strict=True)]},
        ],
        "basemaps": providers,
        "titles": {name: spec.title_zh for name, spec in CATALOGUE.items()},
        "resource_layers": ["rescue_stations", "supply_depots", "shelters"],
        "incident_kinds": list(INCIDENT_KINDS),
        "incident_statuses": list(INCIDENT_STATUSES),
        "closure_causes": list(CLOSURE_CAUSES),
        "risk_colours": RISK_LEVEL_COLOURS,
        "live_interval_ms": int(live_interval_s * 1000),
        "region_bbox": list(region_bbox),
        "city_bbox": list(city_bbox or region_bbox),
        "wall": wall,
    }


def wall_map_html(config: dict[str, Any]) -> str:
    """The page: our assets by URL, the config as a JSON data block, no inline script."""
    links = "".join(f'<link rel="stylesheet" href="{html.escape(url)}">' for _, url in _CSS)
    scripts = "".join(f'<script src="{html.escape(url)}"></script>' for _, url in _JS)
    scripts += f'<script type="module" src="{html.escape(WALL_MAP_MODULE)}"></script>'
    body = '<body class="om-wall">' if config.get("wall") else "<body>"  # wall mode's layout from the first paint
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>应急一张图 · 指挥大屏</title>"
        '<link rel="icon" href="/static/onemap/favicon.svg" type="image/svg+xml">'
        f"{links}</head>{body}"
        '<div id="om-figures" class="om-figures" aria-live="polite"></div>'
        '<div id="om-map" class="om-map"></div>'
        f'<script id="onemap-config" type="application/json">{json_data_block(config)}</script>'
        f"{scripts}</body></html>"
    )
