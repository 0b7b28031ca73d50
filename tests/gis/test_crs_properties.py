"""Properties of the coordinate helpers over generated inputs (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.crs import bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, parse_angle, wgs84_to_gcj02
from gis.grades import RESERVOIR_CLASSES, geohazard_danger_grade, reservoir_class

china_lon = st.floats(min_value=73.6, max_value=134.9, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_inverse_is_exact_to_a_micro_degree(lon: float, lat: float) -> None:
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(float(back_lon) - lon) < 1e-8 and abs(float(back_lat) - lat) < 1e-8


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_bd09_inverse_is_exact_to_a_micro_degree(lon: float, lat: float) -> None:
    back_lon, back_lat = bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert abs(float(back_lon) - lon) < 1e-7 and abs(float(back_lat) - lat) < 1e-7


@given(st.integers(0, 179), st.integers(0, 59), st.floats(0, 59.999, allow_nan=False), st.sampled_from(["°′″", "度分秒", "°'\""]), st.sampled_from(["", "E", "W"]))
def test_dms_strings_parse_to_their_value(degrees: int, minutes: int, seconds: float, marks: str, hemisphere: str) -> None:
    text = f"{hemisphere}{degrees}{marks[0]}{minutes}{marks[1]}{seconds:.3f}{marks[2]}"
    expected = degrees + minutes / 60 + round(seconds, 3) / 3600
    assert parse_angle(text) == pytest.approx(-expected if hemisphere == "W" else expected, abs=1e-12)


@given(st.floats(1e5, 1e10, allow_nan=False), st.floats(1e5, 1e10, allow_nan=False))
def test_a_larger_reservoir_is_never_in_a_smaller_class(a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert RESERVOIR_CLASSES.index(reservoir_class(large)) <= RESERVOIR_CLASSES.index(reservoir_class(small))  # type: ignore[arg-type]


@given(st.integers(0, 5000), st.floats(0, 20000, allow_nan=False), st.integers(0, 5000))
def test_more_people_under_threat_never_lowers_the_danger_grade(people: int, money: float, more: int) -> None:
    order = ["小型", "中型", "大型", "特大型"]
    assert order.index(geohazard_danger_grade(people + more, money)) >= order.index(geohazard_danger_grade(people, money))  # type: ignore[arg-type]
