"""Shelter-coverage speed on the sample city at 100 m cells (≈ 1 million populated cells).

Printed in one run:
- onemap reach + gaps (walking network reach, 2SFCA, load, gap polygons, per-area tables, and the
  evacuation assignment, timed apart): total time and peak memory (RSS of a fresh process, with the
  inputs' own footprint given separately);
- the same 2SFCA through PySAL ``access``:
  (a) on onemap's own cell–shelter cost table: the 2SFCA step alone, ratio = access / onemap;
  (b) as a whole reference pipeline — networkx cut-off Dijkstra from each shelter's nearest junction,
      cells joined to their nearest junction (scipy cKDTree), then ``access`` — against onemap's whole
      reach + 2SFCA, ratio = reference / onemap (target ≥ 10);
- MCLP p = 20 over ≥ 300 candidate sites against PySAL ``spopt`` (CBC) on the same cost matrix:
  objectives must be equal; ratio = spopt / onemap (target ≥ 1).

The 100 m grid splits each sample 500 m cell into 25 with seeded random shares (totals kept).
Run: ``bash .ci/bench`` or ``python benchmarks/bench_coverage.py [--cell-m 100] [--candidates 400]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.coverage import (
    CoverageParams,
    analyse_coverage,
    cover_matrix,
    maximal_covering,
    network_reach,
    two_step_fca,
)
from gis.coverage.siting import candidates_in_gaps
from gis.network import RoadGraph, walking_graph
from layers.sample import generate_city

EPSG = 4548


def fine_grid(population: gpd.GeoDataFrame, cell_m: float, seed: int = 11) -> gpd.GeoDataFrame:
    """A regular ``cell_m`` lattice (EPSG:4548) over the populated cells: each fine cell takes a
    random share (seeded) of the residents of the coarse cell holding its centre; totals kept."""
    from gis.coverage.gaps import locate

    metric = population.loc[population["persons"] > 0].to_crs(EPSG).reset_index(drop=True)
    min_x, min_y, max_x, max_y = metric.total_bounds
    xs = np.arange(np.floor(min_x / cell_m) * cell_m, max_x, cell_m)
    ys = np.arange(np.floor(min_y / cell_m) * cell_m, max_y, cell_m)
    x0, y0 = (a.ravel() for a in np.meshgrid(xs, ys))
    parent = locate(shapely.points(x0 + cell_m / 2, y0 + cell_m / 2), metric)
    x0, y0, parent = x0[parent >= 0], y0[parent >= 0], parent[parent >= 0]
    weight = np.random.default_rng(seed).gamma(1.0, size=parent.size)
    persons = metric["persons"].to_numpy()[parent] * weight / np.bincount(parent, weights=weight, minlength=len(metric))[parent]
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    return gpd.GeoDataFrame({"source_id": np.arange(boxes.size).astype(str), "persons": np.round(persons, 3)}, geometry=boxes, crs=EPSG)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _ours(inputs: Path, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a fresh process: load, then run the analysis; report times and memory."""
    with inputs.open("rb") as handle:
        population, shelters, areas, graph_bytes = pickle.load(handle)
    graph = RoadGraph.from_bytes(graph_bytes)
    loaded = _peak_rss_mb()
    start = time.perf_counter()
    result = analyse_coverage(population, shelters, areas, graph=graph, epsg=EPSG)
    total = time.perf_counter() - start
    queue.put({
        "total_s": total,
        "timings": result.timings_s,
        "peak_mb": _peak_rss_mb(),
        "inputs_mb": loaded,
        "cells": len(result.cells),
        "covered": float(result.cells.loc[result.cells["covered"], "persons"].sum()),
        "gaps": len(result.gaps),
        "pairs": int(result.reach.cell.size),
    })


