"""The account tables (users, tokens, sessions, shares, audit log) and one audit line.

They live with the layers: in the PostGIS store's schema (Alembic revision 0004) and inside the
GeoPackage file itself, so that a write and the audit line recording it commit in one transaction
of one database (``Store.upsert_many(..., audit=...)``, ``Store.edit``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

ACCOUNT_TABLES = ("users", "api_tokens", "sessions", "shares", "audit_log")


def accounts_metadata(schema: str | None = None) -> MetaData:
    """The account tables, in ``schema`` (PostgreSQL) or none (SQLite)."""
    metadata = MetaData(schema=schema)
    Table("users", metadata,
          Column("username", String(64), primary_key=True),
          Column("password_hash", Text, nullable=False),
          Column("role", String(16), nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("disabled", Boolean, nullable=False, default=False))
    Table("api_tokens", metadata,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("token_hash", String(64), nullable=False, unique=True),
          Column("username", String(64), nullable=False, index=True),
          Column("label", String(200), nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("revoked", Boolean, nullable=False, default=False))
    Table("sessions", metadata,
          Column("session_hash", String(64), primary_key=True),
          Column("username", String(64), nullable=False, index=True),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("expires_at", DateTime(timezone=True), nullable=False))
    Table("shares", metadata,
          Column("id", String(32), primary_key=True),
          Column("token_hash", String(64), nullable=False, unique=True),
          Column("title", String(200), nullable=False),
          Column("created_by", String(64), nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("expires_at", DateTime(timezone=True), nullable=False),
          Column("revoked_at", DateTime(timezone=True), nullable=True),
          Column("scope", Text, nullable=False),
          Column("snapshot", Text, nullable=False))
    Table("audit_log", metadata,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("at", DateTime(timezone=True), nullable=False, index=True),
          Column("actor", String(100), nullable=False),
          Column("action", String(64), nullable=False),
          Column("target", String(100), nullable=False),
          Column("before_ids", Text, nullable=False),
          Column("after_ids", Text, nullable=False),
          Column("detail", Text, nullable=False))
    return metadata


@dataclass(frozen=True)
class AuditLine:
    """One line of the audit log: who did what to which ids. ``detail`` is JSON-serialisable."""

    actor: str
    action: str
    target: str
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self, at: datetime | None = None) -> dict[str, Any]:
        """The ``audit_log`` row (time in UTC; ids and detail as JSON text)."""
        return {
            "at": at or datetime.now(UTC),
            "actor": self.actor[:100],
            "action": self.action[:64],
            "target": self.target[:100],
            "before_ids": json.dumps(self.before, ensure_ascii=False),
            "after_ids": json.dumps(self.after, ensure_ascii=False),
            "detail": json.dumps(self.detail, ensure_ascii=False, default=str),
        }
