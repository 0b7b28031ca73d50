"""Footprint impact speed: onemap's area-weighted residents per township × zone against
``geopandas.overlay`` of the same cells, zones and townships, in one run.

The case: the sample city (seed 370800) in EPSG:4548, its 156 townships (level 乡镇街道), and a
plume-like footprint of three nested ellipses (≈ 8, 22 and 50 km²) near 116.59 °E, 35.41 °N
(the city centre), over
- the sample's own 500 m population cells (all ≈ 40,000 of them), and
- a 100 m grid over the footprint's box + 3 km, each fine cell a seeded random share of the
  500 m cell holding its centre (totals kept).

The reference makes the zones disjoint the same way (each zone minus the more severe ones), then
``overlay(zones, townships)`` and ``overlay(cells, pieces)``, weights persons by the
intersection's share of the cell's area and sums per township × zone. Both must agree within
1e-6 relative; printed: best-of-N CPU seconds of each and the ratio reference / onemap (target ≥ 5).

Run by ``benchmarks/bench_impact.py`` (``--only overlay``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely import affinity

from gis.scenario.impact import residents_in_zones
from layers.sample import generate_city

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root, for the tests' reference
from tests.gis.test_scenario_impact import overlay_residents  # noqa: E402  (timed here as the tests check against it)

EPSG = 4548
CENTRE_LONLAT = (116.59, 35.41)
FOOTPRINT_KM2 = 50.0
TOWNSHIP_LEVEL = "乡镇街道"
T = TypeVar("T")


def footprint_zones() -> gpd.GeoDataFrame:
    """Three nested ellipses (2.5:1, axis 30° north of east), outer ≈ 50 km², most severe first."""
    x, y = Transformer.from_crs(4326, EPSG, always_xy=True).transform(*CENTRE_LONLAT)
    zones = []
    for share in (0.16, 0.44, 1.0):
        b = np.sqrt(FOOTPRINT_KM2 * 1e6 * share / (np.pi * 2.5))
        ellipse = affinity.scale(shapely.Point(0, 0).buffer(1.0, quad_segs=32), 2.5 * b, b)
        zones.append(affinity.translate(affinity.rotate(ellipse, 30, origin=(0, 0)), x, y))
    return gpd.GeoDataFrame({"zone": ["inner", "middle", "outer"]}, geometry=zones, crs=EPSG)


def fine_cells(population: gpd.GeoDataFrame, around: shapely.Polygon, cell_m: float, seed: int = 11) -> gpd.GeoDataFrame:
    """A ``cell_m`` lattice over ``around``'s box + 3 km; each fine cell a random (seeded) share of
    the coarse cell holding its centre, totals of the coarse cells kept."""
    min_x, min_y, max_x, max_y = np.array(around.bounds) + np.array([-3000, -3000, 3000, 3000])
    xs = np.arange(np.floor(min_x / cell_m) * cell_m, max_x, cell_m)
    ys = np.arange(np.floor(min_y / cell_m) * cell_m, max_y, cell_m)
    x0, y0 = (a.ravel() for a in np.meshgrid(xs, ys))
    coarse = np.asarray(population.geometry.array, dtype=object)
    point, parent = shapely.STRtree(coarse).query(shapely.points(x0 + cell_m / 2, y0 + cell_m / 2), predicate="within")
    first = np.unique(point, return_index=True)[1]
    point, parent = point[first], parent[first]
    weight = np.random.default_rng(seed).gamma(1.0, size=point.size)
    share = weight / np.bincount(parent, weights=weight, minlength=coarse.size)[parent]
    # Coarse cells only partly covered by the lattice keep the share of their covered fine cells.
    persons = population["persons"].to_numpy()[parent] * share
    boxes = shapely.box(x0[point], y0[point], x0[point] + cell_m, y0[point] + cell_m)
    return gpd.GeoDataFrame({"persons": persons}, geometry=boxes, crs=EPSG)


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    """The shortest of ``repeat`` runs in CPU seconds of this process (both methods run on one
    thread; CPU time is steadier than wall time on a shared machine), and the last result."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        result = run()
        times.append(time.process_time() - start)
    return min(times), result


def compare_with_overlay(repeat: int) -> None:
    """Print, for 500 m and 100 m cells, both times and the ratio overlay / onemap."""
    city = generate_city(370800)
    population = city["population"].to_crs(EPSG)[["persons", "geometry"]]
    admin = city["admin_areas"]
    townships = admin.loc[admin["level"] == TOWNSHIP_LEVEL, ["adcode", "name", "geometry"]].to_crs(EPSG)
    zones = footprint_zones()
    print(f"footprint {shapely.area(zones.geometry.iloc[-1]) / 1e6:.1f} km², {len(townships)} townships")

    for label, cells in (("500 m (sample cells)", population), ("100 m (fine grid)", fine_cells(population, zones.geometry.iloc[-1], 100.0))):
        ours_s, impact = best_of(repeat, partial(residents_in_zones, zones, cells, townships))
        reference_s, reference = best_of(repeat, partial(overlay_residents, zones, cells, townships))
        ours = impact.by_township.set_index(["zone", "adcode"])["residents"]
        joined = pd.concat([ours.rename("onemap"), reference.rename("overlay")], axis=1).fillna(0.0)
        worst = float(((joined["onemap"] - joined["overlay"]).abs() / joined["overlay"].abs().clip(lower=1e-9)).max())
        print(
            f"{label}: {len(cells):,} cells, {joined['onemap'].sum():,.0f} residents in {len(joined)} township×zone rows; "
            f"onemap {ours_s * 1000:.1f} ms, geopandas.overlay {reference_s * 1000:.1f} ms, "
            f"ratio overlay/onemap {reference_s / ours_s:.1f}× (target ≥ 5), worst relative difference {worst:.1e}"
        )

