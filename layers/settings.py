"""One settings object, read from ``ONEMAP_*`` environment variables, built once at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import shapely
from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from shapely.geometry.base import BaseGeometry

from gis.boundary import buffer_lonlat
from gis.coverage.params import DEFAULT_DEMAND_SHARE, DEFAULT_REACH_MIN, CoverageParams
from gis.crs import CHINA_LONLAT_BBOX, WORK_EPSG
from gis.network import WALK_SPEED_KMH

if TYPE_CHECKING:
    from layers.city import CityProfile

JINING_REGION_BBOX = (115.4, 33.9, 118.1, 36.45)
"""Jining's extent (115.9-117.6 °E, 34.4-35.95 °N) with a 0.5° margin: lon/lat, degrees."""

PROFILE_SETTINGS = ("work_epsg", "region_bbox", "region_buffer_km")
"""Settings the store's city profile gives unless the environment sets them (``ONEMAP_*``)."""

SettingSource = Literal["profile", "environment", "default"]


class Settings(BaseSettings):
    """Deployment settings. Every field can be set as ``ONEMAP_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", extra="ignore")

    store: str = Field(
        default="./var/onemap.gpkg",
        description="Where the layers live: a path ending in .gpkg, or a postgresql:// URL.",
    )
    pg_schema: str = Field(
        default="onemap", description="PostgreSQL schema holding the layer tables (PostGIS store)."
    )
    work_epsg: int = Field(
        default=WORK_EPSG,
        description="Projected CRS (metres) for metric analysis. Default: the city profile's (onemap init), else 4548.",
    )
    region_bbox: tuple[float, float, float, float] = Field(
        default=JINING_REGION_BBOX,
        description=(
            "Lon/lat box (min_lon, min_lat, max_lon, max_lat) that features must lie in. Default: the "
            "city profile's region (its buffered outline, not this box), else Jining's box. Set, it "
            "replaces the region by this box."
        ),
    )
    region_buffer_km: float = Field(
        default=5.0, ge=0, le=100,
        description="How far (km) the region reaches beyond the city outline (onemap init; overrides the profile's).",
    )
    country_bbox: tuple[float, float, float, float] = Field(
        default=CHINA_LONLAT_BBOX,
        description="Lon/lat box of the country; a feature outside it is reported as 'outside China'.",
    )
    road_speeds_kmh: dict[str, float] = Field(
        default_factory=dict,
        description='Travel speed by road class (km/h), overriding the defaults, e.g. {"乡道": 35}.',
    )
    max_snap_m: float = Field(
        default=2000.0, gt=0, description="How far (m) a point may lie from the nearest road to be routed."
    )
    sample_seed: int = Field(default=370800, description="Seed of the sample-city generator.")
    area_per_person_m2: float = Field(
        default=1.5, gt=0, description="Shelter effective area per person, m² (GB 21734)."
    )

    walk_speed_kmh: float = Field(
        default=WALK_SPEED_KMH, gt=0, le=20, description="Walking speed for shelter reach, km/h."
    )
    shelter_reach_min: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_REACH_MIN),
        description='Walking minutes within which each shelter type must be, e.g. {"紧急": 10, "固定": 35, "中心": 60}.',
    )
    shelter_demand_share: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_DEMAND_SHARE),
        description='Share of residents each shelter type must hold, e.g. {"紧急": 1.0, "固定": 0.3, "中心": 0.3}.',
    )

    risk_resolution_m: float = Field(
        default=100.0, ge=10, le=5000, description="Cell size (m) of the risk grid the API serves."
    )
    risk_config: str | None = Field(
        default=None, description="YAML risk config (weights or AHP, factor parameters) the API uses."
    )
    dem: str | None = Field(
        default=None, description="GeoTIFF DEM (any CRS) that dam-break scenarios read (POST /scenarios; the CLI takes --dem). "
        "`onemap sample --dem var/sample-dem.tif` writes the sample city's.",
    )
    warning_interval_s: float = Field(
        default=60.0, ge=0, description="The server judges every station this often (s) besides right after new readings, "
        "so that a gauge that goes quiet is noticed; 0: only after new readings.",
    )
    warning_rules: str | None = Field(
        default=None, description="YAML warning rules (rainfall windows, water-level thresholds, rise, silence, "
        "deadbands). Default: the shipped layers/defaults/warning_rules.yaml (each default with its source).",
    )

    tianditu_key: str | None = Field(
        default=None, description="Tianditu (天地图) key `tk`: adds its vector and imagery basemaps to the wall map (needs internet)."
    )
    basemaps: list[dict[str, str | int]] = Field(
        default_factory=list,
        description='More online basemaps for the wall map (JSON list): {"title": "高德", "url": ".../{z}/{x}/{y}", "subdomains": "1234", "offset": "gcj02"}; offset gcj02 shifts our data onto a GCJ-02 basemap.',
    )
    auth: Literal["required", "off"] = Field(
        default="required",
        description="required: every read needs a viewer, every write an editor (log in, or a bearer token). off: everybody is admin — for tests and a single user on 127.0.0.1 only; `onemap serve` refuses it on any other address.",
    )
    cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure (set true behind HTTPS).")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='Addresses or networks of reverse proxies whose X-Forwarded-For is believed, e.g. ["10.0.0.5", "172.16.0.0/12"]. Empty: the header is ignored and the peer address is the client (rate limits, audit).',
    )
    public_url: str | None = Field(
        default=None,
        description="The address users reach the server at, e.g. https://yjj.example.cn/onemap: links in answers and share links use it instead of the request's Host header.",
    )
    max_body_mb: float = Field(
        default=20.0, gt=0, le=2048, description="Largest request body the server reads, MB; larger ones get 413 before authentication reads them."
    )
    request_head_timeout_s: float = Field(
        default=20.0, gt=0, le=600, description="Seconds a client has to send a request's line and headers in full; then the connection is closed (slow clients holding connections open)."
    )
    request_body_idle_s: float = Field(
        default=20.0, gt=0, le=600, description="Seconds a request body may pause between two parts before the connection is closed (a steady slow upload is never cut off)."
    )
    response_send_stalled_s: float = Field(
        default=60.0, gt=0, le=3600, description="Seconds a client may leave an answer unread (its connection's buffers full) before the connection is dropped."
    )
    map_live_interval_s: float = Field(
        default=2.0, ge=0.5, le=60, description="How often (s) an open wall map asks for changes (incidents, reservoir levels, closures)."
    )
    cache_dir: str | None = Field(
        default=None,
        description="Folder of derived caches (routing graphs). Default: cache/ beside a GeoPackage store; for PostGIS, "
        "onemap/<host>-<port>-<database>-<schema> under $XDG_CACHE_HOME (else ~/.cache). Never the current directory.",
    )

    _explicit: frozenset[str] | None = PrivateAttr(default=None)
    _profile: CityProfile | None = PrivateAttr(default=None)
    _region: BaseGeometry | None = PrivateAttr(default=None)

    @field_validator("basemaps")
    @classmethod
    def _basemaps_have_urls(cls, value: list[dict[str, str | int]]) -> list[dict[str, str | int]]:
        for number, provider in enumerate(value, start=1):
            url = str(provider.get("url", ""))
            if not url.startswith(("http://", "https://", "/")) or not all(p in url for p in ("{z}", "{x}", "{y}")):
                raise ValueError(f"basemap {number}: url must be an http(s) tile URL with {{z}}, {{x}} and {{y}}")
            if not provider.get("title"):
                raise ValueError(f"basemap {number}: give it a title (shown in the layer panel)")
            if provider.get("offset", "wgs84") not in ("wgs84", "gcj02"):
                raise ValueError(f"basemap {number}: offset must be wgs84 or gcj02")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"public_url: {value!r} is not an http(s) address like https://yjj.example.cn/onemap")
        return value.rstrip("/")

    @field_validator("pg_schema")
    @classmethod
    def _schema_is_identifier(cls, value: str) -> str:
        if not value.isidentifier() or not value.isascii():
            raise ValueError("pg_schema must be a plain ASCII identifier (letters, digits, _)")
        return value.lower()

    @field_validator("region_bbox")
    @classmethod
    def _bbox_is_ordered(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        min_lon, min_lat, max_lon, max_lat = value
        if not (min_lon < max_lon and min_lat < max_lat):
            raise ValueError("region_bbox must be min_lon,min_lat,max_lon,max_lat with min < max")
        return value

    def coverage_params(self) -> CoverageParams:
        """The coverage parameters these settings give (defaults filled in for unnamed types)."""
        return CoverageParams(
            walk_kmh=self.walk_speed_kmh,
            reach_min={**DEFAULT_REACH_MIN, **self.shelter_reach_min},
            demand_share={**DEFAULT_DEMAND_SHARE, **self.shelter_demand_share},
            area_per_person_m2=self.area_per_person_m2,
            max_snap_m=self.max_snap_m,
        )

    # --- the city profile ----------------------------------------------------------------------

    def explicit_settings(self) -> frozenset[str]:
        """Which of ``PROFILE_SETTINGS`` were set (environment or arguments) rather than defaulted
        or taken from a profile; kept through ``with_profile`` copies."""
        if self._explicit is not None:
            return self._explicit
        return frozenset(self.model_fields_set & set(PROFILE_SETTINGS))

    def with_profile(self, profile: CityProfile | None) -> Settings:
        """A copy using the city ``profile`` (None: no profile) for every profile setting not set
        explicitly: ``work_epsg`` = the profile's, ``region_bbox`` = the region's bounds, the
        region = the profile's buffered outline (buffered again when ``ONEMAP_REGION_BUFFER_KM``
        differs from the profile's). Explicit settings win; this settings object is unchanged."""
        explicit = self.explicit_settings()
        defaults = {name: type(self).model_fields[name].get_default(call_default_factory=True) for name in PROFILE_SETTINGS}
        update: dict[str, Any] = {name: defaults[name] for name in PROFILE_SETTINGS if name not in explicit}
        region: BaseGeometry | None = None
        if profile is not None:
            if "work_epsg" not in explicit:
                update["work_epsg"] = profile.work_epsg
            if "region_buffer_km" not in explicit:
                update["region_buffer_km"] = profile.region_buffer_km
            if "region_bbox" not in explicit:
                buffer_km = self.region_buffer_km if "region_buffer_km" in explicit else profile.region_buffer_km
                region = profile.region if buffer_km == profile.region_buffer_km else buffer_lonlat(
                    profile.outline, buffer_km, epsg=update.get("work_epsg", self.work_epsg))
                x0, y0, x1, y1 = region.bounds
                update["region_bbox"] = (float(x0), float(y0), float(x1), float(y1))
                shapely.prepare(region)
        copy = self.model_copy(update=update)
        # Values from the profile or defaults are not "set": model_dump(exclude_unset=True) of the
        # copy gives what the environment said, as of the original.
        object.__setattr__(copy, "__pydantic_fields_set__", (self.model_fields_set - set(PROFILE_SETTINGS)) | explicit)
        copy._explicit = explicit
        copy._profile = profile
        copy._region = region
        return copy

    @property
    def city_profile(self) -> CityProfile | None:
        """The city profile these settings use (``with_profile``), None when there is none."""
        return self._profile

    def region_geometry(self) -> BaseGeometry:
        """What "inside the region" means, lon/lat EPSG:4326: the profile's buffered outline, or
        the ``region_bbox`` box when there is no profile or ``ONEMAP_REGION_BBOX`` is set."""
        if self._region is not None:
            return self._region
        return shapely.box(*self.region_bbox)

    def city_outline(self) -> BaseGeometry | None:
        """The city's administrative outline (lon/lat MultiPolygon), None without a profile."""
        return self._profile.outline if self._profile is not None else None

    def region_label(self) -> str:
        """The region in words, for messages: which outline and buffer, or which box and why."""
        if self._region is not None and self._profile is not None:
            return f"{self._profile.name}'s outline buffered by {self.region_buffer_km:g} km (the city profile; ONEMAP_REGION_BBOX overrides it)"
        if "region_bbox" in self.explicit_settings():
            return f"the box {list(self.region_bbox)} (lon/lat; ONEMAP_REGION_BBOX)"
        return (f"the default box {list(self.region_bbox)} around Jining, since the store has no city profile "
                "(set up your city first: onemap init --boundary FILE)")

    def setting_sources(self) -> dict[str, SettingSource]:
        """Where each profile setting's value comes from: the environment, the profile, or the default."""
        explicit = self.explicit_settings()
        return {
            name: "environment" if name in explicit else "profile" if self._profile is not None else "default"
            for name in PROFILE_SETTINGS
        }

    def derived_cache_dir(self) -> Path:
        """Where derived caches of this store live: ``cache_dir`` when set, else beside the
        GeoPackage, else a folder per PostGIS database under the user's cache directory."""
        if self.cache_dir:
            return Path(self.cache_dir)
        if not self.is_postgis:
            return Path(self.store).resolve().parent / "cache"
        url = urlsplit(self.store)
        name = f"{url.hostname or 'localhost'}-{url.port or 5432}-{url.path.lstrip('/') or 'postgres'}-{self.pg_schema}"
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "onemap" / re.sub(r"[^A-Za-z0-9._-]", "_", name)

    @property
    def is_postgis(self) -> bool:
        """True when the store is a PostgreSQL URL."""
        return self.store.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))
