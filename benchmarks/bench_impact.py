"""Scenario → impact → needs → deliveries on the sample city, and the area-weighted impact against
``geopandas.overlay`` (issue 16).

- ``chain``: ``onemap scenario plume`` as a planner runs it, in process on a GeoPackage copy of
  the sample city: the plume's zones, residents per township × zone, facilities inside, the
  evacuation to usable shelters (walking network), InaSAFE's needs and the deliveries from a
  stock ledger of every depot (HiGHS). Median of 5 runs after a warm-up that builds the walking
  graph (it is cached on disk beside the store, as in use). Target ≤ 2 s.
- ``overlay``: the impact of a ~50 km² footprint against geopandas.overlay of the same cells
  (``impact_overlay.py``). Target ≥ 5×.

Not yet measured (not built yet): the dam break at 30 m DEM cells (target ≤ 10 s) and the PDF
brief (target ≤ 5 s).

Run: ``.venv/bin/python benchmarks/bench_impact.py [--only chain|overlay] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from impact_overlay import compare_with_overlay  # benchmarks/ is on sys.path when a bench runs

from layers.io.needs_profile import shipped_needs_profile
from layers.sample import write_sample
from layers.services.scenarios import plume_scenario
from layers.settings import Settings
from layers.store import open_store

TARGET_CHAIN_S = 2.0


def chain(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(store=str(Path(folder) / "sample.gpkg"), cache_dir=str(Path(folder) / "cache"))
        with open_store(settings) as store:
            write_sample(store, 370800)
            depots = store.read("supply_depots")
            ledger = Path(folder) / "stocks.csv"
            rows = [(d, item, quantity, unit) for d in depots["source_id"][:60] for item, quantity, unit in (("大米", 5000, "千克"), ("饮用水", 20000, "升"), ("厕所", 50, "个"))]
            pd.DataFrame(rows, columns=["储备库", "物资", "数量", "单位"]).to_csv(ledger, index=False)
            profile = shipped_needs_profile("inasafe")

            def run() -> float:
                start = time.perf_counter()
                outcome = plume_scenario(store, settings, lon=116.59, lat=35.41, wind_from_deg=45, wind_speed_ms=3, stability="D", release_g_s=1000,
                                         thresholds_mg_m3=[58, 5.8, 1.5], profile=profile, stocks_path=ledger)
                elapsed = time.perf_counter() - start
                assert outcome.allocation is not None and outcome.impact.total_residents > 0
                return elapsed

            run()  # warm-up: the walking and driving graphs are built once and cached beside the store
            times = [run() for _ in range(repeat)]
    median = statistics.median(times)
    verdict = "PASS" if median <= TARGET_CHAIN_S else "FAIL"
    print(f"plume → impact → evacuation → needs → deliveries on the sample city: median {median:.2f} s of {repeat} (min {min(times):.2f}, max {max(times):.2f}); target ≤ {TARGET_CHAIN_S:g} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["chain", "overlay"], help="run one part")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    arguments = parser.parse_args()
    if arguments.only in (None, "chain"):
        print("== chain")
        chain(arguments.repeat)
    if arguments.only in (None, "overlay"):
        print("== overlay")
        compare_with_overlay(max(arguments.repeat, 5))


if __name__ == "__main__":
    main()
