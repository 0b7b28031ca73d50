"""Vector tiles for share links: ``/s/{token}/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}``,
the wall map's Mapbox Vector Tiles (EPSG:3857, extent 4096; ``api/vector_tiles.py``) cut to what
the link may show — the same plan (``plan_tile``), service and cache (``VectorTiles``), ETags and
304s, and nothing beyond:

- the token as on every ``/s/`` route (``open_share``): unknown → 404 (a failed attempt, rate-limited),
  expired or revoked → 410;
- a layer outside the link's scope → 404, worded as for a layer that does not exist: a link does
  not tell which other layers there are;
- a tile that does not overlap the link's area (its snapshot's ``extent``, lon/lat degrees: the box
  of 2 × the snapshot's radius round its point) → 404, as the link's PNG basemap tiles
  (``/s/{token}/tiles/…``) answer: a page asking for it has left the area, and a 404 says so where
  an empty tile would look like "nothing here";
- a tile that does overlap holds only features that reach the area: its search box is the tile's
  cut to the area, so a low-zoom tile of a link never carries the rest of the city (its cache key
  carries the link's id for that reason);
- never restricted fields: planned with a viewer's clearance, whoever asks.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from layers.catalogue import get_layer
from layers.errors import NotFoundError
from layers.store.tile_plan import TilePlan
from web.tile_grid import tile_overlaps

from .dependencies import StoreDep
from .schemas import Responses
from .shares import GONE, Token, open_share
from .vector_tiles import MVT, check_tile_address, plan_tile, tile_response, tile_service

router = APIRouter(tags=["Share links"])
"""Public: the token is the credential (as the other ``/s/`` routes)."""

Box = tuple[float, float, float, float]
RESPONSES: Responses = {
    200: {"description": "A Mapbox Vector Tile (EPSG:3857, extent 4096) of the link's area; an empty body when no feature reaches it",
          "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified: the If-None-Match tag is the tile's current ETag"},
    **GONE,
}


def cut_to_area(plan: TilePlan, area: Box) -> TilePlan:
    """``plan`` reading only features that reach ``area`` (west, south, east, north; lon/lat
    degrees), which must overlap the plan's search box."""
    west, south, east, north = plan.search_deg
    return dataclasses.replace(plan, search_deg=(max(west, area[0]), max(south, area[1]), min(east, area[2]), min(north, area[3])))


@router.get("/s/{token}/collections/{layer}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            summary="A vector tile of a share link's layer and area (z/y/x)", response_class=Response, responses=RESPONSES)
def share_vector_tile(request: Request, token: Token, layer: str, tileMatrixSetId: str, tileMatrix: int, tileRow: int, tileCol: int, store: StoreDep,  # noqa: N803 (OGC's names)
                      if_none_match: Annotated[str | None, Header(description="An ETag of this tile: 304 when it is still current.")] = None) -> Response:
    """A layer of the link's scope, over its area: 404 for another layer or a tile outside the
    area, 400 for an address outside the pyramid (as ``/collections/…/tiles``)."""
    share = open_share(request, token)
    if layer not in share.scope:
        raise NotFoundError(f"this link shows no layer {layer!r}: its layers are {', '.join(share.scope)}")
    spec = get_layer(layer)
    check_tile_address(tileMatrixSetId, tileMatrix, tileRow, tileCol)
    west, south, east, north = (float(v) for v in share.snapshot["extent"])
    area = (west, south, east, north)
    if not tile_overlaps(tileMatrix, tileCol, tileRow, area):
        raise NotFoundError(f"tile {tileMatrix}/{tileRow}/{tileCol} is outside this link's area")
    service = tile_service(request, store)
    key = service.key(spec.name, tileMatrix, tileCol, tileRow, clearance=False)
    key = dataclasses.replace(key, layer=f"{spec.name}@share:{share.id}")  # its own cache entry and ETag: the tile is cut to this link's area
    return tile_response(service, key, lambda: cut_to_area(plan_tile(spec, tileMatrix, tileCol, tileRow, restricted=False), area), if_none_match=if_none_match)
