"""Depot stocks and scenarios, the two plain tables: one contract on both stores (the ``store``
fixture runs each test against a GeoPackage and the real PostGIS)."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta, timezone

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.accounts.store import AccountStore
from layers.accounts.tables import AuditLine
from layers.errors import InputError, NotFoundError
from layers.settings import Settings
from layers.store import Store, open_store
from layers.store.scenario_rows import ScenarioRecord

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 7, 1, 8, 30, 15, 123456, tzinfo=UTC)
STOCK_COLUMNS = ["depot_id", "item", "quantity", "unit", "updated_at", "updated_by"]


def _stocks(*rows: tuple[str, str, float, str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["depot_id", "item", "quantity", "unit"])


def _audit(settings: Settings, store: Store) -> list[dict[str, object]]:
    accounts = AccountStore.for_settings(settings, store=store)
    try:
        return accounts.audit()
    finally:
        accounts.close()


# --- depot stocks ------------------------------------------------------------------------------

def test_depot_stocks_read_back_sorted_with_who_and_when(store: Store) -> None:
    before = pd.Timestamp.now(tz="UTC").floor("ms")
    counts = store.write_depot_stocks(_stocks(("D2", "rice", 500, "kg"), ("D1", "tent", 20, "piece"), ("D1", "drinking_water", 1200.5, "l")), actor="zhang")
    after = pd.Timestamp.now(tz="UTC")
    assert (counts.inserted, counts.updated, counts.unchanged, counts.deleted) == (3, 0, 0, 0)
    read = store.read_depot_stocks()
    assert list(read.columns) == STOCK_COLUMNS
    assert str(read["updated_at"].dtype) == "datetime64[ms, UTC]" and str(read["quantity"].dtype) == "float64"
    assert list(zip(read["depot_id"], read["item"], read["quantity"], read["unit"], strict=True)) == [
        ("D1", "drinking_water", 1200.5, "l"), ("D1", "tent", 20.0, "piece"), ("D2", "rice", 500.0, "kg")]
    assert set(read["updated_by"]) == {"zhang"}
    assert read["updated_at"].between(before - pd.Timedelta(seconds=1), after + pd.Timedelta(seconds=1)).all()
    assert list(store.read_depot_stocks(["D2", "nowhere"])["item"]) == ["rice"]
    for empty in (store.read_depot_stocks([]), store.read_depot_stocks(["nowhere"])):
        assert empty.empty and list(empty.columns) == STOCK_COLUMNS
        assert str(empty["updated_at"].dtype) == "datetime64[ms, UTC]" and str(empty["quantity"].dtype) == "float64"


def test_an_upsert_counts_like_layers_and_keeps_the_time_of_unchanged_rows(store: Store) -> None:
    store.write_depot_stocks(_stocks(("D1", "rice", 500, "kg"), ("D1", "tent", 20, "piece"), ("D1", "quilt", 40, "piece")), actor="zhang")
    first = store.read_depot_stocks().set_index("item")
    again = _stocks(("D1", "rice", 500.0, "kg"), ("D1", "tent", 25, "piece"), ("D1", "quilt", 40, "set"), ("D1", "stove", 3, "piece"))
    counts = store.write_depot_stocks(again, actor="li")
    assert (counts.inserted, counts.updated, counts.unchanged, counts.deleted) == (1, 2, 1, 0)
    second = store.read_depot_stocks().set_index("item")
    assert second.loc["rice", "updated_by"] == "zhang" and second.loc["rice", "updated_at"] == first.loc["rice", "updated_at"]
    assert second.loc["tent", "quantity"] == 25 and second.loc["tent", "updated_by"] == "li"
    assert second.loc["quilt", "unit"] == "set" and second.loc["stove", "updated_by"] == "li"
    assert second.loc["tent", "updated_at"] >= first.loc["tent", "updated_at"]
    counts = store.write_depot_stocks(again, actor="li")
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 4)


def test_replace_depots_makes_the_ledger_the_whole_stock_of_its_depots_only(store: Store) -> None:
    store.write_depot_stocks(_stocks(("D1", "rice", 1, "kg"), ("D1", "tent", 2, "piece"), ("D1", "quilt", 3, "piece"), ("D2", "rice", 4, "kg")), actor="zhang")
    counts = store.write_depot_stocks(_stocks(("D1", "rice", 5, "kg"), ("D3", "tent", 6, "piece")), replace_depots=True, actor="zhang")
    assert (counts.inserted, counts.updated, counts.unchanged, counts.deleted) == (1, 1, 0, 2)
    read = store.read_depot_stocks()
    assert list(zip(read["depot_id"], read["item"], read["quantity"], strict=True)) == [("D1", "rice", 5.0), ("D2", "rice", 4.0), ("D3", "tent", 6.0)]
    assert store.write_depot_stocks(_stocks(), replace_depots=True, actor="zhang").deleted == 0, "no depot given, none emptied"
    assert len(store.read_depot_stocks()) == 3


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("D1", "tent", math.nan, "piece"), r"row 2 \(D1, tent\) quantity: nan is not a finite number ≥ 0"),
        (("D1", "tent", math.inf, "piece"), r"row 2 \(D1, tent\) quantity: inf"),
        (("D1", "tent", -1, "piece"), r"row 2 \(D1, tent\) quantity: -1 is not a finite number ≥ 0"),
        (("D1", "tent", "12", "piece"), r"row 2 \(D1, tent\) quantity: '12'"),
        (("D1", "tent", None, "piece"), r"row 2 \(D1, tent\) quantity"),
        (("", "tent", 1, "piece"), r"row 2 depot_id: '' is not a non-empty text"),
        (("D1", "  ", 1, "piece"), r"row 2 item"),
        (("D1", None, 1, "piece"), r"row 2 item: missing"),
        (("D1", "tent", 1, ""), r"row 2 \(D1, tent\) unit"),
        (("D1", "te\x00nt", 1, "piece"), r"row 2 item: text must not contain NUL"),
        (("D\x001", "tent", 1, "piece"), r"row 2 depot_id: text must not contain NUL"),
        (("D1", "tent", 1, "pie\x00ce"), r"row 2 \(D1, tent\) unit: text must not contain NUL"),
        (("D1", "rice", 1, "kg"), r"row 2 \(D1, rice\) depot_id, item: repeats row 1"),
    ],
)
def test_a_bad_row_is_refused_by_its_position_and_field_and_nothing_is_written(store: Store, bad: tuple[object, ...], message: str) -> None:
    store.write_depot_stocks(_stocks(("D1", "rice", 100, "kg"), ("D9", "quilt", 7, "piece")), actor="zhang")
    version = store.depot_stocks_version()
    batch = pd.DataFrame([("D1", "rice", 200, "kg"), bad, ("D2", "stove", 1, "piece")], columns=["depot_id", "item", "quantity", "unit"])
    with pytest.raises(InputError, match=message):
        store.write_depot_stocks(batch, replace_depots=True, actor="li", audit=AuditLine("li", "stocks", "depot_stocks"))
    read = store.read_depot_stocks()
    assert list(zip(read["depot_id"], read["item"], read["quantity"], strict=True)) == [("D1", "rice", 100.0), ("D9", "quilt", 7.0)]
    assert store.depot_stocks_version() == version


def test_a_batch_without_a_column_or_an_actor_is_refused(store: Store) -> None:
    with pytest.raises(InputError, match="no column unit"):
        store.write_depot_stocks(pd.DataFrame({"depot_id": ["D1"], "item": ["rice"], "quantity": [1.0]}), actor="zhang")
    with pytest.raises(InputError, match="actor"):
        store.write_depot_stocks(_stocks(("D1", "rice", 1, "kg")), actor="")
    with pytest.raises(InputError, match="depot_ids: give a sequence"):
        store.read_depot_stocks("D1")
    assert store.read_depot_stocks().empty


def test_stock_writes_and_deletes_commit_with_their_audit_line(store: Store, store_settings: Settings) -> None:
    store.write_depot_stocks(_stocks(("D1", "rice", 1, "kg"), ("D1", "tent", 2, "piece")), actor="zhang",
                             audit=AuditLine("zhang", "import_stocks", "depot_stocks", after=["D1"], detail={"rows": 2}))
    assert store.delete_depot_stock("D1", "tent", audit=AuditLine("zhang", "delete_stock", "depot_stocks", before=["D1/tent"])) == 1
    assert store.delete_depot_stock("D1", "tent", audit=AuditLine("zhang", "delete_stock", "depot_stocks", before=["D1/tent"])) == 0
    assert store.delete_depot_stock("D9", "rice") == 0
    assert list(store.read_depot_stocks()["item"]) == ["rice"]
    lines = _audit(store_settings, store)
    assert [(line["action"], line["detail"]) for line in lines] == [("delete_stock", {}), ("import_stocks", {"rows": 2})], "no line for a delete of nothing"


def test_the_stocks_version_changes_with_every_change_and_only_then(store: Store) -> None:
    seen = [store.depot_stocks_version()]

    def changed() -> bool:
        seen.append(store.depot_stocks_version())
        return seen[-1] != seen[-2]

    store.write_depot_stocks(_stocks(("D1", "rice", 1, "kg")), actor="zhang")
    assert changed()
    store.write_depot_stocks(_stocks(("D1", "rice", 1, "kg")), actor="li")
    assert not changed(), "an unchanged write is no change"
    for quantity in (2, 3, 4):  # quick successive updates of the same row (same millisecond, maybe)
        store.write_depot_stocks(_stocks(("D1", "rice", quantity, "kg")), actor="zhang")
        assert changed()
    store.write_depot_stocks(_stocks(("D1", "tent", 1, "piece")), replace_depots=True, actor="zhang")  # one out, one in
    assert changed()
    store.delete_depot_stock("D1", "tent")
    assert changed()


def test_concurrent_writers_never_lose_each_others_rows(store: Store, store_settings: Settings) -> None:
    """Four writers, each with its own store (as four processes would have), again and again: each
    writes its own depot's whole ledger, its own item of a shared depot, the one item they all
    write, and its own whole ledger of a depot they all replace. Every write lands, none fails,
    and the replaced depot holds exactly one writer's ledger."""
    writers, rounds = 4, 8
    errors: list[BaseException] = []
    start = threading.Barrier(writers, timeout=60)
    stores = [open_store(store_settings) for _ in range(writers)]  # opened one by one: Alembic's context is global

    def write(number: int) -> None:
        own, actor = stores[number], f"w{number}"
        try:
            start.wait()
            for round_ in range(rounds):
                ledger = _stocks(*((f"D{number}", f"item{k}", float(round_ * 10 + k), "kg") for k in range(round_ % 3, 5)))
                own.write_depot_stocks(ledger, replace_depots=True, actor=actor)
                own.write_depot_stocks(_stocks(("SHARED", f"item{number}", float(round_), "kg"), ("SHARED", "common", float(number), "kg")), actor=actor)
                own.write_depot_stocks(_stocks(("POOL", f"item{number}", 1.0, "kg"), ("POOL", f"extra{number}", 2.0, "kg")), replace_depots=True, actor=actor)
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for own in stores:
            own.close()
    assert not errors, errors
    read = store.read_depot_stocks()
    last = rounds - 1
    for number in range(writers):
        mine = read[read["depot_id"] == f"D{number}"]
        assert list(mine["item"]) == [f"item{k}" for k in range(last % 3, 5)]
        assert list(mine["quantity"]) == [float(last * 10 + k) for k in range(last % 3, 5)]
    shared = read[read["depot_id"] == "SHARED"].set_index("item")
    assert list(shared.index) == ["common", *(f"item{n}" for n in range(writers))]
    assert set(shared["quantity"].drop("common")) == {float(last)} and shared.loc["common", "quantity"] in range(writers)
    pool = read[read["depot_id"] == "POOL"]
    assert len(pool) == 2 and pool["item"].str[-1].nunique() == 1, f"one writer's whole ledger: {list(pool['item'])}"


