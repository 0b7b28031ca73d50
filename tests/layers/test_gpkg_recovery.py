"""A GeoPackage store whose writer was killed mid-transaction (power cut, ``kill -9``, the OOM
killer) opens again with the last committed state: SQLite's hot journal is rolled back by the
first connection that can write, and onemap's own first look at the file must be one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from layers.store.gpkg import GeoPackageStore

# A writer that changes every shelter's name and fills a scratch table within one transaction,
# with a two-page cache so the changed pages spill into the file, then dies without committing.
_KILLED_WRITER = """
import os, sqlite3, sys
from layers.store.gpkg_sqlite import register_gpkg_functions
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
register_gpkg_functions(connection)  # the R-tree triggers call them
connection.execute("PRAGMA cache_size = 2")
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE shelters SET name = name || '（未提交）'")
connection.execute("CREATE TABLE scratch (x TEXT)")
connection.executemany("INSERT INTO scratch VALUES (?)", [("x" * 200,) for _ in range(5_000)])
os._exit(0)
"""


def test_a_store_left_with_a_hot_journal_opens_rolled_back(sample_gpkg: Path, tmp_path: Path) -> None:
    path = tmp_path / "city.gpkg"
    path.write_bytes(sample_gpkg.read_bytes())
    with GeoPackageStore(path) as store:
        names = sorted(store.read("shelters")["name"])
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], check=True)
    journal = path.with_name(path.name + "-journal")
    assert journal.exists() and journal.stat().st_size > 0, "the killed writer left a hot journal"
    with GeoPackageStore(path) as store:
        assert sorted(store.read("shelters")["name"]) == names, "the uncommitted names were rolled back"
        assert "scratch" not in {layer.name for layer in store.list_layers()}
    assert not journal.exists()
