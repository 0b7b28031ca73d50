"""Analyses partitioned by county (blocks labelled by county, each with its halo) give the single-process answer
exactly: risk on 2 local dask.distributed workers through the CLI (outputs compared file by file)
and in this process for what that run does not reach (network capacity minutes, the DEM's slope);
coverage's walking reach and a scenario's impact on 2 local workers and in this process. A scheduler that cannot be
reached fails in seconds."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from api.cli import main
from gis.crs import WORK_EPSG
from gis.partitions import in_this_process
from gis.risk import RiskGrid
from gis.risk.surfaces import Dem
from gis.risk.windows import county_windows
from gis.risk.zoning import RiskResult, zone_risk
from gis.scenario.impact import residents_in_zones
from layers.city import read_city_profile
from layers.errors import InputError
from layers.services.cluster import check_cluster_options, cluster
from layers.services.coverage import CoverageService
from layers.services.routing import RoutingService
from layers.settings import Settings
from layers.store import open_store

pytestmark = pytest.mark.xdist_group("dask")  # one LocalCluster at a time on a 2-core machine

HAZARDS = ("reservoirs", "geohazard_points", "chemical_parks", "hazardous_enterprises", "flood_prone_areas")


def _same_files(single: Path, partitioned: Path) -> None:
    for name in ("risk_score.tif", "risk_level.tif"):
        with rasterio.open(single / name) as a, rasterio.open(partitioned / name) as b:
            assert a.transform == b.transform and a.crs == b.crs
            assert np.array_equal(a.read(), b.read(), equal_nan=True), name
    layers = [name for name, _ in pyogrio.list_layers(single / "risk.gpkg")]
    assert layers == [name for name, _ in pyogrio.list_layers(partitioned / "risk.gpkg")] and "area_levels" in layers
    for layer in layers:
        a, b = (pyogrio.read_dataframe(folder / "risk.gpkg", layer=layer) for folder in (single, partitioned))
        assert len(a) and a.equals(b), layer
    books = [openpyxl.load_workbook(folder / "risk_areas.xlsx") for folder in (single, partitioned)]
    assert books[0].sheetnames == books[1].sheetnames
    for sheet in books[0].sheetnames:
        rows = [[[cell.value for cell in row] for row in book[sheet].iter_rows()] for book in books]
        assert len(rows[0]) > 1 and rows[0] == rows[1], sheet


def test_risk_on_two_local_workers_writes_the_same_files_as_one_process(sample_gpkg: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(sample_gpkg, store)
    runner = CliRunner()
    args = ["--store", str(store), "risk", "--resolution", "1000", "--straight-line"]
    single = runner.invoke(main, [*args, "--out", str(tmp_path / "single")])
    assert single.exit_code == 0, single.output
    partitioned = runner.invoke(main, [*args, "--workers", "2", "--out", str(tmp_path / "partitioned")])
    assert partitioned.exit_code == 0, partitioned.output
    assert "LocalCluster (2 worker processes)" in partitioned.output
    _same_files(tmp_path / "single", tmp_path / "partitioned")


def _zoned(city: dict[str, gpd.GeoDataFrame], grid: RiskGrid, minutes: np.ndarray, dem: Dem, *, by_county: bool) -> RiskResult:
    layers = {name: city[name] for name in HAZARDS}
    windows = county_windows(grid, city["admin_areas"].to_crs(grid.epsg)) if by_county else None
    return zone_risk(layers, city["population"], city["admin_areas"], city["rescue_stations"], grid=grid, capacity_minutes=minutes, dem=dem, windows=windows)


def test_county_windows_with_network_minutes_and_slope_equal_row_bands(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    admin = sample_city["admin_areas"].to_crs(WORK_EPSG)
    grid = RiskGrid.covering(admin.total_bounds, 800.0, WORK_EPSG)
    minutes = np.add.outer(np.linspace(0, 40, grid.height), np.linspace(0, 30, grid.width)).astype(np.float32)  # farther east and south, slower
    west, south, east, north = admin.total_bounds
    ys, xs = np.mgrid[0:200, 0:200]
    elevation = (40 + 500 * np.sin(xs / 1.3) * np.cos(ys / 1.7)).astype(np.float64)  # rough hills: every slope class
    transform = rasterio.transform.from_bounds(west - 1000, south - 1000, east + 1000, north + 1000, 200, 200)
    dem = Dem(elevation, transform, rasterio.crs.CRS.from_epsg(WORK_EPSG))
    windows = county_windows(grid, admin)
    assert len({w.label for w in windows}) == 11  # Jining's 11 counties, each a set of blocks
    cells = np.zeros(grid.shape, dtype=np.int8)
    for w in windows:
        cells[w.cells] += 1
    assert cells.max() == 1  # disjoint: no cell computed twice
    one, many = _zoned(sample_city, grid, minutes, dem, by_county=False), _zoned(sample_city, grid, minutes, dem, by_county=True)
    assert "slope" in one.hazards and one.hazards["slope"].max() > 0.3
    for name in ("score", "levels"):
        assert np.array_equal(getattr(one, name), getattr(many, name)), name
    inside = one.levels > 0
    assert np.array_equal(one.persons[inside], many.persons[inside])
    assert one.upper_breaks == many.upper_breaks
    assert one.areas.equals(many.areas)
    assert one.polygons.geometry.equals(many.polygons.geometry)


def test_coverage_and_impact_on_two_local_workers_equal_one_process_to_the_last_pair(sample_gpkg: Path, tmp_path: Path) -> None:
    """The walking reach per county on the cluster (the walking graph sent once to each worker),
    stitched: the same pairs, nearest shelters, cells, shelters, areas and gaps; a footprint over
    several counties weighted per county: the same residents per township, zone and cell; and
    the same again in this process, partition by partition."""
    shutil.copy(sample_gpkg, tmp_path / "store.gpkg")
    base = Settings(store=str(tmp_path / "store.gpkg"))
    with open_store(base) as store:
        settings = base.with_profile(read_city_profile(store))
        service = CoverageService(store, settings, RoutingService(store, settings))
        cells = store.read("population").to_crs(WORK_EPSG)
        admin = store.read("admin_areas").to_crs(WORK_EPSG)
        towns = admin.loc[admin["level"] == "乡镇街道"]
        x, y = admin.union_all().centroid.coords[0]
        zones = gpd.GeoDataFrame({"zone": ["红区", "橙区", "黄区"]}, geometry=[shapely.Point(x, y).buffer(r) for r in (8_000, 20_000, 35_000)], crs=WORK_EPSG)
        with cluster(workers=2) as on_cluster:
            assert on_cluster is not None
            single = service.result("all")
            partitioned = CoverageService(store, settings, service.routing).result("all", run_partitions=on_cluster[0])
            impacts = [residents_in_zones(zones, cells, towns, run_partitions=run) for run in (None, on_cluster[0], in_this_process)]
        here = CoverageService(store, settings, service.routing).result("all", run_partitions=in_this_process)
    assert impacts[0].by_township["adcode"].str[:6].nunique() >= 3  # the footprint spans several counties
    for impact in impacts[1:]:
        for frame in ("by_township", "by_zone", "by_cell"):
            assert getattr(impacts[0], frame).equals(getattr(impact, frame)), frame
    assert len(single.reach.cell) > 1000 and (single.reach.nearest_shelter >= 0).any()
    for other in (partitioned, here):
        for name in ("cell", "shelter", "minutes", "nearest_shelter", "nearest_minutes", "cells_off_network", "shelters_off_network"):
            assert np.array_equal(getattr(single.reach, name), getattr(other.reach, name), equal_nan=True), name
        for frame in ("cells", "shelters", "areas", "gaps"):
            assert getattr(single, frame).equals(getattr(other, frame)), frame


def test_a_scheduler_that_cannot_be_reached_fails_in_seconds_saying_what_to_check() -> None:
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 .*dask scheduler"), cluster(scheduler="tcp://127.0.0.1:9"):
        pass
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize(("workers", "scheduler", "message"), [
    (2, "tcp://127.0.0.1:8786", "not both"),
    (0, None, "must be 1-64"),
    (None, "127.0.0.1:8786", "an address like tcp://HOST:8786"),
])
def test_cluster_options_that_cannot_work_are_refused_before_anything_starts(workers: int | None, scheduler: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_cluster_options(workers, scheduler)
