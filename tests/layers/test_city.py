"""The city profile: boundary files as published (DataV GeoJSON in GCJ-02, plain GeoPackage and
Shapefile with Chinese headers), repair, the profile in both stores, settings taken from it unless
the environment overrides them, another city refused unless --replace, "inside the region"."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

from layers.city import (
    FAR_KM,
    CityProfile,
    init_city,
    make_profile,
    profile_rows,
    read_city_profile,
)
from layers.errors import InputError
from layers.io.boundary_file import read_boundary
from layers.sample import other_city
from layers.sample.other_city import build_other_city, to_other_city_files
from layers.services.operations import Operations
from layers.settings import JINING_REGION_BBOX, Settings
from layers.store import Store

pytestmark = pytest.mark.xdist_group("city")  # its module fixtures are built once, on one worker (--dist loadgroup)

GEOD = Geod(ellps="WGS84")
PROFILE_ENV = ("ONEMAP_WORK_EPSG", "ONEMAP_REGION_BBOX", "ONEMAP_REGION_BUFFER_KM")


@pytest.fixture(autouse=True)
def _no_profile_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROFILE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def city_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The second city's DataV boundaries (GCJ-02) and layers, written once."""
    return to_other_city_files(tmp_path_factory.mktemp("jinguan"))


def _profile() -> CityProfile:
    city = build_other_city()
    return make_profile(name=other_city.NAME, adcode=other_city.ADCODE, outline=city.outline, region_buffer_km=5.0)


def _store_state(store: Store) -> dict[str, tuple[int, str]]:
    return {info.name: (info.count, store.layer_version(info.name)) for info in store.list_layers()}


# --- boundary files ------------------------------------------------------------------------------


def test_datav_full_file_of_districts_in_gcj02(city_files: dict[str, Path]) -> None:
    boundary = read_boundary(city_files["boundary_full"], offset_system="gcj02", name=other_city.NAME)
    assert (boundary.name, boundary.adcode) == (other_city.NAME, other_city.ADCODE)  # adcode from parent {"adcode": 519900}
    areas = boundary.areas
    assert list(areas["level"]) == ["市", "区县", "区县", "区县"]
    assert list(areas["adcode"][1:]) == [code for code, _ in other_city.DISTRICTS]
    assert set(areas["parent_adcode"][1:]) == {other_city.ADCODE}
    assert areas.geometry.is_valid.all() and (areas.geom_type == "MultiPolygon").all()
    repairs = [n for n in boundary.notes if "Self-intersection" in n]
    assert len(repairs) == 1 and "锦里区 (519902)" in repairs[0] and "repaired" in repairs[0]
    # GCJ-02 undone: the outline is where the city really is (to well under a metre)
    truth = build_other_city().outline
    assert shapely.hausdorff_distance(boundary.outline, truth) < 2e-5
    assert boundary.outline.area == pytest.approx(truth.area, rel=1e-4)
    without = read_boundary(city_files["boundary_full"], name=other_city.NAME)
    assert shapely.hausdorff_distance(without.outline, truth) > 1e-3  # hundreds of metres off without --from


def test_datav_single_city_file(city_files: dict[str, Path]) -> None:
    boundary = read_boundary(city_files["boundary_city"], offset_system="gcj02")
    assert (boundary.name, boundary.adcode) == (other_city.NAME, other_city.ADCODE)
    assert list(boundary.areas["level"]) == ["市"] and boundary.areas["parent_adcode"].iloc[0] == "510000"
    assert any("city-level feature" in n for n in boundary.notes)


def test_a_full_file_without_a_name_asks_for_name(city_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="pass --name"):
        read_boundary(city_files["boundary_full"], offset_system="gcj02")


