"""The PostGIS store (production): SQLAlchemy 2 + GeoAlchemy2 over psycopg 3.

The schema is created and upgraded by the Alembic migrations in ``layers/migrations`` when the
store opens. Every statement is built with SQLAlchemy Core, so all values are bound parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from alembic import command
from alembic.config import Config
from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DataError, SQLAlchemyError

from gis.crs import STORE_EPSG
from layers.accounts.tables import AuditLine, accounts_metadata
from layers.catalogue import CATALOGUE, SOURCE_ID, LayerSpec, get_layer
from layers.errors import InputError, NotFoundError, OnemapError, StoreError
from layers.io.observations import DeadLetter, Observation
from layers.store import observation_rows as rows_of
from layers.store import pg_observations, pg_scenarios, pg_stocks, pg_tiles
from layers.store.base import (
    BBox,
    LayerInfo,
    Selection,
    Store,
    Transaction,
    WriteCounts,
    plan_upsert,
)
from layers.store.frames import Rows, frame_from_rows
from layers.store.pg_changes import LAYER_CHANGES, change_metadata
from layers.store.pg_tables import build_metadata
from layers.store.scenario_rows import (
    ScenarioRecord,
    check_id,
    check_status,
    record_from_row,
    scenario_filter,
    scenario_row,
)
from layers.store.stock_rows import (
    check_depot_ids,
    depot_stock_rows,
    depot_stocks_frame,
    required_text,
)
from layers.store.tile_plan import TilePlan

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _cause(error: SQLAlchemyError) -> object:
    """The driver's own message where SQLAlchemy wraps one (it says what the server said)."""
    return getattr(error, "orig", None) or error


PUBLIC_DOWN = "the database cannot be reached right now (the server log names it and says why)"
"""What HTTP clients are told of a database failure: never its address or the driver's words."""


def _write_failed(error: SQLAlchemyError, where: str) -> OnemapError:
    """A failed write as the caller should see it: a value PostgreSQL cannot hold (a NUL, a number
    out of range) is the input's fault, anything else the store's."""
    if isinstance(error, DataError):
        return InputError(f"a value cannot be stored: {_cause(error)}".splitlines()[0])
    return StoreError(f"write to {where} failed, nothing was written: {_cause(error)}", public=f"{PUBLIC_DOWN}: nothing was written")


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's psycopg 3 URL ``postgresql+psycopg://…``."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise StoreError(f"not a PostgreSQL URL: {url!r}")


