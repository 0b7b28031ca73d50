"""Scenarios in PostGIS: the plain table (migration 0009) and the SQL that writes and reads it
(``PostGISStore`` and its transaction call these on their connections).

Parameters and result are jsonb (bound as the JSON text ``scenario_rows`` made and cast, so
SQLAlchemy does not encode it again); the footprint is ``geometry(MULTIPOLYGON, 4326)`` with a
GiST index, NULL when empty; times are timestamptz kept to the millisecond.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    cast,
    func,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from gis.crs import STORE_EPSG
from layers.store.scenario_rows import ScenarioFilter, ScenarioRow, time_of

SCENARIOS = "scenarios"


def scenario_metadata(schema: str | None) -> MetaData:
    """The table as SQLAlchemy metadata (what migration 0009 froze)."""
    metadata = MetaData(schema=schema)
    Table(
        SCENARIOS,
        metadata,
        Column("id", Text, primary_key=True, comment="情景编号"),
        Column("kind", Text, nullable=False, comment="类型"),
        Column("name", Text, nullable=False, comment="名称"),
        Column("status", Text, nullable=False, comment="状态"),
        Column("incident_id", Text, comment="关联事件"),
        Column("closure_id", Text, comment="关联封闭"),
        Column("created_at", DateTime(timezone=True), nullable=False, comment="创建时间"),
        Column("created_by", Text, nullable=False, comment="创建人"),
        Column("ended_at", DateTime(timezone=True), comment="结束时间"),
        Column("parameters", JSONB, nullable=False, comment="参数"),
        Column("result", JSONB, comment="结果"),
        Column("residents", BigInteger, nullable=False, comment="影响人口"),
        Column("displaced", BigInteger, nullable=False, comment="转移人口"),
        Column("footprint", Geometry(geometry_type="MULTIPOLYGON", srid=STORE_EPSG, spatial_index=True), comment="影响范围"),
        Index("ix_scenarios_incident_id", "incident_id"),
        Index("ix_scenarios_status", "status"),
        comment="情景 / Scenarios",
    )
    return metadata


def _json(value: str | None) -> Any:
    return cast(type_coerce(value, Text), JSONB)


def put_scenario(connection: Connection, table: Table, row: ScenarioRow) -> None:
    """Insert the scenario, or replace every column of the stored one with its id."""
    values = {
        "id": row.id, "kind": row.kind, "name": row.name, "status": row.status,
        "incident_id": row.incident_id, "closure_id": row.closure_id,
        "created_at": time_of(row.created_at_ms), "created_by": row.created_by,
        "ended_at": None if row.ended_at_ms is None else time_of(row.ended_at_ms),
        "parameters": _json(row.parameters), "result": _json(row.result),
        "residents": row.residents, "displaced": row.displaced,
        "footprint": None if row.footprint is None else WKBElement(row.footprint, srid=STORE_EPSG),
    }
    statement = insert(table).values(values)
    connection.execute(statement.on_conflict_do_update(index_elements=[table.c.id], set_={c: statement.excluded[c] for c in values if c != "id"}))


def _selected(table: Table, *, with_result: bool) -> Any:
    """The columns in ``SCENARIO_READ_COLUMNS`` order: times as epoch ms, JSON as text, WKB."""
    c = table.c

    def epoch_ms(column: Any) -> Any:
        return (func.extract("epoch", column) * 1000).cast(BigInteger)

    return select(
        c.id, c.kind, c.name, c.status, c.incident_id, c.closure_id, epoch_ms(c.created_at), c.created_by,
        epoch_ms(c.ended_at), c.parameters.cast(Text), c.result.cast(Text) if with_result else null(),
        c.residents, c.displaced, func.ST_AsBinary(c.footprint),
    )


def locked_status(connection: Connection, table: Table, scenario_id: str) -> str | None:
    """The stored scenario's status, its row locked until the caller's transaction ends (FOR
    UPDATE: a second status change waits, then reads the first one's); None when there is none."""
    value = connection.execute(select(table.c.status).where(table.c.id == scenario_id).with_for_update()).scalar()
    return None if value is None else str(value)


def get_scenario(connection: Connection, table: Table, scenario_id: str) -> tuple[Any, ...] | None:
    """The row in ``SCENARIO_READ_COLUMNS`` order, with its result; None when there is none."""
    row = connection.execute(_selected(table, with_result=True).where(table.c.id == scenario_id)).first()
    return None if row is None else tuple(row)


def list_scenarios(connection: Connection, table: Table, selected: ScenarioFilter) -> list[tuple[Any, ...]]:
    """Rows in ``SCENARIO_READ_COLUMNS`` order with result NULL, newest created_at first (then by
    id, descending, in code-point order as SQLite sorts)."""
    query = _selected(table, with_result=False)
    if selected.status is not None:
        query = query.where(table.c.status == selected.status)
    if selected.incident_id is not None:
        query = query.where(table.c.incident_id == selected.incident_id)
    if selected.bbox is not None:
        query = query.where(func.ST_Intersects(table.c.footprint, func.ST_MakeEnvelope(*selected.bbox, STORE_EPSG)))
    query = query.order_by(table.c.created_at.desc(), table.c.id.collate("C").desc()).limit(selected.limit)
    return [tuple(r) for r in connection.execute(query)]
