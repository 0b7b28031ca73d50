"""Response schemas for the OpenAPI document: what a success answer holds, so that clients (and
the schemathesis test, which checks every answer against them) know its shape. They document,
they do not filter: the routes build their bodies themselves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Feature(BaseModel):
    """A GeoJSON Feature (RFC 7946; lon/lat, EPSG:4326); ``id`` is the feature's source id."""

    model_config = ConfigDict(extra="allow")
    type: Literal["Feature"]
    id: str | int | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection; paged answers add numberMatched, numberReturned and links."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[Feature]


def _png(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}}


FEATURE: dict[int | str, dict[str, Any]] = {200: {"model": Feature, "description": "The feature (GeoJSON)"}}
CREATED_FEATURE: dict[int | str, dict[str, Any]] = {201: {"model": Feature, "description": "The stored feature (GeoJSON)"}}
FEATURES: dict[int | str, dict[str, Any]] = {200: {"model": FeatureCollection, "description": "The features (GeoJSON)"}}
PNG_TILE = _png("A 256 × 256 PNG tile (Web Mercator XYZ)")

