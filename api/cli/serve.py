"""``onemap serve`` and ``onemap demo``: the wall map and API, and the sample city end to end."""

from __future__ import annotations

import logging
import threading

import click

from api.cli.app import _ensure_first_admin, _fail_cleanly, _settings, _store, main
from api.cli.data import _load_sample, _print_layers
from layers.catalogue import CATALOGUE


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.pass_context
@_fail_cleanly
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the command wall map at http://HOST:PORT/map and the layers as OGC API - Features
    (GeoJSON) at http://HOST:PORT/collections.

    \b
    Examples:
      onemap serve
      onemap --store postgresql://onemap@db/onemap serve --host 0.0.0.0 --port 8080
    (Off loopback the server refuses to start with ONEMAP_AUTH=off.)
    """
    import uvicorn

    from api.access_log import redact_share_tokens
    from api.auth import check_serving_address
    from api.main import create_app
    from api.request_deadlines import with_deadlines

    check_serving_address(host, _settings(ctx).auth)
    _ensure_first_admin(ctx)
    click.echo(f"onemap: wall map http://{host}:{port}/map  (collections: http://{host}:{port}/collections)", err=True)
    settings = _settings(ctx)
    redact_share_tokens(logging.getLogger("uvicorn.access"))
    # X-Forwarded-For only from the configured proxies: uvicorn's default trusts 127.0.0.1, so a
    # client on the same host could claim any address and slip past the rate limits.
    proxies = ",".join(settings.trusted_proxies)
    # Open event streams (GET /events) would hold a graceful shutdown forever: give them 3 s.
    # Slow clients (a head trickled a byte at a time, a body announced and never sent) are cut off.
    http = with_deadlines(settings.request_head_timeout_s, settings.request_body_idle_s, settings.response_send_stalled_s)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None, timeout_graceful_shutdown=3,
                http=http)


@main.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port of the wall map (on 127.0.0.1 only).")
@click.option("--serve/--no-serve", "serve_after", default=True, show_default=True, help="Serve the wall map after the analyses (--no-serve: compute, print and stop).")
@click.option("--storm", is_flag=True, help="Once the map is up, play a rainstorm through the gauges: watch them rise, alerts raised and acknowledged, a reservoir pass 汛限水位 and the risk layer change.")
@click.option("--storm-minutes", type=click.IntRange(5, 24 * 60), default=90, show_default=True, help="How long the storm lasts (simulated minutes).")
@click.option("--storm-speed", type=click.FloatRange(0), default=30.0, show_default=True, help="Simulated minutes per real minute (30: a 90-minute storm in 3 minutes; 0: no waiting).")
@click.pass_context
@_fail_cleanly
def demo(ctx: click.Context, port: int, serve_after: bool, storm: bool, storm_minutes: int, storm_speed: float) -> None:
    """The whole thing on the sample city: load it if the store is empty, print the layer table,
    run risk zoning and shelter coverage, and serve the command wall map at
    http://127.0.0.1:PORT/map (Ctrl-C stops it).

    \b
    The store is ./var/onemap.gpkg unless --store or ONEMAP_STORE says otherwise; the map works
    with no internet (basemap drawn from the store, every asset served by onemap itself).

    \b
    Examples:
      onemap demo
      onemap demo --storm
      onemap demo --port 8001 --no-serve
    """
    from api.main import create_app, warm_up
    from layers.services.coverage import CoverageService
    from layers.services.risk import RiskService
    from layers.services.routing import RoutingService

    settings = _settings(ctx)
    store = _store(ctx)
    if all(info.count == 0 for info in store.list_layers() if not CATALOGUE[info.name].written_by_users):
        _load_sample(store, settings.sample_seed)
        ctx.obj.pop("resolved_settings", None)  # the sample wrote Jining's city profile: use it
        settings = _settings(ctx)
    else:
        click.echo(f"store {settings.store} already holds data: not reloading the sample city", err=True)
    _print_layers(store, as_json=False)
    if storm and not serve_after:
        raise click.UsageError("--storm plays on the served wall map: leave out --no-serve (or use onemap simulate rainstorm)")
    if not serve_after:
        routing = RoutingService(store, settings)
        warm_up(RiskService(store, settings, routing), CoverageService(store, settings, routing), click.echo)
        return
    store.close()
    _ensure_first_admin(ctx)
    import uvicorn

    from api.request_deadlines import with_deadlines

    url = f"http://127.0.0.1:{port}/map"
    click.echo(f"starting the wall map on {url} …", err=True)
    stop = threading.Event()
    app = create_app(settings, warm=lambda line: click.echo(line, err=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False, timeout_graceful_shutdown=3,
                                           http=with_deadlines(settings.request_head_timeout_s, settings.request_body_idle_s, settings.response_send_stalled_s)))

    def when_listening() -> None:
        """Announce the map once the server takes connections (not merely started), then the storm."""
        while not server.started:
            if stop.wait(0.1):
                return
        click.secho(f"应急一张图 wall map: {url}  (wall screens: {url}?wall=1; Ctrl-C to stop)", fg="green", bold=True)
        if storm:
            from layers.services.storm_demo import play_storm

            state = app.state
            play_storm(state.ingest, state.warning, state.risk, state.warning_loop, minutes=storm_minutes, speed=storm_speed, epsg=state.settings.work_epsg,
                       report=lambda line: click.echo(line, err=True), stop=stop)

    threading.Thread(target=when_listening, name="onemap-demo", daemon=True).start()
    try:
        server.run()
    finally:
        stop.set()
