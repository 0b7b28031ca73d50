"""A drawn or imported hazard area (a flood extent, a waterlogging polygon), read from a GIS file
as zones: one per value of its zone field (a depth class, a name), most severe first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.errors import InputError
from layers.io.readers import read_gis_frame

ZONE_FIELDS = ("zone", "depth_class", "水深等级", "水深", "等级", "分区")
"""Fields looked for, in this order, when no zone field is named."""
ONE_ZONE = "影响区"
"""The zone of a file that has no zone field: all of it is one area."""


def read_hazard_area(path: str | Path, *, zone_field: str | None = None, order: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The file's polygons as zones (columns ``zone``, geometry; the file's CRS, EPSG:4326 when it
    has none). ``zone_field`` names the field that classes them (else the first of ZONE_FIELDS
    present, else one zone 影响区); ``order`` lists the zone values most severe first (else the
    order in which they first appear). An InputError names the file and what is wrong."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: hazard area file not found")
    return hazard_zones(read_gis_frame(path, "hazard-area polygons"), source=str(path), zone_field=zone_field, order=order)


def hazard_zones(frame: gpd.GeoDataFrame, *, source: str, zone_field: str | None = None, order: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Polygons (a file's, or a drawn GeoJSON's) as zones, as ``read_hazard_area`` describes;
    errors name ``source``."""
    if frame.empty:
        raise InputError(f"{source}: no features; draw or export the hazard area as polygons")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    kinds = frame.geometry.geom_type
    wrong = ~kinds.isin(["Polygon", "MultiPolygon"])
    if wrong.any():
        first = int(wrong.to_numpy().argmax())
        raise InputError(f"{source}: feature {first + 1} is {kinds.iloc[first] or 'empty'}; a hazard area must be polygons")
    if zone_field is not None and zone_field not in frame.columns:
        raise InputError(f"{source}: no field {zone_field!r}; fields are {', '.join(c for c in frame.columns if c != 'geometry')}")
    field = zone_field or next((name for name in ZONE_FIELDS if name in frame.columns), None)
    zones = frame[field].astype(str) if field else pd.Series(ONE_ZONE, index=frame.index)
    present = list(dict.fromkeys(zones))
    if order:
        unknown = sorted(set(present) - set(order))
        if unknown:
            raise InputError(f"{source}: zones {unknown} are not in the order given ({', '.join(order)}); list every zone, most severe first")
        present = [z for z in order if z in present]
    result = gpd.GeoDataFrame({"zone": zones}, geometry=frame.geometry, crs=frame.crs)
    rank = {z: i for i, z in enumerate(present)}
    return result.iloc[result["zone"].map(rank).argsort(kind="stable")].reset_index(drop=True)
