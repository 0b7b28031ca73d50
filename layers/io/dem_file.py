"""DEM GeoTIFFs in and out: write a grid of heights, read one in any CRS onto the work CRS.

A DEM may come in any CRS that declares itself: SRTM / Copernicus tiles in EPSG:4326 (degrees),
a survey in a UTM zone or a Gauss-Krüger zone. ``read_dem`` warps it onto a north-up grid in the
work CRS (metres; EPSG:4548 for Jining) with bilinear resampling (GDAL's warper through
rasterio; nodata cells are left out of the kernel and come back as NaN). With ``bounds`` only the
part of the file under them is read, so a large file costs the window, not the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from layers.errors import InputError

NODATA = -9999.0
"""The nodata value written into DEM files (NaN cells of the array)."""


def to_dem_tiff(path: str | Path, elevation: NDArray[np.floating], transform: Affine, epsg: int, *, nodata: float = NODATA) -> Path:
    """Write heights (m, row 0 north; NaN = no data) as a tiled, deflate-compressed float32
    GeoTIFF in EPSG:``epsg``, NaN written as ``nodata``. Returns the path."""
    import rasterio

    path = Path(path)
    heights = np.asarray(elevation, dtype=np.float32)
    if heights.ndim != 2:
        raise InputError(f"{path}: a DEM is a 2-D array of heights (got shape {heights.shape})")
    profile = {
        "driver": "GTiff", "width": heights.shape[1], "height": heights.shape[0], "count": 1, "dtype": "float32",
        "crs": f"EPSG:{epsg}", "transform": transform, "nodata": nodata, "compress": "deflate",
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as target:
        target.write(np.where(np.isfinite(heights), heights, np.float32(nodata)), 1)
        target.set_band_description(1, "elevation (m)")
    return path


def read_dem(
    path: str | Path,
    *,
    work_epsg: int,
    bounds: tuple[float, float, float, float] | None = None,
    cell_m: float | None = None,
) -> tuple[NDArray[np.float32], Affine]:
    """A DEM GeoTIFF (any declared CRS) warped onto the work CRS, bilinear, nodata as NaN.

    Parameters
    ----------
    path : the GeoTIFF; its first band holds heights in metres.
    work_epsg : the projected CRS to return the grid in (metres).
    bounds : (min x, min y, max x, max y) in ``work_epsg`` metres to cover; the file must cover
        them. Default: the whole file.
    cell_m : the cell size, m; default: about the file's own resolution.

    Returns
    -------
    (heights, transform) : float32 (rows, cols), row 0 north, and its north-up transform.

    Raises
    ------
    InputError
        The file is missing or not a raster, has no CRS, holds no data where asked, or does not
        cover ``bounds``; the message names the file.
    """
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds
    from rasterio.windows import Window, from_bounds

    path = Path(path)
    work = _work_crs(work_epsg)
    with open_dem(path) as source:
        footprint = _footprint(source.bounds, source.crs.to_wkt(), work)
        if bounds is None:
            bounds = footprint.bounds
        elif not footprint.buffer(1e-6 * footprint.length).contains(shapely.box(*bounds)):
            fx0, fy0, fx1, fy1 = footprint.bounds
            raise InputError(
                f"{path}: the DEM does not cover the asked area (x {bounds[0]:.0f}–{bounds[2]:.0f}, y {bounds[1]:.0f}–{bounds[3]:.0f} "
                f"in EPSG:{work_epsg}); it covers x {fx0:.0f}–{fx1:.0f}, y {fy0:.0f}–{fy1:.0f}: give a DEM over the whole area"
            )
        if cell_m is None:
            default, _, _ = calculate_default_transform(source.crs, work, source.width, source.height, *source.bounds)
        cell = float(cell_m if cell_m is not None else abs(default.a))
        if not (math.isfinite(cell) and cell > 0):
            raise InputError(f"cell_m must be > 0 m (got {cell_m})")
        x0, y0 = math.floor(bounds[0] / cell) * cell, math.floor(bounds[1] / cell) * cell
        cols, rows = max(1, math.ceil((bounds[2] - x0) / cell)), max(1, math.ceil((bounds[3] - y0) / cell))
        transform = Affine(cell, 0.0, x0, 0.0, -cell, y0 + rows * cell)
        # Read only the source pixels under the target grid (+2 for the bilinear kernel).
        west, south, east, north = transform_bounds(work, source.crs, x0, y0, x0 + cols * cell, y0 + rows * cell, densify_pts=21)
        window = from_bounds(west, south, east, north, transform=source.transform).round_offsets().round_lengths()
        window = Window(window.col_off - 2, window.row_off - 2, window.width + 4, window.height + 4)
        window = window.intersection(Window(0, 0, source.width, source.height))
        data = source.read(1, window=window, out_dtype="float32")
        nodata = source.nodata if source.nodata is not None else (np.nan if np.issubdtype(np.dtype(source.dtypes[0]), np.floating) else None)
        heights = np.full((rows, cols), np.nan, dtype=np.float32)
        reproject(
            data, heights, src_transform=source.window_transform(window), src_crs=source.crs, src_nodata=nodata,
            dst_transform=transform, dst_crs=work, dst_nodata=np.nan, resampling=Resampling.bilinear,
        )
    if not np.isfinite(heights).any():
        raise InputError(f"{path}: the DEM holds no data over the asked area (every cell is nodata)")
    return heights, transform


def dem_footprint(path: str | Path, *, work_epsg: int) -> shapely.Polygon:
    """The area a DEM GeoTIFF covers, as a polygon in the work CRS (metres), checked as
    ``read_dem`` checks the file (an InputError names it when missing, unreadable or without a CRS)."""
    work = _work_crs(work_epsg)
    with open_dem(Path(path)) as source:
        return _footprint(source.bounds, source.crs.to_wkt(), work)


def _work_crs(work_epsg: int) -> CRS:
    try:
        work = CRS.from_epsg(work_epsg)
    except CRSError:
        raise InputError(f"EPSG:{work_epsg} is not a known CRS; give the city's work CRS (EPSG:4548 for Jining)") from None
    if not work.is_projected:
        raise InputError(f"EPSG:{work_epsg} is not projected: the DEM is read onto a grid in metres (e.g. EPSG:4548)")
    return work


@contextmanager
def open_dem(path: Path) -> Iterator[Any]:
    """The DEM file open with rasterio (a DatasetReader), or an InputError naming the file:
    missing, not a raster, no CRS."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.exists():
        raise InputError(f"{path}: DEM file not found")
    try:
        source = rasterio.open(path)
    except RasterioIOError as error:
        raise InputError(f"{path}: not a readable raster ({str(error).splitlines()[0]})") from None
    with source:
        if source.crs is None:
            raise InputError(f"{path}: the DEM has no CRS; assign one (gdal_edit.py -a_srs EPSG:4326 {path.name}) and read it again")
        yield source


def _footprint(bounds: tuple[float, float, float, float], crs_wkt: str, work: CRS) -> shapely.Polygon:
    """The source's extent as a polygon in the work CRS (edges densified: a lon/lat box is not a
    rectangle in Gauss-Krüger)."""
    west, south, east, north = bounds
    ring = shapely.segmentize(shapely.box(west, south, east, north), max(east - west, north - south) / 64.0)
    coords = shapely.get_coordinates(ring.exterior)
    x, y = Transformer.from_crs(CRS.from_wkt(crs_wkt), work, always_xy=True).transform(coords[:, 0], coords[:, 1])
    return shapely.Polygon(np.column_stack([x, y]))
