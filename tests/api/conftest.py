from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from layers.sample import write_sample
from layers.settings import Settings
from layers.store.gpkg import GeoPackageStore
from tests.conftest import SAMPLE_SEED
from tests.helpers import serving


@pytest.fixture(scope="session")
def sample_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage holding the sample city, written once per session (copy it before writing)."""
    path = tmp_path_factory.mktemp("sample") / "sample.gpkg"
    with GeoPackageStore(path) as store:
        write_sample(store, SAMPLE_SEED)
    return path


@pytest.fixture
def sample_settings(sample_gpkg: Path, tmp_path: Path) -> Settings:
    copy = tmp_path / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    return Settings(store=str(copy))


@pytest.fixture
def client(sample_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(sample_settings)) as test_client:
        yield test_client


@pytest.fixture
def live_server(sample_settings: Settings) -> Iterator[str]:
    """The sample city served by a real server on a loopback port."""
    with serving(sample_settings) as url:
        yield url
