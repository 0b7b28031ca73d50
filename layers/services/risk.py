"""The risk adapter: the store's hazard layers, population, admin areas and rescue stations in, a
``RiskResult`` out; capacity from the routing core (drive time to the nearest rescue station).

Drive time per cell: one multi-source Dijkstra from every rescue station over the driving graph
(``gis.drive_time.coverage_by_time``) gives each junction's minutes; a cell takes its nearest junction's
minutes plus the straight way to it at ``ACCESS_KMH``. Without roads, straight-line distance is used
and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gis.drive_time import coverage_by_time
from gis.risk import RiskGrid, RiskInputError
from gis.risk.live import changed_intensities, rain_multipliers, rezone
from gis.risk.surfaces import RAIN_MULTIPLIER, Dem, add_population
from gis.risk.windows import WindowSurfaces, county_windows
from gis.risk.zoning import RiskConfig, RiskResult, config_from_mapping, zone_risk
from gis.routing import RoutingError
from layers.catalogue import SOURCE_ID
from layers.errors import InputError
from layers.io.yaml_file import read_yaml
from layers.services.analysis import RoutedAnalysis
from layers.services.cluster import RunTasks
from layers.services.routing import RoutingService
from layers.services.warning import Evaluation

HAZARD_LAYERS = ("reservoirs", "geohazard_points", "chemical_parks", "hazardous_enterprises", "flood_prone_areas")
POPULATION_CHUNK = 500_000
"""Population cells read at a time when counting residents per grid cell."""
ACCESS_KMH = 20.0
"""Speed (km/h) from a cell to its nearest junction (lanes, yards, fields)."""
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def read_config(path: str | Path | None) -> RiskConfig:
    """The risk config from a YAML (or JSON) file; defaults without one."""
    if path is None:
        return RiskConfig()
    document = read_yaml(path, what="config")
    if document is not None and not isinstance(document, dict):
        raise InputError(f"{path}: the config must be a mapping (weights:, factors:, …)")
    try:
        return config_from_mapping(document, source=str(path))
    except RiskInputError as error:
        raise InputError(str(error)) from None


def read_dem(path: str | Path) -> Dem:
    """A DEM GeoTIFF (any CRS, which it must declare) as it is in the file; the first band, metres."""
    from layers.io.dem_file import open_dem

    with open_dem(Path(path)) as source:
        return Dem(source.read(1).astype(np.float64), source.transform, source.crs, source.nodata)


def drive_minutes(routing: RoutingService, grid: RiskGrid, stations_xy: NDArray[np.float64]) -> NDArray[np.float32]:
    """Minutes from the nearest rescue station to every cell (inf where none can drive there)."""
    graph = routing.graph()
    stations = gpd.GeoDataFrame(geometry=shapely.points(stations_xy), crs=grid.epsg)
    try:
        by_node = coverage_by_time(graph, stations, max_snap_m=routing.settings.max_snap_m)["minutes"].to_numpy(dtype=float)
    except RoutingError:
        return np.full(grid.shape, np.inf, dtype=np.float32)
    xs, ys = grid.centres()
    minutes = np.full(grid.shape, np.inf, dtype=np.float32)
    tree = graph.near.tree  # the graph's own k-d tree of its junctions (built once, kept with it)
    for r0 in range(0, grid.height, 256):  # blocks of rows keep memory bounded at 30 m
        r1 = min(grid.height, r0 + 256)
        gx, gy = np.meshgrid(xs, ys[r0:r1])
        gap, node = tree.query(np.column_stack([gx.ravel(), gy.ravel()]))
        minutes[r0:r1] = (by_node[node] + gap / (ACCESS_KMH * 1000 / 60)).reshape(r1 - r0, grid.width)
    return minutes


class RiskService(RoutedAnalysis):
    """Risk zoning over one store; only the result for the current inputs is kept.

    Live inputs (``gis.risk.live``): a reservoir's observed level reaches it through the reservoirs
    layer (the warning engine writes ``current_level_m``), the rain gauges' rainstorm warnings
    through ``follow_rain``. When only those changed since the result kept, the result is brought
    up to date block by block (a few seconds) instead of computed again."""

    _current: tuple[tuple[str, ...], RiskResult] | None = None
    _rain: tuple[tuple[str, int], ...] = ()
    revision = 0
    """Counts the results kept: a wall map redraws its risk tiles when it changes."""

    def key(self) -> tuple[str, ...]:
        """What the current result depends on: resolution, config, the input layers' versions and
        the rain gauges in warning (the last element)."""
        versions = (self.store.layer_version(name) for name in (*HAZARD_LAYERS, "population", "admin_areas", "rescue_stations", "roads"))
        return (str(self.settings.risk_resolution_m), str(self.settings.risk_config), *versions, repr(self._rain))

    def follow_rain(self, ranks: Mapping[str, int]) -> None:
        """The rain gauges now in a rainstorm warning: station id → warning rank (0 蓝 … 3 红)."""
        self._rain = tuple(sorted((str(k), int(v)) for k, v in ranks.items() if int(v) >= 0))

    def cached(self) -> RiskResult | None:
        """The current result if it is computed already for today's data, else None (no work)."""
        key = self.key()
        with self._lock:
            return self._current[1] if self._current is not None and self._current[0] == key else None

    def current(self, *, progress: Progress = _quiet) -> RiskResult:
        """The result for the settings' resolution and config, cached per version of the inputs;
        brought up to date block by block when only the live inputs changed."""
        key = self.key()
        with self._lock:
            if self._current is not None and self._current[0] == key:
                return self._current[1]
            result = self._updated(key) or self.run(resolution_m=self.settings.risk_resolution_m, config=read_config(self.settings.risk_config), progress=progress)
            self._keep(key, result)
            return result

    def follow(self, evaluation: Evaluation) -> None:
        """After an evaluation of the gauges: take its rain warnings, and redo the kept result
        block by block if only the live inputs changed (a reservoir's level, the rain)."""
        self.follow_rain(evaluation.rain_warnings)
        self.refresh_live()

    def refresh_live(self) -> bool:
        """Bring the kept result up to date if only the live inputs changed (for the warning loop,
        in its thread: never a full run). True when a new result is kept."""
        key = self.key()
        with self._lock:
            if self._current is None or self._current[0] == key:
                return False
            result = self._updated(key)
            if result is None:
                return False
            self._keep(key, result)
            return True

    def _keep(self, key: tuple[str, ...], result: RiskResult) -> None:
        self._current = (key, result)
        self.revision += 1

    def _updated(self, key: tuple[str, ...]) -> RiskResult | None:
        """The kept result redone for ``key`` block by block, or None where that cannot be (no
        result kept, or an input other than the reservoirs' levels and the rain changed)."""
        if self._current is None:
            return None
        old_key, base = self._current
        live_positions = {2 + HAZARD_LAYERS.index("reservoirs"), len(key) - 1}
        if len(old_key) != len(key) or any(a != b for i, (a, b) in enumerate(zip(old_key, key, strict=True)) if i not in live_positions):
            return None
        frames = {"reservoirs": self.store.read("reservoirs"), "flood_prone_areas": self._with_rain(self.store.read("flood_prone_areas"), base.grid.epsg, base.config)}
        changed = changed_intensities(base, frames)
        if changed is None:
            return None
        return rezone(base, changed, self.store.read("admin_areas")) if changed else base

    def _persons(self, grid: RiskGrid) -> NDArray[np.float32]:
        """Residents per grid cell from the population layer read in chunks (``POPULATION_CHUNK``
        cells at a time), so memory holds one chunk, not the layer."""
        persons = np.zeros(grid.shape, dtype=np.float64)
        for chunk in self.store.read_in_chunks("population", rows=POPULATION_CHUNK):
            add_population(persons, grid, chunk.to_crs(grid.epsg))
        return persons.astype(np.float32)

    def _with_rain(self, areas: gpd.GeoDataFrame, epsg: int, config: RiskConfig) -> gpd.GeoDataFrame:
        """The flood-prone areas with their ``rain_multiplier`` from the rain gauges in warning."""
        if areas.empty or not self._rain:
            return areas
        ranks = dict(self._rain)
        gauges = self.store.read("monitoring_stations")
        gauges = gauges[gauges[SOURCE_ID].isin(list(ranks))] if not gauges.empty else gauges
        if gauges.empty:
            return areas
        xy = shapely.get_coordinates(np.asarray(gauges.to_crs(epsg).geometry.array, dtype=object))
        rank = np.array([ranks[str(i)] for i in gauges[SOURCE_ID]], dtype=np.int8)
        geometry = np.asarray(areas.to_crs(epsg).geometry.array, dtype=object)
        return areas.assign(**{RAIN_MULTIPLIER: rain_multipliers(geometry, xy, rank, config.factors["flood_prone_areas"].get("rain", {}))})

    def run(self, *, resolution_m: float = 100.0, config: RiskConfig | None = None, use_roads: bool = True, dem: Dem | None = None, progress: Progress = _quiet,
            run_tasks: RunTasks[WindowSurfaces] | None = None, release_graph: bool = False) -> RiskResult:
        """Zone the store's city. With ``run_tasks`` (``layers.services.cluster``), the per-cell
        surfaces are computed per county (blocks labelled by county, each with its halo) on the cluster; the
        answer is the same as in one process. ``release_graph``: a one-off run (the CLI's) lets the
        routing service's graphs go once the drive times are known, before the scoring; a server,
        which routes too, keeps them."""
        if not 10 <= resolution_m <= 5000:
            raise InputError(f"resolution must be 10-5000 m, got {resolution_m}")
        progress("读取图层 reading layers")
        layers = {name: self.store.read(name) for name in HAZARD_LAYERS}
        config = config or RiskConfig()
        layers["flood_prone_areas"] = self._with_rain(layers["flood_prone_areas"], self.settings.work_epsg, config)
        admin = self.store.read("admin_areas")
        stations = self.store.read("rescue_stations")
        extent_frame = admin if not admin.empty else self.store.read("population")
        if extent_frame.empty:
            raise InputError("no admin areas and no population: the city's extent is unknown (onemap sample, or import admin_areas)")
        grid = RiskGrid.covering(extent_frame.to_crs(self.settings.work_epsg).total_bounds, resolution_m, self.settings.work_epsg)
        progress("人口 counting residents")
        persons = self._persons(grid)
        capacity: Any = None
        progress("救援可达 reach of rescue stations")
        if use_roads and self.store.count("roads") and not stations.empty:
            xy = shapely.get_coordinates(np.asarray(stations.to_crs(grid.epsg).geometry.array, dtype=object))
            capacity = drive_minutes(self.routing, grid, xy)
            if release_graph:
                self.routing.release_graphs()
        progress("风险计算 scoring")
        try:
            empty = self.store.read("population", limit=0)
            if run_tasks is None:
                return zone_risk(layers, empty, admin, stations, grid=grid, config=config, capacity_minutes=capacity, dem=dem, persons=persons)
            windows = county_windows(grid, admin.to_crs(grid.epsg) if not admin.empty else admin)
            progress(f"风险计算 scoring {len(windows)} county partitions")
            return zone_risk(layers, empty, admin, stations, grid=grid, config=config, capacity_minutes=capacity, dem=dem, windows=windows, run_windows=run_tasks, persons=persons)
        except RiskInputError as error:
            raise InputError(str(error)) from None
