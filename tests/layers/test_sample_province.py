from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

from api.cli import main
from layers.sample.facilities import COUNTS
from layers.sample.province import (
    BORDER_LINK_NAME,
    LINKS_PER_BORDER,
    MINI,
    PREFECTURES,
    ProvinceSize,
    generate_prefecture,
    prefecture_offset,
    write_province,
)
from layers.store.gpkg import GeoPackageStore

pytestmark = pytest.mark.xdist_group("sample-province")  # its module fixtures are built once, on one worker (--dist loadgroup)


@pytest.fixture(scope="module")
def prefectures() -> list[dict[str, gpd.GeoDataFrame]]:
    return [generate_prefecture(11, number, size=MINI) for number in range(2)]


def test_same_seed_same_prefecture(prefectures: list[dict[str, gpd.GeoDataFrame]]) -> None:
    again = generate_prefecture(11, 1, size=MINI)
    assert again.keys() == prefectures[1].keys()
    for layer, frame in again.items():
        assert frame.equals(prefectures[1][layer]), layer
    other = generate_prefecture(12, 1, size=MINI)
    assert not other["roads"].geometry.equals(prefectures[1]["roads"].geometry)


def test_prefectures_do_not_overlap_and_ids_are_unique(prefectures: list[dict[str, gpd.GeoDataFrame]]) -> None:
    first, second = (p["admin_areas"].set_index("level").loc["市", "geometry"] for p in prefectures)
    assert first.intersection(second).area < 1e-9  # neighbours share at most the tile edge
    assert second.centroid.x > first.centroid.x  # side by side, west to east
    for layer in prefectures[0]:
        ids = gpd.pd.concat([p[layer]["source_id"] for p in prefectures])
        assert ids.is_unique, layer
    assert set(prefectures[1]["admin_areas"]["adcode"].str[:4]) == {PREFECTURES[1][0][:4]}
    assert prefectures[0]["hazardous_enterprises"]["park_source_id"].dropna().isin(prefectures[0]["chemical_parks"]["source_id"]).all()


def test_roads_cross_each_border(prefectures: list[dict[str, gpd.GeoDataFrame]]) -> None:
    starts = []
    for prefecture in prefectures:
        links = prefecture["roads"][prefecture["roads"]["name"] == BORDER_LINK_NAME]
        assert len(links) == LINKS_PER_BORDER and (links["road_class"] == "省道").all()
        starts.append({tuple(line.coords[0]) for line in links.geometry})
    assert starts[0] == starts[1]  # the two sides meet: one road network (routing keeps one component)


def test_counts_scale_per_prefecture(prefectures: list[dict[str, gpd.GeoDataFrame]]) -> None:
    for prefecture in prefectures:
        for layer, count in COUNTS.items():
            if layer != "flood_prone_areas":  # a coarse valley may fall wholly in the lake
                assert len(prefecture[layer]) == count, layer
        assert prefecture["population"]["persons"].sum() == 8_300_000
        # 2 km cells over ≈ 10,000 km² of land: about 2,500 cells (the city's 500 m: ≈ 40,000)
        assert 2_000 < len(prefecture["population"]) < 3_000
        assert (prefecture["population"]["cell_size_m"] == 2_000).all()


def test_offsets_tile_the_province() -> None:
    offsets = [prefecture_offset(n, 16) for n in range(16)]
    assert len(set(offsets)) == 16
    xs = sorted({dx for dx, _ in offsets})
    assert [b - a for a, b in zip(xs, xs[1:], strict=False)] == [130_000.0] * 3
    with pytest.raises(ValueError, match="prefectures must be 1-16"):
        ProvinceSize(prefectures=17)


def test_write_province_and_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = GeoPackageStore(str(tmp_path / "p.gpkg"))
    steps: list[tuple[int, str]] = []
    one = ProvinceSize(prefectures=1, cell_size_m=2_000.0, rural_spacing_m=2_000.0, urban_spacing_m=1_000.0)
    counts = write_province(store, 11, size=one, progress=lambda n, name, step: steps.append((n, step)))
    assert steps[0] == (0, "land") and steps[-1] == (1, "profile")
    assert counts["city_profile"].inserted == 2
    assert store.count("population") == counts["population"].inserted > 2_000
    assert store.read("city_profile")["adcode"].iloc[0] == "370000"

    called: list[str] = []
    monkeypatch.setattr("api.cli.data._store", lambda ctx: None)
    monkeypatch.setattr("api.cli.data._load_sample", lambda store, seed: called.append(f"city {seed}"))
    monkeypatch.setattr("api.cli.data._load_province", lambda store, seed, prefectures, coarse: called.append(f"province {seed} {prefectures} {coarse}"))
    runner = CliRunner()
    target = ["--store", str(tmp_path / "q.gpkg"), "sample", "--seed", "5"]
    assert runner.invoke(main, target).exit_code == 0
    assert runner.invoke(main, [*target, "--scale", "province", "--prefectures", "2", "--coarse"]).exit_code == 0
    assert called == ["city 5", "province 5 2 True"]  # the default is the city, as before
    refused = runner.invoke(main, [*target, "--prefectures", "2"])
    assert refused.exit_code == 2 and "--scale province" in refused.output
