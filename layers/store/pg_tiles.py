"""A layer's Mapbox Vector Tile from PostGIS in one query: ``ST_TileEnvelope`` for the tile,
``ST_Intersects`` against the layer's GiST index with the plan's search box (EPSG:4326, the
stored CRS; the tile and its buffer, cut at the world's edges — the same box the GeoPackage reads),
``ST_Transform`` to EPSG:3857, ``ST_SimplifyPreserveTopology``, ``ST_AsMVTGeom`` (extent 4096,
buffer 64, clipped) and ``ST_AsMVT``. Dense tiles are aggregated in the same query (see
``TilePlan``), so the server never ships the rows to Python.

Identifiers come from the catalogue (never from a request); values are bound parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from layers.catalogue import SOURCE_ID, LayerSpec
from layers.store.tile_plan import BUFFER, EXTENT, MERGED, TIME_FORMAT_SQL, TilePlan


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _property(spec: LayerSpec, column: str) -> str:
    """The SQL of one property: datetimes as UTC text (``TIME_FORMAT_SQL``), the rest as stored."""
    quoted = _quote(column)
    if column != SOURCE_ID and spec.field(column).type == "datetime":
        return f"to_char({quoted} AT TIME ZONE 'UTC', '{TIME_FORMAT_SQL}') AS {quoted}"
    return quoted


def tile_sql(spec: LayerSpec, schema: str, plan: TilePlan) -> tuple[str, dict[str, Any]]:
    """The query of ``plan`` (one row, one ``bytea`` column) and its parameters."""
    table = f"{_quote(schema)}.{_quote(spec.name)}"
    properties = ", ".join(_property(spec, c) for c in plan.columns)
    params: dict[str, Any] = {
        "z": plan.z, "x": plan.x, "y": plan.y, "tolerance": plan.tolerance_m, "name": spec.name,
        "w": plan.search_deg[0], "s": plan.search_deg[1], "e": plan.search_deg[2], "n": plan.search_deg[3],
    }
    where = "ST_Intersects(l.geom, env.search)"
    if plan.keep is not None:
        where += f" AND l.{_quote(plan.keep[0])} = ANY(:keep)"
        params["keep"] = list(plan.keep[1])
    mvt_geom = f"ST_AsMVTGeom(%s, env.box, {EXTENT}, {BUFFER}, true)"
    rows = "f"
    sql = (
        "WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS box, ST_MakeEnvelope(:w, :s, :e, :n, 4326) AS search), "
        f"f AS (SELECT l.fid, {', '.join('l.' + _quote(c) for c in dict.fromkeys((*plan.columns, *plan.sums)))}, ST_Transform(l.geom, 3857) AS g "
        f"FROM {table} l, env WHERE {where}) "
    )
    if plan.merge_by:  # one line per value of the merge columns, in the order of its first member
        keys = ", ".join(_quote(c) for c in plan.merge_by)
        sql += f", m AS (SELECT min(fid) AS fid, {keys}, count(*)::bigint AS {MERGED}, ST_LineMerge(ST_Collect(g)) AS g FROM f GROUP BY {keys}) "
        properties += f", {MERGED}"
        rows = "m"
    plain = (
        f"SELECT ST_AsMVT(t, :name, {EXTENT}, 'geom') FROM ("
        f"SELECT {properties}, {mvt_geom % 'ST_SimplifyPreserveTopology(g, :tolerance)'} AS geom FROM {rows}, env ORDER BY fid"
        ") t WHERE t.geom IS NOT NULL"
    )
    if plan.aggregate_over is None:
        return sql + plain, params
    params.update({"over": plan.aggregate_over, "cell": plan.cell_m, "west": plan.bounds_m[0], "south": plan.bounds_m[1]})
    sums = "".join(f", sum({_quote(c)})::float8 AS {_quote(c)}" for c in plan.sums)
    if plan.points:
        shape = "ST_SetSRID(ST_MakePoint(avg(ST_X(c)), avg(ST_Y(c))), 3857)"
    else:
        shape = "ST_MakeEnvelope(:west + i * :cell, :south + j * :cell, :west + (i + 1) * :cell, :south + (j + 1) * :cell, 3857)"
    aggregated = (
        f"SELECT ST_AsMVT(a, :name, {EXTENT}, 'geom') FROM ("
        f"SELECT count(*)::bigint AS count{sums}, {mvt_geom % shape} AS geom FROM ("
        "SELECT *, floor((ST_X(c) - :west) / :cell) AS i, floor((ST_Y(c) - :south) / :cell) AS j "
        "FROM (SELECT *, ST_Centroid(g) AS c FROM f) centred) cells, env GROUP BY i, j, env.box ORDER BY i, j"
        ") a WHERE a.geom IS NOT NULL"
    )
    return sql + f"SELECT CASE WHEN (SELECT count(*) FROM f) > :over THEN ({aggregated}) ELSE ({plain}) END", params


def vector_tile(connection: Connection, spec: LayerSpec, schema: str, plan: TilePlan) -> bytes:
    """The tile as MVT bytes (empty when no feature reaches it)."""
    sql, params = tile_sql(spec, schema, plan)
    body = connection.execute(text(sql), params).scalar_one()
    return bytes(body) if body is not None else b""
