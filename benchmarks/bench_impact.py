"""Scenario → impact → needs → deliveries on the sample city, and the area-weighted impact against
``geopandas.overlay`` (issue 16).

- ``chain``: ``onemap scenario plume`` as a planner runs it, in process on a GeoPackage copy of
  the sample city: the plume's zones, residents per township × zone, facilities inside, the
  evacuation to usable shelters (walking network), InaSAFE's needs and the deliveries from a
  stock ledger of every depot (HiGHS). Median of 5 runs after a warm-up that builds the walking
  graph (it is cached on disk beside the store, as in use). Target ≤ 2 s.
- ``overlay``: the impact of a ~50 km² footprint against geopandas.overlay of the same cells
  (``impact_overlay.py``). Target ≥ 5×.

- ``dam``: ``onemap scenario dam-break`` of the sample's largest reservoir (尼山水库) on the sample
  city's synthetic DEM read at 30 m cells around the dam, then impact, evacuation and needs.
  Median of 5. Target ≤ 10 s.

- ``brief``: ``onemap brief --incident ID`` as the command runs it, in process: an incident with an
  active plume scenario and stored depot stocks; the facts (its scenario, the nearest rescue
  stations and depots by road, closures), the basemap of the extent prepared from the store, the
  map drawn, the A4 PDF and the XLSX written. Median of 5 after a warm-up. Target ≤ 5 s.

Run: ``.venv/bin/python benchmarks/bench_impact.py [--only chain|dam|overlay|brief] [--repeat 5]``.
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


TARGET_DAM_S = 10.0


def dam(repeat: int) -> None:
    from layers.io.dem_file import to_dem_tiff
    from layers.sample import sample_dem
    from layers.services.dam_break_scenario import dam_break_scenario

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(store=str(Path(folder) / "sample.gpkg"), cache_dir=str(Path(folder) / "cache"))
        built = sample_dem(370800)
        dem_path = to_dem_tiff(Path(folder) / "dem.tif", built.elevation, built.transform, built.epsg)
        with open_store(settings) as store:
            write_sample(store, 370800)
            profile = shipped_needs_profile("inasafe")

            def run() -> tuple[float, float]:
                start = time.perf_counter()
                outcome = dam_break_scenario(store, settings, reservoir_id="SK0001", dem_path=dem_path, cell_m=30.0, profile=profile)
                return time.perf_counter() - start, outcome.impact.total_residents

            run()  # warm-up: the walking graph is built once and cached beside the store
            runs = [run() for _ in range(repeat)]
    times = [t for t, _ in runs]
    median = statistics.median(times)
    verdict = "PASS" if median <= TARGET_DAM_S else "FAIL"
    print(f"dam break of 尼山水库 at 30 m cells → impact → evacuation → needs: median {median:.2f} s of {repeat} (residents {runs[0][1]:,.0f}); target ≤ {TARGET_DAM_S:g} s: {verdict}")


TARGET_BRIEF_S = 5.0


def brief(repeat: int) -> None:
    from layers.services.brief_facts import incident_facts
    from layers.services.operations import Operations
    from layers.services.scenario_records import save_outcome
    from web.basemap import prepare_basemap
    from web.brief.compose import compose_brief
    from web.brief.pdf import render_brief_pdf
    from web.brief.workbook import render_brief_xlsx

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(store=str(Path(folder) / "sample.gpkg"), cache_dir=str(Path(folder) / "cache"))
        with open_store(settings) as store:
            write_sample(store, 370800)
            depots = store.read("supply_depots")["source_id"][:60]
            stocks = pd.DataFrame([(d, item, quantity, unit) for d in depots for item, quantity, unit in (("rice", 5000, "kg"), ("drinking_water", 20000, "l"), ("toilet", 50, "piece"))],
                                  columns=["depot_id", "item", "quantity", "unit"])
            store.write_depot_stocks(stocks, actor="bench")
            incident = Operations(store, settings).create_incident(lon=116.59, lat=35.41, kind="危化品事故", name="化工园区氯气泄漏", actor="bench")
            incident_id = str(incident["source_id"].iloc[0])
            outcome = plume_scenario(store, settings, lon=116.59, lat=35.41, wind_from_deg=45, wind_speed_ms=3, stability="D", release_g_s=1000,
                                     thresholds_mg_m3=[58, 5.8, 1.5], profile=shipped_needs_profile("inasafe"))
            save_outcome(store, settings, outcome, name=None, incident_id=incident_id, active=True, actor="bench")

            def run() -> tuple[float, int]:
                start = time.perf_counter()
                facts = incident_facts(store, settings, incident_id, author="bench")
                basemap = prepare_basemap(*(store.read(layer, bbox=facts.extent) for layer in ("admin_areas", "water_bodies", "roads")))
                document = compose_brief(facts, basemap)
                pdf, xlsx = render_brief_pdf(document), render_brief_xlsx(document)
                return time.perf_counter() - start, len(pdf) + len(xlsx)

            run()  # warm-up: the driving graph is built once and cached beside the store
            runs = [run() for _ in range(repeat)]
    times = [t for t, _ in runs]
    median = statistics.median(times)
    verdict = "PASS" if median <= TARGET_BRIEF_S else "FAIL"
    print(f"incident brief (facts, map, A4 PDF and XLSX, {runs[0][1] / 1e6:.1f} MB): median {median:.2f} s of {repeat} (min {min(times):.2f}, max {max(times):.2f}); target ≤ {TARGET_BRIEF_S:g} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["chain", "dam", "overlay", "brief"], help="run one part")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    arguments = parser.parse_args()
    if arguments.only in (None, "chain"):
        print("== chain")
        chain(arguments.repeat)
    if arguments.only in (None, "dam"):
        print("== dam")
        dam(arguments.repeat)
    if arguments.only in (None, "overlay"):
        print("== overlay")
        compare_with_overlay(max(arguments.repeat, 5))
    if arguments.only in (None, "brief"):
        print("== brief")
        brief(arguments.repeat)


if __name__ == "__main__":
    main()
