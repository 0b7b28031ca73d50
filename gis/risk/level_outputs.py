"""What a zoning's levels become besides rasters: one (multi)polygon per level (EPSG:4326), and
per county and township the km² and residents in each level and the factors contributing most.
Both work on a province's grid (31 million cells at 100 m) without a float64 copy of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from rasterio import features

from gis.risk.model import LEVEL_CODES, RiskGrid

OUTPUT_EPSG = 4326
Cells = tuple[slice, slice]
"""A block of the grid: (rows, columns)."""


def areas_table(grid: RiskGrid, levels: NDArray[np.uint8], persons: NDArray[np.float32], contributions: Callable[[Cells], Mapping[str, NDArray[np.float32]]],
                admin: gpd.GeoDataFrame, *, block_rows: int | None = None) -> pd.DataFrame:
    """Per county and township (``admin`` in the grid's CRS): km² and residents in each level, and
    the three factors (``contributions`` of a block of cells) contributing most to the area's
    summed score. Counted a block of rows at a time (``RiskGrid.rows_per_block``), so that no float64
    copy of a province's grid is made."""
    blocks = []
    cell_km2 = grid.resolution_m**2 / 1e6
    rows = block_rows or grid.rows_per_block()
    for level_name in ("区县", "乡镇街道"):
        areas = admin.loc[admin["level"] == level_name].reset_index(drop=True)
        if areas.empty:
            continue
        labels = features.rasterize([(g, i + 1) for i, g in enumerate(areas.geometry)], out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32")
        k = len(areas) + 1
        counts = {code: np.zeros(k) for code in LEVEL_CODES}
        residents = {code: np.zeros(k) for code in LEVEL_CODES}
        sums: dict[str, NDArray[np.float64]] = {}
        for r0 in range(0, grid.height, rows):
            r1 = min(grid.height, r0 + rows)
            block_labels, block_levels, block_persons = labels[r0:r1].ravel(), levels[r0:r1].ravel(), persons[r0:r1].ravel().astype(float)
            for code in LEVEL_CODES:
                here = block_levels == code
                counts[code] += np.bincount(block_labels[here], minlength=k)
                residents[code] += np.bincount(block_labels[here], weights=block_persons[here], minlength=k)
            for name, part in contributions((slice(r0, r1), slice(None))).items():
                sums[name] = sums.get(name, np.zeros(k)) + np.bincount(block_labels, weights=part.ravel().astype(float), minlength=k)
        del labels
        block = pd.DataFrame({"adcode": areas["adcode"], "name": areas["name"], "level": level_name, "parent_adcode": areas.get("parent_adcode")})
        for code, zh in LEVEL_CODES.items():
            block[f"area_km2_{zh}"] = counts[code][1:] * cell_km2
            block[f"residents_{zh}"] = residents[code][1:]
        names = list(sums)
        summed = np.vstack([sums[n][1:] for n in names]) if names else np.zeros((0, len(areas)))
        block["top_hazards"] = ["、".join(names[j] for j in np.argsort(-summed[:, i], kind="stable")[:3] if summed[j, i] > 0) for i in range(len(areas))]
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()


def level_polygons(grid: RiskGrid, levels: NDArray[np.uint8]) -> gpd.GeoDataFrame:
    """One (multi)polygon per level: the exact outline of its cells (EPSG:4326), and its area
    (km², in the grid's CRS: the cells' area to rounding).

    A level at a time: its cells are polygonized alone (GDAL's polygonize through rasterio: one
    polygon per 4-connected region, with holes where other levels are), gathered into a
    MultiPolygon as they are — regions of one level never share an edge, only corners — and
    projected, before the next level is read. So only one level's regions are held, not a
    province's 750,000 regions (9 M vertices) at once. No union, and no simplification: a cell
    outline's every corner cuts off at least half a cell, so a simplification within half a cell
    removed no vertex (GEOS's coverage simplification was tried: it copied every region and kept
    every vertex)."""
    codes, areas_km2, projected = [], [], []
    for code in sorted(LEVEL_CODES):
        read = [shapely.geometry.shape(geometry) for geometry, _ in features.shapes(levels, mask=levels == code, transform=grid.transform)]
        if not read:
            continue
        regions = np.array(read, dtype=object)
        del read
        gathered = shapely.multipolygons(regions)
        del regions
        codes.append(code)
        areas_km2.append(shapely.area(gathered) / 1e6)
        projected.append(gpd.GeoSeries([gathered], crs=grid.epsg).to_crs(OUTPUT_EPSG).iloc[0])
        del gathered
    return gpd.GeoDataFrame({"level_code": codes, "level": [LEVEL_CODES[code] for code in codes], "area_km2": areas_km2},
                            geometry=projected, crs=OUTPUT_EPSG)
