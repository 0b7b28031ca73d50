"""Label roads.declared_length_m as the catalogue does (0006 added the column without it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Found by the schema-evolution test that compares a fresh schema with the catalogue.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    op.execute(f"COMMENT ON COLUMN \"{schema}\".roads.declared_length_m IS '台账长度 (m)'")


def downgrade(schema: str) -> None:
    op.execute(f'COMMENT ON COLUMN "{schema}".roads.declared_length_m IS NULL')
