"""Where a scenario's displaced go, and what is sent to them: the walk to usable shelters with
room (the coverage analysis' capacity-aware assignment) and the deliveries from depot stocks by
road around the closures in force and the footprint. Work CRS inside; lon/lat out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import to_lonlat
from gis.scenario.allocation import Allocation, allocate_supplies
from gis.scenario.impact import Impact
from gis.scenario.needs import NeedsProfile, needs_by_shelter
from layers.errors import InputError
from layers.settings import Settings
from layers.store import Store

EVACUATION_WALK_MIN = 60.0
"""How long the displaced may walk to a shelter, minutes on the walking network (the longest
default reach of a shelter type, 中心避难场所)."""


@dataclass(frozen=True)
class Evacuation:
    """Where the displaced go: ``shelters`` (source_id, name, shelter_type, capacity, assigned
    persons, lon, lat; the usable shelters that receive anyone), persons ``placed`` and
    ``unplaced`` (no usable shelter with room within ``walk_min`` minutes' walk), and the mean
    walk of the placed, minutes. Shelters inside the footprint are not used."""

    shelters: pd.DataFrame
    placed: float
    unplaced: float
    mean_walk_min: float
    walk_min: float

    def to_json(self) -> dict[str, Any]:
        rows = [{"source_id": r["source_id"], "name": r["name"], "shelter_type": r["shelter_type"], "capacity": round(float(r["capacity"])),
                 "assigned": round(float(r["assigned"])), "lon": float(r["lon"]), "lat": float(r["lat"])} for r in self.shelters.to_dict("records")]
        mean = None if math.isnan(self.mean_walk_min) else round(self.mean_walk_min, 1)
        return {"placed": round(self.placed), "unplaced": round(self.unplaced), "mean_walk_min": mean, "walk_min": self.walk_min, "shelters": rows}


NO_EVACUATION = Evacuation(pd.DataFrame(columns=["source_id", "name", "shelter_type", "capacity", "assigned", "lon", "lat"]), 0.0, 0.0, float("nan"), EVACUATION_WALK_MIN)


def evacuate(store: Store, settings: Settings, impact: Impact, cells: gpd.GeoDataFrame, unusable: set[str], warnings: list[str]) -> Evacuation:
    """The displaced of each population cell walk to the usable shelters (all but ``unusable``, the
    source ids of those inside the footprint) within EVACUATION_WALK_MIN on the walking network, as many placed as the shelters' whole
    capacity allows, then the least walking: the coverage analysis' capacity-aware assignment."""
    from gis.arraytools import anchor_points
    from gis.coverage import CoverageInputError, serving_shelters
    from gis.coverage.assignment import assign_evacuees
    from gis.coverage.reach import network_reach
    from layers.services.routing import RoutingService

    params = settings.coverage_params()
    cells_xy = shapely.get_coordinates(shapely.centroid(cells.geometry.to_numpy()[impact.by_cell["cell"].to_numpy()]))
    reach_m = EVACUATION_WALK_MIN / 60.0 * params.walk_kmh * 1000.0
    x0, y0 = cells_xy.min(axis=0) - reach_m
    x1, y1 = cells_xy.max(axis=0) + reach_m
    shelters = store.read("shelters", bbox=to_lonlat(shapely.box(x0, y0, x1, y1), epsg=settings.work_epsg).bounds)
    shelters = shelters[~shelters["source_id"].astype(str).isin(unusable)] if not shelters.empty else shelters
    try:
        usable = serving_shelters(shelters, "紧急", params) if not shelters.empty else shelters
    except CoverageInputError as error:
        raise InputError(f"shelters: {error}") from None
    if usable.empty:
        warnings.append(f"no usable shelter within {EVACUATION_WALK_MIN:g} min walk of the footprint: every displaced person is unplaced")
        return Evacuation(NO_EVACUATION.shelters, 0.0, impact.total_displaced, float("nan"), EVACUATION_WALK_MIN)
    shelters_xy = shapely.get_coordinates(anchor_points(usable.to_crs(settings.work_epsg).geometry.to_numpy()))
    graph = RoutingService(store, settings).walking_graph(params.walk_kmh)
    reach = network_reach(graph, cells_xy, shelters_xy, np.full(len(usable), EVACUATION_WALK_MIN), walk_kmh=params.walk_kmh, max_snap_m=params.max_snap_m, nearest=False)
    demand = impact.by_cell["displaced"].to_numpy(dtype=float)
    capacity = usable["capacity"].to_numpy(dtype=float)
    plan = assign_evacuees(reach, demand, capacity)
    lonlat = usable.geometry.representative_point()
    table = pd.DataFrame({"source_id": usable["source_id"].astype(str), "name": usable["name"], "shelter_type": usable["shelter_type"], "capacity": capacity,
                          "assigned": plan.assigned, "lon": lonlat.x.to_numpy(), "lat": lonlat.y.to_numpy()})
    table = table[table["assigned"] > 0].sort_values("assigned", ascending=False).reset_index(drop=True)
    unplaced = float(plan.unplaced.sum())
    if unplaced > 0.5:
        warnings.append(f"{unplaced:,.0f} displaced persons find no usable shelter with room within {EVACUATION_WALK_MIN:g} min walk")
    return Evacuation(table, float(plan.placed.sum()), unplaced, plan.mean_minutes, EVACUATION_WALK_MIN)


def allocate(store: Store, settings: Settings, stocks: pd.DataFrame, evacuation: Evacuation, zones: gpd.GeoDataFrame, profile: NeedsProfile, days: float, warnings: list[str]) -> Allocation:
    """The depots' ``stocks`` (depot_id, item, quantity, unit in the profile's units) sent to the
    shelters that receive the displaced, by road around the closures in force and the footprint
    itself (its roads are cut), fastest first: what each depot sends where, and what is short."""
    from layers.services.routing import Closures, RoutingService

    receiving = evacuation.shelters
    demand = needs_by_shelter(pd.Series(receiving["assigned"].to_numpy(dtype=float), index=receiving["source_id"]), profile, days=days)
    routing = RoutingService(store, settings)
    footprint = tuple(g for g in zones.geometry if not g.is_empty)
    travel = routing.travel_minutes("supply_depots", list(zip(receiving["lon"], receiving["lat"], strict=True)), closures=routing.closures(Closures(footprint)))
    travel.columns = receiving["source_id"].to_numpy()
    travel = travel.loc[stocks["depot_id"].drop_duplicates().tolist()]
    cut_off = travel.index[~np.isfinite(travel.to_numpy()).any(axis=1)]
    if len(cut_off):
        warnings.append(f"stock at {len(cut_off)} depot(s) cannot be sent (inside the footprint or cut off by closed roads): {', '.join(cut_off[:10])}")
    return allocate_supplies(stocks, demand, travel)
