"""The offline field kit: tiles over the city's region written as PMTiles v3 archives.

A PMTiles archive is one file holding a tile pyramid (header, gzip directories, JSON metadata,
tile data), read by range requests or straight from a local file; the share page opens it on a
phone with no network. One archive holds one tile type, so the kit is two files: the layers as
Mapbox Vector Tiles (``city.pmtiles``, gzip-compressed tiles, every exported layer one MVT layer
of each tile) and the offline basemap as PNG tiles (``city-basemap.pmtiles``).

What is here is what does not depend on how a tile is drawn: which XYZ tiles (WebMercatorQuad,
the EPSG:3857 grid) cover the region (lon/lat, EPSG:4326), how many, the tiles of several layers
as one MVT, the TileJSON-style metadata, and the all-or-nothing write. What a tile holds is the
caller's: the CLI passes the vector tiles' plan (``api.vector_tiles.plan_tile``) and the basemap's
renderer (``web.basemap``), which sit above ``layers/``.
"""

from __future__ import annotations

import gzip
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import morecantile
import numpy as np
import shapely
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from shapely.geometry.base import BaseGeometry

from layers.catalogue import SOURCE_ID, LayerSpec
from layers.errors import InputError
from layers.store import Store
from layers.store.tile_plan import TilePlan

logger = logging.getLogger(__name__)

MAX_TILES = 2_000_000
"""The most tiles one export may address: beyond it the kit is too large for a phone (and the
export takes hours)."""
WEB_MERCATOR_QUAD = morecantile.tms.get("WebMercatorQuad")
LIVE_LAYERS = ("incidents", "alerts", "road_closures", "risk_zones", "city_profile")
"""Left out of a kit by default: what changes by the hour (the share page has them live), the
zoning (a planner's result of the day) and the profile (not map content)."""
_FIELD_TYPES = {"str": "String", "int": "Number", "float": "Number", "bool": "Boolean", "datetime": "String"}

Tile = tuple[int, int, int]
"""An XYZ tile: (z, x, y), y counted from the north."""
TilePlanner = Callable[[LayerSpec, int, int, int], TilePlan]
"""(layer, z, x, y) → the plan of that layer's tile for a reader without clearance."""


def count_tiles(bbox: tuple[float, float, float, float], *, min_zoom: int, max_zoom: int) -> int:
    """How many tiles of zooms ``min_zoom``…``max_zoom`` the (west, south, east, north) lon/lat
    box (degrees) touches: an upper bound of what ``tiles_covering`` its region gives."""
    west, south, east, north = bbox
    total = 0
    for z in range(min_zoom, max_zoom + 1):
        low, high = WEB_MERCATOR_QUAD.tile(west, north, z), WEB_MERCATOR_QUAD.tile(east, south, z)
        total += (high.x - low.x + 1) * (high.y - low.y + 1)
    return total


def check_tile_count(bbox: tuple[float, float, float, float], *, min_zoom: int, max_zoom: int, limit: int = MAX_TILES) -> int:
    """The tile count of ``count_tiles``; ``InputError`` naming the highest ``--max-zoom`` that
    stays within ``limit`` when it is over, or when the zooms are the wrong way round."""
    if not 0 <= min_zoom <= max_zoom:
        raise InputError(f"--min-zoom {min_zoom} must be 0 or more and at most --max-zoom {max_zoom}")
    total = count_tiles(bbox, min_zoom=min_zoom, max_zoom=max_zoom)
    if total > limit:
        fits = [z for z in range(min_zoom, max_zoom) if count_tiles(bbox, min_zoom=min_zoom, max_zoom=z) <= limit]
        hint = f"lower --max-zoom to {fits[-1]} or less" if fits else "raise --min-zoom or export a smaller area"
        raise InputError(f"zooms {min_zoom}–{max_zoom} over the region would be {total:,} tiles, more than the limit of {limit:,}: {hint}")
    return total