# --- scenarios ---------------------------------------------------------------------------------

def _scenario(scenario_id: str = "SC1", **changes: object) -> ScenarioRecord:
    values: dict[str, object] = {
        "id": scenario_id, "kind": "plume", "name": "液氨泄漏 扩散", "status": "生效中", "incident_id": "INC1", "closure_id": None,
        "created_at": T0, "created_by": "zhang", "ended_at": None,
        "parameters": {"lon": 116.59, "lat": 35.41, "rate_kg_s": 2.5, "stability": "D", "wind": [3.0, 225], "名称": "液氨"},
        "result": {"zones": [{"level": "重大", "residents": 1200.5}], "warnings": [], "total": None},
        "footprint": shapely.Polygon([(116.5, 35.3), (116.7, 35.3), (116.7, 35.5), (116.5, 35.5)]),
        "residents": 5400, "displaced": 1200,
    }
    values.update(changes)
    return ScenarioRecord(**values)  # type: ignore[arg-type]


def _closure(source_id: str = "RC1", name: str = "情景封闭") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"source_id": [source_id], "name": [name], "cause": ["情景 SC1"], "status": ["生效中"], "created_at": [pd.Timestamp(T0)], "lifted_at": [pd.NaT]},
        geometry=[shapely.MultiPolygon([shapely.box(116.55, 35.35, 116.65, 35.45)])], crs=4326,
    )


