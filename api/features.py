"""The layers published the OGC API - Features way (Part 1: Core, GeoJSON, OpenAPI 3.0).

``/``, ``/conformance``, ``/collections``, ``/collections/{layer}``,
``/collections/{layer}/items`` (bbox, limit, offset, and ``<field>=value`` equality filters) and
``/collections/{layer}/items/{id}``, where the feature id is the layer's stable ``source_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import URL

from api.auth import ViewerDep
from api.dependencies import BBoxDep, LimitDep, OffsetDep, StoreDep
from api.schemas.documented import documented
from api.schemas.features import Collection, Collections, Conformance, LandingPage
from api.schemas.geojson import FEATURE, FEATURES
from layers.catalogue import get_layer
from layers.errors import InputError
from layers.io.geojson import features_of
from layers.store import LayerInfo
from layers.store.base import row_version

public_router = APIRouter(tags=["OGC API - Features"])
"""The landing page and conformance: no data, open to all."""
router = APIRouter(tags=["OGC API - Features"])
"""The layers: viewers and up (restricted fields for editors and admins only)."""

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    # OGC API - Tiles Part 1, the layers' vector tiles (api/vector_tiles.py)
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
_RESERVED_PARAMETERS = {"bbox", "limit", "offset", "f", "bbox-crs", "crs"}


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


def public_base(request: Request) -> str:
    """The server's address for links: ``ONEMAP_PUBLIC_URL`` when set, else the server's own
    address (``own_address``) — never the request's Host header, which a client chooses."""
    configured: str | None = request.app.state.settings.public_url
    return configured or own_address(request)


def own_address(request: Request) -> str:
    """The address the connection reached, as the server knows it: the socket it is bound to
    (uvicorn's ``server`` in the ASGI scope; loopback when it has none, e.g. a Unix socket),
    with the scheme and root path the server set."""
    scheme = str(request.scope.get("scheme") or "http")
    host, port = request.scope.get("server") or ("127.0.0.1", None)
    host = str(host) if host and "/" not in str(host) else "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and int(port) != {"http": 80, "https": 443}.get(scheme):
        netloc += f":{int(port)}"
    return f"{scheme}://{netloc}{request.scope.get('root_path', '')}".rstrip("/")


def _here(request: Request) -> URL:
    """This request's URL on the public address (for self/next/prev links)."""
    query = request.url.query
    return URL(public_base(request) + request.url.path + (f"?{query}" if query else ""))


def _collection(base: str, info: LayerInfo, *, restricted: bool) -> dict[str, Any]:
    """The layer's description, naming only the fields the reader may see (``restricted``: with
    clearance for restricted fields)."""
    spec = get_layer(info.name)
    visible = set(spec.visible_columns(restricted=restricted))
    fields = "; ".join(f"{f.name}: {f.display_label}" for f in spec.fields if f.name in visible)
    extent = list(info.bbox) if info.bbox else [-180.0, -90.0, 180.0, 90.0]
    return {
        "id": spec.name,
        "title": f"{spec.title_zh} {spec.title_en}",
        "description": f"{spec.description} Fields — {fields}.",
        "extent": {"spatial": {"bbox": [extent], "crs": CRS84}},
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "numberOfFeatures": info.count,
        "sensitivity": spec.sensitivity,
        "links": [
            {"href": f"{base}/collections/{spec.name}", "rel": "self", "type": "application/json", "title": spec.title_zh},
            {"href": f"{base}/collections/{spec.name}/items", "rel": "items", "type": GEOJSON, "title": f"{spec.title_zh} features"},
            {"href": f"{base}/collections/{spec.name}/tiles", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json", "title": f"{spec.title_zh} vector tiles"},
        ],
    }


@public_router.get("/", summary="Landing page", **documented(LandingPage, "The landing page (OGC API - Features)"))
def landing(request: Request) -> dict[str, Any]:
    base = public_base(request)
    return {
        "title": "onemap 应急一张图",
        "description": "Hazard sources and emergency resources of the city, as OGC API - Features.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "this document"},
            {"href": f"{base}/openapi.json", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "API definition"},
            {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json", "title": "conformance classes"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "layers"},
        ],
    }


@public_router.get("/conformance", summary="Conformance classes", **documented(Conformance, "The conformance classes"))
def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="All layers, with counts and extents", **documented(Collections, "Every layer of the store"))
def collections(request: Request, store: StoreDep, principal: ViewerDep) -> dict[str, Any]:
    base = public_base(request)
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(base, info, restricted=principal.sees_restricted) for info in store.list_layers()],
    }


