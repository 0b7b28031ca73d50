"""Risk zoning from layer frames: the config, the factor surfaces of the hazard layers, exposure from
the population cells, capacity, the score and levels, the level polygons and per-area tables.

Pure: frames and arrays in, a ``RiskResult`` out; the grid is in the metric ``RiskGrid.epsg`` and
output frames are EPSG:4326.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.arraytools import anchor_points
from gis.risk.ahp import AhpError, AhpResult, ahp_weights, require_consistent
from gis.risk.level_outputs import Cells, areas_table, level_polygons
from gis.risk.model import (
    CLASSIFICATIONS,
    DEFAULT_FIXED_BREAKS,
    DEFAULT_WEIGHTS,
    FACTOR_DEFAULTS,
    FORMULA,
    LEVEL_CODES,
    RiskGrid,
    RiskInputError,
    classify,
    combine,
    exposure,
    lack_of_capacity,
    level_breaks,
)
from gis.risk.surfaces import Dem, hazard_intensity, resample_dem
from gis.risk.windows import (
    HazardSource,
    Window,
    WindowInputs,
    WindowSurfaces,
    WindowTask,
    row_bands,
    window_surfaces,
)

RunWindows = Callable[[Callable[[WindowTask], WindowSurfaces], Iterable[WindowTask]], Iterator[WindowSurfaces]]
"""How the windows' tasks are run: ``map`` in this process, or a cluster's (``layers.services.cluster``)."""
CAPACITY_LABELS = {"network": "路网行车时间 (到最近救援力量)", "euclidean": "直线距离折算时间 (无路网时)"}


@dataclass(frozen=True)
class RiskConfig:
    """Factor parameters, weights (possibly from AHP), classification and references."""

    factors: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(FACTOR_DEFAULTS))
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    ahp: AhpResult | None = None
    classification: str = "natural"
    breaks: tuple[float, float, float] = DEFAULT_FIXED_BREAKS
    exposure_ref_per_km2: float = 10_000.0
    capacity_ref_min: float = 30.0
    straight_line_kmh: float = 40.0
    vulnerability: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "factors": {k: dict(v) for k, v in self.factors.items()},
            "weights": dict(self.weights),
            "ahp": None if self.ahp is None else self.ahp.as_dict(),
            "classification": self.classification,
            "breaks": list(self.breaks),
            "exposure_ref_per_km2": self.exposure_ref_per_km2,
            "capacity_ref_min": self.capacity_ref_min,
            "straight_line_kmh": self.straight_line_kmh,
            "vulnerability": self.vulnerability,
            "formula": FORMULA,
        }


def config_from_mapping(document: Mapping[str, Any] | None, *, source: str = "config") -> RiskConfig:
    """A ``RiskConfig`` from a parsed YAML/JSON document; every mistake is a ``RiskInputError``
    naming the key. Keys: ``weights`` or ``ahp`` {factors, matrix}, ``factors`` (overrides per
    factor), ``classification``, ``breaks``, ``exposure_ref_per_km2``, ``capacity_ref_min``,
    ``straight_line_kmh``, ``vulnerability``."""
    document = dict(document or {})
    known_keys = {"weights", "ahp", "factors", "classification", "breaks", "exposure_ref_per_km2", "capacity_ref_min", "straight_line_kmh", "vulnerability"}
    unknown_keys = sorted(set(document) - known_keys)
    if unknown_keys:
        raise RiskInputError(f"{source}: unknown keys {unknown_keys}; known: {sorted(known_keys)}")
    factors = {name: dict(spec) for name, spec in FACTOR_DEFAULTS.items()}
    for name, override in (document.get("factors") or {}).items():
        if name not in factors:
            raise RiskInputError(f"{source}: unknown factor {name!r} under factors; factors are {sorted(factors)}")
        if not isinstance(override, Mapping):
            raise RiskInputError(f"{source}: factors.{name} must be a mapping of parameters")
        factors[name].update(override)
    allowed = set(factors) | {"capacity"}
    ahp = None
    if "ahp" in document and "weights" in document:
        raise RiskInputError(f"{source}: give weights or ahp, not both")
    if "ahp" in document:
        block = document["ahp"] or {}
        names = list(block.get("factors") or [])
        bad = sorted(set(names) - allowed)
        if bad or not names:
            raise RiskInputError(f"{source}: ahp.factors must name factors among {sorted(allowed)}; unknown {bad}")
        try:
            ahp = require_consistent(ahp_weights(block.get("matrix") or [], names))
        except AhpError as error:
            raise RiskInputError(f"{source}: {error}") from None
        weights = {name: float(w) for name, w in zip(names, ahp.weights, strict=True)}
    else:
        raw = document.get("weights", DEFAULT_WEIGHTS)
        if not isinstance(raw, Mapping):
            raise RiskInputError(f"{source}: weights must be a mapping factor → number")
        bad = sorted(set(raw) - allowed)
        if bad:
            raise RiskInputError(f"{source}: weights for unknown factors {bad}; factors are {sorted(allowed)}")
        weights = {}
        for name, value in raw.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
                raise RiskInputError(f"{source}: weight of {name} must be a number ≥ 0, got {value!r}")
            weights[name] = float(value)
        if sum(weights.values()) <= 0:
            raise RiskInputError(f"{source}: every weight is 0: give at least one factor a positive weight")
    classification = str(document.get("classification", "natural"))
    if classification not in CLASSIFICATIONS:
        raise RiskInputError(f"{source}: classification must be one of {', '.join(CLASSIFICATIONS)}, got {classification!r}")
    breaks = tuple(float(b) for b in document.get("breaks", DEFAULT_FIXED_BREAKS))
    if len(breaks) != 3 or list(breaks) != sorted(breaks) or len(set(breaks)) != 3:
        raise RiskInputError(f"{source}: breaks must be three increasing numbers, got {list(breaks)}")
    numbers = {}
    for key, default, low in (("exposure_ref_per_km2", 10_000.0, 0.0), ("capacity_ref_min", 30.0, 0.0), ("straight_line_kmh", 40.0, 0.0), ("vulnerability", 1.0, -1e-12)):
        value = document.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > low or (key == "vulnerability" and value > 1):
            raise RiskInputError(f"{source}: {key} must be a positive number{' at most 1' if key == 'vulnerability' else ''}, got {value!r}")
        numbers[key] = float(value)
    return RiskConfig(factors, weights, ahp, classification, (breaks[0], breaks[1], breaks[2]), **numbers)


def score_cells(config: RiskConfig, grid: RiskGrid, hazards: Mapping[str, NDArray[np.float32]], persons: NDArray[np.float32], minutes: NDArray[np.float32],
                cells: Cells) -> tuple[NDArray[np.float32], dict[str, NDArray[np.float32]]]:
    """The score of ``cells`` and each factor's part of it (``gis.risk.model.combine``) from the
    factor surfaces, residents and drive minutes there: cell by cell, so a block gives the same
    values as the whole grid."""
    weights = {k: v for k, v in config.weights.items() if k in hazards or k == "capacity"}
    reference = config.exposure_ref_per_km2 * grid.resolution_m**2 / 1e6
    return combine({n: h[cells] for n, h in hazards.items()}, weights, exposure(persons[cells].astype(float), reference),
                   lack_of_capacity(minutes[cells], config.capacity_ref_min), float(config.vulnerability))


@dataclass
class RiskResult:
    """Rasters (grid shape; score float32, levels uint8 with 0 = nodata), per-factor hazard surfaces,
    level polygons and per-area tables (EPSG:4326), what was assumed. Each factor's contribution
    is computed from the surfaces when asked for (``contributions``), not kept: a province's six
    would be 750 MB."""

    grid: RiskGrid
    config: RiskConfig
    score: NDArray[np.float32]
    levels: NDArray[np.uint8]
    hazards: dict[str, NDArray[np.float32]]
    persons: NDArray[np.float32]
    capacity_minutes: NDArray[np.float32]
    capacity_mode: str
    upper_breaks: tuple[float, float, float]
    polygons: gpd.GeoDataFrame
    areas: pd.DataFrame
    notes: list[str]
    timings_s: dict[str, float]
    sources: dict[str, HazardSource] = field(default_factory=dict)
    """The point and polygon factors' sources, so a live update can redraw only what changed."""

    @cached_property
    def level_totals(self) -> dict[str, dict[str, float]]:
        """Area (km²) and residents (persons) in each level, keyed by its name (低 … 重大):
        counted from the rasters once per result."""
        counts = np.bincount(self.levels.ravel(), minlength=max(LEVEL_CODES) + 1)
        cell_km2 = self.grid.resolution_m**2 / 1e6
        persons = np.bincount(self.levels.ravel(), weights=self.persons.ravel().astype(np.float64), minlength=max(LEVEL_CODES) + 1)
        return {name: {"area_km2": float(counts[code] * cell_km2), "residents": float(persons[code])} for code, name in LEVEL_CODES.items()}

    def contributions(self, cells: Cells = (slice(None), slice(None))) -> dict[str, NDArray[np.float32]]:
        """Each factor's part of the score in ``cells`` (rows, columns), by factor name (and
        capacity); they sum to the score."""
        return score_cells(self.config, self.grid, self.hazards, self.persons, self.capacity_minutes, cells)[1]

    def metadata(self) -> dict[str, Any]:
        return {
            **self.config.as_dict(),
            "resolution_m": self.grid.resolution_m,
            "epsg": self.grid.epsg,
            "capacity_mode": self.capacity_mode,
            "capacity_label": CAPACITY_LABELS[self.capacity_mode],
            "upper_breaks": list(self.upper_breaks),
            "levels": {str(k): v for k, v in LEVEL_CODES.items()},
            "factors_used": sorted(self.hazards),
            "notes": self.notes,
        }


