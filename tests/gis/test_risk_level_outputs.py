"""A zoning's level polygons: each level's exact cell outline (the union of its cells, holes and
corner-touching regions included), valid, with its area, one level at a time."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.risk import RiskGrid
from gis.risk.level_outputs import level_polygons
from gis.risk.model import LEVEL_CODES

EPSG = 4548
WEST, NORTH = 480_000.0, 3_930_000.0  # Jining, CGCS2000 / 3-degree Gauss-Krüger CM 117E (m)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_level_is_the_union_of_its_cells(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = RiskGrid(EPSG, 100.0, WEST, NORTH, 40, 30)
    # Blobs of levels (coarse noise), single cells, a checkerboard (regions meeting at corners only)
    # and nodata (0) around and inside.
    levels = np.kron(rng.integers(0, 5, (10, 8)), np.ones((3, 5), dtype=np.int64)).astype(np.uint8)
    levels[rng.random(levels.shape) < 0.08] = 0  # single nodata cells: holes
    levels[5:11, 5:11] = np.where(np.add.outer(np.arange(6), np.arange(6)) % 2 == 0, 4, 1).astype(np.uint8)
    polygons = level_polygons(grid, levels)
    assert polygons.crs.to_epsg() == 4326
    assert polygons["level_code"].tolist() == [code for code in sorted(LEVEL_CODES) if (levels == code).any()]
    in_metres = polygons.to_crs(EPSG)
    for row, code in enumerate(polygons["level_code"]):
        rows, cols = np.nonzero(levels == code)
        cells = shapely.box(WEST + cols * 100.0, NORTH - (rows + 1) * 100.0, WEST + (cols + 1) * 100.0, NORTH - rows * 100.0)
        expected = shapely.union_all(cells)
        got = in_metres.geometry.iloc[row]
        assert shapely.is_valid(polygons.geometry.iloc[row]) and got.geom_type == "MultiPolygon"
        assert shapely.area(shapely.symmetric_difference(got, expected)) < 1e-3, f"level {code}: the outline is its cells' (to the projection's rounding)"
        assert polygons["area_km2"].iloc[row] == pytest.approx(len(rows) * 0.01, rel=1e-12), "the area is the cells' area, computed in metres"
        assert polygons["level"].iloc[row] == LEVEL_CODES[code]


def test_no_level_gives_an_empty_frame() -> None:
    polygons = level_polygons(RiskGrid(EPSG, 100.0, WEST, NORTH, 4, 3), np.zeros((3, 4), dtype=np.uint8))
    assert isinstance(polygons, gpd.GeoDataFrame) and polygons.empty and polygons.crs.to_epsg() == 4326
