"""Import speed and memory: a 1,000,000-row CSV ledger of points into the GeoPackage store.

The file is a seeded rescue-station ledger as a bureau writes it (编号, 队伍名称, 队伍类型 with
ledger synonyms, 人员, 经度, 纬度). ``onemap import`` (validation, value synonyms, location
checks against the city, duplicate and placeholder checks, one transaction) is timed against
``ogr2ogr -f GPKG`` (GDAL's own CSV → GeoPackage copy, no validation) on the same file in the
same run, each as a process under GNU time for wall time and peak memory. A run on the first
10 % of the file shows that onemap's working memory is bounded by its chunks, not the file.

Target: onemap ≤ 3 × ogr2ogr's time.

Run: ``bash .ci/bench`` or ``python benchmarks/bench_import.py [--rows N]`` (needs ogr2ogr from
Debian's gdal-bin and /usr/bin/time).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyogrio

KINDS = ("基层应急救援站", "消防救援站", "专业救援队伍", "基层救援站")


def write_ledger(path: Path, rows: int, *, seed: int = 370800) -> None:
    """A seeded ledger of ``rows`` points inside Jining (lon 116.0–117.4, lat 34.8–35.8)."""
    rng = np.random.default_rng(seed)
    lon = np.round(rng.uniform(116.0, 117.4, rows), 6)
    lat = np.round(rng.uniform(34.8, 35.8, rows), 6)
    kinds = rng.integers(0, len(KINDS), rows)
    staff = rng.integers(3, 60, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "队伍名称", "队伍类型", "人员", "经度", "纬度"])
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            writer.writerows(
                (f"JY{i:07d}", f"救援站{i}", KINDS[kinds[i]], int(staff[i]), f"{lon[i]:.6f}", f"{lat[i]:.6f}")
                for i in range(start, stop)
            )


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of a process, from GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        result = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", report.name, *command], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            sys.exit(f"bench_import: {' '.join(command[:3])} … failed:\n{result.stderr[-2000:]}")
        seconds, kib = report.read().split()[-2:]
    return float(seconds), float(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the ledger (default 1,000,000)")
    args = parser.parse_args()
    for tool in ("ogr2ogr", "/usr/bin/time"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_import: {tool} not found (Debian: apt-get install gdal-bin time)")
    onemap = str(Path(sys.executable).with_name("onemap"))
    with tempfile.TemporaryDirectory(prefix="bench-import-") as work:
        folder = Path(work)
        ledger, small = folder / "救援队伍.csv", folder / "救援队伍_10pct.csv"
        write_ledger(ledger, args.rows)
        write_ledger(small, max(1, args.rows // 10))
        size_mb = ledger.stat().st_size / 1e6
        print(f"ledger: {args.rows:,} rows, {size_mb:.1f} MB CSV")

        ogr_seconds, ogr_mib = timed([
            "ogr2ogr", "-f", "GPKG", str(folder / "ogr.gpkg"), str(ledger), "-nln", "rescue_stations",
            "-oo", "X_POSSIBLE_NAMES=经度", "-oo", "Y_POSSIBLE_NAMES=纬度", "-a_srs", "EPSG:4326",
        ])
        env = {**os.environ, "ONEMAP_AUTH": "off"}
        results = {}
        for name, path in (("full", ledger), ("10 %", small)):
            store = folder / f"onemap-{len(results)}.gpkg"
            env["ONEMAP_STORE"] = str(store)
            results[name] = timed([onemap, "import", "rescue_stations", str(path)], env)
            count = pyogrio.read_info(store, layer="rescue_stations")["features"]
            expected = args.rows if name == "full" else max(1, args.rows // 10)
            if count != expected:
                sys.exit(f"bench_import: onemap stored {count:,} rows of {expected:,}")
        seconds, mib = results["full"]
        small_seconds, small_mib = results["10 %"]
        print(f"ogr2ogr -f GPKG          {ogr_seconds:7.1f} s   peak memory {ogr_mib:7.0f} MiB   ({args.rows / ogr_seconds:,.0f} rows/s)")
        print(f"onemap import            {seconds:7.1f} s   peak memory {mib:7.0f} MiB   ({args.rows / seconds:,.0f} rows/s)")
        print(f"onemap import, 10 % file {small_seconds:7.1f} s   peak memory {small_mib:7.0f} MiB")
        print(f"→ onemap / ogr2ogr time = {seconds / ogr_seconds:.2f}× (target ≤ 3×); "
              f"onemap memory on the whole file / on 10 % of it = {mib / small_mib:.2f} (bounded by chunks: close to 1, not 10)")


if __name__ == "__main__":
    main()
