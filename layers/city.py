"""The city profile: which city the store holds, where "inside" it is, and its metric CRS.

The profile is the ``city_profile`` layer's two rows — the administrative outline and the region
(the outline buffered by ``region_buffer_km`` in the work CRS) — carrying the city's name, adcode,
work CRS (the CGCS2000 3-degree Gauss-Krüger zone of the outline's centroid, EPSG:4534-4554) and
the buffer. ``onemap init`` writes it from a boundary file, with the counties and townships into
``admin_areas``, in one store transaction; ``onemap sample`` writes Jining's. Settings take the
work CRS and the region from it (``Settings.with_profile``) unless the environment overrides them.
Geometries are lon/lat, EPSG:4326.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.boundary import area_km2, buffer_lonlat, centroid_distance_km, polygonal_part
from gis.crs import STORE_EPSG, gk3_zone_epsg_for_lon
from layers.catalogue import SOURCE_ID
from layers.errors import InputError, StoreError

if TYPE_CHECKING:
    from layers.io.boundary_file import Boundary
    from layers.settings import Settings
    from layers.store.base import Store, WriteCounts

logger = logging.getLogger(__name__)

LAYER = "city_profile"
FAR_KM = 50.0
"""A new boundary whose centroid lies farther than this (km, geodesic) from the stored outline's
centroid — or whose outline does not overlap it — is another city: ``onemap init`` refuses it on
a store that holds data, unless ``--replace``."""


@dataclass(frozen=True)
class CityProfile:
    """The city a store holds.

    Attributes
    ----------
    name, adcode
        The city's name (济宁市) and 6-digit administrative code (370800).
    outline
        Administrative boundary, MultiPolygon, lon/lat EPSG:4326.
    region
        ``outline`` buffered by ``region_buffer_km`` in the work CRS: "inside the city", lon/lat.
    work_epsg
        Projected CRS (metres) for lengths, areas and analyses: the CGCS2000 3-degree GK zone of
        the outline's centroid (EPSG:4534-4554).
    region_buffer_km
        The buffer from outline to region, km.
    outline_area_km2
        Area of the outline measured in ``work_epsg``, km².
    source_file
        Name of the boundary file it came from (None when unknown).
    """

    name: str
    adcode: str
    outline: shapely.MultiPolygon
    region: shapely.MultiPolygon
    work_epsg: int
    region_buffer_km: float
    outline_area_km2: float
    source_file: str | None = None

    @property
    def region_bbox(self) -> tuple[float, float, float, float]:
        """The region's bounds (min_lon, min_lat, max_lon, max_lat), degrees."""
        x0, y0, x1, y1 = self.region.bounds
        return (float(x0), float(y0), float(x1), float(y1))


def make_profile(*, name: str, adcode: str, outline: BaseGeometry, region_buffer_km: float, work_epsg: int | None = None, source_file: str | None = None) -> CityProfile:
    """A profile for ``outline`` (lon/lat): work CRS from the centroid's longitude unless given,
    region = outline buffered by ``region_buffer_km`` km in that CRS, area in that CRS."""
    polygons = polygonal_part(outline)
    if polygons is None:
        raise InputError("the city outline holds no polygon")
    epsg = work_epsg if work_epsg is not None else gk3_zone_epsg_for_lon(polygons.centroid.x)
    region = shapely.orient_polygons(buffer_lonlat(polygons, region_buffer_km, epsg=epsg))
    return CityProfile(
        name=name, adcode=adcode, outline=shapely.orient_polygons(polygons), region=region, work_epsg=epsg,
        region_buffer_km=float(region_buffer_km), outline_area_km2=round(area_km2(polygons, epsg=epsg), 3), source_file=source_file,
    )


def profile_rows(profile: CityProfile) -> gpd.GeoDataFrame:
    """The profile as the ``city_profile`` layer's two rows (source ids ``outline``, ``region``),
    ``area_km2`` measured in the profile's work CRS."""
    parts = {"outline": profile.outline, "region": profile.region}
    return gpd.GeoDataFrame(
        {
            SOURCE_ID: list(parts),
            "name": [profile.name] * 2,
            "adcode": [profile.adcode] * 2,
            "part": list(parts),
            "work_epsg": [profile.work_epsg] * 2,
            "region_buffer_km": [profile.region_buffer_km] * 2,
            "area_km2": [round(area_km2(g, epsg=profile.work_epsg), 3) for g in parts.values()],
            "source_file": [profile.source_file] * 2,
        },
        geometry=list(parts.values()),
        crs=STORE_EPSG,
    )


def read_city_profile(store: Store) -> CityProfile | None:
    """The store's city profile, or None when it has none (no ``onemap init`` or ``sample`` yet)."""
    frame = store.read(LAYER)
    if frame.empty:
        return None
    by_part = {str(row["part"]): row for _, row in frame.iterrows()}
    if "outline" not in by_part:
        raise StoreError("the store's city profile has no outline row: run onemap init --boundary FILE --replace")
    outline = by_part["outline"]
    buffer_km = float(outline["region_buffer_km"])
    work_epsg = int(outline["work_epsg"])
    polygons = polygonal_part(outline.geometry)
    if polygons is None:
        raise StoreError("the store's city outline is empty: run onemap init --boundary FILE --replace")
    region = polygonal_part(by_part["region"].geometry) if "region" in by_part else None
    if region is None:
        region = buffer_lonlat(polygons, buffer_km, epsg=work_epsg)
    area = outline["area_km2"]
    return CityProfile(
        name=str(outline["name"]), adcode=str(outline["adcode"]), outline=polygons, region=region, work_epsg=work_epsg,
        region_buffer_km=buffer_km, outline_area_km2=float(area) if pd.notna(area) else round(area_km2(polygons, epsg=work_epsg), 3),
        source_file=None if pd.isna(outline["source_file"]) else str(outline["source_file"]),
    )


