"""Test helpers: run the real CLI against a store, and snapshot a store layer."""

from __future__ import annotations

import geopandas as gpd
from click.testing import CliRunner, Result

from api.cli import main
from layers.settings import Settings
from layers.store import open_store


def run_cli(settings: Settings, *args: str) -> Result:
    env = {"ONEMAP_STORE": settings.store, "ONEMAP_PG_SCHEMA": settings.pg_schema}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def snapshot(settings: Settings, layer: str) -> gpd.GeoDataFrame:
    with open_store(settings) as store:
        return store.read(layer)
