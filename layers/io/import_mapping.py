"""Which column of a ledger feeds which field, in which unit: the column plan of an import.

The rules come from the catalogue (each field's name, Chinese label, ledger aliases, unit and
each layer's header nouns) and ``layers.io.ledger`` (header normalisation, unit table). Matching
runs in two passes: first a header equal to a field's name or label as onemap itself writes it
(an export reads back unchanged), then the ledger forms (aliases, a unit in the header, a layer
noun in front, 坐标 behind). ``--map SRC=FIELD[:UNIT]`` comes before both and may feed one column
to several fields; ``--set FIELD=VALUE`` gives a field a constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from layers.catalogue import SOURCE_ID, FieldSpec, LayerSpec, shapefile_field_names
from layers.errors import InputError
from layers.io.ledger import (
    UNITS,
    HeaderParts,
    Unit,
    header_key,
    header_variants,
    parse_unit,
    split_header,
    unit_factor,
)

LON_NAMES = ("经度", "lon", "lng", "long", "longitude", "东经", "x坐标", "x", "POINT_X", "横坐标", "经度值")
LAT_NAMES = ("纬度", "lat", "latitude", "北纬", "y坐标", "y", "POINT_Y", "纵坐标", "纬度值")
LONLAT_NAMES = ("经纬度", "坐标", "经纬度坐标", "位置", "位置坐标", "坐标位置", "地理坐标", "gps坐标", "gps",
                "lonlat", "lnglat", "lon,lat", "lng,lat", "经度,纬度", "location")
"""``location`` is what Gaode's POI exports call their "lng,lat" column."""
LATLON_NAMES = ("纬经度", "latlon", "latlng", "lat,lon", "lat,lng", "纬度,经度")
WKT_NAMES = ("wkt", "geometry", "geom", "几何", "shape", "空间信息")
COORDINATE_TARGETS = {"lon": LON_NAMES, "lat": LAT_NAMES, "lonlat": LONLAT_NAMES, "latlon": LATLON_NAMES, "wkt": WKT_NAMES}
_COORDINATE_LABELS = {"经度": "lon", "纬度": "lat", "经纬度": "lonlat", "纬经度": "latlon", "几何": "wkt", "编号": SOURCE_ID}
_DEGREE_NOTES = {"°", "度", "e", "n", "东经", "北纬", "deg", "degree", "wgs84", "cgcs2000", "gcj02", "gcj-02", "bd09"}


@dataclass(frozen=True)
class ColumnPlan:
    """One field's source: a column (converted by ``factor`` from ``unit``) or a constant."""

    target: str
    column: str | None
    unit: Unit | None = None
    factor: float = 1.0
    constant: str | None = None
    how: str = "header"

    def describe(self, spec: LayerSpec) -> str:
        """``总库容(万m³) → capacity_m3 总库容 (m³) × 10,000 (万m³ → m³)``, as ``--dry-run`` prints."""
        label = self.target
        if self.target not in COORDINATE_TARGETS and self.target != SOURCE_ID:
            label = f"{self.target} {spec.field(self.target).display_label}"
        source = f"--set {self.constant!r}" if self.column is None else repr(self.column)
        line = f"{source} → {label}"
        if self.unit is not None and self.target not in COORDINATE_TARGETS:
            unit = spec.field(self.target).unit
            line += f"  × {self.factor:,.10g} ({self.unit.text} → {unit})" if self.factor != 1.0 else f"  ({self.unit.text})"
        if self.how != "header":
            line += f"  [{self.how}]"
        return line


def _targets(spec: LayerSpec) -> dict[str, str]:
    """Every name a user may give a target in ``--map``/``--set`` (field name, label, display
    label, lon/lat/… and their Chinese words) → the target."""
    names: dict[str, str] = {}
    for f in spec.fields:
        for name in (f.name, f.label_zh, f.display_label):
            names.setdefault(header_key(name), f.name)
    for target in (SOURCE_ID, *COORDINATE_TARGETS):
        names.setdefault(header_key(target), target)
    for word, target in _COORDINATE_LABELS.items():
        names.setdefault(header_key(word), target)
    return names


def _exact_names(spec: LayerSpec) -> dict[str, str]:
    short = shapefile_field_names(spec)
    names: dict[str, str] = {}
    for f in spec.fields:
        # A computed length or area matches only as onemap writes it (长度 (m)), so that a
        # ledger's own 长度 goes to the field that keeps it.
        for name in (f.name, f.display_label, short[f.name]) if f.geometric else (f.name, f.label_zh, f.display_label, short[f.name]):
            names.setdefault(header_key(name), f.name)
    return names


def _alias_names(spec: LayerSpec, f: FieldSpec) -> list[str]:
    return [header_key(n) for n in (f.name, f.label_zh, *f.aliases)]


@cache
def header_names(spec: LayerSpec) -> frozenset[str]:
    """Every header key that means something for ``spec`` (to find the header row)."""
    names = set(_exact_names(spec))
    for f in spec.fields:
        names.update(_alias_names(spec, f))
    for aliases in COORDINATE_TARGETS.values():
        names.update(header_key(n) for n in aliases)
    names.update(header_key(n) for n in spec.source_id_aliases)
    return frozenset(names)


def header_score(spec: LayerSpec, cells: Sequence[str]) -> int:
    """How many cells of a candidate header row name a field, an id or a coordinate."""
    known = header_names(spec)
    score = 0
    for cell in cells:
        if not cell or not str(cell).strip():
            continue
        variants = header_variants(split_header(str(cell)), spec.header_nouns)
        score += any(v in known for v in variants)
    return score