def admin_rows(boundary: Boundary, *, work_epsg: int) -> gpd.GeoDataFrame:
    """The boundary's divisions as ``admin_areas`` rows: source id = adcode, ``area_km2`` in
    ``work_epsg``, population unknown (import it with the admin areas' ledger)."""
    areas = boundary.areas
    frame = gpd.GeoDataFrame(
        {
            SOURCE_ID: list(areas["adcode"]),
            "adcode": list(areas["adcode"]),
            "name": list(areas["name"]),
            "level": list(areas["level"]),
            "parent_adcode": list(areas["parent_adcode"]),
            "population": pd.array([None] * len(areas), dtype="Int64"),
            "area_km2": [round(area_km2(g, epsg=work_epsg), 3) for g in areas.geometry],
        },
        geometry=[g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in areas.geometry],
        crs=STORE_EPSG,
    )
    return frame.drop_duplicates(SOURCE_ID, keep="first").reset_index(drop=True)


def far_reason(stored: BaseGeometry, new: BaseGeometry, *, max_km: float | None = FAR_KM) -> str | None:
    """Why ``new`` is another city than ``stored`` (lon/lat outlines), or None when it is the same
    one: centroids more than ``max_km`` apart (geodesic; None: not checked), or outlines that do
    not overlap."""
    if max_km is not None:
        distance = centroid_distance_km(stored, new)
        if distance > max_km:
            return f"its centre is {distance:,.0f} km from the stored city's (more than {max_km:g} km)"
    if not shapely.intersects(stored, new) or shapely.intersection(stored, new).area == 0:
        return "its outline does not overlap the stored city's"
    return None


@dataclass
class InitResult:
    """What ``init_city`` wrote: the profile, the counts per layer, the admin areas deleted
    (``--replace``), and notes for the user."""

    profile: CityProfile
    written: dict[str, WriteCounts]
    deleted_admin_areas: int = 0
    notes: list[str] = field(default_factory=list)


def _data_counts(store: Store) -> dict[str, int]:
    return {info.name: info.count for info in store.list_layers() if info.name != LAYER and info.count}


def init_city(store: Store, boundary: Boundary, *, settings: Settings, replace: bool = False) -> InitResult:
    """Write ``boundary`` as the store's city: profile and admin areas in ONE transaction.

    Parameters
    ----------
    store
        The store.
    boundary
        The city read by ``layers.io.boundary_file.read_boundary`` (lon/lat).
    settings
        Gives ``region_buffer_km`` (``ONEMAP_REGION_BUFFER_KM``, default 5 km); an explicit
        ``ONEMAP_WORK_EPSG`` measures the admin areas (the profile keeps the boundary's own zone).
    replace
        Allow a boundary far from the stored city's (another city) on a store that holds data,
        and delete the stored admin areas the new boundary does not have.

    Raises
    ------
    InputError
        Another city than the stored one, on a store with data, without ``replace`` (the message
        says to use ``--replace``). Nothing is written then.
    """
    notes = list(boundary.notes)
    existing = read_city_profile(store)
    data = _data_counts(store)
    if data and not replace:
        if existing is not None:
            reason = far_reason(existing.outline, boundary.outline)
        else:  # data but no profile (a store from before profiles): the data's extent must overlap
            extent = _extent(store)
            reason = far_reason(extent, boundary.outline, max_km=None) if extent is not None else None
        if reason is not None:
            held = existing.name if existing is not None else "data elsewhere"
            layers = ", ".join(f"{name} {count:,}" for name, count in data.items())
            raise InputError(
                f"{boundary.source_file} ({boundary.name}) is another city than the store's ({held}): {reason}. "
                f"The store holds {layers}. Use --replace to make {boundary.name} the store's city anyway "
                "(profile and admin areas replaced; other layers kept), or use another store (--store)"
            )
    profile = make_profile(name=boundary.name, adcode=boundary.adcode, outline=boundary.outline, region_buffer_km=settings.region_buffer_km, source_file=boundary.source_file)
    effective = settings.with_profile(profile)
    admin = admin_rows(boundary, work_epsg=effective.work_epsg)
    stale: list[str] = []
    if replace:
        stale = sorted(set(store.read("admin_areas")[SOURCE_ID]) - set(admin[SOURCE_ID]))
    # One transaction: the profile, the admin areas and (with --replace) the old ones' deletion.
    written = store.upsert_many({LAYER: profile_rows(profile), "admin_areas": admin}, deletes={"admin_areas": stale})
    deleted = len(stale)
    if replace:
        if stale:
            notes.append(f"--replace: {deleted} admin areas of the previous city deleted")
        others = {name: count for name, count in data.items() if name != "admin_areas"}
        if others and existing is not None and far_reason(existing.outline, profile.outline):
            notes.append("--replace: other layers still hold the previous city's features (" + ", ".join(f"{n} {c:,}" for n, c in others.items()) + "): re-import them")
    logger.info("city profile written: %s (%s), EPSG:%s", profile.name, profile.adcode, profile.work_epsg)
    return InitResult(profile, written, deleted, notes)


def _extent(store: Store) -> BaseGeometry | None:
    """The box around every layer's features (lon/lat), None when the store is empty."""
    boxes = [shapely.box(*info.bbox) for info in store.list_layers() if info.bbox is not None and info.name != LAYER]
    return shapely.union_all(boxes).envelope if boxes else None
