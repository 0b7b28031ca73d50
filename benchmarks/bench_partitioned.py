"""Partitioned by county on dask.distributed: the speed-up with 2 workers against 1 on this machine,
and the memory per worker, for risk zoning and shelter coverage.

Measured in one run, on the sample city (or ``--store`` a GeoPackage: the province of
``onemap sample --scale province``):
- risk zoning at ``--resolution`` metres, straight-line capacity (the part that is partitioned: the
  per-cell surfaces), and coverage of every shelter type on the walking network (the walking reach);
- each in this process (row bands / one network_reach), then on a LocalCluster of 1 worker, then of 2;
- the time of the analysis (the cluster already started: its start is printed apart), the peak RSS
  of each worker process, and that the answers are identical to the in-process one.

The reference is the same analysis on 1 worker (speed-up = 1 worker ÷ 2 workers) and in this
process. On a 2-core machine 2 workers can at best halve the time; the driver's own part
(reading, combining, classifying, polygons) is not partitioned.

Run: ``bash .ci/bench`` or ``python benchmarks/bench_partitioned.py [--resolution 50] [--store PATH]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gis.coverage.analysis import CoverageResult
from gis.partitions import in_this_process
from gis.risk.zoning import RiskResult
from layers.city import read_city_profile
from layers.sample import write_sample
from layers.services.cluster import cluster
from layers.services.coverage import CoverageService
from layers.services.risk import RiskService
from layers.services.routing import RoutingService
from layers.settings import Settings
from layers.store import open_store
from layers.store.gpkg import GeoPackageStore


def _worker_peak_mb() -> float:
    """Run on a worker: its process's peak resident memory so far (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _same_risk(a: RiskResult, b: RiskResult) -> bool:
    return bool(np.array_equal(a.score, b.score) and np.array_equal(a.levels, b.levels) and a.areas.equals(b.areas))


def _same_coverage(a: CoverageResult, b: CoverageResult) -> bool:
    return bool(np.array_equal(a.reach.cell, b.reach.cell) and np.array_equal(a.reach.minutes, b.reach.minutes) and a.cells.equals(b.cells) and a.areas.equals(b.areas))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=float, default=50.0, help="risk grid cell, metres (default 50)")
    parser.add_argument("--store", type=Path, default=None, help="a GeoPackage store (default: the sample city, written to a temporary file)")
    parser.add_argument("--skip-coverage", action="store_true")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = arguments.store
        if path is None:
            path = Path(folder) / "city.gpkg"
            print("sample city: writing …", file=sys.stderr)
            with GeoPackageStore(path) as store:
                write_sample(store, 370800)
        base = Settings(store=str(path), cache_dir=str(Path(folder) / "cache"))
        with open_store(base) as store:
            settings = base.with_profile(read_city_profile(store))
            routing = RoutingService(store, settings)
            rows: list[tuple[str, str, float, str, str]] = []

            def risk(run_tasks: Any = None) -> tuple[RiskResult, float]:
                started = time.perf_counter()
                result = RiskService(store, settings, routing).run(resolution_m=arguments.resolution, use_roads=False, run_tasks=run_tasks)
                return result, time.perf_counter() - started

            def coverage(run_partitions: Any = None) -> tuple[CoverageResult, float]:
                started = time.perf_counter()
                result = CoverageService(store, settings, routing).result("all", run_partitions=run_partitions)
                return result, time.perf_counter() - started

            if not arguments.skip_coverage:
                routing.walking_graph(settings.walk_speed_kmh)  # built once, outside every timing
            base_risk, seconds = risk()
            rows.append(("risk", "this process (row bands)", seconds, f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (driver)", "reference"))
            cells = f"{base_risk.grid.width:,} × {base_risk.grid.height:,} cells of {arguments.resolution:g} m"
            base_coverage = None
            if not arguments.skip_coverage:
                base_coverage, seconds = coverage(in_this_process)
                rows.append(("coverage", "this process (per county)", seconds, "", "reference"))
                base_coverage, seconds = coverage()
                rows.append(("coverage", "this process (one reach)", seconds, "", "reference"))
            timings: dict[tuple[str, int], float] = {}
            for workers in (1, 2):
                started = time.perf_counter()
                with cluster(workers=workers) as on_cluster:
                    assert on_cluster is not None
                    run_tasks, _ = on_cluster
                    list(run_tasks(abs, [0]))  # waits for the cluster
                    start_s = time.perf_counter() - started
                    result, seconds = risk(run_tasks)
                    peaks = sorted(run_tasks(lambda _: _worker_peak_mb(), range(workers * 4)))
                    timings[("risk", workers)] = seconds
                    rows.append(("risk", f"{workers} worker(s), started in {start_s:.1f} s", seconds, f"peak {max(peaks):,.0f} MiB per worker", "identical" if _same_risk(base_risk, result) else "DIFFERENT"))
                    if base_coverage is not None:
                        covered, seconds = coverage(run_tasks)
                        peaks = sorted(run_tasks(lambda _: _worker_peak_mb(), range(workers * 4)))
                        timings[("coverage", workers)] = seconds
                        rows.append(("coverage", f"{workers} worker(s)", seconds, f"peak {max(peaks):,.0f} MiB per worker", "identical" if _same_coverage(base_coverage, covered) else "DIFFERENT"))
    print(f"risk zoning: {cells}, straight-line capacity; coverage: every shelter type, walking network")
    print(f"{'analysis':10} {'run on':38} {'seconds':>8}  {'memory':28} answer")
    for analysis, where, seconds, memory, same in rows:
        print(f"{analysis:10} {where:38} {seconds:8.2f}  {memory:28} {same}")
    for analysis in ("risk", "coverage"):
        if (analysis, 2) in timings:
            print(f"{analysis}: speed-up 2 workers ÷ 1 worker = {timings[(analysis, 1)] / timings[(analysis, 2)]:.2f}×")


if __name__ == "__main__":
    main()
