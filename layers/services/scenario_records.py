"""Stored scenarios: a scenario's outcome saved with its parameters, linked to an incident, and its
life — 预案 (saved, a what-if) → 生效中 (active) → 已结束 (ended).

While a scenario is active the roads inside its footprint are closed: a ``road_closures`` row
(``CL-<scenario id>``, the footprint within the city's region) is written in the same transaction
as the scenario, so routing, coverage "now", shared links and the wall map avoid those roads with
no change of their own; ending the scenario lifts it in the same transaction as the status.
Geometries are EPSG:4326.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.boundary import polygonal_part
from layers.accounts.tables import AuditLine
from layers.errors import InputError, NotFoundError
from layers.services.operations import Operations, new_source_id, now_beijing
from layers.services.scenarios import ScenarioOutcome
from layers.settings import Settings
from layers.store import Store
from layers.store.scenario_rows import SCENARIO_STATUSES, ScenarioRecord

PLANNED, ACTIVE, ENDED = SCENARIO_STATUSES
SCENARIO_KINDS_ZH = {"plume": "危化品泄漏", "area": "灾害范围", "dam-break": "溃坝"}
CLOSURE_CAUSES_BY_KIND = {"plume": "事故", "area": "洪水", "dam-break": "洪水"}
_STATUS_CHANGES = threading.Lock()
"""Held while a scenario's status is read, checked and written (activate, end): without it an
activate and an end at the same moment both read 预案 and both wrote, so the end was lost or an
ended scenario kept its closure in force. It serialises the changes of one process (the
server); across processes (the CLI beside the server) the store's conditional write
(``expected_status``) refuses the second change."""
CLOSURE_SIMPLIFY_DEG = 2e-5
"""Tolerance (degrees, ≈ 2 m) by which a footprint is simplified into its closure polygon: a
dam break's raster outline has a vertex every cell, which routing need not test one by one."""


def save_outcome(store: Store, settings: Settings, outcome: ScenarioOutcome, *, name: str | None, incident_id: str | None, active: bool, actor: str) -> tuple[ScenarioOutcome, ScenarioRecord]:
    """Store ``outcome`` under a new id (``SC…``), as 生效中 with its roads closed when
    ``active``, else as 预案; returns the outcome with its id and the stored record."""
    if incident_id is not None:
        try:
            store.get("incidents", incident_id)
        except NotFoundError:
            raise InputError(f"incident_id: there is no incident {incident_id!r}") from None
    scenario_id = new_source_id("SC")
    stored = dataclasses.replace(outcome, stored_id=scenario_id)
    footprint = _footprint(outcome.zones)
    record = ScenarioRecord(
        id=scenario_id, kind=outcome.kind, name=name or _default_name(outcome), status=PLANNED, incident_id=incident_id, closure_id=None,
        created_at=now_beijing(), created_by=actor, ended_at=None, parameters=outcome.parameters, result=stored.to_json(),
        footprint=footprint, residents=round(outcome.impact.total_residents), displaced=round(outcome.impact.total_displaced),
    )
    batches: dict[str, gpd.GeoDataFrame] = {}
    if active:
        record, batches = _activated(store, settings, record)
    detail = {"kind": record.kind, "status": record.status, "incident_id": incident_id, "closure_id": record.closure_id}
    store.save_scenario(record, batches=batches, audit=AuditLine(actor, "create", "scenarios", after=[scenario_id], detail=detail))
    return stored, record


def activate_scenario(store: Store, settings: Settings, scenario_id: str, *, actor: str) -> ScenarioRecord:
    """Make a 预案 scenario active: its roads close (``CL-<id>``)."""
    with _STATUS_CHANGES:
        record = store.get_scenario(scenario_id)
        if record.status != PLANNED:
            raise InputError(f"scenario {scenario_id} is {record.status}: only a 预案 (saved) scenario can be made active")
        record, batches = _activated(store, settings, record)
        store.save_scenario(record, batches=batches, audit=AuditLine(actor, "activate", "scenarios", before=[scenario_id], after=[scenario_id], detail={"closure_id": record.closure_id}),
                            expected_status=PLANNED)
    return record


def end_scenario(store: Store, settings: Settings, scenario_id: str, *, actor: str) -> ScenarioRecord:
    """End a scenario (预案 or 生效中): its closure, if still in force, is lifted with it."""
    with _STATUS_CHANGES:
        record = store.get_scenario(scenario_id)
        if record.status == ENDED:
            raise InputError(f"scenario {scenario_id} already ended at {record.ended_at:%Y-%m-%d %H:%M}")
        batches: dict[str, gpd.GeoDataFrame] = {}
        if record.closure_id is not None:
            lifted = Operations(store, settings).lifted_closure_frame(record.closure_id)
            if lifted is not None:
                batches["road_closures"] = lifted
        ended = dataclasses.replace(record, status=ENDED, ended_at=now_beijing())
        store.save_scenario(ended, batches=batches, audit=AuditLine(actor, "end", "scenarios", before=[scenario_id], after=[scenario_id], detail={"closure_id": record.closure_id}),
                            expected_status=record.status)
    return ended


