"""OGC API - Tiles documents of a layer's vector tiles: the tilesets list and the tileset
metadata (WebMercatorQuad, EPSG:3857, Mapbox Vector Tiles of extent 4096)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TileLink(BaseModel):
    """A link; ``templated`` when ``href`` holds ``{tileMatrix}/{tileRow}/{tileCol}`` to fill in."""

    href: str = Field(description="Absolute URL (on ONEMAP_PUBLIC_URL when set), or a URI template.")
    rel: str = Field(description="Relation: self, item (the tiles), collection, http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme…")
    type: str | None = Field(default=None, description="Media type of the target.")
    title: str | None = None
    templated: bool | None = None


class TileSetItem(BaseModel):
    """One tileset of a layer, as the list names it."""

    title: str
    dataType: Literal["vector"]
    crs: str = Field(description="EPSG:3857 URI.")
    tileMatrixSetURI: str = Field(description="The OGC WebMercatorQuad URI.")
    links: list[TileLink]


class TileSets(BaseModel):
    """``GET /collections/{layer}/tiles``: the layer's tilesets (one: WebMercatorQuad)."""

    tilesets: list[TileSetItem]
    links: list[TileLink]


class PropertySchema(BaseModel):
    """One property of the tiles' features (JSON Schema)."""

    type: Literal["string", "integer", "number", "boolean"]
    title: str = Field(description="The field's Chinese label, with its unit.")
    description: str | None = None
    enum: list[str] | None = None
    format: Literal["date-time"] | None = None


class PropertiesSchema(BaseModel):
    type: Literal["object"]
    properties: dict[str, PropertySchema]


class TileLayer(BaseModel):
    """The MVT layer inside every tile: its name, geometry and properties, and the zooms served."""

    id: str = Field(description="The MVT layer's name: the layer's name.")
    title: str
    description: str = Field(description="What the tiles hold at which zoom (generalisation).")
    dataType: Literal["vector"]
    geometryDimension: Literal[0, 1, 2] | None = Field(default=None, description="0 points, 1 lines, 2 polygons; absent for mixed layers.")
    minTileMatrix: str
    maxTileMatrix: str
    propertiesSchema: PropertiesSchema


class BoundingBox(BaseModel):
    lowerLeft: list[float] = Field(description="[min_lon, min_lat], degrees (CRS84).")
    upperRight: list[float] = Field(description="[max_lon, max_lat], degrees (CRS84).")
    crs: str


class TileSet(BaseModel):
    """``GET /collections/{layer}/tiles/WebMercatorQuad``: the tileset's metadata."""

    title: str
    description: str
    dataType: Literal["vector"]
    crs: str
    tileMatrixSetURI: str
    minZoom: int = Field(ge=0, description="The lowest tileMatrix (zoom) served.")
    maxZoom: int = Field(ge=0, description="The highest tileMatrix (zoom) served; beyond it a 400.")
    boundingBox: BoundingBox | None = Field(default=None, description="The layer's extent; absent while it is empty.")
    layers: list[TileLayer]
    links: list[TileLink]
