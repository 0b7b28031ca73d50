"""The OGC API - Features documents: landing page, conformance, the layers (collections)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Link(BaseModel):
    """An OGC API link (RFC 8288 fields)."""

    href: str = Field(description="Absolute URL (on ONEMAP_PUBLIC_URL when set).")
    rel: str = Field(description="Relation: self, items, collection, data, conformance, service-desc, service-doc.")
    type: str = Field(description="Media type of the target.")
    title: str | None = None


class LandingPage(BaseModel):
    """``GET /``: what the service is, and links to the API definition, conformance and layers."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """``GET /conformance``: the OGC conformance classes implemented."""

    conformsTo: list[str] = Field(description="Conformance class URIs (OGC API - Features Part 1: core, oas30, geojson; OGC API - Tiles Part 1: core, tileset, tilesets-list, geodata-tilesets, mvt).")


class SpatialExtent(BaseModel):
    bbox: list[list[float]] = Field(description="One box: [min_lon, min_lat, max_lon, max_lat], degrees (CRS84); the whole globe for an empty layer.")
    crs: str = Field(description="CRS84 URI.")


class Extent(BaseModel):
    spatial: SpatialExtent


class Collection(BaseModel):
    """One layer as an OGC collection: title (中文 English), fields with labels and units in the
    description, extent, feature count and sensitivity."""

    id: str = Field(description="Layer name, e.g. shelters.")
    title: str = Field(description="Chinese and English title, e.g. 应急避难场所 Emergency shelters.")
    description: str = Field(description="What the layer holds, then each field as name: 中文标签 (unit).")
    extent: Extent
    itemType: Literal["feature"]
    crs: list[str] = Field(description="CRS of the items: CRS84 only.")
    storageCrs: str
    numberOfFeatures: int = Field(ge=0, description="Features stored in the layer.")
    sensitivity: Literal["internal", "restricted"] = Field(description="restricted: some fields go to editors and admins only.")
    links: list[Link]


class Collections(BaseModel):
    """``GET /collections``: every layer of the store."""

    links: list[Link]
    collections: list[Collection]