def upgrade_schema(connection: Connection, schema: str) -> None:
    """Run the Alembic migrations up to head in ``schema`` (idempotent, serialised by a lock)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


class PostGISStore(Store):
    """Layers as tables in one PostgreSQL schema."""

    def __init__(self, url: str, *, schema: str = "onemap", engine: Engine | None = None) -> None:
        self.schema = schema
        self._engine = engine or create_engine(sqlalchemy_url(url), pool_pre_ping=True)
        self._read_engine = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        """Reads in autocommit: no BEGIN before and no ROLLBACK after each read (two round trips of
        four; under READ COMMITTED every statement takes its own snapshot either way)."""
        self._tables = build_metadata(schema).tables
        self._audit_log = accounts_metadata(schema).tables[f"{schema}.audit_log"]
        self._dead_letters = pg_observations.observation_metadata(schema).tables[f"{schema}.{pg_observations.DEAD_LETTERS}"]
        self._stocks = pg_stocks.stock_metadata(schema).tables[f"{schema}.{pg_stocks.DEPOT_STOCKS}"]
        self._scenarios = pg_scenarios.scenario_metadata(schema).tables[f"{schema}.{pg_scenarios.SCENARIOS}"]
        self._layer_changes = change_metadata(schema).tables[f"{schema}.{LAYER_CHANGES}"]
        self._months: set[date] = set()
        """Months whose observation partition exists (or stays in DEFAULT), as this store has seen."""
        try:
            with self._engine.begin() as connection:
                upgrade_schema(connection, schema)
        except SQLAlchemyError as error:
            self._engine.dispose()
            raise StoreError(f"cannot open PostGIS store {self._safe_url()}: {error.__class__.__name__}: {_cause(error)}", public=PUBLIC_DOWN) from error

    def _safe_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def _table(self, layer: str) -> tuple[LayerSpec, Table]:
        spec = get_layer(layer)
        return spec, self._tables[f"{self.schema}.{spec.name}"]

    # --- reads ----------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads; a database failure becomes a StoreError naming the server."""
        try:
            with self._read_engine.connect() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise StoreError(f"read from {self._safe_url()} failed: {_cause(error)}", public=PUBLIC_DOWN) from error

    def list_layers(self) -> list[LayerInfo]:
        infos = []
        with self._reading() as connection:
            for spec in CATALOGUE.values():
                table = self._tables[f"{self.schema}.{spec.name}"]
                extent = func.ST_Extent(table.c.geom)
                row = connection.execute(
                    select(
                        func.count(),
                        func.ST_XMin(extent),
                        func.ST_YMin(extent),
                        func.ST_XMax(extent),
                        func.ST_YMax(extent),
                    ).select_from(table)
                ).one()
                bbox = None if row[1] is None else (row[1], row[2], row[3], row[4])
                infos.append(LayerInfo(spec.name, spec.title_zh, spec.title_en, spec.geometry_type, row[0], bbox))
        return infos

    def _where(self, statement: Any, selection: Selection, table: Table) -> Any:
        """``statement`` with the filter and bbox conditions (any Select; typed loosely for mypy)."""
        for name, value in selection.filters.items():
            column = table.c[name]
            statement = statement.where(column.is_(None) if value is None else column == value)
        if selection.fids is not None:
            statement = statement.where(table.c.fid >= selection.fids[0], table.c.fid < selection.fids[1])
        if selection.bbox is not None:
            envelope = func.ST_MakeEnvelope(*selection.bbox, STORE_EPSG)
            statement = statement.where(func.ST_Intersects(table.c.geom, envelope))
        return statement

    def _count(self, selection: Selection) -> int:
        _, table = self._table(selection.spec.name)
        statement = self._where(select(func.count()).select_from(table), selection, table)
        with self._reading() as connection:
            return int(connection.execute(statement).scalar_one())

    def _fid_bounds(self, spec: LayerSpec) -> tuple[int, int] | None:
        _, table = self._table(spec.name)
        with self._reading() as connection:
            low, high = connection.execute(select(func.min(table.c.fid), func.max(table.c.fid))).one()
        return None if low is None else (int(low), int(high))

    def _rows(self, selection: Selection) -> tuple[list[tuple[Any, ...]], list[bytes]]:
        spec, table = self._table(selection.spec.name)
        statement = self._where(_select_rows(spec, table).order_by(table.c.fid), selection, table).offset(selection.offset)
        if selection.limit is not None:
            statement = statement.limit(selection.limit)
        with self._reading() as connection:
            rows = connection.execute(statement).all()
        return [tuple(r[:-1]) for r in rows], [bytes(r[-1]) for r in rows]

    # --- writes ---------------------------------------------------------------------------

    @contextmanager
    def _begin(self) -> Iterator[Transaction]:
        try:
            with self._engine.begin() as connection:
                yield _PostGISTransaction(self, connection)
        except SQLAlchemyError as error:
            raise _write_failed(error, self._safe_url()) from error

    def delete(self, layer: str, source_ids: Sequence[str]) -> int:
        _, table = self._table(layer)
        try:
            with self._engine.begin() as connection:
                result = connection.execute(table.delete().where(table.c.source_id.in_(list(source_ids))))
        except SQLAlchemyError as error:
            raise StoreError(f"delete from {self._safe_url()} failed, nothing was deleted: {_cause(error)}", public=f"{PUBLIC_DOWN}: nothing was deleted") from error
        return int(result.rowcount)

    def layer_version(self, layer: str) -> str:
        """The layer's change counter and the time it last moved (``layer_changes``, kept by a
        trigger on every write statement: migration 0010): one primary-key read, whatever the
        layer's size. The time tells a counter apart from the same count in a re-made schema."""
        spec, _ = self._table(layer)
        with self._reading() as connection:
            changes = self._layer_changes
            row = connection.execute(select(changes.c.version, changes.c.changed_at).where(changes.c.layer == spec.name)).one_or_none()
        if row is None:  # a layer table no migration gave a trigger: a bug (tests check every layer has one)
            raise StoreError(f"{self._safe_url()}: layer {spec.name!r} has no change counter (run the migrations)")
        return f"postgis:{self._safe_url()}:{self.schema}.{spec.name}:{row[0]}:{row[1].isoformat()}"

    def vector_tile(self, plan: TilePlan) -> bytes:
        spec, _ = self._table(plan.layer)
        with self._reading() as connection:
            return pg_tiles.vector_tile(connection, spec, self.schema, plan)

    def close(self) -> None:
        self._engine.dispose()

    # --- observations (see pg_observations) -----------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise _write_failed(error, self._safe_url()) from error

    def upsert_observations(self, observations: Sequence[Observation]) -> int:
        """COPY into a temporary table, then INSERT … ON CONFLICT, in one transaction; the month
        partitions the batch needs are made first (``pg_observations``)."""
        rows = rows_of.observation_rows(observations)
        if not rows:
            return 0
        missing = pg_observations.months_needed(rows, now=datetime.now(UTC)) - self._months
        if missing:
            with self._writing() as connection:
                pg_observations.create_partitions(connection, self.schema, missing)
            self._months |= missing
        with self._writing() as connection:
            pg_observations.write_observations(connection, self.schema, rows)
        return len(rows)

    def read_observations(self, station_ids: Sequence[str] | None, since: datetime, until: datetime) -> pd.DataFrame:
        start, end = rows_of.check_window(since, until)
        ids = rows_of.check_station_ids(station_ids)
        with self._reading() as connection:
            rows = pg_observations.read_observations(connection, self.schema, ids, start, end)
        return rows_of.observations_frame(rows)

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        rows = rows_of.dead_letter_rows(letters)
        if rows:
            with self._writing() as connection:
                pg_observations.write_dead_letters(connection, self._dead_letters, rows)
        return len(rows)

    def dead_letter_count(self, since: datetime | None = None) -> int:
        table = self._dead_letters
        statement = select(func.count()).select_from(table)
        if since is not None:
            rows_of.epoch_ms(since, what="since")
            statement = statement.where(table.c.received_at >= since)
        with self._reading() as connection:
            return int(connection.execute(statement).scalar_one())

    def read_dead_letters(self, limit: int = 100) -> pd.DataFrame:
        table = self._dead_letters
        epoch_ms = (func.extract("epoch", table.c.received_at) * 1000).cast(BigInteger)
        statement = select(table.c.id, epoch_ms, table.c.source, table.c.payload, table.c.reason).order_by(table.c.received_at.desc(), table.c.id.desc()).limit(rows_of.check_limit(limit))
        with self._reading() as connection:
            return rows_of.dead_letters_frame([tuple(r) for r in connection.execute(statement)])

    # --- depot stocks and scenarios (see pg_stocks, pg_scenarios) --------------------------

    def read_depot_stocks(self, depot_ids: Sequence[str] | None = None) -> pd.DataFrame:
        ids = check_depot_ids(depot_ids)
        with self._reading() as connection:
            return depot_stocks_frame(pg_stocks.read_stocks(connection, self._stocks, ids))

    def write_depot_stocks(self, rows: pd.DataFrame, *, replace_depots: bool = False, actor: str, audit: AuditLine | None = None) -> WriteCounts:
        checked = depot_stock_rows(rows)
        by = required_text(actor, what="actor")
        with self._writing() as connection:
            plan = pg_stocks.write_stocks(connection, self.schema, self._stocks, checked, by, replace_depots=replace_depots)
            if audit is not None:
                connection.execute(insert(self._audit_log).values(audit.row()))
        return WriteCounts(len(plan.inserts), len(plan.updates), plan.unchanged, len(plan.deletes))

    def delete_depot_stock(self, depot_id: str, item: str, *, audit: AuditLine | None = None) -> int:
        key = (required_text(depot_id, what="depot_id"), required_text(item, what="item"))
        with self._writing() as connection:
            deleted = pg_stocks.delete_stock(connection, self.schema, self._stocks, key)
            if deleted and audit is not None:
                connection.execute(insert(self._audit_log).values(audit.row()))
        return deleted

    def depot_stocks_version(self) -> str:
        with self._reading() as connection:
            return pg_stocks.stocks_version(connection, self._stocks)

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        with self._reading() as connection:
            row = pg_scenarios.get_scenario(connection, self._scenarios, check_id(scenario_id, what="scenario id"))
        if row is None:
            raise NotFoundError(f"no scenario with id {scenario_id!r}")
        return record_from_row(row)

    def list_scenarios(self, *, status: str | None = None, incident_id: str | None = None, bbox: BBox | None = None, limit: int = 100) -> list[ScenarioRecord]:
        selected = scenario_filter(status, incident_id, bbox, limit)
        with self._reading() as connection:
            rows = pg_scenarios.list_scenarios(connection, self._scenarios, selected)
        return [record_from_row(row) for row in rows]


