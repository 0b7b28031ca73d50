"""The box round a point holds the whole circle, checked against pyproj's geodesics on the ellipsoid."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from gis.nearby import box_around


@pytest.mark.parametrize(("lon", "lat", "radius_km"), [(116.59, 35.41, 5.0), (116.59, 35.41, 40.0), (0.0, 0.0, 10.0), (20.0, 68.0, 30.0), (-70.0, -45.0, 100.0)])
def test_the_box_holds_the_circle_and_little_more(lon: float, lat: float, radius_km: float) -> None:
    west, south, east, north = box_around(lon, lat, radius_km)
    azimuths = np.linspace(0.0, 360.0, 721)
    x, y, _ = Geod(ellps="GRS80").fwd(np.full(azimuths.size, lon), np.full(azimuths.size, lat), azimuths, np.full(azimuths.size, radius_km * 1000.0))
    assert (x >= west).all() and (x <= east).all() and (y >= south).all() and (y <= north).all()
    # Not much larger than the circle: within 1 % of its extent each way.
    assert north - y.max() < 0.01 * (y.max() - lat) and x.min() - west < 0.01 * (lon - x.min())
