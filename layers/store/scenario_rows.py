"""Stored hazard scenarios (情景) as both stores write and read them: the record, its checks, its
row and back.

A scenario is a plume, a hazard area or a dam break that someone ran: its parameters and result
(JSON objects), the footprint it covers (polygons in EPSG:4326, lon/lat degrees), the residents
and displaced it counts, and the incident and road closure it belongs to. Times are kept to the
millisecond, UTC (epoch milliseconds in a row, as the observations' are).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.errors import InputError
from layers.store.selection import BBox, check_bbox

SCENARIO_KINDS = ("plume", "area", "dam-break")
SCENARIO_STATUSES = ("预案", "生效中", "已结束")
"""Planned (saved, a what-if), active, ended."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
"""An escaped NUL in JSON text (an odd number of backslashes before u0000)."""


@dataclass(frozen=True)
class ScenarioRecord:
    """One stored scenario.

    ``kind``: one of ``SCENARIO_KINDS``; ``status``: ``预案`` (planned), ``生效中`` (active) or
    ``已结束`` (ended);
    ``created_at``/``ended_at``: timezone-aware (read back in UTC, to the millisecond);
    ``parameters``/``result``: JSON objects (``result`` is None when listed: listing leaves it
    out; PostGIS keeps them as jsonb, which does not keep the order of keys); ``footprint``: a
    Polygon or MultiPolygon in EPSG:4326, read back as a MultiPolygon (an empty one when there is
    none); ``residents``, ``displaced``: persons inside it and to move out."""

    id: str
    kind: str
    name: str
    status: str
    incident_id: str | None
    closure_id: str | None
    created_at: datetime
    created_by: str
    ended_at: datetime | None
    parameters: dict[str, Any]
    result: dict[str, Any] | None
    footprint: BaseGeometry
    residents: int
    displaced: int


@dataclass(frozen=True)
class ScenarioRow:
    """A checked record as the stores hold it: times in epoch ms (UTC), JSON as text, the
    footprint as 2-D MultiPolygon WKB and its (min_lon, min_lat, max_lon, max_lat) (None: empty)."""

    id: str
    kind: str
    name: str
    status: str
    incident_id: str | None
    closure_id: str | None
    created_at_ms: int
    created_by: str
    ended_at_ms: int | None
    parameters: str
    result: str | None
    residents: int
    displaced: int
    footprint: bytes | None
    bounds: BBox | None


SCENARIO_READ_COLUMNS = ("id", "kind", "name", "status", "incident_id", "closure_id", "created_at_ms", "created_by",
                         "ended_at_ms", "parameters", "result", "residents", "displaced", "footprint")
"""The order in which both stores select a scenario for ``record_from_row`` (result None when listed)."""


@dataclass(frozen=True)
class ScenarioFilter:
    """What ``list_scenarios`` selects, checked: a status, an incident, a lon/lat bbox (degrees;
    the footprint intersects it), at most ``limit`` records."""

    status: str | None
    incident_id: str | None
    bbox: BBox | None
    limit: int


def check_id(value: Any, *, what: str) -> str:
    """A non-empty string without NUL characters; ``InputError`` naming ``what`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what}: {value!r} is not a non-empty text")
    if "\x00" in value:
        raise InputError(f"{what}: text must not contain NUL characters")
    return value


def _optional_id(value: Any, *, what: str) -> str | None:
    return None if value is None else check_id(value, what=what)


def _ms(value: Any, *, what: str) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what}: {value!r} is not a timezone-aware datetime")
    return (value - _EPOCH) // _MS


def time_of(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def _numpy_value(value: Any) -> Any:
    """numpy scalars and arrays as their Python values, for ``json.dumps``."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(value: Any, *, what: str, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{what}: {type(value).__name__} is not a JSON object (a dict)")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_numpy_value)
    except ValueError as error:
        raise InputError(f"{what}: NaN and infinity have no JSON form ({error})") from None
    except TypeError as error:
        raise InputError(f"{what}: {error}") from None
    if _JSON_NUL.search(text):
        raise InputError(f"{what}: text must not contain NUL characters")
    return text


def _count(value: Any, *, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) < 2**63:
        raise InputError(f"{what}: {value!r} is not a whole number ≥ 0")
    return int(value)


