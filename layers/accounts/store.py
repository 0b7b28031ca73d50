"""Accounts, roles, sessions, API tokens, share links and the audit log.

Kept with the layers: in the PostGIS store's schema (tables made by Alembic revision 0004), or
inside the GeoPackage file itself (tables made in ``layers/store/gpkg_accounts.py``; an older store's
``<name>.accounts.sqlite`` is adopted on open). One SQLAlchemy Core implementation serves both.
Passwords are hashed with Argon2 (argon2-cffi); session ids, API
tokens and share tokens are random (``secrets``, ≥ 128 bits), stored only as SHA-256 hashes and
compared in constant time. Nothing secret is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from layers.accounts.tables import AuditLine, accounts_metadata
from layers.errors import InputError, NotFoundError, StoreError
from layers.settings import Settings
from layers.store import Store, open_store

Role = Literal["sensor", "viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
"""Roles, least to most: viewer reads layers; editor also writes incidents, closures, levels,
imports and shares; admin also manages users."""
ACCOUNT_ROLES: tuple[Role, ...] = ("sensor", *ROLES)
"""Every role an account may have: ``sensor`` (a gauge platform's account) may write observations
and nothing else, not even read: it stands outside the viewer < editor < admin ladder."""
TOKEN_BYTES = 24
"""Random bytes in a session id, API token or share token: 192 bits."""
SESSION_HOURS = 12
SHARE_DEFAULT_HOURS = 24
SHARE_MAX_HOURS = 7 * 24
_HASHER = PasswordHasher()


def role_at_least(role: str, needed: Role) -> bool:
    """Whether ``role`` includes the rights of ``needed``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh unguessable token (192 bits from the OS CSPRNG, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class Share:
    """A share link's record (its token is known only to whoever created it)."""

    id: str
    title: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    scope: list[str]
    snapshot: dict[str, Any]

    def state(self, now: datetime | None = None) -> Literal["active", "expired", "revoked"]:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (now or datetime.now(UTC)) >= self.expires_at else "active"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(), "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "scope": self.scope, "state": self.state()}


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_username(name: str) -> str:
    name = name.strip()
    if not (1 <= len(name) <= 64) or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise InputError(f"user name {name!r}: 1-64 letters, digits or . _ - @")
    return name


def check_password(password: str) -> str:
    if len(password) < 10:
        raise InputError("the password must be at least 10 characters")
    if len(password) > 1024 or "\x00" in password:
        raise InputError("the password must be at most 1,024 characters, without NUL")
    return password


class AccountStore:
    """Users, sessions, tokens, shares and the audit log of one onemap store."""

    def __init__(self, engine: Engine, *, schema: str | None) -> None:
        self.engine = engine
        self.metadata = accounts_metadata(schema)
        self.t = self.metadata.tables
        self._prefix = f"{schema}." if schema else ""
        if engine.dialect.name == "sqlite":
            self.metadata.create_all(engine, checkfirst=True)  # PostgreSQL: Alembic revision 0004

    @classmethod
    def for_settings(cls, settings: Settings, *, store: Store | None = None) -> AccountStore:
        """The account store beside ``settings.store``.

        ``store``: that store, already open; opening it made or upgraded the account tables (and
        adopted an old GeoPackage's sidecar). Without it, the store is opened here for that, once."""
        if store is None:
            with open_store(settings):
                pass
        if settings.is_postgis:
            from layers.store.postgis import sqlalchemy_url

            return cls(create_engine(sqlalchemy_url(settings.store), pool_pre_ping=True), schema=settings.pg_schema)
        path = Path(settings.store)
        return cls(create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False}), schema=None)

    def _table(self, name: str) -> Table:
        return self.t[self._prefix + name]

    def close(self) -> None:
        self.engine.dispose()

    # --- users -----------------------------------------------------------------------------------

    def _audit(self, connection: Connection, audit: AuditLine | None) -> None:
        """``audit`` in the caller's transaction: the change and its line commit together."""
        if audit is not None:
            connection.execute(insert(self._table("audit_log")).values(audit.row()))

    def add_user(self, username: str, password: str, role: str, *, audit: AuditLine | None = None) -> User:
        if role not in ACCOUNT_ROLES:
            raise InputError(f"role must be one of {', '.join(ACCOUNT_ROLES)}, got {role!r}")
        username = _check_username(username)
        record = {"username": username, "password_hash": _HASHER.hash(check_password(password)), "role": role, "created_at": datetime.now(UTC), "disabled": False}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(self._table("users")).values(**record))
                self._audit(connection, audit)
        except IntegrityError:
            raise InputError(f"user {username!r} exists already") from None
        except SQLAlchemyError as error:
            raise StoreError(f"cannot write the account store: {error.__class__.__name__}") from error
        return User(username, role, record["created_at"])  # type: ignore[arg-type]

    def set_password(self, username: str, password: str, *, audit: AuditLine | None = None) -> int:
        """A new password; every session and API token of the user stops working with the old
        one (a changed password is often a leaked one). Returns how many were ended."""
        digest = _HASHER.hash(check_password(password))
        with self.engine.begin() as connection:
            done = connection.execute(update(self._table("users")).where(self._table("users").c.username == username).values(password_hash=digest))
            if not done.rowcount:
                raise NotFoundError(f"no user {username!r}")
            ended = self._end_credentials(connection, username)
            self._audit(connection, audit)
        return ended

    def _end_credentials(self, connection: Connection, username: str) -> int:
        sessions, tokens = self._table("sessions"), self._table("api_tokens")
        ended = connection.execute(sessions.delete().where(sessions.c.username == username)).rowcount
        ended += connection.execute(update(tokens).where(tokens.c.username == username, tokens.c.revoked.is_(False)).values(revoked=True)).rowcount
        return int(ended)

    def disable_user(self, username: str, *, audit: AuditLine | None = None) -> int:
        """The user can no longer log in; their sessions end and their API tokens are revoked.
        Returns how many sessions and tokens were ended."""
        users = self._table("users")
        with self.engine.begin() as connection:
            done = connection.execute(update(users).where(users.c.username == username).values(disabled=True))
            if not done.rowcount:
                raise NotFoundError(f"no user {username!r}")
            ended = self._end_credentials(connection, username)
            self._audit(connection, audit)
        return ended

    def users(self) -> list[User]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(self._table("users")).order_by(self._table("users").c.username)).mappings().all()
        return [User(r["username"], r["role"], _utc(r["created_at"]), bool(r["disabled"])) for r in rows]  # type: ignore[arg-type]

    def user(self, username: str) -> User | None:
        return next((u for u in self.users() if u.username == username), None)

    def verify_password(self, username: str, password: str) -> User | None:
        """The user when the password is right (and the account enabled), else None. Unknown
        names take as long as known ones: a dummy hash is checked."""
        row = None
        if "\x00" not in username:  # no account has one; PostgreSQL text cannot even hold it
            with self.engine.connect() as connection:
                row = connection.execute(select(self._table("users")).where(self._table("users").c.username == username)).mappings().first()
        stored = row["password_hash"] if row else _dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row["disabled"]:
            return None
        return User(row["username"], row["role"], _utc(row["created_at"]))  # type: ignore[arg-type]

    # --- sessions and API tokens -----------------------------------------------------------------

    def new_session(self, username: str) -> str:
        """A session id for ``username`` (valid ``SESSION_HOURS``); expired sessions are purged."""
        token = new_token()
        now = datetime.now(UTC)
        sessions = self._table("sessions")
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.expires_at <= now))
            connection.execute(insert(self._table("sessions")).values(session_hash=token_hash(token), username=username, created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
        return token

    def end_session(self, token: str) -> None:
        table = self._table("sessions")
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.session_hash == token_hash(token)))

    def new_api_token(self, username: str, label: str = "api", *, audit: AuditLine | None = None) -> str:
        if self.user(username) is None:
            raise NotFoundError(f"no user {username!r}")
        token = new_token()
        with self.engine.begin() as connection:
            connection.execute(insert(self._table("api_tokens")).values(token_hash=token_hash(token), username=username, label=label[:200], created_at=datetime.now(UTC), revoked=False))
            self._audit(connection, audit)
        return token

    def tokens(self, username: str) -> list[dict[str, Any]]:
        """The user's API tokens: id, label, created_at, revoked (never the token itself)."""
        if self.user(username) is None:
            raise NotFoundError(f"no user {username!r}")
        table = self._table("api_tokens")
        with self.engine.connect() as connection:
            rows = connection.execute(select(table.c.id, table.c.label, table.c.created_at, table.c.revoked).where(table.c.username == username).order_by(table.c.id)).mappings().all()
        return [{"id": r["id"], "label": r["label"], "created_at": _utc(r["created_at"]), "revoked": bool(r["revoked"])} for r in rows]

    def revoke_token(self, token_id: int, *, audit: AuditLine | None = None) -> str:
        """Revoke one API token by its id; returns whose it was."""
        table = self._table("api_tokens")
        with self.engine.begin() as connection:
            row = connection.execute(select(table.c.username, table.c.revoked).where(table.c.id == token_id)).first()
            if row is None:
                raise NotFoundError(f"no API token with id {token_id} (onemap user tokens NAME lists them)")
            if row.revoked:
                raise InputError(f"API token {token_id} of {row.username} was already revoked")
            connection.execute(update(table).where(table.c.id == token_id).values(revoked=True))
            self._audit(connection, audit)
        return str(row.username)

    def user_for(self, token: str, *, kind: Literal["session", "api"]) -> User | None:
        """The enabled user a session id or API token belongs to; None when unknown or expired."""
        digest = token_hash(token)
        users = self._table("users")
        if kind == "session":
            table = self._table("sessions")
            query = select(table.c.session_hash.label("digest"), table.c.expires_at, users).join(users, users.c.username == table.c.username).where(table.c.session_hash == digest)
        else:
            table = self._table("api_tokens")
            query = select(table.c.token_hash.label("digest"), table.c.revoked, users).join(users, users.c.username == table.c.username).where(table.c.token_hash == digest)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(row["digest"], digest) or row["disabled"]:
            return None
        if kind == "session" and _utc(row["expires_at"]) <= datetime.now(UTC):  # type: ignore[operator]
            return None
        if kind == "api" and row["revoked"]:
            return None
        return User(row["username"], row["role"], _utc(row["created_at"]))  # type: ignore[arg-type]

    # --- shares ---------------------------------------------------------------------------------

    def add_share(self, *, title: str, created_by: str, hours: float, scope: list[str], snapshot: dict[str, Any], audit_detail: dict[str, Any] | None = None) -> tuple[Share, str]:
        """Store a share; returns it and its token (shown once: only its hash is kept). With
        ``audit_detail``, the audit line (by ``created_by``) commits with it."""
        if not 0 < hours <= SHARE_MAX_HOURS:
            raise InputError(f"expires_hours must be more than 0 and at most {SHARE_MAX_HOURS} (7 days), got {hours:g}")
        token = new_token()
        now = datetime.now(UTC)
        share = Share(secrets.token_hex(8), title[:200], created_by, now, now + timedelta(hours=hours), None, scope, snapshot)
        with self.engine.begin() as connection:
            connection.execute(insert(self._table("shares")).values(
                id=share.id, token_hash=token_hash(token), title=share.title, created_by=created_by, created_at=now, expires_at=share.expires_at,
                revoked_at=None, scope=json.dumps(scope), snapshot=json.dumps(snapshot, ensure_ascii=False)))
            if audit_detail is not None:
                self._audit(connection, AuditLine(created_by, "create", "shares", after=[share.id], detail={**audit_detail, "scope": scope, "expires_at": share.expires_at.isoformat()}))
        return share, token

    def _share(self, row: Any) -> Share:
        return Share(row["id"], row["title"], row["created_by"], _utc(row["created_at"]), _utc(row["expires_at"]), _utc(row["revoked_at"]),  # type: ignore[arg-type]
                     json.loads(row["scope"]), json.loads(row["snapshot"]))

    def share_for_token(self, token: str) -> Share | None:
        """The share a token opens (whatever its state), or None; compared in constant time."""
        digest = token_hash(token)
        table = self._table("shares")
        with self.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.token_hash == digest)).mappings().first()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        return self._share(row)

    def shares(self) -> list[Share]:
        table = self._table("shares")
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.created_at.desc())).mappings().all()
        return [self._share(r) for r in rows]

    def revoke_share(self, share_id: str, *, audit: AuditLine | None = None) -> Share:
        if "\x00" in share_id:
            raise NotFoundError(f"no share link {share_id!r}")
        table = self._table("shares")
        with self.engine.begin() as connection:
            done = connection.execute(update(table).where(table.c.id == share_id, table.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC)))
            row = connection.execute(select(table).where(table.c.id == share_id)).mappings().first()
            if done.rowcount:
                self._audit(connection, audit)
        if row is None:
            raise NotFoundError(f"no share link {share_id!r}")
        if not done.rowcount:
            raise InputError(f"share link {share_id} was already revoked")
        return self._share(row)

    # --- audit ----------------------------------------------------------------------------------

    def record(self, actor: str, action: str, target: str, *, before: list[str] | None = None, after: list[str] | None = None, detail: dict[str, Any] | None = None) -> None:
        """Append one line to the audit log on its own: for account changes. A change to a layer
        passes its ``AuditLine`` to the store instead, which commits both together."""
        with self.engine.begin() as connection:
            connection.execute(insert(self._table("audit_log")).values(AuditLine(actor, action, target, before or [], after or [], detail or {}).row()))

    def audit(self, limit: int = 1000) -> list[dict[str, Any]]:
        table = self._table("audit_log")
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.id.desc()).limit(limit)).mappings().all()
        return [{"at": _utc(r["at"]).isoformat(), "actor": r["actor"], "action": r["action"], "target": r["target"],  # type: ignore[union-attr]
                 "before_ids": json.loads(r["before_ids"]), "after_ids": json.loads(r["after_ids"]), "detail": json.loads(r["detail"])} for r in rows]


@cache
def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown names; made on first use, not at import
    (an Argon2 hash costs ~0.1 s of CPU in every process that imports this module)."""
    return _HASHER.hash(secrets.token_urlsafe(16))
