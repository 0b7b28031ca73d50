"""A brief's facts (``layers.services.brief_facts.BriefFacts``) laid out as a ``Brief``: the map's
layers with their colours and legend labels, and the tables with Chinese headers and units."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import shapely

from gis.scenario.needs import UNITS_ZH
from layers.catalogue import get_layer
from layers.errors import UnknownLayerError
from layers.services.brief_facts import BriefFacts

from ..basemap import BasemapData
from .content import (
    Brief,
    BriefMap,
    BriefTable,
    ClosureLayer,
    LineLayer,
    MapLayer,
    PointLayer,
    ZoneLayer,
    geometry_from_frame,
)

ZONE_COLOURS = ("#d7191c", "#fd8d3c", "#fecc5c", "#ffffb2", "#c7e9b4")
"""Zones, most severe first: red, orange, yellow, then paler."""
RISK_COLOURS = {"重大": "#FF0000", "较大": "#FF9900", "一般": "#FFFF00", "低": "#0070FF"}
"""The four official risk-level colours."""
LAYER_LABELS = {"rescue_stations": "救援站", "supply_depots": "物资储备库", "shelters": "避难场所"}


def compose_brief(facts: BriefFacts, basemap: BasemapData | None, tiles: Callable[[int, int, int], bytes] | None = None) -> Brief:
    """The brief of ``facts`` over the offline ``basemap`` (None: plain land), whose tiles come from
    ``tiles`` when given (see ``BriefMap``)."""
    tables = _tables(facts)
    layers = _layers(facts)
    caption = {"incident": "事件位置、影响范围、最近救援力量路线与接收避难场所", "scenario": "情景影响范围、最近救援力量路线与接收避难场所",
               "township": "风险分区与避难场所覆盖缺口"}.get(facts.kind, "")
    brief_map = BriefMap(layers, basemap, facts.extent, caption, tiles) if layers else None
    return Brief(facts.title, facts.made_at, facts.author, facts.summary, brief_map, tables, facts.notes)


def _layers(facts: BriefFacts) -> list[MapLayer]:
    layers: list[MapLayer] = []
    if facts.kind == "township":
        for zone in facts.zones.itertuples():
            layers.append(ZoneLayer(f"{zone.zone}风险", RISK_COLOURS.get(str(zone.zone), "#999999"), zone.geometry, severity=4 - list(RISK_COLOURS).index(zone.zone) if zone.zone in RISK_COLOURS else 0))
        if facts.gaps is not None and not facts.gaps.empty:
            layers.append(ClosureLayer("避难场所覆盖缺口", "#6a3d9a", geometry_from_frame(facts.gaps)))
        if facts.outline is not None:
            layers.append(LineLayer("乡镇街道边界", "#54278f", shapely.boundary(facts.outline), width_mm=0.6))
    else:
        count = len(facts.zones)
        for rank, zone in enumerate(facts.zones.itertuples()):
            layers.append(ZoneLayer(str(zone.zone), ZONE_COLOURS[min(rank, len(ZONE_COLOURS) - 1)], zone.geometry, severity=count - rank))
    if not facts.closures.empty:
        layers.append(ClosureLayer("道路封闭", "#08519c", geometry_from_frame(facts.closures)))
    if not facts.routes.empty and "geometry" in facts.routes:
        lines = [g for g in facts.routes.geometry if g is not None and not g.is_empty and g.geom_type in ("LineString", "MultiLineString")]
        if lines:
            layers.append(LineLayer("救援路线", "#1f78b4", shapely.union_all(lines)))
    if not facts.shelters.empty:
        layers.append(PointLayer.from_frame(facts.shelters, label="避难场所", colour="#1a9850", marker="square"))
    if not facts.routes.empty and "resource_point" in facts.routes:
        for layer, colour, marker in (("rescue_stations", "#e31a1c", "triangle"), ("supply_depots", "#ff7f00", "diamond")):
            rows = facts.routes[facts.routes["layer"] == layer]
            if not rows.empty:
                layers.append(PointLayer(LAYER_LABELS[layer], colour, list(rows["resource_point"]), marker, [str(n) for n in rows["name"]]))
    role = str(facts.focus["role"].iloc[0]) if not facts.focus.empty else ""
    if role in ("incident", "source"):
        layers.append(PointLayer.from_frame(facts.focus, label="事发地点" if role == "incident" else "危险源", colour="#000000", marker="cross", text_column="name"))
    return layers


def _tables(facts: BriefFacts) -> list[BriefTable]:
    t = facts.tables
    out: list[BriefTable] = []
    if "impact" in t:
        impact = t["impact"]
        out.append(BriefTable("受影响人口（按乡镇街道、分区）", ["乡镇街道", "行政区划代码", "分区", "影响人口 (人)", "需转移 (人)"],
                              _rows(impact, ["name", "adcode", "zone", "residents", "displaced"]), note=_total_note(impact)))
    if "needs" in t:
        needs = t["needs"].assign(unit=t["needs"]["unit"].map(lambda u: UNITS_ZH.get(str(u), str(u))))
        out.append(BriefTable("物资需求与库存（缺口）", ["物资", "单位", "需求", "库存可调", "已调拨", "缺口"], _rows(needs, ["item", "unit", "needed", "available", "sent", "short"]),
                              numeric_columns=frozenset({"需求", "库存可调", "已调拨", "缺口"})))
    if "shelters" in t:
        out.append(BriefTable("接收避难场所", ["避难场所", "安置 (人)", "容量 (人)"], _rows(t["shelters"], ["name", "assigned", "capacity"]),
                              numeric_columns=frozenset({"安置 (人)", "容量 (人)"})))
    if "resources" in t:
        resources = t["resources"].assign(layer=t["resources"]["layer"].map(lambda v: LAYER_LABELS.get(str(v), _title(str(v)))))
        out.append(BriefTable("最近救援力量（路网行车时间）", ["类型", "名称", "行车时间 (分钟)", "距离 (km)"], _rows(resources, ["layer", "name", "travel_time_min", "distance_km"]),
                              note="绕行现行封闭道路；“—”表示无法到达。", numeric_columns=frozenset({"行车时间 (分钟)", "距离 (km)"})))
    if "closures" in t:
        closures = t["closures"].assign(created_at=t["closures"]["created_at"].map(_time))
        out.append(BriefTable("现行道路封闭", ["名称", "原因", "封闭时间"], _rows(closures, ["name", "cause", "created_at"])))
    if "risk" in t:
        out.append(BriefTable("风险等级", ["风险等级", "面积 (km²)", "人口 (人)"], _rows(t["risk"], ["level", "area_km2", "residents"]), decimals={"面积 (km²)": 2}))
    if "coverage" in t and not t["coverage"].empty:
        row = t["coverage"].iloc[0]
        labels = {"residents": "常住人口 (人)", "residents_covered": "可达人口 (人)", "residents_uncovered": "未覆盖人口 (人)", "covered_pct": "覆盖率 (%)",
                  "shelters": "避难场所 (处)", "capacity_persons": "容量 (人)", "capacity_shortfall_persons": "容量缺口 (人)"}
        out.append(BriefTable("避难场所覆盖", ["指标", "数值"], [[labels[k], _number(row[k])] for k in labels], numeric_columns=frozenset({"数值"})))
    if "gaps" in t:
        out.append(BriefTable("避难场所覆盖缺口", ["缺口", "面积 (km²)", "人口 (人)", "最近避难场所步行 (分钟)"], _rows(t["gaps"], ["gap", "area_km2", "residents", "nearest_shelter_min"]),
                              decimals={"面积 (km²)": 2}, note="按人口多少排列；步行时间为缺口内到任一避难场所的最短时间。"))
    if "township_resources" in t:
        resources = t["township_resources"].assign(layer=t["township_resources"]["layer"].map(lambda v: LAYER_LABELS.get(str(v), str(v))))
        out.append(BriefTable("辖区应急资源", ["类型", "数量", "名称（前 8 个）"], _rows(resources, ["layer", "count", "names"])))
    return out


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[list[str | int | float | None]]:
    if frame.empty:
        return []
    return [[_number(value) for value in record] for record in frame[columns].itertuples(index=False, name=None)]


def _number(value: object) -> str | int | float | None:
    """A cell: numbers as they are (ints print whole, floats with their column's decimals),
    missing as None, the rest as text."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    if hasattr(value, "item"):
        return _number(value.item())
    return str(value)


def _total_note(impact: pd.DataFrame) -> str | None:
    if impact.empty:
        return None
    return f"合计：影响人口 {round(float(impact['residents'].sum())):,} 人，需转移 {round(float(impact['displaced'].sum())):,} 人（按人口网格面积加权）。"


def _time(value: object) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    stamp = pd.Timestamp(str(value)) if not isinstance(value, pd.Timestamp) else value
    return f"{(stamp.tz_convert('Asia/Shanghai') if stamp.tzinfo else stamp):%Y-%m-%d %H:%M}"


def _title(layer: str) -> str:
    try:
        return get_layer(layer).title_zh
    except UnknownLayerError:  # printed as it is
        return layer