def _footprint(geometry: Any, *, what: str) -> tuple[bytes | None, BBox | None]:
    if geometry is None:
        return None, None
    if not isinstance(geometry, BaseGeometry):
        raise InputError(f"{what}: {type(geometry).__name__} is not a shapely geometry")
    if geometry.is_empty:
        return None, None
    if isinstance(geometry, shapely.Polygon):
        geometry = shapely.MultiPolygon([geometry])
    elif geometry.geom_type != "MultiPolygon":
        raise InputError(f"{what}: a {geometry.geom_type} is not a Polygon or MultiPolygon")
    geometry = shapely.force_2d(geometry)
    bounds = tuple(float(v) for v in geometry.bounds)
    if not (all(math.isfinite(v) for v in bounds) and -180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
        raise InputError(f"{what}: bounds {list(bounds)} are not lon/lat degrees; give the footprint in EPSG:4326")
    return shapely.to_wkb(geometry), (bounds[0], bounds[1], bounds[2], bounds[3])


def scenario_row(record: ScenarioRecord) -> ScenarioRow:
    """``record`` checked and converted; ``InputError`` naming the scenario and the field (a NUL
    in any text, a naive time, NaN in the JSON, a footprint that is not polygons in lon/lat)."""
    if not isinstance(record, ScenarioRecord):
        raise InputError(f"not a ScenarioRecord: {type(record).__name__}")
    scenario_id = check_id(record.id, what="scenario id")
    where = f"scenario {scenario_id!r}"
    if record.kind not in SCENARIO_KINDS:
        raise InputError(f"{where} kind: {record.kind!r} is not one of {', '.join(SCENARIO_KINDS)}")
    if record.status not in SCENARIO_STATUSES:
        raise InputError(f"{where} status: {record.status!r} is not one of {', '.join(SCENARIO_STATUSES)}")
    footprint, bounds = _footprint(record.footprint, what=f"{where} footprint")
    parameters = _json(record.parameters, what=f"{where} parameters", optional=False)
    assert parameters is not None
    return ScenarioRow(
        id=scenario_id,
        kind=record.kind,
        name=check_id(record.name, what=f"{where} name"),
        status=record.status,
        incident_id=_optional_id(record.incident_id, what=f"{where} incident_id"),
        closure_id=_optional_id(record.closure_id, what=f"{where} closure_id"),
        created_at_ms=_ms(record.created_at, what=f"{where} created_at"),
        created_by=check_id(record.created_by, what=f"{where} created_by"),
        ended_at_ms=None if record.ended_at is None else _ms(record.ended_at, what=f"{where} ended_at"),
        parameters=parameters,
        result=_json(record.result, what=f"{where} result", optional=True),
        residents=_count(record.residents, what=f"{where} residents"),
        displaced=_count(record.displaced, what=f"{where} displaced"),
        footprint=footprint,
        bounds=bounds,
    )


def record_from_row(row: tuple[Any, ...]) -> ScenarioRecord:
    """A record from a row selected in ``SCENARIO_READ_COLUMNS`` order (result None: left out)."""
    (scenario_id, kind, name, status, incident_id, closure_id, created_at_ms, created_by, ended_at_ms,
     parameters, result, residents, displaced, footprint) = row
    geometry = shapely.from_wkb(bytes(footprint)) if footprint is not None else shapely.MultiPolygon()
    return ScenarioRecord(
        id=scenario_id, kind=kind, name=name, status=status, incident_id=incident_id, closure_id=closure_id,
        created_at=time_of(created_at_ms), created_by=created_by,
        ended_at=None if ended_at_ms is None else time_of(ended_at_ms),
        parameters=json.loads(parameters), result=None if result is None else json.loads(result),
        footprint=geometry, residents=int(residents), displaced=int(displaced),
    )


def scenario_filter(status: str | None, incident_id: str | None, bbox: BBox | None, limit: int) -> ScenarioFilter:
    """The checked arguments of ``list_scenarios``; ``InputError`` naming the bad one."""
    if status is not None and status not in SCENARIO_STATUSES:
        raise InputError(f"status: {status!r} is not one of {', '.join(SCENARIO_STATUSES)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"limit must be a whole number ≥ 0, got {limit!r}")
    return ScenarioFilter(status, _optional_id(incident_id, what="incident_id"), check_bbox(bbox), limit)


def footprint_hits(rows: list[tuple[Any, ...]], bbox: BBox) -> list[tuple[Any, ...]]:
    """The rows (footprint WKB last) whose footprint really intersects ``bbox``, after a
    selection by envelope."""
    box = shapely.box(*bbox)
    return [row for row in rows if row[-1] is not None and shapely.from_wkb(bytes(row[-1])).intersects(box)]


def check_status(scenario_id: str, stored: str | None, expected: str) -> None:
    """``InputError`` unless the stored status is ``expected`` (someone changed it meanwhile)."""
    if stored is None:
        raise InputError(f"scenario {scenario_id} is not stored: nothing to change")
    if stored != expected:
        raise InputError(f"scenario {scenario_id} was changed meanwhile: it is {stored} now, not {expected}; reload it")
