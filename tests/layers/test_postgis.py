"""What only the PostGIS store has: Alembic migrations and GiST indexes."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from layers.catalogue import CATALOGUE
from layers.errors import StoreError
from layers.store.postgis import MIGRATIONS_DIR, PostGISStore, sqlalchemy_url

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
"""The newest migration: every store opened is upgraded to it."""


def test_migrations_create_tables_gist_indexes_and_version(pg_url: str, pg_schema: str) -> None:
    PostGISStore(pg_url, schema=pg_schema).close()
    PostGISStore(pg_url, schema=pg_schema).close()  # opening again is a no-op upgrade
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.connect() as connection:
        version = connection.execute(text(f'SELECT version_num FROM "{pg_schema}".alembic_version')).scalar_one()
        tables = set(connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": pg_schema}).scalars())
        gist = set(connection.execute(text("SELECT tablename FROM pg_indexes WHERE schemaname = :s AND indexdef LIKE '%USING gist%'"), {"s": pg_schema}).scalars())
        srid = connection.execute(text("SELECT srid FROM geometry_columns WHERE f_table_schema = :s AND f_table_name = 'roads'"), {"s": pg_schema}).scalar_one()
    engine.dispose()
    assert version == HEAD
    assert set(CATALOGUE) <= tables
    assert set(CATALOGUE) <= gist
    assert srid == 4326


def test_every_layer_table_moves_its_change_counter_on_each_write(pg_url: str, pg_schema: str) -> None:
    """``layer_version`` is read from ``layer_changes`` (migration 0010's trigger): every catalogue
    layer has the trigger, a write moves only its own layer's version, a delete moves it again, and
    a write that is rolled back moves nothing."""
    engine = create_engine(sqlalchemy_url(pg_url))
    with PostGISStore(pg_url, schema=pg_schema) as store:
        with engine.connect() as connection:
            triggered = set(connection.execute(text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND t.tgname = 'layer_changed'"), {"s": pg_schema}).scalars())
        assert set(CATALOGUE) <= triggered
        before = {layer: store.layer_version(layer) for layer in CATALOGUE}
        shelter = gpd.GeoDataFrame({"source_id": ["S-1"], "name": ["一号避难场所"]}, geometry=[shapely.Point(116.6, 35.4)], crs=4326)
        store.upsert("shelters", shelter)
        after = {layer: store.layer_version(layer) for layer in CATALOGUE}
        assert [layer for layer in CATALOGUE if after[layer] != before[layer]] == ["shelters"]
        store.delete("shelters", ["S-1"])
        deleted = store.layer_version("shelters")
        assert deleted not in (before["shelters"], after["shelters"])
        with engine.begin() as connection:
            connection.execute(text(f'DELETE FROM "{pg_schema}".roads WHERE false'))
        assert store.layer_version("roads") != after["roads"]  # a statement that changes nothing still counts: caches refetch once
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(text(f'DELETE FROM "{pg_schema}".shelters'))
            transaction.rollback()
        assert store.layer_version("shelters") == deleted
    engine.dispose()


def test_a_store_from_before_the_wall_map_gains_its_layers(pg_url: str, pg_schema: str) -> None:
    PostGISStore(pg_url, schema=pg_schema).close()
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as connection:  # as a store migrated to 0002 by an older onemap looked
        connection.execute(text(f'DROP TABLE "{pg_schema}".water_bodies, "{pg_schema}".road_closures'))
        connection.execute(text(f'UPDATE "{pg_schema}".alembic_version SET version_num = \'0002\''))
    with PostGISStore(pg_url, schema=pg_schema) as store:
        assert store.count("road_closures") == 0 and store.count("water_bodies") == 0
    with engine.connect() as connection:
        assert connection.execute(text(f'SELECT version_num FROM "{pg_schema}".alembic_version')).scalar_one() == HEAD
    engine.dispose()


def _city_profile_table(connection: Connection, schema: str) -> tuple[list[Any], list[str], list[Any], list[Any]]:
    """Columns (name, type, nullable, default), indexes, comments and geometry type of city_profile."""
    columns = list(connection.execute(text("SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = :s AND table_name = 'city_profile' ORDER BY ordinal_position"), {"s": schema}).all())
    indexes = [d.replace(schema, "S") for d in connection.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = :s AND tablename = 'city_profile' ORDER BY indexname"), {"s": schema}).scalars()]
    comments = list(connection.execute(text("SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a WHERE a.attrelid = (:s || '.city_profile')::regclass AND a.attnum > 0 ORDER BY a.attnum"), {"s": schema}).all())
    geometry = list(connection.execute(text("SELECT type, srid FROM geometry_columns WHERE f_table_schema = :s AND f_table_name = 'city_profile'"), {"s": schema}).all())
    return (columns, indexes, comments, geometry)


def test_migration_0005_adds_the_city_profile_as_the_catalogue_would(pg_url: str, pg_schema: str) -> None:
    PostGISStore(pg_url, schema=pg_schema).close()  # fresh: 0001 built city_profile from the catalogue
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as connection:
        built_by_0001 = _city_profile_table(connection, pg_schema)
        # as a store migrated to 0004 by an older onemap looked
        connection.execute(text(f'DROP TABLE "{pg_schema}".city_profile'))
        connection.execute(text(f'UPDATE "{pg_schema}".alembic_version SET version_num = \'0004\''))
    with PostGISStore(pg_url, schema=pg_schema) as store:
        assert store.count("city_profile") == 0
    with engine.connect() as connection:
        assert connection.execute(text(f'SELECT version_num FROM "{pg_schema}".alembic_version')).scalar_one() == HEAD
        assert _city_profile_table(connection, pg_schema) == built_by_0001
    engine.dispose()
    assert any("USING gist" in d for d in built_by_0001[1])


def test_unreachable_server_is_a_store_error() -> None:
    try:
        PostGISStore("postgresql://nobody@127.0.0.1:1/none", schema="x")
    except StoreError as error:
        assert "cannot open PostGIS store" in str(error)
        assert "127.0.0.1:1" in str(error)
    else:
        raise AssertionError("opening an unreachable server must fail")
