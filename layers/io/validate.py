"""Checks of values against a field spec, column by column, and the derived fields.

``coerce_column`` is the one implementation: it turns a column as read (text from a ledger,
numbers and booleans from JSON or a GIS file) into the field's type, checked against its
enumeration (with the ledger synonyms of ``layers.io.ledger``), range and plausible range. A
million-row column costs a few vectorised passes, not a million Python calls.
``coerce_cell``/``derive_fields`` apply the same to one value or row (the API's writes).
Messages are meant for the import report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import grades
from layers.catalogue import FieldSpec, LayerSpec
from layers.io.ledger import map_values, numbers_from_text, value_lookup

_TRUE = {"true", "t", "1", "yes", "y", "是", "单行", "单向"}
_FALSE = {"false", "f", "0", "no", "n", "否", "双向", "双行"}
_INT64_LIMIT = 2.0**63


def is_missing(value: Any) -> bool:
    """None, NaN, NA, NaT or blank text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def missing_mask(column: pd.Series) -> np.ndarray:
    """``is_missing`` for a whole column."""
    mask = column.isna().to_numpy()
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        blank = column.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        mask = mask | blank
    return np.asarray(mask, dtype=bool)


@dataclass
class Coerced:
    """A column in the field's type (None/NaN where missing or wrong), and what was wrong, by
    position: ``errors`` reject the row, ``warnings`` only flag it."""

    values: pd.Series
    errors: dict[int, str] = field(default_factory=dict)
    warnings: dict[int, str] = field(default_factory=dict)


def _unit(spec: FieldSpec) -> str:
    return f" {spec.unit}" if spec.unit else ""


@cache
def _lookup(spec: FieldSpec) -> dict[str, str]:
    """Value key → allowed value for an enumerated field (built once per field)."""
    assert spec.enum is not None
    table = value_lookup(spec.enum, dict(spec.synonyms))
    for value_key_, meant in list(table.items()):
        # 一类/Ⅰ级/A级: a trailing 类/级 adds nothing to the class it names.
        for suffix in ("类", "级"):
            table.setdefault(value_key_ + suffix, meant)
    return table


