"""The command wall map over HTTP: the page (``GET /map``), its assets (``/static/…``, from npm and
``web/static``), the offline basemap tiles, and the small endpoints the page polls and asks:
``/map/live`` (change tokens), ``/map/search``, ``/map/places``, ``/map/situation``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from layers.errors import StoreError
from layers.services.figures import key_figures
from layers.services.tile_files import TileFiles, set_key
from layers.services.wallmap import MapService, short_token
from web.basemap import STYLE_DIGEST, BasemapData, prepare_basemap, render_basemap_tile
from web.wallmap import STATIC_MOUNTS, basemap_providers, wall_map_config, wall_map_html

from .dependencies import SettingsDep, StoreDep, from_state
from .schemas import PNG_TILE, Live, Places, SearchResults, Situation, documented
from .schemas.wallmap import KeyFigures
from .tiles import MAX_ZOOM, TileCache, check_tile

router = APIRouter(tags=["Wall map"])
BASEMAP_LAYERS = ("admin_areas", "water_bodies", "roads")


get_map_service = from_state("map_service", MapService)


MapDep = Annotated[MapService, Depends(get_map_service)]
Lon = Annotated[float, Query(ge=-180, le=180, description="Longitude, degrees (WGS 84).")]
Lat = Annotated[float, Query(ge=-90, le=90, description="Latitude, degrees (WGS 84).")]


def install_static(app: FastAPI) -> None:
    """Serve the page's assets from the app itself (never a CDN): npm packages and web/static.
    A folder that is missing (npm packages not installed) answers 503 saying how to install it."""
    for name, folder in STATIC_MOUNTS.items():
        if folder.is_dir():
            app.mount(f"/static/{name}", StaticFiles(directory=folder), name=f"static-{name}")
        else:
            app.add_api_route(f"/static/{name}/{{path:path}}", _missing_assets(folder), include_in_schema=False)


def _missing_assets(folder: Any) -> Any:
    def missing(path: str) -> Response:
        raise StoreError(f"map assets are not installed ({folder} is missing): run `bash .ci/setup`, which installs them with npm")

    return missing


@router.get("/map", response_class=HTMLResponse, summary="The command wall map (full-screen page)")
def wall_map(settings: SettingsDep, wall: Annotated[bool, Query(description="Wall mode: no chrome, large type, for the command-centre screens.")] = False) -> HTMLResponse:
    """Layers load from the API for the current view; incidents, reservoir levels and closures
    refresh by themselves. The URL hash (``#z/lat/lon/layers=…``) holds the view."""
    config = wall_map_config(
        providers=basemap_providers(settings.tianditu_key, list(settings.basemaps)),
        live_interval_s=settings.map_live_interval_s,
        region_bbox=settings.region_bbox,
        city_bbox=_bounds(settings.city_outline()),
        wall=wall,
    )
    return HTMLResponse(wall_map_html(config), headers={"Cache-Control": "no-cache"})


def _bounds(geometry: Any) -> tuple[float, float, float, float] | None:
    if geometry is None or geometry.is_empty:
        return None
    x0, y0, x1, y1 = geometry.bounds
    return (float(x0), float(y0), float(x1), float(y1))


@router.get("/map/live", summary="Change tokens of the live layers (polled by open wall maps)", **documented(Live, "A token per live layer, and the server time"))
def live(service: MapDep) -> dict[str, Any]:
    """A token per layer (incidents, reservoirs, road_closures) that changes whenever the layer
    does; a page refetches a layer when its token changes."""
    return {"versions": service.versions(), "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}


@router.get("/map/figures", summary="The key figures along the wall", **documented(KeyFigures, "Alerts by colour, incidents, reservoirs above 汛限水位, grave risk, coverage, stations"))
def figures(request: Request) -> dict[str, Any]:
    state = request.app.state
    return key_figures(state.store, risk=state.risk, coverage=state.coverage)


@router.get("/map/search", summary="Features by name, or a typed coordinate", **documented(SearchResults, "The hits, best first"))
def search(service: MapDep, q: Annotated[str, Query(min_length=1, max_length=100, description="Part of a name (尼山), or coordinates (116.59,35.41 or 度分秒).")], limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    return {"query": q, "hits": [hit.as_dict() for hit in service.search(q, limit=limit)]}


@router.get("/map/places", summary="Label points of counties or townships", **documented(Places, "The label points"))
def places(service: MapDep, level: Annotated[str, Query(description="区县 or 乡镇街道.")] = "区县") -> dict[str, Any]:
    return {"level": level, "places": service.places(level)}


@router.get("/map/situation", summary="Residents within 1, 3 and 5 km of a point", **documented(Situation, "Residents within 1, 3 and 5 km"))
def situation(service: MapDep, lon: Lon, lat: Lat) -> dict[str, Any]:
    """Residents whose population cell centre is within each distance (straight line, km)."""
    return {"lon": lon, "lat": lat, "residents_within_km": service.residents_around(lon, lat)}


class BasemapCache:
    """The prepared basemap for the current versions of its layers (rebuilt when they change), and
    its rendered tiles: in memory, and on disk in ``files`` when given (``Settings.derived_cache_dir``),
    so that a restarted server or a second process serves the tiles already drawn."""

    def __init__(self, files: TileFiles | None = None) -> None:
        self._key: tuple[str, ...] | None = None
        self._data: BasemapData | None = None
        self._lock = threading.Lock()
        self.tiles = TileCache(size=4096)
        self.files = files
        self._set: tuple[str, object] = ("", object())

    def current(self, store: Any) -> BasemapData:
        return self._prepared(store)[1]

    def _prepared(self, store: Any) -> tuple[tuple[str, ...], BasemapData]:
        key = self._versions(store)
        with self._lock:
            if self._data is None or key != self._key:
                self._data = prepare_basemap(*(store.read(layer) for layer in BASEMAP_LAYERS))
                self._key = key
            return key, self._data

    @staticmethod
    def _versions(store: Any) -> tuple[str, ...]:
        return tuple(short_token(store.layer_version(layer)) for layer in BASEMAP_LAYERS)

    def tile(self, store: Any, z: int, x: int, y: int) -> bytes:
        """The PNG of one XYZ tile of the current basemap (rendered once, then cached)."""
        check_tile(z, x, y)
        versions = self._versions(store)
        key = set_key((*versions, STYLE_DIGEST))
        with self._lock:
            if self._set[0] != key:
                self._set = (key, object())  # the memory cache holds the tiles of one set
            token = self._set[1]

        def render() -> bytes:
            body = self.files.get(key, z, x, y) if self.files is not None else None
            if body is None:
                drawn_from, data = self._prepared(store)
                body = render_basemap_tile(data, z, x, y)
                if self.files is not None and drawn_from == versions:  # not a newer write's tile under this key
                    self.files.put(key, z, x, y, body)
            return body

        return self.tiles.get(token, z, x, y, render)


get_basemap = from_state("basemap", BasemapCache)


@router.get("/basemap/tiles/{z}/{x}/{y}.png", response_class=Response, responses=PNG_TILE, summary="Offline basemap tile (admin areas, water, roads from the store)")
def basemap_tile(store: StoreDep, cache: Annotated[BasemapCache, Depends(get_basemap)], z: Annotated[int, Path(ge=0, le=MAX_ZOOM)], x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]) -> Response:
    return Response(content=cache.tile(store, z, x, y), media_type="image/png", headers={"Cache-Control": "public, max-age=300"})
