"""The dam-break footprint on terrains whose answer is known by hand (a tilted plane cut by a
V-shaped valley), and its flow routing cross-checked against independent brute-force versions:
an iterative Planchon-Darboux fill and a cell-by-cell steepest-descent walk."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import pytest
import shapely
from affine import Affine
from numpy.typing import NDArray

import gis.scenario.dam_break as dam_break_module
from gis.scenario import ScenarioInputError
from gis.scenario.dam_break import DamBreakParams, Reservoir, dam_break, peak_outflow
from gis.scenario.terrain import OFFSETS, fill_depressions, flow_grid, follow, trace

pytestmark = pytest.mark.xdist_group("scenario-dam-break")  # its module fixtures are built once, on one worker (--dist loadgroup)

CELL = 30.0
ROWS, COLS = 160, 500
SIDE_SLOPE = 0.08  # valley sides, m/m
BED_SLOPE = 0.005  # valley floor, falling eastward, m/m
DAM_X = 1_500.0  # m from the west edge
AXIS_Y = ROWS * CELL / 2


def v_valley(rows: int = ROWS, cols: int = COLS) -> tuple[NDArray[np.float64], Affine]:
    """A plane falling east at 0.5 %, cut by a V valley along y = AXIS_Y (sides 8 %)."""
    x = (np.arange(cols) + 0.5) * CELL
    y = rows * CELL - (np.arange(rows) + 0.5) * CELL
    gx, gy = np.meshgrid(x, y)
    return 200.0 - BED_SLOPE * gx + SIDE_SLOPE * np.abs(gy - rows * CELL / 2), Affine(CELL, 0, 0, 0, -CELL, rows * CELL)


@pytest.fixture(scope="module")
def valley() -> tuple[NDArray[np.float64], Affine]:
    return v_valley()


def run(valley: tuple[NDArray[np.float64], Affine], capacity: float, **kwargs: float) -> dam_break_module.DamBreakResult:
    elevation, transform = valley
    with pytest.warns(UserWarning, match="leaves the DEM"):  # the 15 km valley is shorter than the 40 km reach
        return dam_break(elevation, transform, (DAM_X, AXIS_Y), Reservoir(capacity, dam_height_m=15.0), **kwargs)  # type: ignore[arg-type]


def cell_centres(result: dam_break_module.DamBreakResult) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rows, cols = result.depth_m.shape
    t = result.transform
    return np.meshgrid(t.c + (np.arange(cols) + 0.5) * t.a, t.f + (np.arange(rows) + 0.5) * t.e)


def test_water_follows_the_valley_and_nothing_upstream_floods(valley: tuple[NDArray[np.float64], Affine]) -> None:
    result = run(valley, 2e7)
    xs, ys = cell_centres(result)
    wet = result.depth_m > 0
    path = np.asarray(result.path.coords)
    assert np.all(np.abs(path[:, 1] - AXIS_Y) <= CELL) and np.all(np.diff(path[:, 0]) > 0)  # down the axis, eastward
    assert wet.any() and np.all(xs[wet] > DAM_X - CELL)  # nothing upstream of the dam
    # At stage h a V of side slope s is wet within h / s of its axis.
    assert np.all(np.abs(ys[wet] - AXIS_Y) <= result.path_stage_m.max() / SIDE_SLOPE + CELL)
    depth_on_axis = result.depth_m[np.abs(ys - AXIS_Y) <= CELL / 2]
    assert depth_on_axis.max() == pytest.approx(result.path_stage_m.max(), rel=0.02)


def test_volume_limited_uses_up_the_released_volume_and_no_more(valley: tuple[NDArray[np.float64], Affine]) -> None:
    for capacity in (2e5, 1e6, 5e6):
        result = run(valley, capacity)
        assert result.volume_limited
        assert result.released_volume_m3 == capacity  # no level: full to the dam's height
        cells = float(result.depth_m.astype(np.float64).sum() * CELL * CELL)
        assert cells == pytest.approx(result.flooded_volume_m3, rel=1e-6)
        assert 0.97 * capacity <= result.flooded_volume_m3 <= capacity
    small, large = run(valley, 2e5), run(valley, 5e6)
    assert (small.depth_m > 0).sum() < (large.depth_m > 0).sum()


def test_a_large_reservoir_is_not_volume_limited_and_stays_below_its_volume(valley: tuple[NDArray[np.float64], Affine]) -> None:
    result = run(valley, 2e8)
    assert not result.volume_limited
    assert 0 < result.flooded_volume_m3 < result.released_volume_m3
    assert np.all(result.path_stage_m > 0)


def test_depth_falls_and_arrival_grows_downstream(valley: tuple[NDArray[np.float64], Affine]) -> None:
    result = run(valley, 2e7)
    flooded = result.path_stage_m > 0
    stage, arrival = result.path_stage_m[flooded], result.path_arrival_min[flooded]
    assert np.all(np.diff(stage) <= 0.01) and stage[-1] < stage[0] - 1.0  # (the cut segment at the edge: +2 mm)
    assert arrival[0] == 0 and np.all(np.diff(arrival) > 0)
    # Bands earliest first lie ever farther downstream.
    xs, _ = cell_centres(result)
    bands = result.zones_of("arrival")
    mean_x = [xs[(result.arrival_min > b.lower) & (result.arrival_min <= b.upper)].mean() for b in bands if b.area_km2 > 0]
    assert len(mean_x) >= 2 and np.all(np.diff(mean_x) > 0)


def test_arrival_follows_the_kinematic_celerity(valley: tuple[NDArray[np.float64], Affine]) -> None:
    result = run(valley, 2e7)
    params = result.params
    # The segment from 2.0 to 2.5 km: c = 5/3 · V, V = R^(2/3) · S^(1/2) / n (Manning, wide
    # channel: R = the mean depth of the wet cells).
    seg = (result.path_distance_m >= 2_000.0) & (result.path_distance_m < 2_500.0)
    xs, _ = cell_centres(result)
    wet = (result.depth_m > 0) & (xs >= DAM_X + 2_000.0) & (xs < DAM_X + 2_500.0)
    celerity = 5.0 / 3.0 * float(result.depth_m[wet].mean()) ** (2 / 3) * math.sqrt(BED_SLOPE) / params.manning_n
    d, t = result.path_distance_m[seg], result.path_arrival_min[seg] * 60.0
    assert (d[-1] - d[0]) / (t[-1] - t[0]) == pytest.approx(celerity, rel=0.05)


def test_level_and_dam_height_set_volume_and_head(valley: tuple[NDArray[np.float64], Affine]) -> None:
    elevation, transform = valley
    bed = elevation[ROWS // 2, int(DAM_X // CELL)]
    reservoir = Reservoir(8e6, level_m=float(bed) + 10.0, dam_height_m=20.0)
    with pytest.warns(UserWarning):
        result = dam_break(elevation, transform, (DAM_X, AXIS_Y), reservoir)
    assert 10.0 <= result.head_m <= 11.0  # the toe, within 150 m downstream, is up to 0.75 m lower
    assert result.released_volume_m3 == pytest.approx(8e6 * (result.head_m / 20.0) ** 3)
    assert result.peak_outflow_m3s == pytest.approx(peak_outflow(result.released_volume_m3, result.head_m))
    with pytest.warns(UserWarning):
        assumed = dam_break(elevation, transform, (DAM_X, AXIS_Y), Reservoir(1e7))
    assert assumed.head_m == pytest.approx(0.7 * 1e7**0.2) and any("assumption" in note for note in assumed.notes)


def test_peak_outflow_formulas() -> None:
    assert peak_outflow(1e6, 10.0) == pytest.approx(0.607 * 1e6**0.295 * 10.0**1.24)
    assert peak_outflow(1e6, 10.0, formula="macdonald1984") == pytest.approx(1.154 * 1e7**0.412)
    assert peak_outflow(1e6, 10.0) == pytest.approx(621.1, abs=0.1)  # 1 hm³ behind a 10 m head
    assert peak_outflow(1e7, 10.0) > peak_outflow(1e6, 10.0) and peak_outflow(1e6, 20.0) > peak_outflow(1e6, 10.0)


def test_zones_are_valid_polygons_with_their_cells_area(valley: tuple[NDArray[np.float64], Affine]) -> None:
    result = run(valley, 2e7)
    assert [z.name for z in result.zones_of("depth")] == ["> 3 m", "1.5–3 m", "0.5–1.5 m", "< 0.5 m"]
    assert [z.name for z in result.zones_of("arrival")] == ["≤ 30 min", "30–60 min", "1–2 h", "> 2 h"]
    wet_km2 = float((result.depth_m > 0).sum() * CELL * CELL / 1e6)
    kinds: tuple[Literal["depth", "arrival"], ...] = ("depth", "arrival")
    for kind in kinds:
        zones = result.zones_of(kind)
        assert sum(z.area_km2 for z in zones) == pytest.approx(wet_km2)
        for zone in zones:
            assert zone.polygon.is_valid and zone.polygon.area / 1e6 == pytest.approx(zone.area_km2, abs=1e-9)
        union = shapely.union_all([z.polygon for z in zones])
        assert union.area / 1e6 == pytest.approx(wet_km2)


def test_the_flood_ends_in_a_lake(valley: tuple[NDArray[np.float64], Affine]) -> None:
    elevation, transform = valley
    water = np.zeros(elevation.shape, dtype=bool)
    water[:, 300:] = True  # a lake 9 km downstream of the west edge
    result = dam_break(elevation, transform, (DAM_X, AXIS_Y), Reservoir(2e8, dam_height_m=15.0), water=water)
    assert not (result.depth_m[water] > 0).any()
    assert np.asarray(result.path.coords)[:, 0].max() < 300 * CELL
    assert any("open water" in note for note in result.notes)


def test_a_coarse_first_pass_narrows_a_large_window(valley: tuple[NDArray[np.float64], Affine], monkeypatch: pytest.MonkeyPatch) -> None:
    elevation, transform = valley
    direct = dam_break(elevation, transform, (DAM_X, AXIS_Y), Reservoir(2e7, dam_height_m=15.0), params=DamBreakParams(reach_km=8.0))
    monkeypatch.setattr(dam_break_module, "DIRECT_CELLS", 20_000)
    elevation, transform = v_valley(rows=400)  # the same valley, wider: 400 × 500 cells
    narrowed = dam_break(elevation, transform, (DAM_X, 400 * CELL / 2), Reservoir(2e7, dam_height_m=15.0), params=DamBreakParams(reach_km=8.0))
    assert any("coarser" in note for note in narrowed.notes)
    assert narrowed.depth_m.size < elevation.size
    assert narrowed.flooded_volume_m3 == pytest.approx(direct.flooded_volume_m3, rel=1e-6)
    assert np.allclose(narrowed.path_stage_m, direct.path_stage_m)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: {**a, "reservoir": Reservoir(None)}, "has no capacity"),
        (lambda a: {**a, "reservoir": Reservoir(float("nan"))}, "has no capacity"),
        (lambda a: {**a, "reservoir": Reservoir(0.0, name="尼山水库")}, "'尼山水库' has no capacity"),
        (lambda a: {**a, "reservoir": Reservoir(-5.0)}, "has no capacity"),
        (lambda a: {**a, "dam_xy": (-5_000.0, AXIS_Y)}, "the DEM misses the reservoir"),
        (lambda a: {**a, "elevation": np.full((ROWS, COLS), np.nan)}, "no data"),
        (lambda a: {**a, "elevation": np.full((ROWS, COLS), -9999.0), "nodata": -9999.0}, "no data"),
        (lambda a: {**a, "transform": Affine(1 / 3600, 0, 116.9, 0, -1 / 3600, 35.5), "dam_xy": (116.95, 35.48)}, "in degrees"),
        (lambda a: {**a, "transform": Affine(30.0, 1.0, 0, 0, -30.0, 4800.0)}, "rotated"),
        (lambda a: {**a, "reservoir": Reservoir(1e6, level_m=10.0)}, "not above the streambed"),
        (lambda a: {**a, "reservoir": Reservoir(1e6, dam_height_m=-3.0)}, "dam_height_m must be > 0"),
    ],
)
def test_bad_input_says_what_to_do(valley: tuple[NDArray[np.float64], Affine], change: Callable[[dict[str, object]], dict[str, object]], match: str) -> None:
    elevation, transform = valley
    arguments = change({"elevation": elevation, "transform": transform, "dam_xy": (DAM_X, AXIS_Y), "reservoir": Reservoir(1e6)})
    with pytest.raises(ScenarioInputError, match=match):
        dam_break(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [("reach_km", 0.0), ("manning_n", -0.1), ("depth_breaks_m", (1.5, 0.5)), ("peak_formula", "costa")])
def test_bad_parameters_raise(field: str, value: object) -> None:
    with pytest.raises(ScenarioInputError, match=field):
        DamBreakParams(**{field: value})  # type: ignore[arg-type]


# --- cross-checks of the flow routing --------------------------------------------------------


def iterative_fill(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Planchon & Darboux (2002) without the ε: start at +inf inside, lower every cell to
    max(its height, its lowest neighbour) until nothing changes. Slow and obviously right."""
    valid = np.isfinite(z)
    rows, cols = z.shape
    holes = np.pad(~valid, 1, constant_values=True)
    edge = np.zeros_like(valid)
    for dr, dc in OFFSETS:
        edge |= holes[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols]
    edge &= valid
    water = np.where(valid & ~edge, np.inf, z)
    while True:
        padded = np.pad(np.where(valid, water, np.inf), 1, constant_values=np.inf)
        lowest = np.min([padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols] for dr, dc in OFFSETS], axis=0)
        new = np.where(valid & ~edge, np.maximum(z, np.minimum(water, lowest)), water)
        if np.array_equal(new[valid], water[valid]):
            return new
        water = new


