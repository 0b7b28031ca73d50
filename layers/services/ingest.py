"""Gauge readings into the store, from any path (HTTP, files, MQTT): checked against the stations
the store knows, the good ones upserted by (station, time), every bad one kept as a dead letter
with its reason, and the warning engine told that there is something new."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from layers.catalogue import SOURCE_ID
from layers.io.observations import KIND_UNITS, StationInfo, check_observations
from layers.store.base import Store


@dataclass(frozen=True)
class IngestResult:
    """How many readings were stored and how many became dead letters, with the first reasons."""

    accepted: int
    rejected: int
    reasons: list[str] = field(default_factory=list)


class IngestService:
    """Readings into one store. Thread-safe; the stations are read once per version of their layer."""

    def __init__(self, store: Store, *, on_written: Callable[[], None] | None = None) -> None:
        self.store = store
        self.on_written = on_written
        self._lock = threading.Lock()
        self._stations: tuple[str, dict[str, StationInfo]] | None = None

    def stations(self) -> dict[str, StationInfo]:
        """The stations by code, as the checks need them."""
        version = self.store.layer_version("monitoring_stations")
        with self._lock:
            if self._stations is not None and self._stations[0] == version:
                return self._stations[1]
        frame = self.store.read("monitoring_stations")
        known = {str(code): StationInfo(str(code), kind, KIND_UNITS[kind]) for code, kind in zip(frame[SOURCE_ID], frame["kind"], strict=True)}
        with self._lock:
            self._stations = (version, known)
        return known

    def ingest(self, records: Iterable[Mapping[str, Any]], *, source: str, now: datetime | None = None) -> IngestResult:
        """Check and store ``records``; never raises for bad records (they become dead letters)."""
        good, bad = check_observations(records, self.stations(), source=source, now=now or datetime.now(UTC))
        if good:
            self.store.upsert_observations(good)
        if bad:
            self.store.add_dead_letters(bad)
        if good and self.on_written is not None:
            self.on_written()
        return IngestResult(len(good), len(bad), [f"{letter.source}: {letter.reason}" for letter in bad[:20]])
