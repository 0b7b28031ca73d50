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

Run: ``bash .ci/bench``, or ``python benchmarks/bench_warning.py [--repeats N] [--ingest N]``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="evaluations timed (default 15)")
    parser.add_argument("--ingest", type=int, default=200_000, help="observations upserted into each store (default 200000)")
    arguments, _ = parser.parse_known_args()
    station, time_s, value = _observations(seed=3)
    stations = RAIN_GAUGES + LEVEL_GAUGES
    thresholds = {name: np.where(np.arange(stations) >= RAIN_GAUGES, 100.0 + offset, np.nan) for name, offset in (("flood_limit_level_m", 1.5), ("warning_level_m", 2.0), ("guaranteed_level_m", 2.5), ("design_flood_level_m", 2.9))}
    ours, theirs = [], []
    raised = evaluate(station, time_s, value, thresholds)
    check = reference(station, time_s, value)
    totals = rain_accumulations(station, time_s, np.where(station < RAIN_GAUGES, value, np.nan), at_s=AT, windows_h=RULES.windows_h, stations=stations)
    np.testing.assert_allclose(totals[:RAIN_GAUGES], check.to_numpy(), rtol=1e-9)
    for _ in range(arguments.repeats):
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
    bench_ingest(arguments.ingest)


if __name__ == "__main__":
    main()
