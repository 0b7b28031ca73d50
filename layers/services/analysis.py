"""What the analysis services (coverage, risk zoning) are built on: one store, the settings, the
routing service whose road graphs they walk or drive, and a lock guarding their cached results."""

from __future__ import annotations

import threading

from layers.services.routing import RoutingService
from layers.settings import Settings
from layers.store.base import Store


class RoutedAnalysis:
    """An analysis over one store, its results cached by the versions of its input layers."""

    def __init__(self, store: Store, settings: Settings, routing: RoutingService) -> None:
        self.store = store
        self.settings = settings
        self.routing = routing
        self._lock = threading.Lock()
