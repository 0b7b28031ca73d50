"""Residents per township × zone, area-weighted: equal to geopandas.overlay's answer on a small
case, on a slice of the sample city and on odd cells; within 1 % of a 20 × 20 sub-sampling of
the cells; each person counted once; the input errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely import affinity

from gis.nearby import residents_within
from gis.scenario import ScenarioInputError
from gis.scenario.impact import INASAFE_FLOOD_DEPTH_RATES, residents_in_zones

pytestmark = pytest.mark.xdist_group("scenario-impact")  # its module fixtures are built once, on one worker (--dist loadgroup)

EPSG = 4548
CENTRE = Transformer.from_crs(4326, EPSG, always_xy=True).transform(116.59, 35.41)


def overlay_residents(zones: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> pd.Series:
    """The reference: zones made disjoint (each minus the more severe), overlaid with the
    townships and then the cells; persons × share of the cell's area, per (zone, adcode)."""
    bands, covered = [], shapely.Polygon()
    for geometry in zones.geometry:
        bands.append(geometry.difference(covered))
        covered = covered.union(geometry)
    disjoint = gpd.GeoDataFrame({"zone": zones["zone"].to_numpy()}, geometry=bands, crs=zones.crs)
    pieces = gpd.overlay(disjoint, townships[["adcode", "name", "geometry"]], how="intersection", keep_geom_type=True)
    weighted = cells[["persons", "geometry"]].copy()
    weighted["cell_area"] = weighted.area
    parts = gpd.overlay(weighted, pieces, how="intersection", keep_geom_type=True)
    parts["residents"] = parts["persons"] * parts.area / parts["cell_area"]
    return parts.groupby(["zone", "adcode"])["residents"].sum()


def assert_matches_overlay(zones: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, townships: gpd.GeoDataFrame) -> pd.DataFrame:
    ours = residents_in_zones(zones, cells, townships).by_township.set_index(["zone", "adcode"])["residents"]
    joined = pd.concat([ours.rename("ours"), overlay_residents(zones, cells, townships).rename("overlay")], axis=1).fillna(0.0)
    assert len(joined) > 0
    np.testing.assert_allclose(joined["ours"], joined["overlay"], rtol=1e-6, atol=1e-9)
    return joined


def grid(cell_m: float, n: int, persons: np.ndarray | None = None, origin: tuple[float, float] = (500_000.0, 3_900_000.0)) -> gpd.GeoDataFrame:
    x0, y0 = (a.ravel() * cell_m for a in np.meshgrid(np.arange(n), np.arange(n)))
    boxes = shapely.box(origin[0] + x0, origin[1] + y0, origin[0] + x0 + cell_m, origin[1] + y0 + cell_m)
    values = np.arange(1.0, n * n + 1) if persons is None else persons
    return gpd.GeoDataFrame({"persons": values}, geometry=boxes, crs=EPSG)


