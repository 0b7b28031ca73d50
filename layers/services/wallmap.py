"""What the wall map asks of the store besides plain layer items: change tokens for live updates,
feature search by name, place labels, and residents around a point. Cached per layer version.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer

from gis.crs import parse_angle
from gis.nearby import box_around, residents_within
from layers.catalogue import CATALOGUE, SOURCE_ID
from layers.errors import InputError
from layers.services.ingest import IngestService
from layers.services.risk import RiskService
from layers.settings import Settings
from layers.store.base import Store

LIVE_LAYERS = ("incidents", "reservoirs", "road_closures", "alerts", "monitoring_stations")
"""Layers the wall map watches for changes made by other clients."""
SEARCH_LAYERS = tuple(name for name, spec in CATALOGUE.items() if "name" in spec.field_names and name not in ("roads", "risk_zones", "city_profile"))
"""Layers searchable by name (roads are too many and mostly unnamed; risk zones have no names; the
city profile is the city itself)."""
RING_RADII_KM = (1.0, 3.0, 5.0)
_COORDINATES = re.compile(r"^\s*(?P<a>[^,，\s]+)\s*[,，\s]\s*(?P<b>[^,，\s]+)\s*$")


@dataclass(frozen=True)
class SearchHit:
    """A feature (or a typed coordinate) found by the search box."""

    layer: str
    source_id: str
    name: str
    lon: float
    lat: float
    kind: str = "feature"

    def as_dict(self) -> dict[str, object]:
        return {"layer": self.layer, "id": self.source_id, "name": self.name, "lon": self.lon, "lat": self.lat, "kind": self.kind}


def short_token(text: str) -> str:
    """A short opaque token for a version string (store paths and URLs stay private)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """"116.59,35.41", "35.41 116.59" or 度分秒 ("116°35′24″E 35°24′36″N") → (lon, lat); None if
    the text is not a coordinate pair. The pair is read as lon, lat unless only lat, lon fits."""
    match = _COORDINATES.match(text)
    if not match:
        return None
    try:
        a, b = parse_angle(match["a"]), parse_angle(match["b"])
    except ValueError:
        return None
    if -180 <= a <= 180 and -90 <= b <= 90 and not (abs(a) <= 90 and abs(b) > 90):
        return a, b
    if -180 <= b <= 180 and -90 <= a <= 90:
        return b, a
    return None


class MapService:
    """The wall map's queries on one store. Thread-safe."""

    def __init__(self, store: Store, settings: Settings, *, risk: RiskService | None = None, ingest: IngestService | None = None) -> None:
        self.store = store
        self.settings = settings
        self.risk = risk
        self.ingest = ingest
        self._lock = threading.Lock()
        self._names: dict[str, tuple[str, pd.DataFrame]] = {}
        self._to_work = Transformer.from_crs(4326, settings.work_epsg, always_xy=True)

    def versions(self, layers: Sequence[str] = LIVE_LAYERS) -> dict[str, str]:
        """A short token per layer that changes whenever the layer's rows change; ``risk``: one that
        changes with each risk zoning kept (computed, or brought up to date by the gauges);
        ``readings``: one that changes with each batch of gauge readings stored."""
        tokens = {layer: short_token(self.store.layer_version(layer)) for layer in layers}
        if self.risk is not None:
            tokens["risk"] = str(self.risk.revision)
        if self.ingest is not None:
            # with the alerts' token: readings stored before the evaluation that raises their
            # alert are carried again once it has, now of an alerting station
            tokens["readings"] = f"{self.ingest.revision}-{tokens.get('alerts', '')}"
        return tokens

    def _named(self, layer: str) -> pd.DataFrame:
        """source_id, name, lon, lat (a point on the feature), and level for admin areas."""
        version = self.store.layer_version(layer)
        with self._lock:
            held = self._names.get(layer)
            if held is not None and held[0] == version:
                return held[1]
        frame = self.store.read(layer)
        points = frame.geometry.representative_point() if CATALOGUE[layer].geometry_type != "Point" else frame.geometry
        table = pd.DataFrame({"source_id": frame[SOURCE_ID].astype(str), "name": frame["name"].fillna("").astype(str), "lon": points.x.round(6), "lat": points.y.round(6)})
        if "level" in frame:
            table["level"] = frame["level"].astype(str)
        with self._lock:
            self._names[layer] = (version, table)
        return table

    def search(self, query: str, *, limit: int = 20) -> list[SearchHit]:
        """Features whose name contains ``query`` (exact, then prefix, then shortest names first);
        a coordinate pair comes first as a hit of kind "coordinate"."""
        text = query.strip()
        if not text:
            raise InputError("search text is empty: type a name (e.g. 尼山水库) or coordinates (116.59,35.41)")
        if len(text) > 100 or "\x00" in text:
            raise InputError("search text must be at most 100 characters, without NUL")
        hits: list[SearchHit] = []
        pair = parse_coordinates(text)
        if pair is not None:
            hits.append(SearchHit("", "", f"{pair[0]:.6f}, {pair[1]:.6f}", pair[0], pair[1], kind="coordinate"))
        ranked: list[tuple[int, int, SearchHit]] = []
        lowered = text.lower()
        for layer in SEARCH_LAYERS:
            table = self._named(layer)
            found = table.loc[table["name"].str.lower().str.contains(lowered, regex=False)]
            head = found.head(limit)
            for source_id, name, lon, lat in zip(head["source_id"], head["name"], head["lon"], head["lat"], strict=True):
                rank = 0 if name.lower() == lowered else 1 if name.lower().startswith(lowered) else 2
                ranked.append((rank, len(name), SearchHit(layer, source_id, name, float(lon), float(lat))))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return (hits + [hit for _, _, hit in ranked])[:limit]

    def places(self, level: str) -> list[dict[str, object]]:
        """Label points of the admin areas of one level (区县 or 乡镇街道): name, adcode, lon, lat."""
        if level not in ("市", "区县", "乡镇街道"):
            raise InputError(f"level must be 市, 区县 or 乡镇街道, got {level!r}")
        table = self._named("admin_areas")
        chosen = table.loc[table.get("level", pd.Series(dtype=str)) == level] if "level" in table else table.iloc[0:0]
        return [{"name": name, "id": source_id, "lon": float(lon), "lat": float(lat)}
                for source_id, name, lon, lat in zip(chosen["source_id"], chosen["name"], chosen["lon"], chosen["lat"], strict=True)]

    def residents_around(self, lon: float, lat: float, radii_km: Sequence[float] = RING_RADII_KM) -> dict[str, float]:
        """Residents whose population cell centre lies within each radius (km) of the point,
        measured in the work CRS. Keys are the radii as text ("1", "3", "5")."""
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"lon must be -180-180 and lat -90-90 (degrees), got {lon}, {lat}")
        cells = self.store.read("population", bbox=box_around(lon, lat, max(radii_km)))  # every cell a centre within reach lies in
        return residents_within(cells, self._to_work.transform(lon, lat), radii_km, epsg=self.settings.work_epsg)
