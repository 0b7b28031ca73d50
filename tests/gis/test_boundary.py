"""Boundary geometry: repair keeps the polygonal part and says what was wrong; buffers are metric."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from shapely.ops import nearest_points

from gis.boundary import (
    area_km2,
    buffer_lonlat,
    centroid_distance_km,
    close_slivers,
    geodesic_area_km2,
    polygonal_part,
    repair_polygonal,
)
from gis.crs import to_metric

GEOD = Geod(ellps="WGS84")
# A 0.1° square near Chengdu, one edge with a small self-crossing loop (as DataV rings have).
SQUARE = [(104.0, 30.6), (104.1, 30.6), (104.1, 30.7), (104.0, 30.7)]
LOOPED = shapely.Polygon([(104.0, 30.6), (104.1, 30.6), (104.1, 30.65), (104.101, 30.651), (104.101, 30.65), (104.1, 30.651), (104.1, 30.7), (104.0, 30.7)])


def test_a_valid_polygon_is_kept_as_it_is() -> None:
    repair = repair_polygonal(shapely.Polygon(SQUARE))
    assert not repair.repaired and repair.problem is None and repair.area_change_km2 == 0
    assert repair.geometry is not None and repair.geometry.equals(shapely.MultiPolygon([shapely.Polygon(SQUARE)]))


def test_a_self_intersection_is_repaired_and_reported() -> None:
    assert not LOOPED.is_valid
    repair = repair_polygonal(LOOPED)
    assert repair.repaired and repair.problem is not None and repair.problem.startswith("Self-intersection")
    assert repair.geometry is not None and repair.geometry.is_valid and repair.geometry.geom_type == "MultiPolygon"
    square_km2 = geodesic_area_km2(shapely.Polygon(SQUARE))
    assert geodesic_area_km2(repair.geometry) == pytest.approx(square_km2, rel=1e-3)  # the loop is ~0.01 km²
    assert 0 < repair.area_change_km2 < 0.05


def test_a_bow_tie_keeps_both_lobes() -> None:
    repair = repair_polygonal(shapely.Polygon([(104.0, 30.6), (104.1, 30.7), (104.1, 30.6), (104.0, 30.7)]))
    assert repair.geometry is not None and len(repair.geometry.geoms) == 2


def test_polygonal_part_drops_points_and_lines() -> None:
    mixed = shapely.GeometryCollection([shapely.Point(104, 30), shapely.LineString([(104, 30), (105, 31)]), shapely.Polygon(SQUARE)])
    part = polygonal_part(mixed)
    assert part is not None and part.geom_type == "MultiPolygon" and len(part.geoms) == 1
    assert polygonal_part(shapely.LineString([(104, 30), (105, 31)])) is None
    assert polygonal_part(shapely.Polygon()) is None and polygonal_part(None) is None
    assert repair_polygonal(shapely.Point(104, 30)).geometry is None


def test_buffer_grows_the_outline_by_the_distance_in_metres() -> None:
    square = shapely.Polygon(SQUARE)
    region = buffer_lonlat(square, 5.0, epsg=4544)
    assert region.geom_type == "MultiPolygon" and region.contains(square)
    # every point of the region's boundary is 5 km (geodesic) from the square
    ring = shapely.get_coordinates(region.boundary)[::25]
    nearest = [nearest_points(square.boundary, shapely.Point(x, y))[0] for x, y in ring]
    distances = [GEOD.inv(p.x, p.y, x, y)[2] for p, (x, y) in zip(nearest, ring, strict=True)]
    assert min(distances) == pytest.approx(5000, rel=2e-3) and max(distances) == pytest.approx(5000, rel=2e-3)
    assert buffer_lonlat(square, 0.0, epsg=4544).area == pytest.approx(square.area, rel=1e-9)
    with pytest.raises(ValueError, match="≥ 0"):
        buffer_lonlat(square, -1, epsg=4544)


def test_areas_in_the_right_zone_agree_with_the_ellipsoid() -> None:
    square = shapely.Polygon(SQUARE)
    assert area_km2(square, epsg=4544) == pytest.approx(geodesic_area_km2(square), rel=1e-3)  # CM 105°E
    assert abs(area_km2(square, epsg=4548) / geodesic_area_km2(square) - 1) > 0.02  # Jining's zone, 13° away
    assert to_metric(square, epsg=4544).bounds[0] > 300_000


def test_centroid_distance_is_geodesic() -> None:
    jining = shapely.Point(116.59, 35.41).buffer(0.1)
    chengdu = shapely.Point(104.07, 30.66).buffer(0.1)
    assert centroid_distance_km(jining, chengdu) == pytest.approx(GEOD.inv(116.59, 35.41, 104.07, 30.66)[2] / 1000, rel=1e-6)


def test_close_slivers_fills_hair_gaps_between_neighbours_but_not_enclaves() -> None:
    left = shapely.Polygon([(104.0, 30.6), (104.05, 30.6), (104.05, 30.65), (104.0499999, 30.66), (104.05, 30.7), (104.0, 30.7)])
    right = shapely.Polygon([(104.05, 30.6), (104.1, 30.6), (104.1, 30.7), (104.05, 30.7)])
    enclave = shapely.Point(104.02, 30.62).buffer(0.005)  # ~0.8 km²
    union = shapely.union_all([left, right]).difference(enclave)
    assert len(union.interiors) == 2  # the hair gap and the enclave
    closed, count = close_slivers(union)
    assert count == 1 and closed is not None and len(closed.geoms[0].interiors) == 1
