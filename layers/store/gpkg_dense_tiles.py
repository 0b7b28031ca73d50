"""A dense layer's aggregated tile from a GeoPackage a chunk at a time (the population of a
province at zoom 6: millions of cells in one tile).

Read whole, such a tile held every cell's row, decoded to Python objects, at once: 7.5 GiB and two
minutes for a z6 tile of the sample province, with the store's connection held all the while.
Here the R-tree gives the ids of the features whose envelopes meet the tile; the features are then
read by id ranges of at most ``PAGE_ROWS`` ids — their geometry and the summed fields only — each page
filtered to those really meeting the tile and summed per cell (``gpkg_tiles.cell_sums``), the
connection let go between pages. A tile that turns out to hold no more than the plan's
``aggregate_over`` features is left to the caller, which reads it whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.catalogue import LayerSpec, get_layer
from layers.store import gpkg_tiles
from layers.store.gpkg_sqlite import blob_wkb, quote, rtree_ids
from layers.store.tile_plan import TilePlan

PAGE_ROWS = 200_000
"""Features read and summed at a time (each page's rows, WKB and geometries: about 100 MB)."""
STREAM_OVER = 200_000
"""Tiles whose R-tree envelopes meet more features than this are read a page at a time."""


def dense_tile(connection: sqlite3.Connection, lock: AbstractContextManager[object], plan: TilePlan) -> bytes | None:
    """The aggregated MVT bytes of ``plan`` read a page at a time, or None when the tile is not
    one to read so (not aggregated, roads' classes kept, or few features by the R-tree or in the
    tile itself): the caller then reads it whole. ``lock`` serialises the use of ``connection``."""
    if plan.aggregate_over is None or plan.keep is not None or plan.merge_by:
        return None
    spec = get_layer(plan.layer)
    ids = _ids_meeting(connection, lock, spec, plan.search_deg)
    if ids.size <= STREAM_OVER:
        return None
    box = shapely.box(*plan.search_deg)
    columns = ", ".join(["geom", *(quote(name) for name in plan.sums)])
    parts: list[pd.DataFrame] = []
    count = 0
    for page in _pages(ids):
        with lock:
            rows = connection.execute(f"SELECT fid, {columns} FROM {quote(spec.name)} WHERE fid BETWEEN ? AND ? ORDER BY fid",
                                      (int(page[0]), int(page[-1]))).fetchall()
        fids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        wanted = np.isin(fids, page, assume_unique=True)  # the id range may hold features the R-tree left out
        geometries = shapely.from_wkb(np.asarray([blob_wkb(row[1]) if row[1] is not None else None for row, keep in zip(rows, wanted, strict=True) if keep], dtype=object))
        values = pd.DataFrame([row[2:] for row, keep in zip(rows, wanted, strict=True) if keep], columns=list(plan.sums), dtype=float)
        del rows
        meets = shapely.intersects(geometries, box)
        if not meets.any():
            continue
        count += int(meets.sum())
        projected = np.asarray(gpd.GeoSeries(geometries[meets], crs=4326).to_crs(3857).array, dtype=object)
        parts.append(gpkg_tiles.cell_sums(values.loc[meets].reset_index(drop=True), projected, plan))
    if count <= plan.aggregate_over:
        return None  # few features meet the tile itself: not aggregated
    return gpkg_tiles.aggregated_tile(parts, plan)


def _pages(ids: np.ndarray) -> Iterator[np.ndarray]:
    """The sorted ``ids`` in runs whose id range spans at most ``PAGE_ROWS`` ids, so that a page's
    read by id range holds at most ``PAGE_ROWS`` rows, however the ids are spread."""
    start = 0
    while start < ids.size:
        end = int(np.searchsorted(ids, ids[start] + PAGE_ROWS, side="left"))
        yield ids[start:end]
        start = end


def _ids_meeting(connection: sqlite3.Connection, lock: AbstractContextManager[object], spec: LayerSpec, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """The sorted ids of the features whose R-tree envelopes meet ``bbox`` (lon/lat)."""
    sql, params = rtree_ids(spec.name, bbox)
    with lock:
        cursor = connection.execute(sql, params)
        chunks = []
        while batch := cursor.fetchmany(1_000_000):
            chunks.append(np.fromiter((row[0] for row in batch), dtype=np.int64, count=len(batch)))
    return np.sort(np.concatenate(chunks)) if chunks else np.zeros(0, dtype=np.int64)
