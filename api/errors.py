"""The one table from domain errors to HTTP statuses, and the handlers that apply it.

The body follows OGC API's exception shape: ``{"code": …, "description": …}``. Users see the
domain error's own message; an unexpected exception is logged in full and answered with a 500
that says only that it is a bug.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from layers.errors import (
    AuthError,
    ForbiddenError,
    GoneError,
    InputError,
    NotFoundError,
    OnemapError,
    PreconditionFailed,
    StoreError,
    TooManyAttemptsError,
    UnknownLayerError,
    UnsupportedMediaTypeError,
)
from layers.services.jobs import RETRY_AFTER_S as JOB_RETRY_AFTER_S
from layers.services.jobs import Computing
from layers.services.warning import RepeatedStep

logger = logging.getLogger(__name__)

ERROR_STATUS: list[tuple[type[OnemapError], int, str]] = [
    # Most specific first: the first matching class wins.
    (AuthError, 401, "Unauthorized"),
    (ForbiddenError, 403, "Forbidden"),
    (TooManyAttemptsError, 429, "TooManyRequests"),
    (GoneError, 410, "Gone"),
    (PreconditionFailed, 412, "PreconditionFailed"),
    (UnknownLayerError, 404, "NotFound"),
    (UnsupportedMediaTypeError, 415, "UnsupportedMediaType"),
    (NotFoundError, 404, "NotFound"),
    (RepeatedStep, 409, "Conflict"),
    (InputError, 400, "InvalidParameterValue"),
    (StoreError, 503, "StoreUnavailable"),
    (OnemapError, 400, "InvalidRequest"),
]


def status_for(error: OnemapError) -> tuple[int, str]:
    """HTTP status and OGC exception code of a domain error."""
    for error_class, status, code in ERROR_STATUS:
        if isinstance(error, error_class):
            return status, code
    return 400, "InvalidRequest"


class ErrorBody(BaseModel):
    """Every error answer: an OGC API exception code and a message that says what to do."""

    code: str
    description: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    # application/json named outright: routes that answer GeoJSON still answer errors as JSON.
    status: {"model": ErrorBody, "description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for status, text in (
        (400, "The request is wrong: the description names the parameter and what to send"),
        (401, "No valid credentials: log in, or send Authorization: Bearer <token>"),
        (403, "The role does not allow this"),
        (404, "No such layer, feature or link"),
        (413, "The body is larger than ONEMAP_MAX_BODY_MB"),
        (415, "The body is not in the format the route reads (it says which Content-Type to send)"),
        (429, "Too many failed attempts from this client: wait"),
        (503, "The store is unavailable (database down, disk full or read-only): try again after Retry-After"),
    )
}
"""The error statuses any route may answer, declared once for the whole OpenAPI document."""

RETRY_AFTER_S = 10
"""What a 503 asks the client to wait before trying again (seconds)."""
LOCKOUT_RETRY_AFTER_S = 60
"""What a 429 (too many failed attempts) asks the client to wait (seconds)."""


def error_response(status: int, code: str, description: str) -> JSONResponse:
    response = JSONResponse(status_code=status, content={"code": code, "description": description})
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    elif status == 429:
        response.headers["Retry-After"] = str(LOCKOUT_RETRY_AFTER_S)
    return response


def _validation_details(error: RequestValidationError) -> tuple[str, list[dict[str, object]]]:
    """The problems of a request, each by location and message. The submitted values are never
    echoed back (a password in a form must not come back in a 422 body), and any body — text,
    a form, bytes — is described without being decoded as JSON."""
    items: list[dict[str, object]] = []
    parts: list[str] = []
    for item in error.errors():
        location = [str(p) for p in item.get("loc", ())]
        message = str(item.get("msg", ""))
        items.append({"loc": location, "msg": message, "type": str(item.get("type", ""))})
        parts.append(f"{'.'.join(p for p in location if p != 'query')}: {message}")
    return "; ".join(parts), items


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OnemapError)
    async def _domain_error(request: Request, error: OnemapError) -> Response:
        if isinstance(error, AuthError):
            from .auth import login_redirect

            redirect = login_redirect(request)
            if redirect is not None:
                return redirect
        status, code = status_for(error)
        description = error.public if isinstance(error, StoreError) else str(error)  # no database address to clients
        if status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, error)
            if isinstance(error, StoreError) and status == 503:
                description = f"{description}; try again in {RETRY_AFTER_S} s"
        response = error_response(status, code, description)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="onemap"'
        return response

    @app.exception_handler(Computing)
    async def _computing(request: Request, error: Computing) -> JSONResponse:
        # Not an error: the analysis runs in the background; the client asks again.
        return JSONResponse(status_code=202, content=error.job.as_dict(), headers={"Retry-After": str(JOB_RETRY_AFTER_S), "Cache-Control": "no-store"})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        details, items = _validation_details(error)
        return JSONResponse(status_code=422, content={"code": "InvalidParameterValue", "description": details, "detail": items})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        # FastAPI's own (a body it cannot parse, 404 of an unknown path, 405): the same shape as ours.
        codes = {400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        detail = error.detail if isinstance(error.detail, str) else "invalid request"
        if error.status_code == 400 and "parsing the body" in detail:
            detail = "the request body could not be read as JSON: send Content-Type: application/json and a JSON document"
        response = error_response(error.status_code, codes.get(error.status_code, "InvalidRequest"), detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, error: RecursionError) -> JSONResponse:
        return error_response(400, "InvalidParameterValue", "the request body is nested too deeply: send flat JSON (GeoJSON needs a few levels, not thousands)")

    @app.exception_handler(sqlalchemy.exc.DBAPIError)
    async def _database_down(request: Request, error: sqlalchemy.exc.DBAPIError) -> JSONResponse:
        if not isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) and not error.connection_invalidated:
            logger.exception("database error on %s %s", request.method, request.url.path)
            return error_response(500, "ServerError", "internal error (a bug in onemap; the server log has the details)")
        logger.error("%s %s: the database is unavailable: %s", request.method, request.url.path, str(error).splitlines()[0])
        return error_response(503, "StoreUnavailable", f"the database is unavailable right now; try again in {RETRY_AFTER_S} s")

    @app.exception_handler(sqlite3.OperationalError)
    async def _store_file(request: Request, error: sqlite3.OperationalError) -> JSONResponse:
        reason = str(error)
        logger.error("%s %s: the GeoPackage store failed: %s", request.method, request.url.path, reason)
        if any(word in reason for word in ("readonly", "read-only", "disk", "full", "locked", "I/O")):
            return error_response(503, "StoreUnavailable", f"the store cannot be written or read right now ({reason}): check the disk is not full or read-only, then try again")
        return error_response(503, "StoreUnavailable", f"the store failed ({reason}); try again")

    @app.exception_handler(OSError)
    async def _disk(request: Request, error: OSError) -> JSONResponse:
        logger.error("%s %s: %s", request.method, request.url.path, error)
        return error_response(503, "StoreUnavailable", f"the server cannot read or write its files ({error.strerror or error}): check the disk is not full or read-only")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "ServerError", "internal error (a bug in onemap; the server log has the details)")
