"""The routing adapter over a real store: the graph cache, rebuilding when roads change, and a real
OpenStreetMap extract imported and routed."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from layers.errors import InputError
from layers.services.routing import KEEP_GRAPHS, Closures, RoutingService, read_closures
from layers.settings import Settings
from layers.store import open_store
from tests.helpers import run_cli

OSM_EXTRACT = Path(__import__("pyrosm").get_data("test_pbf"))
FINLAND = {"region_bbox": (26.0, 60.0, 28.0, 61.0), "country_bbox": (-180.0, -90.0, 180.0, 90.0), "work_epsg": 32635}


def test_graph_is_cached_on_disk_and_rebuilt_when_roads_change(sample_settings: Settings, tmp_path: Path) -> None:
    sample_settings = sample_settings.model_copy(update={"cache_dir": str(tmp_path / "graphs")})  # its own, not the run's shared one
    with open_store(sample_settings) as store:
        first = RoutingService(store, sample_settings)
        graph = first.graph()
        cached = list(first.cache_dir.glob("roads-*.npz"))
        assert len(cached) == 1
        second = RoutingService(store, sample_settings)
        assert second.graph().edge_count == graph.edge_count  # loaded from the file
        assert first.graph() is graph  # and kept in memory
        first.release_graphs()  # a one-off run (onemap risk) lets it go before its scoring
        assert first.graph() is not graph and first.graph().edge_count == graph.edge_count  # loaded again from the file
        graph = first.graph()
        cached[0].write_bytes(cached[0].read_bytes()[: cached[0].stat().st_size // 2])  # a cache cut short (a disk full, a copy stopped)
        assert RoutingService(store, sample_settings).graph().edge_count == graph.edge_count, "an unreadable cache is built again"
        road = store.read("roads", limit=1)
        store.upsert("roads", road.assign(speed_kmh=5.0))
        rebuilt = first.graph()
        assert rebuilt is not graph
        assert list(first.cache_dir.glob("roads-*.npz")) != cached
        for speed in (7.0, 8.0, 9.0):  # five versions in all, one more than are kept: the oldest goes
            store.upsert("roads", road.assign(speed_kmh=speed))
            first.graph()
        assert len(list(first.cache_dir.glob("roads-drive-*.npz"))) == KEEP_GRAPHS
        edge = int(np.flatnonzero(rebuilt.edge_source_id == road["source_id"].iloc[0])[0])
        assert rebuilt.edge_time_s[edge] == pytest.approx(rebuilt.edge_length_m[edge] / (5.0 / 3.6))


def test_class_speeds_from_settings(sample_settings: Settings) -> None:
    slow = sample_settings.model_copy(update={"road_speeds_kmh": {"村道": 10.0}})
    with open_store(slow) as store:
        graph = RoutingService(store, slow).graph()
        roads = store.read("roads")
    village = roads["road_class"].to_numpy() == "村道"
    positions = {sid: i for i, sid in enumerate(graph.edge_source_id)}
    some = [positions[s] for s in roads.loc[village, "source_id"][:50]]
    np.testing.assert_allclose(graph.edge_time_s[some], graph.edge_length_m[some] / (10.0 / 3.6))


def test_no_roads_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "empty.gpkg"))
    with open_store(settings) as store, pytest.raises(InputError, match="roads layer is empty"):
        RoutingService(store, settings).nearest(116.6, 35.4, ["rescue_stations"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.nearest(116.6, 35.4, ["volcanoes"]), "unknown resource layer"),
        (lambda s: s.nearest(116.6, 35.4, ["shelters"], k=0), "k must be 1-50"),
        (lambda s: s.nearest(116.6, 35.4, ["shelters"], k=51), "k must be 1-50"),
        (lambda s: s.nearest(200.0, 35.4, ["shelters"]), "lon must be"),
        (lambda s: s.nearest(118.9, 36.9, ["shelters"]), "more than 2000 m from any open road"),
        (lambda s: s.nearest(116.6, 35.4, ["shelters"], closures=Closures(edge_ids=("nope",))), "not in the network"),
        (lambda s: s.areas(116.6, 35.4, minutes=[0]), "minutes must be between"),
    ],
)
def test_bad_requests(sample_settings: Settings, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with open_store(sample_settings) as store, pytest.raises(InputError, match=message):
        call(RoutingService(store, sample_settings))


def test_closure_files_must_hold_polygons(tmp_path: Path) -> None:
    lines = tmp_path / "lines.geojson"
    pyogrio.write_dataframe(gpd.GeoDataFrame(geometry=[shapely.LineString([(116, 35), (117, 35)])], crs=4326), lines)
    with pytest.raises(InputError, match="feature 1 is LineString; closures must be polygons"):
        read_closures(lines)
    with pytest.raises(InputError, match="not found"):
        read_closures(tmp_path / "nope.geojson")


def test_service_areas_count_residents_and_resources(sample_settings: Settings) -> None:
    with open_store(sample_settings) as store:
        areas = RoutingService(store, sample_settings).areas(116.59, 35.41, minutes=[5, 15])
        population = store.read("population")
    assert list(areas["minutes"]) == [5.0, 15.0]
    assert areas["residents"].iloc[0] < areas["residents"].iloc[1] <= population["persons"].sum()
    assert (areas["rescue_stations_count"].diff().dropna() >= 0).all()
    assert areas.geometry.iloc[1].contains(areas.geometry.iloc[0].representative_point())


def test_a_large_layer_is_read_within_the_bands_box_with_the_same_counts(sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over WHOLE_LAYER_UP_TO features (a province's population), a service area's residents and
    resources come from a read of the bands' box: the counts of the whole layer kept in memory."""
    from layers.services import routing

    with open_store(sample_settings) as store:
        kept = RoutingService(store, sample_settings).areas(116.59, 35.41, minutes=[5, 15])
        monkeypatch.setattr(routing, "WHOLE_LAYER_UP_TO", 0)
        service = RoutingService(store, sample_settings)
        boxed = service.areas(116.59, 35.41, minutes=[5, 15])
        assert service._points == {}, "nothing read whole, nothing kept"
    columns = ["residents", *(f"{layer}_count" for layer in routing.RESOURCE_LAYERS)]
    assert kept[columns].equals(boxed[columns]) and kept["residents"].iloc[1] > 0, (kept[columns], boxed[columns])