@pytest.fixture
def small_case() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 4 × 4 grid of 100 m cells, two townships split at x = +150 m, two nested squares."""
    cells = grid(100.0, 4)
    x0, y0 = 500_000.0, 3_900_000.0
    townships = gpd.GeoDataFrame(
        {"adcode": ["370811001", "370811002"], "name": ["甲街道", "乙镇"]},
        geometry=[shapely.box(x0, y0, x0 + 150, y0 + 400), shapely.box(x0 + 150, y0, x0 + 400, y0 + 400)],
        crs=EPSG,
    )
    zones = gpd.GeoDataFrame(
        {"zone": ["inner", "outer"]},
        geometry=[shapely.box(x0 + 50, y0 + 50, x0 + 250, y0 + 150), shapely.box(x0, y0, x0 + 300, y0 + 200)],
        crs=EPSG,
    )
    return zones, cells, townships


def test_small_case_by_hand_and_against_overlay(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    impact = residents_in_zones(zones, cells, townships, displacement={"inner": 1.0, "outer": 0.5})
    rows = impact.by_township.set_index(["zone", "adcode"])["residents"]
    # inner = x 50–250, y 50–150: half of cells 1 and 5, cell 2 whole (x 100–200), half of 3 and 7;
    # 甲 takes x < 150: cell 1 half-width half-height (¼ · 1), cell 2's left half, half of cell 5's bottom…
    inner_total = 0.25 * 1 + 0.5 * 2 + 0.25 * 3 + 0.25 * 5 + 0.5 * 6 + 0.25 * 7
    assert float(rows[("inner", "370811001")]) + float(rows[("inner", "370811002")]) == pytest.approx(inner_total)
    assert float(rows[("inner", "370811001")]) == pytest.approx(0.25 * 1 + 0.25 * 2 + 0.25 * 5 + 0.25 * 6)
    outer_all = 1 + 2 + 3 + 5 + 6 + 7  # x 0–300, y 0–200: cells 1–3 and 5–7 whole
    assert impact.by_zone.set_index("zone").loc["outer", "residents"] == pytest.approx(outer_all - inner_total)
    assert impact.total_residents == pytest.approx(outer_all)
    assert impact.total_displaced == pytest.approx(inner_total + 0.5 * (outer_all - inner_total))
    assert list(impact.by_township.columns) == ["adcode", "name", "zone", "residents", "displaced"]
    assert list(impact.by_township["zone"]) == ["inner", "inner", "outer", "outer"]
    totals = impact.township_totals().set_index("adcode")
    assert totals["residents"].sum() == pytest.approx(outer_all)
    assert_matches_overlay(zones, cells, townships)


def test_nested_zones_count_each_person_once(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    union = gpd.GeoDataFrame({"zone": ["all"]}, geometry=[zones.union_all()], crs=EPSG)
    assert residents_in_zones(zones, cells, townships).total_residents == pytest.approx(residents_in_zones(union, cells, townships).total_residents)
    # Given the other way round, the big zone takes everyone and the small one nobody.
    reversed_zones = zones.iloc[::-1]
    by_zone = residents_in_zones(reversed_zones, cells, townships).by_zone.set_index("zone")["residents"]
    assert by_zone["inner"] == 0.0


def test_residents_outside_every_township_are_counted_per_zone(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    only_first = townships.iloc[:1]
    impact = residents_in_zones(zones, cells, only_first)
    full = residents_in_zones(zones, cells, townships)
    assert impact.total_residents == pytest.approx(full.total_residents)
    outside = impact.by_zone.set_index("zone")["outside_townships"]
    expected = full.by_township.loc[full.by_township["adcode"] == "370811002"].set_index("zone")["residents"]
    np.testing.assert_allclose(outside[expected.index], expected)
    assert set(impact.by_township["adcode"]) == {"370811001"}


def test_depth_classes_take_their_own_rates(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    zones = zones.assign(zone=["high", "low"])
    by_zone = residents_in_zones(zones, cells, townships, displacement=INASAFE_FLOOD_DEPTH_RATES).by_zone.set_index("zone")
    np.testing.assert_allclose(by_zone["displaced"], by_zone["residents"] * [0.05, 0.01])


def test_per_cell_figures_add_up_to_the_zones_and_match_an_overlay_cell_by_cell(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    zones = zones.assign(zone=["high", "low"])
    impact = residents_in_zones(zones, cells, townships, displacement=INASAFE_FLOOD_DEPTH_RATES)
    assert impact.by_cell["residents"].sum() == pytest.approx(impact.total_residents)
    assert impact.by_cell["displaced"].sum() == pytest.approx(impact.total_displaced)
    footprint = shapely.union_all(zones.geometry.to_numpy())
    overlay = cells.geometry.intersection(footprint).area / cells.geometry.area * cells["persons"]
    expected = overlay[overlay > 0]
    got = impact.by_cell.set_index("cell")["residents"]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert list(got.index) == [cells.index.get_loc(i) for i in expected.index]


@pytest.fixture(scope="module")
def metric_city(sample_city: dict[str, gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The sample city's 500 m population cells and its townships (level 乡镇街道), EPSG:4548."""
    admin = sample_city["admin_areas"]
    return sample_city["population"].to_crs(EPSG), admin.loc[admin["level"] == "乡镇街道"].to_crs(EPSG)


