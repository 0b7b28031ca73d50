"""The SQLite side of the GeoPackage store: geometry blobs, the R-tree's SQL functions, quoting
and transactions.

A GeoPackage geometry blob is a small header (magic ``GP``, flags, SRS id, optionally an envelope
(minx, maxx, miny, maxy) in the SRS's units: degrees for EPSG:4326) followed by standard WKB. The
R-tree triggers GDAL creates call ``ST_MinX``/``ST_IsEmpty``…, which the GeoPackage spec leaves to
the implementation; ``register_gpkg_functions`` provides them, reading the envelope from the header.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import shapely

from gis.crs import STORE_EPSG

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, minx, maxx, miny, maxy
_FLAGS_LITTLE_ENDIAN_XY_ENVELOPE = 0b0000_0011
_FLAG_EMPTY = 0b0001_0000


def encode_gpkg_blob(wkb: bytes, bounds: Sequence[float], srs_id: int = STORE_EPSG) -> bytes:
    """GeoPackage geometry blob: header with an XY envelope, then standard WKB.

    ``bounds`` is (minx, miny, maxx, maxy) as shapely gives it, NaN for an empty geometry."""
    minx, miny, maxx, maxy = bounds
    if math.isnan(minx):
        header = struct.pack("<2sBBi", b"GP", 0, _FLAG_EMPTY | 0b1, srs_id)
        return header + wkb
    return _HEADER.pack(b"GP", 0, _FLAGS_LITTLE_ENDIAN_XY_ENVELOPE, srs_id, minx, maxx, miny, maxy) + wkb


def blob_wkb(blob: bytes) -> bytes:
    """The standard WKB inside a GeoPackage geometry blob."""
    envelope = _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]
    return blob[8 + envelope :]


def _blob_envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or computed from the WKB when absent."""
    if blob is None or blob[3] & _FLAG_EMPTY:
        return None
    if (blob[3] >> 1) & 0b111:
        byte_order = "<" if blob[3] & 1 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(byte_order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    x0, y0, x1, y1 = shapely.from_wkb(blob_wkb(blob)).bounds
    return x0, x1, y0, y1


def _envelope_part(index: int) -> Callable[[bytes | None], float | None]:
    def part(blob: bytes | None) -> float | None:
        envelope = _blob_envelope(blob)
        return None if envelope is None else envelope[index]

    return part


def register_gpkg_functions(connection: sqlite3.Connection) -> None:
    """``ST_MinX``, ``ST_MaxX``, ``ST_MinY``, ``ST_MaxY`` and ``ST_IsEmpty`` on ``connection``."""
    for index, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        connection.create_function(name, 1, _envelope_part(index), deterministic=True)
    connection.create_function(
        "ST_IsEmpty", 1, lambda blob: 1 if blob is None or blob[3] & _FLAG_EMPTY else 0, deterministic=True
    )


def rtree_table(layer: str) -> str:
    """The quoted name of a layer's R-tree (GDAL's ``rtree_<table>_geom``)."""
    return quote("rtree_" + layer + "_geom")


def rtree_ids(layer: str, bbox: Sequence[float]) -> tuple[str, list[float]]:
    """The query of the ids whose R-tree envelopes meet ``bbox`` (min_lon, min_lat, max_lon,
    max_lat), and its parameters."""
    min_lon, min_lat, max_lon, max_lat = bbox
    return f"SELECT id FROM {rtree_table(layer)} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?", [max_lon, min_lon, max_lat, min_lat]


def quote(identifier: str) -> str:
    """An SQL identifier in double quotes."""
    # Identifiers come only from the catalogue (never from users); quoting keeps SQL valid anyway.
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` when the block raises) on a connection in
    autocommit mode: no other writer until it ends. The caller serialises threads."""
    cursor = connection.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        yield cursor
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    else:
        cursor.execute("COMMIT")
    finally:
        cursor.close()
