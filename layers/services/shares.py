"""The snapshot a share link carries: an incident (or a point), the routes of the nearest resources
to it, the service areas, the nearest shelter and supply depot, the active closures and the
features of the scoped layers around it — and nothing else: restricted fields never, layers
outside the scope never. Computed once when the link is made; small enough for a slow phone link.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from cachetools import LRUCache

from gis.nearby import box_around
from layers.catalogue import CATALOGUE, CLOSURE_IN_FORCE, SOURCE_ID, get_layer
from layers.errors import InputError, NotFoundError
from layers.io.geojson import collection, feature_collection, features_of
from layers.services.routing import RoutingService
from layers.store.base import Store

SHAREABLE_LAYERS = tuple(name for name, spec in CATALOGUE.items() if spec.group in ("hazard", "resource", "operations"))
"""Layers a link may carry (the base layers — roads, population, boundaries — are not shared)."""
DEFAULT_SCOPE = ("shelters", "supply_depots", "rescue_stations")
RADIUS_KM = 5.0
MAX_FEATURES_PER_LAYER = 300



@dataclass(frozen=True)
class ShareRequest:
    """What an editor asks to share."""

    lon: float
    lat: float
    title: str
    incident: dict[str, Any] | None
    layers: tuple[str, ...] = DEFAULT_SCOPE
    k: int = 3
    zoom: int = 14
    service_areas: bool = True


def check_scope(layers: Sequence[str]) -> tuple[str, ...]:
    """The scope's layers, each shareable; an error names any that is not."""
    unknown = [name for name in layers if name not in SHAREABLE_LAYERS]
    if unknown:
        raise InputError(f"cannot share layer(s) {unknown}; shareable: {', '.join(SHAREABLE_LAYERS)}")
    return tuple(dict.fromkeys(layers))


def build_snapshot(request: ShareRequest, *, store: Store, routing: RoutingService) -> dict[str, Any]:
    """The snapshot of ``request`` (EPSG:4326 GeoJSON throughout); layer rows without their
    restricted fields, which links never carry."""
    layers = check_scope(request.layers)
    closures = store.read("road_closures", filters={"status": CLOSURE_IN_FORCE})
    used = routing.closures()
    nearest = routing.nearest(request.lon, request.lat, ["rescue_stations", "supply_depots", "shelters"], k=request.k, closures=used)
    best: dict[str, Any] = {}
    for layer, key in (("shelters", "shelter"), ("supply_depots", "depot"), ("rescue_stations", "rescue")):
        rows = nearest.loc[(nearest["layer"] == layer) & nearest["reachable"]]
        if not rows.empty:
            row = rows.iloc[0]
            start = shapely.get_coordinates(row.geometry)[0]
            best[key] = {"id": row["resource_id"], "name": row["name"], "lon": float(start[0]), "lat": float(start[1]),
                         "minutes": round(float(row["travel_time_min"]), 1), "km": round(float(row["distance_km"]), 2)}
    box = box_around(request.lon, request.lat, RADIUS_KM)
    scoped = {}
    for name in layers:
        frame = store.read(name, bbox=box, limit=MAX_FEATURES_PER_LAYER, filters={"status": CLOSURE_IN_FORCE} if name == "road_closures" else None)
        scoped[name] = collection(features_of(get_layer(name), frame))
    snapshot: dict[str, Any] = {
        "title": request.title,
        "incident": request.incident,
        "point": {"lon": request.lon, "lat": request.lat},
        "view": {"lon": request.lon, "lat": request.lat, "zoom": request.zoom},
        "extent": list(box_around(request.lon, request.lat, RADIUS_KM * 2)),
        "routes": feature_collection(nearest),
        "closures_used": used.describe(),
        "nearest": best,
        "closures": collection(features_of(get_layer("road_closures"), closures.cx[box[0]:box[2], box[1]:box[3]] if not closures.empty else closures)),
        "layers": scoped,
        "titles": {name: get_layer(name).title_zh for name in (*layers, "rescue_stations", "supply_depots", "shelters")},
    }
    if request.service_areas:
        snapshot["service_areas"] = feature_collection(routing.areas(request.lon, request.lat, minutes=(5, 10, 15), closures=used))
    return snapshot


def incident_point(store: Store, incident_id: str) -> tuple[float, float, dict[str, Any]]:
    """(lon, lat, a public summary) of a stored incident."""
    frame = store.get("incidents", incident_id)
    point = frame.geometry.iloc[0]
    row = frame.iloc[0]
    summary = {"id": row[SOURCE_ID], "name": row["name"], "kind": row["kind"], "status": row["status"],
               "occurred_at": row["occurred_at"].isoformat() if hasattr(row["occurred_at"], "isoformat") else None, "lon": point.x, "lat": point.y}
    return point.x, point.y, summary


SITUATION_LAYERS = ("incidents", "alerts", "road_closures")
"""The layers a link's live situation reads: it changes only when one of them does."""


def share_situation(store: Store, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What has changed round a link's point since its snapshot (EPSG:4326): its incident's status
    now, the warnings in force within ``RADIUS_KM`` (level, headline, status, times — the text a
    CAP message publishes anyway) and the road closures in force there. Nothing of other layers."""
    point = snapshot["point"]
    box = box_around(float(point["lon"]), float(point["lat"]), RADIUS_KM)
    incident = snapshot.get("incident")
    if incident and incident.get("id"):
        try:
            incident = incident_point(store, str(incident["id"]))[2]
        except NotFoundError:
            incident = {**incident, "status": "已删除"}
    alerts = store.read("alerts", bbox=box)
    alerts = alerts[alerts["status"] != "已解除"] if not alerts.empty else alerts
    closures = store.read("road_closures", bbox=box, filters={"status": CLOSURE_IN_FORCE})
    return {
        "incident": incident,
        "alerts": [{"id": str(row[SOURCE_ID]), "level": str(row["level"]), "status": str(row["status"]), "headline": str(row["headline"] or ""),
                    "raised_at": _iso(row["raised_at"]), "changed_at": _iso(row["changed_at"])}
                   for _, row in alerts.sort_values("raised_at", ascending=False).iterrows()] if not alerts.empty else [],
        "closures": collection(features_of(get_layer("road_closures"), closures)),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") and value == value else None  # NaT != NaT


class ShareSituations:
    """Each link's live situation with a short version, computed once per version of the layers
    it reads (however many phones hold the link open). Thread-safe; bounded."""

    def __init__(self, store: Store, *, links: int = 512) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._held: LRUCache[tuple[str, tuple[str, ...]], tuple[str, dict[str, Any]]] = LRUCache(maxsize=links)

    def get(self, share_id: str, snapshot: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(version, situation) of the link ``share_id`` now."""
        key = (share_id, tuple(self.store.layer_version(name) for name in SITUATION_LAYERS))
        with self._lock:
            held = self._held.get(key)
        if held is not None:
            return held
        situation = share_situation(self.store, snapshot)
        version = hashlib.sha256(json.dumps(situation, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]
        with self._lock:
            self._held[key] = (version, situation)
        return version, situation
