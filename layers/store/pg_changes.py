"""The PostGIS store's change counters: ``layer_changes`` (layer, version, changed_at), one row per
layer table, moved by the ``layer_changed`` trigger on every write statement (migration 0010).

``PostGISStore.layer_version`` reads one row here, by primary key, instead of counting the layer.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func

LAYER_CHANGES = "layer_changes"


def change_metadata(schema: str) -> MetaData:
    """Metadata holding the ``layer_changes`` table in ``schema`` (as migration 0010 makes it)."""
    metadata = MetaData(schema=schema)
    Table(
        LAYER_CHANGES,
        metadata,
        Column("layer", Text, primary_key=True),
        Column("version", BigInteger, nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
        comment="图层变更计数 / Layer change counters",
    )
    return metadata
