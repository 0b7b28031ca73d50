"""The narrow storage boundary shared by the PostGIS and GeoPackage stores.

Operations: list layers with counts and extents, read by bbox / attribute filter / limit+offset,
get by source id, upsert a batch (several layers at once) in one transaction, delete. Geometries go
in and come out in EPSG:4326; bbox is (min_lon, min_lat, max_lon, max_lat) in degrees and selects
features whose geometry intersects the box. Results are ordered by insertion (the store's fid).
Beside the layers, plain tables: gauge observations, depot stocks (``stock_rows``) and scenarios
(``scenario_rows``). Analyses never see a store: callers read frames and pass them on.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.accounts.tables import AuditLine
from layers.catalogue import SOURCE_ID, LayerSpec, get_layer
from layers.errors import NotFoundError, PreconditionFailed
from layers.io.observations import DeadLetter, Observation
from layers.store.frames import Rows, frame_from_rows, rows_from_frame
from layers.store.scenario_rows import ScenarioRecord
from layers.store.selection import BBox, Filters, Selection, check_text, select_features
from layers.store.tile_plan import TilePlan


@dataclass(frozen=True)
class LayerInfo:
    """A layer's name, titles, feature count and lon/lat extent (None when empty)."""

    name: str
    title_zh: str
    title_en: str
    geometry_type: str
    count: int
    bbox: BBox | None


@dataclass(frozen=True)
class WriteCounts:
    """What an upsert did to one layer (or table); ``deleted``: rows the write removed, where it
    removes any (``write_depot_stocks(replace_depots=True)``)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged, self.deleted + other.deleted)


@dataclass(frozen=True)
class UpsertPlan:
    """Rows of a batch split into new rows, changed rows and rows identical to the stored ones."""

    inserts: list[int]
    updates: list[int]
    unchanged: int

    def counts(self) -> WriteCounts:
        return WriteCounts(len(self.inserts), len(self.updates), self.unchanged)


Change = Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]
"""An edit of one feature: given its stored one-row frame, the frame to store instead."""
AuditFor = Callable[[WriteCounts], AuditLine | None]
"""The audit line of a streamed write, from its total counts (None: nothing worth a line)."""


def row_version(spec: LayerSpec, frame: gpd.GeoDataFrame) -> str:
    """The version of a stored one-row frame, for ``ETag``/``If-Match``: a SHA-256 of its values
    and geometry (16 hex digits). Any change to any field or to the geometry changes it."""
    rows = rows_from_frame(spec, frame)
    digest = hashlib.sha256(repr(rows.values[0]).encode("utf-8", "surrogatepass"))
    digest.update(rows.wkbs[0])
    return digest.hexdigest()[:16]


def check_version(spec: LayerSpec, frame: gpd.GeoDataFrame, if_match: str | None) -> None:
    """``PreconditionFailed`` when ``if_match`` (a version, ``"v"``-quoted or not, or ``*``) is
    not the stored feature's version."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    current = row_version(spec, frame)
    if "*" not in wanted and current not in wanted:
        raise PreconditionFailed(f"{spec.name} {frame[SOURCE_ID].iloc[0]} was changed by someone else (now version {current}); reload it and apply your change again")


def plan_upsert(rows: Rows, stored: Mapping[str, tuple[tuple[Any, ...], bytes]]) -> UpsertPlan:
    """Compare a batch with the stored rows of the same source ids (values and WKB).

    ``stored`` maps source id → (attribute tuple in spec order, 2-D WKB). Re-running the same
    batch therefore plans no writes at all.
    """
    inserts: list[int] = []
    updates: list[int] = []
    unchanged = 0
    for position, (values, wkb) in enumerate(zip(rows.values, rows.wkbs, strict=True)):
        previous = stored.get(values[0])
        if previous is None:
            inserts.append(position)
        elif _same_values(previous[0], values) and previous[1] == wkb:
            unchanged += 1
        else:
            updates.append(position)
    return UpsertPlan(inserts, updates, unchanged)


