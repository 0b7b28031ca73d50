"""``onemap stocks import|list``, stored scenarios on the CLI (list, activate, end) and ``onemap
brief`` (issue 16): a ledger lands whole or not at all and is what a scenario sends; a brief's
PDF says, as text a reader extracts, the numbers the scenario JSON holds; the XLSX beside it holds
them as numbers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from layers.settings import Settings
from layers.store import open_store
from tests.helpers import run_cli, snapshot

PLUME = ["scenario", "plume", "--at", "116.59,35.41", "--wind-from", "45", "--wind-speed", "3", "--stability", "D", "--rate", "1000", "--thresholds", "58,5.8,1.5"]


def _ledger(path: Path, rows: list[tuple[object, ...]], *, title: bool = True) -> Path:
    """An XLSX ledger as bureaus keep them: a title row above the header, a 合计 row under it."""
    with pd.ExcelWriter(path) as writer:
        frame = pd.DataFrame(rows + [("合计", None, None, None)], columns=["储备库名称", "物资名称", "库存数量", "计量单位"])
        frame.to_excel(writer, index=False, startrow=2 if title else 0)
        if title:
            writer.sheets["Sheet1"].cell(row=1, column=1, value="济宁市应急物资库存台账（2026年11月）")
    return path


def _json(settings: Settings, *args: str) -> dict[str, Any]:
    result = run_cli(settings, *args, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_a_ledger_is_imported_whole_and_is_what_scenarios_send(sample_settings: Settings, tmp_path: Path) -> None:
    depots = snapshot(sample_settings, "supply_depots")
    first, second = depots.iloc[0], depots.iloc[1]
    ledger = _ledger(tmp_path / "库存台账.xlsx", [(first["name"], "大米", "20,000", "公斤"), (second["source_id"], "饮用水", 5000, "升"), (second["source_id"], "帐篷", 40, "顶")])
    result = run_cli(sample_settings, "stocks", "import", str(ledger))
    assert result.exit_code == 0, result.output
    assert "帐篷" in result.output, "an item no profile asks for is said, not silently dropped"
    with open_store(sample_settings) as store:
        stored = store.read_depot_stocks()
    assert sorted(zip(stored["depot_id"], stored["item"], stored["quantity"], stored["unit"], strict=True)) == sorted(
        [(first["source_id"], "rice", 20000.0, "kg"), (second["source_id"], "drinking_water", 5000.0, "l")])
    listed = run_cli(sample_settings, "stocks", "list")
    assert listed.exit_code == 0 and "20,000" in listed.output and str(first["name"]) in listed.output

    body = _json(sample_settings, *PLUME, "--no-save")
    rice = next(s for s in body["shortfalls"] if s["item"] == "rice")
    assert rice["available"] == 20000
    assert not any("no depot stocks are stored" in w for w in body["warnings"])

    bad = _ledger(tmp_path / "坏台账.xlsx", [(first["name"], "大米", 1, "公斤"), ("不存在的库", "大米", 5, "公斤")])
    refused = run_cli(sample_settings, "stocks", "import", str(bad))
    assert refused.exit_code == 2 and "row 5" in refused.output and "不存在的库" in refused.output, refused.output
    with open_store(sample_settings) as store:
        assert store.read_depot_stocks()["quantity"].tolist() == stored["quantity"].tolist(), "nothing of the bad ledger landed"


def test_stored_scenarios_are_listed_activated_and_ended_on_the_cli(sample_settings: Settings) -> None:
    result = run_cli(sample_settings, *PLUME, "--name", "氯气泄漏演练")
    assert result.exit_code == 0, result.output
    scenario_id = result.output.split("stored as ")[1].split()[0]
    listed = run_cli(sample_settings, "scenario", "list")
    assert scenario_id in listed.output and "预案" in listed.output and "氯气泄漏演练" in listed.output
    assert run_cli(sample_settings, "scenario", "activate", scenario_id).exit_code == 0
    assert snapshot(sample_settings, "road_closures")["status"].tolist() == ["封闭中"]
    ended = run_cli(sample_settings, "scenario", "end", scenario_id)
    assert ended.exit_code == 0 and "lifted" in ended.output
    assert snapshot(sample_settings, "road_closures")["status"].tolist() == ["已解除"]
    again = run_cli(sample_settings, "scenario", "end", scenario_id)
    assert again.exit_code == 2 and "already ended" in again.output


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_a_scenario_brief_says_the_scenario_s_numbers(sample_settings: Settings, tmp_path: Path) -> None:
    with open_store(sample_settings) as store:
        from layers.services.operations import Operations

        incident = Operations(store, sample_settings).create_incident(lon=116.59, lat=35.41, kind="危化品事故", name="化工园区氯气泄漏", actor="test")
    incident_id = str(incident["source_id"].iloc[0])
    body = _json(sample_settings, *PLUME, "--incident", incident_id, "--activate")
    out = tmp_path / "简报.pdf"
    result = run_cli(sample_settings, "brief", "--incident", incident_id, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = _pdf_text(out)
    for words in ("突发事件简报", "化工园区氯气泄漏", "审图号", "受影响人口", "物资需求与库存", "最近救援力量", "现行道路封闭", f"{body['impact']['residents']:,}", f"{body['impact']['displaced']:,}"):
        assert words in text, words
    for town in body["impact"]["by_township"][:5]:
        assert town["name"] in text and f"{town['residents']:,}" in text
    rice = next(s for s in body["shortfalls"] if s["item"] == "rice")
    assert f"{rice['short']:,}" in text.replace(".0 ", " ") or f"{rice['short']:,.1f}" in text
    book = openpyxl.load_workbook(out.with_suffix(".xlsx"))
    impact_sheet = next(ws for ws in book.worksheets if ws.title.startswith("受影响人口"))
    values = [row for row in impact_sheet.iter_rows(min_row=2, values_only=True)]
    assert sum(row[3] for row in values if isinstance(row[3], int | float)) == pytest.approx(sum(t["residents"] for t in body["impact"]["by_township"]))

    scenario_pdf = tmp_path / "scenario.pdf"
    assert run_cli(sample_settings, "brief", "--scenario", body["id"], "--out", str(scenario_pdf)).exit_code == 0
    assert "情景推演简报" in _pdf_text(scenario_pdf)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one"),
        (("--incident", "A", "--scenario", "B"), "exactly one"),
        (("--scenario", "SC-none"), "SC-none"),
        (("--incident", "INC-none"), "INC-none"),
        (("--township", "999999999"), "999999999"),
    ],
)
def test_a_brief_of_nothing_is_refused(sample_settings: Settings, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(sample_settings, "brief", *args, "--out", str(tmp_path / "b.pdf"))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "b.pdf").exists()


def test_a_township_brief_states_its_risk_and_coverage(sample_settings: Settings, tmp_path: Path) -> None:
    from gis.crs import to_metric
    from layers.services.coverage import CoverageService
    from layers.services.risk import RiskService
    from layers.services.routing import RoutingService

    settings = sample_settings.model_copy(update={"risk_resolution_m": 500.0})
    towns = snapshot(settings, "admin_areas").query("level == '乡镇街道'")
    town = towns.iloc[0]
    out = tmp_path / "town.pdf"
    result = run_cli(settings, "brief", "--township", str(town["adcode"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    text = _pdf_text(out)
    assert "乡镇街道规划简报" in text and str(town["name"]) in text and "风险等级" in text and "避难场所覆盖" in text
    with open_store(settings) as store:
        routing = RoutingService(store, settings)
        risk = RiskService(store, settings, routing).current()
        coverage = CoverageService(store, settings, routing).result()
    areas = risk.areas.query("adcode == @town.adcode and level == '乡镇街道'").iloc[0]
    levels = ["重大", "较大", "一般", "低"]
    for level in levels:
        assert f"{areas[f'area_km2_{level}']:,.2f}" in text and f"{round(areas[f'residents_{level}']):,}" in text
    township_km2 = to_metric(town.geometry, epsg=settings.work_epsg).area / 1e6
    assert sum(areas[f"area_km2_{level}"] for level in levels) == pytest.approx(township_km2, rel=0.15), "the levels cover the township (500 m cells)"
    covered = coverage.areas.query("adcode == @town.adcode").iloc[0]
    assert f"{round(covered['residents']):,}" in text and f"{round(covered['residents_covered']):,}" in text
