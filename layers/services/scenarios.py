"""Scenarios over one store: a footprint (a chemical plume, a drawn or imported hazard area) → the
residents per township in each zone, the displaced, the facilities inside, and what the displaced
need for the profile's days.

The footprint is built and assessed in the city's work CRS (metres); what leaves here (zones,
facilities) is in longitude/latitude (EPSG:4326), as stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
import shapely

from gis.crs import to_lonlat, to_metric
from gis.partitions import RunPartitions
from gis.scenario import ScenarioInputError
from gis.scenario.allocation import Allocation
from gis.scenario.impact import DEFAULT_DISPLACEMENT_RATE, Impact, residents_in_zones
from gis.scenario.needs import UNITS_ZH, NeedsProfile, needs_for
from gis.scenario.plume import PlumeParams, plume_footprint
from layers.errors import InputError
from layers.services.relief import NO_EVACUATION, Evacuation, allocate, evacuate
from layers.settings import Settings
from layers.store import Store

F = TypeVar("F", bound=Callable[..., Any])
TOWNSHIP_LEVEL = "乡镇街道"
FACILITY_LAYERS = ("shelters", "rescue_stations", "supply_depots")
"""Facilities flagged when a footprint covers them: shelters become unusable, stations and depots
are in the hazard."""


@dataclass(frozen=True)
class ScenarioOutcome:
    """What a scenario reaches: ``zones`` (zone, area_km2, geometry; EPSG:4326, most severe first),
    the ``impact`` by township and zone, the ``facilities`` inside (layer, source_id, name, zone;
    EPSG:4326), and the ``needs`` of all displaced for ``days`` days under ``profile``."""

    kind: str
    parameters: dict[str, Any]
    zones: gpd.GeoDataFrame
    impact: Impact
    facilities: gpd.GeoDataFrame
    needs: pd.DataFrame
    profile: NeedsProfile
    days: float
    evacuation: Evacuation
    allocation: Allocation | None = None
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    stored_id: str | None = None
    """The id it is stored under (``layers/services/scenario_records.py``), once saved."""

    @property
    def id(self) -> str:
        """The stored id; before it is saved, a name that its kind and parameters decide (the
        same inputs give the same name)."""
        if self.stored_id is not None:
            return self.stored_id
        digest = hashlib.sha256(json.dumps([self.kind, self.parameters], sort_keys=True, default=str).encode()).hexdigest()
        return f"{self.kind}-{digest[:10]}"

    def _shortfalls(self) -> list[dict[str, Any]]:
        """Needs against stock per item; with no stock ledger nothing counts as available, so
        every item is short by all that is needed (and a warning says why)."""
        if self.allocation is not None:
            return _shortfalls_json(self.allocation)
        return [{"item": r["item"], "unit": r["unit"], "needed": _quantity(float(r["quantity"])), "available": 0, "sent": 0, "short": _quantity(float(r["quantity"]))}
                for r in self.needs.to_dict("records")]

    def to_json(self) -> dict[str, Any]:
        """The scenario as JSON: id, kind, parameters, zones (name, area km², GeoJSON geometry),
        impact (residents, displaced, by_zone, by_township), facilities inside, needs; persons
        rounded to whole people."""
        zones = [{"zone": row.zone, "area_km2": round(float(row.area_km2), 3), "geometry": shapely.geometry.mapping(row.geometry)} for row in self.zones.itertuples()]
        by_zone = [{"zone": r["zone"], "residents": round(float(r["residents"])), "displaced": round(float(r["displaced"]))} for r in self.impact.by_zone.to_dict("records")]
        by_township = [{"adcode": r["adcode"], "name": r["name"], "zone": r["zone"], "residents": round(float(r["residents"])), "displaced": round(float(r["displaced"]))} for r in self.impact.by_township.to_dict("records")]
        facilities = [{"layer": r.layer, "source_id": r.source_id, "name": r.name, "zone": r.zone, "lon": r.geometry.x, "lat": r.geometry.y} for r in self.facilities.itertuples()]
        needs = [{"item": r["item"], "name_zh": r["name_zh"], "unit": r["unit"], "unit_zh": UNITS_ZH.get(str(r["unit"]), str(r["unit"])), "quantity": _quantity(float(r["quantity"]))}
                 for r in self.needs.to_dict("records")]
        return {
            "id": self.id,
            "kind": self.kind,
            "parameters": self.parameters,
            **self.details,
            "zones": zones,
            "impact": {"residents": round(self.impact.total_residents), "displaced": round(self.impact.total_displaced), "by_zone": by_zone, "by_township": by_township},
            "facilities_inside": facilities,
            "evacuation": self.evacuation.to_json(),
            "needs": needs,
            "needs_profile": {"name": self.profile.name, "source": self.profile.source, "days": self.days},
            "deliveries": _deliveries_json(self.allocation),
            "shortfalls": self._shortfalls(),
            "warnings": self.warnings if self.allocation is not None else [*self.warnings, "no depot stocks are stored (onemap stocks import LEDGER) and no ledger was given (--stocks): no stock counts as available, so every need is short in full"],
        }


def _deliveries_json(allocation: Allocation | None) -> list[dict[str, Any]]:
    if allocation is None:
        return []
    return [{"depot_id": r["depot_id"], "shelter_id": r["shelter_id"], "item": r["item"], "quantity": _quantity(float(r["quantity"])), "unit": r["unit"],
             "travel_time_min": round(float(r["travel_time_min"]), 1)} for r in allocation.flows.to_dict("records")]


def _shortfalls_json(allocation: Allocation) -> list[dict[str, Any]]:
    return [{"item": r["item"], "unit": r["unit"], "needed": _quantity(float(r["needed"])), "available": _quantity(float(r["available"])),
             "sent": _quantity(float(r["sent"])), "short": _quantity(float(r["short"]))} for r in allocation.by_item.to_dict("records")]


def _quantity(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 1)


def input_errors(function: F) -> F:
    """A scenario's wrong parameters (gis raises ScenarioInputError, a ValueError) become the
    InputError every entry point reports (exit 2, HTTP 400)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ScenarioInputError as error:
            raise InputError(str(error)) from None

    return wrapper  # type: ignore[return-value]


