"""Schema evolution. The Alembic revisions are frozen SQL, so a fresh PostGIS schema is exactly
what the catalogue defines today; and a store as released before issue 13 — PostGIS at revision
0005, a GeoPackage of schema version 1 with its accounts in a file beside it — built here from a
frozen list of its fields, upgrades itself with its data and its answers unchanged (the
GeoPackage after a backup)."""

from __future__ import annotations

import gzip
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from alembic import command
from alembic.config import Config
from geoalchemy2 import WKBElement
from sqlalchemy import MetaData, create_engine, insert, text

from layers.accounts.store import AccountStore
from layers.accounts.tables import AuditLine, accounts_metadata
from layers.catalogue import CATALOGUE
from layers.io.observations import Observation
from layers.services.routing import RoutingService
from layers.settings import Settings
from layers.store import open_store
from layers.store.gpkg import GeoPackageStore
from layers.store.gpkg_schema import SCHEMA_VERSION, stored_schema_version
from layers.store.pg_changes import change_metadata
from layers.store.pg_observations import default_partition_sql, observation_metadata
from layers.store.pg_scenarios import scenario_metadata
from layers.store.pg_stocks import stock_metadata
from layers.store.pg_tables import build_metadata
from layers.store.postgis import MIGRATIONS_DIR, PostGISStore, sqlalchemy_url
from layers.store.scenario_rows import ScenarioRecord
from tests.data.schema_0005 import RELEASED_0005
from tests.helpers import TEST_PASSWORD

LAYERS = ("admin_areas", "roads", "rescue_stations", "shelters", "supply_depots")
INCIDENT_AT = (116.59, 35.41)


