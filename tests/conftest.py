"""Fixtures shared by the tests: the real PostGIS the test command started, store factories for the
contract suite, and the sample city generated once per session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.main import create_app
from layers.sample import generate_city, write_sample
from layers.settings import Settings
from layers.store import Store
from layers.store.gpkg import GeoPackageStore
from layers.store.postgis import PostGISStore, sqlalchemy_url

# The feature tests run with auth off (the loopback test mode: everybody is admin), so that each
# checks its own feature; tests/api/test_security.py runs every route with auth on, for each role.
os.environ.setdefault("ONEMAP_AUTH", "off")

SAMPLE_SEED = 370800
STORE_KINDS = ["gpkg", "postgis"]


UNGROUPED = pytest.StashKey[str]()
"""Why a test marked ``xdist_group`` is not grouped (set by ``pytest_collection_modifyitems``)."""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (.ci/run) every test marked ``xdist_group`` must carry its group in
    its node id, which is how pytest-xdist tells its scheduler. A pytest that drops it (9.2,
    pytest-dev/pytest-xdist#1386) spreads each group over the workers, and each worker then starts
    the group's servers again: those tests fail, rather than the suite running a third slower."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid:
            item.stash[UNGROUPED] = ("--dist loadgroup did not group this test: pytest-xdist cannot mark groups with this pytest "
                                     "(pytest-dev/pytest-xdist#1386); install the pytest that pyproject.toml pins: bash .ci/setup")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if UNGROUPED in item.stash:
        pytest.fail(item.stash[UNGROUPED], pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def shared_graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One routing-graph cache for the whole run (every worker, every copy of the sample store,
    servers started as processes too): a graph is built once per roads version, not once per
    test. Tests of where caches go by default unset ONEMAP_CACHE_DIR themselves."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "graphs"
    folder.mkdir(exist_ok=True)
    before = os.environ.get("ONEMAP_CACHE_DIR")
    os.environ["ONEMAP_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("ONEMAP_CACHE_DIR", None)
    else:
        os.environ["ONEMAP_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test database. Missing → the test FAILS (it is never skipped): run `bash .ci/run`."""
    url = os.environ.get("ONEMAP_TEST_PG_URL")
    if not url:
        pytest.fail("ONEMAP_TEST_PG_URL is not set: run the tests with `bash .ci/run`, which starts PostGIS")
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT postgis_full_version()")).scalar_one()
    except Exception as error:  # any connection failure must fail loudly
        pytest.fail(f"cannot use the PostGIS test database {url}: {error}")
    finally:
        engine.dispose()
    assert "POSTGIS" in version
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema name, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


StoreFactory = Callable[[], Store]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings whose store is an empty GeoPackage (a copy of ``empty_gpkg``) or an empty PostGIS
    schema (made by the first open)."""
    if store_kind == "gpkg":
        path = tmp_path / "store.gpkg"
        shutil.copy(request.getfixturevalue("empty_gpkg"), path)
        return Settings(store=str(path))
    url = request.getfixturevalue("pg_url")
    schema = request.getfixturevalue("pg_schema")
    return Settings(store=url, pg_schema=schema)


@pytest.fixture(scope="session")
def empty_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty GeoPackage store made once per session: a copy opens in 10 ms, where making one
    (every layer's table, index and trigger) takes 250 ms, a hundred times in the suite."""
    path = tmp_path_factory.mktemp("empty") / "empty.gpkg"
    GeoPackageStore(path).close()
    return path


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    """An empty store of each kind (the contract tests run against both)."""
    if store_settings.is_postgis:
        opened: Store = PostGISStore(store_settings.store, schema=store_settings.pg_schema)
    else:
        opened = GeoPackageStore(store_settings.store)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def sample_city() -> dict[str, gpd.GeoDataFrame]:
    """The sample city's layers, generated once (do not modify: copy first)."""
    return generate_city(SAMPLE_SEED)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


class CalmBrowser:
    """A Playwright browser whose pages prefer reduced motion unless a test asks otherwise: a
    page's endless CSS pulse (an incident, an alerting station) keeps software-rendered Chromium
    at 70% of a core for as long as the page is open, which the suite's 2 cores cannot spare.
    The pulse itself is checked with ``reduced_motion="no-preference"``."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_page(self, **options: Any) -> Any:
        return self._browser.new_page(**{"reduced_motion": "reduce", **options})

    def new_context(self, **options: Any) -> Any:
        return self._browser.new_context(**{"reduced_motion": "reduce", **options})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's headless chromium through Playwright (as a ``CalmBrowser``). Missing → the test
    fails: run `bash .ci/run`."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run the tests with `bash .ci/run`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield CalmBrowser(launched)
        launched.close()


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


GCJ02_BASEMAP = {"title": "高德（测试）", "url": "/basemap/tiles/{z}/{x}/{y}.png", "offset": "gcj02"}


@pytest.fixture(scope="session")
def read_only_server(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One served copy of the sample city for the tests that only read it, with a GCJ-02 basemap
    offered beside the local one. Its users carry ``@pytest.mark.xdist_group("read-only-server")``
    so that they run on one worker and share it (``--dist loadgroup`` in .ci/run)."""
    from tests.helpers import serving

    copy = tmp_path_factory.mktemp("read-only") / "store.gpkg"
    shutil.copy(sample_gpkg, copy)
    settings = Settings(store=str(copy), risk_resolution_m=500.0, basemaps=[GCJ02_BASEMAP])
    with serving(settings) as url:
        yield url


@pytest.fixture
def live_server(sample_settings: Settings) -> Iterator[str]:
    """The sample city served by a real server on a loopback port."""
    from tests.helpers import serving

    # The wall map draws the zoning, whatever its cell size: 500 m keeps its background job short.
    with serving(sample_settings.model_copy(update={"risk_resolution_m": 500.0})) as url:
        yield url
