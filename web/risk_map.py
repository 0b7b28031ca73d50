"""The risk map: the four levels in the official colours, the hazard sources, and a township
choropleth of residents in 较大 and 重大 risk; offline like every onemap map."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np

from gis.grades import RISK_LEVEL_COLOURS
from gis.risk.zoning import RiskResult

from .assets import StringPopup, offline_map, page

SOURCE_STYLE = {
    "reservoirs": ("水库", "#1f78b4"),
    "geohazard_points": ("地质灾害隐患点", "#8c510a"),
    "chemical_parks": ("化工园区", "#6a3d9a"),
    "hazardous_enterprises": ("危化品企业", "#e31a1c"),
}
GRAVE_COLOURS = ("#fee5d9", "#fcae91", "#fb6a4a", "#cb181d")


def risk_map(result: RiskResult, sources: dict[str, gpd.GeoDataFrame], townships: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Levels as polygons, sources as markers, townships by residents in the two gravest levels."""
    min_x, min_y, max_x, max_y = result.polygons.total_bounds if len(result.polygons) else (115.9, 34.4, 117.6, 35.95)
    fmap = offline_map(((min_y + max_y) / 2, (min_x + max_x) / 2), zoom_start=9)
    levels = folium.FeatureGroup(name="风险等级 risk levels")
    for row in result.polygons.sort_values("level_code").itertuples():
        colour = RISK_LEVEL_COLOURS[row.level]
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _, c=colour: {"color": c, "weight": 0, "fillColor": c, "fillOpacity": 0.55, "className": "onemap-risk-level"},
            tooltip=f"{row.level}风险: {row.area_km2:,.1f} km²",
        ).add_to(levels)
    levels.add_to(fmap)
    if townships is not None and not townships.empty and not result.areas.empty:
        table = result.areas.loc[result.areas["level"] == "乡镇街道"].set_index("adcode")
        grave = (table["residents_较大"] + table["residents_重大"]).reindex(townships["adcode"]).fillna(0.0).to_numpy()
        breaks = np.quantile(grave[grave > 0], [0.25, 0.5, 0.75]) if (grave > 0).any() else np.zeros(3)
        group = folium.FeatureGroup(name="乡镇较大及以上风险人口", show=False)
        for (name, geometry), value in zip(zip(townships["name"], townships.geometry, strict=True), grave, strict=True):
            colour = GRAVE_COLOURS[int(np.searchsorted(breaks, value))] if value > 0 else "#ffffff"
            shape = folium.GeoJson(geometry.simplify(0.0005).__geo_interface__, style_function=lambda _, c=colour: {"color": "#636363", "weight": 1, "fillColor": c, "fillOpacity": 0.6})
            shape.add_child(StringPopup(f"<b>{html.escape(str(name))}</b><br>较大及以上风险人口 {value:,.0f} 人"))
            shape.add_to(group)
        group.add_to(fmap)
    for layer, (title, colour) in SOURCE_STYLE.items():
        frame = sources.get(layer)
        if frame is None or frame.empty:
            continue
        group = folium.FeatureGroup(name=f"{title} ({len(frame)})")
        for row in frame.to_crs(4326).itertuples():
            point = row.geometry if row.geometry.geom_type == "Point" else row.geometry.representative_point()
            folium.CircleMarker((point.y, point.x), radius=4, color=colour, weight=1, fill=True, fill_color=colour, fill_opacity=0.9,
                                tooltip=html.escape(f"{title}: {getattr(row, 'name', '')}"), class_name="onemap-hazard").add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    legend = (
        "<div id='onemap-legend' style='position:fixed;bottom:40px;left:10px;z-index:1000;background:#fff;padding:8px 12px;font:14px sans-serif;border:1px solid #999;border-radius:4px'>"
        f"<b>风险等级 ({result.grid.resolution_m:g} m)</b><br>"
        + "<br>".join(f"<span style='background:{RISK_LEVEL_COLOURS[name]};padding:0 10px'>&nbsp;</span> {name}" for name in ("重大", "较大", "一般", "低"))
        + f"<br><small>{html.escape(result.metadata()['capacity_label'])}</small></div>"
    )
    page(fmap).html.add_child(folium.Element(legend))
    fmap.fit_bounds([(min_y, min_x), (max_y, max_x)])
    return fmap


def risk_map_html(result: RiskResult, sources: dict[str, gpd.GeoDataFrame], townships: gpd.GeoDataFrame | None = None) -> str:
    return page(risk_map(result, sources, townships)).render()
