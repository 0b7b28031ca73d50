"""HTTP routes of early warning: the alerts (filtered by colour and status), acknowledging and
resolving them (editors), running the rules now (editors), and the published forms — a CAP 1.2
document per alert and an Atom feed of the active ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gis.warning.rules import WATER_THRESHOLD_FIELDS
from layers.catalogue import SOURCE_ID, get_layer
from layers.io.cap import FeedEntry, to_atom, to_cap
from layers.io.geojson import json_value
from layers.services.warning import WarningService
from layers.store.base import row_version

from .auth import EditorDep
from .dependencies import from_state
from .features import public_base
from .operations import STALE, IfMatch
from .schemas import documented
from .schemas.alerts import AlertOut, Alerts, EvaluationOut, StationSeries, xml_document

router = APIRouter(tags=["Early warning (alerts, CAP, Atom)"])
editor_router = APIRouter(tags=["Early warning (alerts, CAP, Atom)"])

get_warning = from_state("warning", WarningService)
WarningDep = Annotated[WarningService, Depends(get_warning)]
Level = Literal["蓝", "黄", "橙", "红"]
Status = Literal["已发布", "已确认", "已解除"]
CAP = "application/cap+xml"
ATOM = "application/atom+xml"


def alert_json(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Alerts as the JSON objects of ``AlertOut``."""
    rows = []
    for record, point in zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True):
        row = {name: json_value(value) for name, value in record.items() if name not in ("previous_changed_at",)}
        row["id"], row["station"] = row.pop(SOURCE_ID), row.pop("station_id")
        rows.append({**row, "lon": point.x, "lat": point.y})
    return rows


def sender(request: Request) -> str:
    """The CAP sender: onemap and the city's adcode (no spaces or commas, as CAP asks)."""
    profile = request.app.state.settings.city_profile
    return f"onemap.{profile.adcode if profile else 'city'}"


@router.get("/alerts", summary="Alerts, gravest and newest first", **documented(Alerts, "The alerts and the unresolved count per colour"))
def alerts(warning: WarningDep, level: Annotated[Level | None, Query(description="Only this colour.")] = None,
           status: Annotated[Status | None, Query(description="Only this status.")] = None) -> dict[str, Any]:
    return alerts_body(warning, level=level, status=status)


def readings_body(warning: WarningService, *, hours: float = 24.0) -> dict[str, Any]:
    """The latest reading of each station with an unresolved alert (carried by the event stream's
    ``readings`` changes: a wall redraws the charts it has open for them)."""
    alerts = warning.alerts()
    alerting = sorted({str(s) for s in alerts.loc[alerts["status"] != "已解除", "station_id"]}) if not alerts.empty else []
    if not alerting:
        return {"readings": []}
    until = datetime.now(UTC)
    found = warning.store.read_observations(alerting, until - timedelta(hours=hours), until + timedelta(seconds=1))
    if found.empty:
        return {"readings": []}
    last = found.sort_values("time").groupby("station_id").tail(1)
    return {"readings": [{"station": str(station), "time": pd.Timestamp(time).isoformat(), "value": float(value), "unit": str(unit)}
                         for station, time, value, unit in zip(last["station_id"], last["time"], last["value"], last["unit"], strict=True)]}


def alerts_body(warning: WarningService, *, level: str | None = None, status: str | None = None) -> dict[str, Any]:
    """The body of ``GET /alerts`` (also carried by the event stream's alerts changes)."""
    found = warning.alerts(level=level, status=status)
    active = found if level is None and status is None else warning.alerts()
    active = active[active["status"] != "已解除"] if not active.empty else active
    counts = {colour: int((active["level"] == colour).sum()) if not active.empty else 0 for colour in ("蓝", "黄", "橙", "红")}
    return {"alerts": alert_json(found) if not found.empty else [], "active": counts}