def _activated(store: Store, settings: Settings, record: ScenarioRecord) -> tuple[ScenarioRecord, dict[str, gpd.GeoDataFrame]]:
    """The record made active and the closure of its footprint's roads within the region (none
    when the footprint has no area inside it)."""
    simplified = _polygonal(shapely.simplify(record.footprint, CLOSURE_SIMPLIFY_DEG, preserve_topology=True))
    if simplified.is_empty or shapely.intersection(simplified, settings.region_geometry()).area == 0:
        return dataclasses.replace(record, status=ACTIVE), {}
    try:
        closure_id, frame = Operations(store, settings).closure_frame(
            simplified, cause=CLOSURE_CAUSES_BY_KIND.get(record.kind, "其他"), name=f"情景封闭 {record.name}"[:200], source_id=f"CL-{record.id}", clip_to_region=True)
    except InputError as error:  # e.g. a footprint of most of the city: no closure is that big
        raise InputError(f"scenario {record.name!r} cannot be made active, its roads cannot close: {error}; save it as a 预案 (active: false) "
                         "and close the roads that must close with POST /closures") from None
    return dataclasses.replace(record, status=ACTIVE, closure_id=closure_id), {"road_closures": frame}


def _footprint(zones: gpd.GeoDataFrame) -> BaseGeometry:
    """Everything the zones cover (EPSG:4326), as one (multi)polygon; empty when no zone has an area."""
    live = [g for g in zones.geometry if g is not None and not g.is_empty]
    return _polygonal(shapely.union_all(live)) if live else shapely.MultiPolygon()


def _polygonal(geometry: BaseGeometry) -> shapely.MultiPolygon:
    """The polygons of ``geometry``, made valid, as a MultiPolygon (lines and points dropped; empty when none)."""
    return polygonal_part(shapely.make_valid(geometry)) or shapely.MultiPolygon()


def _default_name(outcome: ScenarioOutcome) -> str:
    where = outcome.parameters.get("name") or outcome.parameters.get("source") or ""
    return f"{SCENARIO_KINDS_ZH.get(outcome.kind, outcome.kind)}情景 {where} {now_beijing():%m-%d %H:%M}".replace("  ", " ")


def scenario_geojson(record: ScenarioRecord) -> dict[str, Any]:
    """A stored scenario as a GeoJSON FeatureCollection: one feature per zone (zone, area_km2;
    most severe first), and the scenario itself as foreign members (RFC 7946 §6.1): id, kind,
    name, status, incident_id, closure_id, times, parameters, impact, needs, shortfalls, …"""
    result = dict(record.result or {})
    zones = result.pop("zones", [])
    bands = result.pop("arrival_bands", [])
    features = [{"type": "Feature", "id": f"{record.id}-zone-{n}", "properties": {"zone": z["zone"], "area_km2": z["area_km2"], "part": "zone"}, "geometry": z["geometry"]}
                for n, z in enumerate(zones, start=1)]
    features += [{"type": "Feature", "id": f"{record.id}-band-{n}", "properties": {"band": b["band"], "area_km2": b["area_km2"], "part": "arrival"}, "geometry": b["geometry"]}
                 for n, b in enumerate(bands, start=1)]
    return {"type": "FeatureCollection", "features": features, **_summary(record), **{k: v for k, v in result.items() if k not in ("id", "kind", "parameters")}}


def scenarios_geojson(records: list[ScenarioRecord]) -> dict[str, Any]:
    """Stored scenarios (listed without their results) as a FeatureCollection of footprints."""
    features = [{"type": "Feature", "id": r.id, "properties": _summary(r), "geometry": shapely.geometry.mapping(r.footprint) if not r.footprint.is_empty else None}
                for r in records]
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}


def _summary(record: ScenarioRecord) -> dict[str, Any]:
    return {
        "id": record.id, "kind": record.kind, "kind_zh": SCENARIO_KINDS_ZH.get(record.kind, record.kind), "name": record.name, "status": record.status,
        "incident_id": record.incident_id, "closure_id": record.closure_id, "created_at": record.created_at.isoformat(), "created_by": record.created_by,
        "ended_at": record.ended_at.isoformat() if record.ended_at else None, "residents": record.residents, "displaced": record.displaced,
        "parameters": record.parameters,
    }

