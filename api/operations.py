"""HTTP routes that change the situation on the wall: incidents, their status, reservoir levels and
road closures. Each answers with the stored feature (GeoJSON); open wall maps pick the change up
through ``GET /map/live`` within seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import geopandas as gpd
import shapely.geometry
from fastapi import APIRouter, Depends, Header
from pydantic import Field, field_validator

from layers.catalogue import CLOSURE_CAUSES, INCIDENT_KINDS, INCIDENT_STATUSES, get_layer
from layers.errors import InputError
from layers.io.geojson import features_of
from layers.services.operations import Operations
from layers.store.base import row_version

from .auth import EditorDep
from .dependencies import StrictBody, from_state
from .features import GeoJSONResponse
from .schemas import CREATED_FEATURE, FEATURE

router = APIRouter(tags=["Operations (incidents, reservoir levels, closures)"])


get_operations = from_state("operations", Operations)


OperationsDep = Annotated[Operations, Depends(get_operations)]
Text = Annotated[str, Field(max_length=200)]


class IncidentIn(StrictBody):
    """A new incident: where, what kind, and optionally its name, status, time and description."""

    lon: float = Field(ge=-180, le=180, description="Longitude, degrees (WGS 84).")
    lat: float = Field(ge=-90, le=90, description="Latitude, degrees (WGS 84).")
    kind: Literal[INCIDENT_KINDS] = Field(description="事件类型: " + ", ".join(INCIDENT_KINDS))  # type: ignore[valid-type]
    name: Text | None = None
    status: Literal[INCIDENT_STATUSES] = "已上报"  # type: ignore[valid-type]
    description: Annotated[str, Field(max_length=2000)] | None = None
    occurred_at: datetime | None = Field(default=None, description="When it happened (ISO 8601; without a zone: Beijing time), 1900-2100. Default: now.")

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 1900 <= value.year <= 2100:
            raise ValueError("occurred_at must lie between the years 1900 and 2100")
        return value


class IncidentPatch(StrictBody):
    status: Literal[INCIDENT_STATUSES] | None = None  # type: ignore[valid-type]
    description: Annotated[str, Field(max_length=2000)] | None = None


class LevelIn(StrictBody):
    current_level_m: float = Field(ge=-500, le=9000, description="Current water level, m (same datum as the flood-limit level).")


class ClosureIn(StrictBody):
    geometry: dict[str, object] = Field(description="GeoJSON Polygon or MultiPolygon (EPSG:4326) of the area where roads are cut.")
    cause: Literal[CLOSURE_CAUSES] = "洪水"  # type: ignore[valid-type]
    name: Text | None = None


STALE: dict[int | str, dict[str, object]] = {412: {"description": "If-Match names an older version: someone changed it meanwhile; nothing was written"}}
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200, description="The ETag last read (GET /collections/{layer}/items/{id}); a newer stored version answers 412 and nothing is written.")]


def _feature(layer: str, frame: gpd.GeoDataFrame) -> GeoJSONResponse:
    """The stored feature (editors have clearance), its version in ``ETag``."""
    spec = get_layer(layer)
    return GeoJSONResponse(features_of(spec, frame, restricted=True)[0], headers={"ETag": f'"{row_version(spec, frame)}"'})


@router.post("/incidents", status_code=201, response_class=GeoJSONResponse, responses=CREATED_FEATURE, summary="Place an incident (saved to the incidents layer)")
def create_incident(body: IncidentIn, operations: OperationsDep, principal: EditorDep) -> GeoJSONResponse:
    frame = operations.create_incident(lon=body.lon, lat=body.lat, kind=body.kind, name=body.name, status=body.status, description=body.description, occurred_at=body.occurred_at, actor=principal.username)
    response = _feature("incidents", frame)
    response.status_code = 201
    return response


@router.patch("/incidents/{incident_id}", response_class=GeoJSONResponse, summary="Change an incident's status or description", responses={**FEATURE, **STALE})
def update_incident(incident_id: str, body: IncidentPatch, operations: OperationsDep, principal: EditorDep, if_match: IfMatch = None) -> GeoJSONResponse:
    """Only the fields sent change: two editors changing the status and the description at the
    same moment both land."""
    frame = operations.update_incident(incident_id, status=body.status, description=body.description, actor=principal.username, if_match=if_match)
    return _feature("incidents", frame)


@router.post("/reservoirs/{reservoir_id}/level", response_class=GeoJSONResponse, summary="Record a reservoir's current water level", responses={**FEATURE, **STALE})
def set_level(reservoir_id: str, body: LevelIn, operations: OperationsDep, principal: EditorDep, if_match: IfMatch = None) -> GeoJSONResponse:
    """Sets ``current_level_m``; ``above_flood_limit`` (超汛限) is derived from it and the
    flood-limit level, and the wall map outlines the reservoir in red when it is true."""
    frame = operations.set_reservoir_level(reservoir_id, body.current_level_m, actor=principal.username, if_match=if_match)
    return _feature("reservoirs", frame)


@router.post("/closures", status_code=201, response_class=GeoJSONResponse, responses=CREATED_FEATURE, summary="Close the roads inside a polygon")
def create_closure(body: ClosureIn, operations: OperationsDep, principal: EditorDep) -> GeoJSONResponse:
    try:
        geometry = shapely.geometry.shape(body.geometry)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.GEOSException) as error:
        raise InputError(f"geometry: not a GeoJSON polygon ({error})") from None
    frame = operations.create_closure(geometry, cause=body.cause, name=body.name, actor=principal.username)
    response = _feature("road_closures", frame)
    response.status_code = 201
    return response


@router.post("/closures/{closure_id}/lift", response_class=GeoJSONResponse, summary="Reopen the roads of a closure", responses={**FEATURE, **STALE})
def lift_closure(closure_id: str, operations: OperationsDep, principal: EditorDep, if_match: IfMatch = None) -> GeoJSONResponse:
    frame = operations.lift_closure(closure_id, actor=principal.username, if_match=if_match)
    return _feature("road_closures", frame)