def tiles_covering(region: BaseGeometry, *, min_zoom: int, max_zoom: int) -> list[Tile]:
    """The XYZ tiles of zooms ``min_zoom``…``max_zoom`` whose square intersects ``region``
    (lon/lat, EPSG:4326), in PMTiles tile-id order (by zoom, then along the Hilbert curve)."""
    shapely.prepare(region)
    west, south, east, north = region.bounds
    found: list[Tile] = []
    for z in range(min_zoom, max_zoom + 1):
        low, high = WEB_MERCATOR_QUAD.tile(west, north, z), WEB_MERCATOR_QUAD.tile(east, south, z)
        xs, ys = np.arange(low.x, high.x + 1), np.arange(low.y, high.y + 1)
        # a column's west/east and a row's north/south edges, one morecantile call each
        lons = np.array([WEB_MERCATOR_QUAD.bounds(morecantile.Tile(int(x), int(low.y), z))[::2] for x in xs])
        lats = np.array([WEB_MERCATOR_QUAD.bounds(morecantile.Tile(int(low.x), int(y), z))[1::2] for y in ys])
        grid_col, grid_row = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)), indexing="xy")
        col, row = grid_col.ravel(), grid_row.ravel()
        boxes = shapely.box(lons[col, 0], lats[row, 0], lons[col, 1], lats[row, 1])
        hit = shapely.intersects(region, boxes)
        found.extend((z, int(x), int(y)) for x, y in zip(xs[col[hit]], ys[row[hit]], strict=True))
    return sorted(found, key=lambda tile: zxy_to_tileid(*tile))


def kit_layers(store: Store, names: Sequence[str] | None = None) -> list[LayerSpec]:
    """The layers of a kit: ``names`` (catalogue names, checked), else every layer holding
    features except ``LIVE_LAYERS``."""
    from layers.catalogue import get_layer

    if names:
        return [get_layer(name) for name in dict.fromkeys(names)]
    from layers.catalogue import CATALOGUE

    held = {info.name for info in store.list_layers() if info.count}
    return [spec for name, spec in CATALOGUE.items() if name in held and name not in LIVE_LAYERS]


def _envelopes(store: Store, spec: LayerSpec) -> shapely.STRtree:
    """The bounding boxes of a layer's features (lon/lat), to skip a tile no feature reaches."""
    frame = store.read(spec.name)
    return shapely.STRtree(shapely.envelope(frame.geometry.array) if len(frame) else np.array([], dtype=object))


class LayersTile:
    """The MVT of several layers for one tile: each layer's tile from ``Store.vector_tile``
    (the plan of ``planner``), concatenated. An MVT is a sequence of layer messages, so tiles of
    distinct layers joined end to end are one valid tile holding all of them."""

    def __init__(self, store: Store, layers: Sequence[LayerSpec], planner: TilePlanner) -> None:
        self.store, self.layers, self.planner = store, list(layers), planner
        self._trees = {spec.name: _envelopes(store, spec) for spec in self.layers}

    def __call__(self, z: int, x: int, y: int) -> bytes:
        """The tile's MVT bytes (EPSG:3857, extent 4096); empty when no layer reaches it."""
        parts = []
        for spec in self.layers:
            plan = self.planner(spec, z, x, y)
            if not len(self._trees[spec.name].query(shapely.box(*plan.search_deg))):
                continue  # no feature's box meets the tile's search box: its tile is empty
            parts.append(self.store.vector_tile(plan))
        return b"".join(parts)


def vector_metadata(layers: Sequence[LayerSpec], planner: TilePlanner, *, city: str, adcode: str, min_zoom: int, max_zoom: int,
                    generated_at: datetime | None = None) -> dict[str, Any]:
    """The vector archive's metadata (TileJSON 3.0 keys and onemap's own): ``vector_layers``
    with each layer's fields as a viewer sees them (plus ``count`` and the summed fields of
    aggregated cells), the city, the time it was made (UTC, ISO 8601)."""
    described = []
    for spec in layers:
        plan = planner(spec, min_zoom, 0, 0)
        fields = {SOURCE_ID: "String"} | {c: _FIELD_TYPES[spec.field(c).type] for c in plan.columns if c != SOURCE_ID}
        if plan.aggregate_over is not None:
            fields |= {"count": "Number"} | {name: "Number" for name in plan.sums}
        described.append({"id": spec.name, "description": f"{spec.title_zh} {spec.title_en}", "minzoom": min_zoom, "maxzoom": max_zoom, "fields": fields})
    return _common_metadata(city=city, adcode=adcode, kind="layers", generated_at=generated_at) | {"format": "pbf", "vector_layers": described}


def basemap_metadata(*, city: str, adcode: str, generated_at: datetime | None = None) -> dict[str, Any]:
    """The basemap archive's metadata: the city, the time it was made (UTC, ISO 8601)."""
    return _common_metadata(city=city, adcode=adcode, kind="basemap", generated_at=generated_at) | {"format": "png"}


