"""What an import reports: its options, one ``Problem`` per row and field, the prepared rows of a
chunk, the report of a whole file, and the report as CSV.

``Problem.row`` is the row the user sees (spreadsheet row or feature number); accepted rows are
in EPSG:4326 with the layer's columns.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

from layers.io.import_mapping import ColumnPlan
from layers.store.base import WriteCounts


@dataclass(frozen=True)
class Problem:
    """One line of the import report. ``row`` is what the user sees (spreadsheet row or feature number)."""

    row: int | None
    source_id: str | None
    field: str
    problem: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        sid = f" [{self.source_id}]" if self.source_id else ""
        return f"{self.severity.upper()} {where}{sid} {self.field}: {self.problem}"


@dataclass(frozen=True)
class ImportOptions:
    """What the user said about a file: its CRS and offset, ``--map``/``--set`` pairs as written,
    the header row, the reader's options, and how strict the write is."""

    crs: str | int | None = None
    offset_system: str | None = None
    mapping: Sequence[str] = ()
    constants: Sequence[str] = ()
    header_row: int | None = None
    encoding: str | None = None
    sheet: str | None = None
    source_layer: str | None = None
    strict: bool = False
    strict_warnings: bool = False


class _Problems:
    """Counts over a report's ``problems``."""

    problems: list[Problem]

    @property
    def rejected_rows(self) -> int:
        return len({p.row for p in self.problems if p.severity == "error"})

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass
class PreparedImport(_Problems):
    """Accepted rows (EPSG:4326, layer columns), the report, and what was assumed along the way."""

    layer: str
    accepted: gpd.GeoDataFrame
    problems: list[Problem]
    notes: list[str]
    total_rows: int


@dataclass
class ImportReport(_Problems):
    """What ``import_file`` did: rows read and accepted, the report, and what the store wrote
    (``written`` is None when nothing was)."""

    path: Path
    layer: str
    plans: list[ColumnPlan]
    total_rows: int = 0
    accepted_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preview: gpd.GeoDataFrame | None = None
    accepted_ids: list[str] = field(default_factory=list)
    written: WriteCounts | None = None



def to_problem_report(problems: Sequence[Problem], path: Path) -> None:
    """The per-row report as CSV (UTF-8 with BOM, so Excel opens the Chinese text)."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "source_id", "field", "severity", "problem"])
        for p in problems:
            writer.writerow([p.row if p.row is not None else "", p.source_id or "", p.field, p.severity, p.problem])