def test_a_scenario_reads_back_whole_in_utc_to_the_millisecond(store: Store) -> None:
    saved = _scenario(created_at=T0.astimezone(BEIJING), ended_at=None)
    store.save_scenario(saved)
    got = store.get_scenario("SC1")
    assert got.created_at == datetime(2026, 7, 1, 8, 30, 15, 123000, tzinfo=UTC) and got.created_at.utcoffset() == timedelta(0)
    assert got.parameters == saved.parameters and got.result == saved.result
    assert got.footprint.geom_type == "MultiPolygon" and got.footprint.equals(saved.footprint)
    assert (got.kind, got.name, got.status, got.incident_id, got.closure_id, got.created_by, got.ended_at, got.residents, got.displaced) == (
        "plume", "液氨泄漏 扩散", "生效中", "INC1", None, "zhang", None, 5400, 1200)
    ended = _scenario(status="已结束", ended_at=T0 + timedelta(hours=3), closure_id="RC1", result=None,
                      footprint=shapely.Polygon(), residents=0, displaced=0, kind="dam-break")
    store.save_scenario(ended)  # replaces by id
    got = store.get_scenario("SC1")
    assert (got.status, got.ended_at, got.closure_id, got.result, got.kind) == ("已结束", datetime(2026, 7, 1, 11, 30, 15, 123000, tzinfo=UTC), "RC1", None, "dam-break")
    assert got.footprint.geom_type == "MultiPolygon" and got.footprint.is_empty
    assert len(store.list_scenarios()) == 1


