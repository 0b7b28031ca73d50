"""Makes ``store_v2.gpkg.gz``: a GeoPackage store of schema version 2 as onemap wrote it before
issue 15 (commit 655513e), for the upgrade test in ``tests/layers/test_schema_evolution.py``.

It must run against that release's code, not today's (today's would write version 3)::

    mkdir /tmp/onemap_v2 && git archive 655513e | tar -x -C /tmp/onemap_v2
    cd /tmp/onemap_v2 && PYTHONPATH=. /work/main/.venv/bin/python /work/main/tests/data/make_store_v2.py OUT_DIR

Content: the first 30 reservoirs, shelters and rescue stations of the sample city (seed 370800,
synthetic, see data/README.md), a user ``zhang`` (editor) and one audit line.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
from pathlib import Path

from layers.accounts.store import AccountStore
from layers.accounts.tables import AuditLine
from layers.sample import generate_city
from layers.settings import Settings
from layers.store.gpkg import GeoPackageStore

LAYERS = ("reservoirs", "shelters", "rescue_stations")
PASSWORD = "a-long-enough-password"
"""tests.helpers.TEST_PASSWORD."""


def main() -> None:
    folder = Path(sys.argv[1])
    path = folder / "store_v2.gpkg"
    path.unlink(missing_ok=True)
    city = generate_city(370800)
    with GeoPackageStore(path) as store:
        store.upsert_many({layer: city[layer].head(30) for layer in LAYERS}, audit=AuditLine("fixture", "import", "reservoirs"))
    accounts = AccountStore.for_settings(Settings(store=str(path)))
    accounts.add_user("zhang", PASSWORD, "editor")
    accounts.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM onemap_meta WHERE key = 'schema_version'").fetchone() == ("2",)
        connection.execute("VACUUM")
    with path.open("rb") as plain, gzip.GzipFile(folder / "store_v2.gpkg.gz", "wb", compresslevel=9, mtime=0) as packed:
        shutil.copyfileobj(plain, packed)
    path.unlink()


if __name__ == "__main__":
    main()
