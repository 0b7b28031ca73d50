"""One contract, two stores: every test here runs against GeoPackage and the real PostGIS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.catalogue import CATALOGUE
from layers.errors import InputError, NotFoundError, UnknownLayerError
from layers.store import Store
from layers.store import base as store_base


def _reservoirs(n: int = 20, *, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "source_id": [f"R{i:03d}" for i in range(n)],
            "name": [f"水库{i}" for i in range(n)],
            "capacity_m3": rng.uniform(1e5, 1e8, n).round(0),
            "reservoir_class": ["小(1)型"] * n,
            "flood_limit_level_m": rng.uniform(50, 200, n).round(2),
            "current_level_m": [None if i % 5 == 0 else 60.0 + i for i in range(n)],
            "above_flood_limit": [None if i % 5 == 0 else bool(i % 2) for i in range(n)],
            "dam_type": ["土坝"] * n,
        },
        geometry=shapely.points(rng.uniform(116.0, 117.4, n), rng.uniform(34.6, 35.8, n)),
        crs=4326,
    )


def _frames_equal(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame) -> None:
    left = left.sort_values("source_id").reset_index(drop=True)
    right = right.sort_values("source_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.DataFrame(left.drop(columns="geometry")), pd.DataFrame(right.drop(columns="geometry")))
    assert left.geometry.geom_equals_exact(right.geometry, tolerance=0).all()


def test_every_catalogue_layer_exists_empty(store: Store) -> None:
    infos = store.list_layers()
    assert [i.name for i in infos] == list(CATALOGUE)
    assert all(i.count == 0 and i.bbox is None for i in infos)


def test_upsert_reads_back_exactly_and_is_idempotent(store: Store) -> None:
    frame = _reservoirs()
    assert store.upsert("reservoirs", frame).inserted == 20
    read = store.read("reservoirs")
    expected = frame.reindex(columns=[*CATALOGUE["reservoirs"].columns, "geometry"])
    expected["county_adcode"] = None  # the one field the batch left out is read back as NULL
    _frames_equal(read, gpd.GeoDataFrame(expected, geometry="geometry", crs=4326).astype(read.dtypes.to_dict()))
    again = store.upsert("reservoirs", frame)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 20)


def test_upsert_updates_changed_rows_only(store: Store) -> None:
    frame = _reservoirs()
    store.upsert("reservoirs", frame)
    changed = frame.copy()
    changed.loc[3, "capacity_m3"] = 123.0
    changed.loc[4, "geometry"] = shapely.Point(116.5, 35.0)
    counts = store.upsert("reservoirs", changed)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 2, 18)
    assert store.get("reservoirs", "R003")["capacity_m3"].iloc[0] == 123.0
    assert store.get("reservoirs", "R004").geometry.iloc[0].equals(shapely.Point(116.5, 35.0))
    assert store.count("reservoirs") == 20


def test_bbox_selects_exactly_what_intersects(store: Store, sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    parks = sample_city["flood_prone_areas"]
    store.upsert("flood_prone_areas", parks)
    box = (117.0, 35.3, 117.2, 35.5)
    expected = set(parks.loc[parks.intersects(shapely.box(*box)), "source_id"])
    assert expected, "the test window must hit something"
    got = store.read("flood_prone_areas", bbox=box)
    assert set(got["source_id"]) == expected
    assert store.count("flood_prone_areas", bbox=box) == len(expected)


def test_paging_walks_the_whole_layer_in_order(store: Store) -> None:
    store.upsert("reservoirs", _reservoirs(23))
    pages = [store.read("reservoirs", limit=5, offset=o)["source_id"].tolist() for o in range(0, 25, 5)]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert sum(pages, []) == [f"R{i:03d}" for i in range(23)]
    assert store.read("reservoirs", limit=0).empty


def test_a_layer_read_in_chunks_is_the_layer_in_order(store: Store) -> None:
    assert list(store.read_in_chunks("reservoirs", rows=7)) == [], "an empty layer gives no chunk"
    store.upsert("reservoirs", _reservoirs(40))
    store.delete("reservoirs", [f"R{i:03d}" for i in range(10, 25)])  # a run of row ids with no row
    whole = store.read("reservoirs")
    chunks = list(store.read_in_chunks("reservoirs", rows=7))
    assert all(0 < len(chunk) <= 7 for chunk in chunks)
    together = pd.concat(chunks, ignore_index=True)
    assert together["source_id"].tolist() == whole["source_id"].tolist(), "every row once, in the order read pages them"
    _frames_equal(gpd.GeoDataFrame(together, geometry="geometry", crs=4326), whole)


def test_attribute_filters(store: Store) -> None:
    frame = _reservoirs()
    store.upsert("reservoirs", frame)
    assert store.read("reservoirs", filters={"name": "水库7"})["source_id"].tolist() == ["R007"]
    assert store.count("reservoirs", filters={"above_flood_limit": "true"}) == int((frame["above_flood_limit"] == True).sum())  # noqa: E712
    assert store.count("reservoirs", filters={"dam_type": "土坝", "name": "水库1"}) == 1
    with pytest.raises(InputError, match="no field 'nope'"):
        store.read("reservoirs", filters={"nope": 1})
    with pytest.raises(InputError, match="not a valid float"):
        store.read("reservoirs", filters={"capacity_m3": "much"})


def test_get_and_delete(store: Store) -> None:
    store.upsert("reservoirs", _reservoirs())
    assert store.get("reservoirs", "R001")["name"].iloc[0] == "水库1"
    with pytest.raises(NotFoundError, match="R999"):
        store.get("reservoirs", "R999")
    assert store.delete("reservoirs", ["R001", "R002", "R999"]) == 2
    assert store.count("reservoirs") == 18


def test_list_layers_counts_and_extent(store: Store) -> None:
    frame = _reservoirs()
    store.upsert("reservoirs", frame)
    info = next(i for i in store.list_layers() if i.name == "reservoirs")
    assert info.count == 20
    assert info.bbox is not None
    np.testing.assert_allclose(info.bbox, frame.total_bounds, atol=1e-4)  # GeoPackage's R-tree holds float32


def test_datetimes_round_trip_in_utc(store: Store) -> None:
    incidents = gpd.GeoDataFrame(
        {"source_id": ["I1"], "name": ["<script>alert(1)</script>'; DROP TABLE x;--"], "kind": ["火灾"], "status": ["处置中"],
         "occurred_at": [pd.Timestamp("2026-07-01 16:30:00.123", tz="Asia/Shanghai")]},
        geometry=[shapely.Point(116.6, 35.4)], crs=4326,
    )
    store.upsert("incidents", incidents)
    read = store.get("incidents", "I1")
    assert read["occurred_at"].iloc[0] == pd.Timestamp("2026-07-01 08:30:00.123", tz="UTC")
    assert read["name"].iloc[0] == incidents["name"].iloc[0]  # stored verbatim
    assert store.upsert("incidents", incidents).unchanged == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(source_id=["R000"] * len(f)), "duplicated source_id"),
        (lambda f: f.assign(extra=1), "unknown columns"),
        (lambda f: f.set_geometry([shapely.LineString([(116, 35), (117, 35)])] * len(f)), "LineString"),
        (lambda f: f.set_crs(None, allow_override=True), "no CRS"),
    ],
)
def test_bad_batches_are_refused_and_nothing_written(store: Store, change: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        store.upsert("reservoirs", change(_reservoirs()))  # type: ignore[operator]
    assert store.count("reservoirs") == 0


def test_unknown_layer(store: Store) -> None:
    with pytest.raises(UnknownLayerError, match="known layers"):
        store.read("nope")


def test_bad_bbox(store: Store) -> None:
    with pytest.raises(InputError, match="bbox"):
        store.read("reservoirs", bbox=(117.0, 35.0, 116.0, 36.0))


def test_a_failure_mid_transaction_writes_nothing_in_any_layer(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several layers in one transaction: when the second fails, the first is rolled back too."""
    store.upsert("reservoirs", _reservoirs(3))
    calls = {"n": 0}
    real_plan = store_base.plan_upsert

    def failing_plan(rows, stored):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_plan(rows, stored)

    module = __import__(type(store).__module__, fromlist=["plan_upsert"])
    monkeypatch.setattr(module, "plan_upsert", failing_plan)
    with pytest.raises(RuntimeError, match="disk full"):
        store.upsert_many({"reservoirs": _reservoirs(10, seed=2), "shelters": gpd.GeoDataFrame(
            {"source_id": ["S1"], "name": ["x"], "shelter_type": ["紧急"]}, geometry=[shapely.Point(116.5, 35.5)], crs=4326)},
            deletes={"reservoirs": ["R000", "R001"]})
    monkeypatch.undo()
    assert store.count("reservoirs") == 3  # the deletes were rolled back with the rest
    assert store.count("shelters") == 0
    _frames_equal(store.read("reservoirs"), store.read("reservoirs"))
    assert store.read("reservoirs")["capacity_m3"].tolist() == pytest.approx(_reservoirs(3)["capacity_m3"].tolist())


