"""Observations and dead letters, one contract on both stores (the ``store`` fixture runs each test
against a GeoPackage and the real PostGIS), and PostGIS's monthly partitions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from layers.io.observations import DeadLetter, Observation
from layers.store import Store
from layers.store.postgis import PostGISStore, sqlalchemy_url

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def _level(station: str, minutes: int, value: float, *, quality: str | None = None, at: datetime = T0) -> Observation:
    return Observation(station, at + timedelta(minutes=minutes), value, "m", quality)


def _day() -> tuple[datetime, datetime]:
    return T0 - timedelta(days=1), T0 + timedelta(days=1)


def test_observations_read_back_sorted_by_station_and_time_in_utc(store: Store) -> None:
    given = [_level("ST2", 10, 3.0), _level("ST1", 5, 2.0), _level("ST2", 0, 1.0), _level("ST1", 0, 4.0, quality="Z")]
    assert store.upsert_observations(given) == 4
    read = store.read_observations(None, *_day())
    assert list(read.columns) == ["station_id", "time", "value", "unit", "quality"]
    assert str(read["time"].dtype) == "datetime64[ms, UTC]"
    assert list(zip(read["station_id"], read["time"], read["value"], read["quality"], strict=True)) == [
        ("ST1", pd.Timestamp(T0), 4.0, "Z"),
        ("ST1", pd.Timestamp(T0 + timedelta(minutes=5)), 2.0, None),
        ("ST2", pd.Timestamp(T0), 1.0, None),
        ("ST2", pd.Timestamp(T0 + timedelta(minutes=10)), 3.0, None),
    ]
    assert set(read["unit"]) == {"m"}


def test_a_time_in_another_zone_is_the_same_instant(store: Store) -> None:
    store.upsert_observations([Observation("ST1", datetime(2026, 7, 1, 8, 0, tzinfo=BEIJING), 1.0, "m", None)])
    store.upsert_observations([Observation("ST1", T0, 2.0, "m", None)])  # 08:00 Beijing is 00:00 UTC: a repeat
    read = store.read_observations(["ST1"], *_day())
    assert list(read["time"]) == [pd.Timestamp("2026-07-01T00:00:00Z")] and list(read["value"]) == [2.0]


def test_a_repeated_station_and_time_updates_value_unit_and_quality(store: Store) -> None:
    store.upsert_observations([_level("ST1", 0, 1.0), _level("ST1", 5, 1.5)])
    again = [Observation("ST1", T0, 9.0, "mm", "已校核"), _level("ST1", 10, 2.0), Observation("ST1", T0, 8.0, "mm", "疑似")]
    assert store.upsert_observations(again) == 2, "one row per station and time, the last one in the batch wins"
    read = store.read_observations(["ST1"], *_day())
    assert list(read["value"]) == [8.0, 1.5, 2.0]
    assert list(read["unit"]) == ["mm", "m", "m"] and read["quality"].iloc[0] == "疑似"


def test_the_window_is_since_inclusive_until_exclusive_and_by_station(store: Store) -> None:
    store.upsert_observations([_level(s, m, float(m)) for s in ("A", "B", "C") for m in range(0, 60, 10)])
    read = store.read_observations(["C", "A"], T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    assert list(read["station_id"]) == ["A"] * 3 + ["C"] * 3
    assert list(read["value"]) == [10.0, 20.0, 30.0] * 2
    assert store.read_observations([], *_day()).empty
    assert len(store.read_observations(None, *_day())) == 18
    empty = store.read_observations(["nobody"], *_day())
    assert empty.empty and list(empty.columns) == ["station_id", "time", "value", "unit", "quality"]
    assert str(empty["time"].dtype) == "datetime64[ms, UTC]"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Observation("ST1", datetime(2026, 7, 1), 1.0, "m", None), "naive datetime"),
        (Observation("ST1", T0, math.nan, "m", None), "not a finite number"),
        (Observation("ST1", T0, math.inf, "m", None), "not a finite number"),
        (Observation("", T0, 1.0, "m", None), "station_id"),
        (Observation("ST\x001", T0, 1.0, "m", None), "NUL"),
    ],
)
def test_bad_observations_are_the_callers_bug_and_nothing_is_written(store: Store, bad: Observation, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.upsert_observations([_level("ST1", 5, 1.0), bad])
    assert store.read_observations(None, *_day()).empty


def test_a_naive_window_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.read_observations(None, datetime(2026, 7, 1), T0)
    with pytest.raises(ValueError, match="is after until"):
        store.read_observations(None, T0, T0 - timedelta(hours=1))


def _letter(minutes: int, reason: str, payload: str = "{}") -> DeadLetter:
    return DeadLetter(T0 + timedelta(minutes=minutes), "mqtt onemap/ST1/obs", payload, reason)


def test_dead_letters_newest_first_counted_since(store: Store) -> None:
    assert store.dead_letter_count() == 0 and store.read_dead_letters().empty
    assert store.add_dead_letters([_letter(0, "a"), _letter(20, "c"), _letter(10, "b", "bin\x00ary")]) == 3
    assert store.add_dead_letters([]) == 0
    newest = store.read_dead_letters()
    assert list(newest["reason"]) == ["c", "b", "a"]
    assert newest["received_at"].iloc[0] == pd.Timestamp(T0 + timedelta(minutes=20))
    assert str(newest["received_at"].dtype) == "datetime64[ms, UTC]"
    assert newest["payload"].iloc[1] == "bin\\x00ary", "a NUL is kept visible, not lost"
    assert list(store.read_dead_letters(limit=1)["reason"]) == ["c"]
    assert store.dead_letter_count() == 3
    assert store.dead_letter_count(since=datetime(2026, 7, 1, 8, 10, tzinfo=BEIJING)) == 2
    with pytest.raises(ValueError, match="naive"):
        store.dead_letter_count(since=datetime(2026, 7, 1))
    with pytest.raises(ValueError, match="limit"):
        store.read_dead_letters(limit=-1)


# --- PostGIS: monthly partitions ------------------------------------------------------------

def _partition_counts(url: str, schema: str) -> dict[str, int]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            names = connection.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = :s AND p.relname = 'observations'"), {"s": schema}).scalars()
            return {name: int(connection.execute(text(f'SELECT count(*) FROM "{schema}".{name}')).scalar_one()) for name in names}
    finally:
        engine.dispose()


def test_postgis_writes_each_month_into_its_own_partition_never_default(pg_url: str, pg_schema: str) -> None:
    with PostGISStore(pg_url, schema=pg_schema) as store:
        end_of_june = datetime(2026, 6, 30, 23, 55, tzinfo=UTC)
        batch = [Observation("ST1", end_of_june + timedelta(minutes=5 * i), float(i), "m", None) for i in range(4)]
        assert store.upsert_observations(batch) == 4
        assert store.upsert_observations([Observation("ST1", datetime(2026, 9, 15, tzinfo=UTC), 7.0, "m", None)]) == 1
        counts = _partition_counts(pg_url, pg_schema)
        assert counts["observations_y2026m06"] == 1 and counts["observations_y2026m07"] == 3
        assert counts["observations_y2026m09"] == 1
        assert "observations_y2026m10" in counts, "the month after each batch's month is made ahead"
        now = datetime.now(UTC)
        assert f"observations_y{now.year:04d}m{now.month:02d}" in counts, "and the months around today"
        assert counts["observations_default"] == 0
        read = store.read_observations(["ST1"], datetime(2026, 6, 30, 23, 0, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
        assert list(read["value"]) == [0.0, 1.0, 2.0, 3.0, 7.0]


def test_postgis_prunes_partitions_and_uses_the_key_for_one_station_day(pg_url: str, pg_schema: str) -> None:
    with PostGISStore(pg_url, schema=pg_schema) as store:
        months = [datetime(2026, m, 10, tzinfo=UTC) for m in (5, 6, 7)]
        store.upsert_observations([Observation(f"ST{s}", at + timedelta(minutes=5 * i), 1.0, "m", None) for at in months for s in range(20) for i in range(50)])
    engine = create_engine(sqlalchemy_url(pg_url))
    try:
        with engine.connect() as connection:
            plan = "\n".join(connection.execute(text(
                f"EXPLAIN SELECT * FROM \"{pg_schema}\".observations WHERE station_id = ANY(ARRAY['ST3']) "
                "AND time >= '2026-06-10T00:00Z' AND time < '2026-06-11T00:00Z' ORDER BY station_id, time")).scalars())
    finally:
        engine.dispose()
    assert "observations_y2026m06" in plan
    assert "observations_y2026m05" not in plan and "observations_y2026m07" not in plan and "observations_default" not in plan


def test_postgis_leaves_a_month_in_default_when_default_already_holds_it(pg_url: str, pg_schema: str) -> None:
    """Rows written around the store (here by plain SQL) into DEFAULT: the month's partition
    cannot be made, so its reports keep going to DEFAULT, and nothing fails."""
    PostGISStore(pg_url, schema=pg_schema).close()
    engine = create_engine(sqlalchemy_url(pg_url))
    try:
        with engine.begin() as connection:
            connection.execute(text(f"INSERT INTO \"{pg_schema}\".observations (station_id, time, value, unit) VALUES ('ST1', '2031-03-05T00:00Z', 1, 'm')"))
    finally:
        engine.dispose()
    with PostGISStore(pg_url, schema=pg_schema) as store:
        assert store.upsert_observations([Observation("ST1", datetime(2031, 3, 5, 0, 5, tzinfo=UTC), 2.0, "m", None)]) == 1
        read = store.read_observations(["ST1"], datetime(2031, 3, 1, tzinfo=UTC), datetime(2031, 4, 1, tzinfo=UTC))
        assert list(read["value"]) == [1.0, 2.0]
    counts = _partition_counts(pg_url, pg_schema)
    assert "observations_y2031m03" not in counts and counts["observations_default"] == 2
    assert "observations_y2031m04" in counts