@pytest.fixture(scope="module")
def city_slice(metric_city: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The cells and townships within 12 km of the centre."""
    cells, townships = metric_city
    area = shapely.Point(CENTRE).buffer(12_000)
    return cells.loc[cells.intersects(area)].copy(), townships.loc[townships.intersects(area)].copy()


def ellipse_zones(scale: float = 1.0) -> gpd.GeoDataFrame:
    zones = []
    for share in (0.16, 0.44, 1.0):
        b = np.sqrt(50e6 * share / (np.pi * 2.5)) * scale
        ellipse = affinity.scale(shapely.Point(0, 0).buffer(1.0, quad_segs=32), 2.5 * b, b)
        zones.append(affinity.translate(affinity.rotate(ellipse, 30, origin=(0, 0)), *CENTRE))
    return gpd.GeoDataFrame({"zone": ["inner", "middle", "outer"]}, geometry=zones, crs=EPSG)


def test_sample_city_slice_equals_overlay(city_slice: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    cells, townships = city_slice
    joined = assert_matches_overlay(ellipse_zones(), cells, townships)
    assert joined["ours"].sum() > 100_000  # the footprint holds the city centre
    assert joined.index.get_level_values("adcode").nunique() >= 4


def test_odd_and_turned_cells_equal_overlay(city_slice: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    """Cells turned 37° (any orientation), clockwise rings, extra vertices and non-convex cells:
    the array path and the GEOS fallback both agree with overlay."""
    _, townships = city_slice
    cells = grid(400.0, 40, np.random.default_rng(3).gamma(2.0, 500.0, 1600), origin=(CENTRE[0] - 8000, CENTRE[1] - 8000))
    turned = cells.set_geometry(cells.geometry.rotate(37, origin=CENTRE))
    geoms = np.asarray(turned.geometry.array, dtype=object)
    geoms[::3] = shapely.reverse(geoms[::3])  # clockwise
    geoms[1::5] = shapely.segmentize(geoms[1::5], 300.0)  # 9 coordinates: not a 4-corner cell
    notch = shapely.box(0, 0, 150, 150)
    geoms[2::7] = [g.difference(affinity.translate(notch, *g.exterior.coords[0][:2])) for g in geoms[2::7]]
    odd = turned.set_geometry(geoms)
    assert_matches_overlay(ellipse_zones(), odd, townships)


def test_area_weighting_matches_fine_subsampling_and_the_centre_method_does_not(metric_city: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    """Within 1 km of 116.59 °E 35.41 °N: area-weighted residents within 1 % of spreading each
    500 m cell's persons over 20 × 20 sub-points; the cell-centre count (gis.nearby) is ≈ 12 %
    low there (its sign and size depend on where the circle falls on the grid)."""
    cells, townships = metric_city
    circle = shapely.Point(CENTRE).buffer(1000.0, quad_segs=256)
    zones = gpd.GeoDataFrame({"zone": ["1 km"]}, geometry=[circle], crs=EPSG)
    area_weighted = residents_in_zones(zones, cells, townships).total_residents

    near = cells.loc[cells.intersects(circle)]
    corners = shapely.get_coordinates(near.geometry.array).reshape(-1, 5, 2)
    u, v = (a.ravel() for a in np.meshgrid((np.arange(20) + 0.5) / 20, (np.arange(20) + 0.5) / 20))
    p0, p1, p3 = corners[:, 0, None, :], corners[:, 1, None, :], corners[:, 3, None, :]
    points = p0 + u[None, :, None] * (p1 - p0) + v[None, :, None] * (p3 - p0)  # cells are parallelograms
    inside = shapely.contains_xy(circle, points[..., 0], points[..., 1])
    subsampled = float((near["persons"].to_numpy()[:, None] * inside / 400.0).sum())
    assert area_weighted == pytest.approx(subsampled, rel=0.01)

    by_centre = residents_within(cells, CENTRE, [1.0], epsg=EPSG)["1"]
    assert by_centre / area_weighted - 1 == pytest.approx(-0.12, abs=0.02)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda z, c, t: (z.to_crs(4326), c, t), "zones: CRS EPSG:4326 is geographic"),
        (lambda z, c, t: (z, c.set_crs(4549, allow_override=True), t), "CRS differ"),
        (lambda z, c, t: (z, c.set_crs(None, allow_override=True), t), "cells: no CRS"),
        (lambda z, c, t: (z.rename(columns={"zone": "name"}), c, t), "zones: missing column"),
        (lambda z, c, t: (z, c, t.drop(columns="adcode")), "townships: missing column"),
        (lambda z, c, t: (z, c.assign(persons=-1.0), t), "persons must be a number ≥ 0"),
        (lambda z, c, t: (z, c.assign(persons=np.nan), t), "persons must be a number ≥ 0"),
        (lambda z, c, t: (z, c.set_geometry(c.centroid), t), "cells: row 0 is a Point, not a polygon"),
        (lambda z, c, t: (z.set_geometry(z.boundary), c, t), "zones: row 0 is a LineString"),
        (lambda z, c, t: (z, pd.DataFrame(c), t), "cells: expected a GeoDataFrame"),
    ],
)
def test_wrong_inputs_say_what_is_wrong(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame], change: object, message: str) -> None:
    zones, cells, townships = change(*small_case)  # type: ignore[operator]
    with pytest.raises(ScenarioInputError, match=message):
        residents_in_zones(zones, cells, townships)


@pytest.mark.parametrize(
    ("displacement", "message"),
    [({"inner": 1.0}, "no rate for zone\\(s\\) outer"), (1.5, "between 0 and 1"), ({"inner": 1.0, "outer": -0.1}, "zone 'outer'")],
)
def test_wrong_displacement_rates(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame], displacement: object, message: str) -> None:
    with pytest.raises(ScenarioInputError, match=message):
        residents_in_zones(*small_case, displacement=displacement)  # type: ignore[arg-type]


def test_a_footprint_away_from_everyone_is_empty(small_case: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    zones, cells, townships = small_case
    far = zones.set_geometry(zones.geometry.translate(50_000, 0))
    impact = residents_in_zones(far, cells, townships)
    assert impact.by_township.empty
    assert list(impact.by_zone["residents"]) == [0.0, 0.0]
