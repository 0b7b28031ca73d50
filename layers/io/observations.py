"""Gauge observations at the ingest edge: the checks every path (MQTT, HTTP, files) shares (the
reader of the platforms' CSV/XLSX exports is ``layers.io.observation_files``).

``check_observations`` turns loose records (JSON objects, file rows) into ``Observation`` values
with UTC times, and every record it cannot use into a ``DeadLetter`` that says which field is
wrong; it never raises for bad data, so that one bad gauge cannot stop the others. Water levels
(水位) are in metres, rain (雨量) in millimetres per report; values are never converted.

Pure Python on plain mappings: the store that keeps the observations and the dead letters is
written elsewhere.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from layers.errors import InputError
from layers.io.ledger import fold_text

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
"""The time zone of a time written without an offset (Chinese platforms write Beijing time)."""
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
"""Times before this are refused: a zero or a date-only field read as a time, not a real report."""
MAX_PAYLOAD_CHARS = 2_000
"""A dead letter keeps at most this many characters of the payload."""
MAX_REASON_CHARS = 300
"""A dead letter's reason keeps at most this many characters (it may quote the bad value)."""
MAX_QUALITY_CHARS = 64
"""A quality code is short text (``正常``, ``G``, ``可疑``)."""
VALUE_RANGES: dict[str, tuple[float, float]] = {"m": (-500.0, 9000.0), "mm": (0.0, 2000.0)}
"""Readings a gauge can give, by unit: a water level (m, any datum; the same limits as a level
typed in by hand) and the rain since the previous report (mm; never negative, and 2,000 mm is more
than the world's 24-hour record). Outside: a broken gauge or a wrong scale, refused."""

StationKind = Literal["水位", "雨量"]
KIND_UNITS: dict[str, str] = {"水位": "m", "雨量": "mm"}
"""The one unit each kind of station reports in."""

_UNIT_ALIASES = {"m": "m", "米": "m", "mm": "mm", "毫米": "mm"}
# Lengths on another scale are refused, never converted: a silent conversion is how the 10⁴×
# capacity bug happened (万m³ read as m³), and a gauge that sends cm has been misconfigured at the
# source, which the platform must fix; its dead letters say so.
_OTHER_LENGTHS = {"cm", "厘米", "dm", "分米", "km", "千米", "公里", "μm", "um"}


@dataclass(frozen=True)
class StationInfo:
    """A monitoring station as the checks need it: its code, its kind and its unit (m for 水位,
    mm for 雨量)."""

    station_id: str
    kind: StationKind
    unit: str


@dataclass(frozen=True)
class Observation:
    """One report of one station: ``time`` is timezone-aware UTC, ``value`` in ``unit`` (m for a
    water level, mm of rain since the previous report for a rain gauge)."""

    station_id: str
    time: datetime
    value: float
    unit: str
    quality: str | None


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be used: when it arrived (UTC), where from (``mqtt onemap/ST001/obs``,
    ``http``, ``file 水位.csv row 12``), its text (at most ``MAX_PAYLOAD_CHARS``) and why."""

    received_at: datetime
    source: str
    payload: str
    reason: str

    def __post_init__(self) -> None:
        """A NUL (a raw MQTT message may hold one) is kept visible as the four characters
        ``\\x00``, a lone surrogate (``"\\ud800"`` is valid JSON) as ``\\ud800``: neither is
        UTF-8, so no store could hold the text nor a response carry it."""
        for name in ("source", "payload", "reason"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8"))


class _Rejected(ValueError):
    """A record's field that cannot be used; the message is the dead letter's reason."""


def check_observations(records: Iterable[Mapping[str, Any]], stations: Mapping[str, StationInfo], *, source: str, now: datetime, max_future_s: float = 600,
                       max_age_days: float | None = None) -> tuple[list[Observation], list[DeadLetter]]:
    """Split ``records`` into observations and dead letters; never raises for bad data.

    Parameters
    ----------
    records
        Mappings with ``station`` (or ``station_id``), ``time``, ``value`` and optionally ``unit``
        (default: the station's unit) and ``quality``. ``_row`` (a file's row number) is added to
        the dead letter's source; ``_raw`` marks a payload that was not a JSON object (and
        ``_reason`` says why, when not that). These three are onemap's own: the paths that take
        records from outside drop keys that start with ``_`` first (``client_record``).
    stations
        The known stations by code.
    source
        Where the records came from, for the dead letters (``mqtt <topic>``, ``http``, ``file <name>``).
    now
        The time of receipt (timezone-aware); times ``max_future_s`` seconds or more after it are
        refused, as are times before 1990, and with ``max_age_days`` (live feeds) times older
        than that.

    Times are ISO 8601 text (with an offset, or without one: then Asia/Shanghai, i.e. Beijing
    time, as Chinese platforms write it; ``2024/7/1 8:00`` too), ``datetime`` values (naive ones
    Asia/Shanghai as well) or epoch seconds (a number, or text of digits). Values are finite
    numbers or numeric text (a decimal point, no comma: ``180,5`` is refused, not read as 1805),
    within ``VALUE_RANGES`` of their unit; units m/米 or mm/毫米, and must be the station's own.
    ``quality`` is text of at most 64 characters without control characters.
    """
    if now.tzinfo is None:
        raise InputError("check_observations: now must be timezone-aware")
    now = now.astimezone(UTC)
    latest = now + timedelta(seconds=max_future_s)
    earliest = now - timedelta(days=max_age_days) if max_age_days is not None else EARLIEST
    kept: list[Observation] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            observation = _observation(record, stations, latest=latest, max_future_s=max_future_s)
            if observation.time < earliest:
                raise _Rejected(f"time {observation.time.isoformat()} is more than {max_age_days:g} days old: a live feed sends what it measures now (import old records from a file)")
            kept.append(observation)
        except _Rejected as rejected:
            dead.append(_dead_letter(record, str(rejected), source=source, now=now))
        except Exception as error:  # a record no check foresaw still must not stop the batch
            dead.append(_dead_letter(record, f"record cannot be read: {type(error).__name__}: {error}", source=source, now=now))
    return kept, dead


def client_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a client sent it, without the keys onemap itself marks records with (``_row``,
    ``_raw``, ``_reason``): a client cannot forge a dead letter's source or reason."""
    return {key: value for key, value in item.items() if not str(key).startswith("_")}


