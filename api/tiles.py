"""An in-memory LRU cache of rendered XYZ tiles, shared by the risk tiles and the basemap, and
the tile-address checks."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cachetools import LRUCache

from layers.errors import InputError
from web.tile_grid import tile_exists

MAX_ZOOM = 18


def check_tile(z: int, x: int, y: int) -> None:
    """x and y must address a tile that exists at zoom z."""
    if not tile_exists(z, x, y):
        raise InputError(f"tile {z}/{x}/{y} does not exist: x and y must be below {2**z} at zoom {z}")


class TileCache:
    """Rendered tiles of the current source (at most ``size``, least recently used dropped);
    emptied when the source object changes (a new result or a new version of the data)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._owner: object | None = None  # held, so its id cannot be reused by a newer source
        self._tiles: LRUCache[tuple[int, int, int], bytes] = LRUCache(size)
        self._lock = threading.Lock()

    def get(self, source: object, z: int, x: int, y: int, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            if self._owner is not source:
                self._owner, self._tiles = source, LRUCache(self.size)
            cached = self._tiles.get((z, x, y))
            if cached is not None:
                return cached
        body = render()
        with self._lock:
            if self._owner is source:
                self._tiles[(z, x, y)] = body
        return body
