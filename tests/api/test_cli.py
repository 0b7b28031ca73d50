"""The `onemap` command line as a user runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from tests.layers.test_sample import PUBLISHED


def test_demo_on_the_default_store_prints_the_layer_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEMAP_")}
    monkeypatch.delenv("ONEMAP_STORE", raising=False)
    result = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "onemap.gpkg").exists()
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    for layer, count in PUBLISHED.items():
        assert f" {count:,} " in rows[layer] + " ", rows[layer]
    assert "8.3" not in rows["population"] and "roads" in rows
    again = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False)
    assert "already holds data" in again.output


def test_layers_json(tmp_path: Path) -> None:
    store = str(tmp_path / "s.gpkg")
    result = CliRunner().invoke(main, ["--store", store, "layers", "--json"], catch_exceptions=False)
    layers = json.loads(result.output)
    assert [entry["name"] for entry in layers][:2] == ["admin_areas", "reservoirs"]
    assert all({"name", "count"} <= set(entry) for entry in layers)


@pytest.mark.parametrize("command", [[], ["import"], ["export"], ["serve"], ["demo"], ["sample"], ["layers"]])
def test_help_teaches(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="onemap")
    assert result.exit_code == 0
    assert "Usage: onemap" in result.output


def test_bad_store_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--store", "mysql://x", "layers"])
    assert result.exit_code == 2
    assert "neither a path ending in .gpkg nor a postgresql:// URL" in result.output


def test_export_to_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--store", str(tmp_path / "s.gpkg"), "export", "roads", str(tmp_path / "roads.dwg")])
    assert result.exit_code == 2
    assert "unknown export format .dwg" in result.output
