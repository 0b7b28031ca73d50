"""The ledger rules (layers.io.ledger) on their own: headers, units, values, coordinate text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.catalogue import get_layer
from layers.io.ledger import (
    header_variants,
    non_record_reason,
    parse_unit,
    split_coordinate_pairs,
    split_header,
    unit_factor,
)
from layers.io.validate import coerce_column


@pytest.mark.parametrize(
    ("header", "base", "unit"),
    [
        ("总库容(万m³)", "总库容", "万m³"),
        ("总库容（万立方米）", "总库容", "万m³"),  # full-width brackets
        ("库容万方", "库容", "万m³"),  # unit as a suffix, no brackets
        ("库容 亿m3", "库容", "亿m³"),
        ("占地面积(亩)", "占地面积", "亩"),
        ("面积（公顷）", "面积", "公顷"),
        ("面积(单位:km²)", "面积", "km²"),
        ("长度(km)", "长度", "km"),
        ("经度(°)", "经度", None),
        ("名称", "名称", None),
    ],
)
def test_split_header(header: str, base: str, unit: str | None) -> None:
    parts = split_header(header)
    assert parts.base == base
    expected = parse_unit(unit) if unit else None
    same = (parts.unit.dimension, parts.unit.factor) if parts.unit else None
    assert same == ((expected.dimension, expected.factor) if expected else None)


@pytest.mark.parametrize(
    ("written", "field_unit", "factor"),
    [("万m³", "m³", 1e4), ("亿m³", "m³", 1e8), ("万方", "m³", 1e4), ("亩", "m²", 10000 / 15), ("公顷", "m²", 1e4),
     ("km²", "m²", 1e6), ("m²", "km²", 1e-6), ("km", "m", 1e3), ("m/s", "km/h", 3.6)],
)
def test_unit_factors(written: str, field_unit: str, factor: float) -> None:
    unit = parse_unit(written)
    assert unit is not None
    assert unit_factor(unit, field_unit) == pytest.approx(factor)


def test_a_unit_of_another_kind_cannot_be_converted() -> None:
    unit = parse_unit("亩")
    assert unit is not None
    with pytest.raises(ValueError, match="unit 亩 cannot be converted to m³"):
        unit_factor(unit, "m³")


def test_layer_nouns_and_coordinate_words_are_dropped() -> None:
    assert "名称" in header_variants(split_header("水库名称"), ("水库",))
    assert "类型" in header_variants(split_header("避难场所类型"), ("应急避难场所", "避难场所"))
    assert "经度" in header_variants(split_header("经度坐标"), ())


@pytest.mark.parametrize(
    ("layer", "field", "written", "stored"),
    [
        ("shelters", "shelter_type", "紧急避难场所", "紧急"),
        ("shelters", "shelter_type", "固定避难场所", "固定"),
        ("rescue_stations", "kind", "消防救援站", "消防站"),
        ("rescue_stations", "kind", "专业救援队伍", "专业救援队"),
        ("rescue_stations", "kind", "基层应急救援站", "基层救援站"),
        ("supply_depots", "level", "市级储备库", "市级"),
        ("supply_depots", "level", "乡镇（街道）级", "乡镇级"),
        ("shelters", "stay_class", "Ⅱ", "Ⅱ"),
        ("shelters", "stay_class", "II", "Ⅱ"),
        ("shelters", "stay_class", "2", "Ⅱ"),
        ("shelters", "stay_class", "二类", "Ⅱ"),
        ("shelters", "stay_class", "Ⅲ级", "Ⅲ"),
        ("roads", "road_class", "快速路", "城市道路"),
        ("roads", "road_class", "城市主干路", "城市道路"),
        ("roads", "road_class", "次干路", "城市道路"),
        ("roads", "road_class", "支路", "城市道路"),
        ("reservoirs", "reservoir_class", "大（1）型", "大(1)型"),
        ("reservoirs", "reservoir_class", "小Ⅱ型", "小(2)型"),
        ("chemical_parks", "risk_grade", "D级", "D"),
        ("hazardous_enterprises", "risk_level", "橙色", "较大"),
        ("geohazard_points", "danger_grade", "大型险情", "大型"),
    ],
)
def test_values_as_ledgers_write_them(layer: str, field: str, written: str, stored: str) -> None:
    coerced = coerce_column(pd.Series([written]), get_layer(layer).field(field))
    assert coerced.errors == {} and coerced.values.iloc[0] == stored


def test_an_unknown_value_lists_the_allowed_ones() -> None:
    coerced = coerce_column(pd.Series(["帐篷"]), get_layer("supply_depots").field("level"))
    assert coerced.errors == {0: "'帐篷' is not one of 市级, 县级, 乡镇级, 村级"}


def test_full_width_numbers() -> None:
    coerced = coerce_column(pd.Series(["１，８３０．５", "－3"]), get_layer("reservoirs").field("flood_limit_level_m"))
    assert coerced.values.tolist() == [1830.5, -3.0]


@pytest.mark.parametrize("text", ["116.59,35.41", "116.59，35.41", "116.59 35.41", "116.59;35.41", "１１６．５９，３５．４１", " 116.59 , 35.41 "])
def test_coordinate_pairs(text: str) -> None:
    lon, lat, bad = split_coordinate_pairs(pd.Series([text]))
    assert not bad[0]
    np.testing.assert_allclose([lon[0], lat[0]], [116.59, 35.41])


def test_a_broken_pair_is_flagged() -> None:
    _, _, bad = split_coordinate_pairs(pd.Series(["116.59", "东经116", None]))
    assert bad.tolist() == [True, True, False]


def test_rows_that_are_not_records() -> None:
    assert non_record_reason(["合计", None, 12345]) == "a 合计 (total) row"
    assert non_record_reason(["注：库容单位为万立方米"]) == "a note under the table"
    assert non_record_reason(["小清河水库", 1830]) is None
