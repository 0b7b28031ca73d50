"""The snapshot a share link carries: an incident (or a point), the routes of the nearest resources
to it, the service areas, the nearest shelter and supply depot, the active closures and the
features of the scoped layers around it — and nothing else: restricted fields never, layers
outside the scope never. Computed once when the link is made; small enough for a slow phone link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from gis.nearby import box_around
from layers.catalogue import CATALOGUE, CLOSURE_IN_FORCE, SOURCE_ID, get_layer
from layers.errors import InputError
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
