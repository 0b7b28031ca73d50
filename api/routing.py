"""HTTP routes for nearest-resource routing and service areas, and their GeoJSON form (shared
with the CLI's ``--json``).

Every answer routes around the closures in force in ``road_closures`` (``closures=none``: the open
network) and says which it used in its ``closures`` member. What-if closures go in the body of the
POST variants, never in a query string (30 polygons would overflow the request head).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import shapely
import shapely.geometry
from fastapi import APIRouter, Depends, Query
from pydantic import Field
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError
from layers.io.geojson import feature_collection
from layers.services.routing import (
    MAX_BANDS,
    RESOURCE_LAYERS,
    Closures,
    RoutingService,
    closure_polygons,
    parse_edge_ids,
    parse_layers,
    parse_minutes,
)

from .dependencies import StrictBody, from_state
from .features import GeoJSONResponse
from .schemas import FEATURES

router = APIRouter(prefix="/routing", tags=["Routing"])

MAX_WHAT_IF_POLYGONS = 200
"""What-if closure polygons one request may add."""
MAX_CLOSED_EDGES = 2_000
"""What-if road ids one request may cut."""

get_routing = from_state("routing", RoutingService)


def what_if_polygons(document: dict[str, Any] | None) -> tuple[BaseGeometry, ...]:
    """What-if closure polygons from GeoJSON: a Polygon/MultiPolygon, a Feature or a
    FeatureCollection of them (EPSG:4326)."""
    if not document:
        return ()
    items = document.get("features", [document])
    if not isinstance(items, list):
        raise InputError("what_if: features must be a list of GeoJSON polygons")
    if len(items) > MAX_WHAT_IF_POLYGONS:
        raise InputError(f"what_if: {len(items):,} polygons; at most {MAX_WHAT_IF_POLYGONS} per request")
    shapes = []
    for number, item in enumerate(items, start=1):
        try:
            shapes.append(shapely.geometry.shape(item.get("geometry", item)))
        except Exception:  # shapely raises several kinds for malformed GeoJSON
            raise InputError(f"what_if: feature {number} is not a GeoJSON polygon") from None
    return tuple(closure_polygons(shapes, "what_if"))


Routing = Annotated[RoutingService, Depends(get_routing)]
Lon = Annotated[float, Query(ge=-180, le=180, description="Longitude of the incident, degrees (WGS 84).")]
Lat = Annotated[float, Query(ge=-90, le=90, description="Latitude of the incident, degrees (WGS 84).")]
ClosureMode = Literal["stored", "none"]
ClosuresQuery = Annotated[ClosureMode, Query(description="stored: route around the closures in force (road_closures); none: the open network.")]
ClosedEdges = Annotated[str | None, Query(max_length=20_000, description="Extra road source ids to treat as cut (what-if), comma-separated.")]
LayerName = Literal[RESOURCE_LAYERS]  # type: ignore[valid-type]


def _closures(routing: RoutingService, mode: ClosureMode, polygons: tuple[BaseGeometry, ...], edge_ids: tuple[str, ...]) -> Closures:
    if len(edge_ids) > MAX_CLOSED_EDGES:
        raise InputError(f"closed_edges: {len(edge_ids):,} roads; at most {MAX_CLOSED_EDGES:,} per request")
    return routing.closures(Closures(polygons, edge_ids), stored=mode == "stored")


def _nearest(routing: RoutingService, lon: float, lat: float, layers: list[str], k: int, max_minutes: float | None, closures: Closures) -> GeoJSONResponse:
    result = routing.nearest(lon, lat, layers, k=k, max_minutes=max_minutes, closures=closures)
    return GeoJSONResponse(feature_collection(result, incident={"lon": lon, "lat": lat}, closures=closures.describe()))


def _areas(routing: RoutingService, lon: float, lat: float, minutes: list[float], closures: Closures) -> GeoJSONResponse:
    result = routing.areas(lon, lat, minutes=minutes, closures=closures)
    return GeoJSONResponse(feature_collection(result, origin={"lon": lon, "lat": lat}, closures=closures.describe()))


@router.get("/nearest", response_class=GeoJSONResponse, responses=FEATURES, summary="Nearest resources by road")
def nearest(
    routing: Routing,
    lon: Lon,
    lat: Lat,
    layers: Annotated[str, Query(max_length=200, description=f"Resource layers, comma-separated: {', '.join(RESOURCE_LAYERS)}.")] = ",".join(RESOURCE_LAYERS),
    k: Annotated[int, Query(ge=1, le=50, description="Resources per layer.")] = 5,
    max_minutes: Annotated[float | None, Query(gt=0, le=1440, description="Leave out resources slower than this (minutes).")] = None,
    closures: ClosuresQuery = "stored",
    closed_edges: ClosedEdges = None,
) -> GeoJSONResponse:
    """The k fastest resources of each layer to reach the incident, with routes (LineStrings),
    travel_time_min, distance_km and snap distances (m). Unreachable resources are listed with
    ``reachable: false``. ``closures`` (top level) names the closures the routes avoid."""
    used = _closures(routing, closures, (), parse_edge_ids(closed_edges))
    return _nearest(routing, lon, lat, parse_layers(layers), k, max_minutes, used)


@router.get("/areas", response_class=GeoJSONResponse, responses=FEATURES, summary="Service areas (isochrones) by road")
def areas(
    routing: Routing,
    lon: Lon,
    lat: Lat,
    minutes: Annotated[str, Query(max_length=100, description=f"Bands in minutes, comma-separated (at most {MAX_BANDS}, each 0-240).")] = "5,10,15",
    closures: ClosuresQuery = "stored",
    closed_edges: ClosedEdges = None,
) -> GeoJSONResponse:
    """Areas reachable by road from the point within each band, with the residents and resources
    inside each. ``closures`` (top level) names the closures the areas avoid."""
    used = _closures(routing, closures, (), parse_edge_ids(closed_edges))
    return _areas(routing, lon, lat, parse_minutes(minutes), used)


class _WhatIf(StrictBody):
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees (WGS 84).")
    lat: float = Field(ge=-90, le=90, description="Latitude, degrees (WGS 84).")
    closures: ClosureMode = Field("stored", description="stored: also avoid the closures in force; none: only the what-if ones.")
    what_if: dict[str, Any] | None = Field(None, description=f"GeoJSON Polygon, Feature or FeatureCollection (EPSG:4326) of extra cut areas, at most {MAX_WHAT_IF_POLYGONS}.")
    closed_edges: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=MAX_CLOSED_EDGES, description="Extra road source ids to treat as cut.")


class NearestRequest(_WhatIf):
    """Nearest resources with what-if closures."""

    layers: list[LayerName] = Field(default_factory=lambda: list(RESOURCE_LAYERS), min_length=1, max_length=len(RESOURCE_LAYERS))
    k: int = Field(5, ge=1, le=50)
    max_minutes: float | None = Field(None, gt=0, le=1440)


class AreasRequest(_WhatIf):
    """Service areas with what-if closures."""

    minutes: list[Annotated[float, Field(gt=0, le=240)]] = Field(default_factory=lambda: [5.0, 10.0, 15.0], min_length=1, max_length=MAX_BANDS)


@router.post("/nearest", response_class=GeoJSONResponse, responses=FEATURES, summary="Nearest resources by road, with what-if closures")
def nearest_what_if(body: NearestRequest, routing: Routing) -> GeoJSONResponse:
    """As ``GET /routing/nearest``, with what-if closure polygons and road ids in the body."""
    used = _closures(routing, body.closures, what_if_polygons(body.what_if), tuple(body.closed_edges))
    return _nearest(routing, body.lon, body.lat, list(body.layers), body.k, body.max_minutes, used)


@router.post("/areas", response_class=GeoJSONResponse, responses=FEATURES, summary="Service areas by road, with what-if closures")
def areas_what_if(body: AreasRequest, routing: Routing) -> GeoJSONResponse:
    """As ``GET /routing/areas``, with what-if closure polygons and road ids in the body."""
    used = _closures(routing, body.closures, what_if_polygons(body.what_if), tuple(body.closed_edges))
    return _areas(routing, body.lon, body.lat, list(body.minutes), used)
