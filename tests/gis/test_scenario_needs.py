"""Needs profiles: InaSAFE's own worked numbers, per-N-persons rounding, days and periods, the
per-shelter demand table, and the errors that name the file, the item and the allowed values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gis.scenario import ScenarioInputError
from gis.scenario.needs import UNITS, NeedsProfile, NeedsProfileError, needs_by_shelter, needs_for
from layers.errors import InputError
from layers.io.needs_profile import SHIPPED_PROFILES, read_needs_profile, shipped_needs_profile

pytestmark = pytest.mark.xdist_group("scenario-needs")  # its module fixtures are built once, on one worker (--dist loadgroup)


@pytest.fixture(scope="module")
def inasafe() -> NeedsProfile:
    return shipped_needs_profile("inasafe")


def test_inasafe_worked_report(inasafe: NeedsProfile) -> None:
    """InaSAFE's flood report (a Jakarta-2007-like flood, 979,000 displaced, needs for one week,
    BNPB Perka 7/2008): rice 2,741,200 kg, drinking water 17,132,500 l, clean water 65,593,000 l,
    195,800 family kits, 48,950 toilets."""
    table = needs_for(979_000, inasafe).set_index("item")
    expected = {"rice": 2_741_200, "drinking_water": 17_132_500, "clean_water": 65_593_000, "family_kit": 195_800, "toilet": 48_950}
    for item, quantity in expected.items():
        assert table.loc[item, "quantity"] == pytest.approx(quantity, rel=1e-12)
    assert list(table.columns) == ["name_zh", "unit", "quantity"]
    assert table.loc["rice", "unit"] == "kg" and table.loc["toilet", "unit"] == "piece"


def test_the_shipped_defaults_are_the_published_rates(inasafe: NeedsProfile) -> None:
    assert inasafe.days == 7
    rice, kit, toilet = inasafe.item("rice"), inasafe.item("family_kit"), inasafe.item("toilet")
    assert (rice.quantity, rice.period) == (2.8, "week")
    assert (inasafe.item("drinking_water").quantity, inasafe.item("clean_water").quantity) == (17.5, 67.0)
    assert (kit.quantity, kit.per_persons, kit.period) == (1.0, 5.0, "week")
    assert (toilet.quantity, toilet.per_persons, toilet.period) == (1.0, 20.0, "once")
    assert all(need.source for need in inasafe.items)
    assert "Perka 7/2008" in inasafe.source


@pytest.mark.parametrize(("persons", "kits", "toilets"), [(1, 1, 1), (5, 1, 1), (6, 2, 1), (11, 3, 1), (20, 4, 1), (21, 5, 2), (0, 0, 0)])
def test_per_persons_items_round_up(inasafe: NeedsProfile, persons: int, kits: int, toilets: int) -> None:
    table = needs_for(persons, inasafe, days=7).set_index("item")["quantity"]
    assert (table["family_kit"], table["toilet"]) == (kits, toilets)
    assert table["rice"] == pytest.approx(2.8 * persons)  # amounts are not rounded


def test_days_scale_daily_and_weekly_items_but_not_once(inasafe: NeedsProfile) -> None:
    week = needs_for(100, inasafe, days=7).set_index("item")["quantity"]
    ten_days = needs_for(100, inasafe, days=10).set_index("item")["quantity"]
    assert ten_days["drinking_water"] == pytest.approx(100 * 2.5 * 10)
    assert ten_days["family_kit"] == math.ceil(20 * 10 / 7)  # 28.57… → 29
    assert ten_days["toilet"] == week["toilet"] == 5
    assert needs_for(100, inasafe, days=14).set_index("item")["quantity"]["family_kit"] == 40  # 2 weeks exactly, not 41


def test_fractional_displaced_persons_from_area_weighting(inasafe: NeedsProfile) -> None:
    table = needs_for(10.4, inasafe, days=7).set_index("item")["quantity"]
    assert table["rice"] == pytest.approx(29.12)
    assert table["family_kit"] == 3  # 10.4 / 5 = 2.08 kits → 3


def test_needs_by_shelter_is_the_allocation_demand(inasafe: NeedsProfile) -> None:
    demand = needs_by_shelter({"S1": 11, "S2": 4}, inasafe)
    assert list(demand.columns) == ["shelter_id", "item", "name_zh", "unit", "quantity"]
    kits = demand.loc[demand["item"] == "family_kit"].set_index("shelter_id")["quantity"]
    assert kits.to_dict() == {"S1": 3, "S2": 1}  # 4 kits by shelter; 15 persons in one place need 3
    assert needs_by_shelter(pd.Series({"S1": 11.0}), inasafe)["quantity"].iloc[0] == pytest.approx(30.8)
    assert needs_by_shelter({}, inasafe).empty


def test_the_china_profile_names_a_source_per_item_and_what_is_missing() -> None:
    china = shipped_needs_profile("china")
    assert china.item("rice").quantity == 0.5 and china.item("rice").period == "day"
    assert all(need.source for need in china.items)
    missing = {u["item"] for u in china.unsourced}
    assert {"drinking_water", "quilt", "tent", "toilet"} <= missing
    assert all("source not found" in u["note"] for u in china.unsourced)
    assert needs_for(100, china, days=10).set_index("item")["quantity"]["rice"] == pytest.approx(500.0)


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "needs.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def profile(**item: object) -> dict[str, object]:
    base = {"item": "rice", "name_zh": "大米", "unit": "kg", "quantity": 0.4, "period": "day"}
    return {"name": "test", "source": "hand", "days": 3, "items": [{**base, **item}]}


def test_an_unknown_unit_names_the_file_the_item_and_the_allowed_units(tmp_path: Path) -> None:
    path = write(tmp_path, profile(unit="catty"))
    with pytest.raises(InputError) as caught:
        read_needs_profile(path)
    message = str(caught.value)
    assert str(path) in message and "item 1 ('rice')" in message and "'catty'" in message
    assert f"allowed units: {', '.join(UNITS)}" in message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (profile(period="month"), "period 'month' is not known; allowed: day, week, once"),
        (profile(quantity=-1), "quantity must be a number ≥ 0"),
        (profile(quantity="lots"), "quantity must be a number ≥ 0"),
        (profile(per_persons=0), "per_persons must be a number > 0"),
        (profile(name_zh=""), "'name_zh'"),
        (profile(quantitty=1), "unknown key\\(s\\) quantitty"),
        ({**profile(), "days": 0}, "'days' must be a number > 0"),
        ({**profile(), "items": []}, "'items' must be a non-empty list"),
        ({**profile(), "items": [profile()["items"][0]] * 2}, "item 'rice' is listed twice"),  # type: ignore[index]
        ({**profile(), "name": None}, "'name' must be a non-empty text"),
        (["not", "a", "mapping"], "a needs profile is a mapping"),
    ],
)
def test_malformed_profiles_are_input_errors(tmp_path: Path, document: object, message: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(InputError, match=message):
        read_needs_profile(path)
    with pytest.raises(NeedsProfileError):  # the same check without the file, in gis
        NeedsProfile.from_mapping(document, source="inline")


def test_missing_or_broken_files_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs profile file not found"):
        read_needs_profile(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [unclosed", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        read_needs_profile(broken)
    with pytest.raises(InputError, match="shipped: inasafe, china"):
        shipped_needs_profile("sphere")
    assert read_needs_profile().name == read_needs_profile(SHIPPED_PROFILES["inasafe"]).name


@pytest.mark.parametrize(("displaced", "days"), [(-1, None), (float("nan"), None), ("12", None), (10, 0), (10, -2.0)])
def test_wrong_persons_or_days(inasafe: NeedsProfile, displaced: object, days: object) -> None:
    with pytest.raises(ScenarioInputError):
        needs_for(displaced, inasafe, days=days)  # type: ignore[arg-type]