def _same_values(left: Sequence[Any], right: Sequence[Any]) -> bool:
    for a, b in zip(left, right, strict=True):
        if isinstance(a, float) and isinstance(b, float):
            if not (a == b or (math.isnan(a) and math.isnan(b))):
                return False
        elif a != b:
            return False
    return True



class Transaction(ABC):
    """One write transaction of a store, open while its ``with`` block runs: it commits when the
    block ends and rolls back when it raises. Rows are ``Rows`` (EPSG:4326 WKB)."""

    @abstractmethod
    def upsert(self, spec: LayerSpec, rows: Rows) -> WriteCounts:
        """Insert new source ids, update changed rows, leave identical ones alone."""

    @abstractmethod
    def delete(self, spec: LayerSpec, source_ids: Sequence[str]) -> int:
        """Delete by source id; returns how many were deleted."""

    @abstractmethod
    def current(self, spec: LayerSpec, source_id: str) -> gpd.GeoDataFrame:
        """The stored feature as a one-row frame, safe from other writers until the transaction
        ends; ``NotFoundError`` when there is none."""

    @abstractmethod
    def audit(self, line: AuditLine) -> None:
        """Append ``line`` to the audit log, committed with the rows."""

    @abstractmethod
    def put_scenario(self, record: ScenarioRecord, *, expected_status: str | None = None) -> None:
        """Insert ``record``, or replace the stored scenario with its id (``InputError`` naming the
        field when the record is bad). ``expected_status``: the stored scenario's status must
        still be this one, read under the transaction's lock (else ``InputError`` saying what it
        is now): a status change made from two processes at once lands once."""


