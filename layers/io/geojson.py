"""GeoJSON out (RFC 7946, EPSG:4326 lon/lat): the one place that turns stored rows and analysis
results into features, and missing values (None, NaN, NA, NaT) into JSON null.

Stored rows keep their coordinates as stored; analysis results (routes, service areas, gaps,
sites) are rounded to ``RESULT_PRECISION_DEG``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from layers.catalogue import SOURCE_ID, LayerSpec

RESULT_PRECISION_DEG = 1e-7
"""Coordinates of computed results (routes, service areas, gaps, sites) are rounded to 1e-7° (about
1 cm): 17 digits of an analysis' float noise would double the size of every answer."""


def json_value(value: Any) -> Any:
    """A cell as a JSON value: missing (None, NaN, NA, NaT) as None, times as ISO 8601, numpy
    scalars as Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    return value


_RAGGED_TYPES = frozenset({"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"})


def geometry_json(geometry: BaseGeometry | None) -> dict[str, Any] | None:
    """A geometry as a GeoJSON geometry object (None for none or empty).

    From shapely's ragged arrays (coordinates and offsets, in C) with one ``tolist``: shapely's own
    ``mapping`` walks every coordinate in Python, which cost ten times as much for service areas'
    outlines of thousands of vertices."""
    if geometry is None or geometry.is_empty:
        return None
    kind = geometry.geom_type
    if kind not in _RAGGED_TYPES:
        return shapely.geometry.mapping(geometry)  # GeometryCollection: no ragged form
    _, coords, offsets = shapely.to_ragged_array([geometry])
    nested: list[Any] = coords.tolist()
    for level in offsets:  # innermost first: coordinates into rings or parts, rings into polygons, …
        bounds = level.tolist()
        nested = [nested[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return {"type": kind, "coordinates": nested[0]}  # the outermost level holds the one geometry


def _column_rows(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """The rows of ``columns`` as dicts of JSON values, read column by column (``to_dict("records")``
    costs milliseconds even for three rows)."""
    values = [[json_value(v) for v in frame[c].tolist()] for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)] if columns else [{} for _ in range(len(frame))]


def features_of(spec: LayerSpec, frame: gpd.GeoDataFrame, *, restricted: bool = False) -> list[dict[str, Any]]:
    """A layer's rows as GeoJSON features: id = source_id, properties = the spec's fields (units
    in the schema); restricted fields only with ``restricted=True`` (the reader has clearance)."""
    columns = spec.visible_columns(restricted=restricted)
    return [
        {
            "type": "Feature",
            "id": properties[SOURCE_ID],
            "geometry": geometry_json(geometry),
            "properties": properties,
        }
        for properties, geometry in zip(_column_rows(frame, list(columns)), frame.geometry, strict=True)
    ]


def collection(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A FeatureCollection of ``features``; ``extra`` goes at the top level."""
    return {"type": "FeatureCollection", "features": features, **extra}


def feature_collection(frame: gpd.GeoDataFrame, **extra: Any) -> dict[str, Any]:
    """An analysis result frame (EPSG:4326) as a FeatureCollection, every column a property and
    the coordinates rounded to ``RESULT_PRECISION_DEG``; ``extra`` goes at the top level."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    geometries = shapely.set_precision(np.asarray(frame.geometry.array, dtype=object), RESULT_PRECISION_DEG, mode="pointwise")
    features = [
        {
            "type": "Feature",
            "geometry": geometry_json(geometry),
            "properties": properties,
        }
        for properties, geometry in zip(_column_rows(frame, columns), geometries, strict=True)
    ]
    return collection(features, **extra)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as JSON objects (missing values as null)."""
    return _column_rows(frame, [str(c) for c in frame.columns])
