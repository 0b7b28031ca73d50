"""Depot stocks in PostGIS: the plain table (migration 0009) and the SQL that writes and reads it
(``PostGISStore`` calls these on its own connections).

A write locks each depot of its batch first (a transaction-scoped advisory lock per depot, taken
in sorted order, so two writers never deadlock), then plans against the stored rows and applies
the plan: writers of different depots run side by side, writers of one depot one after the
other, and neither loses the other's rows. ``updated_at`` is the transaction's time, kept to the
millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    func,
    select,
    text,
    tuple_,
)

from layers.store.stock_rows import StockKey, StockPlan, StockRow, plan_stocks

DEPOT_STOCKS = "depot_stocks"
_NOW_MS = func.date_trunc("milliseconds", func.now())


def stock_metadata(schema: str | None) -> MetaData:
    """The table as SQLAlchemy metadata (what migration 0009 froze)."""
    metadata = MetaData(schema=schema)
    Table(
        DEPOT_STOCKS,
        metadata,
        Column("depot_id", Text, primary_key=True, comment="储备库编号"),
        Column("item", Text, primary_key=True, comment="物资"),
        Column("quantity", Float(precision=53), nullable=False, comment="数量"),
        Column("unit", Text, nullable=False, comment="单位"),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now(), comment="更新时间"),
        Column("updated_by", Text, comment="更新人"),
        comment="储备库存 / Depot stocks",
    )
    return metadata


def lock_depots(connection: Connection, schema: str, depot_ids: Sequence[str]) -> None:
    """Hold each depot's advisory lock until the transaction ends (sorted: no deadlock)."""
    for depot_id in sorted(set(depot_ids)):
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"onemap-depot-stocks:{schema}:{depot_id}"})


def write_stocks(connection: Connection, schema: str, table: Table, rows: Sequence[StockRow], actor: str, *, replace_depots: bool) -> StockPlan:
    """Lock the batch's depots, plan the checked ``rows`` against their stored rows and apply the
    plan inside the caller's transaction (deletes, inserts, updates with the time and ``actor``)."""
    depots = sorted({row[0] for row in rows})
    lock_depots(connection, schema, depots)
    stored: dict[StockKey, tuple[float, str]] = {}
    if depots:
        query = select(table.c.depot_id, table.c.item, table.c.quantity, table.c.unit).where(table.c.depot_id.in_(depots))
        stored = {(r[0], r[1]): (float(r[2]), r[3]) for r in connection.execute(query)}
    plan = plan_stocks(rows, stored, replace_depots=replace_depots)
    if plan.deletes:
        connection.execute(table.delete().where(tuple_(table.c.depot_id, table.c.item).in_(plan.deletes)))
    if plan.inserts:
        connection.execute(
            table.insert().values(updated_at=_NOW_MS),
            [{"depot_id": r[0], "item": r[1], "quantity": r[2], "unit": r[3], "updated_by": actor} for r in plan.inserts],
        )
    if plan.updates:
        statement = (
            table.update()
            .where(and_(table.c.depot_id == bindparam("b_depot_id"), table.c.item == bindparam("b_item")))
            .values(quantity=bindparam("quantity"), unit=bindparam("unit"), updated_at=_NOW_MS, updated_by=bindparam("updated_by"))
        )
        connection.execute(statement, [{"b_depot_id": r[0], "b_item": r[1], "quantity": r[2], "unit": r[3], "updated_by": actor} for r in plan.updates])
    return plan


def delete_stock(connection: Connection, schema: str, table: Table, key: StockKey) -> int:
    """Delete one (depot_id, item) under its depot's lock; returns 0 or 1."""
    lock_depots(connection, schema, [key[0]])
    return int(connection.execute(table.delete().where(and_(table.c.depot_id == key[0], table.c.item == key[1]))).rowcount)


def read_stocks(connection: Connection, table: Table, depot_ids: list[str] | None) -> list[tuple[Any, ...]]:
    """Rows (depot_id, item, quantity, unit, updated_at ms, updated_by) of the given depots (None:
    all), in no particular order."""
    epoch_ms = (func.extract("epoch", table.c.updated_at) * 1000).cast(BigInteger)
    query = select(table.c.depot_id, table.c.item, table.c.quantity, table.c.unit, epoch_ms, table.c.updated_by)
    if depot_ids is not None:
        query = query.where(table.c.depot_id.in_(depot_ids))
    return [tuple(r) for r in connection.execute(query)]


def stocks_version(connection: Connection, table: Table) -> str:
    """The row count and a sum of 64-bit hashes of every row's values, updated_at and updated_by:
    any committed change changes it, whatever order concurrent writers commit in (a time-based
    token would miss a write that started before another's and committed after it). One scan of
    a small table."""
    c = table.c
    separator = func.chr(31)
    row_text = func.concat_ws(separator, c.depot_id, c.item, c.quantity.cast(Text), c.unit, func.extract("epoch", c.updated_at).cast(Text), func.coalesce(c.updated_by, ""))
    count, digest = connection.execute(select(func.count(), func.coalesce(func.sum(func.hashtextextended(row_text, 0)), 0))).one()
    return f"postgis:depot_stocks:{count}:{digest}"
