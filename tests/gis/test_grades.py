from __future__ import annotations

import pytest

from gis.grades import (
    geohazard_danger_grade,
    park_risk_grade,
    reservoir_class,
    shelter_capacity_persons,
)


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [(1e9, "大(1)型"), (9.99e8, "大(2)型"), (1e8, "大(2)型"), (5e7, "中型"), (1e7, "中型"), (1e6, "小(1)型"), (1e5, "小(2)型"), (9e4, None), (None, None), (float("nan"), None)],
)
def test_reservoir_class(capacity: float | None, expected: str | None) -> None:
    assert reservoir_class(capacity) == expected


@pytest.mark.parametrize(("score", "expected"), [(59.9, "A"), (60, "B"), (69.9, "B"), (70, "C"), (84.9, "C"), (85, "D"), (100, "D")])
def test_park_risk_grade(score: float, expected: str) -> None:
    assert park_risk_grade(score) == expected


@pytest.mark.parametrize(
    ("people", "money", "expected"),
    [(1000, 0, "特大型"), (10, 10000, "特大型"), (500, None, "大型"), (None, 5000, "大型"), (100, 0, "中型"), (0, 500, "中型"), (99, 499, "小型"), (None, None, None)],
)
def test_geohazard_danger_grade(people: float | None, money: float | None, expected: str | None) -> None:
    assert geohazard_danger_grade(people, money) == expected


def test_shelter_capacity() -> None:
    assert shelter_capacity_persons(3000.0) == 2000
    assert shelter_capacity_persons(3000.0, area_per_person_m2=2.0) == 1500
    assert shelter_capacity_persons(None) is None
    with pytest.raises(ValueError, match="positive"):
        shelter_capacity_persons(10.0, area_per_person_m2=0)
