"""The FastAPI application factory: ``create_app(settings)``. The store is opened once in the
lifespan and reaches routes through ``api.dependencies``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from layers.coverage_service import CoverageService
from layers.map_service import MapService
from layers.operations import Operations
from layers.risk_service import RiskService
from layers.routing_service import RoutingService
from layers.settings import Settings
from layers.store import open_store

from . import coverage, features, operations, risk, routing, wallmap
from .errors import install_error_handlers

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the ``ONEMAP_*`` environment."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        app.state.store = store
        app.state.routing = RoutingService(store, settings)
        app.state.coverage = CoverageService(store, settings, app.state.routing)
        app.state.risk = RiskService(store, settings, app.state.routing)
        app.state.map_service = MapService(store, settings)
        app.state.operations = Operations(store, settings)
        app.state.basemap = wallmap.BasemapCache()
        logger.info("store opened: %s", type(store).__name__)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="onemap 应急一张图",
        description="Emergency-management one map: layers as OGC API - Features.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(features.router)
    app.include_router(routing.router)
    app.include_router(coverage.router)
    app.include_router(risk.router)
    app.include_router(operations.router)
    app.include_router(wallmap.router)
    wallmap.install_static(app)
    return app
