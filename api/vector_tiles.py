"""The layers as vector tiles, the OGC API - Tiles way (Part 1: core, tileset, tilesets-list,
geodata-tilesets, mvt): ``/collections/{layer}/tiles`` (the tilesets list),
``/collections/{layer}/tiles/WebMercatorQuad`` (the tileset's metadata) and
``/collections/{layer}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`` (z/y/x: a
Mapbox Vector Tile, EPSG:3857, extent 4096).

How a tile is generalised is decided here (``plan_tile``), from the one tile grid
(``web.tile_grid``) and the basemap's road classes (``web.basemap.ROAD_STYLE``): every geometry
is simplified by half a pixel of its tile (``SIMPLIFY_PX``, topology preserved); roads below zoom
13 keep only the classes the basemap draws at that zoom, and below zoom 8 the roads of one class
and name are one merged line (``MERGE_ROADS_BELOW``; with ``merged``, its number of edges); a point layer, or the population grid,
whose tile would hold more than ``MAX_FEATURES`` features is aggregated into cells of
``CELL_PX`` pixels, each with a ``count`` (and the population's summed ``persons``).

Roles apply as on ``/items``: restricted fields go into editors' and admins' tiles only. Each tile
carries an ``ETag`` (it moves when a write changes the layer) and ``Cache-Control: private,
no-cache``; ``If-None-Match`` with the current tag gets a 304. A tile no feature reaches is a
200 with an empty body (an MVT with no layers), never a 204.

Bad addresses: a tileMatrix beyond 0..22 or a row/column outside the pyramid is a 400 stating
the limits; a tile matrix set other than WebMercatorQuad is a 404 (that tileset is not a
resource here, as an unknown layer is not); a name that is not a layer is a 404 as on
``/items``. No collection lacks geometry — every catalogue layer declares its geometry type, and
``/collections`` lists catalogue layers only — so the "layer without geometry" 400 has no case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from api.auth import ViewerDep
from api.dependencies import StoreDep
from api.features import CRS84, public_base
from api.schemas.documented import documented
from api.schemas.tiles import TileSet, TileSets
from layers.catalogue import SOURCE_ID, LayerSpec, get_layer
from layers.errors import InputError, NotFoundError
from layers.services.vector_tiles import TileKey, VectorTiles
from layers.store import Store
from layers.store.tile_plan import BUFFER, EXTENT, MERGED, TilePlan
from web.basemap import ROAD_STYLE
from web.tile_grid import TILE_PX, WEB_MERCATOR_QUAD, tile_bounds_m, tile_exists

router = APIRouter(tags=["OGC API - Tiles"])
"""The layers' vector tiles: viewers and up (restricted fields for editors and admins only)."""

MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
MAX_ZOOM = 22
"""The deepest tileMatrix served: WebMercatorQuad's z22 tiles are ~10 m wide, finer than any layer."""
MAX_FEATURES = 2_000
"""A point or population tile holding more features than this is aggregated into cells."""
SIMPLIFY_PX = 0.5
"""The simplification tolerance in pixels of a 256-px tile: invisible, and small enough that the
two stores' simplifications (from slightly different projections) stay within a pixel."""
CELL_PX = 8
"""The side of an aggregation cell in pixels of a 256-px tile (32 × 32 cells per tile)."""
ALL_ROADS_ZOOM = max(lowest for lowest, _, _ in ROAD_STYLE.values())
"""From this zoom on every road is in the tiles, whatever its class."""
MERGE_ROADS_BELOW = 8
"""Below this zoom the roads of one class and name are merged into one line (a province's
motorways at z6 are a handful of features instead of tens of thousands of edges)."""
MERGE_ROADS_BY = ("road_class", "name")
SUMMED = {"population": ("persons",)}
"""Aggregated cells carry the sum of these fields of their members."""
_DIMENSION = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 2}
_JSON_TYPE = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "datetime": "string"}
_lock = threading.Lock()


def road_classes_at(z: int) -> tuple[str, ...] | None:
    """The road classes in a tile at zoom ``z`` (the basemap's lowest zoom of each); None: all."""
    if z >= ALL_ROADS_ZOOM:
        return None
    return tuple(name for name, (lowest, _, _) in ROAD_STYLE.items() if lowest <= z)


