"""Writes made from the wall map: incidents, their status, reservoir levels and road closures.

Every write is validated against the catalogue with the same cell checks as an import (types,
enumerations, ranges, NUL text), its location must lie in the configured region (the city
profile's buffered outline, or ONEMAP_REGION_BBOX), and it lands in one store transaction together
with its audit line (who, what, which ids). Edits change only the fields given, atomically, and
take an optional version (``If-Match``). Geometries are EPSG:4326 lon/lat.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.boundary import polygonal_part
from layers.accounts.tables import AuditLine
from layers.catalogue import SOURCE_ID, get_layer
from layers.errors import InputError
from layers.io.validate import coerce_cell, derive_fields, derive_geometric_fields, is_missing
from layers.settings import Settings
from layers.store.base import Store

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_CLOSURE_AREA_KM2 = 5_000.0
"""A closure larger than this (half the city) is almost surely a drawing mistake."""


def now_beijing() -> datetime:
    """The current time in Beijing time, to the second."""
    return datetime.now(BEIJING).replace(microsecond=0)


def new_source_id(prefix: str) -> str:
    """A fresh, sortable source id: prefix, Beijing time to the second, 24 random bits."""
    return f"{prefix}{now_beijing():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


class Operations:
    """Validated writes to the operational layers of one store."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # --- checks --------------------------------------------------------------------------------

    def _row(self, layer: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` coerced field by field; the first problem is an ``InputError`` naming it."""
        spec = get_layer(layer)
        row: dict[str, Any] = {}
        for field in spec.fields:
            try:
                row[field.name] = coerce_cell(values.get(field.name), field)
            except ValueError as error:
                raise InputError(f"{layer}.{field.name} ({field.display_label}): {error}") from None
            if field.required and row[field.name] is None:
                raise InputError(f"{layer}.{field.name} ({field.display_label}) is required")
        derive_fields(layer, row, area_per_person_m2=self.settings.area_per_person_m2)
        return row

    def _check_in_region(self, geometry: BaseGeometry, what: str) -> None:
        """Inside the region: the city's buffered outline (or the configured box)."""
        if not self.settings.region_geometry().covers(geometry):
            x0, y0, x1, y1 = geometry.bounds
            place = f"{x0:.5f},{y0:.5f}" if (x0, y0) == (x1, y1) else f"{x0:.5f},{y0:.5f} … {x1:.5f},{y1:.5f}"
            raise InputError(f"{what} at {place} lies outside the configured region: {self.settings.region_label()}")

    def _frame(self, layer: str, source_id: str, row: Mapping[str, Any], geometry: BaseGeometry) -> gpd.GeoDataFrame:
        frame = gpd.GeoDataFrame({SOURCE_ID: [source_id], **{k: [v] for k, v in row.items()}}, geometry=[geometry], crs=4326)
        derive_geometric_fields(get_layer(layer), frame, work_epsg=self.settings.work_epsg)
        return frame

    def _create(self, layer: str, source_id: str, row: Mapping[str, Any], geometry: BaseGeometry, audit: AuditLine) -> gpd.GeoDataFrame:
        self.store.upsert_many({layer: self._frame(layer, source_id, row, geometry)}, audit=audit)
        return self.store.get(layer, source_id)

    def _edit(self, layer: str, source_id: str, change: Callable[[dict[str, Any]], None], audit: AuditLine, if_match: str | None) -> gpd.GeoDataFrame:
        """Apply ``change`` to the stored row's fields and store it, atomically (``Store.edit``):
        a concurrent edit of another field is never lost. The audit line commits with it."""
        spec = get_layer(layer)

        def apply(found: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
            record = found.iloc[0]
            row = {name: (None if is_missing(record[name]) else record[name]) for name in spec.field_names}
            change(row)
            return self._frame(layer, source_id, self._row(layer, row), found.geometry.iloc[0])

        return self.store.edit(layer, source_id, apply, if_match=if_match, audit=audit)

    # --- incidents -----------------------------------------------------------------------------

    def create_incident(self, *, lon: float, lat: float, kind: str, name: str | None = None, status: str = "已上报", description: str | None = None, occurred_at: Any = None, actor: str) -> gpd.GeoDataFrame:
        """Save a new incident at (lon, lat) by ``actor``; returns the stored one-row frame."""
        point = shapely.Point(lon, lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError(f"incident position must be finite lon/lat degrees, got {lon}, {lat}")
        self._check_in_region(point, "the incident")
        occurred = occurred_at if occurred_at is not None else now_beijing()
        row = self._row("incidents", {"name": name or f"{kind}事件 {now_beijing():%m-%d %H:%M}", "kind": kind, "status": status, "description": description, "occurred_at": occurred})
        source_id = new_source_id("INC")
        return self._create("incidents", source_id, row, point, AuditLine(actor, "create", "incidents", after=[source_id], detail={"kind": kind, "lon": lon, "lat": lat}))

    def update_incident(self, source_id: str, *, status: str | None = None, description: str | None = None, actor: str, if_match: str | None = None) -> gpd.GeoDataFrame:
        """Change an incident's status (已上报 → 处置中 → 已结束) and/or description; only the
        fields given change. ``if_match``: the version last seen (412 when stale)."""
        sent = {name: value for name, value in (("status", status), ("description", description)) if value is not None}
        if not sent:
            raise InputError("nothing to change: send status (已上报, 处置中 or 已结束) or description, or both")
        return self._edit("incidents", source_id, lambda row: row.update(sent), AuditLine(actor, "update", "incidents", before=[source_id], after=[source_id], detail=sent), if_match)

    # --- reservoirs ----------------------------------------------------------------------------

    def set_reservoir_level(self, source_id: str, current_level_m: float, *, actor: str, if_match: str | None = None) -> gpd.GeoDataFrame:
        """Record a reservoir's current water level (m); ``above_flood_limit`` follows from it."""

        def change(row: dict[str, Any]) -> None:
            row["current_level_m"] = current_level_m
            row["above_flood_limit"] = None  # derived again from the new level

        return self._edit("reservoirs", source_id, change, AuditLine(actor, "update", "reservoirs", before=[source_id], after=[source_id], detail={"current_level_m": current_level_m}), if_match)

    # --- road closures -------------------------------------------------------------------------

    def create_closure(self, geometry: BaseGeometry, *, cause: str, name: str | None = None, actor: str) -> gpd.GeoDataFrame:
        """Close the roads inside a polygon (EPSG:4326) until it is lifted."""
        source_id, frame = self.closure_frame(geometry, cause=cause, name=name)
        self.store.upsert_many({"road_closures": frame}, audit=AuditLine(actor, "create", "road_closures", after=[source_id], detail={"cause": cause}))
        return self.store.get("road_closures", source_id)

    def closure_frame(self, geometry: BaseGeometry, *, cause: str, name: str | None = None, source_id: str | None = None, clip_to_region: bool = False) -> tuple[str, gpd.GeoDataFrame]:
        """A new closure in force, checked (a valid polygon of at most ``MAX_CLOSURE_AREA_KM2``
        inside the region) but not written: its source id and one-row frame (EPSG:4326).
        ``clip_to_region``: the part inside the region is taken instead (a scenario's footprint
        may reach beyond the city; the roads outside are not in the store)."""
        if clip_to_region:
            geometry = polygonal_part(shapely.intersection(shapely.make_valid(geometry), self.settings.region_geometry())) or shapely.MultiPolygon()
        if isinstance(geometry, shapely.Polygon):
            geometry = shapely.MultiPolygon([geometry])
        if geometry.geom_type != "MultiPolygon":
            raise InputError(f"a closure must be a polygon (the flooded or collapsed area), got {geometry.geom_type}")
        if geometry.is_empty or not shapely.is_valid(geometry):
            reason = "empty" if geometry.is_empty else shapely.is_valid_reason(geometry)
            raise InputError(f"the closure polygon is not valid ({reason}): draw it again without crossing edges")
        area_km2 = gpd.GeoSeries([geometry], crs=4326).to_crs(self.settings.work_epsg).area.iloc[0] / 1e6
        if area_km2 > MAX_CLOSURE_AREA_KM2:  # before the region: a drawing mistake says so first
            raise InputError(f"the closure covers {area_km2:,.0f} km², more than {MAX_CLOSURE_AREA_KM2:,.0f} km²: draw the cut area itself")
        if not clip_to_region:
            self._check_in_region(geometry, "the closure")
        row = self._row("road_closures", {"name": name or f"{cause}封闭 {now_beijing():%m-%d %H:%M}", "cause": cause, "status": "封闭中", "created_at": now_beijing()})
        source_id = source_id or new_source_id("CL")
        return source_id, self._frame("road_closures", source_id, row, shapely.orient_polygons(geometry))

    def lift_closure(self, source_id: str, *, actor: str, if_match: str | None = None) -> gpd.GeoDataFrame:
        """Reopen the roads of a closure (kept, with the time it was lifted)."""

        def change(row: dict[str, Any]) -> None:
            if row["status"] == "已解除":  # checked inside the transaction: two lifts, one wins
                raise InputError(f"closure {source_id} was already lifted at {row['lifted_at']}")
            row.update(status="已解除", lifted_at=now_beijing())

        return self._edit("road_closures", source_id, change, AuditLine(actor, "lift", "road_closures", before=[source_id], after=[source_id]), if_match)

    def lifted_closure_frame(self, source_id: str) -> gpd.GeoDataFrame | None:
        """The closure ``source_id`` lifted now, as a one-row frame to write (None when it is gone
        or lifted already)."""
        found = self.store.read("road_closures", filters={SOURCE_ID: source_id}, limit=1)
        if found.empty or found["status"].iloc[0] == "已解除":
            return None
        record = found.iloc[0]
        row = {name: (None if is_missing(record[name]) else record[name]) for name in get_layer("road_closures").field_names}
        row.update(status="已解除", lifted_at=now_beijing())
        return self._frame("road_closures", source_id, self._row("road_closures", row), found.geometry.iloc[0])

    def active_closures(self) -> list[BaseGeometry]:
        """Polygons of the closures in force (EPSG:4326)."""
        return list(self.store.read("road_closures", filters={"status": "封闭中"}).geometry)