def test_the_listing_leaves_out_results_newest_first_and_filters(store: Store) -> None:
    east = shapely.box(117.0, 35.0, 117.2, 35.2)
    store.save_scenario(_scenario("A", created_at=T0))
    store.save_scenario(_scenario("B", created_at=T0 + timedelta(hours=1), footprint=east, incident_id="INC2"))
    store.save_scenario(_scenario("C", created_at=T0 + timedelta(hours=2), status="已结束", ended_at=T0 + timedelta(hours=3)))
    store.save_scenario(_scenario("D", created_at=T0 - timedelta(hours=1), footprint=None, incident_id=None, kind="area", status="预案"))
    listed = store.list_scenarios()
    assert [s.id for s in listed] == ["C", "B", "A", "D"]
    assert all(s.result is None for s in listed) and listed[0].parameters == _scenario().parameters
    assert listed[-1].footprint.is_empty and listed[1].footprint.equals(east)
    assert [s.id for s in store.list_scenarios(status="生效中")] == ["B", "A"]
    assert [s.id for s in store.list_scenarios(status="预案")] == ["D"]
    assert [s.id for s in store.list_scenarios(incident_id="INC1")] == ["C", "A"]
    assert [s.id for s in store.list_scenarios(bbox=(117.1, 35.1, 117.5, 35.5))] == ["B"]
    # The box touches A's and C's envelope corner but not their footprint.
    store.save_scenario(_scenario("E", created_at=T0, footprint=shapely.Polygon([(116.0, 35.0), (116.2, 35.0), (116.0, 35.2)])))
    assert [s.id for s in store.list_scenarios(bbox=(116.15, 35.15, 116.3, 35.3))] == []
    assert [s.id for s in store.list_scenarios(limit=2)] == ["C", "B"] and store.list_scenarios(limit=0) == []
    assert [s.id for s in store.list_scenarios(status="生效中", incident_id="INC1", bbox=(116.6, 35.4, 116.61, 35.41), limit=5)] == ["A"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": "active"}, "status: 'active' is not one of 预案, 生效中, 已结束"),
        ({"limit": -1}, "limit must be a whole number ≥ 0"),
        ({"bbox": (117.0, 35.0, 116.0, 36.0)}, "bbox"),
        ({"incident_id": "I\x00"}, "incident_id: text must not contain NUL"),
    ],
)
def test_bad_listing_arguments_are_refused(store: Store, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        store.list_scenarios(**arguments)  # type: ignore[arg-type]


def test_a_missing_scenario_is_not_found_by_its_id(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no scenario with id 'SC404'"):
        store.get_scenario("SC404")


def test_a_scenario_and_its_closure_commit_in_one_transaction_with_the_audit_line(store: Store, store_settings: Settings) -> None:
    line = AuditLine("zhang", "save_scenario", "scenarios", after=["SC1", "RC1"])
    store.save_scenario(_scenario(closure_id="RC1"), batches={"road_closures": _closure()}, audit=line)
    assert store.get_scenario("SC1").closure_id == "RC1"
    assert list(store.read("road_closures")["source_id"]) == ["RC1"]
    assert [entry["action"] for entry in _audit(store_settings, store)] == ["save_scenario"]


def test_a_failure_anywhere_leaves_neither_the_scenario_nor_the_closure(store: Store, store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_scenario(_scenario("SC0"), batches={"road_closures": _closure("RC0")})
    module = __import__(type(store).__module__, fromlist=["plan_upsert"])

    def failing_plan(rows: object, stored: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "plan_upsert", failing_plan)  # the closure's upsert fails after the scenario was put
    with pytest.raises(RuntimeError, match="disk full"):
        store.save_scenario(_scenario(closure_id="RC1"), batches={"road_closures": _closure()}, audit=AuditLine("zhang", "save_scenario", "scenarios"))
    monkeypatch.undo()
    with pytest.raises(InputError, match="scenario 'SC1' parameters: NaN and infinity have no JSON form"):  # a bad record after a good batch
        store.save_scenario(_scenario(parameters={"rate_kg_s": math.nan}), batches={"road_closures": _closure()})
    point = _closure().set_geometry([shapely.Point(116.6, 35.4)], crs=4326)
    with pytest.raises(InputError, match="road_closures: row 1 .* is a Point"):  # a bad batch with a good record
        store.save_scenario(_scenario(), batches={"road_closures": point})
    assert [s.id for s in store.list_scenarios()] == ["SC0"]
    assert list(store.read("road_closures")["source_id"]) == ["RC0"]
    assert _audit(store_settings, store) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ""}, "scenario id: '' is not a non-empty text"),
        ({"id": "S\x00"}, "scenario id: text must not contain NUL"),
        ({"kind": "fire"}, "scenario 'SC1' kind: 'fire' is not one of plume, area, dam-break"),
        ({"status": "active"}, "scenario 'SC1' status: 'active' is not one of 预案, 生效中, 已结束"),
        ({"name": "液\x00氨"}, "scenario 'SC1' name: text must not contain NUL"),
        ({"closure_id": "RC\x00"}, "scenario 'SC1' closure_id: text must not contain NUL"),
        ({"created_at": datetime(2026, 7, 1)}, "scenario 'SC1' created_at: .* is not a timezone-aware datetime"),
        ({"ended_at": "2026-07-01"}, "scenario 'SC1' ended_at"),
        ({"parameters": {"wind": [3.0, math.inf]}}, "scenario 'SC1' parameters: NaN and infinity"),
        ({"result": {"total": math.nan}}, "scenario 'SC1' result: NaN and infinity"),
        ({"result": {"note": "a\x00b"}}, "scenario 'SC1' result: text must not contain NUL"),
        ({"parameters": {"a\x00": 1}}, "scenario 'SC1' parameters: text must not contain NUL"),
        ({"parameters": {"when": T0}}, "scenario 'SC1' parameters: datetime is not JSON serialisable"),
        ({"parameters": [1, 2]}, "scenario 'SC1' parameters: list is not a JSON object"),
        ({"footprint": shapely.LineString([(116.5, 35.3), (116.7, 35.3)])}, "scenario 'SC1' footprint: a LineString is not a Polygon or MultiPolygon"),
        ({"footprint": shapely.box(500000, 3900000, 501000, 3901000)}, "scenario 'SC1' footprint: bounds .* give the footprint in EPSG:4326"),
        ({"residents": -1}, "scenario 'SC1' residents: -1 is not a whole number ≥ 0"),
        ({"displaced": 1.5}, "scenario 'SC1' displaced: 1.5 is not a whole number ≥ 0"),
    ],
)
def test_a_bad_scenario_is_refused_naming_it_and_the_field(store: Store, changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        store.save_scenario(_scenario(**changes))
    assert store.list_scenarios() == []


def test_numpy_values_and_whole_floats_are_taken_as_plain_numbers(store: Store) -> None:
    import numpy as np

    store.save_scenario(_scenario(result={"by_zone": np.array([1.5, 2.0]), "n": np.int64(3)}, residents=np.int64(7), displaced=2.0))
    got = store.get_scenario("SC1")
    assert got.result == {"by_zone": [1.5, 2.0], "n": 3} and (got.residents, got.displaced) == (7, 2)


def test_a_status_change_lands_once_when_two_processes_make_it(store: Store, store_settings: Settings) -> None:
    """Two stores on the same data (the server and the CLI) both read 预案, then both write: the
    second write sees the first one's status under its lock and is refused; nothing of it lands."""
    store.save_scenario(_scenario(status="预案"))
    with open_store(store_settings) as other:
        assert other.get_scenario("SC1").status == store.get_scenario("SC1").status == "预案"
        other.save_scenario(_scenario(status="生效中", closure_id="CL-SC1"), batches={"road_closures": _closure("CL-SC1")}, expected_status="预案")
    ended = _scenario(status="已结束", ended_at=datetime(2026, 12, 3, 12, tzinfo=UTC))
    with pytest.raises(InputError, match="changed meanwhile: it is 生效中 now, not 预案"):
        store.save_scenario(ended, batches={"road_closures": _closure("CL-SC1", "不应写入")}, expected_status="预案")
    assert store.get_scenario("SC1").status == "生效中"
    assert store.read("road_closures")["name"].tolist() == ["情景封闭"], "the refused write's closure did not land"
    with pytest.raises(InputError, match="not stored"):
        store.save_scenario(_scenario("SC-none"), expected_status="预案")
