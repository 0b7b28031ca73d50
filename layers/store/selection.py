"""What a read selects, checked once at the edge: a lon/lat bbox (degrees, EPSG:4326), equality
filters coerced to the fields' types, paging; and the text both stores can hold (no NUL)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from layers.catalogue import SOURCE_ID, LayerSpec, get_layer
from layers.errors import InputError
from layers.store.frames import normalise_value

BBox = tuple[float, float, float, float]
"""(min_lon, min_lat, max_lon, max_lat) in degrees, EPSG:4326."""
Filters = Mapping[str, Any]


def check_bbox(bbox: BBox | None) -> BBox | None:
    """Validate a lon/lat bbox: four finite numbers, min < max, within ±180/±90."""
    if bbox is None:
        return None
    if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox):
        raise InputError("bbox must be four finite numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = bbox
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InputError(
            f"bbox {list(bbox)} is not min_lon,min_lat,max_lon,max_lat in degrees with min ≤ max"
        )
    return (float(min_lon), float(min_lat), float(max_lon), float(max_lat))


def check_filters(spec: LayerSpec, filters: Filters | None) -> dict[str, Any]:
    """Validate attribute filters (field → value, equality) against the spec and coerce values."""
    checked: dict[str, Any] = {}
    for name, value in (filters or {}).items():
        if name == SOURCE_ID:
            checked[name] = check_text(normalise_value(value, "str"), what=SOURCE_ID)
            continue
        try:
            field = spec.field(name)
        except KeyError:
            raise InputError(
                f"layer {spec.name} has no field {name!r}; fields: {', '.join(spec.columns)}"
            ) from None
        try:
            typed = normalise_value(_parse_filter_text(value, field.type), field.type)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"filter {name}={value!r}: not a valid {field.type}") from None
        if field.type == "str":
            check_text(typed, what=name)
        elif field.type == "int" and typed is not None and not -(2**63) <= typed < 2**63:
            raise InputError(f"filter {name}={value!r}: outside the 64-bit integer range")
        checked[name] = typed
    return checked


def check_text(value: Any, *, what: str) -> Any:
    """Text that databases can hold: no NUL characters."""
    if isinstance(value, str) and "\x00" in value:
        raise InputError(f"{what}: text must not contain NUL characters")
    return value


def _parse_filter_text(value: Any, field_type: str) -> Any:
    if not isinstance(value, str) or field_type == "str":
        return value
    if field_type == "bool":
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "是"):
            return True
        if lowered in ("false", "0", "no", "否"):
            return False
        raise ValueError(value)
    if field_type == "int":
        return int(value)
    if field_type == "float":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    return value


def check_paging(limit: int | None, offset: int) -> None:
    if limit is not None and limit < 0:
        raise InputError(f"limit must be ≥ 0, got {limit}")
    if offset < 0:
        raise InputError(f"offset must be ≥ 0, got {offset}")


@dataclass(frozen=True)
class Selection:
    """What a read or count selects, checked once: a lon/lat bbox in degrees (None: everywhere),
    equality filters coerced to the fields' types, paging (limit None: all), and a half-open range
    of the store's row ids (``fids``: a whole layer read a range at a time; None: all)."""

    spec: LayerSpec
    bbox: BBox | None
    filters: dict[str, Any]
    limit: int | None = None
    offset: int = 0
    fids: tuple[int, int] | None = None


def select_features(layer: str, bbox: BBox | None, filters: Filters | None, limit: int | None = None, offset: int = 0) -> Selection:
    """A ``Selection`` of ``layer``; ``InputError`` naming the bad bbox, filter or paging value."""
    spec = get_layer(layer)
    checked_bbox = check_bbox(bbox)
    check_paging(limit, offset)
    return Selection(spec, checked_bbox, check_filters(spec, filters), limit, offset)
