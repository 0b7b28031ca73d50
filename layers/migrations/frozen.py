"""Running the frozen SQL of a revision: each revision lists its tables' statements as released
(``CREATE TABLE``, indexes, comments), with ``{schema}`` for the store's schema as a qualifier and
``{schema_name}`` where the name is part of an identifier (SQLAlchemy's index names)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_tables(tables: dict[str, tuple[str, ...]], schema: str, *, keep_existing: bool) -> None:
    """Run each table's statements; with ``keep_existing``, skip a table that is there already."""
    bind = op.get_bind()
    for name, statements in tables.items():
        if keep_existing and sa.inspect(bind).has_table(name, schema=schema):
            continue
        for statement in statements:
            op.execute(statement.replace("{schema_name}", schema).replace("{schema}", f'"{schema}"'))


def drop_tables(tables: dict[str, tuple[str, ...]], schema: str) -> None:
    for name in reversed(list(tables)):
        op.execute(f'DROP TABLE IF EXISTS "{schema}".{name} CASCADE')
