"""The whole shelter-coverage analysis on frames: reach → gaps, 2SFCA, load, assignment, tables;
and siting new shelters in the gaps it finds.

Inputs are GeoDataFrames in any CRS (population cells as polygons with ``persons``; shelters as
points or site polygons; admin areas with ``adcode``/``name``/``level``); the work happens in the
metric ``epsg`` and every output frame is EPSG:4326. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from ..arraytools import anchor_points, first_per_group
from ..network import RoadGraph
from ..partitions import RunPartitions
from .assignment import Assignment, assign_evacuees
from .cells import PopulatedCells, PopulationChunks, chunks_of, populated_polygons, read_cells
from .gaps import area_table, gap_polygons, locate, nearest_within_reach, shelter_load, two_step_fca
from .params import (
    SHELTER_TYPES,
    CoverageInputError,
    CoverageParams,
    check_analysis_type,
    serving_shelters,
)
from .partitions import partitioned_reach
from .reach import MODE_LABELS, MODES, Reach, euclidean_reach, network_reach
from .siting import SitingSolution, candidates_in_gaps, cover_matrix, maximal_covering, set_covering

OUTPUT_EPSG = 4326
COUNTY, TOWNSHIP = "区县", "乡镇街道"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class CoverageResult:
    """Everything one coverage run found (frames in EPSG:4326; ``reach`` in row positions of
    ``cells``/``shelters``)."""

    analysis_type: str
    mode: str
    params: CoverageParams
    cells: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    reach: Reach
    assignment: Assignment
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @cached_property
    def totals(self) -> dict[str, float | int]:
        """The city's figures, counted once: residents, covered and uncovered (persons), unplaced
        persons, shelters, shelters over capacity (load ratio > 1) and gap polygons."""
        persons = self.cells["persons"]
        residents = float(persons.sum())
        covered = float(persons[self.cells["covered"]].sum())
        return {
            "residents": residents,
            "residents_covered": covered,
            "residents_uncovered": residents - covered,
            "unplaced_persons": float(self.assignment.unplaced.sum()),
            "shelters": len(self.shelters),
            "shelters_over_capacity": int((self.shelters["load_ratio"] > 1).sum()),
            "gaps": len(self.gaps),
        }

    def metadata(self) -> dict[str, object]:
        """Parameters and definitions, to store beside the outputs."""
        return {
            "analysis_type": self.analysis_type,
            "mode": self.mode,
            "mode_label": MODE_LABELS[self.mode],
            **self.params.as_dict(),
            "demand_share_used": self.params.share(self.analysis_type),
            "definitions": {
                "demand_persons": "residents × demand share of the analysis type",
                "access_2sfca": "Σ over shelters within reach of capacity / demand within that shelter's reach (places per person)",
                "load_ratio": "demand of the cells whose nearest shelter within reach it is / capacity",
                "capacity_shortfall_persons": "max(0, demand − capacity of shelters located in the area)",
                "unplaced_persons": "demand the capacity-respecting assignment could not place within reach",
            },
        }


def _metric(frame: gpd.GeoDataFrame, epsg: int, label: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise CoverageInputError(f"{label}: no coordinate reference system; say which (e.g. EPSG:4326) before analysing")
    return frame.to_crs(epsg)


def _check_overlap(cells_xy: NDArray[np.float64], inside: int, region: gpd.GeoDataFrame, label: str, source_crs: object) -> None:
    """``inside`` cells lie in the admin areas; none is an error that suggests a CRS mix-up."""
    if inside == 0:
        bounds = ", ".join(f"{v:.0f}" for v in (*cells_xy.min(axis=0), *cells_xy.max(axis=0)))
        city = ", ".join(f"{v:.0f}" for v in region.total_bounds)
        raise CoverageInputError(
            f"{label}: the population grid (cell centres within {bounds} m) does not overlap the city's admin areas (bounds {city} m); "
            f"is it really in the CRS it declares ({source_crs})?"
        )


def _levels(areas: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    if areas.empty:
        return {}
    return {level: areas.loc[areas["level"] == level].reset_index(drop=True) for level in (COUNTY, TOWNSHIP) if (areas["level"] == level).any()}


def analyse_coverage(
    population: gpd.GeoDataFrame | PopulationChunks,
    shelters: gpd.GeoDataFrame,
    admin_areas: gpd.GeoDataFrame,
    *,
    graph: RoadGraph | None,
    analysis_type: str = "紧急",
    mode: str = "network",
    params: CoverageParams | None = None,
    epsg: int,
    progress: Progress = _quiet,
    run_partitions: RunPartitions | None = None,
) -> CoverageResult:
    """Run reach, gaps, 2SFCA, load, assignment and the per-area tables.

    ``population``: the grid as a frame, or a function giving it a chunk at a time (a province's:
    ``gis.coverage.cells``); then only numbers are held per cell, the output cells are the cells'
    centres (points), and the grid is read a second time for the gaps.

    With ``run_partitions`` the network reach is computed per county (``gis.coverage.partitions``,
    e.g. on a cluster); the result is the same.

    ``graph`` is the walking graph in ``epsg`` (``gis.network.walking_graph``); it may be None in
    euclidean mode. Raises ``CoverageInputError`` for unusable input, naming what and why.
    """
    params = params or CoverageParams()
    check_analysis_type(analysis_type)
    if mode not in MODES:
        raise CoverageInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "network" and graph is None:
        raise CoverageInputError("network mode needs the walking network (roads)")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    notes: list[str] = []

    progress("检查输入 checking input")
    areas = _metric(admin_areas, epsg, "admin_areas") if not admin_areas.empty else admin_areas
    levels = _levels(areas)
    chunks = population if callable(population) else None  # read again for the gaps; a frame's cells are kept
    cells = read_cells(chunks_of(population), epsg, levels, "population", whole=chunks is None)
    del population  # given whole, the cells without residents can go now
    serving = _metric(serving_shelters(shelters, analysis_type, params), epsg, "shelters")
    cells_xy, cell_area_rows = cells.xy, cells.area_rows
    if levels:
        inside = int(np.any([rows >= 0 for rows in cell_area_rows.values()], axis=0).sum())
        _check_overlap(cells_xy, inside, areas, "population", cells.crs)
        if inside < len(cells):
            notes.append(f"{len(cells) - inside:,} populated cells lie outside every admin area; they count in the totals but in no area row")
    shelter_points = anchor_points(np.asarray(serving.geometry.array, dtype=object))
    shelters_xy = shapely.get_coordinates(shelter_points)
    limits = serving["reach_min"].to_numpy(dtype=float)
    timings["input"] = time.perf_counter() - clock

    progress(f"步行可达 walking reach ({MODE_LABELS[mode]})")
    clock = time.perf_counter()
    if mode == "network":
        assert graph is not None
        if run_partitions is None:
            reach = network_reach(graph, cells_xy, shelters_xy, limits, walk_kmh=params.walk_kmh, max_snap_m=params.max_snap_m)
        else:
            county = cell_area_rows.get(COUNTY, np.full(len(cells), -1, dtype=np.int64))
            adcodes = [str(code) for code in levels[COUNTY]["adcode"]] if COUNTY in levels else []
            reach = partitioned_reach(graph, cells_xy, shelters_xy, limits, county, adcodes, walk_kmh=params.walk_kmh, max_snap_m=params.max_snap_m, run_partitions=run_partitions)
        if reach.shelters_off_network.size:
            names = serving["name"].iloc[reach.shelters_off_network[:5]].tolist() if "name" in serving else []
            notes.append(f"{reach.shelters_off_network.size} shelter(s) more than {params.max_snap_m:.0f} m from any walkable road cover nobody: {names}")
        if reach.cells_off_network.size:
            notes.append(f"{reach.cells_off_network.size:,} populated cells are more than {params.max_snap_m:.0f} m from any walkable road: counted uncovered")
    else:
        reach = euclidean_reach(cells_xy, shelters_xy, limits, walk_kmh=params.walk_kmh)
    timings["reach"] = time.perf_counter() - clock

    progress("缺口与可达性 gaps, 2SFCA, load")
    clock = time.perf_counter()
    residents = cells.persons
    demand = residents * params.share(analysis_type)
    capacity = serving["capacity"].to_numpy(dtype=float)
    covered = reach.covered()
    score = two_step_fca(reach, demand, capacity)
    best_shelter, best_minutes = nearest_within_reach(reach)
    load = shelter_load(reach, residents, demand, capacity)
    cell_township = cell_area_rows.get(TOWNSHIP)
    gaps = gap_polygons(populated_polygons(chunks, cells), uncovered=~covered, residents=residents, nearest_minutes=reach.nearest_minutes, group=cell_township, epsg=epsg)
    timings["gaps"] = time.perf_counter() - clock

    progress("疏散分配 evacuation assignment")
    clock = time.perf_counter()
    assignment = assign_evacuees(reach, demand, capacity)
    timings["assignment"] = time.perf_counter() - clock

    progress("汇总 per-area tables")
    clock = time.perf_counter()
    shelter_ids = serving["source_id"].to_numpy(dtype=object) if "source_id" in serving else np.arange(len(serving)).astype(object)
    shelter_names = serving["name"].to_numpy(dtype=object) if "name" in serving else np.full(len(serving), None, dtype=object)
    cell_frame = pd.DataFrame(
        {
            "cell_id": cells.cell_id,
            "persons": residents,
            "demand_persons": demand,
            "covered": covered,
            "shelters_in_reach": np.bincount(reach.cell, minlength=len(cells)),
            "reach_shelter_id": _pick(shelter_ids, best_shelter),
            "reach_min": best_minutes,
            "nearest_shelter_id": _pick(shelter_ids, reach.nearest_shelter),
            "nearest_shelter": _pick(shelter_names, reach.nearest_shelter),
            "nearest_min": reach.nearest_minutes,
            "access_2sfca": score,
            "placed_persons": assignment.placed,
            "unplaced_persons": assignment.unplaced,
        }
    )
    shelter_frame = serving.drop(columns=["capacity", "area_m2", "reach_min"]).assign(
        capacity_persons=capacity,
        area_m2=serving["area_m2"].to_numpy(),
        reach_min=limits,
        on_network=~np.isin(np.arange(len(serving)), reach.shelters_off_network),
        **{column: load[column].to_numpy() for column in load.columns},
        assigned_persons=assignment.assigned,
        assigned_load_ratio=assignment.assigned / capacity,
    )
    area_frames = []
    for level, level_areas in levels.items():
        cell_area = cell_area_rows[level]
        shelter_area = locate(shelter_points, level_areas)
        code = _with_none(level_areas["adcode"].to_numpy(dtype=object))
        name = _with_none(level_areas["name"].to_numpy(dtype=object))
        prefix = "county" if level == COUNTY else "township"
        cell_frame[f"{prefix}_adcode"], cell_frame[prefix] = code[cell_area], name[cell_area]
        shelter_frame[f"{prefix}_adcode"] = code[shelter_area]
        table = area_table(level_areas, cell_area=cell_area, residents=residents, covered=covered, demand=demand,
                           shelter_area=shelter_area, capacity=capacity, shelter_m2=serving["area_m2"].to_numpy(dtype=float))
        table["unplaced_persons"] = np.bincount(cell_area[cell_area >= 0], weights=assignment.unplaced[cell_area >= 0], minlength=len(level_areas))
        area_frames.append(gpd.GeoDataFrame(table, geometry=level_areas.geometry.to_numpy(), crs=areas.crs))
        if level == TOWNSHIP:
            gap_area = gaps["group"].to_numpy(dtype=np.int64)
            gaps["township_adcode"], gaps["township"] = code[gap_area], name[gap_area]
    area_out = (
        gpd.GeoDataFrame(pd.concat(area_frames, ignore_index=True), geometry="geometry", crs=areas.crs).to_crs(OUTPUT_EPSG)
        if area_frames
        else gpd.GeoDataFrame(geometry=[], crs=OUTPUT_EPSG)
    )
    timings["tables"] = time.perf_counter() - clock
    return CoverageResult(
        analysis_type=analysis_type,
        mode=mode,
        params=params,
        cells=_output_cells(cell_frame, cells, epsg),
        shelters=gpd.GeoDataFrame(shelter_frame, geometry="geometry", crs=epsg).to_crs(OUTPUT_EPSG),
        areas=area_out,
        gaps=gaps.drop(columns="group").to_crs(OUTPUT_EPSG),
        reach=reach,
        assignment=assignment,
        notes=notes,
        timings_s=timings,
    )


def _output_cells(frame: pd.DataFrame, cells: PopulatedCells, epsg: int) -> gpd.GeoDataFrame:
    """The per-cell table in EPSG:4326 on the polygons as given (no copy when given in EPSG:4326),
    or, for a grid read in chunks, on the cells' centres."""
    if cells.polygons is not None:
        return gpd.GeoDataFrame(frame, geometry=cells.polygons, crs=cells.crs, copy=False).to_crs(OUTPUT_EPSG)
    lon, lat = Transformer.from_crs(epsg, OUTPUT_EPSG, always_xy=True).transform(cells.xy[:, 0], cells.xy[:, 1])
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=OUTPUT_EPSG, copy=False)  # a province's table is gigabytes: not copied