def check_tile_address(tile_matrix_set: str, z: int, y: int, x: int) -> None:
    """``NotFoundError`` for a tile matrix set other than WebMercatorQuad (no such resource);
    ``InputError`` stating the limits for a zoom beyond 0..MAX_ZOOM or a row/column outside it."""
    if tile_matrix_set != TMS_ID:
        raise NotFoundError(f"tile matrix set {tile_matrix_set!r} is not served: the only one is {TMS_ID}")
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"tileMatrix {z} is beyond the limits: zoom must be 0 to {MAX_ZOOM}")
    if not tile_exists(z, x, y):
        raise InputError(f"tile {z}/{y}/{x} (tileMatrix/tileRow/tileCol) is outside the pyramid: at zoom {z} row and column must be 0 to {2**z - 1}")


def plan_tile(spec: LayerSpec, z: int, x: int, y: int, *, restricted: bool) -> TilePlan:
    """The plan of one tile of ``spec`` for a reader with (``restricted``) or without clearance."""
    west, south, east, north = tile_bounds_m(z, x, y)
    margin = (east - west) * BUFFER / EXTENT
    world = WEB_MERCATOR_QUAD.xy_bbox  # the buffer stops at the world's edges (no wrapping)
    low = WEB_MERCATOR_QUAD.lnglat(max(west - margin, world.left), max(south - margin, world.bottom))
    high = WEB_MERCATOR_QUAD.lnglat(min(east + margin, world.right), min(north + margin, world.top))
    classes = road_classes_at(z) if spec.name == "roads" else None
    dense = spec.geometry_type == "Point" or spec.name in SUMMED
    columns = spec.visible_columns(restricted=restricted)
    merge_by = tuple(c for c in MERGE_ROADS_BY if c in columns) if spec.name == "roads" and z < MERGE_ROADS_BELOW else ()
    return TilePlan(
        layer=spec.name, z=z, x=x, y=y,
        bounds_m=(west, south, east, north),
        search_deg=(low.x, low.y, high.x, high.y),
        columns=merge_by or columns,
        merge_by=merge_by,
        keep=("road_class", classes) if classes is not None else None,
        tolerance_m=(east - west) * SIMPLIFY_PX / TILE_PX,
        aggregate_over=MAX_FEATURES if dense else None,
        cell_m=(east - west) * CELL_PX / TILE_PX,
        sums=SUMMED.get(spec.name, ()),
        points=spec.geometry_type == "Point",
    )


def _tiles(request: Request, store: Store) -> VectorTiles:
    """The app's tile service (made on first use, one per store)."""
    with _lock:
        service: VectorTiles | None = getattr(request.app.state, "vector_tiles", None)
        if service is None or service.store is not store:
            service = request.app.state.vector_tiles = VectorTiles(store)
        return service


