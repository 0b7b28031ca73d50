"""One settings object, read from ``ONEMAP_*`` environment variables, built once at start-up."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gis.crs import CHINA_LONLAT_BBOX, WORK_EPSG

JINING_REGION_BBOX = (115.4, 33.9, 118.1, 36.45)
"""Jining's extent (115.9-117.6 °E, 34.4-35.95 °N) with a 0.5° margin: lon/lat, degrees."""


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
        default=WORK_EPSG, description="Projected CRS (metres) for metric analysis."
    )
    region_bbox: tuple[float, float, float, float] = Field(
        default=JINING_REGION_BBOX,
        description="Lon/lat box (min_lon, min_lat, max_lon, max_lat) that imported features must lie in.",
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

    @property
    def is_postgis(self) -> bool:
        """True when the store is a PostgreSQL URL."""
        return self.store.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))
