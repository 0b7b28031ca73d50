"""What a layer's ledger may hold, field by field: ``onemap layers --fields LAYER``.

Built from the catalogue and the ledger rules, so the guide and the importer cannot disagree.
"""

from __future__ import annotations

from typing import Any

from layers.catalogue import SOURCE_ID, get_layer
from layers.io.import_mapping import COORDINATE_TARGETS
from layers.io.ledger import UNITS, parse_unit


def _units_for(unit: str | None) -> list[str]:
    target = parse_unit(unit) if unit else None
    if target is None:
        return []
    factors = {u.text: u.factor for u in UNITS.values() if u.dimension == target.dimension}
    return sorted(factors, key=lambda text: (factors[text], text))


def describe_fields(layer: str) -> list[dict[str, Any]]:
    """One dict per field (and the id and coordinates): name, label_zh, type, unit, required,
    derived, restricted, allowed values, value synonyms, recognised headers, header units."""
    spec = get_layer(layer)
    rows: list[dict[str, Any]] = [{
        "name": SOURCE_ID, "label_zh": "编号", "type": "str", "unit": None, "required": False, "derived": False,
        "restricted": False, "allowed": None, "synonyms": {}, "headers": list(spec.source_id_aliases), "units": [],
        "description": "The ledger's own id, stable across re-imports; without one, ids are derived from name and location.",
    }]
    for f in spec.fields:
        headers = [f.label_zh, f.display_label, *f.aliases] if not f.geometric else [f.display_label]
        nouns = [f"{noun}{f.label_zh}" for noun in spec.header_nouns[:2]] if not f.geometric else []
        rows.append({
            "name": f.name, "label_zh": f.label_zh, "type": f.type, "unit": f.unit, "required": f.required,
            "derived": f.derived, "restricted": f.restricted, "allowed": list(f.enum) if f.enum else None,
            "synonyms": dict(f.synonyms), "headers": list(dict.fromkeys([*headers, *nouns])),
            "units": _units_for(f.unit) if f.type in ("int", "float") else [], "description": f.description,
        })
    for target, names in COORDINATE_TARGETS.items():
        rows.append({
            "name": target, "label_zh": {"lon": "经度", "lat": "纬度", "lonlat": "经纬度", "latlon": "纬经度", "wkt": "几何 (WKT)"}[target],
            "type": "coordinate", "unit": "°" if target != "wkt" else None, "required": False, "derived": False,
            "restricted": False, "allowed": None, "synonyms": {}, "headers": list(names), "units": [],
            "description": "Location: lon+lat, one lonlat column, or WKT (GIS files carry their own geometry).",
        })
    return rows


def format_fields(layer: str, rows: list[dict[str, Any]]) -> str:
    """The guide as text, one block per field."""
    spec = get_layer(layer)
    lines = [f"{spec.name} {spec.title_zh} ({spec.title_en}), {spec.geometry_type}: {spec.description}", ""]
    for row in rows:
        flags = [word for word, on in (("必填 required", row["required"]), ("自动计算 derived", row["derived"]), ("受限 restricted", row["restricted"])) if on]
        unit = f" ({row['unit']})" if row["unit"] else ""
        lines.append(f"{row['name']}  {row['label_zh']}{unit}  [{row['type']}{', ' + ', '.join(flags) if flags else ''}]")
        if row["allowed"]:
            lines.append(f"    可选值 allowed: {', '.join(row['allowed'])}")
        if row["synonyms"]:
            shown = ", ".join(f"{k}→{v}" for k, v in list(row["synonyms"].items())[:8])
            lines.append(f"    也认 also read: {shown}{' …' if len(row['synonyms']) > 8 else ''}")
        lines.append(f"    表头 headers: {', '.join(row['headers'][:10])}")
        if row["units"]:
            lines.append(f"    表头单位 header units: {', '.join(row['units'])} (converted to {row['unit']})")
        if row["description"]:
            lines.append(f"    {row['description']}")
    lines.append("")
    lines.append("Missing a required column? --map SOURCE=FIELD feeds one, --set FIELD=VALUE gives every row a value.")
    return "\n".join(lines)
