"""The small answers the wall map polls and asks: change tokens, search, place labels, residents
around a point."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class LiveVersions(BaseModel):
    """A short opaque token per live layer; it changes whenever the layer's rows do."""

    incidents: str
    reservoirs: str
    road_closures: str
    alerts: str
    monitoring_stations: str
    readings: str | None = Field(default=None, description="Changes with each batch of gauge readings stored (redraw the open charts of alerting stations).")
    risk: str | None = Field(default=None, description="Changes with each risk zoning kept: computed, or brought up to date by the gauges (redraw the risk tiles).")


class KeyFigures(BaseModel):
    """``GET /map/figures``: the strip of key figures along the wall (null: not computed yet)."""

    alerts: dict[str, int] = Field(description="Unresolved alerts per warning colour (蓝/黄/橙/红).")
    open_incidents: int
    reservoirs_above_flood_limit: int = Field(description="Reservoirs above 汛限水位.")
    residents_in_grave_risk: float | None = Field(description="Residents in 重大 and 较大 risk cells (persons); null until the zoning is computed.")
    shelter_coverage_pct: float | None = Field(description="Residents within reach of an emergency shelter (%); null until coverage is computed.")
    stations: int
    stations_offline: int
    dead_letters_24h: int = Field(description="Readings refused in the last 24 hours (unknown station, not a number, …).")
    time: datetime = Field(description="Server time (ISO 8601, UTC).")


class Live(BaseModel):
    """``GET /map/live``."""

    versions: LiveVersions
    time: datetime = Field(description="Server time (ISO 8601, UTC, seconds).")


class SearchHit(BaseModel):
    """A feature whose name matches, or the typed coordinate itself."""

    layer: str = Field(description="Layer name; empty for a coordinate.")
    id: str = Field(description="Source id; empty for a coordinate.")
    name: str = Field(description="The feature's name, or the coordinate as lon, lat.")
    lon: float = Field(description="Longitude, degrees (WGS 84): a point on the feature.")
    lat: float = Field(description="Latitude, degrees (WGS 84).")
    kind: Literal["feature", "coordinate"]


class SearchResults(BaseModel):
    """``GET /map/search``: exact names first, then prefixes, then the shortest names."""

    query: str
    hits: list[SearchHit]


class Place(BaseModel):
    """The label point of an admin area."""

    name: str
    id: str = Field(description="行政区划代码 (adcode).")
    lon: float = Field(description="Longitude, degrees (WGS 84).")
    lat: float = Field(description="Latitude, degrees (WGS 84).")


class Places(BaseModel):
    """``GET /map/places``."""

    level: Literal["市", "区县", "乡镇街道"]
    places: list[Place]


class ResidentsWithin(BaseModel):
    """Residents (人) whose population cell centre is within each straight-line distance."""

    km_1: float = Field(alias="1", ge=0, description="Within 1 km, persons.")
    km_3: float = Field(alias="3", ge=0, description="Within 3 km, persons.")
    km_5: float = Field(alias="5", ge=0, description="Within 5 km, persons.")


class Situation(BaseModel):
    """``GET /map/situation``."""

    lon: float = Field(description="Longitude, degrees (WGS 84).")
    lat: float = Field(description="Latitude, degrees (WGS 84).")
    residents_within_km: ResidentsWithin
