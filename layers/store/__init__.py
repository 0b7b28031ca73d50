"""The two stores behind one interface, and how to open the configured one."""

from __future__ import annotations

from layers.errors import StoreError
from layers.settings import Settings
from layers.store.base import BBox, LayerInfo, Store, WriteCounts


def open_store(settings: Settings) -> Store:
    """Open the store that ``settings.store`` names: a ``.gpkg`` path or a ``postgresql://`` URL."""
    if settings.is_postgis:
        from layers.store.postgis import PostGISStore

        return PostGISStore(settings.store, schema=settings.pg_schema)
    if settings.store.lower().endswith(".gpkg"):
        from layers.store.gpkg import GeoPackageStore

        return GeoPackageStore(settings.store)
    raise StoreError(
        f"ONEMAP_STORE={settings.store!r} is neither a path ending in .gpkg nor a postgresql:// URL"
    )


__all__ = ["BBox", "LayerInfo", "Store", "WriteCounts", "open_store"]
