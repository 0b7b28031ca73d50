"""The tile grid against the OpenStreetMap wiki's slippy-map formulas ("Slippy map tilenames") and
pyproj's own Web-Mercator projection."""

from __future__ import annotations

import math

import pytest
from pyproj import Transformer

from web.tile_grid import tile_bounds_m, tile_exists, tile_of, tile_overlaps


def _osm_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)


@pytest.mark.parametrize(("lon", "lat", "z"), [(116.59, 35.41, 9), (116.59, 35.41, 14), (-0.1276, 51.5072, 12), (151.21, -33.87, 16), (0.5, 0.5, 1)])
def test_the_tile_of_a_point_and_its_bounds(lon: float, lat: float, z: int) -> None:
    x, y = tile_of(lon, lat, z)
    assert (x, y) == _osm_tile(lon, lat, z)
    west, south, east, north = tile_bounds_m(z, x, y)
    px, py = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    assert west <= px <= east and south <= py <= north
    assert east - west == pytest.approx(2 * 20037508.342789244 / 2**z)
    assert tile_overlaps(z, x, y, (lon - 1e-6, lat - 1e-6, lon + 1e-6, lat + 1e-6))
    width = 360.0 / 2**z  # degrees of longitude a tile spans
    assert not tile_overlaps(z, x, y, (lon + width, lat - 1e-6, lon + 1.5 * width, lat + 1e-6))


def test_only_tiles_of_the_zoom_exist() -> None:
    assert tile_exists(3, 7, 7) and not tile_exists(3, 8, 0) and not tile_exists(3, 0, 8) and not tile_exists(0, 1, 0)
