"""Alerts: the warnings the monitoring rules raised, and their life."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class AlertOut(BaseModel):
    """One alert, at its station."""

    id: str = Field(description="The alert's id (ALT…); its CAP document is /alerts/{id}.cap.")
    station: str = Field(description="The monitoring station's id (站码).")
    rule: Literal["暴雨", "水位", "涨率", "离线"] = Field(description="The rule family: rainfall, water level, rise, a silent station.")
    level: Literal["蓝", "黄", "橙", "红"] = Field(description="Warning colour: 蓝 Ⅳ < 黄 Ⅲ < 橙 Ⅱ < 红 Ⅰ.")
    status: Literal["已发布", "已确认", "已解除"]
    headline: str | None
    value: float | None = Field(description="The value that decided it, in ``unit``.")
    threshold: float | None = Field(description="The threshold it reached, in ``unit``.")
    unit: str | None = Field(description="mm (rain), m (water level, rise) or min (silence).")
    raised_at: datetime = Field(description="ISO 8601, UTC.")
    changed_at: datetime | None = Field(description="When this revision was sent; ISO 8601, UTC.")
    revision: int | None
    clearable: bool | None = Field(description="The value is back below its thresholds: someone may resolve it.")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    lon: float = Field(description="The station's longitude, degrees (WGS 84).")
    lat: float = Field(description="The station's latitude, degrees (WGS 84).")


class Alerts(BaseModel):
    """``GET /alerts``: gravest and newest first, and the count of unresolved alerts per colour."""

    alerts: list[AlertOut]
    active: dict[str, int] = Field(description="Unresolved alerts per colour (蓝/黄/橙/红).")


class Reading(BaseModel):
    time: datetime = Field(description="ISO 8601, UTC.")
    value: float


class StationSeries(BaseModel):
    """``GET /stations/{id}/observations``: a station, its thresholds and its recent readings."""

    station: str
    name: str | None
    kind: Literal["水位", "雨量"]
    unit: str
    thresholds: dict[str, float] = Field(description="The station's own levels (m) by field: flood_limit_level_m, warning_level_m, …")
    hours: float
    readings: list[Reading]


class EvaluationOut(BaseModel):
    """``POST /alerts/evaluate``: what one evaluation of the rules did."""

    at: datetime
    stations: int
    observations: int
    raised: list[str]
    upgraded: list[str]
    clearable: list[str]
    reservoirs_updated: list[str] = Field(default_factory=list, description="Reservoirs whose current_level_m now follows their gauge's latest level.")
    rain_warnings: dict[str, int] = Field(default_factory=dict, description="Rain gauges in a rainstorm warning now: station id → rank (0 蓝 … 3 红); the flood-prone areas near them count more in the risk zoning.")


def xml_document(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A route's 200 answer as an XML document of ``media_type``."""
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}