def test_upsert_stream_commits_all_chunks_or_none(store: Store) -> None:
    frame = _reservoirs(5000, seed=7)  # big enough for the GeoPackage's bulk R-tree path
    chunks = [frame.iloc[:2500], frame.iloc[2500:]]
    with pytest.raises(RuntimeError), store.upsert_stream("reservoirs") as write:
        write(chunks[0])
        raise RuntimeError("the file turned out bad half-way")
    assert store.count("reservoirs") == 0
    with store.upsert_stream("reservoirs") as write:
        counts = [write(chunk) for chunk in chunks]
    assert [c.inserted for c in counts] == [2500, 2500]
    read = store.read("reservoirs").drop(columns="county_adcode")
    _frames_equal(read, frame.astype(read.dtypes.to_dict()))
    box = (116.3, 34.9, 116.6, 35.2)
    inside = frame[frame.geometry.intersects(shapely.box(*box))]
    assert sorted(store.read("reservoirs", bbox=box)["source_id"]) == sorted(inside["source_id"])
    assert store.count("reservoirs", bbox=box) == len(inside) > 100
    info = next(i for i in store.list_layers() if i.name == "reservoirs")
    assert info.count == 5000 and info.bbox is not None
    np.testing.assert_allclose(info.bbox, frame.total_bounds, atol=1e-5)
    with store.upsert_stream("reservoirs") as write:
        assert write(frame).unchanged == 5000


def test_deletes_and_upserts_in_one_transaction(store: Store) -> None:
    store.upsert("reservoirs", _reservoirs(5))
    counts = store.upsert_many({"reservoirs": _reservoirs(5).iloc[2:]}, deletes={"reservoirs": ["R000", "R001"]})
    assert counts["reservoirs"].unchanged == 3
    assert sorted(store.read("reservoirs")["source_id"]) == ["R002", "R003", "R004"]