def access_2sfca(cost: pd.DataFrame, demand: np.ndarray, capacity: np.ndarray, max_cost: float) -> np.ndarray:
    import access

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = access.Access(
            demand_df=pd.DataFrame({"cell": np.arange(demand.size), "demand": demand}), demand_index="cell", demand_value="demand",
            supply_df=pd.DataFrame({"shelter": np.arange(capacity.size), "capacity": capacity}), supply_index="shelter", supply_value="capacity",
            cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost",
        )
        frame = model.two_stage_fca(name="fca", max_cost=max_cost, normalize=False)
    return frame.iloc[:, 0].reindex(range(demand.size)).fillna(0.0).to_numpy()


def reference_pipeline(graph: RoadGraph, cells_xy: np.ndarray, shelters_xy: np.ndarray, demand: np.ndarray, capacity: np.ndarray, reach_min: float, walk_kmh: float) -> tuple[np.ndarray, float]:
    """networkx cut-off Dijkstra per shelter + nearest-junction joins + PySAL access."""
    import networkx as nx
    from scipy.spatial import cKDTree

    start = time.perf_counter()
    nx_graph = nx.Graph()
    coo = graph.forward.tocoo()
    nx_graph.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))
    tree = cKDTree(graph.node_xy)
    speed = walk_kmh / 3.6
    cell_gap, cell_node = tree.query(cells_xy)
    shelter_gap, shelter_node = tree.query(shelters_xy)
    limit_s = reach_min * 60
    rows = []
    for j, node in enumerate(shelter_node):
        lengths = nx.single_source_dijkstra_path_length(nx_graph, int(node), cutoff=limit_s, weight="weight")
        reached = pd.DataFrame({"node": list(lengths.keys()), "seconds": list(lengths.values())})
        reached["dest"] = j
        reached["seconds"] += shelter_gap[j] / speed
        rows.append(reached)
    by_node = pd.concat(rows, ignore_index=True)
    cells = pd.DataFrame({"origin": np.arange(len(cells_xy)), "node": cell_node, "access_s": cell_gap / speed})
    cost = cells.merge(by_node, on="node")
    cost["cost"] = (cost["access_s"] + cost["seconds"]) / 60.0
    cost = cost.loc[cost["cost"] <= reach_min, ["origin", "dest", "cost"]]
    score = access_2sfca(cost, demand, capacity, reach_min)
    return score, time.perf_counter() - start


def geopandas_reference(population: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, reach_min: float, walk_kmh: float) -> tuple[dict[str, float], float]:
    """The desktop-GIS way, in geopandas: straight-line buffers, spatial joins, pandas 2SFCA,
    nearest by sjoin_nearest, gaps by dissolve per township — the same outputs as onemap's
    euclidean mode."""
    start = time.perf_counter()
    radius = reach_min * walk_kmh * 1000 / 60
    cells = gpd.GeoDataFrame({"cell": np.arange(len(population)), "persons": population["persons"].to_numpy()}, geometry=population.geometry.centroid, crs=EPSG)
    sites = shelters.to_crs(EPSG).reset_index(drop=True)
    sites = gpd.GeoDataFrame({"shelter": np.arange(len(sites)), "capacity": sites["capacity_persons"].to_numpy(float)}, geometry=sites.geometry, crs=EPSG)
    pairs = gpd.sjoin(cells, sites.set_geometry(sites.buffer(radius, quad_segs=32)), predicate="within")
    ratio = sites.set_index("shelter")["capacity"] / pairs.groupby("shelter")["persons"].sum()
    pairs["ratio"] = pairs["shelter"].map(ratio)
    score = pairs.groupby("cell")["ratio"].sum().reindex(cells["cell"], fill_value=0.0)
    nearest = gpd.sjoin_nearest(cells, sites, distance_col="metres")
    covered = cells["cell"].isin(pairs["cell"])
    townships = areas.loc[areas["level"] == "乡镇街道"].to_crs(EPSG)[["adcode", "name", "geometry"]]
    located = gpd.sjoin(cells, townships, predicate="within", how="left")
    located = located[~located.index.duplicated()]
    uncovered = population.loc[~covered.to_numpy()].assign(adcode=located.loc[~covered.to_numpy(), "adcode"].to_numpy())
    gaps = uncovered.dissolve(by="adcode", aggfunc={"persons": "sum"}).explode(index_parts=False).reset_index()
    table = located.assign(covered=covered.to_numpy()).groupby("adcode").agg(residents=("persons", "sum"))
    elapsed = time.perf_counter() - start
    return {"covered": float(cells.loc[covered, "persons"].sum()), "score_sum": float(score.sum()), "gap_parts": float(len(gaps)), "nearest_m": float(nearest["metres"].mean()), "rows": float(len(table))}, elapsed