def parse_map_option(spec: LayerSpec, pair: str) -> tuple[str, str, Unit | None]:
    """``SRC=FIELD[:UNIT]`` → (source column, target, unit or None); FIELD may be the Chinese label."""
    source, sep, target_text = pair.partition("=")
    if not sep or not source.strip() or not target_text.strip():
        raise InputError(f"--map {pair!r}: write SOURCE_COLUMN=FIELD or SOURCE_COLUMN=FIELD:UNIT, e.g. --map 库容万方=capacity_m3:万m³")
    target_text, _, unit_text = target_text.partition(":")
    target = _targets(spec).get(header_key(target_text))
    if target is None:
        fields = ", ".join(f"{f.name} ({f.label_zh})" for f in spec.fields)
        raise InputError(f"--map {source}={target_text}: layer {spec.name} has no field {target_text.strip()!r}; fields: {fields}, or source_id, lon, lat, lonlat, wkt")
    unit = None
    if unit_text.strip():
        unit = parse_unit(unit_text)
        if unit is None:
            raise InputError(f"--map {pair}: unit {unit_text.strip()!r} is not one onemap knows (e.g. m³, 万m³, 亿m³, m², 亩, 公顷, km², m, km)")
    return source.strip(), target, unit


def parse_set_option(spec: LayerSpec, pair: str) -> tuple[str, str]:
    """``FIELD=VALUE`` → (field name, value text)."""
    target_text, sep, value = pair.partition("=")
    target = _targets(spec).get(header_key(target_text))
    if not sep or target is None or target not in spec.field_names:
        raise InputError(f"--set {pair!r}: write FIELD=VALUE with a field of {spec.name}: {', '.join(f'{f.name} ({f.label_zh})' for f in spec.fields)}")
    return target, value.strip()


def _same_dimension(unit: str) -> list[str]:
    target = parse_unit(unit)
    if target is None:
        return [unit]
    factors = {u.text: u.factor for u in UNITS.values() if u.dimension == target.dimension}
    return sorted(factors, key=lambda text: (factors[text], text))


def _unit_plan(spec: LayerSpec, target: str, column: str, unit: Unit | None, note: str | None, path: Path, how: str) -> ColumnPlan:
    if target in COORDINATE_TARGETS or target == SOURCE_ID:
        return ColumnPlan(target, column, unit, 1.0, how=how)
    f = spec.field(target)
    if f.type not in ("int", "float") or f.unit is None:
        return ColumnPlan(target, column, None, 1.0, how=how)
    if unit is None and note is not None:
        raise InputError(
            f"{path}: column {column!r}: {note!r} is not a unit onemap knows for {f.display_label}; "
            f"give the unit the column is in, one of {', '.join(_same_dimension(f.unit))}: --map '{column}={f.name}:UNIT'"
        )
    if unit is None:
        return ColumnPlan(target, column, None, 1.0, how=how)
    try:
        factor = unit_factor(unit, f.unit)
    except ValueError as error:
        raise InputError(f"{path}: column {column!r}: {error} ({f.display_label}); fix the header or use --map '{column}={f.name}:UNIT'") from None
    return ColumnPlan(target, column, unit, factor, how=how)


def plan_columns(
    spec: LayerSpec,
    columns: Sequence[str],
    *,
    path: Path,
    explicit: Sequence[tuple[str, str, Unit | None]] = (),
    constants: Mapping[str, str] | None = None,
) -> dict[str, ColumnPlan]:
    """Target (a field, ``source_id``, ``lon``, ``lat``, ``lonlat``, ``latlon`` or ``wkt``) → its plan."""
    parts: dict[str, HeaderParts] = {c: split_header(c) for c in columns}
    plans: dict[str, ColumnPlan] = {}
    used: set[str] = set()
    for source, target, unit in explicit:
        if source not in parts:
            raise InputError(f"{path}: --map {source}={target}: the file has no column {source!r}; columns: {list(columns)}")
        header = parts[source]
        plans[target] = _unit_plan(spec, target, source, unit or header.unit, None if unit else header.note, path, "--map")
        used.add(source)
    for target, value in (constants or {}).items():
        plans[target] = ColumnPlan(target, None, constant=value, how="--set")

    exact = _exact_names(spec)
    for column in columns:
        named = exact.get(parts[column].key)
        if named is not None and named not in plans and column not in used:
            plans[named] = _unit_plan(spec, named, column, None, None, path, "header")
            used.add(column)

    variants = {c: header_variants(parts[c], spec.header_nouns) for c in columns}

    def find(names: Sequence[str], *, reuse: bool = False) -> str | None:
        for name in names:
            for column in columns:
                if (reuse or column not in used) and name in variants[column]:
                    return column
        return None

    wanted: list[tuple[str, list[str]]] = [(f.name, _alias_names(spec, f)) for f in spec.fields if not f.geometric]
    wanted += [(t, [header_key(n) for n in names]) for t, names in COORDINATE_TARGETS.items()]
    for target, names in wanted:
        if target in plans or (found := find(names)) is None:
            continue
        header = parts[found]
        note = header.note if header.note not in _DEGREE_NOTES else None
        plans[target] = _unit_plan(spec, target, found, header.unit, note, path, "header")
        used.add(found)
    if SOURCE_ID not in plans and (found := find([header_key(n) for n in spec.source_id_aliases], reuse=True)) is not None:
        plans[SOURCE_ID] = ColumnPlan(SOURCE_ID, found)
    for f in spec.fields:
        # A ledger's 长度 (m) keeps its value in the declaring field, unless the file has that too.
        plan = plans.get(f.name)
        if f.declared_by and plan is not None and plan.column is not None and f.declared_by not in plans:
            del plans[f.name]
            plans[f.declared_by] = ColumnPlan(f.declared_by, plan.column, how=plan.how)
    return plans