@input_errors
def plume_scenario(
    store: Store,
    settings: Settings,
    *,
    lon: float,
    lat: float,
    wind_from_deg: float,
    wind_speed_ms: float,
    stability: str,
    release_g_s: float,
    thresholds_mg_m3: list[float],
    duration_min: float | None = None,
    release_height_m: float = 0.0,
    profile: NeedsProfile,
    days: float | None = None,
    stocks_path: Path | None = None,
    run_partitions: RunPartitions | None = None,
) -> ScenarioOutcome:
    """A continuous chemical release at (lon, lat) (degrees, WGS 84) as a Gaussian plume; its zones
    are where the ground-level concentration reaches each threshold (mg/m³, most severe first).
    Everyone in a zone counts as displaced (evacuated), the rate InaSAFE uses for a high zone."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ScenarioInputError(f"the release point must be longitude, latitude in degrees (got {lon}, {lat})")
    x, y = to_metric(shapely.Point(lon, lat), epsg=settings.work_epsg).coords[0]
    params = PlumeParams(
        source_xy=(x, y), release_g_s=release_g_s, wind_ms=wind_speed_ms, wind_from_deg=wind_from_deg, stability=stability,
        release_height_m=release_height_m, duration_s=None if duration_min is None else duration_min * 60.0, epsg=settings.work_epsg,
    )
    footprint = plume_footprint(params, thresholds_mg_m3=thresholds_mg_m3)
    zones = gpd.GeoDataFrame({"zone": [z.name for z in footprint.zones]}, geometry=[z.polygon for z in footprint.zones], crs=settings.work_epsg)
    parameters = {
        "lon": lon, "lat": lat, "wind_from_deg": wind_from_deg, "wind_speed_ms": wind_speed_ms, "stability": params.stability,
        "release_g_s": release_g_s, "duration_min": duration_min, "release_height_m": release_height_m,
        "thresholds_mg_m3": [float(t) for t in thresholds_mg_m3], "method": "Gaussian plume, Briggs (1973) open-country σy/σz, ground reflection",
    }
    return assess(store, settings, "plume", parameters, zones, profile=profile, days=days, displacement=1.0, stocks_path=stocks_path, run_partitions=run_partitions)


@input_errors
def area_scenario(store: Store, settings: Settings, zones: gpd.GeoDataFrame, *, source: str, profile: NeedsProfile, days: float | None = None,
                  displacement: float | dict[str, float] = DEFAULT_DISPLACEMENT_RATE, stocks_path: Path | None = None,
                  run_partitions: RunPartitions | None = None) -> ScenarioOutcome:
    """A drawn or imported hazard area: ``zones`` with a ``zone`` column (depth class or name;
    most severe first) and polygons, in any CRS (reprojected to the work CRS)."""
    if zones.crs is None:
        raise InputError(f"{source}: the file has no CRS; save it with one (EPSG:4326 for longitude/latitude)")
    polygons = zones.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if zones.empty or not polygons.all():
        bad = "no features" if zones.empty else f"row {int((~polygons).to_numpy().argmax()) + 1} is a {zones.geometry.geom_type[~polygons].iloc[0]}"
        raise InputError(f"{source}: a hazard area must be polygons ({bad})")
    work = zones.to_crs(settings.work_epsg)
    parameters = {"source": source, "zones": [str(z) for z in work["zone"].unique()], "displacement": displacement}
    return assess(store, settings, "area", parameters, work[["zone", "geometry"]], profile=profile, days=days, displacement=displacement, stocks_path=stocks_path, run_partitions=run_partitions)


def assess(
    store: Store,
    settings: Settings,
    kind: str,
    parameters: dict[str, Any],
    zones: gpd.GeoDataFrame,
    *,
    profile: NeedsProfile,
    days: float | None,
    displacement: float | dict[str, float],
    stocks_path: Path | None = None,
    details: dict[str, Any] | None = None,
    run_partitions: RunPartitions | None = None,
) -> ScenarioOutcome:
    """The impact of a footprint whose ``zones`` (zone, polygons; work CRS, most severe first)
    are given: residents and displaced per township × zone from the population cells, the
    facilities inside, and the needs of the displaced. With ``run_partitions`` the residents are
    weighted per county (``gis.scenario.impact``), e.g. on a cluster: the same figures."""
    warnings: list[str] = []
    live = zones[~zones.geometry.is_empty]
    if live.empty:
        warnings.append("no zone has an area: the release or hazard reaches none of its thresholds")
        cells, towns = _empty(settings.work_epsg, ["persons"]), _empty(settings.work_epsg, ["adcode", "name"])
        facilities = _empty(4326, ["layer", "source_id", "name", "zone"])
    else:
        footprint = to_lonlat(shapely.union_all(live.geometry.to_numpy()), epsg=settings.work_epsg)
        if not footprint.within(settings.region_geometry()):
            where = "lies outside" if not footprint.intersects(settings.region_geometry()) else "reaches beyond"
            warnings.append(f"the footprint {where} the city's region ({settings.region_label()}): residents and facilities beyond it are not in the store and not counted")
        bbox = footprint.bounds
        cells = store.read("population", bbox=bbox).to_crs(settings.work_epsg)
        towns = store.read("admin_areas", bbox=bbox, filters={"level": TOWNSHIP_LEVEL}).to_crs(settings.work_epsg)
        if cells.empty:
            warnings.append("the population layer has no cells under the footprint: residents are 0 (import a population grid to count them)")
        facilities = _facilities_inside(store, settings, live, bbox)
    impact = residents_in_zones(live, cells, towns, displacement=displacement, run_partitions=run_partitions)
    unusable = set(facilities.loc[facilities["layer"] == "shelters", "source_id"])
    evacuation = evacuate(store, settings, impact, cells, unusable, warnings) if impact.total_displaced > 0 else NO_EVACUATION
    used_days = float(days if days is not None else profile.days)
    needs = needs_for(impact.total_displaced, profile, days=used_days)
    zones_out = zones.assign(area_km2=zones.geometry.area / 1e6).to_crs(4326)
    stocks = _stocks(store, profile, stocks_path, warnings)
    allocation = allocate(store, settings, stocks, evacuation, zones_out, profile, used_days, warnings) if stocks is not None else None
    return ScenarioOutcome(kind, parameters, zones_out, impact, facilities, needs, profile, used_days, evacuation, allocation, warnings, details or {})


def _stocks(store: Store, profile: NeedsProfile, stocks_path: Path | None, warnings: list[str]) -> pd.DataFrame | None:
    """The depot stocks to send: the ledger file at ``stocks_path`` when given, else the stored
    ``depot_stocks``; None (and nothing counts as available) when there are none."""
    from layers.io.stock_ledger import read_stock_ledger, stocks_for_profile

    if stocks_path is not None:
        stocks, found = read_stock_ledger(stocks_path, store.read("supply_depots"), profile)
    else:
        stored = store.read_depot_stocks()
        if stored.empty:
            return None
        stocks, found = stocks_for_profile(stored, profile)
    warnings.extend(found)
    return stocks


def _empty(epsg: int, columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=epsg)


def _facilities_inside(store: Store, settings: Settings, zones: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """The facilities of FACILITY_LAYERS inside a zone, each with its most severe zone."""
    found = []
    for layer in FACILITY_LAYERS:
        frame = store.read(layer, bbox=bbox)
        if frame.empty:
            continue
        points = frame.to_crs(settings.work_epsg).geometry.representative_point()
        zone = pd.Series(pd.NA, index=frame.index, dtype=object)
        for row in zones.iloc[::-1].itertuples():  # the most severe zone last, so it wins
            zone[points.within(row.geometry).to_numpy()] = row.zone
        inside = zone.notna().to_numpy()
        if inside.any():
            found.append(gpd.GeoDataFrame({"layer": layer, "source_id": frame["source_id"][inside].astype(str), "name": frame["name"][inside], "zone": zone[inside]},
                                          geometry=frame.geometry[inside].representative_point(), crs=4326))
    return pd.concat(found, ignore_index=True) if found else _empty(4326, ["layer", "source_id", "name", "zone"])