def _as_text(column: pd.Series) -> pd.Series:
    def text(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # a code typed as a number in a spreadsheet
        return str(value).strip()

    if pd.api.types.is_string_dtype(column.dtype) and column.map(lambda value: type(value) is str).all():
        return column.str.strip()
    return column.map(text)


def coerce_column(column: pd.Series, spec: FieldSpec, *, factor: float = 1.0) -> Coerced:
    """``column`` (any index) as the field's type; positions in the result count from 0.

    ``factor`` converts numbers from the unit the file wrote to the field's unit.
    """
    raw = column.reset_index(drop=True)
    missing = missing_mask(raw)
    present = np.flatnonzero(~missing)
    result = Coerced(pd.Series([None] * len(raw), dtype=object))
    if present.size == 0:
        if spec.type == "float":
            result.values = pd.Series(np.full(len(raw), np.nan))
        return result
    if spec.type == "str":
        _coerce_text(raw, present, spec, result)
    elif spec.type in ("int", "float"):
        _coerce_number(raw, present, spec, factor, result)
    elif spec.type == "bool":
        _coerce_bool(raw, present, result)
    elif spec.type == "datetime":
        _coerce_datetime(raw, present, result)
    else:
        raise ValueError(f"unknown field type {spec.type}")
    return result


def _coerce_text(raw: pd.Series, present: np.ndarray, spec: FieldSpec, result: Coerced) -> None:
    text = _as_text(raw.iloc[present])
    good = ~text.str.contains("\x00", regex=False).to_numpy(dtype=bool)
    for position in present[~good]:
        result.errors[int(position)] = "text contains a NUL character"
    if spec.enum is not None:
        mapped = map_values(text, _lookup(spec))
        unknown = mapped.isna().to_numpy() & good
        allowed = ", ".join(spec.enum)
        for position, value in zip(present[unknown], text[unknown], strict=True):
            result.errors[int(position)] = f"{value!r} is not one of {allowed}"
        good &= ~unknown
        text = mapped
    values = np.full(len(raw), None, dtype=object)
    values[present[good]] = text.to_numpy(dtype=object)[good]
    result.values = pd.Series(values, dtype=object)


def _coerce_number(raw: pd.Series, present: np.ndarray, spec: FieldSpec, factor: float, result: Coerced) -> None:
    chosen = raw.iloc[present]
    is_bool = chosen.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    numbers, bad = numbers_from_text(chosen.where(~is_bool, None) if is_bool.any() else chosen)
    numbers = numbers * factor if factor != 1.0 else numbers
    bad = bad | is_bool | (~np.isfinite(numbers) & ~np.asarray(chosen.isna()))
    for position, value in zip(present[bad], chosen[bad], strict=True):
        result.errors[int(position)] = f"{value!r} is not a number" if isinstance(value, bool | int | float) else f"text {str(value)!r} in a number field"
    ok = ~bad
    if spec.type == "int":
        fractional = ok & (np.floor(numbers) != numbers)
        for position, value in zip(present[fractional], chosen[fractional], strict=True):
            result.errors[int(position)] = f"{value!r} is not a whole number"
        huge = ok & ~fractional & ((numbers >= _INT64_LIMIT) | (numbers < -_INT64_LIMIT))
        for position, value in zip(present[huge], chosen[huge], strict=True):
            result.errors[int(position)] = f"{value!r} is outside the 64-bit integer range"
        ok = ok & ~fractional & ~huge
    typed: list[Any] = [int(v) for v in numbers[ok]] if spec.type == "int" else list(numbers[ok])
    for bound, below in ((spec.minimum, True), (spec.maximum, False)):
        if bound is None:
            continue
        out = ok & ((numbers < bound) if below else (numbers > bound))
        word = "below the minimum" if below else "above the maximum"
        for position, number in zip(present[out], numbers[out], strict=True):
            shown = int(number) if spec.type == "int" else float(number)
            result.errors[int(position)] = f"{shown} is {word} {bound:g}{_unit(spec)}"
    if spec.plausible is not None:
        low, high, question = spec.plausible
        odd = ok & (((numbers < low) if low is not None else False) | ((numbers > high) if high is not None else False))
        for position, number in zip(present[odd], numbers[odd], strict=True):
            if int(position) not in result.errors:
                result.warnings[int(position)] = f"{number:,.10g}{_unit(spec)} looks implausible: {question}"
    if spec.type == "float":
        values = np.full(len(raw), np.nan)
        values[present[ok]] = numbers[ok]
        result.values = pd.Series(values)
    else:
        objects = np.full(len(raw), None, dtype=object)
        objects[present[ok]] = typed
        result.values = pd.Series(objects, dtype=object)
    for position in list(result.errors):
        if spec.type == "float":
            result.values.iloc[position] = np.nan
        else:
            result.values.iloc[position] = None


def _coerce_bool(raw: pd.Series, present: np.ndarray, result: Coerced) -> None:
    values = np.full(len(raw), None, dtype=object)
    for position in present:
        value = raw.iloc[position]
        if isinstance(value, bool | np.bool_):
            values[position] = bool(value)
            continue
        text = str(value).strip().lower()
        if text in _TRUE:
            values[position] = True
        elif text in _FALSE:
            values[position] = False
        else:
            result.errors[int(position)] = f"{value!r} is not yes/no (是/否, true/false, 1/0)"
    result.values = pd.Series(values, dtype=object)


def _coerce_datetime(raw: pd.Series, present: np.ndarray, result: Coerced) -> None:
    values = np.full(len(raw), None, dtype=object)
    for position in present:
        value = raw.iloc[position]
        if isinstance(value, datetime | pd.Timestamp):
            stamp = pd.Timestamp(value)
        else:
            try:
                stamp = pd.Timestamp(str(value).strip())
            except ValueError:
                result.errors[int(position)] = f"{value!r} is not a date-time (e.g. 2026-07-01 08:30)"
                continue
        if stamp is pd.NaT:
            continue
        # Ledger times without a zone are Beijing time.
        values[position] = stamp.tz_localize("Asia/Shanghai") if stamp.tzinfo is None else stamp
    result.values = pd.Series(values, dtype=object)


def coerce_cell(value: Any, spec: FieldSpec) -> Any:
    """One value as the field's type (None when missing); ``ValueError`` with the reason otherwise."""
    coerced = coerce_column(pd.Series([value], dtype=object), spec)
    if coerced.errors:
        raise ValueError(coerced.errors[0])
    result = coerced.values.iloc[0]
    return None if isinstance(result, float) and math.isnan(result) else result


def derive_geometric_fields(spec: LayerSpec, frame: gpd.GeoDataFrame, *, work_epsg: int) -> None:
    """Fill fields computed from geometry, in place: ``length_m`` and ``area_km2`` measured in the
    metric work CRS (``work_epsg``), rounded to 0.01 m and 0.001 km²."""
    if frame.empty:
        return
    if "length_m" in spec.field_names:
        frame["length_m"] = frame.geometry.to_crs(work_epsg).length.round(2)
    if "area_km2" in spec.field_names:
        frame["area_km2"] = (frame.geometry.to_crs(work_epsg).area / 1e6).round(3)


def derive_columns(layer: str, frame: pd.DataFrame, *, area_per_person_m2: float) -> dict[int, list[tuple[str, str]]]:
    """Fill derived fields of ``frame`` in place from its other fields (not geometry).

    Returns warnings by row position, ``(field, message)``, for given values that contradict
    what they derive from (the file's value is kept).
    """
    warnings: dict[int, list[tuple[str, str]]] = {}

    def fill(name: str, derived: list[Any]) -> None:
        given = frame[name].to_numpy(dtype=object)
        out = given.copy()
        for position, (have, want) in enumerate(zip(given, derived, strict=True)):
            if want is None:
                continue
            if is_missing(have):
                out[position] = want
            elif have != want:
                warnings.setdefault(position, []).append((name, f"the file says {have!r}, the standard gives {want!r}; kept the file's value"))
        frame[name] = out

    def numbers(name: str) -> list[float | None]:
        return [None if is_missing(v) else float(v) for v in frame[name].to_numpy(dtype=object)]

    if layer == "reservoirs":
        fill("reservoir_class", [grades.reservoir_class(v) for v in numbers("capacity_m3")])
        frame["above_flood_limit"] = [
            None if level is None or limit is None else bool(level > limit)
            for level, limit in zip(numbers("current_level_m"), numbers("flood_limit_level_m"), strict=True)
        ]
    elif layer == "geohazard_points":
        fill("danger_grade", [grades.geohazard_danger_grade(p, m) for p, m in zip(numbers("threatened_people"), numbers("threatened_property_10k_cny"), strict=True)])
    elif layer == "chemical_parks":
        fill("risk_grade", [grades.park_risk_grade(v) for v in numbers("risk_score")])
    elif layer == "shelters":
        fill("capacity_persons", [grades.shelter_capacity_persons(v, area_per_person_m2=area_per_person_m2) for v in numbers("effective_area_m2")])
    return warnings


def derive_fields(layer: str, row: dict[str, Any], *, area_per_person_m2: float) -> list[str]:
    """``derive_columns`` for one row (a dict), in place; returns ``"field: message"`` warnings."""
    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in row.items()})
    found = derive_columns(layer, frame, area_per_person_m2=area_per_person_m2)
    for name in frame.columns:
        value = frame[name].iloc[0]
        row[name] = None if is_missing(value) else value
    return [f"{name}: {message}" for name, message in found.get(0, [])]
