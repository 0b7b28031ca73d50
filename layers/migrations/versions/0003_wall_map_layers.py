"""Add the water_bodies (offline basemap) and road_closures (live closures) layers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

A store created before these layers existed gets their tables here; on a fresh database 0001
already built them from the catalogue, and ``checkfirst`` makes this a no-op.
"""

from alembic import op

from layers.store.pg_tables import build_metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("water_bodies", "road_closures")


def upgrade(schema: str) -> None:
    tables = build_metadata(schema).tables
    for name in TABLES:
        tables[f"{schema}.{name}"].create(bind=op.get_bind(), checkfirst=True)


def downgrade(schema: str) -> None:
    tables = build_metadata(schema).tables
    for name in TABLES:
        tables[f"{schema}.{name}"].drop(bind=op.get_bind(), checkfirst=True)
