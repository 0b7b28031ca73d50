"""A layer's Mapbox Vector Tile from a frame, for the GeoPackage store (SQLite has no MVT
encoder): the features intersecting the tile are read through the R-tree (``Store.read`` with the
plan's search box), projected to EPSG:3857, simplified with the topology preserved (or aggregated
when dense), put in tile units, snapped to the grid, made valid and clipped to the tile with its
buffer — the steps of ``pg_tiles``'s SQL and ST_AsMVTGeom, in their order — and encoded by
``mapbox-vector-tile`` (extent 4096, y down). From z6 up both stores give the same features,
properties and types, geometries within a pixel (tests/api/test_vector_tiles.py); below, where a
city is a few dozen units across, they may differ in which sub-unit slivers survive the snap.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.encoder import VectorTile, on_invalid_geometry_make_valid  # type: ignore[import-untyped]

from layers.catalogue import SOURCE_ID, get_layer
from layers.store.tile_plan import BUFFER, EXTENT, MERGED, TIME_FORMAT_PY, TilePlan


class _TypedKeys(dict[Any, int]):
    """A value index keyed by type and value: 12320 and 12320.0 are equal in Python, so a plain
    dict gives them one MVT value, and an int field could come out as a double."""

    def __contains__(self, value: object) -> bool:
        return super().__contains__((type(value), value))

    def __getitem__(self, value: Any) -> int:
        return super().__getitem__((type(value), value))

    def __setitem__(self, value: Any, index: int) -> None:
        super().__setitem__((type(value), value), index)


class _TypedValuesTile(VectorTile):
    """mapbox-vector-tile's encoder with its per-layer value index (``seen_values_idx``, reset
    for each layer) keyed by type too, so each property keeps its type as ST_AsMVT keeps it."""

    @property
    def seen_values_idx(self) -> _TypedKeys:
        return self._typed_values

    @seen_values_idx.setter
    def seen_values_idx(self, values: dict[Any, int]) -> None:
        self._typed_values = _TypedKeys(values)


def _value(value: Any) -> Any:
    """A frame value as an MVT property value (None: left out, as ``ST_AsMVT`` leaves out NULL)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").strftime(TIME_FORMAT_PY) if value.tzinfo else value.strftime(TIME_FORMAT_PY)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _plain(frame: gpd.GeoDataFrame, geometries: np.ndarray, plan: TilePlan) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Each feature simplified (metres), with its properties."""
    simplified = shapely.simplify(geometries, plan.tolerance_m, preserve_topology=True) if plan.tolerance_m > 0 else geometries
    columns = list(plan.columns)
    spec = get_layer(plan.layer)
    # An int field with empty values comes out of a frame as floats: back to ints, as stored.
    ints = [name != SOURCE_ID and spec.field(name).type == "int" for name in columns]
    properties = [{name: (int(v) if whole and v is not None else v) for name, whole, v in zip(columns, ints, map(_value, row), strict=True)}
                  for row in frame[columns].astype(object).to_numpy()]
    return np.asarray(simplified, dtype=object), properties


def cell_sums(frame: pd.DataFrame, geometries: np.ndarray, plan: TilePlan) -> pd.DataFrame:
    """Features (``geometries`` in EPSG:3857, ``frame`` holding ``plan.sums``) summed per cell of
    ``plan.cell_m`` metres, by centroid, from the tile's south-west corner: indexed by the cell
    (i, j), the sums of the centroids' x and y, the count and the sums. Partial sums of several
    chunks add up (``aggregated_tile``), so a tile of millions of features is read a chunk at a time."""
    west, south = plan.bounds_m[0], plan.bounds_m[1]
    centres = shapely.get_coordinates(shapely.centroid(geometries))
    cells = pd.DataFrame({"i": np.floor((centres[:, 0] - west) / plan.cell_m), "j": np.floor((centres[:, 1] - south) / plan.cell_m),
                          "cx": centres[:, 0], "cy": centres[:, 1], "count": np.ones(len(centres), dtype=np.int64)})
    for name in plan.sums:
        cells[name] = frame[name].to_numpy(dtype=float)
    return cells.groupby(["i", "j"], sort=True)[["cx", "cy", "count", *plan.sums]].sum(min_count=1)


def aggregated_tile(parts: Sequence[pd.DataFrame], plan: TilePlan) -> bytes:
    """The MVT bytes of ``plan``'s cells from the ``cell_sums`` of the chunks of its features: a
    point layer's cell is the mean point of its members, another layer's the cell's square; each
    with its ``count`` and the sums."""
    table = parts[0] if len(parts) == 1 else pd.concat(parts).groupby(level=["i", "j"], sort=True).sum(min_count=1)
    west, south = plan.bounds_m[0], plan.bounds_m[1]
    i = table.index.get_level_values("i").to_numpy(dtype=float)
    j = table.index.get_level_values("j").to_numpy(dtype=float)
    counts = table["count"].to_numpy(dtype=np.int64)
    shapes: np.ndarray
    if plan.points:
        shapes = np.asarray(shapely.points(table["cx"].to_numpy() / counts, table["cy"].to_numpy() / counts), dtype=object)
    else:
        size = plan.cell_m
        shapes = np.asarray(shapely.box(west + i * size, south + j * size, west + (i + 1) * size, south + (j + 1) * size), dtype=object)
    sums = {name: table[name].to_numpy(dtype=float) for name in plan.sums}
    properties = [{"count": int(counts[k]), **{name: _value(float(values[k])) for name, values in sums.items()}} for k in range(len(table))]
    return _encoded(shapes, properties, plan)


