"""The one table from domain errors to HTTP statuses, and the handlers that apply it.

The body follows OGC API's exception shape: ``{"code": …, "description": …}``. Users see the
domain error's own message; an unexpected exception is logged in full and answered with a 500
that says only that it is a bug.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from layers.errors import (
    AuthError,
    ForbiddenError,
    GoneError,
    InputError,
    NotFoundError,
    OnemapError,
    StoreError,
    TooManyAttemptsError,
    UnknownLayerError,
)

logger = logging.getLogger(__name__)

ERROR_STATUS: list[tuple[type[OnemapError], int, str]] = [
    # Most specific first: the first matching class wins.
    (AuthError, 401, "Unauthorized"),
    (ForbiddenError, 403, "Forbidden"),
    (TooManyAttemptsError, 429, "TooManyRequests"),
    (GoneError, 410, "Gone"),
    (UnknownLayerError, 404, "NotFound"),
    (NotFoundError, 404, "NotFound"),
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


def error_response(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": code, "description": description})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OnemapError)
    async def _domain_error(request: Request, error: OnemapError) -> Response:
        if isinstance(error, AuthError):
            from .auth import login_redirect

            redirect = login_redirect(request)
            if redirect is not None:
                return redirect
        status, code = status_for(error)
        if status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, error)
        response = error_response(status, code, str(error))
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="onemap"'
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()) if p != 'query')}: {item.get('msg')}" for item in error.errors()
        )
        return JSONResponse(status_code=422, content={"code": "InvalidParameterValue", "description": details, "detail": error.errors()})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "ServerError", "internal error (a bug in onemap; the server log has the details)")