def bench_siting(graph: RoadGraph, population: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, n_candidates: int, p: int) -> None:
    import pulp
    from spopt.locate import MCLP

    result = analyse_coverage(population, shelters, areas, graph=graph, epsg=EPSG)
    cells = result.cells.to_crs(EPSG)
    uncovered = np.where(result.cells["covered"], 0.0, result.cells["persons"].to_numpy(float))
    rows = np.flatnonzero(uncovered > 0)
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(cells.geometry.array, dtype=object)[rows]))
    candidates, _ = candidates_in_gaps(xy, uncovered[rows], spacing_m=1000.0)
    candidates = candidates[:n_candidates]
    reach_min = CoverageParams().reach_min["紧急"]
    reach = network_reach(graph, xy, candidates, np.full(len(candidates), reach_min), walk_kmh=4.5)
    # The same matrix for both: the uncovered cells some candidate can reach; beyond reach = far.
    live = np.unique(reach.cell)
    position = np.full(len(xy), -1)
    position[live] = np.arange(live.size)
    cost = np.full((live.size, len(candidates)), 1e6)
    cost[position[reach.cell], reach.shelter] = reach.minutes
    weights = uncovered[rows][live]
    print(f"siting: {len(candidates)} candidates, {live.size:,} uncovered cells within reach of one, p = {p}")

    start = time.perf_counter()
    ours = maximal_covering(cover_matrix(reach)[live], weights, p)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MCLP.from_cost_matrix(cost, weights, service_radius=reach_min, p_facilities=p).solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_s = time.perf_counter() - start
    theirs = float(pulp.value(model.problem.objective))
    same = abs(theirs - ours.objective) <= 1e-6 * max(1.0, theirs)
    print(f"MCLP p={p}: onemap {ours_s:8.2f} s (objective {ours.objective:,.0f}, gap {ours.mip_gap:.2%})   "
          f"spopt+CBC {spopt_s:8.2f} s (objective {theirs:,.0f})   same objective: {same}   ratio spopt/onemap {spopt_s / ours_s:6.1f}x")
    if not same:
        sys.exit("MCLP objectives differ: a correctness failure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell-m", type=float, default=100.0, help="population cell size (m)")
    parser.add_argument("--candidates", type=int, default=400, help="candidate sites for the MCLP comparison (≥ 300)")
    parser.add_argument("--p", type=int, default=20)
    args, _ = parser.parse_known_args()

    city = generate_city(370800)
    graph = walking_graph(city["roads"], epsg=EPSG)
    population = fine_grid(city["population"], args.cell_m)
    print(f"sample city at {args.cell_m:g} m: {len(population):,} populated cells, {population['persons'].sum():,.0f} residents; "
          f"walking network {graph.edge_count:,} edges, {graph.node_count:,} junctions; {len(city['shelters'])} shelters")

    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "inputs.pickle"
        with inputs.open("wb") as handle:
            pickle.dump((population, city["shelters"], city["admin_areas"], graph.to_bytes()), handle)
        queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
        process = multiprocessing.get_context("spawn").Process(target=_ours, args=(inputs, queue))
        process.start()
        ours = queue.get()
        process.join()
    timings = ours["timings"]
    reach_gaps = ours["total_s"] - timings["assignment"]
    print(f"onemap reach + gaps: {reach_gaps:7.2f} s (input {timings['input']:.2f}, reach {timings['reach']:.2f}, gaps {timings['gaps']:.2f}, tables {timings['tables']:.2f}); "
          f"assignment LP {timings['assignment']:.2f} s; peak RSS {ours['peak_mb']:,.0f} MB (inputs alone {ours['inputs_mb']:,.0f} MB)")
    print(f"  {ours['cells']:,} cells, {ours['pairs']:,} cell-shelter pairs within reach, {ours['covered']:,.0f} residents covered, {ours['gaps']:,} gap polygons")

    # 2SFCA: onemap vs PySAL access on the same pairs, then whole pipelines.
    params = CoverageParams()
    shelters = city["shelters"].to_crs(EPSG)
    capacity = shelters["capacity_persons"].to_numpy(float)
    cells_xy = shapely.get_coordinates(shapely.centroid(np.asarray(population.geometry.array, dtype=object)))
    shelters_xy = shapely.get_coordinates(np.asarray(shelters.geometry.array, dtype=object))
    demand = population["persons"].to_numpy(float)
    start = time.perf_counter()
    reach = network_reach(graph, cells_xy, shelters_xy, np.full(len(shelters_xy), params.reach_min["紧急"]), walk_kmh=params.walk_kmh, nearest=False)
    ours_pipeline = time.perf_counter() - start
    start = time.perf_counter()
    score = two_step_fca(reach, demand, capacity)
    ours_step = time.perf_counter() - start
    ours_pipeline += ours_step
    cost = pd.DataFrame({"origin": reach.cell, "dest": reach.shelter, "cost": reach.minutes})
    start = time.perf_counter()
    theirs = access_2sfca(cost, demand, capacity, params.reach_min["紧急"])
    access_step = time.perf_counter() - start
    agree = np.allclose(score, theirs)
    print(f"2SFCA step on the same {len(cost):,} pairs: onemap {ours_step * 1000:8.1f} ms   access {access_step * 1000:8.1f} ms   "
          f"same scores: {agree}   ratio access/onemap {access_step / ours_step:7.1f}x")
    if not agree:
        sys.exit("2SFCA scores differ from PySAL access: a correctness failure")
    reference, reference_s = reference_pipeline(graph, cells_xy, shelters_xy, demand, capacity, params.reach_min["紧急"], params.walk_kmh)
    print(f"reach + 2SFCA pipeline: onemap {ours_pipeline:7.2f} s   networkx + access {reference_s:7.2f} s   ratio reference/onemap {reference_s / ours_pipeline:6.1f}x  "
          f"(the reference snaps to junctions, not edges: covered cells differ by {np.mean((score > 0) != (reference > 0)):.1%})")

    # The whole reach + gaps job against the desktop-GIS way, both straight-line (same outputs).
    start = time.perf_counter()
    straight = analyse_coverage(population, city["shelters"], city["admin_areas"], graph=None, mode="euclidean", epsg=EPSG)
    ours_straight = time.perf_counter() - start - straight.timings_s["assignment"]
    figures, reference_s = geopandas_reference(population, city["shelters"], city["admin_areas"], params.reach_min["紧急"], params.walk_kmh)
    ours_covered = float(straight.cells.loc[straight.cells["covered"], "persons"].sum())
    print(f"reach + gaps, straight-line (2SFCA, nearest, gaps per township, tables): onemap {ours_straight:7.2f} s   geopandas sjoin + dissolve {reference_s:7.2f} s   "
          f"ratio reference/onemap {reference_s / ours_straight:6.1f}x   covered residents {ours_covered:,.0f} vs {figures['covered']:,.0f}")

    bench_siting(graph, population, city["shelters"], city["admin_areas"], args.candidates, args.p)


if __name__ == "__main__":
    main()
