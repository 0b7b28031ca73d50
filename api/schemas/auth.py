"""Accounts: who is asking, the users and roles, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from layers.accounts.store import Role


class Me(BaseModel):
    """``GET /auth/me``: the caller (``open``, an admin, when ONEMAP_AUTH=off)."""

    username: str
    role: Role
    sees_restricted: bool = Field(description="Whether restricted fields are sent to this caller (editors and admins).")


class UserRow(BaseModel):
    username: str
    role: Role
    created_at: datetime = Field(description="When the account was made (ISO 8601, UTC).")
    disabled: bool


class Users(BaseModel):
    """``GET /users``: every account, by user name, and the roles there are."""

    users: list[UserRow]
    roles: list[Role] = Field(description="The roles: sensor (writes observations only), then viewer < editor < admin.")


class CreatedUser(BaseModel):
    """``POST /users``: the account made (its password is never sent back)."""

    username: str
    role: Role


class AuditEntry(BaseModel):
    """One line of the audit log: who did what to which ids."""

    at: datetime = Field(description="When (ISO 8601, UTC).")
    actor: str = Field(description="User name (or the CLI's user@host).")
    action: str = Field(description="create, update, lift, import, revoke, login, passwd, disable, …")
    target: str = Field(description="Layer or account table: incidents, users, shares, api_tokens, …")
    before_ids: list[str] = Field(description="Ids of the rows before the change.")
    after_ids: list[str] = Field(description="Ids of the rows after the change.")
    detail: dict[str, Any] = Field(description="What the action recorded besides the ids (fields set, role, scope, …); differs per action.")


class AuditLog(BaseModel):
    """``GET /audit``: the newest entries first."""

    entries: list[AuditEntry]
