"""The Web-Mercator XYZ tile grid (OGC's WebMercatorQuad, EPSG:3857), the one tile maths of the
risk tiles, the basemap and the share links: through morecantile, rather than a copy of the
formulas in each."""

from __future__ import annotations

import morecantile

WEB_MERCATOR_QUAD = morecantile.tms.get("WebMercatorQuad")
TILE_PX = 256
"""Pixels along a tile's side."""


def tile_exists(z: int, x: int, y: int) -> bool:
    """Whether x and y address a tile at zoom z (0 ≤ x, y < 2^z)."""
    return z >= 0 and 0 <= x < 2**z and 0 <= y < 2**z


def tile_bounds_m(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of an XYZ tile in Web-Mercator metres."""
    box = WEB_MERCATOR_QUAD.xy_bounds(morecantile.Tile(x, y, z))
    return box.left, box.bottom, box.right, box.top


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(x, y) of the XYZ tile holding a lon/lat point (degrees) at zoom ``z``."""
    tile = WEB_MERCATOR_QUAD.tile(lon, lat, z)
    return tile.x, tile.y


def tile_overlaps(z: int, x: int, y: int, bbox: tuple[float, float, float, float] | list[float]) -> bool:
    """Whether an XYZ tile overlaps a (west, south, east, north) lon/lat box (degrees)."""
    box = WEB_MERCATOR_QUAD.bounds(morecantile.Tile(x, y, z))
    west, south, east, north = bbox
    return not (box.right < west or box.left > east or box.top < south or box.bottom > north)
