"""Concurrent writers against a real `onemap serve`: two PATCHes of one incident at the same
moment both land; If-Match with the ETag refuses a stale write with 412; and after a kill -9 in
the middle of a burst of writes, every stored write has its audit line (same transaction), on
both stores."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from layers.accounts.store import AccountStore
from layers.settings import Settings
from layers.store import open_store
from layers.store.gpkg import GeoPackageStore
from tests.helpers import TEST_PASSWORD, server_process

INCIDENT = {"lon": 116.59, "lat": 35.41, "kind": "火灾"}
ROUNDS = 10


@pytest.fixture(params=["gpkg", "postgis"])
def store_settings(request: pytest.FixtureRequest, sample_settings: Settings, tmp_path: Path) -> Settings:
    if request.param == "gpkg":
        return sample_settings
    pg_url: str = request.getfixturevalue("pg_url")
    pg_schema: str = request.getfixturevalue("pg_schema")
    return Settings(store=pg_url, pg_schema=pg_schema)


def test_two_patches_at_the_same_moment_both_land_and_a_stale_if_match_is_412(store_settings: Settings) -> None:
    with server_process(store_settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        url = server.url
        incident = client.post("/incidents", json=INCIDENT).json()["id"]
        statuses = ["处置中", "已上报"]
        lost = []
        for round_ in range(ROUNDS):
            barrier = threading.Barrier(2)
            sent = [{"status": statuses[round_ % 2]}, {"description": f"第{round_}次更新"}]

            def patch(body: dict[str, str], barrier: threading.Barrier = barrier) -> int:
                with httpx.Client(base_url=url, timeout=30) as own:
                    barrier.wait()
                    return own.patch(f"/incidents/{incident}", json=body).status_code

            with ThreadPoolExecutor(2) as pool:
                assert list(pool.map(patch, sent)) == [200, 200]
            stored = client.get(f"/collections/incidents/items/{incident}").json()["properties"]
            if (stored["status"], stored["description"]) != (sent[0]["status"], sent[1]["description"]):
                lost.append(round_)
        assert lost == [], f"a concurrent change was lost in rounds {lost}"

        # If-Match with the ETag: a stale write is refused with 412 and writes nothing.
        read = client.get(f"/collections/incidents/items/{incident}")
        etag = read.headers["ETag"]
        first = client.patch(f"/incidents/{incident}", json={"status": "处置中"}, headers={"If-Match": etag})
        assert first.status_code == 200, first.text
        assert first.headers["ETag"] != etag and first.headers["ETag"] == client.get(f"/collections/incidents/items/{incident}").headers["ETag"]
        stale = client.patch(f"/incidents/{incident}", json={"status": "已结束"}, headers={"If-Match": etag})
        assert stale.status_code == 412, stale.text
        assert "changed by someone else" in stale.json()["description"]
        assert client.get(f"/collections/incidents/items/{incident}").json()["properties"]["status"] == "处置中", "nothing written"
        assert client.patch(f"/incidents/{incident}", json={"status": "已结束"}, headers={"If-Match": first.headers["ETag"]}).status_code == 200
        assert client.patch(f"/incidents/{incident}", json={"description": "任何版本"}, headers={"If-Match": "*"}).status_code == 200
        listed = client.patch(f"/incidents/{incident}", json={"description": "列表"}, headers={"If-Match": f'{client.get(f"/collections/incidents/items/{incident}").headers["ETag"]}, "0123456789abcdef"'})
        assert listed.status_code == 200, f"any tag of a list may match (RFC 9110): {listed.text}"
        assert "412" in client.get("/openapi.json").json()["paths"]["/incidents/{incident_id}"]["patch"]["responses"]


def test_no_write_survives_a_kill_without_its_audit_line(store_settings: Settings) -> None:
    with server_process(store_settings) as server:
        url, process = server.url, server.process
        stop = threading.Event()

        def write(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=5) as client:
                while not stop.is_set():
                    try:
                        created = client.post("/incidents", json={**INCIDENT, "name": f"工人{worker}"})
                        if created.status_code == 201:
                            client.patch(f"/incidents/{created.json()['id']}", json={"status": "处置中"})
                    except httpx.TransportError:
                        return

        with ThreadPoolExecutor(6) as pool:
            for worker in range(6):
                pool.submit(write, worker)
            threading.Event().wait(2.5)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            stop.set()
    with open_store(store_settings) as store:
        incidents = store.read("incidents")
    accounts = AccountStore.for_settings(store_settings)
    try:
        audit = accounts.audit(limit=1_000_000)
    finally:
        accounts.close()
    created = {i for line in audit if line["action"] == "create" and line["target"] == "incidents" for i in line["after_ids"]}
    updated = {i for line in audit if line["action"] == "update" and line["target"] == "incidents" for i in line["after_ids"]}
    assert len(incidents) >= 5, "the burst wrote too little to test anything"
    assert set(incidents["source_id"]) == created, "every stored incident has its create line, and every line its incident"
    assert set(incidents.loc[incidents["status"] == "处置中", "source_id"]) == updated


def test_accounts_live_inside_the_geopackage_and_an_old_sidecar_is_adopted(sample_gpkg: Path, tmp_path: Path) -> None:
    store = tmp_path / "city.gpkg"
    store.write_bytes(sample_gpkg.read_bytes())
    sidecar = store.with_suffix(".accounts.sqlite")
    old = AccountStore(create_engine(f"sqlite:///{sidecar}"), schema=None)  # as released before accounts moved in
    old.add_user("wang", TEST_PASSWORD, "editor")
    old.record("wang", "login", "session")
    old.close()
    accounts = AccountStore.for_settings(Settings(store=str(store)))
    try:
        assert (user := accounts.verify_password("wang", TEST_PASSWORD)) is not None and user.role == "editor"
        assert [line["actor"] for line in accounts.audit()] == ["wang"]
    finally:
        accounts.close()
    assert not sidecar.exists() and sidecar.with_name(sidecar.name + ".migrated").exists()
    with GeoPackageStore(store) as reopened:  # opening again adopts nothing twice
        assert len(reopened.read("incidents")) == 0
    with sqlite3.connect(store) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone()[0] == 1
        assert connection.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