def _observation(record: Mapping[str, Any], stations: Mapping[str, StationInfo], *, latest: datetime, max_future_s: float) -> Observation:
    if not isinstance(record, Mapping):
        raise _Rejected(f"record is a {type(record).__name__}, not an object with station, time and value")
    if "_raw" in record:
        raise _Rejected(str(record.get("_reason") or "payload is not a JSON object or a list of objects"))
    station = _station(record, stations)
    time = _time(record.get("time"))
    if time >= latest:
        raise _Rejected(f"time {time.isoformat()} is {max_future_s:g} s or more in the future")
    value = _value(record.get("value"))
    unit = _unit(record.get("unit"), station)
    low, high = VALUE_RANGES[unit]
    if not low <= value <= high:
        what = "rain since the previous report" if unit == "mm" else "a water level"
        raise _Rejected(f"value {value:g} {unit} is not {what} a gauge can give (from {low:g} to {high:g} {unit}): a broken gauge or a wrong scale")
    return Observation(station.station_id, time, value, unit, _quality(record.get("quality")))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates ("\ud800" in JSON): not UTF-8, no store holds them


def _quality(value: Any) -> str | None:
    """A quality code: short text, or none."""
    if missing_value(value) or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _Rejected(f"quality is a {type(value).__name__}: give a short text code")
    text = str(value).strip()
    if len(text) > MAX_QUALITY_CHARS or _CONTROL.search(text):
        raise _Rejected(f"quality must be text of at most {MAX_QUALITY_CHARS} characters without control characters or lone surrogates")
    return text


