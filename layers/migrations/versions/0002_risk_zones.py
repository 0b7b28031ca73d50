"""Add the risk_zones layer (level polygons written by onemap risk).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

A store created at 0001 before this layer existed gets its table here; on a fresh database 0001
already built it from the catalogue, and ``checkfirst`` makes this a no-op.
"""

from alembic import op

from layers.store.pg_tables import build_metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "risk_zones"


def upgrade(schema: str) -> None:
    build_metadata(schema).tables[f"{schema}.{TABLE}"].create(bind=op.get_bind(), checkfirst=True)


def downgrade(schema: str) -> None:
    build_metadata(schema).tables[f"{schema}.{TABLE}"].drop(bind=op.get_bind(), checkfirst=True)
