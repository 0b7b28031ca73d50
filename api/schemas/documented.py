"""How a route declares its success schema without FastAPI filtering its body.

A route that builds its body itself says ``response_model=None, response_class=DocumentedJSON,
responses=documented(Model, "…")``: the OpenAPI document shows ``Model``, and the body goes out as
the route built it — no field dropped, none added, nothing coerced.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]
"""The ``responses=`` argument of a FastAPI route."""


def documented(model: type[BaseModel], description: str, *, status: int = 200) -> Responses:
    """The ``responses=`` entry declaring ``model`` as the body of a ``status`` answer."""
    return {status: {"model": model, "description": description}}


class DocumentedJSON(JSONResponse):
    """A JSON answer rendered exactly as FastAPI renders a ``dict[str, Any]`` return value
    (pydantic's serializer: compact, UTF-8, NaN and ±Infinity as ``null``), for the routes whose
    schema comes from ``responses=`` rather than from a response model."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content, inf_nan_mode="null")
