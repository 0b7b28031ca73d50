"""The routing adapter: the store's roads as a cached graph, and queries by layer name.

The graph is built once per version of the roads layer (``Store.layer_version``) and speed
settings, kept in memory and on disk (``<store folder>/cache/roads-<key>.npz``), and rebuilt
when the roads change. Resource layers are snapped once per version too. All inputs are checked
here and turned into ``InputError`` with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from cachetools import LRUCache
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.arraytools import anchor_points
from gis.network import NetworkError, RoadGraph, graph_from_edges, walking_graph
from gis.routing import (
    ResourceIndex,
    RoutingError,
    closed_edges,
    index_resources,
    nearest_resources,
    travel_seconds,
)
from gis.service_areas import service_areas
from layers.catalogue import CLOSURE_IN_FORCE, ROAD_CLASS_SPEED_KMH, get_layer
from layers.errors import InputError
from layers.io.readers import read_gis_frame
from layers.io.validate import is_missing
from layers.settings import Settings
from layers.store.base import Store

logger = logging.getLogger(__name__)

RESOURCE_LAYERS = ("rescue_stations", "supply_depots", "shelters")
"""Layers whose features can be sent to an incident."""
GRAPH_FORMAT = "2"  # bump when RoadGraph.to_bytes changes
KEEP_GRAPHS = 4
"""Graph files kept per profile in the cache folder (the newest), for folders several stores share."""
MAX_BANDS = 6
"""Service-area bands one request may ask for (each band is a Dijkstra and a polygon)."""
WHOLE_LAYER_UP_TO = 500_000
"""A layer of at most this many features is read whole once per version and kept (as points) for
counting what service areas hold; a larger one (a province's 16 million population cells) is read
for each answer within the bands' box only, so the first answer does not wait minutes."""


@dataclass(frozen=True)
class Closures:
    """Roads cut by flood or collapse: polygons (EPSG:4326) and/or road source ids.

    ``stored`` names the closures in force in the ``road_closures`` layer that ``polygons``
    includes, as (source_id, name); the rest of ``polygons`` are what-if closures a caller added.
    ``ignored_stored`` says the caller asked for the open network (no stored closures).
    """

    polygons: tuple[BaseGeometry, ...] = ()
    edge_ids: tuple[str, ...] = ()
    stored: tuple[tuple[str, str], ...] = ()
    ignored_stored: bool = False

    def __bool__(self) -> bool:
        return bool(self.polygons or self.edge_ids)

    def describe(self) -> dict[str, Any]:
        """What an answer used, for its ``closures`` field: the stored closures by id and name,
        how many what-if polygons and which road ids were added."""
        return {
            "stored": "ignored" if self.ignored_stored else "applied",
            "stored_closures": [{"source_id": i, "name": n} for i, n in self.stored],
            "what_if_polygons": len(self.polygons) - len(self.stored),
            "closed_edges": list(self.edge_ids),
        }

    def summary_zh(self) -> str:
        """One line for a terminal or a panel: 已避开 N 处在册封闭区 …"""
        if self.ignored_stored:
            parts = ["未计在册封闭区（开放路网）"]
        else:
            parts = [f"已避开 {len(self.stored)} 处在册封闭区" if self.stored else "无在册封闭区"]
        what_if = len(self.polygons) - len(self.stored)
        if what_if:
            parts.append(f"另加 {what_if} 个假设封闭区")
        if self.edge_ids:
            parts.append(f"另封 {len(self.edge_ids)} 条道路")
        return "，".join(parts)


def read_closures(path: str | Path) -> list[BaseGeometry]:
    """Closure polygons from a GIS file (GeoJSON, GeoPackage, Shapefile), in EPSG:4326."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: closures file not found")
    frame = read_gis_frame(path, "closure polygons")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    return closure_polygons(frame.to_crs(4326).geometry, str(path))


def closure_polygons(geometries: Iterable[BaseGeometry | None], source: str) -> list[BaseGeometry]:
    """``geometries`` checked as closures (one check for files, request bodies and the CLI):
    each a non-empty polygon; else an ``InputError`` naming ``source`` and the feature."""
    polygons = []
    for number, geometry in enumerate(geometries, start=1):
        if geometry is None or geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
            kind = "nothing" if geometry is None or geometry.is_empty else geometry.geom_type
            raise InputError(f"{source}: feature {number} is {kind}; closures must be polygons (a flooded or collapsed area)")
        polygons.append(geometry)
    return polygons


def parse_edge_ids(text: str | None) -> tuple[str, ...]:
    """Road source ids from "RD000001,RD000002" (blank entries ignored)."""
    return tuple(e.strip() for e in (text or "").split(",") if e.strip())


def parse_minutes(text: str) -> list[float]:
    """Service-area bands from "5,10,15" (minutes); ``RoutingService.areas`` checks their range
    and count."""
    try:
        return [float(m) for m in text.split(",") if m.strip()]
    except ValueError:
        raise InputError(f"minutes={text!r}: give numbers, e.g. 5,10,15") from None


def parse_layers(text: str | Sequence[str]) -> list[str]:
    """Resource layer names from "a,b" or a list; unknown names are an error listing the allowed."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise InputError(f"name at least one resource layer: {', '.join(RESOURCE_LAYERS)}")
    unknown = [n for n in names if n not in RESOURCE_LAYERS]
    if unknown:
        raise InputError(f"unknown resource layer(s) {unknown}; choose from {', '.join(RESOURCE_LAYERS)}")
    return list(dict.fromkeys(names))


class RoutingService:
    """Routing over one store. Thread-safe; cheap to keep for the life of a process."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self._graphs: dict[str, tuple[str, RoadGraph]] = {}
        self._indexes: dict[tuple[str, str, str], ResourceIndex] = {}
        self._points: dict[str, tuple[str, NDArray[np.float64], NDArray[np.float64]]] = {}
        self._sizes: dict[str, tuple[str, int]] = {}  # layer → (version, features)
        self._in_force: tuple[str, Closures] | None = None
        # The last closed-edge mask per graph, for a few graphs (driving, walking): a graph rebuilt
        # for new roads pushes out the old one rather than keeping it alive.
        self._closed_edges: LRUCache[int, tuple[RoadGraph, Closures, NDArray[np.bool_]]] = LRUCache(maxsize=4)

    @property
    def cache_dir(self) -> Path:
        """The routing graphs' cache: ``Settings.derived_cache_dir``, never the current directory."""
        return self.settings.derived_cache_dir()

    def _class_speeds(self) -> dict[str, float]:
        return {**ROAD_CLASS_SPEED_KMH, **self.settings.road_speeds_kmh}

    def _graph_key(self, profile: str) -> str:
        token = f"{GRAPH_FORMAT}|{profile}|{self.store.layer_version('roads')}|{self.settings.work_epsg}|{sorted(self._class_speeds().items())}"
        return hashlib.sha256(token.encode()).hexdigest()[:20]

    def graph(self) -> RoadGraph:
        """The driving graph of the current roads: from memory, the disk cache, or built now."""
        return self._cached_graph("drive", lambda roads: graph_from_edges(roads, epsg=self.settings.work_epsg, class_speed_kmh=self._class_speeds()))

    def walking_graph(self, walk_kmh: float) -> RoadGraph:
        """The walking graph (every walkable road both ways at ``walk_kmh``), cached like ``graph``."""
        return self._cached_graph(f"walk-{walk_kmh:g}", lambda roads: walking_graph(roads, epsg=self.settings.work_epsg, walk_kmh=walk_kmh))

    def release_graphs(self) -> None:
        """Let go of the graphs held in memory (and what was snapped to them), for a one-off run
        that has no more use for them: a province's driving graph is 3.6 GiB. The next use loads
        them from the disk cache."""
        with self._lock:
            self._graphs.clear()
            self._indexes.clear()
            self._closed_edges.clear()

    def _cached_graph(self, profile: str, build: Callable[[gpd.GeoDataFrame], RoadGraph]) -> RoadGraph:
        key = self._graph_key(profile)
        with self._lock:
            held = self._graphs.get(profile)
            if held is not None and held[0] == key:
                return held[1]
            path = self.cache_dir / f"roads-{profile}-{key}.npz"
            graph = None
            if path.exists():
                try:
                    graph = RoadGraph.from_file(path)
                    logger.info("road graph loaded from %s", path)
                except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:  # cut short, damaged, or of another format
                    logger.warning("ignoring unreadable graph cache %s: %s", path, error)
            if graph is None:
                try:
                    graph = build(self.store.read("roads"))
                except NetworkError as error:
                    raise InputError(str(error)) from None
                self._write_cache(path, profile, graph)
            self._graphs[profile] = (key, graph)
            if profile == "drive":
                self._indexes.clear()
            return graph

    def _write_cache(self, path: Path, profile: str, graph: RoadGraph) -> None:
        """Write the graph whole or not at all (a temporary file of this writer's own, then an
        atomic rename), keeping the few newest graphs of the profile: a cache folder shared by
        several stores or processes (ONEMAP_CACHE_DIR) holds each one's current roads."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp", delete=False) as temporary:
                temporary.write(graph.to_bytes())
            Path(temporary.name).replace(path)
            older = sorted(path.parent.glob(f"roads-{profile}-*.npz"), key=_modified, reverse=True)[KEEP_GRAPHS:]
            for old in older:
                old.unlink(missing_ok=True)
        except OSError as error:
            logger.warning("cannot write the graph cache %s: %s", path, error)

    def resources(self, layers: Sequence[str]) -> ResourceIndex:
        """Features of the named resource layers snapped to the current graph (cached)."""
        graph = self.graph()
        frames = []
        versions = ",".join(self.store.layer_version(layer) for layer in layers)
        cache_key = (self._graphs["drive"][0], ",".join(layers), versions)
        if cache_key in self._indexes:
            return self._indexes[cache_key]
        for layer in layers:
            frame = self.store.read(layer)
            points = frame.geometry.representative_point() if get_layer(layer).geometry_type != "Point" else frame.geometry
            frames.append(gpd.GeoDataFrame({"resource_id": frame["source_id"], "layer": layer, "name": frame["name"]}, geometry=points, crs=4326))
        combined = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
        index = index_resources(graph, combined, max_snap_m=self.settings.max_snap_m)
        with self._lock:
            self._indexes[cache_key] = index
        return index

    def closures(self, what_if: Closures = Closures(), *, stored: bool = True) -> Closures:
        """The closures an answer uses: those in force in ``road_closures`` (unless ``stored`` is
        False: the open network) plus the caller's what-if polygons and road ids."""
        if not stored:
            return Closures(what_if.polygons, what_if.edge_ids, ignored_stored=True)
        in_force = self._stored_closures()
        return Closures((*in_force.polygons, *what_if.polygons), what_if.edge_ids, stored=in_force.stored)

    def _stored_closures(self) -> Closures:
        """The closures in force in ``road_closures``, read once per version of the layer."""
        version = self.store.layer_version("road_closures")
        with self._lock:
            cached = self._in_force
            if cached is not None and cached[0] == version:
                return cached[1]
        in_force = self.store.read("road_closures", filters={"status": CLOSURE_IN_FORCE})
        names = ["" if is_missing(n) else str(n) for n in in_force["name"]]
        closures = Closures(tuple(in_force.geometry), stored=tuple(zip((str(i) for i in in_force["source_id"]), names, strict=True)))
        with self._lock:
            self._in_force = (version, closures)
        return closures

    def _closed(self, graph: RoadGraph, closures: Closures | None) -> NDArray[np.bool_] | None:
        """The graph's edges cut by ``closures`` (None: the stored closures in force)."""
        closures = self.closures() if closures is None else closures
        if not closures:
            return None
        with self._lock:
            cached = self._closed_edges.get(id(graph))
            if cached is not None and cached[0] is graph and cached[1] == closures:
                return cached[2]
        polygons = gpd.GeoSeries(list(closures.polygons), crs=4326).to_crs(graph.epsg) if closures.polygons else []
        try:
            closed = closed_edges(graph, polygons=list(polygons), edge_ids=list(closures.edge_ids))
        except RoutingError as error:
            raise InputError(str(error)) from None
        with self._lock:  # an answer's closures are mostly the stored ones
            self._closed_edges[id(graph)] = (graph, closures, closed)
        return closed

    def nearest(self, lon: float, lat: float, layers: Sequence[str], *, k: int = 5, max_minutes: float | None = None, closures: Closures | None = None) -> gpd.GeoDataFrame:
        """The k fastest resources of each layer to reach (lon, lat); see gis.routing.nearest_resources.
        ``closures``: None routes around the stored closures in force; ``self.closures(...)``
        adds what-if ones or gives the open network."""
        _check_lonlat(lon, lat)
        if not 1 <= k <= 50:
            raise InputError(f"k must be 1-50, got {k}")
        if max_minutes is not None and not max_minutes > 0:
            raise InputError(f"max_minutes must be positive, got {max_minutes}")
        layers = parse_layers(layers)
        graph = self.graph()
        index = self.resources(layers)
        try:
            return nearest_resources(graph, shapely.Point(lon, lat), index, k=k, max_minutes=max_minutes, closed=self._closed(graph, closures), max_snap_m=self.settings.max_snap_m)
        except RoutingError as error:
            raise InputError(str(error)) from None

    def travel_minutes(self, layer: str, targets: Sequence[tuple[float, float]], *, closures: Closures | None = None) -> pd.DataFrame:
        """Driving minutes from every feature of ``layer`` to each target (lon, lat): a frame
        indexed by the features' source_id, one column per target (inf: cannot get there)."""
        for lon, lat in targets:
            _check_lonlat(lon, lat)
        graph = self.graph()
        index = self.resources(parse_layers([layer]))
        seconds = travel_seconds(graph, index, [shapely.Point(lon, lat) for lon, lat in targets], closed=self._closed(graph, closures), max_snap_m=self.settings.max_snap_m)
        return pd.DataFrame(seconds / 60.0, index=pd.Index(index.ids.astype(str), name="source_id"))

    def route(self, origin: tuple[float, float], destination: tuple[float, float], *, closures: Closures | None = None) -> gpd.GeoDataFrame:
        """The fastest drive from ``origin`` to ``destination`` (lon, lat): one row as
        ``nearest`` gives it (travel_time_min, distance_km, route), the origin as the resource."""
        for lon, lat in (origin, destination):
            _check_lonlat(lon, lat)
        graph = self.graph()
        start = gpd.GeoDataFrame({"resource_id": ["origin"], "layer": ["origin"], "name": ["起点"]}, geometry=[shapely.Point(*origin)], crs=4326)
        try:
            index = index_resources(graph, start, max_snap_m=self.settings.max_snap_m)
            return nearest_resources(graph, shapely.Point(*destination), index, k=1, closed=self._closed(graph, closures), max_snap_m=self.settings.max_snap_m)
        except RoutingError as error:
            raise InputError(str(error).replace("resource origin", "the starting point")) from None

    def areas(self, lon: float, lat: float, *, minutes: Sequence[float] = (5, 10, 15), closures: Closures | None = None) -> gpd.GeoDataFrame:
        """Service areas from (lon, lat), with the residents and resources each band contains;
        ``closures`` as for ``nearest``."""
        _check_lonlat(lon, lat)
        if not minutes or any(not 0 < m <= 240 for m in minutes):
            raise InputError(f"minutes must be between 0 and 240, got {list(minutes)}")
        if len(minutes) > MAX_BANDS:
            raise InputError(f"minutes: {len(minutes)} bands; at most {MAX_BANDS}, e.g. 5,10,15")
        graph = self.graph()
        try:
            areas = service_areas(graph, gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326), minutes=minutes, closed=self._closed(graph, closures), max_snap_m=self.settings.max_snap_m)
        except RoutingError as error:
            raise InputError(str(error).replace("origin 1", f"the point {lon:.6f}, {lat:.6f}")) from None
        return self._contents(areas)

    def _layer_points(self, layer: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lon/lat of each feature's representative point (population: cell centres) and its
        weight (persons; 1 for a facility), cached per version of the layer."""
        version = self.store.layer_version(layer)
        with self._lock:
            cached = self._points.get(layer)
            if cached is not None and cached[0] == version:
                return cached[1], cached[2]
        xy, weights = _points_of(layer, self.store.read_in_chunks(layer))  # a province's 16 million cells never at once: their points only
        with self._lock:
            self._points[layer] = (version, xy, weights)
        return xy, weights

    def _points_within(self, layer: str, bounds: tuple[float, float, float, float]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``_layer_points`` of the features reaching ``bounds`` (lon/lat): all of a small layer
        (kept), or a large layer's read within the box (``WHOLE_LAYER_UP_TO``)."""
        version = self.store.layer_version(layer)
        with self._lock:
            size = self._sizes.get(layer)
        if size is None or size[0] != version:
            size = (version, self.store.count(layer))
            with self._lock:
                self._sizes[layer] = size
        if size[1] <= WHOLE_LAYER_UP_TO:
            return self._layer_points(layer)
        return _points_of(layer, [self.store.read(layer, bbox=bounds)])

    def _contents(self, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Residents (population cells whose centre lies inside) and resources of each band."""
        polygons = np.asarray(areas.geometry.array, dtype=object)
        shapely.prepare(polygons)  # each polygon is tested against thousands of points

        west, south, east, north = (float(v) for v in areas.total_bounds)
        reach = (west, south, east, north) if np.isfinite([west, south, east, north]).all() else (0.0, 0.0, 0.0, 0.0)  # no band: a box of nothing

        def inside(layer: str) -> list[float]:
            xy, weights = self._points_within(layer, reach)  # once per answer, not per band
            totals = []
            for polygon in polygons:
                if polygon.is_empty:
                    totals.append(0.0)
                    continue
                x0, y0, x1, y1 = polygon.bounds
                near = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
                hit = shapely.contains_xy(polygon, xy[near, 0], xy[near, 1])
                totals.append(float(weights[near][hit].sum()))
            return totals

        columns = {"residents": inside("population")}
        for layer in RESOURCE_LAYERS:
            columns[f"{layer}_count"] = [int(total) for total in inside(layer)]
        return areas.assign(**columns)


def _points_of(layer: str, frames: Iterable[gpd.GeoDataFrame]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lon/lat of each feature's representative point (population: cell centres) and its weight
    (persons; 1 for a facility)."""
    parts_xy, parts_weights = [np.zeros((0, 2))], [np.zeros(0)]
    for frame in frames:
        geometries = np.asarray(frame.geometry.array, dtype=object)
        parts_xy.append(shapely.get_coordinates(shapely.centroid(geometries) if layer == "population" else anchor_points(geometries)).reshape(-1, 2))
        parts_weights.append(frame["persons"].to_numpy(dtype=float) if layer == "population" else np.ones(len(frame)))
    return np.concatenate(parts_xy), np.concatenate(parts_weights)


def _modified(path: Path) -> float:
    """A file's modification time; 0 for one another process removed meanwhile."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _check_lonlat(lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not (np.isfinite(lon) and np.isfinite(lat)):
        raise InputError(f"lon must be -180-180 and lat -90-90 (degrees), got {lon}, {lat}")
