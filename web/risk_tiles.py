"""The risk levels as XYZ PNG tiles: the level raster resampled (nearest) to Web Mercator in the
official colours (红/橙/黄/蓝, translucent), nodata transparent."""

from __future__ import annotations

import warnings

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, reproject

from gis.grades import RISK_LEVEL_COLOURS
from gis.risk.model import LEVEL_CODES, NODATA
from gis.risk.zoning import RiskResult

from .tile_grid import TILE_PX, tile_bounds_m

OPACITY = 170
"""Alpha of a coloured cell (0-255): the basemap shows through."""


def _palette() -> np.ndarray:
    palette = np.zeros((256, 4), dtype=np.uint8)
    for code, name in LEVEL_CODES.items():
        colour = RISK_LEVEL_COLOURS[name].lstrip("#")
        palette[code] = (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16), OPACITY)
    return palette


PALETTE = _palette()
"""RGBA of each level code; every other value (nodata, 0) transparent."""


def render_risk_tile(result: RiskResult, z: int, x: int, y: int) -> bytes:
    """The level raster of ``result`` on one XYZ tile, as a 256 × 256 RGBA PNG."""
    west, south, east, north = tile_bounds_m(z, x, y)
    tile = np.zeros((TILE_PX, TILE_PX), dtype=np.uint8)
    reproject(result.levels, tile, src_transform=result.grid.transform, src_crs=f"EPSG:{result.grid.epsg}", src_nodata=NODATA,
              dst_transform=from_bounds(west, south, east, north, TILE_PX, TILE_PX), dst_crs="EPSG:3857", dst_nodata=NODATA, resampling=Resampling.nearest)
    rgba = PALETTE[tile].transpose(2, 0, 1)
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a tile is positioned by its URL
        with memory.open(driver="PNG", width=TILE_PX, height=TILE_PX, count=4, dtype="uint8") as png:
            png.write(rgba)
        return bytes(memory.read())
