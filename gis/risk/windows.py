"""Risk surfaces window by window: the per-cell part of risk zoning (factor surfaces, residents,
the admin mask, straight-line capacity, slope) computed on one rectangle of the grid from only the
inputs that reach it, so that any set of windows covering the city gives the same cells as one
pass over the whole grid.

What reaches a window — its halo:
- a point factor's sources within the factor's decay reach (``reach_m``) plus two cells;
- polygons (flood-prone areas, admin areas) and population cells whose bounds meet the window;
- rescue stations within the straight-line capacity reach (``capacity_ref_min`` at
  ``straight_line_kmh``) plus a cell: a station farther away leaves the capacity saturated
  either way, so the score does not see it;
- one cell of elevation each side, so the slope's central differences never see the window's edge.

Windows are the unit of distribution (``zone_risk(windows=…, run_windows=…)``): row bands of the
whole width for one process, or blocks labelled by county (``county_windows``) for a cluster. A task
(``WindowTask``) holds only plain arrays and geometries, so it pickles to a worker as it is.
Grid and geometries are in the grid's metric CRS (``RiskGrid.epsg``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio import features

from gis.risk.model import RiskGrid, point_surface, reach_m
from gis.risk.surfaces import polygon_surface, population_grid, slope_surface, straight_line_minutes


@dataclass(frozen=True)
class HazardSource:
    """One factor's sources as scored: ``kind`` points (``data`` the anchor x, y in the grid's
    metres) or polygons (``data`` the metric geometries), and each feature's ``intensity`` (0–1)."""

    kind: str
    data: Any
    intensity: NDArray[np.float64]


@dataclass(frozen=True)
class Window:
    """Rows ``r0``–``r1`` and columns ``c0``–``c1`` (exclusive) of the grid; ``label`` names it
    (a county's adcode, or the rows of a band)."""

    r0: int
    r1: int
    c0: int
    c1: int
    label: str = ""

    @property
    def cells(self) -> tuple[slice, slice]:
        return slice(self.r0, self.r1), slice(self.c0, self.c1)


@dataclass(frozen=True)
class WindowTask:
    """Everything one window's surfaces need, already cut to its halo (see the module docstring).

    ``sources``: factor → source (points or polygons); ``specs``: factor → its config entry;
    ``slope``: (elevation with one cell of halo each side, the halo's (top, left) offsets,
    max slope°) or None; ``stations_xy``: rescue stations for straight-line capacity (None: the
    network minutes are given whole, not computed here); ``straight_line_kmh`` and
    ``halo_cells`` go with them."""

    grid: RiskGrid
    window: Window
    sources: Mapping[str, HazardSource]
    specs: Mapping[str, Mapping[str, Any]]
    admin: NDArray[np.object_] | None
    population: gpd.GeoDataFrame | NDArray[np.float32] | None
    """The population cells meeting the window, or its residents per cell already counted."""
    stations_xy: NDArray[np.float64] | None
    straight_line_kmh: float
    halo_cells: int
    slope: tuple[NDArray[np.float32], int, int, float] | None


@dataclass(frozen=True)
class WindowSurfaces:
    """A window's cells: each factor's hazard, residents, inside the admin areas, and straight-line
    minutes (None when the network minutes were given)."""

    window: Window
    hazards: dict[str, NDArray[np.float32]]
    persons: NDArray[np.float32]
    valid: NDArray[np.bool_]
    minutes: NDArray[np.float32] | None


def box_of(grid: RiskGrid, window: Window) -> tuple[float, float, float, float]:
    """(west, south, east, north) of ``window`` in metres."""
    sub = grid.window(window.r0, window.r1, window.c0, window.c1)
    return sub.west, sub.north - sub.height * sub.resolution_m, sub.west + sub.width * sub.resolution_m, sub.north


