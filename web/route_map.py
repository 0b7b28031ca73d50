"""The map of one nearest-resource query: incident, ranked resources, routes coloured by rank with
ETA labels, closures hatched, and the roads around as the base (no online basemap needed)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .assets import offline_map, page

RANK_COLOURS = ("#d7191c", "#fd8d3c", "#f0c419", "#1a9641", "#2b83ba", "#7b3294", "#636363")
LAYER_NAMES_ZH = {"rescue_stations": "救援力量", "supply_depots": "物资储备", "shelters": "避难场所"}
_HATCH = """<svg width="0" height="0" style="position:absolute"><defs>
<pattern id="onemap-hatch" patternUnits="userSpaceOnUse" width="10" height="10" patternTransform="rotate(45)">
<rect width="10" height="10" fill="#6baed6" fill-opacity="0.25"/><line x1="0" y1="0" x2="0" y2="10" stroke="#08519c" stroke-width="3"/>
</pattern></defs></svg>"""


def _colour(rank: int) -> str:
    return RANK_COLOURS[min(rank, len(RANK_COLOURS)) - 1]


def route_map(result: gpd.GeoDataFrame, incident: shapely.Point, *, closures: Sequence[BaseGeometry] = (), roads: gpd.GeoDataFrame | None = None, title: str = "最近救援力量") -> folium.Map:
    """Draw a ``nearest_resources`` result (EPSG:4326). ``roads`` (EPSG:4326), when given, is drawn
    thin and grey under everything as the base map."""
    fmap = offline_map((incident.y, incident.x))
    page(fmap).html.add_child(folium.Element(_HATCH))
    if roads is not None and not roads.empty:
        folium.GeoJson(roads[["geometry"]].to_json(), name="道路", style_function=lambda _: {"color": "#9e9e9e", "weight": 1, "opacity": 0.8}).add_to(fmap)
    for polygon in closures:
        folium.GeoJson(
            shapely.geometry.mapping(polygon),
            name="封闭区域",
            style_function=lambda _: {"color": "#08519c", "weight": 2, "fillColor": "url(#onemap-hatch)", "fillOpacity": 1.0},
            tooltip="道路封闭 (洪水/塌方)",
        ).add_to(fmap)
    bounds: list[tuple[float, float]] = [(incident.y, incident.x)]
    for row in result.itertuples(index=False):
        layer_zh = LAYER_NAMES_ZH.get(row.layer, row.layer)
        name = html.escape(str(row.name))
        if not row.reachable:
            continue
        colour = _colour(int(row.rank))
        label = f"{layer_zh} 第{row.rank}名 {name}: {row.travel_time_min:.1f} 分钟, {row.distance_km:.2f} km"
        coords = [(y, x) for x, y in np.asarray(row.geometry.coords)]
        folium.PolyLine(coords, color=colour, weight=6 if row.rank == 1 else 4, opacity=0.9, tooltip=label, class_name=f"onemap-route rank-{row.rank}").add_to(fmap)
        start = coords[0]
        folium.CircleMarker(start, radius=8, color="#ffffff", weight=2, fill=True, fill_color=colour, fill_opacity=1, tooltip=label).add_to(fmap)
        folium.Marker(
            start,
            icon=folium.DivIcon(
                html=f'<div class="onemap-eta" style="font:bold 13px sans-serif;color:{colour};white-space:nowrap;text-shadow:0 0 3px #fff">{row.rank}: {row.travel_time_min:.1f} 分钟</div>',
                icon_size=(90, 18), icon_anchor=(-10, 9),
            ),
        ).add_to(fmap)
        bounds += coords
    folium.CircleMarker([incident.y, incident.x], radius=11, color="#000000", weight=3, fill=True, fill_color="#ff0000", fill_opacity=1, tooltip="事件位置").add_to(fmap)
    unreachable = [html.escape(str(n)) for n, ok in zip(result["name"], result["reachable"], strict=True) if not ok]
    note = f"<br><span style='color:#b00'>不可达: {'、'.join(unreachable)}</span>" if unreachable else ""
    legend = (
        f"<div id='onemap-legend' style='position:fixed;top:10px;right:10px;z-index:1000;background:#fff;padding:8px 12px;"
        f"font:14px sans-serif;border:1px solid #999;border-radius:4px'><b>{html.escape(title)}</b><br>"
        + "".join(f"<span style='color:{_colour(r)}'>━━</span> 第{r}名<br>" for r in sorted(set(int(x) for x in result["rank"])))
        + f"<span style='color:#08519c'>▨</span> 道路封闭{note}</div>"
    )
    page(fmap).html.add_child(folium.Element(legend))
    lats, lons = zip(*bounds, strict=True)
    fmap.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(30, 30))
    return fmap