def _select_rows(spec: LayerSpec, table: Table) -> Select[Any]:
    """The spec's columns and the geometry as WKB (EPSG:4326)."""
    return select(*(table.c[c] for c in spec.columns), func.ST_AsBinary(table.c.geom))


class _PostGISTransaction(Transaction):
    """One transaction on one connection of a PostGIS store."""

    def __init__(self, store: PostGISStore, connection: Connection) -> None:
        self._store = store
        self._connection = connection

    def current(self, spec: LayerSpec, source_id: str) -> gpd.GeoDataFrame:
        """The feature, read and row-locked (``FOR UPDATE``) until the transaction ends."""
        _, table = self._store._table(spec.name)
        row = self._connection.execute(_select_rows(spec, table).where(table.c.source_id == source_id).with_for_update()).first()
        if row is None:
            raise NotFoundError(f"layer {spec.name} has no feature with {SOURCE_ID} {source_id!r}")
        return frame_from_rows(spec, [tuple(row[:-1])], [bytes(row[-1])])

    def upsert(self, spec: LayerSpec, rows: Rows) -> WriteCounts:
        _, table = self._store._table(spec.name)
        ids = [values[0] for values in rows.values]
        stored: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        for start in range(0, len(ids), 5000):
            query = _select_rows(spec, table).where(table.c.source_id.in_(ids[start : start + 5000]))
            for row in self._connection.execute(query):
                stored[row[0]] = (tuple(row[:-1]), bytes(row[-1]))
        plan = plan_upsert(rows, stored)

        def parameters(position: int) -> dict[str, Any]:
            values = dict(zip(spec.columns, rows.values[position], strict=True))
            values["geom"] = WKBElement(rows.wkbs[position], srid=STORE_EPSG)
            return values

        if plan.inserts:
            self._connection.execute(table.insert(), [parameters(i) for i in plan.inserts])
        if plan.updates:
            statement = (
                table.update()
                .where(table.c.source_id == bindparam("b_source_id"))
                .values(updated_at=func.now())
            )
            updates = []
            for position in plan.updates:
                values = parameters(position)
                values["b_source_id"] = values.pop(SOURCE_ID)
                updates.append(values)
            self._connection.execute(statement, updates)
        return plan.counts()

    def delete(self, spec: LayerSpec, source_ids: Sequence[str]) -> int:
        if not source_ids:
            return 0
        _, table = self._store._table(spec.name)
        return int(self._connection.execute(table.delete().where(table.c.source_id.in_(list(source_ids)))).rowcount)

    def audit(self, line: AuditLine) -> None:
        self._connection.execute(insert(self._store._audit_log).values(line.row()))

    def put_scenario(self, record: ScenarioRecord, *, expected_status: str | None = None) -> None:
        if expected_status is not None:
            check_status(record.id, pg_scenarios.locked_status(self._connection, self._store._scenarios, record.id), expected_status)
        pg_scenarios.put_scenario(self._connection, self._store._scenarios, scenario_row(record))
