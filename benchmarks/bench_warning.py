"""Warning-rule evaluation for 2,000 stations (target ≤ 100 ms), against pandas doing the same
rain accumulations, measured in the same run.

The stations: 1,500 rain gauges and 500 water-level gauges, each reporting every 5 minutes for
the last 24 hours (576,000 observations). One evaluation: rain in the 3/6/12-hour windows and the
rainstorm signals, each gauge's latest level against its own thresholds, the rise in the last
hour, silence, and the hysteresis decisions for all four rule families. The reference computes
only the rain accumulations, with ``DataFrame.groupby(...).sum()`` per window.

Then ingest: 200,000 observations (2,000 stations, 100 reports each) upserted into each store
through ``upsert_observations`` (checks, partitions, COPY + INSERT … ON CONFLICT into PostGIS;
one executemany into the GeoPackage), against the plain way of loading the same rows: psycopg's
``COPY`` into an identical plain table, and sqlite3's ``executemany`` into an identical table in
one transaction. Targets: ≥ 20,000 obs/s into PostGIS, ≥ 5,000 obs/s into the GeoPackage.
PostGIS is ONEMAP_BENCH_PG_URL, else ONEMAP_TEST_PG_URL (without either, only the GeoPackage).

Then the popup chart among 10 million observations (target ≤ 50 ms at p95): a fresh PostGIS
schema holds 1,000 stations' reports every 5 minutes for 34.7 days up to now (10,000,000 rows
over the monthly partitions the store makes; loaded in arrival order by COPY straight into the
store's table, then VACUUM (ANALYZE), which is set-up and not timed). Timed, warm: the 24-hour
chart of each of 200 random stations through ``store.read_observations`` (what
GET /stations/{id}/observations?hours=24 does), against a plain psycopg
``SELECT time, value … WHERE station_id = … AND time >= … AND time < … ORDER BY time`` of the
same rows; p50 and p95 in ms. It needs PostGIS; the schema is dropped after. ``--chart-rows``
makes it smaller (one station per 10,000 rows); at 10 M it takes about 2 minutes on 2 cores.

Last, the push (``benchmarks/warning_push.py``): from a reading posted to ``POST /observations``
to its alert drawn on 10 wall maps open in Chromium (target p95 ≤ 1 s).

Run: ``bash .ci/bench``, or ``python benchmarks/bench_warning.py [--repeats N] [--ingest N]
[--chart-rows N] [--pages N] [--push-events N] [--only rules|ingest|chart|push]``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from warning_push import bench_push  # benchmarks/ is on sys.path when a bench runs

from gis.warning.hysteresis import decide
from gis.warning.judge import (
    HOUR_S,
    judge_rainfall,
    judge_rise,
    judge_stale,
    judge_water_level,
    latest,
    rain_accumulations,
)
from layers.io.observations import Observation
from layers.io.warning_rules import read_warning_rules
from layers.store import pg_observations
from layers.store.base import Store
from layers.store.gpkg import GeoPackageStore
from layers.store.postgis import PostGISStore, sqlalchemy_url

RAIN_GAUGES, LEVEL_GAUGES = 1500, 500
STEP_S, HOURS = 300.0, 24
AT = 1_800_000_000.0
RULES = read_warning_rules()


def _observations(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stations = RAIN_GAUGES + LEVEL_GAUGES
    steps = int(HOURS * HOUR_S / STEP_S)
    station = np.repeat(np.arange(stations), steps)
    time_s = AT - np.tile(np.arange(steps)[::-1] * STEP_S, stations)
    intensity = rng.uniform(0.0, 0.4, stations)[station]  # mm per 5 minutes, on average, per gauge
    value = np.where(station < RAIN_GAUGES, rng.gamma(0.5, 2.0, station.size) * intensity, 100.0 + np.cumsum(rng.normal(0, 0.01, station.size)) % 3.0)
    return station, time_s, value


def evaluate(station: np.ndarray, time_s: np.ndarray, value: np.ndarray, thresholds: dict[str, np.ndarray]) -> int:
    """One evaluation of every rule family for every station; returns how many alerts it raises."""
    rules = RULES
    stations = RAIN_GAUGES + LEVEL_GAUGES
    rain = station < RAIN_GAUGES
    totals = rain_accumulations(station[rain], time_s[rain], value[rain], at_s=AT, windows_h=rules.windows_h, stations=stations)
    levels, last_s = latest(station, time_s, value, stations=stations, at_s=AT)
    assert rules.rise is not None and rules.stale is not None
    judgements = [
        judge_rainfall(totals, rules.windows_h, rules.rainfall, deadband_mm=rules.rain_deadband_mm),
        judge_water_level(np.where(np.arange(stations) >= RAIN_GAUGES, levels, np.nan), thresholds, rules.water_level, deadband_m=rules.level_deadband_m),
        judge_rise(station[~rain], time_s[~rain], value[~rain], rules.rise, stations=stations, at_s=AT, deadband_m=rules.level_deadband_m),
        judge_stale(last_s, rules.stale, at_s=AT),
    ]
    episode, open_alert = np.full(stations, -1, np.int8), np.zeros(stations, bool)
    return sum(int(decide(episode, open_alert, judged).raise_.sum()) for judged in judgements)


def reference(station: np.ndarray, time_s: np.ndarray, value: np.ndarray) -> pd.DataFrame:
    """pandas: the rain of each gauge in each window, by filtering and grouping."""
    frame = pd.DataFrame({"station": station, "time": time_s, "rain": value})
    frame = frame[frame["station"] < RAIN_GAUGES]
    return pd.DataFrame({window: frame[frame["time"] > AT - window * HOUR_S].groupby("station")["rain"].sum() for window in RULES.windows_h})


def _reports(count: int, *, stations: int = 2000) -> list[Observation]:
    """``count`` water-level reports, every 5 minutes per station, from 2026-07-01T00:00Z."""
    start = datetime(2026, 7, 1, tzinfo=UTC)
    rng = np.random.default_rng(5)
    values = (30.0 + rng.normal(0, 0.05, count).cumsum() % 5).round(3).tolist()
    return [Observation(f"5110{i % stations:04d}", start + timedelta(minutes=5 * (i // stations)), values[i], "m", None) for i in range(count)]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} obs/s  ({seconds:6.2f} s)"


def bench_ingest_gpkg(reports: list[Observation]) -> None:
    """upsert_observations into a GeoPackage against sqlite3 executemany into the same table."""
    with tempfile.TemporaryDirectory() as folder:
        with GeoPackageStore(Path(folder) / "bench.gpkg") as store:
            start = time.perf_counter()
            store.upsert_observations(reports)
            ours = time.perf_counter() - start
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        rows = [(r.station_id, (r.time - epoch) // timedelta(milliseconds=1), r.value, r.unit, r.quality, 0) for r in reports]
        connection = sqlite3.connect(Path(folder) / "plain.sqlite", isolation_level=None)
        connection.execute("CREATE TABLE obs (station_id TEXT NOT NULL, time_ms INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, "
                           "quality TEXT, received_at_ms INTEGER NOT NULL, PRIMARY KEY (station_id, time_ms)) WITHOUT ROWID")
        connection.execute("CREATE INDEX obs_time ON obs (time_ms)")
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
        theirs = time.perf_counter() - start
        connection.close()
    print(f"GeoPackage upsert_observations      {_rate(len(reports), ours)}  (target ≥ 5,000 obs/s)")
    print(f"sqlite3 executemany, same table      {_rate(len(reports), theirs)}")
    print(f"→ ratio onemap / sqlite3 {ours / theirs:.2f}")


def bench_ingest_postgis(reports: list[Observation], url: str) -> None:
    """upsert_observations into PostGIS against psycopg's COPY into an identical plain table."""
    import psycopg

    schema = f"bench_obs_{uuid.uuid4().hex[:8]}"
    plain_url = sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")
    try:
        with PostGISStore(url, schema=schema) as store:
            start = time.perf_counter()
            store.upsert_observations(reports)
            ours = time.perf_counter() - start
        with psycopg.connect(plain_url) as connection:
            connection.execute(f"CREATE TABLE {schema}.plain_obs (station_id text NOT NULL, time timestamptz NOT NULL, value double precision NOT NULL, "
                               "unit text NOT NULL, quality text, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (station_id, time))")
            connection.commit()
            start = time.perf_counter()
            with connection.cursor() as cursor, cursor.copy(f"COPY {schema}.plain_obs (station_id, time, value, unit, quality) FROM STDIN") as copy:
                for r in reports:
                    copy.write_row((r.station_id, r.time, r.value, r.unit, r.quality))
            connection.commit()
            theirs = time.perf_counter() - start
    finally:
        with psycopg.connect(plain_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(f"PostGIS upsert_observations         {_rate(len(reports), ours)}  (target ≥ 20,000 obs/s)")
    print(f"psycopg COPY, plain table           {_rate(len(reports), theirs)}")
    print(f"→ ratio onemap / COPY {ours / theirs:.2f}")


def bench_ingest(count: int) -> None:
    """Ingest throughput into each store against the plain load of the same rows."""
    reports = _reports(count)
    print(f"== ingest, {count:,} observations (2,000 stations, every 5 min)")
    bench_ingest_gpkg(reports)
    url = os.environ.get("ONEMAP_BENCH_PG_URL") or os.environ.get("ONEMAP_TEST_PG_URL")
    if url:
        bench_ingest_postgis(reports, url)
    else:
        print("PostGIS skipped: set ONEMAP_BENCH_PG_URL (or run `bash .ci/bench`)")


def bench_rules(repeats: int) -> None:
    """The warning rules for 2,000 stations against pandas' rain accumulations (medians in ms)."""
    station, time_s, value = _observations(seed=3)
    stations = RAIN_GAUGES + LEVEL_GAUGES
    thresholds = {name: np.where(np.arange(stations) >= RAIN_GAUGES, 100.0 + offset, np.nan) for name, offset in (("flood_limit_level_m", 1.5), ("warning_level_m", 2.0), ("guaranteed_level_m", 2.5), ("design_flood_level_m", 2.9))}
    ours, theirs = [], []
    raised = evaluate(station, time_s, value, thresholds)
    check = reference(station, time_s, value)
    totals = rain_accumulations(station, time_s, np.where(station < RAIN_GAUGES, value, np.nan), at_s=AT, windows_h=RULES.windows_h, stations=stations)
    np.testing.assert_allclose(totals[:RAIN_GAUGES], check.to_numpy(), rtol=1e-9)
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate(station, time_s, value, thresholds)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference(station, time_s, value)
        theirs.append(time.perf_counter() - start)
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"== warning rules, {stations:,} stations, {station.size:,} observations (24 h every 5 min); {raised} alerts raised")
    print(f"onemap, every rule family + hysteresis  median {ours_ms:7.1f} ms  (target ≤ 100 ms)")
    print(f"pandas, rain accumulations only         median {theirs_ms:7.1f} ms")
    print(f"→ ratio onemap / pandas {ours_ms / theirs_ms:.2f}")