@pytest.mark.parametrize("seed", range(40))
def test_fill_matches_an_iterative_fill(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(3, 30, 2)
    z = rng.integers(0, 6, (rows, cols)).astype(float) if seed % 2 else rng.normal(size=(rows, cols))  # plateaus / noise
    if seed % 3 == 0:
        z[rng.random(z.shape) < 0.1] = np.nan  # holes: outlets
    ok = np.isfinite(z)
    assert np.array_equal(fill_depressions(z)[ok], iterative_fill(z)[ok])
    flow = flow_grid(z, dx=CELL, dy=CELL)
    end = follow(flow.receiver)
    assert np.all(flow.outlet.ravel()[end] | ~ok.ravel()[end])  # every drop leaves the grid
    receiver_height = flow.filled.ravel()[flow.receiver]
    assert np.all(receiver_height[ok.ravel()] <= flow.filled.ravel()[ok.ravel()])  # never uphill


def brute_force_path(z: NDArray[np.float64], start: tuple[int, int]) -> list[int]:
    """Walk cell by cell to the steepest lower neighbour (drop / distance), first in OFFSETS on
    ties, until there is none or the edge is reached."""
    rows, cols = z.shape
    r, c = start
    cells = [r * cols + c]
    while 0 < r < rows - 1 and 0 < c < cols - 1:
        best, step = 0.0, None
        for dr, dc in OFFSETS:
            slope = (z[r, c] - z[r + dr, c + dc]) / math.hypot(dr * CELL, dc * CELL)
            if slope > best:
                best, step = slope, (dr, dc)
        if step is None:
            break
        r, c = r + step[0], c + step[1]
        cells.append(r * cols + c)
    return cells


@pytest.mark.parametrize("seed", range(10))
def test_path_matches_a_brute_force_walk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = 60, 80
    gy, gx = np.mgrid[0:rows, 0:cols] * CELL
    waves = sum(rng.uniform(0.5, 2.0) * np.sin(gx / rng.uniform(60, 300) + rng.uniform(0, 6)) * np.cos(gy / rng.uniform(60, 300)) for _ in range(4))
    z = 100.0 + rng.uniform(0.02, 0.05) * gx - rng.uniform(-0.02, 0.02) * gy + waves  # some pits, mostly draining west
    start = (int(rng.integers(5, rows - 5)), int(rng.integers(40, cols - 5)))
    flow = flow_grid(z, dx=CELL, dy=CELL)
    path, _ = trace(flow, start[0] * cols + start[1], max_length_m=1e9)
    expected = brute_force_path(flow.filled, start)  # the same walk on the filled DEM …
    if np.array_equal(flow.filled, z):
        assert path.tolist() == expected
    else:  # … until the first flat: there the walk has no lower neighbour, the path goes on
        assert path.tolist()[: len(expected)] == expected
        assert flow.outlet.ravel()[path[-1]]


def test_path_leaves_a_closed_basin_over_its_lowest_rim() -> None:
    # A bowl (50-55 m) inside a 60 m rim on a 100 m plateau; a channel cuts the rim in the east
    # at 58 m and falls to the edge.
    gy, gx = np.mgrid[0:41, 0:41]
    r = np.hypot(gy - 20, gx - 20)
    z = np.full((41, 41), 100.0)
    z[r <= 10] = 60.0
    z[r <= 8] = 50.0 + 5.0 * r[r <= 8] / 8
    z[20, 29:] = 58.0 - 0.1 * np.arange(12)
    flow = flow_grid(z, dx=CELL, dy=CELL)
    assert flow.filled[20, 20] == 58.0 and flow.filled[r <= 8].min() == 58.0  # filled to the notch
    path, _ = trace(flow, 20 * 41 + 20, max_length_m=1e9)
    assert 20 * 41 + 29 in path.tolist() and path[-1] == 20 * 41 + 40
