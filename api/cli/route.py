"""``onemap route nearest`` and ``onemap route areas``: routing on the road network, around the closures in force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli.app import _fail_cleanly, _pad, _settings, _store, _width, main

if TYPE_CHECKING:
    from layers.services.routing import Closures, RoutingService


@main.group()
def route() -> None:
    """Nearest resources by road, and service areas (travel time on the road network).

    \b
    Examples:
      onemap route nearest --lon 116.59 --lat 35.41 --layers rescue_stations,supply_depots -k 5
      onemap route nearest --lon 116.59 --lat 35.41 --closures flood.geojson --map route.html
      onemap route areas --lon 116.59 --lat 35.41 --minutes 5,10,15 --json

    Every answer avoids the closures in force (road_closures, drawn on the wall map or
    imported); --closures adds what-if polygons to them; --ignore-closures gives the open network.
    """


def _routing(ctx: click.Context) -> RoutingService:
    from layers.services.routing import RoutingService

    service = RoutingService(_store(ctx), _settings(ctx))
    click.echo("道路网络 road network: loading …", err=True)
    graph = service.graph()
    click.echo(f"道路网络 road network: {graph.report}", err=True)
    return service


def _closures(service: RoutingService, closures: Path | None, closed_edges: str | None, ignore_closures: bool) -> Closures:
    """The stored closures in force (unless ``ignore_closures``) plus the what-if ones given;
    one line on stderr says which."""
    from layers.services.routing import Closures, parse_edge_ids, read_closures

    what_if = Closures(tuple(read_closures(closures)) if closures else (), parse_edge_ids(closed_edges))
    used = service.closures(what_if, stored=not ignore_closures)
    click.echo(f"封闭道路 closures: {used.summary_zh()}", err=True)
    return used


_lon = click.option("--lon", type=click.FloatRange(-180, 180), required=True, help="Longitude, degrees (WGS 84).")
_lat = click.option("--lat", type=click.FloatRange(-90, 90), required=True, help="Latitude, degrees (WGS 84).")
_closures_option = click.option("--closures", type=click.Path(path_type=Path), help="What-if: a GIS file of polygons where roads are cut (flood, collapse), on top of the closures in force.")
_closed_edges_option = click.option("--closed-edges", help="What-if: road source ids that are cut, comma-separated.")
_ignore_closures_option = click.option("--ignore-closures", is_flag=True, help="Leave out the closures in force (road_closures): the open network.")


@route.command("nearest")
@_lon
@_lat
@click.option("--layers", default="rescue_stations,supply_depots,shelters", show_default=True, help="Resource layers, comma-separated.")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Resources per layer.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), help="Leave out resources slower than this.")
@_closures_option
@_closed_edges_option
@_ignore_closures_option
@click.option("--json", "as_json", is_flag=True, help="Print a GeoJSON FeatureCollection (routes as LineStrings).")
@click.option("--map", "map_path", type=click.Path(path_type=Path), help="Also write an offline HTML map of the answer.")
@click.pass_context
@_fail_cleanly
def route_nearest(ctx: click.Context, lon: float, lat: float, layers: str, k: int, max_minutes: float | None, closures: Path | None, closed_edges: str | None, ignore_closures: bool, as_json: bool, map_path: Path | None) -> None:
    """The K resources of each layer that reach the point first by road, with ETA and route.

    Resources travel TO the incident; one-way roads count; cut roads are avoided. A resource
    that cannot get there is listed as unreachable (不可达).

    \b
    Examples:
      onemap route nearest --lon 116.59 --lat 35.41
      onemap route nearest --lon 116.59 --lat 35.41 --layers shelters -k 3 --max-minutes 30
      onemap route nearest --lon 116.59 --lat 35.41 --closures flood.geojson --map route.html
    """
    import shapely

    from layers.io.geojson import feature_collection

    service = _routing(ctx)
    cut = _closures(service, closures, closed_edges, ignore_closures)
    result = service.nearest(lon, lat, layers.split(","), k=k, max_minutes=max_minutes, closures=cut)
    if as_json:
        click.echo(json.dumps(feature_collection(result, incident={"lon": lon, "lat": lat}, closures=cut.describe()), ensure_ascii=False))
    else:
        header = ("图层 layer", "名次", "名称 name", "时间 min", "距离 km", "吸附 m")
        rows = [
            (r.layer, str(r.rank), str(r.name), f"{r.travel_time_min:.1f}" if r.reachable else "不可达", f"{r.distance_km:.2f}" if r.reachable else "—", f"{r.snap_m_resource:.0f}" if r.snap_m_resource == r.snap_m_resource else "—")
            for r in result.itertuples(index=False)
        ]
        widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            click.echo("  ".join(_pad(cell, widths[i], right=i in (1, 3, 4, 5)) for i, cell in enumerate(row)))
        if len(result):
            click.echo(f"事件吸附 incident snapped {result['snap_m_incident'].iloc[0]:.0f} m to the nearest road")
    if map_path is not None:
        from web.route_map import route_map

        bounds = tuple(result.total_bounds) if result.geometry.notna().any() else (lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)
        roads = service.store.read("roads", bbox=bounds)
        route_map(result, shapely.Point(lon, lat), closures=cut.polygons, roads=roads).save(str(map_path))
        click.echo(f"map: {map_path}", err=True)


@route.command("areas")
@_lon
@_lat
@click.option("--minutes", default="5,10,15", show_default=True, help="Bands in minutes, comma-separated.")
@_closures_option
@_closed_edges_option
@_ignore_closures_option
@click.option("--json", "as_json", is_flag=True, help="Print a GeoJSON FeatureCollection of the band polygons.")
@click.pass_context
@_fail_cleanly
def route_areas(ctx: click.Context, lon: float, lat: float, minutes: str, closures: Path | None, closed_edges: str | None, ignore_closures: bool, as_json: bool) -> None:
    """Areas reachable by road from the point within each band (isochrones), with the residents
    and resources each contains.

    \b
    Examples:
      onemap route areas --lon 116.59 --lat 35.41
      onemap route areas --lon 116.59 --lat 35.41 --minutes 10,20,30 --ignore-closures --json
    """
    from layers.io.geojson import feature_collection
    from layers.services.routing import parse_minutes

    bands = parse_minutes(minutes)
    service = _routing(ctx)
    cut = _closures(service, closures, closed_edges, ignore_closures)
    result = service.areas(lon, lat, minutes=bands, closures=cut)
    if as_json:
        click.echo(json.dumps(feature_collection(result, origin={"lon": lon, "lat": lat}, closures=cut.describe()), ensure_ascii=False))
        return
    click.echo("分钟 min  道路 km  居民 residents  救援 stations  物资 depots  避难 shelters")
    for r in result.itertuples(index=False):
        click.echo(f"{r.minutes:7g}  {r.reached_km:7.1f}  {r.residents:14,.0f}  {r.rescue_stations_count:13d}  {r.supply_depots_count:11d}  {r.shelters_count:12d}")


# --- shelter coverage ----------------------------------------------------------------------
