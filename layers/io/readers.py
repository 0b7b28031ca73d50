"""Read the files bureaus keep: GeoJSON, GeoPackage, Shapefile (GBK/GB18030 .dbf without .cpg),
CSV and XLSX ledgers with lon/lat columns, and GeoTIFF population rasters.

Readers only read; they never validate values. Every failure is an ``InputError`` that names the
file and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pandas.io.parsers import TextFileReader
from pyproj import CRS

from layers.errors import InputError
from layers.io.ledger import non_record_reason

_NOT_RECORD_START = r"^\s*(合|总|小|共|汇|注|备注|说明|填|制表|审核|负责人|联系人|数据来源)"

TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}
RASTER_SUFFIXES = {".tif", ".tiff"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".kml", ".gml"}
HEADER_SCAN_ROWS = 20
"""A ledger's header is looked for among its first rows (titles and notes may sit above it)."""
CHUNK_ROWS = 100_000
"""Rows of a CSV read and validated at a time."""
_SAMPLE_BYTES = 1 << 20
MAX_RASTER_CELLS = 2_000_000
"""A raster with more populated cells than this is refused: aggregate it first."""


HeaderScore = Callable[[Sequence[str]], int]
"""How many cells of a candidate header row name something the target layer knows."""


@dataclass
class SourceTable:
    """What a file holds, before validation.

    ``attributes`` keeps the file's own column names; for tables every cell is text (or missing),
    so that the validator can report "text in a number field" by row. ``geometry`` is set for
    vector and raster files, ``crs`` when the file declares one. ``row_labels`` gives the number a
    user sees for each row: the spreadsheet row for CSV/XLSX (header = row 1), else the feature
    number from 1.
    """

    path: Path
    kind: Literal["vector", "table", "raster"]
    attributes: pd.DataFrame
    geometry: gpd.GeoSeries | None = None
    crs: CRS | None = None
    row_labels: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown text encoding {encoding!r}: use e.g. utf-8, gbk or gb18030") from None


