"""GeoJSON out: every kind of missing value becomes null, and results are rounded, not stored rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.io.geojson import (
    RESULT_PRECISION_DEG,
    feature_collection,
    geometry_json,
    json_value,
    records,
)


def test_every_missing_value_is_null_and_numbers_are_plain() -> None:
    for missing in (None, float("nan"), np.float32("nan"), np.float64("nan"), pd.NA, pd.NaT):
        assert json_value(missing) is None, repr(missing)
    assert json_value(np.int64(7)) == 7 and type(json_value(np.int64(7))) is int
    assert json_value(pd.Timestamp("2026-12-03T08:00:00Z")) == "2026-12-03T08:00:00+00:00"
    assert json_value(datetime(2026, 12, 3, tzinfo=UTC)) == "2026-12-03T00:00:00+00:00"
    table = pd.DataFrame({"a": [1.5, np.nan], "b": pd.array([1, None], dtype="Int64")})
    assert json.dumps(records(table), allow_nan=False) == '[{"a": 1.5, "b": 1}, {"a": null, "b": null}]'


def test_results_are_rounded_to_the_stated_precision() -> None:
    frame = gpd.GeoDataFrame({"minutes": [5.0, np.nan]}, geometry=[shapely.Point(116.123456789123, 35.987654321987), None], crs=4326)
    body = feature_collection(frame, origin={"lon": 1.0, "lat": 2.0})
    x, y = body["features"][0]["geometry"]["coordinates"]
    assert abs(x - 116.1234568) < RESULT_PRECISION_DEG / 10 and abs(y - 35.9876543) < RESULT_PRECISION_DEG / 10
    assert body["features"][1] == {"type": "Feature", "geometry": None, "properties": {"minutes": None}}
    assert body["origin"] == {"lon": 1.0, "lat": 2.0}
    json.dumps(body, allow_nan=False)


def test_geometries_are_written_as_shapely_maps_them() -> None:
    """geometry_json builds coordinates from ragged arrays; shapely's own mapping is the reference."""
    shapes = [
        "POINT (116.5 35.2)",
        "POINT Z (116.5 35.2 40)",
        "LINESTRING (0 0, 1 1, 2 2)",
        "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
        "MULTIPOINT (1 2, 3 4)",
        "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3, 4 4))",
        "MULTIPOLYGON (((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1)), ((10 10, 11 10, 11 11, 10 10)))",
        "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
    ]
    for wkt in shapes:
        geometry = shapely.from_wkt(wkt)
        expected = json.loads(json.dumps(shapely.geometry.mapping(geometry)))
        assert json.loads(json.dumps(geometry_json(geometry))) == expected, wkt
    assert geometry_json(None) is None and geometry_json(shapely.Polygon()) is None