def test_nested_properties_given_as_json_text(tmp_path: Path, city_files: dict[str, Path]) -> None:
    """Older GDAL hands DataV's nested parent and list-valued center back as JSON strings."""
    document = json.loads(city_files["boundary_full"].read_text(encoding="utf-8"))
    for feature in document["features"]:
        properties = feature["properties"]
        properties["parent"] = json.dumps(properties["parent"])
        properties["center"] = json.dumps(properties["center"])
        properties["adcode"] = str(properties["adcode"])
    path = tmp_path / "519900_full.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    boundary = read_boundary(path, offset_system="gcj02", name=other_city.NAME)
    assert boundary.adcode == other_city.ADCODE and set(boundary.areas["parent_adcode"][1:]) == {other_city.ADCODE}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore:Could not decode error message:RuntimeWarning")  # GDAL says, in GBK, that the .dbf truncated 行政区划代码
@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_plain_files_with_chinese_headers_in_gauss_krueger(tmp_path: Path, suffix: str) -> None:
    """A county and township table as a bureau's GIS office keeps it: 行政区划代码/名称/级别,
    EPSG:4544 metres, no parent column (the adcodes say it); a GBK .dbf without .cpg."""
    city = build_other_city()
    outline_m = gpd.GeoSeries([city.outline], crs=4326).to_crs(4544).iloc[0]
    x0, y0, x1, y1 = outline_m.bounds
    west = outline_m.intersection(shapely.box(x0, y0, (x0 + x1) / 2, y1))
    east = outline_m.intersection(shapely.box((x0 + x1) / 2, y0, x1, y1))
    township = west.intersection(shapely.box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2))
    frame = gpd.GeoDataFrame(
        {"行政区划代码": ["519901", "519902", "519901001"], "名称": ["青羊新区", "锦里区", "草堂街道"], "级别": ["区县", "区县", "街道"]},
        geometry=[west, east, township], crs=4544,
    )
    path = tmp_path / f"区县{suffix}"
    if suffix == ".shp":
        frame.to_file(path, engine="pyogrio", encoding="gbk")
        path.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        frame.to_file(path, engine="pyogrio")
    boundary = read_boundary(path, name=other_city.NAME)
    assert boundary.adcode == other_city.ADCODE  # the counties' common parent
    by_code = boundary.areas.set_index("adcode")
    assert by_code.loc["519901001", "level"] == "乡镇街道" and by_code.loc["519901001", "parent_adcode"] == "519901"
    assert by_code.loc["519902", "name"] == "锦里区" and by_code.loc["519902", "parent_adcode"] == other_city.ADCODE
    assert boundary.outline.area == pytest.approx(city.outline.area, rel=1e-3)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([{"type": "Feature", "properties": {"adcode": 519900, "name": "锦官市"}, "geometry": {"type": "Point", "coordinates": [104.06, 30.66]}}], r"no polygon in the file \(1 features, geometry Point\)"),
        ([{"type": "Feature", "properties": {"adcode": 519900, "name": "锦官市"}, "geometry": {"type": "LineString", "coordinates": [[104.0, 30.6], [104.1, 30.7]]}}], "no polygon in the file"),
        ([{"type": "Feature", "properties": {"name": "锦官市"}, "geometry": {"type": "Polygon", "coordinates": [[[104.0, 30.6], [104.1, 30.6], [104.1, 30.7], [104.0, 30.6]]]}}], "no adcode column"),
    ],
)
def test_bad_boundaries_are_refused(tmp_path: Path, features: list[dict[str, object]], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_boundary(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.json: file not found"):
        read_boundary(tmp_path / "nope.json")


# --- the profile and the settings --------------------------------------------------------------


def test_a_profile_gets_the_gk_zone_of_its_centroid_and_a_buffered_region() -> None:
    profile = _profile()
    assert profile.work_epsg == 4544
    outline, region = profile.outline, profile.region
    assert region.contains(outline)
    point = shapely.Point(*build_other_city().outside_point)
    x0, y0, x1, y1 = profile.region_bbox
    assert x0 < point.x < x1 and y0 < point.y < y1 and not region.contains(point)
    # the region reaches 5 km (geodesic) beyond the outline
    far = max(shapely.get_coordinates(region.boundary), key=lambda c: c[1])
    top = max(shapely.get_coordinates(outline.boundary), key=lambda c: c[1])
    assert GEOD.inv(top[0], top[1], top[0], far[1])[2] == pytest.approx(5000, rel=0.01)


def test_the_profile_is_stored_and_read_back(store: Store) -> None:
    profile = _profile()
    store.upsert("city_profile", profile_rows(profile))
    back = read_city_profile(store)
    assert back is not None
    assert (back.name, back.adcode, back.work_epsg, back.region_buffer_km) == (other_city.NAME, other_city.ADCODE, 4544, 5.0)
    assert back.outline_area_km2 == pytest.approx(profile.outline_area_km2, abs=1e-3)
    assert shapely.equals_exact(back.outline, profile.outline, tolerance=1e-9)
    assert store.upsert("city_profile", profile_rows(profile)).unchanged == 2


def test_no_profile_keeps_jinings_defaults() -> None:
    settings = Settings().with_profile(None)
    assert settings.work_epsg == 4548 and settings.region_bbox == JINING_REGION_BBOX
    assert settings.region_geometry().equals(shapely.box(*JINING_REGION_BBOX)) and settings.city_outline() is None
    assert set(settings.setting_sources().values()) == {"default"}


def test_settings_take_the_profile_unless_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile()
    resolved = Settings().with_profile(profile)
    assert resolved.work_epsg == 4544 and resolved.region_bbox == profile.region_bbox
    assert resolved.region_geometry() is profile.region and resolved.city_outline() is profile.outline
    assert resolved.setting_sources() == {"work_epsg": "profile", "region_bbox": "profile", "region_buffer_km": "profile"}
    assert resolved.with_profile(None).work_epsg == 4548  # back to the default, not stuck on the profile's
    assert "work_epsg" not in resolved.model_dump(exclude_unset=True)  # the profile's values are not "set"
    monkeypatch.setenv("ONEMAP_WORK_EPSG", "4545")
    monkeypatch.setenv("ONEMAP_REGION_BBOX", "[103, 30, 105, 31]")
    from_env = Settings()
    assert {"work_epsg", "region_bbox"} <= from_env.model_fields_set  # pydantic counts environment values as set
    overridden = from_env.with_profile(profile)
    assert overridden.work_epsg == 4545 and overridden.region_bbox == (103, 30, 105, 31)
    assert overridden.region_geometry().equals(shapely.box(103, 30, 105, 31))
    assert overridden.city_outline() is profile.outline
    assert overridden.setting_sources() == {"work_epsg": "environment", "region_bbox": "environment", "region_buffer_km": "profile"}
    assert overridden.with_profile(profile).work_epsg == 4545  # explicit survives copies


def test_a_buffer_from_the_environment_buffers_the_outline_again(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile()
    monkeypatch.setenv("ONEMAP_REGION_BUFFER_KM", "10")
    wider = Settings().with_profile(profile)
    assert wider.region_buffer_km == 10 and wider.setting_sources()["region_buffer_km"] == "environment"
    assert wider.region_geometry().contains(profile.region)
    assert wider.region_bbox[3] - profile.region_bbox[3] == pytest.approx(5 / 111.2, rel=0.02)


# --- init ---------------------------------------------------------------------------------------


def test_init_writes_profile_and_admin_areas_in_one_go(store: Store, city_files: dict[str, Path]) -> None:
    boundary = read_boundary(city_files["boundary_full"], offset_system="gcj02", name=other_city.NAME)
    result = init_city(store, boundary, settings=Settings())
    assert result.written["city_profile"].inserted == 2 and result.written["admin_areas"].inserted == 4
    admin = store.read("admin_areas").set_index("adcode")
    assert admin.loc["519902", "level"] == "区县" and admin.loc["519902", "parent_adcode"] == other_city.ADCODE
    metric = gpd.GeoSeries([admin.loc["519902", "geometry"]], crs=4326).to_crs(4544).area.iloc[0] / 1e6
    assert admin.loc["519902", "area_km2"] == pytest.approx(metric, abs=1e-3)  # measured in the new zone
    profile = read_city_profile(store)
    assert profile is not None and profile.work_epsg == 4544 and profile.source_file == "519900_full.json"
    again = init_city(store, read_boundary(city_files["boundary_city"], offset_system="gcj02"), settings=Settings())
    assert again.profile.name == other_city.NAME  # the same city again: no --replace needed


def test_another_city_is_refused_on_a_store_with_data_unless_replace(store: Store, city_files: dict[str, Path], tmp_path: Path) -> None:
    init_city(store, read_boundary(city_files["boundary_full"], offset_system="gcj02", name=other_city.NAME), settings=Settings())
    store.upsert("shelters", build_other_city().layers["shelters"].assign(capacity_persons=100))
    jining = tmp_path / "370800.json"
    jining.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"adcode": 370800, "name": "济宁市", "level": "city", "parent": {"adcode": 370000}}, "geometry": {"type": "Polygon", "coordinates": [[[116.2, 35.0], [117.2, 35.0], [117.2, 35.8], [116.2, 35.8], [116.2, 35.0]]]}}]}), encoding="utf-8")
    before = _store_state(store)
    with pytest.raises(InputError, match=rf"another city than the store's \(锦官市\): its centre is [\d,]+ km from the stored city's \(more than {FAR_KM:g} km\).*shelters 8.*Use --replace"):
        init_city(store, read_boundary(jining), settings=Settings())
    assert _store_state(store) == before
    replaced = init_city(store, read_boundary(jining), settings=Settings(), replace=True)
    assert replaced.profile.work_epsg == 4548 and replaced.deleted_admin_areas == 4
    assert list(store.read("admin_areas")["adcode"]) == ["370800"]
    assert any("shelters 8" in n and "re-import" in n for n in replaced.notes)


