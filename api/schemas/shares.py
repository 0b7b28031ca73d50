"""Share links: their records, the snapshot a link opens and its route for the field team."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .geojson import FeatureCollection


class ShareSummary(BaseModel):
    """A share link's record, without its token."""

    id: str
    title: str
    created_by: str = Field(description="User name of the editor who made it.")
    created_at: datetime = Field(description="ISO 8601, UTC.")
    expires_at: datetime = Field(description="ISO 8601, UTC.")
    revoked_at: datetime | None = Field(description="ISO 8601, UTC; null while not revoked.")
    scope: list[str] = Field(description="Layers the link shows.")
    state: Literal["active", "expired", "revoked"]


class Shares(BaseModel):
    """``GET /shares``: newest first."""

    shares: list[ShareSummary]


class CreatedShare(ShareSummary):
    """``POST /shares``: the record, the short URL and its token (shown this once only)."""

    url: str = Field(description="Path of the link: /s/{token}.")
    link: str | None = Field(default=None, description="Absolute link on ONEMAP_PUBLIC_URL; absent when that is not set.")
    token: str


class LonLat(BaseModel):
    lon: float = Field(description="Longitude, degrees (WGS 84).")
    lat: float = Field(description="Latitude, degrees (WGS 84).")


class ShareView(LonLat):
    zoom: int = Field(description="Initial XYZ zoom of the phone map.")


class SharedIncident(LonLat):
    """The public summary of the incident shared."""

    id: str
    name: str | None
    kind: str = Field(description="事件类型.")
    status: str = Field(description="事件状态.")
    occurred_at: str | None = Field(description="ISO 8601 (Beijing time when stored without a zone).")


class NearestPlace(LonLat):
    """The nearest reachable resource of a kind, by road."""

    id: str = Field(description="Source id of the resource.")
    name: str | None
    minutes: float = Field(description="Driving time, minutes (0.1).")
    km: float = Field(description="Road distance, km (0.01).")


class SharedNearest(BaseModel):
    """Each kind is absent when none is reachable."""

    shelter: NearestPlace | None = Field(default=None, description="避难场所.")
    depot: NearestPlace | None = Field(default=None, description="物资储备库.")
    rescue: NearestPlace | None = Field(default=None, description="救援力量.")


class StoredClosure(BaseModel):
    source_id: str
    name: str | None


class ClosuresUsed(BaseModel):
    """The closures the routes went around."""

    stored: Literal["applied", "ignored"] = Field(description="Whether the road closures in force were applied.")
    stored_closures: list[StoredClosure]
    what_if_polygons: int = Field(ge=0, description="What-if closure polygons added by the caller.")
    closed_edges: list[str] = Field(description="Source ids of roads closed by the caller.")


class ShareSnapshot(BaseModel):
    """``GET /s/{token}/data``: what the link shows, computed when it was made (GeoJSON in EPSG:4326)."""

    title: str
    incident: SharedIncident | None = Field(description="null when a point, not an incident, was shared.")
    point: LonLat = Field(description="The place shared.")
    view: ShareView
    extent: list[float] = Field(min_length=4, max_length=4, description="[west, south, east, north], degrees: the link's area (10 km around the point).")
    routes: FeatureCollection = Field(description="Routes from the nearest rescue stations, supply depots and shelters (k of each).")
    closures_used: ClosuresUsed
    nearest: SharedNearest
    closures: FeatureCollection = Field(description="Road closures in force around the point.")
    layers: dict[str, FeatureCollection] = Field(description="Features of each layer in scope within 5 km, by layer name (restricted fields never).")
    titles: dict[str, str] = Field(description="中文 title of each layer, by layer name.")
    service_areas: FeatureCollection | None = Field(default=None, description="5, 10 and 15 min driving areas; absent when the link was made without them.")
    expires_at: datetime = Field(description="ISO 8601, UTC.")


class ShareRouteProperties(BaseModel):
    travel_time_min: float | None = Field(description="Driving time, minutes; null when unreachable.")
    distance_km: float | None = Field(description="Road distance, km; null when unreachable.")
    reachable: bool


class ShareRouteFeature(BaseModel):
    type: Literal["Feature"]
    geometry: dict[str, Any] | None = Field(description="GeoJSON LineString (EPSG:4326); null when unreachable.")
    properties: ShareRouteProperties


class ShareRouteClosures(BaseModel):
    stored_closure_count: int = Field(ge=0, description="Road closures in force that the route went around.")


class ShareRoute(BaseModel):
    """``GET /s/{token}/route``: a GeoJSON FeatureCollection of one route, by road, from the
    caller to the link's incident (ids and names stay with the command centre)."""

    type: Literal["FeatureCollection"]
    features: list[ShareRouteFeature]
    closures: ShareRouteClosures


class SharedAlert(BaseModel):
    """A warning in force near a link's point (what its CAP message publishes anyway)."""

    id: str
    level: str = Field(description="蓝/黄/橙/红.")
    status: str = Field(description="已发布 or 已确认.")
    headline: str
    raised_at: datetime | None
    changed_at: datetime | None


class ShareSituation(BaseModel):
    """What changed round the point since the snapshot."""

    incident: SharedIncident | None = Field(description="The incident as it is now (status 已删除 when it is gone); null for a point.")
    alerts: list[SharedAlert] = Field(description="Warnings in force within 5 km, newest first.")
    closures: FeatureCollection = Field(description="Road closures in force within 5 km now.")


class ShareVersions(BaseModel):
    situation: str = Field(description="Changes whenever the situation does.")


class ShareLive(BaseModel):
    """``GET /s/{token}/live``: the link's live situation and its version (polled by the phone page
    when the event stream is not to be had)."""

    versions: ShareVersions
    situation: ShareSituation
