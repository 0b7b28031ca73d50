"""Hazard sources and emergency resources of the sample city, in the published counts.

Each builder returns plain columns and metric geometries (EPSG:4548); placement follows the
city's character: reservoirs and flash-flood areas in the eastern hills, coal-mining subsidence
around the central coal fields, shelters and stations where people live, chemical parks beside
the county towns that have them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
import shapely.affinity

from gis.grades import geohazard_danger_grade, park_risk_grade, reservoir_class
from layers.catalogue import DAM_TYPES
from layers.sample.geography import CHEMICAL_PARKS, COUNTIES, REAL_RESERVOIR_NAMES
from layers.sample.land import Array, Land, PopulationGrid, Township, to_metres, township_names

Columns = dict[str, Any]
Builder = Callable[[Land, PopulationGrid, list[Township], np.random.Generator], Columns]

COUNTS = {
    "reservoirs": 248,
    "geohazard_points": 42,
    "chemical_parks": 7,
    "hazardous_enterprises": 101,
    "shelters": 135,
    "rescue_stations": 668,
    "supply_depots": 672,
    "flood_prone_areas": 399,
}
"""Published inventory counts of Jining (shared/domain.md)."""


def _sample_cells(
    population: PopulationGrid, weights: Array, count: int, rng: np.random.Generator
) -> Array:
    """``count`` points in distinct cells drawn by weight, jittered inside their cell (±200 m in a 500 m cell)."""
    chosen = rng.choice(population.x.size, size=count, replace=False, p=weights / weights.sum())
    reach = 0.4 * population.cell_size_m
    jitter = rng.uniform(-reach, reach, (count, 2))
    return np.column_stack([population.x[chosen], population.y[chosen]]) + jitter


def county_of(land: Land, xy: Array) -> list[str | None]:
    codes: list[str | None] = [None] * len(xy)
    for county, polygon in land.counties:
        for i in np.flatnonzero(shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])):
            codes[i] = county.adcode
    return codes


def _points(xy: Array) -> Array:
    return np.asarray(shapely.points(xy), dtype=object)


def _place_names(count: int, suffixes: str, rng: np.random.Generator) -> list[str]:
    bases = township_names(count, rng)
    return [base + suffixes[i % len(suffixes)] for i, base in enumerate(bases)]


def reservoirs(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    count = COUNTS["reservoirs"]
    hills = land.hilliness(population.x, population.y)
    weights = (0.05 + hills**2) / (1.0 + population.persons / 500.0)
    xy = _sample_cells(population, weights, count, rng)
    # Class mix of a hilly prefecture: one large, about 20 medium, the rest small.
    bounds = [(1.0e8, 1.5e8)] * 1 + [(1.0e7, 9.0e7)] * 19 + [(1.0e6, 9.5e6)] * 60 + [(1.0e5, 9.5e5)] * (count - 80)
    capacity = np.array([np.exp(rng.uniform(np.log(lo), np.log(hi))) for lo, hi in bounds]).round(-3)
    names = list(REAL_RESERVOIR_NAMES) + [n + "水库" for n in township_names(count, rng)][: count - len(REAL_RESERVOIR_NAMES)]
    limit = (80.0 + 170.0 * land.hilliness(xy[:, 0], xy[:, 1]) + rng.uniform(0, 20, count)).round(2)
    current = (limit - rng.uniform(0.3, 6.0, count)).round(2)
    above = rng.choice(count, size=4, replace=False)
    current[above] = (limit[above] + rng.uniform(0.05, 0.8, 4)).round(2)
    return {
        "source_id": [f"SK{i + 1:04d}" for i in range(count)],
        "name": names,
        "capacity_m3": capacity,
        "reservoir_class": [reservoir_class(c) for c in capacity],
        "flood_limit_level_m": limit,
        "current_level_m": current,
        "above_flood_limit": current > limit,
        "dam_type": [DAM_TYPES[i] for i in rng.choice(4, size=count, p=[0.6, 0.15, 0.15, 0.1])],
        "county_adcode": county_of(land, xy),
        "geometry": _points(xy),
    }


def geohazard_points(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    hills = land.hilliness(population.x, population.y)
    slope_xy = _sample_cells(population, 0.01 + hills**3, 28, rng)
    # Coal-mining subsidence around the central coal fields (兖州, 邹城, 任城, 微山).
    field_centres = [to_metres(116.80, 35.48), to_metres(116.90, 35.33), to_metres(116.62, 35.32), to_metres(117.02, 35.02)]
    subsidence_xy = np.array([field_centres[i % 4] for i in range(14)]) + rng.normal(0.0, 5000.0, (14, 2))
    xy = np.concatenate([slope_xy, subsidence_xy])
    types = [str(t) for t in rng.choice(["崩塌", "滑坡", "泥石流"], size=28, p=[0.5, 0.3, 0.2])] + ["地面塌陷"] * 14
    people = np.round(rng.lognormal(4.0, 1.2, 42)).astype(int)
    money = np.round(rng.lognormal(5.0, 1.3, 42), 1)
    return {
        "source_id": [f"DZ{i + 1:03d}" for i in range(42)],
        "name": [f"{n}{t}隐患点" for n, t in zip(township_names(42, rng), types, strict=True)],
        "hazard_type": types,
        "scale": [str(s) for s in rng.choice(["大型", "中型", "小型"], size=42, p=[0.1, 0.3, 0.6])],
        "threatened_people": people,
        "threatened_property_10k_cny": money,
        "danger_grade": [geohazard_danger_grade(p, m) for p, m in zip(people, money, strict=True)],
        "county_adcode": county_of(land, xy),
        "geometry": _points(xy),
    }


def chemical_parks(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    county_xy = {c.name: land.seats[i] for i, c in enumerate(COUNTIES)}
    polygons, centres = [], []
    for _, county, east_km, north_km in CHEMICAL_PARKS:
        cx, cy = county_xy[county] + np.array([east_km, north_km]) * 1000.0
        width, height = rng.uniform(1200, 2600, 2)
        box = shapely.box(cx - width, cy - height, cx + width, cy + height)
        polygons.append(shapely.affinity.rotate(box, float(rng.uniform(-30, 30))))
        centres.append((cx, cy))
    score = rng.uniform(85.5, 94.5, 7).round(1)  # all rated D in 2023
    return {
        "source_id": [f"HGYQ{i + 1:02d}" for i in range(7)],
        "name": [p[0] for p in CHEMICAL_PARKS],
        "risk_score": score,
        "risk_grade": [park_risk_grade(s) for s in score],
        "enterprise_count": [0] * 7,  # filled in once enterprises are placed
        "county_adcode": county_of(land, np.array(centres)),
        "geometry": np.array(polygons, dtype=object),
    }


def hazardous_enterprises(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator, parks: Columns) -> Columns:
    count = COUNTS["hazardous_enterprises"]
    in_parks = 70
    park_of = rng.choice(7, size=in_parks)
    xy = []
    for park in park_of:
        polygon = parks["geometry"][park]
        min_x, min_y, max_x, max_y = polygon.bounds
        while True:
            point = rng.uniform([min_x, min_y], [max_x, max_y])
            if shapely.contains_xy(polygon, point[0], point[1]):
                xy.append(point)
                break
    scattered = _sample_cells(population, population.persons.astype(float) ** 0.5 + 1.0, count - in_parks, rng)
    xy_all = np.concatenate([np.array(xy), scattered])
    parks["enterprise_count"] = np.bincount(park_of, minlength=7)
    park_ids = [parks["source_id"][p] for p in park_of] + [None] * (count - in_parks)
    return {
        "source_id": [f"WHQY{i + 1:04d}" for i in range(count)],
        "name": [n + "化工有限公司" for n in township_names(count, rng)],
        "category": [str(c) for c in rng.choice(["生产", "储存", "使用", "经营"], size=count, p=[0.45, 0.15, 0.2, 0.2])],
        "major_hazard_level": [str(c) for c in rng.choice(["一级", "二级", "三级", "四级", "无"], size=count, p=[0.03, 0.07, 0.15, 0.25, 0.5])],
        "risk_level": [str(c) for c in rng.choice(["重大", "较大", "一般", "低"], size=count, p=[0.03, 0.12, 0.45, 0.4])],
        "park_source_id": park_ids,
        "county_adcode": county_of(land, xy_all),
        "geometry": _points(xy_all),
    }


def shelters(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    count = COUNTS["shelters"]
    centre_xy = land.seats + rng.normal(0, 800.0, land.seats.shape)
    others = _sample_cells(population, population.persons.astype(float) ** 1.5, count - len(land.seats), rng)
    xy = np.concatenate([centre_xy, others])
    kinds = ["中心"] * len(land.seats) + ["固定"] * 44 + ["紧急"] * (count - len(land.seats) - 44)
    area_ranges = {"中心": (1.0e5, 3.0e5), "固定": (2.0e4, 1.5e5), "紧急": (2.0e3, 2.0e4)}
    area = np.array([rng.uniform(*area_ranges[k]) for k in kinds]).round(-1)
    stay = {"中心": "Ⅰ", "固定": "Ⅱ", "紧急": "Ⅲ"}
    suffix = {"中心": "中心避难场所", "固定": "固定避难场所", "紧急": "紧急避难场所"}
    return {
        "source_id": [f"BN{i + 1:04d}" for i in range(count)],
        "name": [n + suffix[k] for n, k in zip(township_names(count, rng), kinds, strict=True)],
        "shelter_type": kinds,
        "stay_class": [stay[k] for k in kinds],
        "effective_area_m2": area,
        "capacity_persons": np.floor(area / 1.5).astype(int),
        "county_adcode": county_of(land, xy),
        "geometry": _points(xy),
    }


def rescue_stations(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    count = COUNTS["rescue_stations"]
    teams = 16  # 2 national, 7 provincial, 7 city professional teams
    fire = 30
    township_xy = np.array([t.seat for t in townships]) + rng.normal(0, 300.0, (len(townships), 2))
    villages = _sample_cells(population, population.persons.astype(float), count - teams - fire - len(townships), rng)
    fire_xy = np.repeat(land.seats, 3, axis=0)[:fire] + rng.normal(0, 2500.0, (fire, 2))
    team_xy = land.seats[rng.choice(len(land.seats), size=teams)] + rng.normal(0, 3000.0, (teams, 2))
    xy = np.concatenate([township_xy, villages, fire_xy, team_xy])
    basic = len(townships) + len(villages)
    kinds = ["基层救援站"] * basic + ["消防站"] * fire + ["专业救援队"] * teams
    team_names = ["国家危险化学品应急救援济宁队", "国家矿山应急救援兖矿队"] + [f"山东省{n}应急救援队" for n in ("防汛", "矿山", "危化", "地震", "森林消防", "水域", "工程抢险")] + [f"济宁市{n}救援队" for n in ("防汛抢险", "危化品", "蓝天", "水上", "电力抢修", "通信保障", "医疗")]
    names = [t.name + "应急救援站" for t in townships] + [n + "村应急救援点" for n in township_names(len(villages), rng)] + [n + "消防救援站" for n in township_names(fire, rng)] + team_names
    staff = np.concatenate([rng.integers(8, 30, basic), rng.integers(25, 60, fire), rng.integers(40, 200, teams)])
    vehicles = np.concatenate([rng.integers(1, 4, basic), rng.integers(4, 12, fire), rng.integers(6, 30, teams)])
    return {
        "source_id": [f"JY{i + 1:04d}" for i in range(count)],
        "name": names,
        "kind": kinds,
        "staff": staff,
        "vehicles": vehicles,
        "county_adcode": county_of(land, xy),
        "geometry": _points(xy),
    }


def supply_depots(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    count = COUNTS["supply_depots"]
    city_xy = land.seats[:1] + np.array([[2500.0, -1500.0]])
    county_xy = land.seats + rng.normal(0, 1500.0, land.seats.shape)
    township_xy = np.array([t.seat for t in townships]) + rng.normal(0, 400.0, (len(townships), 2))
    villages = count - 1 - len(county_xy) - len(townships)
    village_xy = _sample_cells(population, population.persons.astype(float), villages, rng)
    xy = np.concatenate([city_xy, county_xy, township_xy, village_xy])
    levels = ["市级"] + ["县级"] * len(county_xy) + ["乡镇级"] * len(townships) + ["村级"] * villages
    names = ["济宁市应急物资储备库"] + [c.name + "应急物资储备库" for c in COUNTIES] + [t.name + "应急物资储备站" for t in townships] + [n + "村应急物资储备点" for n in township_names(villages, rng)]
    supplies = {"市级": "帐篷、棉被、折叠床、救生衣、发电机", "县级": "帐篷、棉被、冲锋舟、抽水泵", "乡镇级": "编织袋、铁锹、救生衣、照明灯", "村级": "编织袋、铁锹、雨衣"}
    return {
        "source_id": [f"WZ{i + 1:04d}" for i in range(count)],
        "name": names,
        "level": levels,
        "main_supplies": [supplies[level] for level in levels],
        "county_adcode": county_of(land, xy),
        "geometry": _points(xy),
    }


def flood_prone_areas(land: Land, population: PopulationGrid, townships: list[Township], rng: np.random.Generator) -> Columns:
    count = COUNTS["flood_prone_areas"]
    hills = land.hilliness(population.x, population.y)
    starts = _sample_cells(population, 0.02 + hills**2, count, rng)
    polygons = []
    for x, y in starts:
        # A valley: a bent line 1-4 km long, 150-400 m either side.
        length = rng.uniform(1000, 4000)
        heading = rng.uniform(0, 2 * np.pi)
        bend = heading + rng.uniform(-0.6, 0.6)
        middle = (x + np.cos(heading) * length / 2, y + np.sin(heading) * length / 2)
        end = (middle[0] + np.cos(bend) * length / 2, middle[1] + np.sin(bend) * length / 2)
        valley = shapely.LineString([(x, y), middle, end]).buffer(rng.uniform(150, 400), quad_segs=4)
        polygons.append(valley.difference(land.lake))
    return {
        "source_id": [f"SH{i + 1:04d}" for i in range(count)],
        "name": [n + "山洪灾害易发区" for n in township_names(count, rng)],
        "kind": ["山洪灾害易发区"] * count,
        "threatened_people": np.round(rng.lognormal(5.0, 1.0, count)).astype(int),
        "county_adcode": county_of(land, starts),
        "geometry": np.array(polygons, dtype=object),
    }
