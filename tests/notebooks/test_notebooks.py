"""The planners' notebooks run end to end on the sample city (their own asserts check the numbers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
def test_shelter_coverage_notebook_runs(sample_gpkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store.gpkg"
    shutil.copy(sample_gpkg, store)
    monkeypatch.setenv("ONEMAP_STORE", str(store))
    notebook = nbformat.read(NOTEBOOKS / "shelter_coverage.ipynb", as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("leaflet" in h.lower() for h in html), "the maps are displayed"
    assert sorted(p.name for p in (tmp_path / "coverage_notebook").iterdir()) == ["coverage.gpkg", "coverage_map.html", "coverage_townships.xlsx"]