# --- the 24-hour chart of one station, among millions of observations ------------------------

CHART_REPORTS = 10_000
"""Reports per station in the chart benchmark: every 5 minutes for 34.7 days (≥ 2 UTC months)."""
CHART_STEP = timedelta(minutes=5)
CHART_SAMPLE = 200
"""Stations whose 24-hour chart is timed (drawn at random)."""
CHART_TARGET_MS = 50.0
CHART_STEPS_PER_CHUNK = 50
"""Report times per COPY chunk (50 × 1,000 stations: 50,000 rows, about 2.5 MB)."""


def _chart_stations(rows: int) -> list[str]:
    """The station codes for ``rows`` observations: one per CHART_REPORTS rows (1,000 for 10 M)."""
    return [f"51{i:06d}" for i in range(max(1, round(rows / CHART_REPORTS)))]


def _copy_chunks(station_ids: list[str], end: datetime, *, seed: int) -> Iterator[bytes]:
    """COPY text of every station's CHART_REPORTS reports ending at ``end``, in arrival order
    (time by time, every station at each): the first 3/4 are rain gauges (mm per 5 minutes,
    0.1 mm, dry most of the time), the rest water-level gauges (m, 0.01 m, a slow random walk)."""
    rng = np.random.default_rng(seed)
    rain = len(station_ids) * 3 // 4
    prefixes = [f"{sid}\t" for sid in station_ids]
    units = ["mm"] * rain + ["m"] * (len(station_ids) - rain)
    level = rng.uniform(20.0, 120.0, len(station_ids) - rain)  # m
    first = end - (CHART_REPORTS - 1) * CHART_STEP
    for chunk in range(0, CHART_REPORTS, CHART_STEPS_PER_CHUNK):
        lines = []
        for step in range(chunk, min(chunk + CHART_STEPS_PER_CHUNK, CHART_REPORTS)):
            stamp = f"{first + step * CHART_STEP:%Y-%m-%d %H:%M:%S}+00"
            wet = rng.random(rain) < 0.15
            level += rng.normal(0.0, 0.01, level.size)
            values = np.concatenate([np.where(wet, rng.gamma(0.6, 1.5, rain), 0.0).round(1), level.round(2)]).tolist()
            lines.append("".join([f"{p}{stamp}\t{v}\t{u}\t\\N\n" for p, v, u in zip(prefixes, values, units, strict=True)]))
        yield "".join(lines).encode()


