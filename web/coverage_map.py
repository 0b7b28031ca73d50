"""The shelter-coverage map: a township choropleth of uncovered residents, gap polygons, shelters
sized by capacity and coloured by load ratio, recommended new sites; popups with the numbers.

Offline like every onemap map (Leaflet inline, no basemap tiles: the townships are the base).
"""

from __future__ import annotations

import html
import json

import folium
import geopandas as gpd
import numpy as np

from gis.coverage import MODE_LABELS, CoverageResult, SitingResult

from .assets import StringPopup, offline_map, page

LOAD_CLASSES = ((0.5, "#1a9641", "≤ 0.5 宽裕"), (1.0, "#a6d96a", "0.5–1 正常"), (1.5, "#fdae61", "1–1.5 超载"), (np.inf, "#d7191c", "> 1.5 严重超载"))
UNCOVERED_COLOURS = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
GAP_COLOUR = "#7b3294"
SITE_COLOUR = "#2b83ba"
SIMPLIFY_DEG = 0.0005  # ≈ 50 m: keeps the saved page small without visible change at city scale


def load_colour(ratio: float) -> str:
    """Colour of a shelter's load ratio (demand / capacity)."""
    for upper, colour, _ in LOAD_CLASSES:
        if ratio <= upper:
            return colour
    return LOAD_CLASSES[-1][1]


def _breaks(values: np.ndarray) -> np.ndarray:
    positive = values[values > 0]
    if positive.size == 0:
        return np.array([0.0])
    return np.unique(np.quantile(positive, [0.25, 0.5, 0.75]))


def _class_colour(value: float, breaks: np.ndarray) -> str:
    if value <= 0:
        return UNCOVERED_COLOURS[0]
    return UNCOVERED_COLOURS[min(1 + int(np.searchsorted(breaks, value)), len(UNCOVERED_COLOURS) - 1)]


def _popup(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table style='font:13px sans-serif'>{cells}</table>"


def _persons(value: float) -> str:
    return f"{value:,.0f} 人"


def _features(frame: gpd.GeoDataFrame, style: dict[str, object], popup: list[str], tooltip: list[str]) -> dict[str, object]:
    """A GeoJSON FeatureCollection whose features carry their own style and popup HTML."""
    simplified = frame.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)
    features = []
    for geometry, fill, text, tip in zip(simplified, style["fill"], popup, tooltip, strict=True):  # type: ignore[call-overload]
        features.append({"type": "Feature", "geometry": geometry.__geo_interface__, "properties": {"fill": fill, "popup": text, "tooltip": tip}})
    return {"type": "FeatureCollection", "features": features}


