"""What a brief (简报) states, gathered from one store: for an incident, a stored scenario, or a
township. Plain frames and records, no rendering (``web/brief/compose.py`` lays them out).

For an incident or a scenario: the footprint's zones, the impact per township, the needs against
the depot stocks, the receiving shelters, the nearest rescue stations and depots by road with
their ETAs and routes (around the closures in force), and the closures in force. For a township
(a planning brief): its risk levels, shelter coverage and gaps, resources and top hazards.
Geometries are EPSG:4326.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers.catalogue import CLOSURE_IN_FORCE, get_layer
from layers.errors import InputError, NotFoundError, UnknownLayerError
from layers.services.operations import now_beijing
from layers.settings import Settings
from layers.store import Store
from layers.store.scenario_rows import ScenarioRecord

RESPONDERS = ("rescue_stations", "supply_depots")
"""The resources a brief lists by road time from the incident or the hazard."""
NEAREST_K = 5
TOWNSHIP_LEVEL = "乡镇街道"
FACTORS_ZH = {"slope": "坡度", "capacity": "救援力量可达性不足"}
"""Risk factors that are not layers, in Chinese (the layers' own titles name the rest)."""


def _factor_zh(name: str) -> str:
    if name in FACTORS_ZH:
        return FACTORS_ZH[name]
    try:
        return get_layer(name).title_zh
    except UnknownLayerError:
        return name


@dataclass(frozen=True)
class BriefFacts:
    """What one brief says. ``tables`` maps a table's name to its rows (column names as the
    composer expects them); frames are EPSG:4326."""

    kind: str  # incident | scenario | township
    title: str
    made_at: datetime
    author: str
    summary: list[str]
    zones: gpd.GeoDataFrame
    focus: gpd.GeoDataFrame
    """The incident or the hazard's source (name, geometry), for the map."""
    routes: gpd.GeoDataFrame
    """The nearest resources' routes: layer, name, travel_time_min, distance_km, the route line;
    the resource's own point in ``resource_point``."""
    shelters: gpd.GeoDataFrame
    closures: gpd.GeoDataFrame
    tables: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    extent: tuple[float, float, float, float] | None = None
    gaps: gpd.GeoDataFrame | None = None
    """Shelter-coverage gaps (a township brief)."""
    outline: shapely.Geometry | None = None
    """The township's boundary (a township brief)."""


def _empty(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)


def incident_facts(store: Store, settings: Settings, incident_id: str, *, author: str) -> BriefFacts:
    """The brief of incident ``incident_id``: with its newest scenario (active ones first), if any."""
    incident = store.get("incidents", incident_id).iloc[0]
    records = store.list_scenarios(incident_id=incident_id, limit=50)
    chosen = next((r for r in records if r.status == "生效中"), records[0] if records else None)
    scenario = store.get_scenario(chosen.id) if chosen is not None else None
    point = incident.geometry
    when = pd.Timestamp(incident["occurred_at"]) if pd.notna(incident.get("occurred_at")) else None
    summary = [f"{incident['kind']}：{incident['name']}，状态 {incident['status']}" + (f"，发生于 {when.tz_convert('Asia/Shanghai'):%Y-%m-%d %H:%M}" if when is not None and when.tzinfo else "") + "。"]
    if isinstance(incident.get("description"), str) and incident["description"].strip():
        summary.append(f"事件描述：{incident['description'].strip()}")
    focus = gpd.GeoDataFrame({"name": [str(incident["name"])], "role": ["incident"]}, geometry=[point], crs=4326)
    return _hazard_facts(store, settings, "incident", f"突发事件简报：{incident['name']}", author, summary, focus, scenario)


def scenario_facts(store: Store, settings: Settings, scenario_id: str, *, author: str) -> BriefFacts:
    """The brief of stored scenario ``scenario_id``, with no incident."""
    scenario = store.get_scenario(scenario_id)
    source = _source_point(scenario)
    focus = gpd.GeoDataFrame({"name": [scenario.name], "role": ["source"]}, geometry=[source], crs=4326)
    return _hazard_facts(store, settings, "scenario", f"情景推演简报：{scenario.name}", author, [], focus, scenario)


def _source_point(scenario: ScenarioRecord) -> shapely.Point:
    """Where the hazard starts: the release point or the dam (``lon``, ``lat`` of its
    parameters), else the footprint's inner point."""
    parameters = scenario.parameters
    if isinstance(parameters.get("lon"), int | float) and isinstance(parameters.get("lat"), int | float):
        return shapely.Point(float(parameters["lon"]), float(parameters["lat"]))
    if scenario.footprint.is_empty:
        raise InputError(f"scenario {scenario.id} has no footprint and no source point to brief on")
    return scenario.footprint.representative_point()


def _hazard_facts(store: Store, settings: Settings, kind: str, title: str, author: str, summary: list[str], focus: gpd.GeoDataFrame, scenario: ScenarioRecord | None) -> BriefFacts:
    from layers.services.routing import RoutingService

    notes: list[str] = []
    result = (scenario.result or {}) if scenario is not None else {}
    zones = _zones(result)
    if scenario is not None:
        impact = result.get("impact", {})
        summary.append(f"情景 {scenario.name}（{scenario.id}，{scenario.status}）：影响人口 {impact.get('residents', scenario.residents):,} 人，"
                       f"需转移 {impact.get('displaced', scenario.displaced):,} 人，影响范围 {sum(z['area_km2'] for z in result.get('zones', [])):,.2f} km²。")
        evacuation = result.get("evacuation", {})
        if evacuation:
            summary.append(f"转移安置：安置 {round(evacuation.get('placed', 0)):,} 人，未安置 {round(evacuation.get('unplaced', 0)):,} 人（步行 {evacuation.get('walk_min', 60):g} 分钟内）。")
        notes.extend(f"注意：{w}" for w in result.get("warnings", []))
        notes.append(f"方法：{scenario.parameters.get('method', scenario.kind)}")
    else:
        notes.append("本事件尚无情景推演：影响范围、人口与物资需求未计算（onemap scenario … --incident ID）。")
    point = focus.geometry.iloc[0]
    routing = RoutingService(store, settings)
    try:
        nearest = routing.nearest(point.x, point.y, list(RESPONDERS), k=NEAREST_K)
    except InputError as error:
        nearest = _empty(["layer", "name", "travel_time_min", "distance_km", "reachable"])
        notes.append(f"最近救援力量无法按路网计算：{error}")
    closures = store.read("road_closures", filters={"status": CLOSURE_IN_FORCE})
    shelters = _receiving_shelters(result)
    tables = {
        "impact": _impact_table(result),
        "needs": _needs_table(result),
        "resources": _resources_table(nearest),
        "closures": pd.DataFrame({"name": closures["name"].astype(str), "cause": closures["cause"], "created_at": closures["created_at"]}) if not closures.empty else pd.DataFrame(columns=["name", "cause", "created_at"]),
        "shelters": pd.DataFrame(shelters.drop(columns="geometry")) if not shelters.empty else pd.DataFrame(columns=["name", "assigned", "capacity"]),
    }
    extent_parts = [g for g in [*zones.geometry, point] if g is not None and not g.is_empty]
    extent = _padded(shapely.union_all(extent_parts).bounds if extent_parts else None)
    routes = nearest[nearest["reachable"].astype(bool)].copy() if not nearest.empty else nearest
    if not routes.empty:
        where = {}
        for layer in RESPONDERS:
            frame = store.read(layer)
            where.update({(layer, str(i)): g for i, g in zip(frame["source_id"], frame.geometry, strict=True)})
        routes["resource_point"] = [where.get((r.layer, str(r.resource_id)), shapely.Point()) for r in routes.itertuples()]
    return BriefFacts(kind, title, now_beijing(), author, summary, zones, focus, routes, shelters, closures, tables, notes, extent)


def _zones(result: dict[str, Any]) -> gpd.GeoDataFrame:
    zones = result.get("zones", [])
    if not zones:
        return _empty(["zone", "area_km2"])
    return gpd.GeoDataFrame({"zone": [z["zone"] for z in zones], "area_km2": [z["area_km2"] for z in zones]},
                            geometry=[shapely.geometry.shape(z["geometry"]) for z in zones], crs=4326)


def _receiving_shelters(result: dict[str, Any]) -> gpd.GeoDataFrame:
    rows = result.get("evacuation", {}).get("shelters", [])
    if not rows:
        return _empty(["name", "assigned", "capacity"])
    return gpd.GeoDataFrame({"name": [r.get("name") for r in rows], "assigned": [r.get("assigned") for r in rows], "capacity": [r.get("capacity") for r in rows]},
                            geometry=[shapely.Point(r["lon"], r["lat"]) for r in rows], crs=4326)


def _impact_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = result.get("impact", {}).get("by_township", [])
    return pd.DataFrame(rows, columns=["adcode", "name", "zone", "residents", "displaced"])


def _needs_table(result: dict[str, Any]) -> pd.DataFrame:
    """Needs against stock: item (Chinese), unit, needed, available, sent, short."""
    names = {n["item"]: n.get("name_zh", n["item"]) for n in result.get("needs", [])}
    rows = [{"item": names.get(s["item"], s["item"]), "unit": s["unit"], "needed": s["needed"], "available": s["available"], "sent": s["sent"], "short": s["short"]}
            for s in result.get("shortfalls", [])]
    return pd.DataFrame(rows, columns=["item", "unit", "needed", "available", "sent", "short"])


def _resources_table(nearest: gpd.GeoDataFrame) -> pd.DataFrame:
    if nearest.empty:
        return pd.DataFrame(columns=["layer", "name", "travel_time_min", "distance_km"])
    table = pd.DataFrame(nearest[["layer", "name", "travel_time_min", "distance_km", "reachable"]])
    table.loc[~table["reachable"].astype(bool), ["travel_time_min", "distance_km"]] = float("nan")
    return table.drop(columns="reachable").sort_values(["layer", "travel_time_min"], na_position="last").reset_index(drop=True)


def _padded(bounds: tuple[float, float, float, float] | None, margin: float = 0.15) -> tuple[float, float, float, float] | None:
    if bounds is None:
        return None
    west, south, east, north = bounds
    pad = max(east - west, north - south, 0.02) * margin
    return (west - pad, south - pad, east + pad, north + pad)


def township_facts(store: Store, settings: Settings, adcode: str, *, author: str, progress: Any = None) -> BriefFacts:
    """A planning brief of township ``adcode``: its risk levels (km², residents), shelter
    coverage and gaps, the resources inside it and its top hazards. Runs the risk zoning and the
    shelter coverage (minutes on a large city the first time)."""
    from layers.services.coverage import CoverageService
    from layers.services.risk import RiskService
    from layers.services.routing import RoutingService

    towns = store.read("admin_areas", filters={"adcode": adcode, "level": TOWNSHIP_LEVEL})
    if towns.empty:
        raise NotFoundError(f"no township (乡镇街道) has the adcode {adcode!r}; onemap layers admin_areas lists them")
    town = towns.iloc[0]
    shape = town.geometry
    report = progress or (lambda step: None)
    routing = RoutingService(store, settings)
    report("风险区划 risk zoning …")
    risk = RiskService(store, settings, routing).current()
    report("避难场所覆盖 shelter coverage …")
    coverage = CoverageService(store, settings, routing).result()
    risk_row = risk.areas[(risk.areas["adcode"] == adcode) & (risk.areas["level"] == TOWNSHIP_LEVEL)]
    levels = ["重大", "较大", "一般", "低"]
    risk_table = pd.DataFrame({"level": levels,
                               "area_km2": [float(risk_row[f"area_km2_{z}"].iloc[0]) if not risk_row.empty else 0.0 for z in levels],
                               "residents": [round(float(risk_row[f"residents_{z}"].iloc[0])) if not risk_row.empty else 0 for z in levels]})
    cover = coverage.areas[(coverage.areas["adcode"] == adcode)]
    cover_row = cover.iloc[0] if not cover.empty else None
    zones = gpd.GeoDataFrame({"zone": risk.polygons["level"]}, geometry=risk.polygons.geometry.intersection(shape), crs=4326)
    zones = zones[~zones.geometry.is_empty]
    gaps = coverage.gaps.to_crs(4326)
    gaps = gaps[gaps.intersects(shape)]
    gaps = gaps[gaps.intersection(shape).area > 0.5 * gaps.area]  # a gap is cut by township: its cells' own
    resources = []
    for layer in ("shelters", "rescue_stations", "supply_depots"):
        frame = store.read(layer, bbox=shape.bounds)
        inside = frame[frame.geometry.within(shape)]
        resources.append({"layer": layer, "count": len(inside), "names": "、".join(map(str, inside["name"].head(8)))})
    hazards = "、".join(_factor_zh(n) for n in str(risk_row["top_hazards"].iloc[0]).split("、") if n) if not risk_row.empty else ""
    summary = [f"{town['name']}（{adcode}）规划简报：面积 {gpd.GeoSeries([shape], crs=4326).to_crs(settings.work_epsg).area.iloc[0] / 1e6:,.1f} km²。"]
    if cover_row is not None:
        summary.append(f"避难场所覆盖：{cover_row['residents_covered']:,.0f} / {cover_row['residents']:,.0f} 人在步行可达范围内（{cover_row['covered_pct']:.1f}%），容量缺口 {cover_row['capacity_shortfall_persons']:,.0f} 人。")
    if hazards:
        summary.append(f"主要风险因子：{hazards}。")
    coverage_table = pd.DataFrame([{k: cover_row[k] for k in ("residents", "residents_covered", "residents_uncovered", "covered_pct", "shelters", "capacity_persons", "capacity_shortfall_persons")}]) if cover_row is not None else pd.DataFrame()
    tables = {"risk": risk_table, "coverage": coverage_table, "township_resources": pd.DataFrame(resources),
              "gaps": pd.DataFrame({"gap": range(1, len(gaps) + 1), "area_km2": gaps.to_crs(settings.work_epsg).area.to_numpy() / 1e6,
                                    "residents": gaps["residents"].to_numpy(), "nearest_shelter_min": gaps["nearest_shelter_min"].to_numpy()})}
    focus = gpd.GeoDataFrame({"name": [str(town["name"])], "role": ["township"]}, geometry=[shape.representative_point()], crs=4326)
    shelters = store.read("shelters", bbox=shape.bounds)
    shelters = shelters[shelters.geometry.within(shape)]
    return BriefFacts("township", f"乡镇街道规划简报：{town['name']}", now_beijing(), author, summary, zones, focus, _empty(["layer", "name"]),
                      gpd.GeoDataFrame({"name": shelters["name"], "assigned": None, "capacity": shelters.get("capacity_persons")}, geometry=shelters.geometry, crs=4326),
                      _empty(["name", "cause"]), tables, [*risk.notes[:3], *coverage.notes[:3]], _padded(shape.bounds, 0.05), gaps[["geometry"]], shape)