def _merged(frame: gpd.GeoDataFrame, geometries: np.ndarray, plan: TilePlan) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One line per value of ``plan.merge_by`` (``shapely.line_merge`` of its members' parts, as
    ``ST_LineMerge(ST_Collect(...))``: both are GEOS's line merger), simplified (metres), with
    those values and how many features it holds."""
    keys = list(plan.merge_by)
    table = frame[keys].astype(object)
    groups = table.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    shapes, properties = [], []
    values = table.to_numpy()
    for members in np.split(order, bounds):
        parts = shapely.get_parts(geometries[members])
        shapes.append(shapely.line_merge(shapely.multilinestrings(parts)))
        first = values[members[0]]
        properties.append({**{name: _value(v) for name, v in zip(keys, first, strict=True)}, MERGED: len(members)})
    merged = np.asarray(shapes, dtype=object)
    simplified = shapely.simplify(merged, plan.tolerance_m, preserve_topology=True) if plan.tolerance_m > 0 else merged
    return np.asarray(simplified, dtype=object), properties


def _polygons_of(geometry: Any) -> Any:
    """The polygonal part of a geometry (a made-valid polygon may hold lines or points too)."""
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _in_tile_units(shapes: np.ndarray, plan: TilePlan) -> np.ndarray:
    """Metres → tile units (y up), snapped to the unit grid and made valid, then clipped to the
    tile with its buffer: ST_AsMVTGeom's order, so what it drops (smaller than half a unit, a
    line shorter than a unit, a sliver, a piece touching the buffer's edge) is dropped here too."""
    west, south, east, _ = plan.bounds_m
    scale = EXTENT / (east - west)
    units = shapely.transform(shapes, lambda xy: (xy - (west, south)) * scale)
    bounds = shapely.bounds(units)
    tiny = (bounds[:, 2] - bounds[:, 0] < 0.5) & (bounds[:, 3] - bounds[:, 1] < 0.5) & (shapely.get_type_id(units) != 0)
    snapped = shapely.transform(units, np.rint)  # to the grid, half to even, as lwgeom_grid
    polygonal = np.isin(shapely.get_type_id(snapped), (3, 6))
    broken = polygonal & ~shapely.is_valid(snapped)
    if broken.any():  # made valid, polygons only (ST_AsMVTGeom keeps the basic type)
        snapped[broken] = [_polygons_of(g) for g in shapely.make_valid(snapped[broken])]
    # Points are kept or dropped whole (clip_by_rect would drop one lying on the buffer's edge).
    points = np.isin(shapely.get_type_id(snapped), (0, 4))
    clipped = np.where(points, snapped, shapely.clip_by_rect(snapped, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER))
    inside = shapely.intersects(clipped, shapely.box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER))
    degenerate = shapely.is_empty(clipped) | ~inside | tiny
    lines = np.isin(shapely.get_type_id(clipped), (1, 5))
    polygons = np.isin(shapely.get_type_id(clipped), (3, 6))
    degenerate |= (lines & (shapely.length(clipped) == 0)) | (polygons & (shapely.area(clipped) == 0))
    kept = np.asarray(clipped, dtype=object).copy()
    kept[degenerate] = None
    return kept


def frame_tile(frame: gpd.GeoDataFrame, plan: TilePlan) -> bytes:
    """The MVT bytes of ``plan`` from ``frame`` (EPSG:4326, the features intersecting the plan's
    search box, in store order); empty bytes when no feature reaches the tile."""
    if plan.keep is not None:
        column, values = plan.keep
        frame = frame.loc[frame[column].isin(values)]
    if frame.empty:
        return b""
    geometries = np.asarray(frame.geometry.to_crs(3857).array, dtype=object)
    if plan.merge_by:
        shapes, properties = _merged(frame, geometries, plan)
    elif plan.aggregate_over is not None and len(frame) > plan.aggregate_over:
        return aggregated_tile([cell_sums(frame, geometries, plan)], plan)
    else:
        shapes, properties = _plain(frame, geometries, plan)
    return _encoded(shapes, properties, plan)


def _encoded(shapes: np.ndarray, properties: list[dict[str, Any]], plan: TilePlan) -> bytes:
    """Shapes (EPSG:3857) with their properties as the MVT bytes of ``plan`` (empty bytes when
    none is left in the tile)."""
    tiled = _in_tile_units(shapes, plan)
    features = [{"geometry": shape, "properties": {k: v for k, v in props.items() if v is not None}}
                for shape, props in zip(tiled, properties, strict=True) if shape is not None]
    if not features:
        return b""
    tile = _TypedValuesTile(default_options={"extents": EXTENT, "on_invalid_geometry": on_invalid_geometry_make_valid})
    tile.add_layer(name=plan.layer, features=features)
    return bytes(tile.tile.SerializeToString())
