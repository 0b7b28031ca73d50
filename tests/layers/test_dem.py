"""The sample city's synthetic DEM (its geography, determinism, windows) and DEM GeoTIFFs in and
out (round trip, any CRS onto the work CRS, the errors that name the file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio import features

import layers.sample.dem as dem_module
from gis.scenario.dam_break import Reservoir, dam_break
from gis.scenario.terrain import flow_grid, trace
from layers.errors import InputError
from layers.io.dem_file import read_dem, to_dem_tiff
from layers.sample import facilities
from layers.sample.dem import LAKE_LEVEL_M, LAKE_OUTLET, MOUNT_NI, Dem, build_dem
from layers.sample.land import Land, build_land, build_population, build_townships, to_metres

pytestmark = pytest.mark.xdist_group("dem")  # its module fixtures are built once, on one worker (--dist loadgroup)

SEED = 7


@pytest.fixture(scope="module")
def city() -> tuple[Land, NDArray[np.float64]]:
    """The sample's land and its 248 reservoirs (x, y), drawn as ``generate_city`` draws them."""
    rng = np.random.default_rng(370800)
    land = build_land(rng)
    population = build_population(land, rng)
    townships = build_townships(land, population, rng)
    reservoirs = facilities.reservoirs(land, population, townships, rng)
    return land, shapely.get_coordinates(np.asarray(reservoirs["geometry"]))


@pytest.fixture(scope="module")
def dem(city: tuple[Land, NDArray[np.float64]]) -> Dem:
    land, reservoirs = city
    dem = build_dem(land, seed=SEED, valley_points=reservoirs)  # the whole city at 90 m
    dem_module._LATTICES.clear()  # the next build starts afresh: same seed, same land?
    return dem


def mask(dem: Dem, geometry: shapely.Geometry) -> NDArray[np.bool_]:
    return features.rasterize([geometry], out_shape=dem.elevation.shape, transform=dem.transform, fill=0, default_value=1, dtype="uint8") == 1


