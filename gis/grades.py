"""Grades and classes fixed by Chinese standards (see shared/domain.md), as pure functions.

Each returns the Chinese class name that the ledgers and maps use, or ``None`` when the input is
missing. Thresholds are inclusive at the lower bound of each class.
"""

from __future__ import annotations

import math

RESERVOIR_CLASSES = ("大(1)型", "大(2)型", "中型", "小(1)型", "小(2)型")
"""Reservoir classes by total capacity, largest first."""

_RESERVOIR_LOWER_BOUNDS_M3 = (1e9, 1e8, 1e7, 1e6, 1e5)

PARK_RISK_GRADES = ("A", "B", "C", "D")
"""Chemical-park safety-risk grades: A 高 (highest risk) … D 较低 (lowest risk)."""

DANGER_GRADES = ("特大型", "大型", "中型", "小型")
"""Geohazard danger (险情) grades, gravest first."""

RISK_LEVELS = ("重大", "较大", "一般", "低")
"""The four safety-production risk levels, gravest first."""

RISK_LEVEL_COLOURS = {"重大": "#FF0000", "较大": "#FF7F00", "一般": "#FFFF00", "低": "#0000FF"}
"""The official colours of the four levels: red, orange, yellow, blue."""


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def reservoir_class(capacity_m3: float | None) -> str | None:
    """Class of a reservoir from its total capacity in m³ (below 1e5 m³ is a pond, 塘坝: None)."""
    if _missing(capacity_m3):
        return None
    assert capacity_m3 is not None
    for name, lower in zip(RESERVOIR_CLASSES, _RESERVOIR_LOWER_BOUNDS_M3, strict=True):
        if capacity_m3 >= lower:
            return name
    return None


def park_risk_grade(score: float | None) -> str | None:
    """Chemical-park grade from its safety-risk score (0-100): <60 A, 60-70 B, 70-85 C, ≥85 D."""
    if _missing(score):
        return None
    assert score is not None
    if score < 60:
        return "A"
    if score < 70:
        return "B"
    if score < 85:
        return "C"
    return "D"


def geohazard_danger_grade(
    threatened_people: float | None, threatened_property_10k_cny: float | None
) -> str | None:
    """Danger grade from people under threat, or potential loss in 10,000 CNY (万元).

    The graver of the two criteria wins: 特大型 ≥ 1,000 people or ≥ 10,000 万元 (1亿元);
    大型 500-1,000 or 5,000-10,000 万元; 中型 100-500 or 500-5,000 万元; 小型 below.
    """
    if _missing(threatened_people) and _missing(threatened_property_10k_cny):
        return None
    people = 0.0 if _missing(threatened_people) else float(threatened_people or 0.0)
    money = 0.0 if _missing(threatened_property_10k_cny) else float(threatened_property_10k_cny or 0.0)
    if people >= 1000 or money >= 10000:
        return "特大型"
    if people >= 500 or money >= 5000:
        return "大型"
    if people >= 100 or money >= 500:
        return "中型"
    return "小型"


def shelter_capacity_persons(effective_area_m2: float | None, *, area_per_person_m2: float = 1.5) -> int | None:
    """Shelter capacity in persons = effective area / per-capita area (GB 21734: ≥ 1.5 m²/person)."""
    if _missing(effective_area_m2):
        return None
    assert effective_area_m2 is not None
    if area_per_person_m2 <= 0:
        raise ValueError("area per person must be positive (m²)")
    return int(math.floor(effective_area_m2 / area_per_person_m2))


WARNING_LEVELS = ("蓝", "黄", "橙", "红")
"""The four national warning colours (突发事件应对法, 四级预警), lowest first: 蓝 Ⅳ 一般 < 黄 Ⅲ 较大 <
橙 Ⅱ 重大 < 红 Ⅰ 特别重大. Not the risk levels' names: 重大 is 橙 here and 红 there."""

WARNING_GRADES = {"蓝": ("Ⅳ", "一般"), "黄": ("Ⅲ", "较大"), "橙": ("Ⅱ", "重大"), "红": ("Ⅰ", "特别重大")}
"""Each warning colour's grade numeral and name."""

WARNING_COLOURS = {"蓝": "#0000FF", "黄": "#FFFF00", "橙": "#FF7F00", "红": "#FF0000"}
"""The warning colours as drawn."""


def warning_rank(level: str | None) -> int:
    """0 (蓝) … 3 (红), or -1 for no warning; a ValueError names the allowed colours."""
    if level is None:
        return -1
    if level not in WARNING_LEVELS:
        raise ValueError(f"warning level must be one of {'/'.join(WARNING_LEVELS)}, got {level!r}")
    return WARNING_LEVELS.index(level)