def _with_none(values: NDArray[np.object_]) -> NDArray[np.object_]:
    """``values`` with a trailing None, so that index -1 (outside / none) picks None."""
    return np.concatenate([np.asarray(values, dtype=object), np.array([None], dtype=object)])


def _pick(values: NDArray[np.object_], index: NDArray[np.int64]) -> NDArray[np.object_]:
    return _with_none(values)[np.where(index >= 0, index, len(values))]


# --- siting ---------------------------------------------------------------------------------


@dataclass
class SitingResult:
    """Recommended sites (EPSG:4326) with the residents each newly covers, and the solution."""

    sites: gpd.GeoDataFrame
    solution: SitingSolution
    candidates: int
    residents_uncovered_before: float
    residents_newly_covered: float
    residents_uncoverable: float
    persons_sheltered: float | None = None
    """Capacitated siting only: persons (residents × demand share) the new sites shelter within
    their capacities — the capacitated objective. None for the uncapacitated models."""


def site_shelters(
    result: CoverageResult,
    *,
    graph: RoadGraph | None,
    p: int,
    candidates: gpd.GeoDataFrame | None = None,
    site_type: str | None = None,
    capacitated: bool = False,
    model: str = "mclp",
    spacing_m: float = 2000.0,
    default_capacity: float = 2000.0 / 1.5,
    epsg: int,
    time_limit_s: float | None = 120.0,
) -> SitingResult:
    """Choose new shelter sites covering the residents ``result`` left uncovered.

    ``candidates``: a frame of candidate sites (points or polygons, any CRS; ``name`` and
    ``capacity_persons`` used when present), or None to generate them in the gaps
    (``candidates_in_gaps``). New sites get the reach of ``site_type`` (default: the analysis
    type; ``紧急`` for ``all``). ``model``: ``mclp`` (p sites, most residents) or ``lscp`` (fewest
    sites covering every coverable resident; ``p`` ignored). Capacity of a candidate: its
    ``capacity_persons``, else ``default_capacity`` (a 2,000 m² site at 1.5 m² per person).
    """
    if model not in ("mclp", "lscp"):
        raise CoverageInputError(f"model must be mclp or lscp, got {model!r}")
    params = result.params
    site_type = site_type or ("紧急" if result.analysis_type == "all" else result.analysis_type)
    if site_type not in SHELTER_TYPES:
        raise CoverageInputError(f"site type must be one of {', '.join(SHELTER_TYPES)}, got {site_type!r}")
    cells = result.cells.to_crs(epsg)
    all_uncovered = np.where(result.cells["covered"].to_numpy(), 0.0, result.cells["persons"].to_numpy(dtype=float))
    # Only uncovered populated cells can be newly covered: the rest leave the model.
    rows = np.flatnonzero(all_uncovered > 0)
    uncovered = all_uncovered[rows]
    cells_xy = shapely.get_coordinates(shapely.centroid(np.asarray(cells.geometry.array, dtype=object)[rows]))
    if candidates is None:
        xy, _ = candidates_in_gaps(cells_xy, uncovered, spacing_m=spacing_m)
        sites = gpd.GeoDataFrame({"name": [f"候选点{i + 1}" for i in range(len(xy))], "capacity_persons": np.full(len(xy), np.nan)}, geometry=shapely.points(xy), crs=epsg)
        lonlat = anchor_points(np.asarray(sites.to_crs(OUTPUT_EPSG).geometry.array, dtype=object))
        origin = "generated in gaps"
    else:
        if candidates.crs is None:
            raise CoverageInputError("candidates: no coordinate reference system; say which (e.g. EPSG:4326)")
        given = candidates.reset_index(drop=True)
        lonlat = anchor_points(np.asarray(given.to_crs(OUTPUT_EPSG).geometry.array, dtype=object))  # reported as given, not round-tripped
        sites = given.set_geometry(anchor_points(np.asarray(given.geometry.array, dtype=object))).to_crs(epsg)
        origin = "given"
    if sites.empty:
        raise CoverageInputError("no candidate sites: every resident is already covered" if candidates is None else "the candidates layer has no features")
    if model == "mclp" and not 1 <= p <= len(sites):
        raise CoverageInputError(f"p = {p} new sites asked for, but there are only {len(sites)} candidate sites ({origin}); choose p between 1 and {len(sites)}")
    sites_xy = shapely.get_coordinates(np.asarray(sites.geometry.array, dtype=object))
    limits = np.full(len(sites), float(params.reach_min[site_type]))
    if result.mode == "network":
        if graph is None:
            raise CoverageInputError("network mode needs the walking network (roads)")
        reach = network_reach(graph, cells_xy, sites_xy, limits, walk_kmh=params.walk_kmh, max_snap_m=params.max_snap_m)
    else:
        reach = euclidean_reach(cells_xy, sites_xy, limits, walk_kmh=params.walk_kmh)
    cover = cover_matrix(reach)
    capacity = sites["capacity_persons"].astype(float).fillna(default_capacity).to_numpy() if "capacity_persons" in sites else np.full(len(sites), default_capacity)
    if model == "lscp":
        solution = set_covering(cover, uncovered, time_limit_s=time_limit_s)
    else:
        weights = uncovered * (params.share(result.analysis_type) if capacitated else 1.0)
        solution = maximal_covering(cover, weights, p, capacity=capacity if capacitated else None, time_limit_s=time_limit_s)
    chosen = solution.selected
    # Attribute each newly covered cell to its quickest chosen site.
    in_chosen = np.isin(reach.shelter, chosen) & (uncovered[reach.cell] > 0)
    quickest = first_per_group(reach.cell[in_chosen], reach.minutes[in_chosen])
    pair_cell, pair_site = reach.cell[in_chosen][quickest], reach.shelter[in_chosen][quickest]
    newly = np.bincount(pair_site, weights=uncovered[pair_cell], minlength=len(sites))
    in_reach = np.bincount(reach.shelter[in_chosen], weights=uncovered[reach.cell[in_chosen]], minlength=len(sites))
    picked = sites.iloc[chosen]
    out = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, chosen.size + 1),
            "name": picked["name"].to_numpy(dtype=object) if "name" in picked else [f"候选点{i + 1}" for i in chosen],
            "candidate": chosen,
            "site_type": site_type,
            "reach_min": limits[chosen],
            "capacity_persons": capacity[chosen],
            "residents_newly_covered": newly[chosen],
            "uncovered_residents_in_reach": in_reach[chosen],
        },
        geometry=lonlat[chosen],
        crs=OUTPUT_EPSG,
    )
    if solution.served is not None:
        out["persons_sheltered"] = solution.served[chosen]
    out = out.sort_values("persons_sheltered" if solution.served is not None else "residents_newly_covered", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return SitingResult(
        sites=out,
        solution=solution,
        candidates=len(sites),
        residents_uncovered_before=float(uncovered.sum()),
        residents_newly_covered=float(newly.sum()),
        residents_uncoverable=float(uncovered[solution.uncoverable].sum()),
        persons_sheltered=solution.objective if solution.served is not None else None,
    )
