"""The FastAPI application factory: ``create_app(settings)``. The store is opened once in the
lifespan, its city profile applied to the settings (``Settings.with_profile``), and both reach
routes through ``api.dependencies``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gis.risk.model import LEVEL_CODES
from layers.accounts.store import AccountStore
from layers.city import read_city_profile
from layers.errors import OnemapError
from layers.io.warning_rules import read_warning_rules
from layers.services.background import Coalescer
from layers.services.coverage import CoverageService
from layers.services.ingest import IngestService
from layers.services.jobs import Jobs
from layers.services.operations import Operations
from layers.services.risk import RiskService
from layers.services.routing import RoutingService
from layers.services.shares import ShareSituations
from layers.services.tile_files import TileFiles
from layers.services.wallmap import MapService
from layers.services.warning import Evaluation, EvaluationLoop, WarningService
from layers.settings import Settings
from layers.store import open_store
from web.wallmap import basemap_providers

from . import (
    alerts,
    auth,
    brief,
    coverage,
    events,
    features,
    observations,
    operations,
    risk,
    routing,
    scenarios,
    share_tiles,
    shares,
    stocks,
    vector_tiles,
    wallmap,
)
from .auth import RequireEditor, RequireViewer
from .body_limit import BodyLimit
from .docs_pages import install_docs
from .errors import ERROR_RESPONSES, install_error_handlers
from .rate_limit import FailureLimiter
from .security_headers import SecurityHeaders, content_security_policy

logger = logging.getLogger(__name__)


Report = Callable[[str], None]


def warm_up(risk: RiskService, coverage: CoverageService, report: Report) -> None:
    """Compute the risk zoning and the shelter coverage that the wall map shows (cached per
    version of the data), so the first look at them is instant; ``report`` gets one line each.
    An analysis the data cannot support is reported and skipped: the map is served anyway."""
    report("风险区划 risk zoning …")
    try:
        zoning = risk.current()
    except OnemapError as error:
        report(f"风险区划 risk zoning: skipped ({error})")
    else:
        counts = {name: int((zoning.levels == code).sum()) for code, name in LEVEL_CODES.items()}
        cell_km2 = zoning.grid.resolution_m**2 / 1e6
        report("风险区划 risk zoning: " + ", ".join(f"{name} {counts[name] * cell_km2:,.0f} km²" for name in ("重大", "较大", "一般", "低")))
    report("避难场所覆盖 shelter coverage …")
    try:
        result = coverage.result()
    except OnemapError as error:
        report(f"避难场所覆盖 shelter coverage: skipped ({error})")
        return
    totals = result.totals
    report(f"避难场所覆盖 shelter coverage: {totals['residents_covered']:,.0f} of {totals['residents']:,.0f} residents within {result.params.reach_min['紧急']:g} min walk of a shelter")


def create_app(settings: Settings | None = None, *, warm: Report | None = None, on_ready: Callable[[], None] | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the ``ONEMAP_*`` environment. With ``warm``, the
    risk zoning and shelter coverage are computed at start-up (see ``warm_up``); ``on_ready`` is
    called once the app is about to serve."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        resolved = settings.with_profile(read_city_profile(store))  # the store's city, unless ONEMAP_* overrides it
        app.state.settings = resolved
        app.state.store = store
        app.state.routing = RoutingService(store, resolved)
        app.state.coverage = CoverageService(store, resolved, app.state.routing)
        app.state.risk = RiskService(store, resolved, app.state.routing)
        app.state.operations = Operations(store, resolved)
        app.state.warning = WarningService(store, resolved, read_warning_rules(resolved.warning_rules))
        # The risk picture follows the evaluations in a thread of its own, 2 s after the first of a
        # burst: an evaluation never waits for a re-zoning, and the alerts reach the walls first.
        app.state.risk_follower = Coalescer("onemap-risk-follower", app.state.risk.refresh_live, delay_s=2.0)

        def follow(done: Evaluation) -> None:
            app.state.version_watch.nudge()  # the walls hear of new alerts now, not at the next look
            app.state.risk.follow_rain(done.rain_warnings)
            app.state.risk_follower.poke()

        app.state.warning_loop = EvaluationLoop(app.state.warning, interval_s=resolved.warning_interval_s, then=follow)
        app.state.ingest = IngestService(store, on_written=app.state.warning_loop.poke)
        app.state.map_service = MapService(store, resolved, risk=app.state.risk, ingest=app.state.ingest)
        app.state.version_watch = events.VersionWatch(app.state.map_service, bodies={
            "alerts": lambda: alerts.alerts_body(app.state.warning), "readings": lambda: alerts.readings_body(app.state.warning)})
        app.state.basemap = wallmap.BasemapCache(TileFiles(resolved.derived_cache_dir(), "basemap", "png"))
        app.state.accounts = AccountStore.for_settings(resolved, store=store)
        app.state.jobs = Jobs()
        app.state.share_situations = ShareSituations(store)
        logger.info("store opened: %s; city: %s, EPSG:%s", type(store).__name__, resolved.city_profile.name if resolved.city_profile else "no profile", resolved.work_epsg)
        if warm is not None:
            warm_up(app.state.risk, app.state.coverage, warm)
        # Started last: a start-up that fails above leaves no loop judging a store nobody closes.
        app.state.warning_loop.start()
        try:
            if on_ready is not None:
                on_ready()
            yield
        finally:
            app.state.warning_loop.close()
            app.state.risk_follower.close()
            app.state.jobs.close()
            app.state.accounts.close()
            store.close()

    app = FastAPI(
        title="onemap 应急一张图",
        description="Emergency-management one map: layers as OGC API - Features.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by docs_pages with local assets
        responses=ERROR_RESPONSES,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.failures = FailureLimiter()
    install_error_handlers(app)
    providers = basemap_providers(settings.tianditu_key, list(settings.basemaps))
    tile_urls = [str(p[key]) for p in providers for key in ("url", "overlay") if p.get(key)]
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_body_mb * 1_048_576))  # before any route reads a body
    app.add_middleware(SecurityHeaders, policy=content_security_policy(tile_urls))
    # Who may do what, in one place: reads need a viewer, writes an editor (auth.py: admin routes).
    app.include_router(auth.router)
    app.include_router(features.public_router)
    app.include_router(features.router, dependencies=[RequireViewer])
    app.include_router(vector_tiles.router, dependencies=[RequireViewer])
    app.include_router(routing.router, dependencies=[RequireViewer])
    app.include_router(coverage.router, dependencies=[RequireViewer])
    app.include_router(risk.router, dependencies=[RequireViewer])
    app.include_router(wallmap.router, dependencies=[RequireViewer])
    app.include_router(events.router, dependencies=[RequireViewer])
    app.include_router(operations.router, dependencies=[RequireEditor])
    app.include_router(alerts.router, dependencies=[RequireViewer])
    app.include_router(alerts.editor_router, dependencies=[RequireEditor])
    app.include_router(observations.router)  # sensor accounts and editors (require_observation_writer)
    app.include_router(scenarios.router, dependencies=[RequireViewer])
    app.include_router(scenarios.editor_router, dependencies=[RequireEditor])
    app.include_router(brief.router, dependencies=[RequireViewer])
    app.include_router(stocks.router, dependencies=[RequireViewer])
    app.include_router(stocks.editor_router, dependencies=[RequireEditor])
    app.include_router(shares.router, dependencies=[RequireEditor])
    app.include_router(shares.public_router)
    app.include_router(share_tiles.router)  # public: the token is the credential
    wallmap.install_static(app)
    install_docs(app)
    return app
