"""Conversion between GeoDataFrames and plain rows for the stores, per catalogue spec.

Both stores hold attributes as plain Python values (str, int, float, bool, UTC datetime, None) and
geometries as 2-D WKB in EPSG:4326; this module is the one place that converts to and from
pandas dtypes, so that a frame read from either store looks the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pandas.api.extensions import ExtensionDtype

from gis.crs import STORE_EPSG
from layers.catalogue import SOURCE_ID, FieldType, LayerSpec
from layers.errors import InputError

_PANDAS_DTYPES: dict[FieldType, np.dtype[Any] | ExtensionDtype] = {
    "str": np.dtype(object),
    "int": pd.Int64Dtype(),
    "float": np.dtype(np.float64),
    "bool": pd.BooleanDtype(),
    "datetime": pd.DatetimeTZDtype("ms", "UTC"),
}


_ALLOWED_GEOMETRY_TYPES: dict[str, set[str]] = {
    "Point": {"Point"},
    "LineString": {"LineString"},
    "Polygon": {"Polygon"},
    "MultiPolygon": {"MultiPolygon"},
    "Geometry": set(),  # any
}


@dataclass(frozen=True)
class Rows:
    """A batch ready for a store: attribute tuples in ``spec.columns`` order and 2-D WKB geometries."""

    values: list[tuple[Any, ...]]
    wkbs: list[bytes]

    def __len__(self) -> int:
        return len(self.values)


def normalise_value(value: Any, field_type: FieldType) -> Any:
    """A cell as a plain, comparable Python value (None for any kind of missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if field_type == "str":
        return str(value)
    if field_type == "int":
        return int(value)
    if field_type == "float":
        return float(value)
    if field_type == "bool":
        return bool(value)
    if field_type == "datetime":
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        # Millisecond precision: what GeoPackage's DATETIME holds, so both stores agree.
        return stamp.floor("ms").to_pydatetime()
    raise ValueError(f"unknown field type {field_type!r}")


def datetime_to_gpkg(value: datetime) -> str:
    """GeoPackage DATETIME text: ISO 8601 UTC with milliseconds, e.g. 2026-07-01T08:00:00.000Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def rows_from_frame(spec: LayerSpec, frame: gpd.GeoDataFrame) -> Rows:
    """Check a frame against the spec and turn it into store rows (geometry to EPSG:4326 2-D WKB).

    Missing optional columns are written as NULL; unknown columns, a missing or duplicated
    ``source_id``, or a missing geometry are an ``InputError`` naming the layer and row.
    """
    unknown = sorted(set(frame.columns) - set(spec.columns) - {frame.geometry.name})
    if unknown:
        raise InputError(f"layer {spec.name}: unknown columns {unknown}; fields are {list(spec.columns)}")
    if SOURCE_ID not in frame.columns:
        raise InputError(f"layer {spec.name}: the batch has no {SOURCE_ID} column")
    if frame.crs is None:
        raise InputError(f"layer {spec.name}: the batch has no CRS")
    geoms = frame.geometry.to_crs(STORE_EPSG).array if frame.crs.to_epsg() != STORE_EPSG else frame.geometry.array
    geom_values = np.asarray(geoms, dtype=object)
    source_ids = frame[SOURCE_ID]
    allowed = _ALLOWED_GEOMETRY_TYPES[spec.geometry_type]
    for position, (sid, geom) in enumerate(zip(source_ids, geom_values, strict=True)):
        if normalise_value(sid, "str") in (None, ""):
            raise InputError(f"layer {spec.name}: row {position + 1} has no {SOURCE_ID}")
        if geom is None or geom.is_empty:
            raise InputError(f"layer {spec.name}: row {position + 1} ({sid}) has no geometry")
        if allowed and geom.geom_type not in allowed:
            raise InputError(f"layer {spec.name}: row {position + 1} ({sid}) is a {geom.geom_type}, the layer takes {spec.geometry_type}")
    duplicated = source_ids[source_ids.duplicated()].astype(str).unique().tolist()
    if duplicated:
        raise InputError(f"layer {spec.name}: duplicated {SOURCE_ID} in one batch: {duplicated[:10]}")
    types: list[FieldType] = ["str", *(f.type for f in spec.fields)]
    columns = [
        [normalise_value(v, t) for v in frame[c]] if c in frame.columns else [None] * len(frame)
        for c, t in zip(spec.columns, types, strict=True)
    ]
    wkbs = [bytes(b) for b in shapely.to_wkb(geom_values, output_dimension=2, byte_order=1)]
    return Rows(values=list(zip(*columns, strict=True)) if columns else [], wkbs=wkbs)


def frame_from_rows(spec: LayerSpec, values: Sequence[tuple[Any, ...]], wkbs: Iterable[bytes | None]) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 with ``spec.columns`` typed by the spec, from store rows."""
    data = pd.DataFrame.from_records(list(values), columns=list(spec.columns))
    for name, field_type in zip(spec.columns, ["str", *(f.type for f in spec.fields)], strict=True):
        data[name] = _typed_column(data[name], field_type)
    geometry = shapely.from_wkb(np.asarray(list(wkbs), dtype=object))
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=STORE_EPSG, index=data.index), crs=STORE_EPSG)


def empty_frame(spec: LayerSpec) -> gpd.GeoDataFrame:
    """An empty frame with the spec's columns and dtypes (EPSG:4326)."""
    return frame_from_rows(spec, [], [])


def _typed_column(column: pd.Series, field_type: FieldType) -> pd.Series:
    if field_type == "str":
        return column.astype(object).where(column.notna(), None)
    if field_type == "datetime":
        return pd.to_datetime(column, utc=True, format="ISO8601").astype(_PANDAS_DTYPES["datetime"])
    if field_type == "bool":
        return column.map(lambda v: None if v is None or v is pd.NA else bool(v)).astype("boolean")
    return column.astype(_PANDAS_DTYPES[field_type])
