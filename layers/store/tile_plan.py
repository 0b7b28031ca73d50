"""What one Mapbox Vector Tile of a layer holds: the tile, the columns, the generalisation.

A ``TilePlan`` is decided above the store (``api/vector_tiles.py``: the tile maths of
``web/tile_grid`` and the road classes of ``web/basemap``) and carried out by the store
(``Store.vector_tile``: ``pg_tiles`` in SQL, ``gpkg_tiles`` from a frame), so both stores make the
same tile from the same plan. Tiles are EPSG:3857 (Web Mercator) with an extent of 4096 units per
side and a buffer of 64 units; a tile without features is the empty byte string (a valid MVT
with no layers).
"""

from __future__ import annotations

from dataclasses import dataclass

EXTENT = 4096
"""MVT units along a tile's side."""
BUFFER = 64
"""MVT units kept beyond each edge, so lines and outlines do not end at the tile's border."""
TIME_FORMAT_SQL = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
"""How a datetime property is written (UTC, seconds), as PostgreSQL's ``to_char`` spells it."""
TIME_FORMAT_PY = "%Y-%m-%dT%H:%M:%SZ"
"""The same format as ``strftime`` spells it."""
MERGED = "merged"
"""The property of a merged line (``TilePlan.merge_by``): how many of the layer's features it holds."""


@dataclass(frozen=True)
class TilePlan:
    """One tile of one layer, and how to generalise it.

    Attributes
    ----------
    layer : catalogue layer name; also the MVT layer's name.
    z, x, y : the XYZ (WebMercatorQuad) tile; y counts from the north.
    bounds_m : (west, south, east, north) of the tile in EPSG:3857 metres.
    search_deg : (min_lon, min_lat, max_lon, max_lat), EPSG:4326 degrees: the tile with its buffer;
        features intersecting it are read.
    columns : the attribute columns written as properties (what the reader may see).
    keep : ``(column, values)``: only features whose column holds one of the values (road classes
        drawn at this zoom); None keeps all.
    tolerance_m : simplification tolerance in EPSG:3857 metres (topology preserved).
    aggregate_over : when the tile would hold more than this many features, they are aggregated
        into square cells of ``cell_m`` metres (by centroid), each with a ``count`` and the sum of
        ``sums``; a point layer's cell is the mean point of its members, other layers' the cell's
        square. None: never aggregated.
    points : whether the layer's features are points.
    merge_by : when set, the lines sharing these columns' values are merged into one feature
        (``ST_LineMerge`` of their collection: connected pieces become one line), whose
        properties are those columns and ``MERGED`` (how many features it holds). ``columns`` is
        then ``merge_by``.
    """

    layer: str
    z: int
    x: int
    y: int
    bounds_m: tuple[float, float, float, float]
    search_deg: tuple[float, float, float, float]
    columns: tuple[str, ...]
    keep: tuple[str, tuple[str, ...]] | None = None
    tolerance_m: float = 0.0
    aggregate_over: int | None = None
    cell_m: float = 0.0
    sums: tuple[str, ...] = ()
    points: bool = False
    merge_by: tuple[str, ...] = ()

    @property
    def clip_m(self) -> tuple[float, float, float, float]:
        """The tile's bounds with the buffer, EPSG:3857 metres: what is kept of a geometry."""
        west, south, east, north = self.bounds_m
        margin = (east - west) * BUFFER / EXTENT
        return west - margin, south - margin, east + margin, north + margin