def _links_of_tileset(base: str, layer: str) -> list[dict[str, Any]]:
    here = f"{base}/collections/{layer}/tiles/{TMS_ID}"
    return [
        {"href": here, "rel": "self", "type": "application/json", "title": f"{layer} tileset"},
        {"href": TMS_URI, "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "title": TMS_ID},
        {"href": f"{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "rel": "item", "type": MVT, "title": "a tile (z/y/x)", "templated": True},
        {"href": f"{base}/collections/{layer}", "rel": "collection", "type": "application/json"},
    ]


def _generalisation(spec: LayerSpec) -> str:
    notes = [f"Simplified by {SIMPLIFY_PX:g} px of a {TILE_PX}-px tile; EPSG:3857, extent {EXTENT}, buffer {BUFFER}."]
    if spec.name == "roads":
        notes.append("Road classes by zoom: " + ", ".join(f"{name} from z{lowest}" for name, (lowest, _, _) in ROAD_STYLE.items()) + ".")
        notes.append(f"Below z{MERGE_ROADS_BELOW} the roads of one {' and '.join(MERGE_ROADS_BY)} are merged into one line, with only those fields and '{MERGED}', the number of edges it holds.")
    if spec.geometry_type == "Point" or spec.name in SUMMED:
        summed = "".join(f" and the sum of {name}" for name in SUMMED.get(spec.name, ()))
        notes.append(f"A tile that would hold more than {MAX_FEATURES} features holds instead cells of {CELL_PX} px, each with a count{summed}.")
    return " ".join(notes)


@router.get("/collections/{layer}/tiles", summary="A layer's tilesets", **documented(TileSets, "The layer's vector tilesets (OGC API - Tiles)"))
def tilesets(layer: str, request: Request) -> dict[str, Any]:
    spec = get_layer(layer)
    base = public_base(request)
    return {
        "tilesets": [{"title": f"{spec.title_zh} {spec.title_en}", "dataType": "vector", "crs": CRS_3857, "tileMatrixSetURI": TMS_URI,
                      "links": _links_of_tileset(base, spec.name)[:3]}],
        "links": [{"href": f"{base}/collections/{spec.name}/tiles", "rel": "self", "type": "application/json"},
                  {"href": f"{base}/collections/{spec.name}", "rel": "collection", "type": "application/json"}],
    }


@router.get("/collections/{layer}/tiles/{tileMatrixSetId}", summary="A layer's tileset metadata", **documented(TileSet, "The tileset: its layer, fields, zooms and extent"))
def tileset(layer: str, tileMatrixSetId: str, request: Request, store: StoreDep, principal: ViewerDep) -> dict[str, Any]:  # noqa: N803 (OGC's name)
    """The only tile matrix set is WebMercatorQuad: another is a 404 (no such tileset)."""
    spec = get_layer(layer)
    check_tile_address(tileMatrixSetId, 0, 0, 0)
    visible = [spec.field(c) for c in spec.visible_columns(restricted=principal.sees_restricted) if c != SOURCE_ID]
    properties: dict[str, Any] = {SOURCE_ID: {"type": "string", "title": "编号 (source id)"}}
    for field in visible:
        schema: dict[str, Any] = {"type": _JSON_TYPE[field.type], "title": field.display_label}
        if field.enum:
            schema["enum"] = list(field.enum)
        if field.type == "datetime":
            schema["format"] = "date-time"
        if field.description:
            schema["description"] = field.description
        properties[field.name] = schema
    info = next(i for i in store.list_layers() if i.name == spec.name)
    body: dict[str, Any] = {
        "title": f"{spec.title_zh} {spec.title_en}",
        "description": f"{spec.description} {_generalisation(spec)}".strip(),
        "dataType": "vector", "crs": CRS_3857, "tileMatrixSetURI": TMS_URI, "minZoom": 0, "maxZoom": MAX_ZOOM,
        "layers": [{"id": spec.name, "title": spec.title_zh, "description": _generalisation(spec), "dataType": "vector",
                    **({"geometryDimension": _DIMENSION[spec.geometry_type]} if spec.geometry_type in _DIMENSION else {}),
                    "minTileMatrix": "0", "maxTileMatrix": str(MAX_ZOOM), "propertiesSchema": {"type": "object", "properties": properties}}],
        "links": _links_of_tileset(public_base(request), spec.name),
    }
    if info.bbox is not None:
        body["boundingBox"] = {"lowerLeft": list(info.bbox[:2]), "upperRight": list(info.bbox[2:]), "crs": CRS84}
    return body


_TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": f"A Mapbox Vector Tile (EPSG:3857, extent {EXTENT}); an empty body when no feature reaches the tile",
          "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified: the If-None-Match tag is the tile's current ETag"},
}


@router.get("/collections/{layer}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}", summary="A vector tile (z/y/x)",
            response_class=Response, responses=_TILE_RESPONSES)
def tile(layer: str, tileMatrixSetId: str, tileMatrix: int, tileRow: int, tileCol: int, request: Request, store: StoreDep, principal: ViewerDep,  # noqa: N803 (OGC's names)
         if_none_match: Annotated[str | None, Header(description="An ETag of this tile: 304 when it is still current.")] = None) -> Response:
    """One tile: tileMatrix is the zoom (0 to 22), tileRow the y counted from the north,
    tileCol the x. Out of the pyramid or beyond zoom 22: 400 stating the limits; a tile matrix set
    other than WebMercatorQuad: 404."""
    spec = get_layer(layer)
    check_tile_address(tileMatrixSetId, tileMatrix, tileRow, tileCol)
    service = _tiles(request, store)
    key = service.key(spec.name, tileMatrix, tileCol, tileRow, clearance=principal.sees_restricted)
    return tile_response(service, key, lambda: plan_tile(spec, tileMatrix, tileCol, tileRow, restricted=principal.sees_restricted), if_none_match=if_none_match)


def tile_service(request: Request, store: Store) -> VectorTiles:
    """The app's tile service (one per store): what other tile routes (share links) use too."""
    return _tiles(request, store)


def tile_response(service: VectorTiles, key: TileKey, plan: Callable[[], TilePlan], *, if_none_match: str | None) -> Response:
    """The tile of ``key`` with its ``ETag``: a 304 when ``if_none_match`` names that tag, else the
    MVT of ``plan()`` (planned only when it is not cached and not current at the client)."""
    headers = {"ETag": f'"{key.etag}"', "Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    if if_none_match is not None and key.etag in {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(service.tile(key, plan()), media_type=MVT, headers=headers)


__all__ = ["check_tile_address", "plan_tile", "road_classes_at", "router", "tile_response", "tile_service"]