def missing_value(value: Any) -> bool:
    """None, NaN or NaT (not blank text: the callers say what blank means for them)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _station_code(value: Any) -> str:
    """A station code as text: ``41800100``, ``41800100.0`` (a spreadsheet's number) and
    ``'４１８００１００'`` alike."""
    if isinstance(value, bool):
        raise _Rejected(f"station {value!r} is not a station code")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(float(value)))
    if isinstance(value, str) and fold_text(value):
        return fold_text(value)
    raise _Rejected(f"station {value!r} is not a station code")


def _station(record: Mapping[str, Any], stations: Mapping[str, StationInfo]) -> StationInfo:
    given = [record[name] for name in ("station", "station_id") if not missing_value(record.get(name)) and record.get(name) != ""]
    if not given:
        raise _Rejected("station is missing (give station or station_id)")
    codes = [_station_code(value) for value in given]
    if len(set(codes)) > 1:
        raise _Rejected(f"station {codes[0]} and station_id {codes[1]} differ")
    info = stations.get(codes[0])
    if info is None:
        raise _Rejected(f"unknown station {codes[0]}")
    return info


_EPOCH_TEXT = re.compile(r"^\d+(\.\d+)?$")


def _time(value: Any) -> datetime:
    """``value`` as a UTC datetime (see ``check_observations`` for the forms accepted)."""
    if missing_value(value) or value == "":
        raise _Rejected("time is missing")
    if isinstance(value, bool):
        raise _Rejected(f"time {value!r} is not a time")
    if isinstance(value, str) and _EPOCH_TEXT.match(fold_text(value)):
        value = float(fold_text(value))
    if isinstance(value, numbers.Real):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise _Rejected(f"time {value!r} is not a time")
        if seconds > 1e11:  # past the year 5138: milliseconds, most likely
            raise _Rejected(f"time {value!r} is not epoch seconds (milliseconds? divide by 1000)")
        parsed = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_time_text(value)
    else:
        raise _Rejected(f"time {value!r} is not a time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    parsed = parsed.astimezone(UTC)
    if parsed < EARLIEST:
        raise _Rejected(f"time {parsed.isoformat()} is before 1990")
    return parsed


def _parse_time_text(text: str) -> datetime:
    folded = fold_text(text)
    try:  # ISO 8601, the form the brief asks platforms for
        return datetime.fromisoformat(folded)
    except ValueError:
        pass
    # Exports write 2024/7/1 8:00 and the like; pandas reads those, but it also reads words
    # ("now", "today"), which no gauge sends: require a date of digits.
    if not re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}", folded):
        raise _Rejected(f"time {text!r} is not an ISO 8601 time")
    try:
        stamp = pd.Timestamp(folded)
    except (ValueError, OverflowError):
        raise _Rejected(f"time {text!r} is not an ISO 8601 time") from None
    if stamp is pd.NaT:
        raise _Rejected(f"time {text!r} is not an ISO 8601 time")
    return stamp.to_pydatetime()


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
"""A number as gauges write it: digits with a decimal point, maybe an exponent (no ``_``, no
``nan``/``inf`` words: those are not readings)."""


def _quoted(value: Any) -> str:
    """A bad value for a reason: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _value(value: Any) -> float:
    if value is None or value is pd.NaT:  # a NaN is there but not finite: said below
        raise _Rejected("value is missing")
    if isinstance(value, bool):
        raise _Rejected(f"value {value!r} is a boolean, not a number")
    if isinstance(value, str):
        text = fold_text(value)
        if not text:
            raise _Rejected("value is missing")
        if "," in text or "，" in text:
            raise _Rejected(f"value {_quoted(value)} has a comma: write the decimal point as '.' and no thousands separators")
        if re.fullmatch(r"[+-]?(nan|inf|infinity)", text, re.IGNORECASE):
            raise _Rejected(f"value {_quoted(value)} is not a finite number")
        if not _NUMBER_TEXT.match(text):
            raise _Rejected(f"value {_quoted(value)} is not a number")
        number = float(text)
    elif isinstance(value, numbers.Real):
        number = float(value)
    else:
        raise _Rejected(f"value {value!r} is not a number")
    if not math.isfinite(number):
        raise _Rejected(f"value {value!r} is not a finite number")
    return number


def _unit(value: Any, station: StationInfo) -> str:
    if missing_value(value) or (isinstance(value, str) and not value.strip()):
        return station.unit
    written = fold_text(str(value))
    unit = _UNIT_ALIASES.get(written.lower())
    if unit == station.unit:
        return unit
    why = ""
    if is_length_unit(written):
        why = f" (a length on another scale is not converted: the platform must send {station.unit})"
    raise _Rejected(f"unit {written} does not match station {station.station_id}'s unit {station.unit}{why}")


def is_length_unit(text: str) -> bool:
    """Whether ``text`` names a length unit (m, mm, or one never converted: cm, km …)."""
    return text.lower() in _UNIT_ALIASES or text.lower() in _OTHER_LENGTHS


def _dead_letter(record: Any, reason: str, *, source: str, now: datetime) -> DeadLetter:
    row = record.get("_row") if isinstance(record, Mapping) else None
    where = f"{source} row {row}" if row is not None else source
    if isinstance(record, Mapping) and "_raw" in record:
        payload = str(record["_raw"])
    elif isinstance(record, Mapping):
        shown = {str(k): v for k, v in record.items() if not str(k).startswith("_")}
        payload = json.dumps(shown, ensure_ascii=False, default=str)
    else:
        payload = repr(record)
    where = where if len(where) <= 200 else where[:199] + "…"
    return DeadLetter(now, where, payload[:MAX_PAYLOAD_CHARS], reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…")
