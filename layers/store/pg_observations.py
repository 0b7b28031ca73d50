"""Observations and dead letters in PostGIS: the two plain tables, their monthly partitions, and
the SQL that writes and reads them (``PostGISStore`` calls these on its own connections).

``observations`` is partitioned by range of ``time``, one partition per UTC month
(``observations_y2026m07``: 2026-07-01T00:00Z ≤ time < 2026-08-01T00:00Z), with a DEFAULT
partition made by the migration. A month's partition is made before the first row of that month
is written, and ahead of need: at every write, each month of the batch and the one after it,
and the previous, current and next month (UTC, by the server's clock). The DEFAULT partition
therefore stays empty in normal use. That is the point: PostgreSQL refuses to create a month's
partition while DEFAULT holds rows of that month, and moving them out would lock and rewrite
DEFAULT. If DEFAULT does hold such rows (written around onemap, or by a store without this
module), the month stays in DEFAULT, correct but unpruned, and the log says so once.

Partitions are made in their own short transaction under an advisory lock (creating one locks
the parent table briefly), so concurrent writers never race to create the same one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.exc import IntegrityError

from layers.store.observation_rows import DeadLetterRow, ObservationRow

logger = logging.getLogger(__name__)

OBSERVATIONS = "observations"
DEAD_LETTERS = "observation_dead_letters"
DEFAULT_PARTITION = "observations_default"
_CHECK_VIOLATION = "23514"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def observation_metadata(schema: str | None) -> MetaData:
    """The two tables as SQLAlchemy metadata (what migration 0008 froze, DEFAULT partition aside)."""
    metadata = MetaData(schema=schema)
    Table(
        OBSERVATIONS,
        metadata,
        Column("station_id", Text, primary_key=True, comment="站码"),
        Column("time", DateTime(timezone=True), primary_key=True, comment="观测时间 (UTC)"),
        Column("value", Float(precision=53), nullable=False, comment="观测值 (水位 m, 雨量 mm)"),
        Column("unit", Text, nullable=False, comment="单位"),
        Column("quality", Text, comment="质量码"),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now(), comment="接收时间"),
        Index("ix_observations_time", "time", postgresql_using="brin"),
        postgresql_partition_by="RANGE (time)",
        comment="监测数据 / Observations",
    )
    Table(
        DEAD_LETTERS,
        metadata,
        Column("id", BigInteger, Identity(always=False), primary_key=True),
        Column("received_at", DateTime(timezone=True), nullable=False, comment="接收时间"),
        Column("source", Text, nullable=False, comment="来源"),
        Column("payload", Text, nullable=False, comment="原文"),
        Column("reason", Text, nullable=False, comment="原因"),
        Index("ix_observation_dead_letters_received_at", "received_at"),
        comment="无效监测数据 / Observation dead letters",
    )
    return metadata


def default_partition_sql(schema: str) -> str:
    """The statement that makes the DEFAULT partition (as migration 0008 froze it)."""
    return f'CREATE TABLE "{schema}".{DEFAULT_PARTITION} PARTITION OF "{schema}".{OBSERVATIONS} DEFAULT'


# --- partitions ------------------------------------------------------------------------------

def partition_name(month: date) -> str:
    """``observations_y2026m07`` for July 2026."""
    return f"{OBSERVATIONS}_y{month.year:04d}m{month.month:02d}"


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def months_needed(rows: Sequence[ObservationRow], *, now: datetime) -> set[date]:
    """Each UTC month of the batch and the one after it, and the months around ``now``."""
    stamps = np.unique(np.asarray([r[1] for r in rows], dtype=np.int64).view("datetime64[ms]").astype("datetime64[M]"))
    months = {date.fromisoformat(f"{m}-01") for m in stamps.astype(str)}
    months |= {_next_month(m) for m in months}
    current = date(now.year, now.month, 1)
    return months | {_previous_month(current), current, _next_month(current)}


def existing_partitions(connection: Connection, schema: str) -> set[str]:
    """The names of the partitions of ``observations`` in ``schema``."""
    return set(connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = :schema AND p.relname = :parent"
    ), {"schema": schema, "parent": OBSERVATIONS}).scalars())


def create_partitions(connection: Connection, schema: str, months: Iterable[date]) -> set[date]:
    """Create the missing month partitions inside the caller's transaction (an advisory lock
    serialises creators); returns the months left in DEFAULT because it holds their rows."""
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"onemap-partitions-{schema}"})
    have = existing_partitions(connection, schema)
    left: set[date] = set()
    for month in sorted(months):
        name = partition_name(month)
        if name in have:
            continue
        start, end = month.isoformat(), _next_month(month).isoformat()
        try:
            with connection.begin_nested():
                connection.execute(text(
                    f'CREATE TABLE IF NOT EXISTS "{schema}".{name} PARTITION OF "{schema}".{OBSERVATIONS} '
                    f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
                ))
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) != _CHECK_VIOLATION:
                raise
            # DEFAULT holds rows of this month
            logger.warning("observations of %s stay in %s.%s, which already holds rows of that month: no partition %s", month.strftime("%Y-%m"), schema, DEFAULT_PARTITION, name)
            left.add(month)
    return left


# --- observations ----------------------------------------------------------------------------

def write_observations(connection: Connection, schema: str, rows: Sequence[ObservationRow]) -> None:
    """COPY the rows into a temporary table, then one INSERT … ON CONFLICT into ``observations``
    (a repeated (station_id, time) replaces value, unit, quality and received_at). Rows go in
    in key order, so two batches touching the same keys lock them in the same order and never
    deadlock."""
    connection.execute(text(
        "CREATE TEMPORARY TABLE IF NOT EXISTS onemap_observations_in "
        "(station_id text, time_ms bigint, value double precision, unit text, quality text) ON COMMIT DELETE ROWS"
    ))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy("COPY onemap_observations_in (station_id, time_ms, value, unit, quality) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    connection.execute(text(
        f'INSERT INTO "{schema}".{OBSERVATIONS} (station_id, time, value, unit, quality) '
        "SELECT station_id, timestamptz 'epoch' + time_ms * interval '1 millisecond', value, unit, quality "
        "FROM onemap_observations_in ORDER BY station_id, time_ms "
        "ON CONFLICT (station_id, time) DO UPDATE SET value = EXCLUDED.value, unit = EXCLUDED.unit, "
        "quality = EXCLUDED.quality, received_at = EXCLUDED.received_at"
    ))


def read_observations(connection: Connection, schema: str, station_ids: list[str] | None, start_ms: int, end_ms: int) -> list[tuple[object, ...]]:
    """Rows (station_id, time ms, value, unit, quality) with start ≤ time < end, sorted by
    station and time; the time bounds prune partitions, the primary key finds each station."""
    where = "" if station_ids is None else " AND station_id = ANY(%(ids)s)"
    bounds = "timestamptz 'epoch' + %(start)s * interval '1 millisecond'", "timestamptz 'epoch' + %(end)s * interval '1 millisecond'"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        f"SELECT station_id, (extract(epoch FROM time) * 1000)::bigint, value, unit, quality FROM \"{schema}\".{OBSERVATIONS} "
        f"WHERE time >= {bounds[0]} AND time < {bounds[1]}{where} ORDER BY station_id, time",
        {"ids": station_ids, "start": start_ms, "end": end_ms},
    )
    return list(cursor.fetchall())


# --- dead letters ----------------------------------------------------------------------------

def _as_time(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def write_dead_letters(connection: Connection, table: Table, rows: Sequence[DeadLetterRow]) -> None:
    connection.execute(table.insert(), [{"received_at": _as_time(r[0]), "source": r[1], "payload": r[2], "reason": r[3]} for r in rows])