def _decode(path: Path, data: bytes, encoding: str | None, *, partial: bool = False) -> tuple[str, str]:
    """Text and the encoding used: the one given, else UTF-8 (with or without BOM), else GB18030.

    With ``partial``, ``data`` is the start of a longer file: a character cut at its end is fine.
    """
    candidates = [_check_encoding(encoding)] if encoding else ["utf-8-sig", "gb18030"]
    for candidate in candidates:
        try:
            return codecs.getincrementaldecoder(candidate)().decode(data, final=not partial), candidate
        except UnicodeDecodeError as error:
            last = error
    tried = " or ".join(candidates)
    raise InputError(
        f"{path}: cannot decode the text as {tried} (byte {last.start}: {last.reason}); "
        "pass --encoding with the file's encoding"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")


def read_gis_frame(path: Path, contents: str) -> gpd.GeoDataFrame:
    """A whole GIS file (GeoJSON, GeoPackage, Shapefile …) of ``contents`` as a frame, or an
    ``InputError`` saying it is not readable."""
    try:
        return pyogrio.read_dataframe(path)
    except Exception as error:  # pyogrio raises several kinds for unreadable files
        raise InputError(f"{path}: not a readable GIS file of {contents} ({error})") from None


def read_source(path: str | Path, *, target_layer: str | None = None) -> SourceTable:
    """Read the whole of ``path`` by its suffix, in one piece (see ``iter_source``)."""
    chunks = list(iter_source(path, target_layer=target_layer, chunk_rows=None))
    if len(chunks) == 1:
        return chunks[0]
    first = chunks[0]
    first.attributes = pd.concat([c.attributes for c in chunks], ignore_index=True)
    first.row_labels = [label for c in chunks for label in c.row_labels]
    return first


def iter_source(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    source_layer: str | None = None,
    target_layer: str | None = None,
    header_row: int | None = None,
    header_score: HeaderScore | None = None,
    chunk_rows: int | None = CHUNK_ROWS,
) -> Iterator[SourceTable]:
    """Read ``path`` by its suffix, a CSV in chunks of ``chunk_rows`` rows (memory bounded by the
    chunk, not the file), anything else in one piece.

    ``source_layer`` picks a layer in a multi-layer file (GeoPackage); without it the layer named
    like ``target_layer``, or the only layer, is read. For CSV and XLSX the header is row
    ``header_row`` (1 = the first row) or, without it, the row among the first
    ``HEADER_SCAN_ROWS`` that ``header_score`` rates highest (titles and notes above are skipped).
    """
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        yield from _read_csv(path, encoding, header_row, header_score, chunk_rows)
    elif suffix in {".xlsx", ".xlsm"}:
        yield _read_excel(path, sheet, header_row, header_score)
    elif suffix in RASTER_SUFFIXES:
        yield _read_raster(path)
    elif suffix == ".xls":
        raise InputError(f"{path}: old .xls workbooks are not read; save it as .xlsx")
    elif path.name.lower().endswith(".osm.pbf") or suffix == ".pbf":
        yield _read_osm(path, target_layer)
    else:
        yield _read_vector(path, encoding, source_layer, target_layer)


def find_header_row(path: Path, rows: Sequence[Sequence[object]], header_row: int | None, header_score: HeaderScore | None) -> int:
    """Index (from 0) of the header among ``rows``, the first rows of a table."""
    if header_row is not None:
        if not 1 <= header_row <= len(rows):
            raise InputError(f"{path}: --header-row {header_row}: the file's first rows are 1…{len(rows)}")
        return header_row - 1
    if header_score is None:
        return 0
    cells = [["" if _blank(c) else str(c) for c in row] for row in rows[:HEADER_SCAN_ROWS]]
    scores = [header_score(row) for row in cells]
    best = max(scores, default=0)
    first_filled = next((k for k, row in enumerate(cells) if any(row)), 0)
    if best < 2 and scores and scores[first_filled] == 1:
        return first_filled  # one known column on top: the header, with the rest to --map
    if best < 2:
        shown = cells[first_filled] if cells else []
        raise InputError(
            f"{path}: cannot find the header row: none of the first {len(cells)} rows names two of the "
            f"layer's columns (e.g. 编号, 名称, 经度, 纬度); the first filled row is {[c for c in shown if c][:8]}. "
            "Give the header's row number with --header-row N, and map its columns with --map SOURCE=FIELD, or rename them"
        )
    return scores.index(best)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip())


