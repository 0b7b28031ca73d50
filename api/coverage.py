"""HTTP routes for shelter coverage: the township table, the gap polygons, and new-site siting.

Results are computed in the background (``api/jobs.py``) and cached per version of the input
layers: a first call answers 202 with the step in progress, and once done every call takes
milliseconds.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import shapely
import shapely.geometry
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError
from layers.io.coverage_output import area_rows
from layers.io.geojson import feature_collection, records
from layers.services.coverage import MAX_SITES, CoverageService, read_candidate_layer

from .dependencies import StrictBody, from_state
from .features import GeoJSONResponse
from .jobs import ACCEPTED, coverage_result, in_background
from .schemas import FEATURES, CoverageSummary, documented

router = APIRouter(prefix="/coverage", tags=["Shelter coverage"])

AnalysisType = Literal["紧急", "固定", "all"]
Mode = Literal["network", "euclidean"]
TypeQuery = Annotated[AnalysisType, Query(alias="type", description="紧急 (every shelter, 10-min reach), 固定 (fixed + central, 35 min) or all (each its own reach).")]
ModeQuery = Annotated[Mode, Query(description="network: walking time on roads; euclidean: straight line (comparison only).")]


get_coverage = from_state("coverage", CoverageService)


CoverageDep = Annotated[CoverageService, Depends(get_coverage)]


@router.get("/summary", summary="Per-township and per-county coverage table (JSON)", **documented(CoverageSummary, "The coverage table with the city totals and parameters", also=ACCEPTED))
def summary(request: Request, analysis_type: TypeQuery = "紧急", mode: ModeQuery = "network") -> dict[str, Any]:
    """Residents, covered and uncovered residents, demand, capacity, shortfall, m² per resident and
    unplaced persons, per township (乡镇街道) and county (区县), with the city totals and parameters."""
    result = coverage_result(request, analysis_type, mode)
    return {
        "type": result.analysis_type,
        "mode": result.mode,
        "parameters": result.metadata(),
        "totals": result.totals,
        "notes": result.notes,
        "townships": records(area_rows(result, "乡镇街道")),
        "counties": records(area_rows(result, "区县")),
    }


@router.get("/gaps", summary="Gap polygons: uncovered residents dissolved per township (GeoJSON)", response_class=GeoJSONResponse, responses={**FEATURES, **ACCEPTED})
def gaps(request: Request, analysis_type: TypeQuery = "紧急", mode: ModeQuery = "network") -> GeoJSONResponse:
    result = coverage_result(request, analysis_type, mode)
    return GeoJSONResponse(feature_collection(result.gaps, analysis_type=result.analysis_type, mode=result.mode))


MAX_CANDIDATES = 5000
"""Most candidate sites one HTTP siting request may give (each adds a column to the MILP and a
network search); planners with more use ``onemap coverage site --candidates FILE``."""


class SiteRequest(StrictBody):
    """Where to put ``p`` new shelters."""

    p: int = Field(10, ge=1, le=MAX_SITES, description="Number of new sites (MCLP).")
    candidates: str | dict[str, Any] | None = Field(
        None,
        description=f"A store layer name, or a GeoJSON FeatureCollection of at most {MAX_CANDIDATES:,} candidate points/polygons (EPSG:4326); omitted: generated in the gaps. File paths are not accepted over HTTP.",
    )
    type: AnalysisType = "紧急"
    mode: Mode = "network"
    capacitated: bool = False
    model: Literal["mclp", "lscp"] = "mclp"


def _candidate_frame(document: dict[str, Any], region: BaseGeometry, region_label: str) -> gpd.GeoDataFrame:
    if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        raise InputError("candidates must be a layer name or a GeoJSON FeatureCollection")
    if not document["features"]:
        raise InputError("candidates: the FeatureCollection has no features")
    _check_count(len(document["features"]))
    rows, geometries = [], []
    for number, feature in enumerate(document["features"], start=1):
        if not isinstance(feature, dict):
            raise InputError(f"candidates: feature {number} is not a GeoJSON Feature object")
        try:
            geometry = shapely.geometry.shape(feature["geometry"])
        except Exception:  # shapely raises several kinds for malformed GeoJSON
            raise InputError(f"candidates: feature {number} has no valid geometry") from None
        if geometry.is_empty or geometry.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            raise InputError(f"candidates: feature {number} is {geometry.geom_type}; give points or polygons")
        if not np.isfinite(shapely.get_coordinates(geometry)).all():
            raise InputError(f"candidates: feature {number} has a coordinate that is not a finite number")
        x, y = geometry.representative_point().coords[0]
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise InputError(f"candidates: feature {number} lies outside lon/lat range: coordinates must be EPSG:4326 degrees")
        if not region.covers(geometry):
            raise InputError(f"candidates: feature {number} at {x:.5f},{y:.5f} lies outside the configured region ({region_label})")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise InputError(f"candidates: feature {number} properties must be an object")
        capacity = properties.get("capacity_persons")
        if capacity is not None and not (isinstance(capacity, int | float) and not isinstance(capacity, bool) and math.isfinite(capacity) and capacity > 0):
            raise InputError(f"candidates: feature {number} capacity_persons must be a positive finite number")
        rows.append({"name": str(properties.get("name") or f"候选点{number}"), "capacity_persons": capacity})
        geometries.append(geometry)
    return gpd.GeoDataFrame(rows, geometry=geometries, crs=4326)


def _check_count(count: int) -> None:
    if count > MAX_CANDIDATES:
        raise InputError(f"candidates: {count:,} sites given, at most {MAX_CANDIDATES:,} per request; for more, run onemap coverage site --candidates FILE")


def _candidates(given: str | dict[str, Any] | None, service: CoverageService) -> gpd.GeoDataFrame | None:
    """The request's candidate sites: GeoJSON from the body or a store layer; never a server path."""
    if given is None:
        return None
    if isinstance(given, dict):
        return _candidate_frame(given, service.settings.region_geometry(), service.settings.region_label())
    frame = read_candidate_layer(service.store, given)
    _check_count(len(frame))
    return frame


@router.post("/site", summary="Recommend new shelter sites (MCLP / LSCP)", response_class=GeoJSONResponse, responses={**FEATURES, **ACCEPTED})
def site(body: SiteRequest, service: CoverageDep, request: Request) -> GeoJSONResponse:
    """The chosen sites as GeoJSON points with the residents each newly covers, and the solution
    (objective, optimality gap, candidates, residents uncovered before)."""
    candidates = _candidates(body.candidates, service)  # checked now: a bad request is a 400, not a failed job
    result = coverage_result(request, body.type, body.mode)
    siting = in_background(request, "site", f"选址 siting ({body.model}, p = {body.p})", body.model_dump(),
                           lambda progress: service.site(body.p, candidates=candidates, capacitated=body.capacitated, model=body.model, result=result, progress=progress))
    solution = {
        "model": siting.solution.model,
        "objective": siting.solution.objective,
        "mip_gap": siting.solution.mip_gap,
        "status": siting.solution.status,
        "candidates": siting.candidates,
        "residents_uncovered_before": siting.residents_uncovered_before,
        "residents_newly_covered": siting.residents_newly_covered,
        "residents_uncoverable": siting.residents_uncoverable,
        "persons_sheltered": siting.persons_sheltered,
    }
    return GeoJSONResponse(feature_collection(siting.sites, solution=solution))