@router.get("/collections/{layer}", summary="One layer", **documented(Collection, "The layer"))
def collection(layer: str, request: Request, store: StoreDep, principal: ViewerDep) -> dict[str, Any]:
    get_layer(layer)
    info = next(i for i in store.list_layers() if i.name == layer)
    return _collection(public_base(request), info, restricted=principal.sees_restricted)


@router.get("/collections/{layer}/items", response_class=GeoJSONResponse, responses=FEATURES, summary="Features of a layer")
def items(layer: str, request: Request, store: StoreDep, principal: ViewerDep, bbox: BBoxDep, limit: LimitDep = 100, offset: OffsetDep = 0) -> GeoJSONResponse:
    """Features as GeoJSON. Any other query parameter ``<field>=value`` filters by equality on
    that field (e.g. ``shelter_type=固定``); unknown parameters are an error. Restricted fields
    (e.g. an enterprise's major-hazard level) are sent, and filterable, only for editors and admins."""
    spec = get_layer(layer)
    filters = {k: v for k, v in request.query_params.items() if k not in _RESERVED_PARAMETERS}
    visible = spec.visible_columns(restricted=principal.sees_restricted)
    unknown = [name for name in filters if name not in visible]  # a restricted field is unknown to a viewer, and unnamed
    if unknown:
        raise InputError(f"layer {spec.name} has no field {unknown[0]!r} you may filter by; fields: {', '.join(visible)}")
    crs = request.query_params.get("bbox-crs") or request.query_params.get("crs")
    if crs and crs != CRS84:
        raise InputError(f"only {CRS84} is supported for bbox-crs/crs, got {crs!r}")
    matched = store.count(spec.name, bbox=bbox, filters=filters)
    frame = store.read(spec.name, bbox=bbox, filters=filters, limit=limit, offset=offset)
    features = features_of(spec, frame, restricted=principal.sees_restricted)
    self_url = _here(request)
    links = [{"href": str(self_url), "rel": "self", "type": GEOJSON, "title": "this page"}]
    if offset + len(features) < matched:
        links.append({"href": str(self_url.include_query_params(offset=offset + limit, limit=limit)), "rel": "next", "type": GEOJSON, "title": "next page"})
    if offset > 0:
        links.append({"href": str(self_url.include_query_params(offset=max(0, offset - limit), limit=limit)), "rel": "prev", "type": GEOJSON, "title": "previous page"})
    links.append({"href": f"{public_base(request)}/collections/{spec.name}", "rel": "collection", "type": "application/json"})
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return GeoJSONResponse(body)


@router.get("/collections/{layer}/items/{feature_id}", response_class=GeoJSONResponse, responses=FEATURE, summary="One feature by its source id")
def item(layer: str, feature_id: str, request: Request, store: StoreDep, principal: ViewerDep) -> GeoJSONResponse:
    """The feature, with its version in ``ETag``: send it back as ``If-Match`` on an edit (PATCH
    /incidents/{id}, reservoir level, lift) and a change made meanwhile by someone else is refused
    with 412 instead of being overwritten."""
    spec = get_layer(layer)
    found = store.get(spec.name, feature_id)
    feature = features_of(spec, found, restricted=principal.sees_restricted)[0]
    base = public_base(request)
    feature["links"] = [
        {"href": str(_here(request)), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{spec.name}", "rel": "collection", "type": "application/json"},
    ]
    return GeoJSONResponse(feature, headers={"ETag": f'"{row_version(spec, found)}"'})


__all__ = ["public_router", "router"]
