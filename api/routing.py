"""HTTP routes for nearest-resource routing and service areas, and their GeoJSON form (shared
with the CLI's ``--json``)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import geopandas as gpd
import shapely.geometry
from fastapi import APIRouter, Depends, Query
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError
from layers.routing_service import (
    RESOURCE_LAYERS,
    Closures,
    RoutingService,
    parse_edge_ids,
    parse_minutes,
)

from .dependencies import from_state
from .features import GeoJSONResponse

router = APIRouter(prefix="/routing", tags=["Routing"])


get_routing = from_state("routing", RoutingService)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def feature_collection(frame: gpd.GeoDataFrame, **extra: Any) -> dict[str, Any]:
    """A result frame (EPSG:4326) as a GeoJSON FeatureCollection; ``extra`` goes at the top level."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = [
        {
            "type": "Feature",
            "geometry": None if geometry is None or geometry.is_empty else shapely.geometry.mapping(geometry),
            "properties": {c: _clean(record[c]) for c in columns},
        }
        for record, geometry in zip(frame[columns].to_dict("records"), frame.geometry, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features, **extra}


def parse_closures(closures: str | None, closed_edges: str | None) -> Closures:
    """Closures from a GeoJSON text (a Polygon/MultiPolygon, a Feature or a FeatureCollection of
    them) and a comma-separated list of road source ids."""
    polygons: list[BaseGeometry] = []
    if closures:
        try:
            document = json.loads(closures)
            items = document.get("features", [document]) if isinstance(document, dict) else []
            geometries = [shapely.geometry.shape(i.get("geometry", i)) for i in items]
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as error:
            raise InputError(f"closures: not GeoJSON polygons ({error})") from None
        for geometry in geometries:
            if geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise InputError(f"closures must be polygons (a flooded or collapsed area), got {geometry.geom_type}")
        polygons = geometries
    return Closures(tuple(polygons), parse_edge_ids(closed_edges))


Routing = Annotated[RoutingService, Depends(get_routing)]
Lon = Annotated[float, Query(ge=-180, le=180, description="Longitude of the incident, degrees (WGS 84).")]
Lat = Annotated[float, Query(ge=-90, le=90, description="Latitude of the incident, degrees (WGS 84).")]
ClosuresText = Annotated[str | None, Query(description="GeoJSON polygon(s) of cut roads (flood, collapse).")]
ClosedEdges = Annotated[str | None, Query(description="Road source ids that are cut, comma-separated.")]


@router.get("/nearest", response_class=GeoJSONResponse, summary="Nearest resources by road")
def nearest(
    routing: Routing,
    lon: Lon,
    lat: Lat,
    layers: Annotated[str, Query(description=f"Resource layers, comma-separated: {', '.join(RESOURCE_LAYERS)}.")] = ",".join(RESOURCE_LAYERS),
    k: Annotated[int, Query(ge=1, le=50, description="Resources per layer.")] = 5,
    max_minutes: Annotated[float | None, Query(gt=0, le=1440, description="Leave out resources slower than this (minutes).")] = None,
    closures: ClosuresText = None,
    closed_edges: ClosedEdges = None,
) -> GeoJSONResponse:
    """The k fastest resources of each layer to reach the incident, with routes (LineStrings),
    travel_time_min, distance_km and snap distances (m). Unreachable resources are listed with
    ``reachable: false``."""
    result = routing.nearest(lon, lat, layers.split(","), k=k, max_minutes=max_minutes, closures=parse_closures(closures, closed_edges))
    return GeoJSONResponse(feature_collection(result, incident={"lon": lon, "lat": lat}))


@router.get("/areas", response_class=GeoJSONResponse, summary="Service areas (isochrones) by road")
def areas(
    routing: Routing,
    lon: Lon,
    lat: Lat,
    minutes: Annotated[str, Query(description="Bands in minutes, comma-separated.")] = "5,10,15",
    closures: ClosuresText = None,
    closed_edges: ClosedEdges = None,
) -> GeoJSONResponse:
    """Areas reachable by road from the point within each band, with the residents and resources
    inside each."""
    result = routing.areas(lon, lat, minutes=parse_minutes(minutes), closures=parse_closures(closures, closed_edges))
    return GeoJSONResponse(feature_collection(result, origin={"lon": lon, "lat": lat}))
