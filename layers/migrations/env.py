"""Alembic environment: runs on the connection and schema that ``layers.store.postgis`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

config = context.config
connection = config.attributes["connection"]
schema = config.attributes["schema"]

# One migrator at a time, across processes: a transaction-scoped advisory lock.
connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"onemap-migrate-{schema}"})
connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
context.configure(connection=connection, version_table_schema=schema, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations(schema=schema)