@router.get("/stations/{station_id}/observations", summary="A station's recent readings and thresholds (the popup's chart)", **documented(StationSeries, "The station, its thresholds and readings, oldest first"))
def station_readings(station_id: str, warning: WarningDep, hours: Annotated[float, Query(gt=0, le=24 * 31, description="How far back, hours.")] = 24.0) -> dict[str, Any]:
    station, readings = warning.station_series(station_id, hours=hours)
    thresholds = {name: float(station[name]) for name in WATER_THRESHOLD_FIELDS if name in station and pd.notna(station[name])}
    return {"station": station_id, "name": json_value(station["name"]), "kind": station["kind"], "unit": station["unit"], "thresholds": thresholds, "hours": hours,
            "readings": [{"time": time.isoformat(), "value": float(value)} for time, value in zip(readings["time"], readings["value"], strict=True)]}


@router.get("/alerts.atom", summary="The active alerts as an Atom feed", response_class=Response, responses=xml_document(ATOM, "Atom 1.0, newest first, each entry linking to its CAP document"))
def alerts_feed(request: Request, warning: WarningDep) -> Response:
    found = warning.alerts()
    found = found[found["status"] != "已解除"] if not found.empty else found
    base, who = public_base(request), sender(request)
    entries = [FeedEntry(message, f"{base}/alerts/{message.alert_id}.cap") for message in warning.cap_messages(found, sender=who)]
    body = to_atom(entries, feed_id=f"urn:{who}:alerts", title="预警信息 active alerts", self_url=f"{base}/alerts.atom", updated=datetime.now(UTC))
    return Response(body, media_type=ATOM)


@router.get("/alerts/{alert_id}.cap", summary="An alert's current CAP 1.2 message", response_class=Response, responses=xml_document(CAP, "OASIS CAP 1.2: Alert, Update or Cancel as its life goes on"))
def alert_cap(alert_id: str, request: Request, warning: WarningDep) -> Response:
    message = warning.cap_message(alert_id, sender=sender(request), web=f"{public_base(request)}/map")
    return Response(to_cap(message), media_type=CAP)


STEPPED: dict[int | str, dict[str, Any]] = {**STALE, 409: {"description": "The alert has taken this step already (acknowledged, resolved): nothing was written"}}


def stepped(frame: gpd.GeoDataFrame, response: Response) -> dict[str, Any]:
    """An alert after a step of its life, as ``AlertOut``; its new version goes in ``ETag`` (the
    If-Match of the next step)."""
    response.headers["ETag"] = f'"{row_version(get_layer("alerts"), frame)}"'
    return alert_json(frame)[0]


@editor_router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (已发布 → 已确认)", **documented(AlertOut, "The alert, acknowledged; its new version in ETag", also=STEPPED))
def acknowledge(alert_id: str, response: Response, warning: WarningDep, principal: EditorDep, if_match: IfMatch = None) -> dict[str, Any]:
    """With ``If-Match`` (the alert's ETag, from GET /collections/alerts/items/{id} or the last
    step), a change made meanwhile (an upgrade by the rules, someone's step) answers 412."""
    return stepped(warning.acknowledge(alert_id, actor=principal.username, if_match=if_match), response)


@editor_router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert (→ 已解除)", **documented(AlertOut, "The alert, resolved; its new version in ETag", also=STEPPED))
def resolve(alert_id: str, response: Response, warning: WarningDep, principal: EditorDep, if_match: IfMatch = None) -> dict[str, Any]:
    """With ``If-Match`` (the alert's ETag), a change made meanwhile answers 412."""
    return stepped(warning.resolve(alert_id, actor=principal.username, if_match=if_match), response)


@editor_router.post("/alerts/evaluate", summary="Judge every station against the warning rules now", **documented(EvaluationOut, "What the evaluation raised, upgraded and marked clearable"))
def evaluate(request: Request, warning: WarningDep, principal: EditorDep) -> dict[str, Any]:
    done = warning.evaluate(actor=principal.username)
    request.app.state.warning_loop.poke()  # the risk picture follows in the loop's thread, never here
    return {"at": done.at.isoformat(), "stations": done.stations, "observations": done.observations, "raised": done.raised, "upgraded": done.upgraded,
            "clearable": done.clearable, "reservoirs_updated": done.reservoirs_updated, "rain_warnings": done.rain_warnings}
