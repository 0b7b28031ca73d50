"""Who is asking, and may they: sessions (cookie, for the pages), bearer tokens (for the API),
roles as route dependencies, the login page, users and the audit log for admins. The limit on
failed attempts lives in ``api/rate_limit.py``.

Roles: ``viewer`` reads layers and analyses; ``editor`` also writes (incidents, closures, levels,
shares); ``admin`` also manages users and reads the audit log. Restricted fields go only to
editors and admins. With ``ONEMAP_AUTH=off`` everybody is an admin (tests, one user on loopback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from layers.accounts.store import ACCOUNT_ROLES, AccountStore, Role, role_at_least
from layers.accounts.tables import AuditLine
from layers.errors import AuthError, ForbiddenError, InputError
from web.login_page import login_page_html

from .dependencies import from_state
from .rate_limit import FailureLimiter, client_of
from .schemas import AuditLog, CreatedUser, Me, Users, documented

SESSION_COOKIE = "onemap_session"
OPEN = "open"


@dataclass(frozen=True)
class Principal:
    """The caller: a user (by session or token), or everybody when auth is off."""

    username: str
    role: Role

    @property
    def sees_restricted(self) -> bool:
        return role_at_least(self.role, "editor")


get_accounts = from_state("accounts", AccountStore)


get_limiter = from_state("failures", FailureLimiter)


def current_principal(request: Request) -> Principal | None:
    """The caller, from a bearer token or the session cookie; None when anonymous. A wrong token
    or session counts as a failed attempt."""
    if request.app.state.settings.auth == "off":
        return Principal(OPEN, "admin")
    accounts, limiter, client = get_accounts(request), get_limiter(request), client_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization must be 'Bearer <token>' (create a token with `onemap user token NAME`)")
        user = accounts.user_for(token.strip(), kind="api")
        if user is None:  # only a bad token meets the limit: a valid one is never refused
            limiter.check("token", client)
            limiter.fail("token", client)
            raise AuthError("the bearer token is unknown or revoked")
        return Principal(user.username, user.role)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = accounts.user_for(cookie, kind="session")
        if user is not None:
            return Principal(user.username, user.role)
        limiter.check("session", client)
        limiter.fail("session", client)
    return None


def require(role: Role) -> Any:
    """A dependency: the caller must have at least ``role``."""

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise AuthError("log in first (the /login page), or send 'Authorization: Bearer <token>'")
        if not role_at_least(principal.role, role):
            raise ForbiddenError(f"{principal.username} is a {principal.role}; this needs the {role} role")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return Depends(dependency)


def require_observation_writer(request: Request) -> Principal:
    """A dependency: a sensor account, or an editor and up, may write observations."""
    principal = current_principal(request)
    if principal is None:
        raise AuthError("send 'Authorization: Bearer <token>' of a sensor account (onemap user add NAME --role sensor; onemap user token NAME)")
    if principal.role != "sensor" and not role_at_least(principal.role, "editor"):
        raise ForbiddenError(f"{principal.username} is a {principal.role}; writing observations needs the sensor or editor role")
    request.state.principal = principal
    return principal


RequireViewer = require("viewer")
RequireEditor = require("editor")
RequireAdmin = require("admin")
ViewerDep = Annotated[Principal, RequireViewer]
EditorDep = Annotated[Principal, RequireEditor]
AdminDep = Annotated[Principal, RequireAdmin]
AccountsDep = Annotated[AccountStore, Depends(get_accounts)]

router = APIRouter(tags=["Accounts"])


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/map"
    return target


def login_page(message: str = "", target: str = "/map", status: int = 200) -> HTMLResponse:
    return HTMLResponse(login_page_html(message, _safe_next(target)), status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse, summary="Log-in page", include_in_schema=False)
def login_form(next: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return login_page(target=_safe_next(next))


@router.post("/login", summary="Log in (form): sets the session cookie", include_in_schema=False)
def login(request: Request, accounts: AccountsDep, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)], next: Annotated[str | None, Form(max_length=500)] = None) -> Response:
    limiter, client = get_limiter(request), client_of(request)
    limiter.check("login", client, username)  # this user from this address only
    user = accounts.verify_password(username, password)
    if user is None:
        limiter.fail("login", client, username)
        return login_page("用户名或密码错误 (wrong user name or password)", _safe_next(next), status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, accounts.new_session(user.username), httponly=True, samesite="lax", secure=request.app.state.settings.cookie_secure, max_age=12 * 3600)
    accounts.record(user.username, "login", "session")
    return response


@router.post("/logout", summary="Log out: ends the session", include_in_schema=False)
def logout(request: Request, accounts: AccountsDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.end_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/auth/me", summary="Who am I: user name and role", **documented(Me, "The caller"))
def me(principal: ViewerDep) -> dict[str, Any]:
    return {"username": principal.username, "role": principal.role, "sees_restricted": principal.sees_restricted}


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=10, max_length=1024)
    role: Role = "viewer"


@router.get("/users", summary="Users and their roles (admin)", **documented(Users, "Every account and the roles"))
def users(principal: AdminDep, accounts: AccountsDep) -> dict[str, Any]:
    return {"users": [{"username": u.username, "role": u.role, "created_at": u.created_at.isoformat(), "disabled": u.disabled} for u in accounts.users()], "roles": list(ACCOUNT_ROLES)}


@router.post("/users", status_code=201, summary="Create a user (admin)", **documented(CreatedUser, "The account made", status=201))
def add_user(body: UserIn, principal: AdminDep, accounts: AccountsDep) -> dict[str, Any]:
    user = accounts.add_user(body.username, body.password, body.role, audit=AuditLine(principal.username, "create", "users", after=[body.username.strip()], detail={"role": body.role}))
    return {"username": user.username, "role": user.role}


@router.get("/audit", summary="The audit log, newest first (admin)", **documented(AuditLog, "The newest entries first"))
def audit(principal: AdminDep, accounts: AccountsDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> dict[str, Any]:
    return {"entries": accounts.audit(limit)}


def login_redirect(request: Request) -> RedirectResponse | None:
    """For a browser asking for a page without a session: the login page, then back."""
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    return None


def check_serving_address(host: str, auth: str) -> None:
    """Refuse to serve with auth off on anything but loopback."""
    if auth == "off" and host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError(f"ONEMAP_AUTH=off serves everything to everybody: only on 127.0.0.1, not on {host}. Create users (onemap user add) and leave auth on.")