class Store(ABC):
    """A place the layers live. Use as a context manager, or call ``close()``.

    A store implements the reads of a ``Selection`` (``_count``, ``_rows``) and a write
    ``Transaction`` (``_begin``); the public reads and writes are built on them here."""

    @abstractmethod
    def list_layers(self) -> list[LayerInfo]:
        """Every catalogue layer with its count and extent."""

    @abstractmethod
    def _count(self, selection: Selection) -> int:
        """How many features ``selection`` matches, paging aside."""

    @abstractmethod
    def _rows(self, selection: Selection) -> tuple[list[tuple[Any, ...]], list[bytes]]:
        """The selected rows in insertion order: attribute tuples in ``spec.columns`` order, WKB."""

    @abstractmethod
    def _fid_bounds(self, spec: LayerSpec) -> tuple[int, int] | None:
        """The lowest and highest row id (fid) of the layer's table; None when it is empty."""

    @abstractmethod
    def _begin(self) -> AbstractContextManager[Transaction]:
        """A write transaction (see ``Transaction``); no other writer interleaves with it."""

    @abstractmethod
    def delete(self, layer: str, source_ids: Sequence[str]) -> int:
        """Delete features by source id in one transaction; returns how many were deleted."""

    @abstractmethod
    def layer_version(self, layer: str) -> str:
        """A token that changes whenever the layer's rows change (for caches keyed by the data)."""

    @abstractmethod
    def vector_tile(self, plan: TilePlan) -> bytes:
        """The Mapbox Vector Tile of ``plan`` (EPSG:3857, extent 4096; see ``tile_plan``): the
        same features and properties from every store; empty bytes when none reaches the tile."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # Observations and dead letters are high-volume machine writes: no audit line per row (the
    # audit log is for what people do). A caller's bug (a naive datetime, a NaN value, an empty
    # station code) raises ValueError and nothing is written.

    @abstractmethod
    def upsert_observations(self, observations: Sequence[Observation]) -> int:
        """Write gauge reports in ONE transaction; returns the rows written. The key is (station_id,
        time): a repeated key replaces value, unit and quality (within one batch, its last
        occurrence counts once). Times are kept to the millisecond (UTC)."""

    @abstractmethod
    def read_observations(self, station_ids: Sequence[str] | None, since: datetime, until: datetime) -> pd.DataFrame:
        """Reports with ``since`` ≤ time < ``until`` (timezone-aware) of the given stations (None:
        all): columns station_id, time (``datetime64[ms, UTC]``), value (m or mm), unit, quality,
        sorted by station_id then time."""

    @abstractmethod
    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep records that could not be used, in ONE transaction; returns how many."""

    @abstractmethod
    def dead_letter_count(self, since: datetime | None = None) -> int:
        """How many dead letters arrived at or after ``since`` (timezone-aware; None: ever)."""

    @abstractmethod
    def read_dead_letters(self, limit: int = 100) -> pd.DataFrame:
        """The newest ``limit`` dead letters, newest first: columns id, received_at
        (``datetime64[ms, UTC]``), source, payload, reason."""

    # Depot stocks: what each supply depot holds of each needs-profile item (key (depot_id, item);
    # quantity ≥ 0 in unit: kg, l, piece…). Times are UTC to the millisecond; a bad row raises
    # InputError naming its 1-based position in the batch and the field, and nothing is written.

    @abstractmethod
    def read_depot_stocks(self, depot_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Stocks of the given depots (None: all): columns depot_id, item, quantity (float), unit,
        updated_at (``datetime64[ms, UTC]``), updated_by; sorted by depot_id, item."""

    @abstractmethod
    def write_depot_stocks(self, rows: pd.DataFrame, *, replace_depots: bool = False, actor: str, audit: AuditLine | None = None) -> WriteCounts:
        """Upsert ``rows`` (depot_id, item, quantity, unit) by (depot_id, item) in ONE transaction
        with ``audit``; the same quantity and unit is unchanged (its updated_at kept). With
        ``replace_depots``, each depot's stored items missing from ``rows`` are deleted (a ledger is
        the whole stock of its depots). Concurrent writers never lose each other's rows."""

    @abstractmethod
    def delete_depot_stock(self, depot_id: str, item: str, *, audit: AuditLine | None = None) -> int:
        """Delete one depot's item (with ``audit`` when a row goes); returns 0 or 1."""

    @abstractmethod
    def depot_stocks_version(self) -> str:
        """A token that changes whenever depot_stocks changes (for caches); cheap."""

    # Scenarios (``ScenarioRecord``): footprints in EPSG:4326, times aware UTC to the millisecond.

    @abstractmethod
    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """The scenario with its result; ``NotFoundError`` naming the id when there is none."""

    @abstractmethod
    def list_scenarios(self, *, status: str | None = None, incident_id: str | None = None, bbox: BBox | None = None, limit: int = 100) -> list[ScenarioRecord]:
        """Scenarios WITHOUT their result (None), newest created_at first; ``bbox`` (lon/lat
        degrees) selects those whose footprint intersects it."""

    def save_scenario(self, record: ScenarioRecord, *, batches: Mapping[str, gpd.GeoDataFrame] | None = None, audit: AuditLine | None = None,
                      expected_status: str | None = None) -> None:
        """Insert or replace ``record`` by id, upsert the catalogue layers' ``batches`` (e.g.
        ``{"road_closures": frame}``) and write ``audit``, all in ONE transaction: all or nothing.
        ``expected_status``: see ``Transaction.put_scenario``."""
        prepared = [(get_layer(name), rows_from_frame(get_layer(name), frame)) for name, frame in (batches or {}).items()]
        with self._begin() as transaction:
            transaction.put_scenario(record, expected_status=expected_status)
            for spec, rows in prepared:
                transaction.upsert(spec, rows)
            if audit is not None:
                transaction.audit(audit)

    def count(self, layer: str, *, bbox: BBox | None = None, filters: Filters | None = None) -> int:
        """How many features match (same selection as ``read`` without paging)."""
        return self._count(select_features(layer, bbox, filters))

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        filters: Filters | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        """Features as a GeoDataFrame in EPSG:4326 with ``source_id`` and the spec's fields."""
        selection = select_features(layer, bbox, filters, limit, offset)
        values, wkbs = self._rows(selection)
        return frame_from_rows(selection.spec, values, wkbs)

    def read_in_chunks(self, layer: str, *, rows: int = 500_000) -> Iterator[gpd.GeoDataFrame]:
        """The whole layer, at most ``rows`` features at a time in ``fid`` order (as ``read`` pages
        them): for the analyses that fold a layer too large to hold at once (a province's
        population). A chunk is a range of ``rows`` row ids, read by the primary key: paging by
        offset made each chunk skip every row before it (a second for the last of a province's
        16 million cells), and a row written meanwhile could shift a page onto rows read before."""
        spec = get_layer(layer)
        bounds = self._fid_bounds(spec)
        if bounds is None:
            return
        for start in range(bounds[0], bounds[1] + 1, rows):
            selection = Selection(spec, None, {}, fids=(start, start + rows))
            values, wkbs = self._rows(selection)
            if values:
                yield frame_from_rows(spec, values, wkbs)

    def get(self, layer: str, source_id: str) -> gpd.GeoDataFrame:
        """The one feature with this source id, as a one-row frame; ``NotFoundError`` otherwise."""
        found = self.read(layer, filters={SOURCE_ID: source_id}, limit=1)
        if found.empty:
            raise NotFoundError(f"layer {layer} has no feature with {SOURCE_ID} {source_id!r}")
        return found

    def upsert(self, layer: str, frame: gpd.GeoDataFrame) -> WriteCounts:
        """Upsert one layer's batch in one transaction."""
        return self.upsert_many({layer: frame})[layer]

    def upsert_many(self, batches: Mapping[str, gpd.GeoDataFrame], *, deletes: Mapping[str, Sequence[str]] | None = None, audit: AuditLine | None = None) -> dict[str, WriteCounts]:
        """Upsert several layers by source id in ONE transaction: all rows land, or none.

        ``deletes`` (layer → source ids) are deleted first, in the same transaction; ``audit`` is
        written in it too, so a write never lands without its audit line."""
        prepared = [(get_layer(name), rows_from_frame(get_layer(name), frame)) for name, frame in batches.items()]
        with self._begin() as transaction:
            for layer, source_ids in (deletes or {}).items():
                transaction.delete(get_layer(layer), source_ids)
            results = {spec.name: transaction.upsert(spec, rows) for spec, rows in prepared}
            if audit is not None:
                transaction.audit(audit)
        return results

    @contextmanager
    def upsert_stream(self, layer: str, *, audit: AuditFor | None = None) -> Iterator[Callable[[gpd.GeoDataFrame], WriteCounts]]:
        """A transaction for one layer that takes batches one by one: ``with store.upsert_stream(
        "roads") as write: write(chunk)``. Everything commits when the block ends, nothing when it
        raises. For files too big to hold at once; batches must not repeat a source id. ``audit``
        gets the total counts before the commit and gives the line committed with the rows."""
        spec = get_layer(layer)
        with self._begin() as transaction:
            totals = WriteCounts()

            def write(frame: gpd.GeoDataFrame) -> WriteCounts:
                nonlocal totals
                counts = transaction.upsert(spec, rows_from_frame(spec, frame))
                totals = totals + counts
                return counts

            yield write
            line = audit(totals) if audit is not None else None
            if line is not None:
                transaction.audit(line)

    def edit(self, layer: str, source_id: str, change: Change, *, if_match: str | None = None, audit: AuditLine | None = None) -> gpd.GeoDataFrame:
        """Read one feature, apply ``change`` and store the result in ONE transaction that no
        other writer can interleave with, so concurrent edits of different fields both land.

        ``if_match``: the version (``row_version``) the caller last saw; a different stored
        version raises ``PreconditionFailed`` and nothing is written. Returns the stored row."""
        spec = get_layer(layer)
        check_text(source_id, what=SOURCE_ID)
        with self._begin() as transaction:
            current = transaction.current(spec, source_id)
            check_version(spec, current, if_match)
            transaction.upsert(spec, rows_from_frame(spec, change(current)))
            if audit is not None:
                transaction.audit(audit)
            return transaction.current(spec, source_id)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
