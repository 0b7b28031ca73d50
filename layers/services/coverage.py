"""The coverage adapter: the store's population, shelters, admin areas and walking network in, a
``CoverageResult`` out; cached per version of those layers and the parameters.

Errors from the analysis (``CoverageInputError``) become ``InputError`` with the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd

from gis.coverage import (
    ANALYSIS_TYPES,
    MODES,
    CoverageInputError,
    CoverageResult,
    PopulationChunks,
    SitingResult,
    analyse_coverage,
    site_shelters,
)
from gis.network import RoadGraph
from gis.partitions import RunPartitions
from layers.catalogue import CATALOGUE
from layers.errors import InputError
from layers.io.importer import prepare_import
from layers.io.readers import read_gis_frame, read_source
from layers.services.analysis import RoutedAnalysis
from layers.services.routing import RoutingService
from layers.settings import Settings
from layers.store.base import Store

COVERAGE_LAYERS = ("population", "shelters", "admin_areas", "roads")
WHOLE_GRID_UP_TO = 2_000_000
"""A population grid of more cells than this (a province's 16 million) is read a chunk at a time,
twice, and only numbers are kept per cell: its output cells are their centres. A city's is read
whole, and its output cells are its squares."""
POPULATION_CHUNK = 500_000
"""Population cells read at a time from a grid read in chunks."""
MAX_SITES = 500
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def read_population_file(path: str | Path, settings: Settings, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """A population grid from a file (GeoTIFF or polygons with 人口/persons), validated like an
    import; any rejected row is an error naming the file, row and reason."""
    source = read_source(path, target_layer="population")
    prepared = prepare_import("population", source, settings=settings, crs=crs)
    if prepared.errors:
        shown = "; ".join(str(p) for p in prepared.errors[:3])
        raise InputError(f"{path}: {prepared.rejected_rows:,} of {prepared.total_rows:,} population cells unusable: {shown}")
    if prepared.accepted.empty:
        raise InputError(f"{path}: no population cells in the file")
    return prepared.accepted


def read_candidate_layer(store: Store, name: str) -> gpd.GeoDataFrame:
    """Candidate sites from a store layer by name (the only form HTTP callers may name)."""
    if name not in CATALOGUE:
        raise InputError(f"candidates {name!r} is not a layer; name one of {', '.join(CATALOGUE)} or send a GeoJSON FeatureCollection")
    frame = store.read(name)
    if frame.empty:
        raise InputError(f"candidates layer {name!r} has no features")
    return frame


def read_candidates(store: Store, candidates: str) -> gpd.GeoDataFrame:
    """Candidate sites for the CLI: a store layer by name, or a GIS file (its CRS must be known)."""
    if candidates in CATALOGUE:
        return read_candidate_layer(store, candidates)
    path = Path(candidates)
    if not path.exists():
        raise InputError(f"candidates {candidates!r}: neither a layer ({', '.join(CATALOGUE)}) nor an existing file")
    frame = read_gis_frame(path, "candidate sites")
    if frame.crs is None:
        raise InputError(f"{path}: the candidate sites have no CRS; save them with one (e.g. EPSG:4326)")
    empty = frame.geometry.isna() | frame.geometry.is_empty
    if empty.any():
        raise InputError(f"{path}: feature {int(empty.to_numpy().argmax()) + 1} has no geometry")
    if frame.empty:
        raise InputError(f"{path}: no candidate sites in the file")
    return frame


class CoverageService(RoutedAnalysis):
    """Coverage over one store; results cached by layer versions. Thread-safe."""

    def __init__(self, store: Store, settings: Settings, routing: RoutingService) -> None:
        super().__init__(store, settings, routing)
        self._results: dict[tuple[str, ...], CoverageResult] = {}

    def _graph(self, mode: str) -> RoadGraph | None:
        return self.routing.walking_graph(self.settings.walk_speed_kmh) if mode == "network" else None

    def key(self, analysis_type: str, mode: str) -> tuple[str, ...]:
        """What a coverage result depends on: type, mode, parameters and the layers' versions."""
        versions = tuple(self.store.layer_version(layer) for layer in COVERAGE_LAYERS)
        return (analysis_type, mode, repr(self.settings.coverage_params().as_dict()), *versions)

    def cached(self, analysis_type: str = "紧急", mode: str = "network") -> CoverageResult | None:
        """The store's coverage if computed already for today's data, else None (no work)."""
        key = self.key(analysis_type, mode)
        with self._lock:
            return self._results.get(key)

    def result(self, analysis_type: str = "紧急", mode: str = "network", *, population: gpd.GeoDataFrame | None = None, progress: Progress = _quiet,
               run_partitions: RunPartitions | None = None) -> CoverageResult:
        """Coverage of the store's data (or of ``population`` instead of the store's grid). With
        ``run_partitions`` (``layers.services.cluster``) the walking reach is computed per county
        on a cluster: the same result."""
        if analysis_type not in ANALYSIS_TYPES:
            raise InputError(f"type must be one of {', '.join(ANALYSIS_TYPES)}, got {analysis_type!r}")
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        key = self.key(analysis_type, mode)
        if population is None:
            with self._lock:
                if key in self._results:
                    return self._results[key]
        progress("读取图层 reading layers")
        try:
            params = self.settings.coverage_params()
            result = analyse_coverage(
                self._population() if population is None else population,
                self.store.read("shelters"),
                self.store.read("admin_areas"),
                graph=self._graph(mode),
                analysis_type=analysis_type,
                mode=mode,
                params=params,
                epsg=self.settings.work_epsg,
                progress=progress,
                run_partitions=run_partitions,
            )
        except CoverageInputError as error:
            raise InputError(str(error)) from None
        if population is None:
            with self._lock:
                self._results = {k: v for k, v in self._results.items() if k[2:] == key[2:]}
                self._results[key] = result
        return result

    def _population(self) -> gpd.GeoDataFrame | PopulationChunks:
        if self.store.count("population") <= WHOLE_GRID_UP_TO:
            return self.store.read("population")
        return lambda: self.store.read_in_chunks("population", rows=POPULATION_CHUNK)

    def site(
        self,
        p: int,
        *,
        analysis_type: str = "紧急",
        mode: str = "network",
        candidates: str | gpd.GeoDataFrame | None = None,
        capacitated: bool = False,
        model: str = "mclp",
        spacing_m: float = 2000.0,
        result: CoverageResult | None = None,
        progress: Progress = _quiet,
    ) -> SitingResult:
        """New shelter sites for the gaps of ``result`` (or of a fresh run)."""
        if model == "mclp" and not 1 <= p <= MAX_SITES:
            raise InputError(f"p must be between 1 and {MAX_SITES} new sites, got {p}")
        result = result or self.result(analysis_type, mode, progress=progress)
        frame = read_candidates(self.store, candidates) if isinstance(candidates, str) else candidates
        progress("选址 siting (MILP)")
        try:
            return site_shelters(result, graph=self._graph(result.mode), p=p, candidates=frame, capacitated=capacitated, model=model, spacing_m=spacing_m, default_capacity=2000.0 / self.settings.area_per_person_m2, epsg=self.settings.work_epsg)
        except CoverageInputError as error:
            raise InputError(str(error)) from None
