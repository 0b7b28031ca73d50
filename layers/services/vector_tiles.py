"""Vector tiles of the layers, cached by the data's version: what ``api/vector_tiles.py`` calls.

The storage-specific work sits behind the store boundary (``Store.vector_tile``: PostGIS makes the
tile in SQL with ``ST_AsMVT``, the GeoPackage from a frame with ``mapbox-vector-tile``), because
only the store knows whether its database can encode MVT; this service adds what is the same for
both: the cache, keyed by (layer, ``store.layer_version(layer)``, z, x, y, clearance), and the
validator (``ETag``) of each tile, which moves whenever a write changes the layer.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from cachetools import LRUCache

from layers.store import Store
from layers.store.tile_plan import TilePlan

REVISION = "mvt-1"
"""Part of every ETag: changed when the generalisation changes, so clients' tiles are refetched."""
CACHE_BYTES = 64 * 1_048_576
"""At most this many bytes of tiles are kept (least recently used dropped)."""


@dataclass(frozen=True)
class TileKey:
    """What a tile's content depends on; ``clearance``: whether restricted fields are in it."""

    layer: str
    version: str
    z: int
    x: int
    y: int
    clearance: bool

    @property
    def etag(self) -> str:
        """The tile's validator: 16 hex digits of a SHA-256 of the key and ``REVISION``."""
        return hashlib.sha256(repr((REVISION, self.layer, self.version, self.z, self.x, self.y, self.clearance)).encode()).hexdigest()[:16]


class VectorTiles:
    """The tiles of one store (thread-safe)."""

    def __init__(self, store: Store, *, max_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self._tiles: LRUCache[TileKey, bytes] = LRUCache(max_bytes, getsizeof=lambda body: max(len(body), 1))
        self._lock = threading.Lock()

    def key(self, layer: str, z: int, x: int, y: int, *, clearance: bool) -> TileKey:
        """The key of a tile as the layer is now (one cheap query for its version)."""
        return TileKey(layer, self.store.layer_version(layer), z, x, y, clearance)

    def tile(self, key: TileKey, plan: TilePlan) -> bytes:
        """The MVT bytes of ``plan``, from the cache when ``key`` was made before."""
        with self._lock:
            cached = self._tiles.get(key)
        if cached is not None:
            return cached
        body = self.store.vector_tile(plan)
        with self._lock:
            self._tiles[key] = body
        return body
