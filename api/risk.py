"""HTTP routes for risk zoning: the per-area table, the score and contributions at a point, and XYZ
PNG tiles of the level raster in the official colours (transparent nodata, cached).

The zoning for ``ONEMAP_RISK_RESOLUTION_M`` and ``ONEMAP_RISK_CONFIG`` is computed in the background
(``api/jobs.py``; until it is done the routes answer 202 with the step) and cached per version of
the input layers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pyproj import Transformer

from gis.grades import RISK_LEVEL_COLOURS
from gis.risk.model import LEVEL_CODES, NODATA
from layers.errors import InputError
from layers.io.geojson import json_value, records
from web.risk_tiles import render_risk_tile

from .jobs import ACCEPTED, risk_result
from .schemas import PNG_TILE, RiskAt, RiskSummary, documented
from .tiles import MAX_ZOOM, TileCache, check_tile

router = APIRouter(prefix="/risk", tags=["Risk zoning"])


@router.get("/summary", summary="Area (km²) and residents in each level, per county and township", **documented(RiskSummary, "The zoning per level, county and township, with its parameters", also=ACCEPTED))
def summary(request: Request) -> dict[str, Any]:
    result = risk_result(request)
    rows = records(result.areas)
    return {"parameters": result.metadata(), "totals": result.level_totals, "counties": [r for r in rows if r["level"] == "区县"], "townships": [r for r in rows if r["level"] == "乡镇街道"]}


@lru_cache(maxsize=8)
def _to_grid(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


@router.get("/at", summary="Score, level and each factor's contribution at a point", **documented(RiskAt, "The zoning in the cell holding the point", also=ACCEPTED))
def at(request: Request, lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees")], lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees")]) -> dict[str, Any]:
    result = risk_result(request)
    x, y = _to_grid(result.grid.epsg).transform(lon, lat)
    row, col, inside = result.grid.cell_of(np.array([[x, y]]))
    if not inside[0] or result.levels[row[0], col[0]] == NODATA:
        raise InputError(f"the point {lon:.6f}, {lat:.6f} is outside the zoned area")
    r, c = int(row[0]), int(col[0])
    code = int(result.levels[r, c])
    return {
        "lon": lon, "lat": lat, "score": float(result.score[r, c]), "level_code": code, "level": LEVEL_CODES[code],
        "colour": RISK_LEVEL_COLOURS[LEVEL_CODES[code]],
        "contributions": {name: float(part[0, 0]) for name, part in result.contributions((slice(r, r + 1), slice(c, c + 1))).items()},
        "hazards": {name: float(surface[r, c]) for name, surface in result.hazards.items()},
        "residents_in_cell": float(result.persons[r, c]), "minutes_to_rescue": json_value(float(result.capacity_minutes[r, c])) if np.isfinite(result.capacity_minutes[r, c]) else None,
        "cell_m": result.grid.resolution_m,
    }


TILES = TileCache()


@router.get("/tiles/{z}/{x}/{y}.png", summary="XYZ PNG tile of the risk levels (official colours, transparent nodata)", response_class=Response, responses={**PNG_TILE, **ACCEPTED})
def tiles(request: Request, z: Annotated[int, Path(ge=0, le=MAX_ZOOM)], x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]) -> Response:
    check_tile(z, x, y)
    result = risk_result(request)
    body = TILES.get(result, z, x, y, lambda: render_risk_tile(result, z, x, y))
    return Response(content=body, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