def test_service_areas_around_a_closure_at_the_origin_warn_nothing(sample_settings: Settings) -> None:
    """A closure next to the origin leaves arcs unreached (inf): no RuntimeWarning in the log."""
    import warnings

    with open_store(sample_settings) as store:
        service = RoutingService(store, sample_settings)
        flood = gpd.GeoSeries([shapely.Point(116.59, 35.41)], crs=4326).to_crs(4548).buffer(300).to_crs(4326).iloc[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            areas = service.areas(116.59, 35.41, minutes=[5, 10], closures=service.closures(Closures((flood,))))
    assert (areas["reached_km"] > 0).all()


def test_real_openstreetmap_extract_imports_and_routes(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "osm.gpkg"), **FINLAND)  # type: ignore[arg-type]
    result = run_cli(settings, "import", "roads", str(OSM_EXTRACT))
    assert result.exit_code == 0, result.output
    with open_store(settings) as store:
        roads = store.read("roads")
        assert len(roads) > 500 and roads["source_id"].str.startswith("osm").all()
        assert set(roads["road_class"]) <= {"高速公路", "国道", "省道", "县道", "乡道", "城市道路", "村道"}
        assert roads["speed_kmh"].notna().any() and roads["name"].notna().any()
        graph = RoutingService(store, settings).graph()
    assert graph.edge_count > 0.8 * len(roads)
    again = run_cli(settings, "import", "roads", str(OSM_EXTRACT))
    assert f"0 new, 0 updated, {len(roads)} unchanged" in again.output
