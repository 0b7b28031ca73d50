"""Shared route dependencies: the store and settings opened in the lifespan, and query parameters
that document themselves in OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from layers.errors import InputError
from layers.settings import Settings
from layers.store import BBox, Store

T = TypeVar("T")


def from_state(name: str, kind: type[T]) -> Callable[[Request], T]:
    """A dependency giving ``request.app.state.<name>`` (made once, in the app's lifespan) as a
    ``kind``: the one way routes reach the store, the services and the account store."""

    def dependency(request: Request) -> T:
        return cast(T, getattr(request.app.state, name))

    dependency.__name__ = f"get_{name}"
    return dependency


get_store = from_state("store", cast("type[Store]", Store))  # Store is abstract: any implementation


get_settings = from_state("settings", Settings)


def bbox_param(
    bbox: Annotated[
        str | None,
        Query(description="min_lon,min_lat,max_lon,max_lat in degrees (CRS84): features intersecting the box.", examples=["116.5,35.3,116.7,35.5"]),
    ] = None,
) -> BBox | None:
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(f"bbox={bbox!r}: must be four numbers min_lon,min_lat,max_lon,max_lat") from None
    if len(values) != 4:
        raise InputError(f"bbox={bbox!r}: must be four numbers (a 3-D bbox is not supported)")
    return (values[0], values[1], values[2], values[3])


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BBoxDep = Annotated[BBox | None, Depends(bbox_param)]
LimitDep = Annotated[int, Query(ge=1, le=10_000, description="Features per page (1-10,000).")]
OffsetDep = Annotated[int, Query(ge=0, le=1_000_000_000, description="Features to skip (paging; see the next link).")]


class StrictBody(BaseModel):
    """A JSON request body: unknown fields and NaN/Infinity are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