def zone_risk(
    hazard_layers: Mapping[str, gpd.GeoDataFrame],
    population: gpd.GeoDataFrame,
    admin_areas: gpd.GeoDataFrame,
    rescue_stations: gpd.GeoDataFrame,
    *,
    grid: RiskGrid,
    config: RiskConfig | None = None,
    capacity_minutes: NDArray[np.float32] | None = None,
    dem: Dem | None = None,
    block_rows: int | None = None,
    windows: Sequence[Window] | None = None,
    run_windows: RunWindows = map,
    persons: NDArray[np.float32] | None = None,
) -> RiskResult:
    """Score and level every cell of ``grid``; see ``gis.risk.model`` for the formula.

    ``capacity_minutes`` (grid shape): drive time to the nearest rescue station from the routing
    core; without it, straight-line distance at ``straight_line_kmh`` (labelled so; beyond
    ``capacity_ref_min`` the minutes are a lower bound, which the score does not need). A hazard
    layer with no features is skipped with a note.

    The per-cell surfaces are computed window by window (``gis.risk.windows``): by default bands of
    ``block_rows`` rows (``gis.risk.model.BLOCK_CELLS`` cells) in this process; or the given ``windows`` (blocks
    labelled by county: ``county_windows``), handed to ``run_windows`` (``map``'s signature: a function
    and an iterable of tasks, results in any order), which may run them on other processes or
    machines. The answer does not depend on the windows, nor on where they ran.

    ``persons`` (grid shape): the residents per cell counted already (``add_population`` over a
    layer read in chunks, so a province's 16 million cells are never in memory at once); then
    ``population`` is not read.
    """
    config = config or RiskConfig()
    notes: list[str] = []
    timings: dict[str, float] = {}
    epsg = grid.epsg
    rows_per_block = block_rows or grid.rows_per_block()
    admin_metric = admin_areas.to_crs(epsg) if not admin_areas.empty else admin_areas
    admin_geometry = list(admin_metric.geometry) if not admin_areas.empty else []

    # The sources of each factor, prepared once.
    sources: dict[str, tuple[str, Any, Any]] = {}
    for name, spec in config.factors.items():
        if config.weights.get(name, 0.0) <= 0:
            continue
        if spec.get("kind") == "dem":
            if dem is None:
                notes.append(f"{name}: no DEM given — the factor is skipped")
            else:
                sources[name] = ("dem", float(spec.get("max_slope_deg", 30.0)), None)
            continue
        frame = hazard_layers.get(name)
        if frame is None or frame.empty:
            notes.append(f"{name}: no features — the factor is skipped")
            continue
        if frame.crs is None:
            raise RiskInputError(f"{name}: no coordinate reference system")
        metric = frame.to_crs(epsg)
        intensity = hazard_intensity(metric, spec, name, notes)
        geometry = np.asarray(metric.geometry.array, dtype=object)
        if spec.get("kind") == "polygons":
            sources[name] = ("polygons", geometry, intensity)
        else:
            sources[name] = ("points", shapely.get_coordinates(anchor_points(geometry)), intensity)
    if not any(kind != "dem" for kind, _, _ in sources.values()):
        raise RiskInputError("no hazard layer has features: import reservoirs, geohazards, chemical parks, enterprises or flood areas")
    population_metric = persons if persons is not None else population.to_crs(epsg) if not population.empty else population
    stations_xy, halo = np.zeros((0, 2)), 0
    if capacity_minutes is None:
        mode = "euclidean"
        stations_xy = shapely.get_coordinates(np.asarray(rescue_stations.to_crs(epsg).geometry.array, dtype=object)) if not rescue_stations.empty else np.zeros((0, 2))
        halo = int(np.ceil(config.capacity_ref_min * config.straight_line_kmh * 1000 / 60 / grid.resolution_m)) + 1
        notes.append(f"capacity: straight-line distance to the nearest rescue station at {config.straight_line_kmh:g} km/h (no road network used)")
    else:
        mode = "network"

    elevation = resample_dem(grid, dem) if dem is not None and "slope" in sources else None
    inputs = WindowInputs(
        grid,
        {name: HazardSource(kind, data, intensity) for name, (kind, data, intensity) in sources.items() if kind != "dem"},
        config.factors,
        np.asarray(admin_geometry, dtype=object) if admin_geometry else None,
        population_metric,
        stations_xy if capacity_minutes is None else None,
        config.straight_line_kmh,
        halo if capacity_minutes is None else 0,
        elevation,
        float(sources["slope"][1]) if elevation is not None else 0.0,
    )
    hazards = {name: np.zeros(grid.shape, dtype=np.float32) for name in sources}
    # Counted residents come back from the windows as they went in: the same array is filled again.
    persons = persons if persons is not None and persons.dtype == np.float32 else np.zeros(grid.shape, dtype=np.float32)
    valid = np.zeros(grid.shape, dtype=bool)
    minutes = np.full(grid.shape, np.inf, dtype=np.float32) if capacity_minutes is None else capacity_minutes.astype(np.float32, copy=False)
    start = time.perf_counter()
    for done in run_windows(window_surfaces, inputs.tasks(list(windows) if windows is not None else row_bands(grid, rows_per_block))):
        cells = done.window.cells
        for name, surface in done.hazards.items():
            hazards[name][cells] = surface
        persons[cells], valid[cells] = done.persons, done.valid
        if done.minutes is not None:
            minutes[cells] = done.minutes
    timings["surfaces"] = time.perf_counter() - start
    if elevation is not None:
        covered = float(np.isfinite(elevation)[valid].sum() / valid.sum()) if valid.any() else 0.0
        if covered < 0.5:
            raise RiskInputError(f"the DEM covers only {covered:.0%} of the city: give a DEM covering the whole area (or leave it out)")
        if covered < 0.99:
            notes.append(f"slope: the DEM covers {covered:.1%} of the city; uncovered cells count as flat")

    start = time.perf_counter()
    score = np.zeros(grid.shape, dtype=np.float32)
    for r0 in range(0, grid.height, rows_per_block):
        r1 = min(grid.height, r0 + rows_per_block)
        score[r0:r1] = score_cells(config, grid, hazards, persons, minutes, (slice(r0, r1), slice(None)))[0]
    score[~valid] = 0.0
    upper = level_breaks(score[valid], config.classification, config.breaks)
    levels = classify(score, upper, valid)
    timings["combine"] = time.perf_counter() - start

    start = time.perf_counter()
    polygons = level_polygons(grid, levels)
    areas = areas_table(grid, levels, persons, lambda cells: score_cells(config, grid, hazards, persons, minutes, cells)[1], admin_metric, block_rows=rows_per_block) if not admin_areas.empty else pd.DataFrame()
    timings["outputs"] = time.perf_counter() - start
    kept = {name: HazardSource(kind, data, intensity) for name, (kind, data, intensity) in sources.items() if kind != "dem"}
    return RiskResult(grid, config, score, levels, hazards, persons, minutes, mode, upper, polygons, areas, notes, timings, kept)
