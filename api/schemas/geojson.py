"""GeoJSON bodies (RFC 7946; lon/lat, EPSG:4326) and the PNG tile answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .documented import Responses


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


def _png(description: str) -> Responses:
    return {200: {"description": description, "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}}


FEATURE: Responses = {200: {"model": Feature, "description": "The feature (GeoJSON)"}}
CREATED_FEATURE: Responses = {201: {"model": Feature, "description": "The stored feature (GeoJSON)"}}
FEATURES: Responses = {200: {"model": FeatureCollection, "description": "The features (GeoJSON)"}}
PNG_TILE = _png("A 256 × 256 PNG tile (Web Mercator XYZ)")