def source_surface(window: RiskGrid, source: HazardSource, spec: Mapping[str, Any]) -> NDArray[np.float32]:
    """One factor's surface over ``window`` (a grid), from only the sources that reach it."""
    res = window.resolution_m
    west, north = window.west, window.north
    east, south = west + window.width * res, north - window.height * res
    if source.kind == "points":
        reach = reach_m(spec["decay"]) + 2 * res
        x, y = source.data[:, 0], source.data[:, 1]
        near = (x >= west - reach) & (x <= east + reach) & (y >= south - reach) & (y <= north + reach)
        return point_surface(window, source.data[near], source.intensity[near], spec["decay"])
    bounds = shapely.bounds(source.data)
    near = (bounds[:, 2] >= west) & (bounds[:, 0] <= east) & (bounds[:, 3] >= south) & (bounds[:, 1] <= north)
    return polygon_surface(window, source.data[near], source.intensity[near])


def _meeting(bounds: NDArray[np.float64], box: tuple[float, float, float, float], margin: float = 0.0) -> NDArray[np.bool_]:
    west, south, east, north = box
    return (bounds[:, 2] >= west - margin) & (bounds[:, 0] <= east + margin) & (bounds[:, 3] >= south - margin) & (bounds[:, 1] <= north + margin)


def window_surfaces(task: WindowTask) -> WindowSurfaces:
    """The cells of ``task.window``; the same values, cell for cell, as one pass over the grid."""
    w = task.window
    grid = task.grid.window(w.r0, w.r1, w.c0, w.c1)
    hazards = {name: source_surface(grid, source, task.specs[name]) for name, source in task.sources.items()}
    if task.slope is not None:
        elevation, top, left, max_slope = task.slope
        slope = slope_surface(elevation, grid.resolution_m, max_slope)
        hazards["slope"] = slope[top : top + grid.height, left : left + grid.width]
    if isinstance(task.population, np.ndarray):
        persons = task.population
    elif task.population is not None and not task.population.empty:
        persons = population_grid(grid, task.population)
    else:
        persons = np.zeros(grid.shape, dtype=np.float32)
    if task.admin is None:
        valid = np.ones(grid.shape, dtype=bool)
    else:
        valid = features.rasterize([(g, 1) for g in task.admin], out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8").astype(bool) if len(task.admin) else np.zeros(grid.shape, dtype=bool)
    minutes = None
    if task.stations_xy is not None:
        h = task.halo_cells
        e0, e1 = max(0, w.r0 - h), min(task.grid.height, w.r1 + h)
        f0, f1 = max(0, w.c0 - h), min(task.grid.width, w.c1 + h)
        wide = straight_line_minutes(task.grid.window(e0, e1, f0, f1), task.stations_xy, task.straight_line_kmh)
        minutes = wide[w.r0 - e0 : w.r0 - e0 + grid.height, w.c0 - f0 : w.c0 - f0 + grid.width]
    return WindowSurfaces(w, hazards, persons, valid, minutes)


@dataclass(frozen=True)
class WindowInputs:
    """The whole run's inputs, from which each window's task is cut (``tasks``)."""

    grid: RiskGrid
    sources: Mapping[str, HazardSource]
    specs: Mapping[str, Mapping[str, Any]]
    admin: NDArray[np.object_] | None
    population: gpd.GeoDataFrame | NDArray[np.float32]
    """The population cells, or the residents per grid cell counted already (a store read in chunks)."""
    stations_xy: NDArray[np.float64] | None
    straight_line_kmh: float
    halo_cells: int
    elevation: NDArray[np.float32] | None
    max_slope_deg: float

    def tasks(self, windows: list[Window]) -> Iterator[WindowTask]:
        """One task per window, each with only what reaches it (made one at a time)."""
        res = self.grid.resolution_m
        admin_bounds = shapely.bounds(self.admin) if self.admin is not None and len(self.admin) else np.zeros((0, 4))
        counted = isinstance(self.population, np.ndarray)
        frame = None if isinstance(self.population, np.ndarray) else self.population
        population_bounds = shapely.bounds(np.asarray(frame.geometry.array, dtype=object)) if frame is not None and not frame.empty else np.zeros((0, 4))
        for window in windows:
            box = box_of(self.grid, window)
            sources: dict[str, HazardSource] = {}
            for name, source in self.sources.items():
                if source.kind == "points":
                    margin = reach_m(self.specs[name]["decay"]) + 2 * res
                    x, y = source.data[:, 0], source.data[:, 1]
                    near = (x >= box[0] - margin) & (x <= box[2] + margin) & (y >= box[1] - margin) & (y <= box[3] + margin)
                else:
                    near = _meeting(shapely.bounds(source.data), box)
                sources[name] = HazardSource(source.kind, source.data[near], source.intensity[near])
            admin = self.admin[_meeting(admin_bounds, box)] if self.admin is not None else None
            population: gpd.GeoDataFrame | NDArray[np.float32] | None
            if counted:
                population = np.ascontiguousarray(self.population[window.cells])
            else:
                population = frame.iloc[np.flatnonzero(_meeting(population_bounds, box))] if frame is not None and not frame.empty else None
            stations = None
            if self.stations_xy is not None:
                margin = (self.halo_cells + 1) * res
                x, y = self.stations_xy[:, 0], self.stations_xy[:, 1]
                stations = self.stations_xy[(x >= box[0] - margin) & (x <= box[2] + margin) & (y >= box[1] - margin) & (y <= box[3] + margin)]
            slope = None
            if self.elevation is not None:
                e0, e1 = max(0, window.r0 - 1), min(self.grid.height, window.r1 + 1)
                f0, f1 = max(0, window.c0 - 1), min(self.grid.width, window.c1 + 1)
                slope = (self.elevation[e0:e1, f0:f1], window.r0 - e0, window.c0 - f0, self.max_slope_deg)
            yield WindowTask(self.grid, window, sources, self.specs, admin, population, stations, self.straight_line_kmh, self.halo_cells, slope)


def row_bands(grid: RiskGrid, rows: int) -> list[Window]:
    """Bands of ``rows`` rows across the whole width: the windows of a single-process run."""
    return [Window(r0, min(grid.height, r0 + rows), 0, grid.width, f"rows {r0}-{min(grid.height, r0 + rows)}") for r0 in range(0, grid.height, rows)]


BLOCK_CELLS_MAX = 512
"""The largest side of a county partition's block, in cells (1 MiB per float32 surface)."""


def county_windows(grid: RiskGrid, admin_metric: gpd.GeoDataFrame) -> list[Window]:
    """The grid cut into square blocks (about 8 × 8 of them, at most ``BLOCK_CELLS_MAX`` cells a
    side), each labelled by the county holding its centre (else the first county it meets); a
    block that meets no admin area is left out (its cells are outside the city: score 0, no level).
    Disjoint, so no cell is computed or sent twice. The whole grid when there is no county."""
    if admin_metric.empty or "level" not in admin_metric:
        return [Window(0, grid.height, 0, grid.width, "all")]
    counties = admin_metric.loc[admin_metric["level"] == "区县"]
    if counties.empty:
        return [Window(0, grid.height, 0, grid.width, "all")]
    side = int(min(BLOCK_CELLS_MAX, max(16, -(-max(grid.height, grid.width) // 8))))
    blocks = [(r0, min(grid.height, r0 + side), c0, min(grid.width, c0 + side)) for r0 in range(0, grid.height, side) for c0 in range(0, grid.width, side)]
    boxes = np.array([box_of(grid, Window(*b)) for b in blocks])
    admin_tree = shapely.STRtree(np.asarray(admin_metric.geometry.array, dtype=object))
    county_geoms = np.asarray(counties.geometry.array, dtype=object)
    county_tree = shapely.STRtree(county_geoms)
    adcodes = counties["adcode"].astype(str).to_numpy()
    rectangles = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    meets = np.zeros(len(blocks), dtype=bool)
    meets[np.unique(admin_tree.query(rectangles, predicate="intersects")[0])] = True
    centre_block, centre_county = county_tree.query(shapely.centroid(rectangles), predicate="intersects")
    touch_block, touch_county = county_tree.query(rectangles, predicate="intersects")
    label = np.full(len(blocks), "outside every county", dtype=object)
    label[touch_block[::-1]] = adcodes[touch_county[::-1]]  # the first county met wins …
    label[centre_block[::-1]] = adcodes[centre_county[::-1]]  # … unless one holds the centre
    return [Window(*block, str(label[i])) for i, block in enumerate(blocks) if meets[i]]
