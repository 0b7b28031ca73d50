"""Add the account tables: users, api_tokens, sessions, shares, audit_log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op

from layers.store.account_tables import accounts_metadata

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    accounts_metadata(schema).create_all(bind=op.get_bind(), checkfirst=True)


def downgrade(schema: str) -> None:
    accounts_metadata(schema).drop_all(bind=op.get_bind(), checkfirst=True)
