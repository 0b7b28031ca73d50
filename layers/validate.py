"""Cell-level coercion and checks against a field spec, and the derived fields.

Each check returns a value or raises ``ValueError`` with a message meant for the import report.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gis import grades

from .catalogue import FieldSpec, LayerSpec

_TRUE = {"true", "t", "1", "yes", "y", "是", "单行", "单向"}
_FALSE = {"false", "f", "0", "no", "n", "否", "双向", "双行"}


def is_missing(value: Any) -> bool:
    """None, NaN, NA, NaT or blank text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _number_text(value: str) -> str:
    return value.strip().replace(",", "").replace("，", "").replace(" ", "")


def coerce_cell(value: Any, spec: FieldSpec) -> Any:
    """The cell as the field's type, checked against its enum and range. None when missing."""
    if is_missing(value):
        return None
    if spec.type == "str":
        text = str(value).strip()
        if "\x00" in text:
            raise ValueError("text contains a NUL character")
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))  # a code typed as a number in a spreadsheet
        if spec.enum is not None and text not in spec.enum:
            raise ValueError(f"{text!r} is not one of {', '.join(spec.enum)}")
        return text
    if spec.type in ("int", "float"):
        number = _to_number(value)
        if spec.type == "int":
            if not float(number).is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            number = int(number)
            if not -(2**63) <= number < 2**63:
                raise ValueError(f"{value!r} is outside the 64-bit integer range")
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(f"{number} is below the minimum {spec.minimum:g}{_unit(spec)}")
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(f"{number} is above the maximum {spec.maximum:g}{_unit(spec)}")
        return number
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not yes/no (是/否, true/false, 1/0)")
    if spec.type == "datetime":
        if isinstance(value, datetime | pd.Timestamp):
            stamp = pd.Timestamp(value)
        else:
            try:
                stamp = pd.Timestamp(str(value).strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date-time (e.g. 2026-07-01 08:30)") from None
        if stamp is pd.NaT:
            return None
        # Ledger times without a zone are Beijing time.
        return stamp.tz_localize("Asia/Shanghai") if stamp.tzinfo is None else stamp
    raise ValueError(f"unknown field type {spec.type}")


def _to_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return value
    text = _number_text(str(value))
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"text {str(value)!r} in a number field") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _unit(spec: FieldSpec) -> str:
    return f" {spec.unit}" if spec.unit else ""


def derive_geometric_fields(spec: LayerSpec, frame: gpd.GeoDataFrame, *, work_epsg: int) -> None:
    """Fill fields computed from geometry, in place: ``length_m`` and ``area_km2`` measured in the
    metric work CRS (``work_epsg``), rounded to 0.01 m and 0.001 km²."""
    if frame.empty:
        return
    if "length_m" in spec.field_names:
        frame["length_m"] = frame.geometry.to_crs(work_epsg).length.round(2)
    if "area_km2" in spec.field_names:
        frame["area_km2"] = (frame.geometry.to_crs(work_epsg).area / 1e6).round(3)


def derive_fields(layer: str, row: dict[str, Any], *, area_per_person_m2: float) -> list[str]:
    """Fill derived fields of one row in place from its other fields (not geometry).

    Returns warnings for given values that contradict what they derive from.
    """
    warnings: list[str] = []

    def fill(name: str, derived: Any) -> None:
        if derived is None:
            return
        if row.get(name) is None:
            row[name] = derived
        elif row[name] != derived:
            warnings.append(f"{name}: the file says {row[name]!r}, the standard gives {derived!r}; kept the file's value")

    if layer == "reservoirs":
        fill("reservoir_class", grades.reservoir_class(row.get("capacity_m3")))
        level, limit = row.get("current_level_m"), row.get("flood_limit_level_m")
        row["above_flood_limit"] = None if level is None or limit is None else bool(level > limit)
    elif layer == "geohazard_points":
        fill("danger_grade", grades.geohazard_danger_grade(row.get("threatened_people"), row.get("threatened_property_10k_cny")))
    elif layer == "chemical_parks":
        fill("risk_grade", grades.park_risk_grade(row.get("risk_score")))
    elif layer == "shelters":
        fill("capacity_persons", grades.shelter_capacity_persons(row.get("effective_area_m2"), area_per_person_m2=area_per_person_m2))
    return warnings
