"""The account tables inside a GeoPackage store: users, API tokens, sessions, shares and the
audit log, made with the layers (schema version 2), and the adoption of an older store's
``<name>.accounts.sqlite`` sidecar.

Plain SQLite tables made from the SQLAlchemy metadata that ``layers.accounts`` reads and writes;
only the audit log is registered in ``gpkg_contents`` (as an attribute table). Times are UTC.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from layers.accounts.tables import ACCOUNT_TABLES, AuditLine, accounts_metadata
from layers.store.gpkg_sqlite import immediate_transaction, quote

logger = logging.getLogger(__name__)

_SQLITE = sqlite_dialect()
_ACCOUNTS = accounts_metadata(None)
SIDECAR_SUFFIX = ".accounts.sqlite"
"""Where accounts lived before they moved into the .gpkg (adopted, then renamed, on open)."""


def create_account_tables(cursor: sqlite3.Cursor) -> None:
    """Users, tokens, sessions, shares and the audit log live in the .gpkg itself: one file to
    back up, and a layer write commits with its audit line. (Plain tables: GDAL and QGIS list
    only the layers registered in gpkg_contents.)"""
    for table in _ACCOUNTS.sorted_tables:
        # TEXT(n), the GeoPackage spelling of a bounded string (GDAL warns on VARCHAR(n)).
        cursor.execute(str(CreateTable(table, if_not_exists=True).compile(dialect=_SQLITE)).replace("VARCHAR(", "TEXT("))
        for index in table.indexes:
            cursor.execute(str(CreateIndex(index, if_not_exists=True).compile(dialect=_SQLITE)))
    # The audit log registered as an attribute table: QGIS and ogrinfo show it, and with one
    # registered, GDAL lists no unregistered table (users, tokens, sessions stay out of view).
    cursor.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
        "VALUES ('audit_log', 'attributes', 'audit_log', '操作日志 audit log', strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
    )


def adopt_accounts_sidecar(connection: sqlite3.Connection, path: Path) -> None:
    """Accounts of an older store, kept in ``<name>.accounts.sqlite`` beside ``path``, are copied
    in (one transaction; rows already here win) and the sidecar is renamed ``….migrated``."""
    sidecar = path.with_suffix(SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return
    connection.execute("ATTACH DATABASE ? AS sidecar", (str(sidecar),))
    try:
        with immediate_transaction(connection) as cursor:
            have = {row[0] for row in cursor.execute("SELECT name FROM sidecar.sqlite_master WHERE type = 'table'")}
            for name in ACCOUNT_TABLES:
                if name not in have:
                    continue
                theirs = {row[1] for row in cursor.execute(f"PRAGMA sidecar.table_info({quote(name)})")}
                columns = ", ".join(quote(c.name) for c in _ACCOUNTS.tables[name].columns if c.name in theirs and not (name == "audit_log" and c.name == "id"))
                cursor.execute(f"INSERT OR IGNORE INTO main.{quote(name)} ({columns}) SELECT {columns} FROM sidecar.{quote(name)}")
    finally:
        connection.execute("DETACH DATABASE sidecar")
    sidecar.rename(sidecar.with_name(sidecar.name + ".migrated"))
    logger.warning("moved the accounts and audit log of %s into %s (the old file is now %s.migrated)", sidecar, path, sidecar.name)


def insert_audit_line(cursor: sqlite3.Cursor, line: AuditLine) -> None:
    """Append ``line`` to the audit log inside the caller's transaction."""
    row = line.row()
    as_text = _ACCOUNTS.tables["audit_log"].c.at.type.bind_processor(_SQLITE)  # SQLAlchemy's own text form
    if as_text is not None:
        row["at"] = as_text(row["at"])
    cursor.execute(f"INSERT INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