def _columns(path: Path, cells: Sequence[object]) -> list[str]:
    names: list[str] = []
    for number, cell in enumerate(cells, start=1):
        name = "" if _blank(cell) else str(cell).strip()
        name = name or f"列{number}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _table(path: Path, frame: pd.DataFrame, first_row: int, *, empty_ok: bool = False) -> SourceTable:
    """``frame``'s index counts data rows from 0; ``first_row`` is the spreadsheet row of index 0."""
    frame = frame.dropna(how="all")
    notes = []
    # Only rows that start like a total or a note are looked at closely (a million-row file has none).
    suspect = frame.iloc[:, 0].astype(str).str.strip().str.match(_NOT_RECORD_START) if len(frame.columns) else pd.Series(dtype=bool)
    if suspect.any():
        skipped = []
        for index in frame.index[suspect.to_numpy()]:
            reason = non_record_reason(frame.loc[index].tolist())
            if reason:
                skipped.append(index)
                notes.append(f"row {int(index) + first_row} skipped: {reason}")
        frame = frame.drop(index=skipped)
    if frame.empty and not empty_ok:
        raise InputError(f"{path}: has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    labels = [int(i) + first_row for i in frame.index]
    return SourceTable(path=path, kind="table", attributes=frame.reset_index(drop=True), row_labels=labels, notes=notes)


def _csv_chunks(reader: TextFileReader, rows: int | None) -> Iterator[pd.DataFrame]:
    """The CSV's rows, ``rows`` at a time (all at once without ``rows``), as pandas' own chunked
    reading gives them; the file is closed at the end."""
    with reader:
        if not rows:
            yield reader.read()
            return
        while True:
            try:
                yield reader.get_chunk(rows)
            except StopIteration:
                return


def _read_csv(path: Path, encoding: str | None, header_row: int | None, header_score: HeaderScore | None, chunk_rows: int | None) -> Iterator[SourceTable]:
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
        whole = len(head) < _SAMPLE_BYTES
    text, used = _decode(path, head, encoding, partial=not whole)
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    lines = text.splitlines()[: HEADER_SCAN_ROWS + 1] if whole else text.splitlines()[:HEADER_SCAN_ROWS]
    first_rows = list(csv.reader(lines))
    header = find_header_row(path, first_rows, header_row, header_score)
    pandas_encoding = "utf-8-sig" if used == "utf-8-sig" else used
    try:
        reader = pd.read_csv(
            path, encoding=pandas_encoding, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
            skiprows=header, header=0, skip_blank_lines=False, iterator=True,
        )
        chunks = _csv_chunks(reader, chunk_rows)
        first = True
        for chunk in chunks:
            # Spreadsheet rows: the header is row header + 1, its first data row header + 2.
            table = _table(path, chunk, first_row=header + 2, empty_ok=not first)
            if first:
                shown = "utf-8" if used == "utf-8-sig" and not head.startswith(codecs.BOM_UTF8) else used
                table.notes.append(f"read as CSV, encoding {shown}" + (f"; header on row {header + 1}" if header else ""))
            first = False
            yield table
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: not a readable CSV table: {_first_line(error)}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: cannot decode the text as {used} after the first {_SAMPLE_BYTES:,} bytes ({error.reason}); pass --encoding with the file's encoding") from None


def _read_excel(path: Path, sheet: str | None, header_row: int | None, header_score: HeaderScore | None) -> SourceTable:
    try:
        grid = pd.read_excel(path, sheet_name=sheet or 0, dtype=str, engine="openpyxl", header=None)
    except ValueError as error:  # unknown sheet
        raise InputError(f"{path}: {error}") from None
    except Exception as error:  # openpyxl raises zipfile/XML errors of many kinds for a damaged file
        raise InputError(f"{path}: not a readable .xlsx workbook ({error.__class__.__name__}: {error})") from None
    if grid.empty:
        raise InputError(f"{path}: the sheet is empty")
    rows = grid.head(HEADER_SCAN_ROWS).to_numpy(dtype=object).tolist()
    header = find_header_row(path, rows, header_row, header_score)
    data = grid.iloc[header + 1 :]
    data.columns = _columns(path, grid.iloc[header].tolist())
    # read_excel pads the sheet from row 1, so index i is spreadsheet row i + 1.
    table = _table(path, data, first_row=1)
    if header:
        table.notes.append(f"header on row {header + 1} (rows above it are titles or notes)")
    return table


def _dbf_encoding(path: Path) -> str | None:
    """Encoding of a shapefile's .dbf when no .cpg says it: UTF-8 if the records decode so, else GB18030."""
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    data = dbf.read_bytes()
    if len(data) < 32:
        raise InputError(f"{dbf}: the .dbf file is damaged (shorter than its header)")
    header_length = struct.unpack_from("<H", data, 8)[0]
    records = data[header_length:]
    for candidate in ("utf-8", "gb18030"):
        try:
            records.decode(candidate)
            return "UTF-8" if candidate == "utf-8" else "GB18030"
        except UnicodeDecodeError:
            continue
    raise InputError(f"{dbf}: text is neither UTF-8 nor GBK/GB18030; pass --encoding with the file's encoding")


def _read_vector(path: Path, encoding: str | None, source_layer: str | None, target_layer: str | None) -> SourceTable:
    notes = []
    if encoding:
        encoding = _check_encoding(encoding)
    elif path.suffix.lower() == ".shp":
        encoding = _dbf_encoding(path)
        if encoding:
            notes.append(f"shapefile has no .cpg: text read as {encoding}")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as error:  # pyogrio raises DataSourceError and others for unreadable files
        raise InputError(f"{path}: not a readable GIS file ({_first_line(error)})") from None
    layer = source_layer
    if layer is None and len(layers) > 1:
        if target_layer in layers:
            layer = target_layer
        else:
            raise InputError(f"{path}: holds several layers {layers}; choose one with --source-layer")
    if layer is not None and layer not in layers:
        raise InputError(f"{path}: has no layer {layer!r}; layers: {layers}")
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as error:
        raise InputError(f"{path}: cannot read features ({_first_line(error)})") from None
    if frame.empty:
        raise InputError(f"{path}: the layer has no features")
    geometry = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else None
    attributes = pd.DataFrame(frame.drop(columns=[frame.geometry.name]) if geometry is not None else frame)
    return SourceTable(
        path=path,
        kind="vector",
        attributes=attributes.reset_index(drop=True),
        geometry=geometry.reset_index(drop=True) if geometry is not None else None,
        crs=CRS.from_user_input(frame.crs) if geometry is not None and frame.crs is not None else None,
        row_labels=list(range(1, len(frame) + 1)),
        notes=notes,
    )


def _read_raster(path: Path) -> SourceTable:
    """A population raster as one square polygon per populated cell, with ``persons``."""
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as dataset:
            band = dataset.read(1, masked=True)
            transform = dataset.transform
            crs = CRS.from_user_input(dataset.crs) if dataset.crs else None
            cell_size = abs(transform.a) if dataset.crs and dataset.crs.is_projected else np.nan
    except RasterioIOError as error:
        raise InputError(f"{path}: not a readable GeoTIFF ({_first_line(error)})") from None
    values = np.ma.filled(band.astype(float), 0.0)
    rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
    if rows.size == 0:
        raise InputError(f"{path}: the raster has no populated cells (all zero or nodata)")
    if rows.size > MAX_RASTER_CELLS:
        raise InputError(
            f"{path}: {rows.size:,} populated cells is more than {MAX_RASTER_CELLS:,}; aggregate it to "
            "coarser cells first (e.g. gdalwarp -tr 500 500 -r sum)"
        )
    def corner(c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return transform.c + c * transform.a + r * transform.b, transform.f + c * transform.d + r * transform.e

    x0, y0 = corner(cols, rows)
    x1, y1 = corner(cols + 1, rows + 1)
    polygons = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
    attributes = pd.DataFrame(
        {"source_id": [f"R{r}C{c}" for r, c in zip(rows, cols, strict=True)], "persons": values[rows, cols], "cell_size_m": cell_size}
    )
    return SourceTable(
        path=path,
        kind="raster",
        attributes=attributes,
        geometry=gpd.GeoSeries(polygons, crs=crs),
        crs=crs,
        row_labels=list(range(1, rows.size + 1)),
        notes=[f"raster: {rows.size:,} populated cells became population cells"],
    )


def _read_osm(path: Path, target_layer: str | None) -> SourceTable:
    from layers.io.osm import read_osm_roads

    if target_layer not in (None, "roads"):
        raise InputError(f"{path}: an OpenStreetMap extract imports into the roads layer only, not {target_layer}")
    roads = read_osm_roads(path)
    return SourceTable(
        path=path,
        kind="vector",
        attributes=pd.DataFrame(roads.drop(columns="geometry")),
        geometry=roads.geometry,
        crs=CRS.from_user_input(roads.crs),
        row_labels=list(range(1, len(roads) + 1)),
        notes=[f"OpenStreetMap: {len(roads):,} drivable edges between junctions"],
    )


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