def _described(connection: object, schema: str) -> dict[str, object]:
    """Columns (type, nullability, default), indexes and comments of ``schema``, with its name
    taken out of the definitions."""
    run = connection.execute  # type: ignore[attr-defined]
    columns = run(text("SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length "
                       "FROM information_schema.columns WHERE table_schema = :s AND table_name <> 'alembic_version'"), {"s": schema}).all()
    indexes = run(text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = :s AND tablename <> 'alembic_version'"), {"s": schema}).all()
    comments = run(text("SELECT c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                        "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'"), {"s": schema}).all()
    plain = lambda value: re.sub(rf'"?{schema}"?', "S", str(value))  # noqa: E731
    return {
        "columns": sorted(tuple(plain(v) for v in row) for row in columns),
        "indexes": sorted((row[0], re.sub(r"\b\w+_pkey\b|\b\w+_key\b", "K", plain(row[1]))) for row in indexes),
        "comments": sorted(tuple(str(v) for v in row) for row in comments),
    }


def test_a_fresh_postgis_schema_is_exactly_the_catalogue(pg_url: str, pg_schema: str) -> None:
    """Frozen revisions, replayed on an empty database, give today's catalogue: a field added to
    the catalogue without its own revision fails here."""
    PostGISStore(pg_url, schema=pg_schema).close()
    reference = pg_schema + "_r"
    engine = create_engine(sqlalchemy_url(pg_url))
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{reference}"'))
            build_metadata(reference).create_all(connection)
            accounts_metadata(reference).create_all(connection)
            observation_metadata(reference).create_all(connection)
            connection.execute(text(default_partition_sql(reference)))
            stock_metadata(reference).create_all(connection)
            scenario_metadata(reference).create_all(connection)
            change_metadata(reference).create_all(connection)
        with engine.connect() as connection:
            migrated, expected = _described(connection, pg_schema), _described(connection, reference)
        for part in ("columns", "indexes", "comments"):
            assert migrated[part] == expected[part], f"{part}: migrated {set(migrated[part]) ^ set(expected[part])}"  # type: ignore[arg-type]
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{reference}" CASCADE'))
        engine.dispose()


def _released(sample_city: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The sample city's layers with only the fields they had as released (revision 0005)."""
    return {layer: sample_city[layer][[*RELEASED_0005[layer], "geometry"]].copy() for layer in LAYERS}


def _answers(store: object, settings: Settings) -> pd.DataFrame:
    nearest = RoutingService(store, settings).nearest(*INCIDENT_AT, ["rescue_stations", "shelters"], k=3)  # type: ignore[arg-type]
    return nearest[["layer", "resource_id", "travel_time_min", "distance_km"]].reset_index(drop=True)


def _same_data(store: object, frames: dict[str, gpd.GeoDataFrame]) -> None:
    for layer, frame in frames.items():
        stored = store.read(layer).set_index("source_id").sort_index()  # type: ignore[attr-defined]
        given = frame.set_index("source_id").sort_index()
        assert list(stored.index) == list(given.index), layer
        for column in given.columns.drop("geometry"):
            left, right = stored[column].to_numpy(dtype=object), given[column].to_numpy(dtype=object)
            same = [(pd.isna(a) and pd.isna(b)) or a == b or (isinstance(a, float) and np.isclose(a, b)) for a, b in zip(left, right, strict=True)]
            assert all(same), f"{layer}.{column} changed"
        assert stored.geometry.geom_equals_exact(given.geometry, tolerance=1e-9).all(), layer


def _reference_answers(frames: dict[str, gpd.GeoDataFrame], folder: Path) -> pd.DataFrame:
    settings = Settings(store=str(folder / "reference.gpkg"))
    with GeoPackageStore(folder / "reference.gpkg") as store:
        store.upsert_many(frames)
        return _answers(store, settings)


def test_a_postgis_store_as_released_upgrades_with_data_and_answers_unchanged(pg_url: str, pg_schema: str, sample_city: dict[str, gpd.GeoDataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the PostGIS store caches graphs under ./var/cache
    frames = _released(sample_city)
    engine = create_engine(sqlalchemy_url(pg_url))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["schema"] = pg_schema
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")  # the schema as released
    tables = MetaData()
    tables.reflect(engine, schema=pg_schema, only=list(LAYERS))
    assert "declared_length_m" not in tables.tables[f"{pg_schema}.roads"].c, "the fixture is the old schema"
    with engine.begin() as connection:
        for layer, frame in frames.items():
            rows = [{**{k: (None if pd.isna(v) else v) for k, v in record.items()}, "geom": WKBElement(geometry.wkb, srid=4326)}
                    for record, geometry in zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True)]
            connection.execute(insert(tables.tables[f"{pg_schema}.{layer}"]), rows)
    engine.dispose()
    settings = Settings(store=pg_url, pg_schema=pg_schema)
    with open_store(settings) as store:  # opening upgrades to head
        _same_data(store, frames)
        answers = _answers(store, settings)
        assert store.read_depot_stocks().empty and store.list_scenarios() == []
    pd.testing.assert_frame_equal(answers, _reference_answers(frames, tmp_path))


def test_a_geopackage_as_released_is_backed_up_then_upgrades_with_data_answers_and_accounts(sample_city: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    frames = _released(sample_city)
    path = tmp_path / "city.gpkg"
    for layer, frame in frames.items():  # as GDAL wrote the layers of a version-1 store
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG", promote_to_multi=False)
    old = AccountStore(create_engine(f"sqlite:///{path.with_suffix('.accounts.sqlite')}"), schema=None)
    old.add_user("zhang", TEST_PASSWORD, "editor")
    old.close()
    assert stored_schema_version(path) == 1
    with sqlite3.connect(path) as original:
        before = "\n".join(original.iterdump())

    store = GeoPackageStore(path)
    try:
        assert store.backup == tmp_path / "city.v1.bak.gpkg"
        with sqlite3.connect(store.backup) as copy:
            assert "\n".join(copy.iterdump()) == before, "the file as it was, kept first"
        assert stored_schema_version(path) == SCHEMA_VERSION
        _same_data(store, frames)
        assert "declared_length_m" in store.read("roads", limit=1).columns
        answers = _answers(store, Settings(store=str(path)))
    finally:
        store.close()
    pd.testing.assert_frame_equal(answers, _reference_answers(frames, tmp_path))
    accounts = AccountStore.for_settings(Settings(store=str(path)))
    try:
        user = accounts.verify_password("zhang", TEST_PASSWORD)
        assert user is not None and user.role == "editor"
    finally:
        accounts.close()
    with GeoPackageStore(path) as again:
        assert again.backup is None, "an up-to-date store is not backed up again"
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM onemap_meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


STORE_V2 = Path(__file__).resolve().parent.parent / "data" / "store_v2.gpkg.gz"
"""A version-2 store written by the release before issue 15 (tests/data/make_store_v2.py)."""


def test_a_geopackage_of_version_2_is_backed_up_then_gains_the_monitoring_tables_with_data_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "field.gpkg"
    with gzip.open(STORE_V2) as packed, path.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    assert stored_schema_version(path) == 2
    released = {layer: gpd.read_file(path, layer=layer) for layer in ("reservoirs", "shelters", "rescue_stations")}
    with sqlite3.connect(path) as original:
        before = "\n".join(original.iterdump())
        audit_before = original.execute("SELECT * FROM audit_log").fetchall()
    assert "monitoring_stations" not in before and "observations" not in before, "the fixture is the old schema"

    with GeoPackageStore(path) as store:
        assert store.backup == tmp_path / "field.v2.bak.gpkg"
        with sqlite3.connect(store.backup) as copy:
            assert "\n".join(copy.iterdump()) == before, "the file as it was, kept first"
        assert stored_schema_version(path) == SCHEMA_VERSION
        _same_data(store, released)
        assert [i.name for i in store.list_layers()] == list(CATALOGUE)
        assert store.count("monitoring_stations") == 0 and store.count("alerts") == 0
        at = datetime(2026, 7, 1, tzinfo=UTC)
        assert store.upsert_observations([Observation("ST1", at, 1.5, "m", None)]) == 1
        assert list(store.read_observations(["ST1"], at, at + timedelta(hours=1))["value"]) == [1.5]
        assert store.dead_letter_count() == 0
        _stocks_and_scenarios_work(store)
    with sqlite3.connect(path) as upgraded:
        assert upgraded.execute("SELECT * FROM audit_log").fetchall() == audit_before
    listed = {str(name) for name, _ in pyogrio.list_layers(path)}
    assert not listed & {"observations", "observation_dead_letters", "depot_stocks", "scenarios"}, "records, not layers"
    assert {"monitoring_stations", "alerts", "reservoirs"} <= listed
    accounts = AccountStore.for_settings(Settings(store=str(path)))
    try:
        user = accounts.verify_password("zhang", TEST_PASSWORD)
        assert user is not None and user.role == "editor"
    finally:
        accounts.close()


def _stocks_and_scenarios_work(store: GeoPackageStore) -> None:
    """The depot_stocks and scenarios tables (schema version 4) are there, empty and usable."""
    assert store.read_depot_stocks().empty and store.list_scenarios() == []
    stocks = pd.DataFrame({"depot_id": ["D1"], "item": ["rice"], "quantity": [500.0], "unit": ["kg"]})
    assert store.write_depot_stocks(stocks, actor="zhang").inserted == 1
    at = datetime(2026, 7, 1, tzinfo=UTC)
    store.save_scenario(ScenarioRecord("SC1", "area", "积水", "预案", None, None, at, "zhang", None, {"depth_m": 0.5}, {"residents": 3},
                                       shapely.box(116.5, 35.3, 116.6, 35.4), 3, 0))
    assert store.get_scenario("SC1").result == {"residents": 3}


def test_a_geopackage_of_version_3_is_backed_up_then_gains_the_stock_and_scenario_tables(tmp_path: Path, sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    """A version-3 store (this release's file without the two tables, as issue 15 wrote it)."""
    path = tmp_path / "v3.gpkg"
    with GeoPackageStore(path) as store:
        store.upsert_many({layer: sample_city[layer].head(20) for layer in ("shelters", "supply_depots")}, audit=AuditLine("zhang", "import", "shelters"))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE depot_stocks")
        connection.execute("DROP TABLE scenarios")
        connection.execute("UPDATE onemap_meta SET value = '3' WHERE key = 'schema_version'")
    assert stored_schema_version(path) == 3
    with sqlite3.connect(path) as original:
        before = "\n".join(original.iterdump())
    with GeoPackageStore(path) as store:
        assert store.backup == tmp_path / "v3.v3.bak.gpkg"
        with sqlite3.connect(store.backup) as copy:
            assert "\n".join(copy.iterdump()) == before, "the file as it was, kept first"
        assert stored_schema_version(path) == SCHEMA_VERSION == 4
        _same_data(store, {layer: sample_city[layer].head(20) for layer in ("shelters", "supply_depots")})
        _stocks_and_scenarios_work(store)
    with GeoPackageStore(path) as again:
        assert again.backup is None and len(again.read_depot_stocks()) == 1 and again.get_scenario("SC1").status == "预案"


def test_a_geopackage_newer_than_onemap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.gpkg"
    GeoPackageStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE onemap_meta SET value = '99' WHERE key = 'schema_version'")
    from layers.errors import StoreError

    with pytest.raises(StoreError, match=f"schema version 99, newer than this onemap's {SCHEMA_VERSION}: upgrade onemap"):
        GeoPackageStore(path)
