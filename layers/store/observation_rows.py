"""Gauge observations and dead letters as both stores write and read them.

The checks here are for the caller's bugs, not for bad gauge data (``layers.io.observations``
turns that into dead letters before it reaches a store): a naive datetime, a value that is not a
finite number, an empty station code raise ``ValueError`` naming the row.

Times travel as integer epoch milliseconds (UTC): both stores keep times to the millisecond (a
time is truncated to its millisecond, so both stores key a report the same way), and frames
read back carry ``datetime64[ms, UTC]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from layers.io.observations import DeadLetter, Observation

OBSERVATION_COLUMNS = ("station_id", "time", "value", "unit", "quality")
"""The columns of ``read_observations``: time tz-aware UTC, value in unit (m or mm)."""
DEAD_LETTER_COLUMNS = ("id", "received_at", "source", "payload", "reason")
"""The columns of ``read_dead_letters``: received_at tz-aware UTC."""

ObservationRow = tuple[str, int, float, str, str | None]
"""station_id, time (epoch ms, UTC), value, unit, quality."""
DeadLetterRow = tuple[int, str, str, str]
"""received_at (epoch ms, UTC), source, payload, reason."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(value: datetime, *, what: str) -> int:
    """A timezone-aware datetime as epoch milliseconds (UTC, truncated); ``ValueError`` when naive."""
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: {value.isoformat()} is a naive datetime; give it a time zone (UTC)")
    return (value - _EPOCH) // _MS


def _text(value: object, *, what: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{what}: {value!r} is not a non-empty string")
    if "\x00" in value:
        raise ValueError(f"{what}: text must not contain NUL characters")
    return value


def observation_rows(observations: Sequence[Observation]) -> list[ObservationRow]:
    """Checked rows, one per (station, millisecond): a report repeated within the batch counts
    once, its last occurrence winning (as a later batch's would)."""
    rows: dict[tuple[str, int], ObservationRow] = {}
    for position, observation in enumerate(observations):
        station, time, value, unit, quality = observation.station_id, observation.time, observation.value, observation.unit, observation.quality
        if not (type(station) is str and station and "\x00" not in station and type(unit) is str and unit and "\x00" not in unit
                and type(value) is float and math.isfinite(value) and (quality is None or (type(quality) is str and "\x00" not in quality))
                and type(time) is datetime and time.tzinfo is not None):
            _check_observation(position, observation)  # raises, naming the field
        key = (station, (time - _EPOCH) // _MS)
        rows.pop(key, None)  # the last occurrence takes its place in the order
        rows[key] = (station, key[1], float(value), unit, quality)
    return list(rows.values())


def _check_observation(position: int, observation: Observation) -> None:
    """The slow path of ``observation_rows``: ``ValueError`` naming what is wrong (an int value
    or a datetime subclass is fine)."""
    where = f"observation {position} ({getattr(observation, 'station_id', '?')!r})"
    _text(observation.station_id, what=f"{where} station_id")
    value = observation.value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where} value: {value!r} is not a finite number")
    _text(observation.unit, what=f"{where} unit")
    _text(observation.quality, what=f"{where} quality", required=False)
    epoch_ms(observation.time, what=f"{where} time")


def dead_letter_rows(letters: Sequence[DeadLetter]) -> list[DeadLetterRow]:
    """Checked rows (a dead letter's text is UTF-8 already: ``DeadLetter`` escapes what is not)."""
    rows = []
    for position, letter in enumerate(letters):
        where = f"dead letter {position}"
        received = epoch_ms(letter.received_at, what=f"{where} received_at")
        texts = []
        for name in ("source", "payload", "reason"):
            value = getattr(letter, name)
            if not isinstance(value, str):
                raise ValueError(f"{where} {name}: {value!r} is not a string")
            texts.append(value)
        rows.append((received, texts[0], texts[1], texts[2]))
    return rows


def check_window(since: datetime, until: datetime) -> tuple[int, int]:
    """``since`` ≤ time < ``until`` as epoch milliseconds; ``ValueError`` when naive or reversed."""
    start, end = epoch_ms(since, what="since"), epoch_ms(until, what="until")
    if start > end:
        raise ValueError(f"since {since.isoformat()} is after until {until.isoformat()}")
    return start, end


def check_station_ids(station_ids: Sequence[str] | None) -> list[str] | None:
    """The station codes as a list (None: every station); ``ValueError`` for a bare string."""
    if station_ids is None:
        return None
    if isinstance(station_ids, str):
        raise ValueError(f"station_ids: give a sequence of codes, not the string {station_ids!r}")
    return [_text(s, what="station_ids") or "" for s in station_ids]


def check_limit(limit: int) -> int:
    """``limit`` when it is a whole number ≥ 0; ``ValueError`` otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number ≥ 0, got {limit!r}")
    return limit


def utc_times(ms: Sequence[int] | np.ndarray) -> pd.Series:
    """Epoch milliseconds as a ``datetime64[ms, UTC]`` series."""
    return pd.Series(np.asarray(ms, dtype=np.int64).view("datetime64[ms]")).dt.tz_localize("UTC")


def observations_frame(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows of (station_id, time ms, value, unit, quality) as the frame ``read_observations`` gives."""
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return pd.DataFrame({
        "station_id": pd.Series(columns[0], dtype=object),
        "time": utc_times(np.asarray(columns[1], dtype=np.int64)),
        "value": pd.Series(columns[2], dtype=np.float64),
        "unit": pd.Series(columns[3], dtype=object),
        "quality": pd.Series(columns[4], dtype=object),
    })


def dead_letters_frame(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows of (id, received_at ms, source, payload, reason) as ``read_dead_letters`` gives them."""
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return pd.DataFrame({
        "id": pd.Series(columns[0], dtype=np.int64),
        "received_at": utc_times(np.asarray(columns[1], dtype=np.int64)),
        **{name: pd.Series(values, dtype=object) for name, values in zip(DEAD_LETTER_COLUMNS[2:], columns[2:], strict=True)},
    })
