"""``onemap import LAYER FILE``: turn a bureau's file, as published, into validated rows of a layer.

``LedgerImport`` holds what one file's rows share — the column plan (``layers.io.import_mapping``),
the constants of ``--set``, the CRS — and prepares the rows chunk by chunk: coordinates read and
reprojected to EPSG:4326 (GCJ-02/BD-09 offsets undone when asked), every cell checked against
its field (``layers.io.validate``), the location checked against the city, derived fields filled,
and across chunks the duplicate ids, placeholder points and duplicate rows found. Preparing is
pure; ``import_file`` streams the prepared chunks into one store transaction, which commits
whole or not at all (``--strict``: nothing when a row has an error; ``--strict-warnings``: also
nothing when one has a warning).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.accounts.tables import AuditLine
from layers.catalogue import SOURCE_ID, FieldSpec, LayerSpec, get_layer
from layers.errors import InputError
from layers.io.import_checks import FirstSeen, check_locations, locate_rows, point_keys
from layers.io.import_mapping import (
    ColumnPlan,
    header_score,
    parse_map_option,
    parse_set_option,
    plan_columns,
)
from layers.io.import_report import ImportOptions, ImportReport, PreparedImport, Problem
from layers.io.readers import SourceTable, iter_source
from layers.io.validate import coerce_column, derive_columns, derive_geometric_fields, missing_mask
from layers.settings import Settings
from layers.store.base import Store, WriteCounts

logger = logging.getLogger(__name__)

OFFSET_SYSTEMS = ("gcj02", "bd09")
PREVIEW_ROWS = 5
AUDIT_IDS = 1000
"""At most this many imported ids are named in the audit line (with the total count)."""
ROAD_LENGTH_TOLERANCE = 0.2
"""A road's declared length may differ from its geometry's by this share before a warning."""


class _Rollback(Exception):
    """Raised inside the store transaction to undo a strict import."""


class LedgerImport:
    """One file's import: the column plan, constants and CRS its chunks share, and the checks
    across chunks. Build it from the first chunk, then ``prepare`` every chunk and ``finish``."""

    def __init__(self, spec: LayerSpec, first: SourceTable, *, settings: Settings, options: ImportOptions) -> None:
        if options.offset_system is not None and options.offset_system.lower() not in OFFSET_SYSTEMS:
            raise InputError(f"--from {options.offset_system!r}: use one of {', '.join(OFFSET_SYSTEMS)}")
        self.spec = spec
        self.settings = settings
        self.options = options
        self.path = first.path
        self.notes: list[str] = list(first.notes)
        columns = [str(c) for c in first.attributes.columns]
        explicit = [parse_map_option(spec, pair) for pair in options.mapping]
        constants = dict(parse_set_option(spec, pair) for pair in options.constants)
        self.plans = plan_columns(spec, columns, path=first.path, explicit=explicit, constants=constants)
        self.constants = {name: self._constant(spec.field(name), value) for name, value in constants.items()}
        missing = [f.display_label for f in spec.fields if f.required and f.name not in self.plans and not f.derived]
        if missing:
            raise InputError(
                f"{first.path}: missing required column(s) for layer {spec.name}: {', '.join(missing)}; "
                f"the file's columns are {columns}. Rename them, use --map SOURCE=FIELD, or give every row "
                f"one value with --set FIELD=VALUE (see: onemap layers --fields {spec.name})"
            )
        if first.geometry is None and not ({"lon", "lat"} <= set(self.plans) or {"lonlat", "latlon", "wkt"} & set(self.plans)):
            raise InputError(
                f"{first.path}: no coordinate columns: looked for longitude (经度/lon/lng/x…) and latitude "
                f"(纬度/lat/y…), one 经纬度/坐标 column (116.59,35.41) or a WKT column; columns are {columns}. "
                "Use --map COLUMN=lon --map COLUMN=lat (or COLUMN=lonlat)"
            )
        used = {p.column for p in self.plans.values() if p.column is not None}
        ignored = [c for c in columns if c not in used]
        if ignored:
            self.notes.append(f"columns not used: {', '.join(ignored)}")
        if SOURCE_ID not in self.plans:
            self.notes.append(f"no {SOURCE_ID}/编号 column: ids derived from name and location (stable for the same data)")
        for f in spec.fields:
            plan = self.plans.get(f.name)
            if f.geometric and plan is not None and plan.column is not None:
                self.notes.append(f"column {plan.column!r}: {f.display_label} is recomputed from the geometry in EPSG:{settings.work_epsg}")
        self.crs: CRS | None = None
        self.survey_swap = False
        self._ids = FirstSeen()
        self._points = FirstSeen()
        self._named_points = FirstSeen()

    def _constant(self, spec: FieldSpec, value: str) -> Any:
        coerced = coerce_column(pd.Series([value], dtype=object), spec)
        if coerced.errors:
            raise InputError(f"--set {spec.name}={value}: {coerced.errors[0]}")
        return coerced.values.iloc[0]

    def column(self, source: SourceTable, target: str) -> pd.Series | None:
        plan = self.plans.get(target)
        if plan is None or plan.column is None:
            return None
        return source.attributes[plan.column].reset_index(drop=True)

    def prepare(self, source: SourceTable) -> PreparedImport:
        """Check and convert one chunk; pure (no I/O)."""
        spec, n = self.spec, len(source.attributes)
        self.notes.extend(note for note in source.notes if note not in self.notes)
        labels = np.asarray(source.row_labels, dtype=np.int64)
        problems: list[Problem] = []
        bad = np.zeros(n, dtype=bool)

        def report(position: int, sid: Any, column: str, message: str, severity: str = "error") -> None:
            problems.append(Problem(int(labels[position]), sid, column, message, severity))
            if severity == "error":
                bad[position] = True

        frame = pd.DataFrame(index=range(n))
        sids = self._source_ids(source, frame, report)
        for f in spec.fields:
            plan = self.plans.get(f.name)
            if plan is not None and plan.column is None:
                frame[f.name] = pd.Series([self.constants[f.name]] * n, dtype=object)
                continue
            raw = self.column(source, f.name)
            if raw is None or f.geometric:
                frame[f.name] = pd.Series([None] * n, dtype=object)
                continue
            coerced = coerce_column(raw, f, factor=plan.factor if plan else 1.0)
            assert plan is not None and plan.column is not None
            for position, message in coerced.errors.items():
                report(position, sids[position], plan.column, message)
            for position, message in coerced.warnings.items():
                report(position, sids[position], plan.column, message, "warning")
            frame[f.name] = coerced.values
        for f in spec.fields:
            if f.required and not f.derived:
                empty = missing_mask(frame[f.name]) & ~bad
                where = self.plans[f.name].column or f.name
                for position in np.flatnonzero(empty).tolist():
                    report(int(position), sids[position], where, f"required field {f.display_label} is empty")

        located = locate_rows(self, source, report, sids)
        geometry = located.geometry
        check_locations(self, located, report, sids)

        no_id = np.array([s is None for s in sids]) & ~bad
        if SOURCE_ID not in self.plans:
            for position in np.flatnonzero(no_id).tolist():
                sids[position] = _derived_id(spec.name, frame["name"].iloc[position] if "name" in frame else None, geometry[position])
        keep = ~bad
        duplicate, first = self._ids.check_and_add(pd.util.hash_array(np.asarray([str(s) for s in sids], dtype=object)), labels, keep)
        for position in np.flatnonzero(duplicate).tolist():
            report(int(position), sids[position], (self.plans.get(SOURCE_ID) or ColumnPlan(SOURCE_ID, SOURCE_ID)).column or SOURCE_ID,
                   f"duplicate {SOURCE_ID}: row {first[position]} has it too")
        keep = ~bad
        for position, found in derive_columns(spec.name, frame, area_per_person_m2=self.settings.area_per_person_m2).items():
            for name, message in found:
                report(position, sids[position], name, message, "warning")
        if spec.geometry_type == "Point":
            self._point_warnings(frame, located.x, located.y, labels, keep, sids, report)

        frame.insert(0, SOURCE_ID, pd.Series(sids, dtype=object))
        accepted = gpd.GeoDataFrame(frame.loc[keep].reset_index(drop=True), geometry=list(geometry[keep]), crs=CRS.from_epsg(4326))
        accepted = accepted[[*spec.columns, "geometry"]]
        derive_geometric_fields(spec, accepted, work_epsg=self.settings.work_epsg)
        if spec.name == "roads":
            self._road_length_warnings(accepted, labels[keep], problems)
        problems.sort(key=lambda p: (p.row or 0, p.severity))
        return PreparedImport(layer=spec.name, accepted=accepted, problems=problems, notes=self.notes, total_rows=n)

    def _source_ids(self, source: SourceTable, frame: pd.DataFrame, report: Any) -> list[Any]:
        raw = self.column(source, SOURCE_ID)
        n = len(source.attributes)
        if raw is None:
            return [None] * n
        coerced = coerce_column(raw, _ID_SPEC)
        column = self.plans[SOURCE_ID].column or SOURCE_ID
        sids: list[Any] = coerced.values.tolist()
        for position, message in coerced.errors.items():
            report(position, None, column, message)
        for position in np.flatnonzero(missing_mask(raw)).tolist():
            report(int(position), None, column, f"{SOURCE_ID} (编号) is empty")
        return sids

    def _point_warnings(self, frame: pd.DataFrame, x: np.ndarray, y: np.ndarray, labels: np.ndarray, keep: np.ndarray, sids: list[Any], report: Any) -> None:
        finite = np.isfinite(x) & np.isfinite(y) & keep
        names = frame["name"].astype(str).to_numpy(dtype=object) if "name" in frame else np.full(len(frame), "", dtype=object)
        at_point = point_keys(x, y)
        with_name = pd.util.hash_array(names) ^ (at_point * np.uint64(0x9E3779B97F4A7C15))
        repeated, first_row = self._named_points.check_and_add(with_name, labels, finite)
        placed, first_at = self._points.check_and_add(at_point, labels, finite)
        lon_column = (self.plans.get("lon") or self.plans.get("lonlat") or self.plans.get("latlon") or ColumnPlan("geometry", "geometry")).column or "geometry"
        for position in np.flatnonzero(repeated).tolist():
            report(int(position), sids[position], "name", f"the same name and point as row {first_row[position]}: a duplicate row?", "warning")
        for position in np.flatnonzero(placed & ~repeated).tolist():
            report(int(position), sids[position], lon_column,
                   f"the same point ({x[position]:.6f}, {y[position]:.6f}) as row {first_at[position]}: a placeholder coordinate?", "warning")
        whole = finite & (x == np.round(x)) & (y == np.round(y))
        for position in np.flatnonzero(whole).tolist():
            report(int(position), sids[position], lon_column, f"whole degrees ({x[position]:g}, {y[position]:g}): a placeholder coordinate?", "warning")

    def _road_length_warnings(self, roads: gpd.GeoDataFrame, labels: np.ndarray, problems: list[Problem]) -> None:
        declared = roads["declared_length_m"].to_numpy(dtype=float)
        measured = roads["length_m"].to_numpy(dtype=float)
        off = np.isfinite(declared) & (np.abs(declared - measured) > ROAD_LENGTH_TOLERANCE * measured)
        column = (self.plans.get("declared_length_m") or ColumnPlan("declared_length_m", "declared_length_m")).column or "declared_length_m"
        for position in np.flatnonzero(off).tolist():
            share = (declared[position] - measured[position]) / measured[position] if measured[position] else np.inf
            problems.append(Problem(int(labels[position]), roads[SOURCE_ID].iloc[position], column,
                                    f"the ledger's length {declared[position]:,.0f} m differs from the geometry's {measured[position]:,.0f} m by {share:+.0%}; travel times use the ledger's", "warning"))


_ID_SPEC = FieldSpec(SOURCE_ID, "str", "编号")


def _derived_id(layer: str, name: Any, geometry: Any) -> str:
    label = "" if name is None or (isinstance(name, float) and np.isnan(name)) else name
    digest = hashlib.sha1(f"{layer}|{label}|{shapely.to_wkt(geometry, rounding_precision=7)}".encode()).hexdigest()
    return f"{layer[:3].upper()}-{digest[:12]}"


def prepare_import(layer: str, source: SourceTable, *, settings: Settings, crs: str | int | None = None,
                   offset_system: str | None = None, mapping: Sequence[str] = ()) -> PreparedImport:
    """Validate and convert a whole read file into the layer's rows. Pure: no I/O.

    Raises ``InputError`` for problems of the whole file (a missing required column, an unknown
    CRS or unit); returns row-level problems in the report.
    """
    ledger = LedgerImport(get_layer(layer), source, settings=settings, options=ImportOptions(crs=crs, offset_system=offset_system, mapping=mapping))
    return ledger.prepare(source)


def import_file(store: Store, layer: str, path: str | Path, *, settings: Settings, options: ImportOptions | None = None,
                dry_run: bool = False, chunk_rows: int | None = None, actor: str = "onemap") -> ImportReport:
    """Read, validate and write ``path`` into ``layer`` in one transaction, chunk by chunk.

    Accepted rows are upserted by source id; with ``options.strict`` nothing at all is written
    when a row has an error, with ``options.strict_warnings`` also when one has a warning; with
    ``dry_run`` nothing is written and the report says what would be. The audit line (by
    ``actor``) commits in the same transaction as the rows.
    """
    options = options or ImportOptions()
    spec = get_layer(layer)
    reader_options: dict[str, Any] = {}
    if chunk_rows is not None:
        reader_options["chunk_rows"] = chunk_rows
    chunks = iter_source(path, encoding=options.encoding, sheet=options.sheet, source_layer=options.source_layer,
                         target_layer=spec.name, header_row=options.header_row,
                         header_score=lambda cells: header_score(spec, cells) + sum(c.strip() in _map_sources(options) for c in cells),
                         **reader_options)
    first = next(chunks)
    ledger = LedgerImport(spec, first, settings=settings, options=options)
    order = {str(c): k for k, c in enumerate(first.attributes.columns)}
    plans = sorted(ledger.plans.values(), key=lambda p: order.get(p.column or "", len(order)))
    report = ImportReport(Path(path), spec.name, plans)

    def prepared_chunks() -> Any:
        for chunk in _chain(first, chunks):
            prepared = ledger.prepare(chunk)
            report.total_rows += prepared.total_rows
            report.accepted_rows += len(prepared.accepted)
            report.problems.extend(prepared.problems)
            if report.preview is None or len(report.preview) < PREVIEW_ROWS:
                head = prepared.accepted.head(PREVIEW_ROWS)
                report.preview = head if report.preview is None else pd.concat([report.preview, head]).head(PREVIEW_ROWS)
            room = AUDIT_IDS - len(report.accepted_ids)
            if room > 0:
                report.accepted_ids.extend(str(i) for i in prepared.accepted[SOURCE_ID].head(room))
            yield prepared

    if dry_run:
        for _ in prepared_chunks():
            pass
        report.notes = [*ledger.notes, "--dry-run: nothing was written"]
        return report
    totals = WriteCounts()

    def audit(written: WriteCounts) -> AuditLine | None:
        if not written.written:
            return None
        return AuditLine(actor, "import", spec.name, after=list(report.accepted_ids),
                         detail={"file": str(path), "rows": report.accepted_rows, "inserted": written.inserted, "updated": written.updated, "unchanged": written.unchanged})

    try:
        with store.upsert_stream(spec.name, audit=audit) as write:
            has_errors = False
            for prepared in prepared_chunks():
                has_errors = has_errors or bool(prepared.errors)
                if prepared.accepted.empty or (options.strict and has_errors):
                    continue  # still read on, for the whole report
                totals = totals + write(prepared.accepted)
            if options.strict and has_errors:
                raise _Rollback("--strict: nothing was written because rows have errors")
            if options.strict_warnings and report.warnings:
                raise _Rollback("--strict-warnings: nothing was written because rows have warnings")
            if report.accepted_rows == 0:
                raise _Rollback("no valid rows: nothing was written")
    except _Rollback as stop:
        report.notes = [*ledger.notes, str(stop)]
        return report
    report.notes = list(ledger.notes)
    report.written = totals
    return report


def _map_sources(options: ImportOptions) -> set[str]:
    return {pair.partition("=")[0].strip() for pair in options.mapping}


def _chain(first: SourceTable, rest: Any) -> Any:
    yield first
    yield from rest


__all__ = ["LedgerImport", "import_file", "prepare_import"]
