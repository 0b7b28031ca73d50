"""Create the catalogue's layer tables with GiST indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The tables are built from the catalogue as it stands at this revision. A later change to a layer's
fields needs a new revision with explicit ``op.add_column``/``op.alter_column`` steps.
"""

from alembic import op

from layers.store.pg_tables import build_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    build_metadata(schema).create_all(bind=op.get_bind())


def downgrade(schema: str) -> None:
    build_metadata(schema).drop_all(bind=op.get_bind())
