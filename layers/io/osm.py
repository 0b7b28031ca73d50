"""OpenStreetMap extracts (.osm.pbf) as the roads layer, read with pyrosm.

Ways of the driving network are split at junctions (pyrosm's ``nodes=True``), so each row is one
edge between two junctions. OSM tags map to the catalogue: ``highway`` → road class, ``maxspeed``
→ speed (km/h; mph converted; symbolic values left empty so the class speed applies), ``oneway``
(yes/true/1, -1 reverses the line; motorways and roundabouts are one-way by OSM convention),
``name``. Source ids are ``osm<way>:<from>-<to>``, stable across re-imports of the same extract.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import InputError

HIGHWAY_CLASSES = {
    "motorway": "高速公路", "motorway_link": "高速公路",
    "trunk": "国道", "trunk_link": "国道",
    "primary": "省道", "primary_link": "省道",
    "secondary": "县道", "secondary_link": "县道",
    "tertiary": "乡道", "tertiary_link": "乡道",
    "residential": "城市道路", "living_street": "城市道路", "service": "城市道路", "road": "城市道路",
    "unclassified": "村道", "track": "村道",
}
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: object) -> float | None:
    """OSM maxspeed in km/h: "80", "50 mph", "60 km/h"; None for "none", "RU:urban", missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = _SPEED.match(str(value).split(";")[0])
    if match is None:
        return None
    speed = float(match.group(1))
    return speed * 1.609344 if (match.group(2) or "").lower() == "mph" else speed


def _tag(tags: object, key: str) -> str | None:
    if isinstance(tags, dict):
        value = tags.get(key)
        return None if value is None else str(value)
    if isinstance(tags, str) and f'"{key}"' in tags:
        match = re.search(rf'"{re.escape(key)}"\s*:\s*"([^"]*)"', tags)
        return match.group(1) if match else None
    return None


def read_osm_roads(path: Path) -> gpd.GeoDataFrame:
    """The driving network of an .osm.pbf as a roads frame (EPSG:4326, catalogue field names)."""
    try:
        import pyrosm
    except ImportError:  # pragma: no cover - pyrosm is a dependency; this guards broken installs
        raise InputError("reading .osm.pbf needs pyrosm (pip install pyrosm)") from None
    try:
        _, edges = pyrosm.OSM(str(path)).get_network(network_type="driving", nodes=True)
    except Exception as error:  # pyrosm raises bare exceptions for damaged files
        raise InputError(f"{path}: not a readable OpenStreetMap .pbf extract ({error.__class__.__name__}: {error})") from None
    if edges is None or len(edges) == 0:
        raise InputError(f"{path}: the extract holds no drivable roads")
    highway = edges["highway"].astype(str)
    known = highway.isin(list(HIGHWAY_CLASSES))
    edges = edges[known].reset_index(drop=True)
    highway = highway[known].reset_index(drop=True)
    tags = edges["tags"] if "tags" in edges else pd.Series([None] * len(edges))
    oneway_tag = edges["oneway"].astype(str).str.lower() if "oneway" in edges else pd.Series(["nan"] * len(edges))
    reverse = oneway_tag == "-1"
    roundabout = tags.map(lambda t: _tag(t, "junction") == "roundabout")
    oneway = oneway_tag.isin(["yes", "true", "1", "-1"]) | highway.isin(["motorway", "motorway_link"]) | roundabout
    geometry = np.asarray(edges.geometry.array, dtype=object)
    geometry = np.where(reverse.to_numpy(), shapely.reverse(geometry), geometry)
    return gpd.GeoDataFrame(
        {
            "source_id": [f"osm{w}:{u}-{v}" for w, u, v in zip(edges["id"], edges["u"], edges["v"], strict=True)],
            "name": edges.get("name"),
            "road_class": highway.map(HIGHWAY_CLASSES),
            "speed_kmh": edges["maxspeed"].map(parse_maxspeed) if "maxspeed" in edges else None,
            "oneway": oneway.to_numpy(),
        },
        geometry=list(geometry),
        crs=edges.crs or 4326,
    )