def _make_partitions(url: str, schema: str, start: datetime, end: datetime) -> int:
    """The month partitions a write of [start, end] would make, made by the store's own code
    (``pg_observations.months_needed`` and ``create_partitions``); returns how many months."""
    from sqlalchemy import create_engine

    days = [(start + timedelta(days=d)).timestamp() * 1000 for d in range((end - start).days + 1)] + [end.timestamp() * 1000]
    months = pg_observations.months_needed([("", int(ms), 0.0, "mm", None) for ms in days], now=end)
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            pg_observations.create_partitions(connection, schema, months)
    finally:
        engine.dispose()
    return len(months)


def _months_spanned(start: datetime, end: datetime) -> int:
    """How many UTC months [start, end] touches."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _load_chart(plain_url: str, schema: str, station_ids: list[str], end: datetime) -> tuple[float, float]:
    """COPY the observations straight into the store's table, then VACUUM (ANALYZE) it as
    autovacuum would in steady state; returns the seconds each took."""
    import psycopg

    with psycopg.connect(plain_url) as connection:
        start = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(f'COPY "{schema}".{pg_observations.OBSERVATIONS} (station_id, time, value, unit, quality) FROM STDIN') as copy:
            for chunk in _copy_chunks(station_ids, end, seed=11):
                copy.write(chunk)
        connection.commit()
        copied = time.perf_counter() - start
    with psycopg.connect(plain_url, autocommit=True) as connection:
        start = time.perf_counter()
        connection.execute(f'VACUUM (ANALYZE) "{schema}".{pg_observations.OBSERVATIONS}')
        vacuumed = time.perf_counter() - start
    return copied, vacuumed


def _ms_percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 of timings in seconds, in ms."""
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return float(p50), float(p95)