def test_a_store_with_data_but_no_profile_compares_with_the_data(store: Store, city_files: dict[str, Path]) -> None:
    store.upsert("shelters", build_other_city().layers["shelters"].assign(capacity_persons=100))
    init_city(store, read_boundary(city_files["boundary_full"], offset_system="gcj02", name=other_city.NAME), settings=Settings())
    store.delete("city_profile", ["outline", "region"])
    moved = read_boundary(city_files["boundary_city"], offset_system="gcj02")
    moved.outline = shapely.affinity.translate(moved.outline, xoff=3.0)
    with pytest.raises(InputError, match="does not overlap"):
        init_city(store, moved, settings=Settings())


# --- inside the region ----------------------------------------------------------------------------


def test_inside_the_region_means_inside_the_buffered_outline(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store.gpkg"))
    profile = _profile()
    resolved = settings.with_profile(profile)
    from layers.store import open_store

    with open_store(resolved) as store:
        operations = Operations(store, resolved)
        lon, lat = build_other_city().outside_point
        with pytest.raises(InputError, match=r"outside the configured region: 锦官市's outline buffered by 5 km"):
            operations.create_incident(lon=lon, lat=lat, kind="火灾", actor="test")
        assert store.count("incidents") == 0
        created = operations.create_incident(lon=other_city.CENTRE[0], lat=other_city.CENTRE[1], kind="火灾", actor="test")
        assert len(created) == 1


def test_the_sample_writes_jinings_profile(sample_city: dict[str, gpd.GeoDataFrame]) -> None:
    rows = sample_city["city_profile"].set_index("source_id")
    assert list(rows.index) == ["outline", "region"]
    assert set(rows["name"]) == {"济宁市"} and set(rows["adcode"]) == {"370800"} and set(rows["work_epsg"]) == {4548}
    assert set(rows["region_buffer_km"]) == {5.0} and rows.loc["outline", "area_km2"] == pytest.approx(11_187, rel=0.001)
    city = sample_city["admin_areas"].loc[sample_city["admin_areas"]["level"] == "市"].geometry.iloc[0]
    assert rows.loc["outline", "geometry"].equals(city)
    assert shapely.box(*JINING_REGION_BBOX).contains(rows.loc["region", "geometry"])
