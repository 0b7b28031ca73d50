"""SQLAlchemy tables of the PostGIS store, built from the catalogue (one table per layer)."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.types import TypeEngine

from gis.crs import STORE_EPSG
from layers.catalogue import CATALOGUE, SOURCE_ID, FieldType, LayerSpec

_SQL_TYPES: dict[FieldType, TypeEngine[Any]] = {
    "str": Text(),
    "int": BigInteger(),
    "float": Float(precision=53),
    "bool": Boolean(),
    "datetime": DateTime(timezone=True),
}

_POSTGIS_GEOMETRY_TYPES = {
    "Point": "POINT",
    "LineString": "LINESTRING",
    "Polygon": "POLYGON",
    "MultiPolygon": "MULTIPOLYGON",
    "Geometry": "GEOMETRY",
}


def layer_table(spec: LayerSpec, metadata: MetaData) -> Table:
    """The table of one layer: fid, unique source_id, the fields, geom (EPSG:4326, GiST), updated_at."""
    return Table(
        spec.name,
        metadata,
        Column("fid", BigInteger, Identity(always=False), primary_key=True),
        Column(SOURCE_ID, Text, nullable=False, unique=True),
        *(Column(f.name, _SQL_TYPES[f.type], comment=f.display_label) for f in spec.fields),
        Column(
            "geom",
            Geometry(geometry_type=_POSTGIS_GEOMETRY_TYPES[spec.geometry_type], srid=STORE_EPSG, spatial_index=True),
            nullable=False,
        ),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        comment=f"{spec.title_zh} / {spec.title_en}",
    )


def build_metadata(schema: str) -> MetaData:
    """Metadata with every catalogue layer's table in ``schema``."""
    metadata = MetaData(schema=schema)
    for spec in CATALOGUE.values():
        layer_table(spec, metadata)
    return metadata
