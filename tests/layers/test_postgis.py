"""What only the PostGIS store has: Alembic migrations and GiST indexes."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from layers.catalogue import CATALOGUE
from layers.errors import StoreError
from layers.store.postgis import PostGISStore, sqlalchemy_url


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
    assert version == "0004"
    assert set(CATALOGUE) <= tables
    assert set(CATALOGUE) <= gist
    assert srid == 4326


def test_a_store_from_before_the_wall_map_gains_its_layers(pg_url: str, pg_schema: str) -> None:
    PostGISStore(pg_url, schema=pg_schema).close()
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as connection:  # as a store migrated to 0002 by an older onemap looked
        connection.execute(text(f'DROP TABLE "{pg_schema}".water_bodies, "{pg_schema}".road_closures'))
        connection.execute(text(f'UPDATE "{pg_schema}".alembic_version SET version_num = \'0002\''))
    with PostGISStore(pg_url, schema=pg_schema) as store:
        assert store.count("road_closures") == 0 and store.count("water_bodies") == 0
    with engine.connect() as connection:
        assert connection.execute(text(f'SELECT version_num FROM "{pg_schema}".alembic_version')).scalar_one() == "0004"
    engine.dispose()


def test_unreachable_server_is_a_store_error() -> None:
    try:
        PostGISStore("postgresql://nobody@127.0.0.1:1/none", schema="x")
    except StoreError as error:
        assert "cannot open PostGIS store" in str(error)
        assert "127.0.0.1:1" in str(error)
    else:
        raise AssertionError("opening an unreachable server must fail")
