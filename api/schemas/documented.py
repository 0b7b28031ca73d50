"""How a route declares its success schema without FastAPI filtering its body.

A route that builds its body itself says ``**documented(Model, "…")``: ``response_model=None,
response_class=DocumentedJSON, responses={200: Model}``. The OpenAPI document shows ``Model``, and
the body goes out as the route built it — no field dropped, none added, nothing coerced.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pydantic_core
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]
"""The ``responses=`` argument of a FastAPI route."""


class DocumentedJSON(JSONResponse):
    """A JSON answer rendered exactly as FastAPI renders a ``dict[str, Any]`` return value
    (pydantic's serializer: compact, UTF-8, NaN and ±Infinity as ``null``), for the routes whose
    schema comes from ``responses=`` rather than from a response model."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content, inf_nan_mode="null")


class RouteDocs(TypedDict):
    """The keywords of a FastAPI route that ``documented`` fills."""

    response_model: None
    response_class: type[JSONResponse]
    responses: Responses


def documented(model: type[BaseModel], description: str, *, status: int = 200, also: Responses | None = None) -> RouteDocs:
    """The route keywords declaring ``model`` as the body of the ``status`` answer, followed by
    the answers ``also`` declares (``ACCEPTED``, ``GONE``…), the body sent as ``DocumentedJSON``."""
    return {
        "response_model": None,
        "response_class": DocumentedJSON,
        "responses": {status: {"model": model, "description": description}, **(also or {})},
    }
