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
from layers.io.observations import (
    KIND_UNITS,
    MAX_PAYLOAD_CHARS,
    DeadLetter,
    StationInfo,
    check_observations,
)
from layers.store.base import Store

LIVE_MAX_AGE_DAYS = 31.0
"""Live feeds (HTTP, MQTT) refuse readings older than this: a gauge sends what it measures now,
and a platform catching up after an outage has a month; older records come from files."""

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
        self.revision = 0
        """Counts the batches that stored readings (the walls' ``readings`` change token)."""
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

    def ingest(self, records: Iterable[Mapping[str, Any]], *, source: str, now: datetime | None = None, max_age_days: float | None = None) -> IngestResult:
        """Check and store ``records``; never raises for bad records (they become dead letters).
        ``max_age_days``: live feeds (HTTP, MQTT) refuse readings older than that (files do not).
        A station and time given twice counts once (the later value is kept, as stored)."""
        received = now or datetime.now(UTC)
        good, bad = check_observations(records, self.stations(), source=source, now=received, max_age_days=max_age_days)
        good = list({(o.station_id, o.time): o for o in good}.values())
        if good:
            try:
                self.store.upsert_observations(good)
            except ValueError as error:  # data no check foresaw that the store refuses: kept as dead letters, not lost
                bad += [DeadLetter(received, source, repr(o)[:MAX_PAYLOAD_CHARS], f"the store refused the batch: {str(error)[:200]}") for o in good]
                good = []
        if bad:
            self.store.add_dead_letters(bad)
        if good:
            with self._lock:
                self.revision += 1
        if good and self.on_written is not None:
            self.on_written()
        return IngestResult(len(good), len(bad), [f"{letter.source}: {letter.reason}" for letter in bad[:20]])