def coverage_map(result: CoverageResult, siting: SitingResult | None = None) -> folium.Map:
    """The coverage map of ``result`` (and ``siting``), fitted to the townships or the cells."""
    extent = result.areas if not result.areas.empty else result.cells
    min_x, min_y, max_x, max_y = extent.total_bounds
    fmap = offline_map(((min_y + max_y) / 2, (min_x + max_x) / 2), zoom_start=9)

    townships = result.areas.loc[result.areas["level"] == "乡镇街道"] if not result.areas.empty else result.areas
    if not townships.empty:
        values = townships["residents_uncovered"].to_numpy(dtype=float)
        breaks = _breaks(values)
        popups = [
            _popup([("乡镇街道", str(r.name)), ("常住人口", _persons(r.residents)), ("覆盖人口", _persons(r.residents_covered)), ("未覆盖人口", _persons(r.residents_uncovered)),
                    ("覆盖率", f"{r.covered_pct:.1f} %" if np.isfinite(r.covered_pct) else "—"), ("容量缺口", _persons(r.capacity_shortfall_persons)),
                    ("无法安置", _persons(r.unplaced_persons)), ("人均避难面积", f"{r.shelter_m2_per_resident:.2f} m²/人" if np.isfinite(r.shelter_m2_per_resident) else "—")])
            for r in townships.itertuples()
        ]
        data = _features(townships, {"fill": [_class_colour(v, breaks) for v in values]}, popups, [f"{n}: 未覆盖 {v:,.0f} 人" for n, v in zip(townships["name"], values, strict=True)])
        _geojson(data, "乡镇未覆盖人口 uncovered residents", {"color": "#636363", "weight": 1, "fillOpacity": 0.65}, "onemap-township").add_to(fmap)
        legend_breaks = " · ".join(f"<span style='background:{c};padding:0 8px'>&nbsp;</span> {label}" for c, label in zip(UNCOVERED_COLOURS, ["0", *[f"≤{b:,.0f}" for b in breaks], f">{breaks[-1]:,.0f}" if breaks.size else ""], strict=False))
    else:
        legend_breaks = ""

    if not result.gaps.empty:
        popups = [_popup([("缺口", f"#{r.gap_id}"), ("乡镇街道", str(getattr(r, "township", "") or "—")), ("未覆盖人口", _persons(r.residents)), ("网格数", f"{r.cells}"),
                          ("最近避难场所", f"步行 {r.nearest_shelter_min:.0f} 分钟" if np.isfinite(r.nearest_shelter_min) else "无法步行到达")]) for r in result.gaps.itertuples()]
        data = _features(result.gaps, {"fill": [GAP_COLOUR] * len(result.gaps)}, popups, [f"覆盖缺口 {v:,.0f} 人" for v in result.gaps["residents"]])
        _geojson(data, "覆盖缺口 gaps", {"color": GAP_COLOUR, "weight": 1, "fillOpacity": 0.35}, "onemap-gap").add_to(fmap)

    shelters = folium.FeatureGroup(name="避难场所 shelters (大小=容量, 颜色=负荷率)")
    capacity = result.shelters["capacity_persons"].to_numpy(dtype=float)
    scale = 18.0 / np.sqrt(max(float(capacity.max()), 1.0))
    for row, cap in zip(result.shelters.itertuples(), capacity, strict=True):
        text = _popup([("避难场所", str(row.name)), ("类型", str(row.shelter_type)), ("容纳能力", _persons(cap)), ("服务半径", f"步行 {row.reach_min:.0f} 分钟"),
                       ("服务范围内人口", _persons(row.residents_in_reach)), ("责任区需避难", _persons(row.catchment_demand)), ("负荷率", f"{row.load_ratio:.2f}"),
                       ("分配安置", _persons(row.assigned_persons))])
        folium.CircleMarker((row.geometry.y, row.geometry.x), radius=max(4.0, float(np.sqrt(cap)) * scale), color="#333333", weight=1, fill=True,
                            fill_color=load_colour(float(row.load_ratio)), fill_opacity=0.9,
                            tooltip=html.escape(f"{row.name}: 负荷率 {row.load_ratio:.2f}"), class_name="onemap-shelter").add_child(StringPopup(text)).add_to(shelters)
    shelters.add_to(fmap)

    if siting is not None and not siting.sites.empty:
        sites = folium.FeatureGroup(name="建议新建 recommended sites")
        for row in siting.sites.itertuples():
            text = _popup([("建议新建", f"第 {row.rank} 位 {row.name}"), ("类型", str(row.site_type)), ("新增覆盖人口", _persons(row.residents_newly_covered)), ("容纳能力", _persons(row.capacity_persons))])
            folium.Marker((row.geometry.y, row.geometry.x), tooltip=f"建议新建 #{row.rank}: +{row.residents_newly_covered:,.0f} 人",
                          icon=folium.DivIcon(html=f"<div class='onemap-site' style='font:bold 14px sans-serif;color:#fff;background:{SITE_COLOUR};border:2px solid #fff;border-radius:50%;width:24px;height:24px;line-height:24px;text-align:center'>{row.rank}</div>",
                                              icon_size=(28, 28), icon_anchor=(14, 14))).add_child(StringPopup(text)).add_to(sites)
        sites.add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    covered, total = result.totals["residents_covered"], result.totals["residents"]
    legend = (
        "<div id='onemap-legend' style='position:fixed;bottom:40px;left:10px;z-index:1000;background:#fff;padding:8px 12px;font:14px sans-serif;border:1px solid #999;border-radius:4px;max-width:420px'>"
        f"<b>避难场所覆盖 ({html.escape(result.analysis_type)}, {html.escape(MODE_LABELS[result.mode])})</b><br>"
        f"覆盖 {covered:,.0f} / {total:,.0f} 人 ({100 * covered / max(total, 1):.1f} %); 步行 {result.params.walk_kmh:g} km/h<br>"
        f"<b>负荷率</b> " + " ".join(f"<span style='color:{c}'>●</span> {label}" for _, c, label in LOAD_CLASSES) + "<br>"
        f"<b>未覆盖人口</b> {legend_breaks}<br><span style='color:{GAP_COLOUR}'>■</span> 覆盖缺口"
        + (f" &nbsp; <span style='color:{SITE_COLOUR}'>●</span> 建议新建" if siting is not None else "") + "</div>"
    )
    page(fmap).html.add_child(folium.Element(legend))
    fmap.fit_bounds([(min_y, min_x), (max_y, max_x)])
    return fmap


def _geojson(data: dict[str, object], name: str, base_style: dict[str, object], class_name: str) -> folium.GeoJson:
    """A GeoJSON layer styled and popped up from each feature's own properties (pre-escaped)."""
    layer = folium.GeoJson(
        json.loads(json.dumps(data)),
        name=name,
        style_function=lambda feature: {**base_style, "fillColor": feature["properties"]["fill"], "className": class_name},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=360),
        tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False),
    )
    return layer


def coverage_map_html(result: CoverageResult, siting: SitingResult | None = None) -> str:
    """The map as one self-contained HTML page."""
    return page(coverage_map(result, siting)).render()
