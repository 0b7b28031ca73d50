"""Stored scenarios, depot stocks and the brief: what their answers hold."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .documented import Responses
from .geojson import Feature


class ScenarioSummary(BaseModel):
    """A stored scenario's record (a feature's properties in ``GET /scenarios``)."""

    id: str
    kind: str = Field(description="plume, area or dam-break.")
    kind_zh: str
    name: str
    status: str = Field(description="预案 (saved), 生效中 (active: its roads closed) or 已结束.")
    incident_id: str | None
    closure_id: str | None = Field(description="The road_closures row CL-<id> while it is or was active.")
    created_at: str = Field(description="ISO 8601.")
    created_by: str
    ended_at: str | None
    residents: int = Field(description="Persons inside the footprint.")
    displaced: int = Field(description="Persons to move out.")
    parameters: dict[str, Any]


class ScenarioFeature(Feature):
    """A scenario's footprint (MultiPolygon, EPSG:4326; null when it reaches no threshold)."""

    properties: ScenarioSummary | None  # type: ignore[assignment]


class ScenarioList(BaseModel):
    """``GET /scenarios``: footprints, newest first."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="FeatureCollection")
    features: list[ScenarioFeature]
    numberReturned: int


class ZoneImpact(BaseModel):
    model_config = ConfigDict(extra="allow")
    zone: str
    residents: int
    displaced: int


class TownshipImpact(ZoneImpact):
    adcode: str | None
    name: str | None


class Impact(BaseModel):
    residents: int
    displaced: int
    by_zone: list[ZoneImpact]
    by_township: list[TownshipImpact]


class Need(BaseModel):
    item: str
    name_zh: str
    unit: str
    unit_zh: str = Field(description="The unit in Chinese (千克, 升, 包 …).")
    quantity: float


class Shortfall(BaseModel):
    item: str
    unit: str
    needed: float
    available: float
    sent: float
    short: float


class Scenario(ScenarioSummary):
    """``GET /scenarios/{id}``: the zones as GeoJSON features (properties zone, area_km2, part:
    zone; a dam break's arrival bands as part: arrival), with the scenario's record, impact,
    facilities inside, evacuation, needs, deliveries, shortfalls and warnings as members."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="FeatureCollection")
    features: list[Feature]
    impact: Impact
    facilities_inside: list[dict[str, Any]]
    evacuation: dict[str, Any]
    needs: list[Need]
    needs_profile: dict[str, Any]
    deliveries: list[dict[str, Any]]
    shortfalls: list[Shortfall]
    warnings: list[str]


class DepotStock(BaseModel):
    """What one depot holds of one item."""

    depot_id: str
    depot_name: str | None
    item: str = Field(description="The needs profiles' item id (rice, drinking_water, …).")
    name_zh: str
    quantity: float = Field(description="In unit.")
    unit: str
    updated_at: str | None = Field(description="ISO 8601, UTC.")
    updated_by: str | None


class DepotStocks(BaseModel):
    """``GET /depot-stocks``: sorted by depot and item."""

    stocks: list[DepotStock]
    numberReturned: int


class DeletedStock(BaseModel):
    depot_id: str
    item: str
    deleted: bool


def binary(*media_types: str, description: str) -> Responses:
    """A 200 answer that is a file of one of ``media_types``."""
    return {200: {"description": description, "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}}}