def _time_charts(store: Store, plain_url: str, schema: str, sample: list[str], end: datetime) -> tuple[list[float], list[float]]:
    """Seconds per 24-hour chart of each sampled station, through ``store.read_observations``
    (ours) and a plain psycopg SELECT of the same rows (reference), interleaved, after one warm-up
    pass of each; checks both return the same readings."""
    import psycopg

    since = end - timedelta(hours=24)
    query = (f'SELECT time, value FROM "{schema}".{pg_observations.OBSERVATIONS} '
             "WHERE station_id = %s AND time >= %s AND time < %s ORDER BY time")
    ours: list[float] = []
    theirs: list[float] = []
    with psycopg.connect(plain_url) as connection:
        for sid in sample:
            frame = store.read_observations([sid], since, end)
            rows = connection.execute(query, (sid, since, end)).fetchall()
            assert frame["value"].tolist() == [r[1] for r in rows] and len(rows) == 24 * 12, (sid, len(frame), len(rows))
        for sid in sample:
            start = time.perf_counter()
            store.read_observations([sid], since, end)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            connection.execute(query, (sid, since, end)).fetchall()
            theirs.append(time.perf_counter() - start)
    return ours, theirs


def bench_chart(rows: int, url: str) -> None:
    """The popup chart's query (24 h of one station) among ``rows`` observations in a fresh
    PostGIS schema, against a plain psycopg SELECT of the same rows; the schema is dropped after."""
    import psycopg

    schema = f"bench_chart_{uuid.uuid4().hex[:8]}"
    plain_url = sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")
    station_ids = _chart_stations(rows)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 5)
    start = end - (CHART_REPORTS - 1) * CHART_STEP
    total = len(station_ids) * CHART_REPORTS
    sample = [str(s) for s in np.random.default_rng(17).choice(station_ids, min(CHART_SAMPLE, len(station_ids)), replace=False)]
    print(f"== chart query, {total:,} observations ({len(station_ids):,} stations every 5 min for "
          f"{(end - start) / timedelta(days=1):.1f} days, to {end:%Y-%m-%d %H:%M}Z)")
    try:
        with PostGISStore(url, schema=schema) as store:
            months = _make_partitions(url, schema, start, end)
            copied, vacuumed = _load_chart(plain_url, schema, station_ids, end)
            print(f"loaded by COPY in {copied:.1f} s ({total / copied:,.0f} obs/s), VACUUM (ANALYZE) {vacuumed:.1f} s; "
                  f"{months} monthly partitions made, {_months_spanned(start, end)} holding data")
            ours, theirs = _time_charts(store, plain_url, schema, sample, end)
    finally:
        with psycopg.connect(plain_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    (ours_50, ours_95), (theirs_50, theirs_95) = _ms_percentiles(ours), _ms_percentiles(theirs)
    verdict = "PASS" if ours_95 <= CHART_TARGET_MS else "FAIL"
    print(f"onemap read_observations, 24 h of 1 station  p50 {ours_50:6.2f} ms  p95 {ours_95:6.2f} ms  ({len(sample)} stations; target ≤ {CHART_TARGET_MS:.0f} ms: {verdict})")
    print(f"psycopg SELECT time, value, same rows        p50 {theirs_50:6.2f} ms  p95 {theirs_95:6.2f} ms")
    print(f"→ ratio onemap / psycopg  p50 {ours_50 / theirs_50:.2f}  p95 {ours_95 / theirs_95:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="evaluations timed (default 15)")
    parser.add_argument("--ingest", type=int, default=200_000, help="observations upserted into each store (default 200000)")
    parser.add_argument("--chart-rows", type=int, default=10_000_000, help="observations held for the chart query (default 10000000)")
    parser.add_argument("--pages", type=int, default=10, help="wall maps open for the push (default 10)")
    parser.add_argument("--push-events", type=int, default=20, help="readings posted for the push (default 20)")
    parser.add_argument("--only", choices=("rules", "ingest", "chart", "push"), help="run only this part (default: all four)")
    arguments, _ = parser.parse_known_args()
    if arguments.only in (None, "rules"):
        bench_rules(arguments.repeats)
    if arguments.only in (None, "ingest"):
        bench_ingest(arguments.ingest)
    if arguments.only in (None, "chart"):
        url = os.environ.get("ONEMAP_BENCH_PG_URL") or os.environ.get("ONEMAP_TEST_PG_URL")
        if url:
            bench_chart(arguments.chart_rows, url)
        else:
            print("chart query skipped: it needs PostGIS; set ONEMAP_BENCH_PG_URL (or run `bash .ci/bench`)")
    if arguments.only in (None, "push"):
        bench_push(arguments.pages, arguments.push_events)


if __name__ == "__main__":
    main()
