"""HTTP routes for stored scenarios: make one (a chemical plume, a drawn hazard area, a dam
break), read it back as GeoJSON with its parameters, impact, needs and shortfalls, list them, and
make one active (its roads close) or end it.

A scenario is computed on the background job thread (``api/jobs.py``), never in the request: a
plume or an area is usually done within the short wait and answers 201 at once; a dam break
answers 202 with the step, and sending the same body again collects it (201) once it is done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Query, Request
from pydantic import ConfigDict, Field
from pydantic_core import PydanticSerializationError

from layers.errors import InputError
from layers.io.hazard_area import drawn_area_zones
from layers.io.needs_profile import shipped_needs_profile
from layers.services.scenario_records import (
    SCENARIO_STATUSES,
    activate_scenario,
    end_scenario,
    save_outcome,
    scenario_geojson,
    scenarios_geojson,
)
from layers.services.scenarios import ScenarioOutcome, area_scenario, plume_scenario
from layers.settings import Settings
from layers.store import Store
from layers.store.selection import check_bbox

from .auth import EditorDep
from .dependencies import StrictBody
from .features import GeoJSONResponse
from .jobs import ACCEPTED
from .schemas import Scenario, ScenarioFeature, ScenarioList

router = APIRouter(prefix="/scenarios", tags=["Scenarios (footprint, impact, needs)"])
editor_router = APIRouter(prefix="/scenarios", tags=["Scenarios (footprint, impact, needs)"])

QUICK_WAIT_S = 3.0
"""How long (s) a request waits for its scenario before answering 202: a plume or an area on a
city's data takes well under this."""
Text = Annotated[str, Field(max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
REACH_KM = 100.0
"""How far (km) from the city's region a release point or a drawn area may lie: a plume reaches
at most 100 km, and beyond that the city's work CRS (a 3° Gauss-Krüger zone) no longer measures
lengths and areas truly, and nothing there is in the store."""


class ScenarioIn(StrictBody):
    """What every scenario takes besides its hazard. Strict: a number is a JSON number (``true``
    or ``"116.5"`` is refused, not read as 1.0 or 116.5), a flag is ``true``/``false``."""

    model_config = ConfigDict(strict=True)

    name: Text | None = Field(default=None, description="名称 (default: the kind, place and time).")
    incident_id: Id | None = Field(default=None, description="The incident this scenario belongs to (its brief includes it).")
    active: bool = Field(default=False, description="true: 生效中 at once — the roads inside the footprint close until it ends; false: saved as a 预案 (what-if).")
    profile: Literal["inasafe", "china"] = Field(default="inasafe", description="Minimum-needs profile: InaSAFE's defaults or the Chinese relief norms found.")
    days: float | None = Field(default=None, gt=0, le=365, description="Days of needs (default: the profile's).")


class PlumeIn(ScenarioIn):
    """A continuous chemical release as a Gaussian plume."""

    kind: Literal["plume"]
    lon: float = Field(ge=-180, le=180, description="Release point longitude, degrees (WGS 84).")
    lat: float = Field(ge=-90, le=90, description="Release point latitude, degrees (WGS 84).")
    wind_from_deg: float = Field(ge=0, le=360, description="Direction the wind blows FROM, degrees clockwise from north.")
    wind_speed_ms: float = Field(le=100, description="Wind speed at the release height, m/s (≥ 0.5).")
    stability: Annotated[str, Field(max_length=1)] = Field(description="Pasquill–Gifford stability class A … F.")
    # Bounded so that the concentrations stay finite: 1e308 g/s or a threshold of 5e-324 mg/m³
    # overflowed to infinity and came back as zones of no area.
    release_g_s: float = Field(le=1e9, description="Release rate, g/s (> 0; at most 1e9, a thousand tonnes a second).")
    thresholds_mg_m3: Annotated[list[Annotated[float, Field(ge=1e-6, le=1e6)]], Field(min_length=1, max_length=3)] = Field(
        description="Concentrations bounding the zones, mg/m³ (1e-6 … 1e6), most severe first (AEGL-3, -2, -1).")
    duration_min: float | None = Field(default=None, gt=0, le=10_000, description="How long the release lasts, minutes (default: it goes on).")
    release_height_m: float = Field(default=0.0, ge=0, le=500, description="Release height above ground, m.")


class AreaIn(ScenarioIn):
    """A drawn or imported hazard area: GeoJSON polygons (EPSG:4326) with a zone per feature."""

    kind: Literal["area"]
    geometry: dict[str, Any] = Field(description="A GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection (EPSG:4326); features may carry a zone (depth class).")
    zone_field: Text | None = Field(default=None, description="The property that classes the features (default: zone, depth_class, 水深等级, 水深, 等级 or 分区).")
    order: Annotated[list[Text], Field(max_length=20)] | None = Field(default=None, description="The zone values, most severe first.")
    displaced_rate: float = Field(default=1.0, ge=0, le=1, description="Share of the residents of every zone who are displaced.")


class DamBreakIn(ScenarioIn):
    """The dam of a stored reservoir breaks; the flood is read from the configured DEM (ONEMAP_DEM)."""

    kind: Literal["dam-break"]
    reservoir_id: Id
    level_m: float | None = Field(default=None, ge=-500, le=9000, description="Water level at the break, m in the DEM's datum (default: the stored level).")
    cell_m: float = Field(default=30.0, ge=10, le=200, description="DEM cell size the flood is computed on, m.")
    reach_km: float = Field(default=40.0, gt=0, le=100, description="How far downstream the flood is followed, km.")


ScenarioBody = Annotated[PlumeIn | AreaIn | DamBreakIn, Field(discriminator="kind")]


def _created(record_json: dict[str, Any]) -> GeoJSONResponse:
    return GeoJSONResponse(record_json, status_code=201, headers={"Location": f"/scenarios/{record_json['id']}"})


@editor_router.post("", status_code=201, response_class=GeoJSONResponse, summary="Make and store a scenario (plume, area or dam break)",
                    responses={201: {"model": Scenario, "description": "The stored scenario, as GET /scenarios/{id}"}, **ACCEPTED})
def create_scenario(body: ScenarioBody, request: Request, principal: EditorDep) -> GeoJSONResponse:
    """The footprint, the residents and displaced per township and zone, the facilities inside,
    the evacuation to usable shelters, the needs and what the stored depot stocks can send. With
    ``active`` the roads inside close at once. 201 with the stored scenario (as ``GET
    /scenarios/{id}``); 202 while it is being computed — send the same body again."""
    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings
    try:
        dumped = body.model_dump_json()
    except PydanticSerializationError:  # a lone surrogate (\ud800) in the free-form GeoJSON: typed fields refuse it themselves
        raise InputError("geometry: text must be valid Unicode (a lone surrogate such as \\ud800 is not)") from None
    key = ("scenario", principal.username, hashlib.sha256(dumped.encode()).hexdigest())
    # Checked here, in the request: a wrong body is refused at once and never occupies the job thread.
    if isinstance(body, PlumeIn):
        _check_near_city(settings, (body.lon, body.lat, body.lon, body.lat), what=f"the release point ({body.lon:g}, {body.lat:g})")
    area = _area_zones(body, settings) if isinstance(body, AreaIn) else None

    def compute(progress: Any) -> dict[str, Any]:
        progress("情景计算 computing the footprint and impact")
        outcome = _outcome(store, settings, body, area)
        progress("保存 storing")
        _, record = save_outcome(store, settings, outcome, name=body.name, incident_id=body.incident_id, active=body.active, actor=principal.username)
        return scenario_geojson(record)

    label = f"情景 scenario ({body.kind})"
    return _created(request.app.state.jobs.result(key, label, compute, wait_s=QUICK_WAIT_S, once=True))


def _outcome(store: Store, settings: Settings, body: PlumeIn | AreaIn | DamBreakIn, area: tuple[gpd.GeoDataFrame, list[str]] | None) -> ScenarioOutcome:
    profile = shipped_needs_profile(body.profile)
    if isinstance(body, PlumeIn):
        return plume_scenario(store, settings, lon=body.lon, lat=body.lat, wind_from_deg=body.wind_from_deg, wind_speed_ms=body.wind_speed_ms,
                              stability=body.stability, release_g_s=body.release_g_s, thresholds_mg_m3=body.thresholds_mg_m3,
                              duration_min=body.duration_min, release_height_m=body.release_height_m, profile=profile, days=body.days)
    if isinstance(body, AreaIn):
        assert area is not None
        zones, repairs = area
        outcome = area_scenario(store, settings, zones, source="geometry", profile=profile, days=body.days, displacement=body.displaced_rate)
        return dataclasses.replace(outcome, warnings=[*repairs, *outcome.warnings]) if repairs else outcome
    from pathlib import Path

    from layers.services.dam_break_scenario import dam_break_scenario

    if settings.dem is None:
        raise InputError("no DEM is configured for dam breaks: set ONEMAP_DEM to a GeoTIFF (onemap sample --dem var/sample-dem.tif writes the sample city's)")
    try:
        return dam_break_scenario(store, settings, reservoir_id=body.reservoir_id, dem_path=Path(settings.dem), cell_m=body.cell_m, level_m=body.level_m,
                                  reach_km=body.reach_km, profile=profile, days=body.days)
    except InputError as error:  # the server's file system is the operator's: say ONEMAP_DEM, not where it points
        raise InputError(str(error).replace(str(settings.dem), "ONEMAP_DEM")) from None


def _check_near_city(settings: Settings, bounds: tuple[float, float, float, float], *, what: str) -> None:
    """``InputError`` when the lon/lat ``bounds`` reach more than REACH_KM beyond the region's box."""
    west, south, east, north = settings.region_geometry().bounds
    lat_margin = REACH_KM / 110.57
    lon_margin = REACH_KM / (111.32 * math.cos(math.radians(min(89.0, max(abs(south), abs(north)) + lat_margin))))
    if not (west - lon_margin <= bounds[0] and bounds[2] <= east + lon_margin and south - lat_margin <= bounds[1] and bounds[3] <= north + lat_margin):
        raise InputError(f"{what} lies more than {REACH_KM:g} km from the city's region ({settings.region_label()}): nothing there is in the store and "
                         f"the city's work CRS (EPSG:{settings.work_epsg}) cannot measure it; check that longitude and latitude are not swapped or zero")


def _area_zones(body: AreaIn, settings: Settings) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The drawn area as zones (``layers.io.hazard_area.drawn_area_zones``: each feature checked,
    invalid polygons repaired), refused when it lies far from the city."""
    zones, repairs = drawn_area_zones(body.geometry, zone_field=body.zone_field, order=body.order)
    _check_near_city(settings, tuple(float(v) for v in zones.total_bounds), what="the area")  # type: ignore[arg-type]
    return zones, repairs


@router.get("", response_class=GeoJSONResponse, summary="Stored scenarios, newest first (footprints, without their results)",
            responses={200: {"model": ScenarioList, "description": "Footprints (GeoJSON) with each scenario's record"}})
def list_scenarios(
    request: Request,
    status: Annotated[Literal[SCENARIO_STATUSES] | None, Query(description="预案, 生效中 or 已结束.")] = None,  # type: ignore[valid-type]
    incident_id: Annotated[str | None, Query(max_length=100)] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat: footprints that touch it.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> GeoJSONResponse:
    store: Store = request.app.state.store
    box = None
    if bbox is not None:
        try:
            box = check_bbox(tuple(float(v) for v in bbox.split(",")))  # type: ignore[arg-type]
        except ValueError:
            raise InputError("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
    return GeoJSONResponse(scenarios_geojson(store.list_scenarios(status=status, incident_id=incident_id, bbox=box, limit=limit)))


@router.get("/{scenario_id}", response_class=GeoJSONResponse, summary="A stored scenario: its zones as GeoJSON, with parameters, impact, needs and shortfalls",
            responses={200: {"model": Scenario, "description": "The zones (GeoJSON) and the scenario"}})
def get_scenario(scenario_id: Annotated[str, Field(max_length=100)], request: Request) -> GeoJSONResponse:
    store: Store = request.app.state.store
    return GeoJSONResponse(scenario_geojson(store.get_scenario(scenario_id)))


@editor_router.post("/{scenario_id}/activate", response_class=GeoJSONResponse, summary="Make a saved scenario active: the roads inside its footprint close",
                    responses={200: {"model": ScenarioFeature, "description": "The scenario's footprint and record"}})
def activate(scenario_id: str, request: Request, principal: EditorDep) -> GeoJSONResponse:
    record = activate_scenario(request.app.state.store, request.app.state.settings, scenario_id, actor=principal.username)
    request.app.state.version_watch.nudge()
    return GeoJSONResponse(scenarios_geojson([record])["features"][0])


@editor_router.post("/{scenario_id}/end", response_class=GeoJSONResponse, summary="End a scenario: its road closure is lifted",
                    responses={200: {"model": ScenarioFeature, "description": "The scenario's footprint and record"}})
def end(scenario_id: str, request: Request, principal: EditorDep) -> GeoJSONResponse:
    record = end_scenario(request.app.state.store, request.app.state.settings, scenario_id, actor=principal.username)
    request.app.state.version_watch.nudge()
    return GeoJSONResponse(scenarios_geojson([record])["features"][0])

