"""Add roads.declared_length_m: the ledger's own length of an edge, used for travel times.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Spelled out as it is at this revision. On a fresh database 0001 already built the roads table
from the catalogue with the column, and the check for an existing column makes this a no-op.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("roads", schema=schema)}
    if "declared_length_m" not in columns:
        op.add_column("roads", sa.Column("declared_length_m", sa.Float(), nullable=True), schema=schema)


def downgrade(schema: str) -> None:
    op.drop_column("roads", "declared_length_m", schema=schema)