def at(dem: Dem, xy: NDArray[np.float64]) -> NDArray[np.float32]:
    t = dem.transform
    return dem.elevation[((t.f - xy[:, 1]) // -t.e).astype(int), ((xy[:, 0] - t.c) // t.a).astype(int)]


def test_west_low_east_hilly_lake_lowest(city: tuple[Land, NDArray[np.float64]], dem: Dem) -> None:
    land, _ = city
    assert dem.epsg == 4548 and dem.transform.a == 90.0 and dem.elevation.dtype == np.float32
    inside, lake = mask(dem, land.boundary), mask(dem, land.lake)
    outflow = mask(dem, shapely.LineString([to_metres(*p) for p in LAKE_OUTLET]).buffer(1_000.0))
    cols = dem.elevation.shape[1]
    west, east = dem.elevation[:, : cols // 2][inside[:, : cols // 2]], dem.elevation[:, cols // 2 :][inside[:, cols // 2 :]]
    assert 33.0 < np.median(west) < 38.0 and np.median(east) > np.median(west) + 30.0
    assert np.all(dem.elevation[lake] == LAKE_LEVEL_M)
    assert dem.elevation[inside & ~lake & ~outflow].min() > LAKE_LEVEL_M  # only the lake's outflow is lower
    ni = np.array([to_metres(MOUNT_NI[0], MOUNT_NI[1])])
    near_ni = mask(dem, shapely.Point(ni[0]).buffer(1_000.0))
    assert dem.elevation[near_ni].max() == pytest.approx(340.0, abs=15.0)
    assert 250.0 < dem.elevation[inside].max() < 600.0


def test_reservoirs_lie_above_the_lake_in_valleys_that_drain_to_it(city: tuple[Land, NDArray[np.float64]], dem: Dem) -> None:
    land, reservoirs = city
    heights = at(dem, reservoirs)
    assert np.all(heights > LAKE_LEVEL_M)
    # In a valley: lower than the ground 500 m around (in the hills, where valleys show).
    ring = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]) * 500.0
    around = np.array([at(dem, point + ring).mean() for point in reservoirs])
    hills = land.hilliness(reservoirs[:, 0], reservoirs[:, 1]) > 0.5
    assert hills.sum() > 100 and np.mean(heights[hills] < around[hills]) > 0.85
    # Water runs west into the lake: the flow path from every reservoir reaches it (routed on the
    # DEM from 20 km west of the lake eastward, where the reservoirs are: it routes faster).
    c0 = int((land.lake.bounds[0] - 20_000.0 - dem.transform.c) // 90.0)
    east = dem.elevation[:, c0:]
    flow = flow_grid(east, dx=90.0, dy=90.0)
    lake = mask(dem, land.lake)[:, c0:].ravel()
    t, cols = dem.transform, east.shape[1]
    inside = reservoirs[:, 0] > t.c + c0 * 90.0
    starts = ((t.f - reservoirs[inside, 1]) // 90.0).astype(int) * cols + ((reservoirs[inside, 0] - t.c) // 90.0).astype(int) - c0
    assert inside.sum() > 220 and all(lake[trace(flow, int(s), max_length_m=1e9, stop=lake)[0][-1]] for s in starts)


def test_same_seed_same_heights_in_any_window_other_seed_other_land(city: tuple[Land, NDArray[np.float64]], dem: Dem) -> None:
    land, reservoirs = city
    x, y = np.round(np.array(to_metres(117.1, 35.5)) / 90.0) * 90.0
    bounds = (x - 9_000.0, y - 9_000.0, x + 9_000.0, y + 9_000.0)  # on the 90 m grid
    window = build_dem(land, seed=SEED, bounds=bounds, valley_points=reservoirs)
    c0, r0 = int(round((window.transform.c - dem.transform.c) / 90.0)), int(round((dem.transform.f - window.transform.f) / 90.0))
    rows, cols = window.elevation.shape
    assert np.array_equal(window.elevation, dem.elevation[r0 : r0 + rows, c0 : c0 + cols])
    fine = build_dem(land, seed=SEED, cell_m=30.0, bounds=bounds, valley_points=reservoirs)  # 30 m: the same land
    assert fine.elevation.shape == (3 * rows, 3 * cols)
    gap = np.abs(fine.elevation[1::3, 1::3] - window.elevation)  # the 90 m cells' centres
    assert np.median(gap) < 0.01 and np.percentile(gap, 95) < 5.0  # valley sides: distances at 30 m vs 90 m
    other = build_dem(land, seed=SEED + 1, bounds=bounds)
    assert np.abs(other.elevation - window.elevation).mean() > 5.0


def test_a_bad_cell_size_raises(city: tuple[Land, NDArray[np.float64]]) -> None:
    with pytest.raises(ValueError, match="cell_m"):
        build_dem(city[0], cell_m=0.0)


# --- GeoTIFF ---------------------------------------------------------------------------------


Height = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


def lonlat_dem(tmp_path: Path) -> tuple[Path, Height]:
    """A smooth 1″ DEM in EPSG:4326 over 116.90-117.07 °E, 35.30-35.47 °N, with a hole."""
    res, n = 1 / 3600, 600

    def height(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
        return 50.0 + 300.0 * (lon - 116.9) + 200.0 * (lat - 35.3) + 10.0 * np.sin(lon * 200.0) * np.cos(lat * 150.0)

    lon, lat = np.meshgrid(116.9 + (np.arange(n) + 0.5) * res, 35.3 + n * res - (np.arange(n) + 0.5) * res)
    z = height(lon, lat)
    z[:20, :20] = np.nan
    return to_dem_tiff(tmp_path / "srtm_like.tif", z, Affine(res, 0, 116.9, 0, -res, 35.3 + n * res), 4326), height


def test_round_trip_keeps_heights_transform_and_holes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    z = rng.uniform(30.0, 400.0, (50, 70))
    z[3:6, 10:12] = np.nan
    transform = Affine(30.0, 0, 480_000.0, 0, -30.0, 3_930_000.0)
    path = to_dem_tiff(tmp_path / "dem.tif", z, transform, 4548)
    with rasterio.open(path) as source:
        assert source.crs.to_epsg() == 4548 and source.nodata == -9999.0 and source.dtypes[0] == "float32"
    heights, read_transform = read_dem(path, work_epsg=4548)
    assert read_transform == transform and heights.shape == z.shape
    assert np.array_equal(np.isnan(heights), np.isnan(z))
    assert np.allclose(heights[~np.isnan(z)], z[~np.isnan(z)], atol=1e-4)


def test_a_lonlat_dem_read_into_gauss_kruger_has_the_same_heights_at_the_same_places(tmp_path: Path) -> None:
    path, height = lonlat_dem(tmp_path)
    to_work = Transformer.from_crs(4326, 4548, always_xy=True)
    (x0, y0), (x1, y1) = to_work.transform(116.93, 35.33), to_work.transform(117.02, 35.42)
    heights, transform = read_dem(path, work_epsg=4548, bounds=(x0, y0, x1, y1), cell_m=30.0)
    assert transform.a == 30.0 and transform.c <= x0 and transform.f >= y1 and np.isfinite(heights).all()
    rows, cols = np.mgrid[0 : heights.shape[0] : 17, 0 : heights.shape[1] : 19]
    lon, lat = Transformer.from_crs(4548, 4326, always_xy=True).transform(transform.c + (cols + 0.5) * 30.0, transform.f - (rows + 0.5) * 30.0)
    assert np.abs(heights[rows, cols] - height(lon, lat)).max() < 0.2  # bilinear between 1″ (≈ 28 m) samples
    whole, _ = read_dem(path, work_epsg=4548)  # the whole file: the hole stays a hole
    assert np.isnan(whole).any() and np.isfinite(whole).mean() > 0.95


def test_a_dem_read_from_lonlat_runs_a_dam_break(tmp_path: Path) -> None:
    path, _ = lonlat_dem(tmp_path)
    to_work = Transformer.from_crs(4326, 4548, always_xy=True)
    (x0, y0), (x1, y1) = to_work.transform(116.92, 35.32), to_work.transform(117.05, 35.45)
    heights, transform = read_dem(path, work_epsg=4548, bounds=(x0, y0, x1, y1), cell_m=30.0)
    dam = to_work.transform(117.0, 35.4)
    with pytest.warns(UserWarning, match="leaves the DEM"):
        result = dam_break(heights, transform, dam, Reservoir(2e6, dam_height_m=12.0))
    assert 0 < result.flooded_volume_m3 <= 2e6 and result.path.length > 1_000.0


def test_bad_files_raise_naming_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(InputError, match=r"notes\.tif: not a readable raster"):
        read_dem(text, work_epsg=4548)
    with pytest.raises(InputError, match=r"missing\.tif: DEM file not found"):
        read_dem(tmp_path / "missing.tif", work_epsg=4548)
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32") as target:
        target.write(np.ones((4, 4), dtype=np.float32), 1)
    with pytest.raises(InputError, match=r"bare\.tif: the DEM has no CRS"):
        read_dem(bare, work_epsg=4548)
    path, _ = lonlat_dem(tmp_path)
    x, y = Transformer.from_crs(4326, 4548, always_xy=True).transform(117.0, 35.4)
    with pytest.raises(InputError, match=r"srtm_like\.tif: the DEM does not cover the asked area"):
        read_dem(path, work_epsg=4548, bounds=(x, y, x + 50_000.0, y + 50_000.0))
    with pytest.raises(InputError, match="not projected"):
        read_dem(path, work_epsg=4326)
    nodata = to_dem_tiff(tmp_path / "empty.tif", np.full((5, 5), np.nan), Affine(30.0, 0, 480_000.0, 0, -30.0, 3_930_000.0), 4548)
    with pytest.raises(InputError, match=r"empty\.tif: the DEM holds no data"):
        read_dem(nodata, work_epsg=4548)
