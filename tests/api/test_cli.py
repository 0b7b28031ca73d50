"""The `onemap` command line as a user runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from api.cli import main
from layers.sample.facilities import COUNTS
from layers.settings import Settings


def test_demo_on_the_default_store_prints_the_layer_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEMAP_")} | {"ONEMAP_RISK_RESOLUTION_M": "500"}  # the zoning is shown, whatever its cell: 500 m keeps it short
    monkeypatch.delenv("ONEMAP_STORE", raising=False)
    result = CliRunner().invoke(main, ["demo", "--no-serve"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "onemap.gpkg").exists()
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    for layer, count in COUNTS.items():
        assert f" {count:,} " in rows[layer] + " ", rows[layer]
    assert "8.3" not in rows["population"] and "roads" in rows
    assert "风险区划 risk zoning: 重大" in result.output and "km²" in result.output
    assert "避难场所覆盖 shelter coverage:" in result.output and "residents within 10 min walk" in result.output
    again = CliRunner().invoke(main, ["demo", "--no-serve"], env=env, catch_exceptions=False)
    assert "already holds data" in again.output


def test_layers_json(tmp_path: Path) -> None:
    store = str(tmp_path / "s.gpkg")
    result = CliRunner().invoke(main, ["--store", store, "layers", "--json"], catch_exceptions=False)
    layers = json.loads(result.output)
    assert [entry["name"] for entry in layers][:2] == ["admin_areas", "reservoirs"]
    assert all({"name", "count"} <= set(entry) for entry in layers)


def test_bad_store_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--store", "mysql://x", "layers"])
    assert result.exit_code == 2
    assert "neither a path ending in .gpkg nor a postgresql:// URL" in result.output


def test_export_to_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--store", str(tmp_path / "s.gpkg"), "export", "roads", str(tmp_path / "roads.dwg")])
    assert result.exit_code == 2
    assert "unknown export format .dwg" in result.output


def test_demo_serves_the_wall_map_after_the_analyses_then_plays_a_storm(sample_gpkg: Path, tmp_path: Path) -> None:
    import shutil
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from tests.helpers import stop

    (tmp_path / "var").mkdir()
    shutil.copy(sample_gpkg, tmp_path / "var" / "onemap.gpkg")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEMAP_")} | {"ONEMAP_RISK_RESOLUTION_M": "500"}  # the zoning is shown, whatever its cell: 500 m keeps it short
    command = [str(Path(sys.executable).parent / "onemap"), "demo", "--port", str(port), "--storm", "--storm-speed", "0"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 180
        while not lines or "wall map: http://" not in lines[-1]:
            lines.append(process.stdout.readline())
            assert lines[-1] or process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "demo did not announce the wall map"
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/map" in lines[-1]
        assert "风险区划 risk zoning:" in output and "避难场所覆盖 shelter coverage:" in output  # computed before serving
        assert "one-time password:" not in output, "a log is no place for the password"
        secret = tmp_path / "var" / "first-admin-password.txt"
        assert f"its one-time password is in {secret}" in output and secret.stat().st_mode & 0o077 == 0
        password = secret.read_text(encoding="utf-8").strip()
        base = f"http://127.0.0.1:{port}"
        anonymous = httpx.get(f"{base}/map", headers={"Accept": "text/html"}, timeout=10)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        with httpx.Client(base_url=base, timeout=30) as browser:
            assert browser.post("/login", data={"username": "admin", "password": password, "next": "/map"}).status_code == 303
            page = browser.get("/map")
            assert page.status_code == 200 and "/static/onemap/wallmap.js" in page.text and "onemap-config" in page.text
            # Ready at start-up; the storm's first readings may already have started a live
            # re-zoning (a 202 for a moment on a busy machine), so wait for it like the wall does.
            from tests.helpers import when_ready

            assert when_ready(lambda: browser.get("/risk/at", params={"lon": 116.59, "lat": 35.41}), timeout_s=60).status_code == 200
            while "demo storm: over" not in lines[-1]:  # the storm, played with no waiting
                lines.append(process.stdout.readline())
                assert lines[-1] and "stopped" not in lines[-1], "".join(lines)
                assert time.monotonic() < deadline + 120, "the demo storm did not end"
            alerts = browser.get("/alerts").json()["alerts"]
            assert {"黄", "橙"} <= {a["level"] for a in alerts}, "the storm raised 黄 and 橙 alerts"
            acknowledged = [a for a in alerts if "duty officer" in (a["acknowledged_by"] or "")]  # an upgrade since sends it back to 已发布
            assert len(acknowledged) == 1 and acknowledged[0]["acknowledged_at"], "".join(lines)
            steps = [line for line in lines if "reservoirs over 汛限水位" in line]
            above = [int(line.split("汛限水位 ")[1].split(";")[0]) for line in steps]
            assert above[-1] > above[0] and browser.get("/map/figures").json()["reservoirs_above_flood_limit"] == above[-1], "gauged reservoirs passed 汛限水位"
            assert int(browser.get("/map/live").json()["versions"]["risk"]) >= len(steps), "the risk zoning was redone at each step"
    finally:
        stop(process)


def test_demo_analyses_the_data_can_not_support_are_skipped_with_the_reason(tmp_path: Path) -> None:
    from layers.store import open_store
    from tests.helpers import run_cli

    settings = Settings(store=str(tmp_path / "s.gpkg"))
    with open_store(settings) as store:  # a store with only a shelter: no city extent, no residents
        store.upsert("shelters", gpd.GeoDataFrame({"source_id": ["S1"], "name": ["广场"], "shelter_type": ["紧急"], "capacity_persons": [100]}, geometry=[shapely.Point(116.59, 35.41)], crs=4326))
    result = run_cli(settings, "demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "风险区划 risk zoning: skipped (" in result.output and "避难场所覆盖 shelter coverage: skipped (" in result.output