def _common_metadata(*, city: str, adcode: str, kind: Literal["layers", "basemap"], generated_at: datetime | None) -> dict[str, Any]:
    made = (generated_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    title = "图层" if kind == "layers" else "底图"
    return {
        "name": f"{city} 应急一张图 离线{title}", "description": f"onemap offline field kit ({kind}) of {city}, viewer clearance",
        "attribution": f"应急一张图 onemap · {city}", "version": "1", "type": "overlay" if kind == "layers" else "baselayer",
        "onemap": {"kind": kind, "city": city, "adcode": adcode, "generated": made, "clearance": "viewer"},
    }


@dataclass
class ArchiveJob:
    """One archive to write: its tiles, how to draw one, its type and metadata.

    Attributes
    ----------
    path : the archive's final path.
    tiles : XYZ tiles in tile-id order (``tiles_covering``).
    render : (z, x, y) → the tile's bytes (MVT or PNG, uncompressed); empty bytes: no tile.
    tile_type : "mvt" (stored gzip-compressed) or "png" (stored as is).
    bounds : (west, south, east, north), degrees: the region's.
    metadata : the JSON metadata.
    """

    path: Path
    tiles: Sequence[Tile]
    render: Callable[[int, int, int], bytes]
    tile_type: Literal["mvt", "png"]
    bounds: tuple[float, float, float, float]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchiveSummary:
    """What was written: the path, the tiles addressed (empty ones are left out), the distinct
    tile contents, the zooms and the file's size in bytes."""

    path: Path
    tiles: int
    contents: int
    min_zoom: int
    max_zoom: int
    size_bytes: int


def _e7(degrees: float) -> int:
    return round(degrees * 10_000_000)


def _write_temp(job: ArchiveJob, progress: Callable[[int], object] | None) -> tuple[Path, ArchiveSummary]:
    """The archive written to a temporary file beside ``job.path``."""
    temp = job.path.with_name(f".{job.path.name}.{uuid.uuid4().hex[:8]}.part")
    mvt = job.tile_type == "mvt"
    try:
        with temp.open("wb") as handle:
            writer = Writer(handle)
            zooms = set()
            for z, x, y in job.tiles:
                body = job.render(z, x, y)
                if body:
                    writer.write_tile(zxy_to_tileid(z, x, y), gzip.compress(body, mtime=0) if mvt else body)
                    zooms.add(z)
                if progress is not None:
                    progress(1)
            if not zooms:
                raise InputError(f"no tile of {job.path.name} holds anything: the region has no data in the layers exported")
            west, south, east, north = job.bounds
            centre_zoom = max(min(zooms), min(max(zooms), 12))
            header = {
                "tile_type": TileType.MVT if mvt else TileType.PNG,
                "tile_compression": Compression.GZIP if mvt else Compression.NONE,
                "min_lon_e7": _e7(west), "min_lat_e7": _e7(south), "max_lon_e7": _e7(east), "max_lat_e7": _e7(north),
                "center_zoom": centre_zoom, "center_lon_e7": _e7((west + east) / 2), "center_lat_e7": _e7((south + north) / 2),
            }
            writer.finalize(header, job.metadata)
            tiles, contents = writer.addressed_tiles, len(writer.hash_to_offset)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    summary = ArchiveSummary(job.path, tiles, contents, min(zooms), max(zooms), temp.stat().st_size)
    return temp, summary


def write_archives(jobs: Iterable[ArchiveJob], *, progress: Callable[[int], object] | None = None) -> list[ArchiveSummary]:
    """Write every archive of ``jobs``, all or nothing: each goes to a temporary file in its own
    folder, and only when all are complete do they replace their paths (``os.replace``); on any
    failure (or Ctrl-C) the temporary files are removed and no path is touched. ``progress(n)``
    is called after every ``n`` tiles drawn."""
    written: list[tuple[Path, ArchiveSummary]] = []
    try:
        for job in jobs:
            written.append(_write_temp(job, progress))
        for temp, summary in written:
            os.replace(temp, summary.path)
    except BaseException:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
        raise
    return [summary for _, summary in written]


__all__ = [
    "LIVE_LAYERS", "MAX_TILES", "ArchiveJob", "ArchiveSummary", "LayersTile", "basemap_metadata", "check_tile_count",
    "count_tiles", "kit_layers", "tiles_covering", "vector_metadata", "write_archives",
]
