"""What the displaced need: a needs profile (per displaced person, or per N persons, per day or
week or once, for a number of days) and the quantities it gives for a number of people.

    quantity = displaced / per_persons × quantity_per × (days / period_days)

with period_days 1 for ``day``, 7 for ``week``; an item of period ``once`` (a toilet, a tent) is
needed once whatever the days. Countable units (piece, set, kit, …) are rounded UP to whole
items (1 family kit per 5 persons: 11 persons need 3 kits), as InaSAFE does "to avoid
representing human lives as fractions"; amounts in kg, l, m³ … stay unrounded floats. A value
within 1e-9 of a whole number counts as that number (7/7 weeks of 20 kits is 20, not 21).

Reading a profile from YAML is ``layers.io.needs_profile``; the shipped profiles are
``layers/defaults/needs_inasafe.yaml`` and ``needs_china.yaml``, each item with its source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import ScenarioInputError

AMOUNT_UNITS = ("kg", "g", "t", "l", "ml", "m3", "m2")
"""Units measured, not counted: quantities stay floats."""
COUNT_UNITS = ("piece", "set", "kit", "box", "bag", "bottle")
"""Units counted in whole items: quantities are rounded up."""
UNITS = AMOUNT_UNITS + COUNT_UNITS
UNITS_ZH = {"kg": "千克", "g": "克", "t": "吨", "l": "升", "ml": "毫升", "m3": "立方米", "m2": "平方米",
            "piece": "个", "set": "套", "kit": "包", "box": "箱", "bag": "袋", "bottle": "瓶"}
"""Each unit as a Chinese reader writes it (the brief, the wall map)."""
PERIOD_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "once": None}
"""Days per period; ``once`` does not scale with the days."""

_PROFILE_KEYS = {"name", "source", "days", "items", "notes", "unsourced"}
_ITEM_KEYS = {"item", "name_zh", "unit", "quantity", "period", "per_persons", "source", "note"}


class NeedsProfileError(ScenarioInputError):
    """A needs profile is malformed: the message names the profile (file), the item and the
    allowed values."""


@dataclass(frozen=True)
class NeedItem:
    """``quantity`` of ``unit`` per ``per_persons`` displaced persons per ``period``."""

    item: str
    name_zh: str
    unit: str
    quantity: float
    period: str
    per_persons: float = 1.0
    source: str = ""
    note: str = ""

    @property
    def countable(self) -> bool:
        return self.unit in COUNT_UNITS

    def amount(self, displaced: float, days: float) -> float:
        """What ``displaced`` persons need of this item over ``days`` days (rounded up if countable)."""
        period = PERIOD_DAYS[self.period]
        value = displaced / self.per_persons * self.quantity * (1.0 if period is None else days / period)
        return float(math.ceil(round(value, 9))) if self.countable else value


@dataclass(frozen=True)
class NeedsProfile:
    """A named list of needs with its source and default number of days. ``unsourced`` lists
    needs known to matter for which no quantity could be sourced (item, name_zh, note)."""

    name: str
    source: str
    days: float
    items: tuple[NeedItem, ...]
    notes: str = ""
    unsourced: tuple[Mapping[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, document: Any, *, source: str) -> NeedsProfile:
        """The profile in a parsed YAML/JSON ``document``; ``source`` (the file) starts every error."""
        if not isinstance(document, Mapping):
            raise NeedsProfileError(f"{source}: a needs profile is a mapping with keys {', '.join(sorted(_PROFILE_KEYS))}")
        _no_unknown_keys(document, _PROFILE_KEYS, f"{source}")
        for key in ("name", "source"):
            if not isinstance(document.get(key), str) or not document[key].strip():
                raise NeedsProfileError(f"{source}: '{key}' must be a non-empty text")
        days = _positive(document.get("days"), f"{source}: 'days'")
        items = document.get("items")
        if not isinstance(items, list) or not items:
            raise NeedsProfileError(f"{source}: 'items' must be a non-empty list of needs")
        parsed = tuple(_item(raw, source, k) for k, raw in enumerate(items, start=1))
        seen: set[str] = set()
        for need in parsed:
            if need.item in seen:
                raise NeedsProfileError(f"{source}: item {need.item!r} is listed twice")
            seen.add(need.item)
        unsourced = document.get("unsourced") or []
        if not isinstance(unsourced, list) or not all(isinstance(u, Mapping) and isinstance(u.get("item"), str) for u in unsourced):
            raise NeedsProfileError(f"{source}: 'unsourced' must be a list of mappings with at least 'item'")
        notes = document.get("notes") or ""
        return cls(document["name"], document["source"], days, parsed, str(notes), tuple({k: str(v) for k, v in u.items()} for u in unsourced))

    def item(self, item: str) -> NeedItem:
        for need in self.items:
            if need.item == item:
                return need
        raise KeyError(item)


def _no_unknown_keys(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        raise NeedsProfileError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise NeedsProfileError(f"{what} must be a number > 0, got {value!r}")
    return float(value)


def _item(raw: Any, source: str, number: int) -> NeedItem:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("item"), str) or not raw["item"].strip():
        raise NeedsProfileError(f"{source}: item {number} must be a mapping with an 'item' id (English), got {raw!r}")
    where = f"{source}: item {number} ({raw['item']!r})"
    _no_unknown_keys(raw, _ITEM_KEYS, where)
    unit = raw.get("unit")
    if unit not in UNITS:
        raise NeedsProfileError(f"{where}: unit {unit!r} is not known; allowed units: {', '.join(UNITS)}")
    period = raw.get("period")
    if period not in PERIOD_DAYS:
        raise NeedsProfileError(f"{where}: period {period!r} is not known; allowed: {', '.join(PERIOD_DAYS)}")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not math.isfinite(quantity) or quantity < 0:
        raise NeedsProfileError(f"{where}: quantity must be a number ≥ 0, got {quantity!r}")
    per_persons = _positive(raw.get("per_persons", 1), f"{where}: per_persons")
    name_zh = raw.get("name_zh")
    if not isinstance(name_zh, str) or not name_zh.strip():
        raise NeedsProfileError(f"{where}: 'name_zh' (the Chinese name) must be a non-empty text")
    return NeedItem(raw["item"], name_zh, unit, float(quantity), period, per_persons, str(raw.get("source") or ""), str(raw.get("note") or ""))


def _days(profile: NeedsProfile, days: float | None) -> float:
    if days is None:
        return profile.days
    if isinstance(days, bool) or not isinstance(days, int | float) or not math.isfinite(days) or days <= 0:
        raise ScenarioInputError(f"days must be a number > 0, got {days!r}")
    return float(days)


def _persons(displaced: float, what: str) -> float:
    if isinstance(displaced, bool) or not isinstance(displaced, int | float | np.integer | np.floating) or not math.isfinite(displaced) or displaced < 0:
        raise ScenarioInputError(f"{what} must be a number of persons ≥ 0, got {displaced!r}")
    return float(displaced)


def needs_for(displaced: float, profile: NeedsProfile, *, days: float | None = None) -> pd.DataFrame:
    """What ``displaced`` persons (one shelter's, or a total) need over ``days`` days (default:
    the profile's): a DataFrame (item, name_zh, unit, quantity) in the profile's order; countable
    units rounded up, amounts (kg, l, …) as floats."""
    persons, span = _persons(displaced, "displaced"), _days(profile, days)
    return pd.DataFrame({
        "item": [n.item for n in profile.items],
        "name_zh": [n.name_zh for n in profile.items],
        "unit": [n.unit for n in profile.items],
        "quantity": [n.amount(persons, span) for n in profile.items],
    })


def needs_by_shelter(displaced: Mapping[str, float] | pd.Series, profile: NeedsProfile, *, days: float | None = None) -> pd.DataFrame:
    """The demand of each shelter (shelter_id → displaced persons it receives): a DataFrame
    (shelter_id, item, name_zh, unit, quantity), rounded per shelter — the ``demand`` that
    ``gis.scenario.allocation.allocate_supplies`` takes. Rounding up per shelter can ask for a
    few more countable items than the total would."""
    if not isinstance(displaced, Mapping | pd.Series):
        raise ScenarioInputError(f"displaced: expected shelter_id → persons (a mapping or Series), got {type(displaced).__name__}")
    frames = []
    for shelter, persons in displaced.items():
        frame = needs_for(_persons(persons, f"displaced at shelter {shelter!r}"), profile, days=days)
        frame.insert(0, "shelter_id", [shelter] * len(frame))
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"shelter_id": [], "item": [], "name_zh": [], "unit": [], "quantity": []})
    return pd.concat(frames, ignore_index=True)
