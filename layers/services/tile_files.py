"""Rendered tiles kept on disk, in the store's derived cache folder (``Settings.derived_cache_dir``):
a server that restarts, a second server process, or a copy of the same store serves the tiles
already drawn instead of drawing them again.

The folder of one tile set is named by a key that the caller derives from everything the tiles
depend on (the layers' versions and the drawing code): a write to a layer gives a new key, hence a
new folder, and the stale folders beyond the few newest are removed.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

KEEP_SETS = 4
"""Tile sets kept per name (the newest): a cache folder several stores share holds each one's current set."""


def set_key(parts: Sequence[str]) -> str:
    """A short file-name-safe digest of what a tile set depends on."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


class TileFiles:
    """Tiles of one kind (``name``, e.g. ``basemap``) under ``folder/<name>-<key>/<z>/<x>/<y>.<suffix>``.

    Reading and writing never raise for the disk's sake: a cache that cannot be read or written is
    logged and the caller draws the tile as if it were absent.
    """

    def __init__(self, folder: Path, name: str, suffix: str) -> None:
        self.folder = folder
        self.name = name
        self.suffix = suffix

    def _path(self, key: str, z: int, x: int, y: int) -> Path:
        return self.folder / f"{self.name}-{key}" / str(z) / str(x) / f"{y}.{self.suffix}"

    def get(self, key: str, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes, or None when it was never written."""
        try:
            return self._path(key, z, x, y).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.warning("ignoring an unreadable cached tile %s: %s", self._path(key, z, x, y), error)
            return None

    def put(self, key: str, z: int, x: int, y: int, body: bytes) -> None:
        """Write the tile whole or not at all (a temporary file, then an atomic rename); the first
        tile of a new set removes the older sets beyond the ``KEEP_SETS`` newest."""
        path = self._path(key, z, x, y)
        new_set = not path.parents[2].exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{y}-", suffix=".tmp", delete=False) as temporary:
                temporary.write(body)
            Path(temporary.name).replace(path)
            if new_set:
                self._prune()
        except OSError as error:
            logger.warning("cannot write the tile cache %s: %s", path, error)

    def _prune(self) -> None:
        sets = sorted(self.folder.glob(f"{self.name}-*"), key=_modified, reverse=True)
        for stale in sets[KEEP_SETS:]:
            shutil.rmtree(stale, ignore_errors=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
