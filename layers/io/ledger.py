"""How bureaus write their ledgers (台账), as rules: headers, units, values and coordinate text.

The catalogue says what each field is called, its unit and its allowed values (with the
synonyms ledgers use); this module holds the rules that apply to every layer alike, so that no
special case lives inside the reader or the importer:

- **Headers** are compared after normalising full-width/half-width forms (NFKC), case, spaces
  and brackets. A unit written in the header (``总库容(万m³)``, ``库容万方``, ``面积（亩）``) is split
  off and converted to the field's unit; a layer's noun as a prefix (``水库名称``) is dropped;
  coordinate decorations (``经度(°)``, ``经度（E）``, ``经度坐标``) are ignored.
- **Units** form one table: each written form → (dimension, factor to the dimension's base unit).
- **Values** are compared by a key that folds full-width forms, spaces and Roman/Arabic/Chinese
  numerals (``Ⅱ`` = ``II`` = ``2`` = ``二``), then looked up among the field's allowed values and
  its synonyms.
- **Coordinate text**: one ``经纬度`` cell such as ``116.59,35.41`` (ASCII or full-width comma,
  space, semicolon) and full-width digits.

Pure functions on strings and pandas Series; no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- text --------------------------------------------------------------------------------------

_OPEN = "([{【〔〖<《「"
_CLOSE = ")]}】〕〗>》」"
_BRACKETS = str.maketrans({**{c: "(" for c in _OPEN}, **{c: ")" for c in _CLOSE}})


def fold_text(text: str) -> str:
    """Full-width to half-width (NFKC: ``１１６．５`` → ``116.5``, ``（`` → ``(``), trimmed."""
    return unicodedata.normalize("NFKC", str(text)).strip()


def header_key(text: str) -> str:
    """A header as compared: NFKC, lower case, no whitespace, all brackets as ``(`` ``)``."""
    return "".join(fold_text(text).lower().split()).translate(_BRACKETS)


# --- units -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A unit as written, its dimension and its factor to that dimension's base unit."""

    text: str
    dimension: str
    factor: float


_UNIT_FORMS: dict[str, tuple[str, float]] = {
    # volume, base m³
    "m³": ("volume", 1.0), "m3": ("volume", 1.0), "立方米": ("volume", 1.0), "方": ("volume", 1.0),
    "万m³": ("volume", 1e4), "万m3": ("volume", 1e4), "万方": ("volume", 1e4), "万立方米": ("volume", 1e4),
    "亿m³": ("volume", 1e8), "亿m3": ("volume", 1e8), "亿方": ("volume", 1e8), "亿立方米": ("volume", 1e8),
    # area, base m²
    "m²": ("area", 1.0), "m2": ("area", 1.0), "平方米": ("area", 1.0), "平米": ("area", 1.0),
    "万m²": ("area", 1e4), "万m2": ("area", 1e4), "万平方米": ("area", 1e4),
    "亩": ("area", 10_000.0 / 15.0), "公顷": ("area", 1e4), "ha": ("area", 1e4), "hm²": ("area", 1e4), "hm2": ("area", 1e4),
    "km²": ("area", 1e6), "km2": ("area", 1e6), "平方公里": ("area", 1e6), "平方千米": ("area", 1e6),
    # length, base m
    "m": ("length", 1.0), "米": ("length", 1.0), "km": ("length", 1e3), "公里": ("length", 1e3), "千米": ("length", 1e3),
    # speed, base km/h
    "km/h": ("speed", 1.0), "公里/小时": ("speed", 1.0), "千米/小时": ("speed", 1.0), "km/小时": ("speed", 1.0),
    "m/s": ("speed", 3.6), "米/秒": ("speed", 3.6),
    # money, base 万元
    "元": ("money", 1e-4), "万元": ("money", 1.0), "亿元": ("money", 1e4),
    # persons, base 人
    "人": ("persons", 1.0), "万人": ("persons", 1e4), "名": ("persons", 1.0),
    # counts and scores that carry no conversion
    "辆": ("vehicles", 1.0), "台": ("vehicles", 1.0), "家": ("enterprises", 1.0), "个": ("enterprises", 1.0),
    "分": ("score", 1.0),
}
UNITS: dict[str, Unit] = {}
for _text, (_dimension, _factor) in _UNIT_FORMS.items():
    UNITS.setdefault(header_key(_text), Unit(_text, _dimension, _factor))  # 万m³ and 万m3 alike: shown as 万m³
"""Every unit form a header may carry, by its header key (``万m³`` and ``万M3`` alike)."""

_SUFFIX_UNITS = sorted((k for k in UNITS if len(k) >= 2 or not k.isascii()), key=len, reverse=True)
"""Units that may end a header without brackets (``库容万方``); a bare ``m`` or ``方`` may not."""
_SUFFIX_UNITS = [k for k in _SUFFIX_UNITS if k not in ("方", "名", "个", "分", "台", "元")]


def parse_unit(text: str) -> Unit | None:
    """The unit ``text`` names (``万m³``, ``亩``, ``km``…), or None when it is not a unit."""
    key = header_key(text)
    key = key.removeprefix("单位:").removeprefix("单位")
    return UNITS.get(key)


def unit_factor(source: Unit, field_unit: str | None) -> float:
    """Factor that turns a value in ``source`` into the field's unit.

    Raises ``ValueError`` when the field has no unit of that dimension (亩 for a volume).
    """
    target = parse_unit(field_unit) if field_unit else None
    if target is None or target.dimension != source.dimension:
        raise ValueError(f"unit {source.text} cannot be converted to {field_unit or 'a field without a unit'}")
    return source.factor / target.factor


@dataclass(frozen=True)
class HeaderParts:
    """A header split into the name it gives and the unit or note written with it."""

    key: str
    base: str
    unit: Unit | None
    note: str | None
    """Bracketed text that is not a unit (``(°)``, ``(E)``, ``(全称)``)."""


_TRAILING_BRACKET = re.compile(r"^(?P<base>.+?)\((?P<inner>[^()]*)\)$")


def split_header(text: str) -> HeaderParts:
    """``总库容(万m³)`` → base ``总库容``, unit 万m³; ``库容万方`` → ``库容``, 万方; ``经度(°)`` → ``经度``, note °."""
    key = header_key(text)
    match = _TRAILING_BRACKET.match(key)
    if match:
        inner = match.group("inner")
        unit = parse_unit(inner)
        return HeaderParts(key, match.group("base"), unit, None if unit else inner)
    for suffix in _SUFFIX_UNITS:
        if key.endswith(suffix) and len(key) > len(suffix):
            base = key[: -len(suffix)].rstrip("_-/")
            if base and not base[-1].isdigit():
                return HeaderParts(key, base, UNITS[suffix], None)
    return HeaderParts(key, key, None, None)


def header_variants(parts: HeaderParts, nouns: Sequence[str]) -> list[str]:
    """Names a header may stand for, most literal first: the whole key, the base without its
    unit, the base without a leading layer noun (``水库名称`` → ``名称``) or a trailing ``坐标``."""
    variants = [parts.key, parts.base]
    for noun in sorted((header_key(n) for n in nouns), key=len, reverse=True):
        if parts.base.startswith(noun) and len(parts.base) > len(noun):
            variants.append(parts.base[len(noun):])
            break
    for base in list(variants[1:]):
        if base.endswith("坐标") and len(base) > 2:
            variants.append(base[:-2])
    return list(dict.fromkeys(variants))


# --- values ------------------------------------------------------------------------------------

_NUMERALS = {
    "ⅰ": "1", "ⅱ": "2", "ⅲ": "3", "ⅳ": "4", "ⅴ": "5",
    "iii": "3", "ii": "2", "iv": "4", "i": "1", "v": "5",
    "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
}
_ROMAN_RUN = re.compile(r"(?<![a-z])(iii|ii|iv|i|v)(?![a-z])")


def value_key(text: str) -> str:
    """A value as compared with the allowed ones: NFKC, lower case, no spaces or brackets, and
    every numeral (Ⅱ, II, 2, 二) as an Arabic digit."""
    key = "".join(unicodedata.normalize("NFKC", str(text)).lower().split())
    key = key.translate(_BRACKETS).replace("(", "").replace(")", "")
    key = _ROMAN_RUN.sub(lambda m: _NUMERALS[m.group(1)], key)
    return "".join(_NUMERALS.get(ch, ch) for ch in key)


def value_lookup(allowed: Iterable[str], synonyms: Mapping[str, str]) -> dict[str, str]:
    """Value key → allowed value, for the allowed values and their synonyms."""
    lookup = {value_key(v): v for v in allowed}
    for written, meant in synonyms.items():
        lookup.setdefault(value_key(written), meant)
    return lookup


def map_values(column: pd.Series, lookup: Mapping[str, str]) -> pd.Series:
    """Each cell as its allowed value, or NaN where it is none (missing cells stay missing).

    Works on the distinct values only, so a million rows of a few kinds cost a few lookups.
    """
    present = column.dropna()
    distinct = pd.unique(present.astype(str))
    table = {text: lookup.get(value_key(text)) for text in distinct}
    return column.map(lambda v: table.get(str(v)) if isinstance(v, str) or not pd.isna(v) else None)


# --- rows that are not records -----------------------------------------------------------------

_TOTAL_WORDS = {"合计", "总计", "小计", "共计", "总数", "汇总"}
_NOTE_PREFIXES = ("注", "备注", "说明", "填表", "制表", "审核", "填报", "负责人", "联系人", "数据来源")


def non_record_reason(cells: Sequence[object]) -> str | None:
    """Why a table row is not a record, or None: a 合计/小计 (total) row, or a note under the
    table (注：…, 填表人：…) written in one cell."""
    filled = [str(c).strip() for c in cells if c is not None and not (isinstance(c, float) and np.isnan(c)) and str(c).strip()]
    if not filled:
        return None
    first = "".join(fold_text(filled[0]).split())
    if first in _TOTAL_WORDS:
        return f"a {first} (total) row"
    if len(filled) == 1 and first.startswith(_NOTE_PREFIXES):
        return "a note under the table"
    return None


# --- numbers and coordinates -------------------------------------------------------------------

_NUMBER_NOISE = re.compile(r"[\s,]")


def numbers_from_text(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as floats, with full-width digits and signs, thousands separators and spaces allowed.

    Returns ``(values, bad)``: NaN where missing or unreadable; ``bad`` marks cells that had text
    but no number.
    """
    if column.dtype.kind in "iuf":
        values = column.to_numpy(dtype=float)
        return values, np.zeros(len(values), dtype=bool)
    text = column.astype("string")
    folded = text.map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) and not v.isascii() else v)
    cleaned = folded.str.replace(_NUMBER_NOISE, "", regex=True)
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    had_text = cleaned.fillna("").str.len().to_numpy() > 0
    bad = had_text & ~np.isfinite(values)
    return values, bad


_PAIR_SPLIT = re.compile(r"\s*[,;]\s*|\s+")


def split_coordinate_pairs(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``经纬度`` cell per row (``116.59,35.41``, ``116.59，35.41``, ``116.59 35.41``,
    ``116.59;35.41``) as two float arrays in the written order; ``bad`` marks unreadable cells."""
    text = column.astype("string").map(lambda v: fold_text(v) if isinstance(v, str) else v)
    parts = text.str.split(_PAIR_SPLIT, n=1, regex=True)
    first = pd.to_numeric(parts.str[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    second = pd.to_numeric(parts.str[1], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    had_text = text.fillna("").str.len().to_numpy() > 0
    bad = had_text & ~(np.isfinite(first) & np.isfinite(second))
    return first, second, bad
