"""Facts of Jining's geography that the sample city is built around (see shared/domain.md).

County seats are the approximate centres of the county towns (WGS 84, degrees, rounded to 0.01°);
populations are rounded census-order figures used only to weight the synthetic population. The
Nansi Lake chain (南阳湖, 独山湖, 昭阳湖, 微山湖) is drawn as a NW-SE line with a width in metres.
Everything else in the sample city is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_NAME = "济宁市"
CITY_ADCODE = "370800"
CITY_AREA_KM2 = 11_187.0
CITY_POPULATION = 8_300_000


@dataclass(frozen=True)
class County:
    adcode: str
    name: str
    lon: float
    lat: float
    population: int
    townships: int
    urban_radius_km: float


COUNTIES: tuple[County, ...] = (
    County("370811", "任城区", 116.59, 35.41, 1_300_000, 19, 6.0),
    County("370812", "兖州区", 116.78, 35.55, 620_000, 10, 4.0),
    County("370826", "微山县", 117.13, 34.81, 600_000, 16, 3.0),
    County("370827", "鱼台县", 116.65, 35.01, 430_000, 11, 3.0),
    County("370828", "金乡县", 116.31, 35.07, 570_000, 13, 3.5),
    County("370829", "嘉祥县", 116.34, 35.41, 780_000, 16, 3.5),
    County("370830", "汶上县", 116.49, 35.71, 640_000, 14, 3.5),
    County("370831", "泗水县", 117.25, 35.66, 500_000, 13, 3.0),
    County("370832", "梁山县", 116.10, 35.80, 720_000, 15, 3.5),
    County("370881", "曲阜市", 116.99, 35.58, 600_000, 12, 4.0),
    County("370883", "邹城市", 116.97, 35.41, 1_100_000, 17, 5.0),
)
"""The 11 county-level divisions; their township counts sum to the city's 156."""

TOTAL_TOWNSHIPS = 156

NANSI_LAKE_LINE: tuple[tuple[float, float, float], ...] = (
    # lon, lat, half-width in metres
    (116.62, 35.24, 3500.0),  # 南阳湖 north end
    (116.71, 35.10, 4500.0),  # 独山湖 / 南阳湖
    (116.84, 34.97, 5500.0),  # 昭阳湖
    (116.99, 34.81, 7500.0),  # 微山湖
    (117.13, 34.65, 8000.0),
    (117.24, 34.52, 5000.0),  # south end near the Jiangsu border
)

OUTLINE: tuple[tuple[float, float], ...] = (
    (115.93, 35.93), (116.20, 36.02), (116.45, 35.92), (116.70, 35.85), (117.00, 35.76),
    (117.30, 35.80), (117.58, 35.68), (117.52, 35.50), (117.35, 35.38), (117.30, 35.15),
    (117.38, 34.98), (117.35, 34.62), (117.22, 34.45), (117.05, 34.58), (116.85, 34.80),
    (116.55, 34.88), (116.30, 34.90), (116.12, 35.02), (116.10, 35.30), (116.05, 35.50),
    (115.95, 35.62),
)
"""Jining's border traced coarsely by hand (lon/lat, clockwise from the north-west corner of 梁山):
an approximation of the real outline (extent 115.9-117.6 °E, 34.4-35.95 °N), not survey data."""

HILLY_EAST_LON = 116.88
"""East of about this longitude the land rises into the hills of 泗水, 邹城 and 曲阜 (东部山区)."""

EXPRESSWAYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("G1511日兰高速", ("泗水县", "曲阜市", "兖州区", "任城区", "嘉祥县")),
    ("G3京台高速", ("汶上县", "兖州区", "曲阜市", "邹城市", "微山县")),
    ("G35济广高速", ("梁山县", "嘉祥县", "金乡县")),
    ("S83枣菏高速", ("邹城市", "任城区", "金乡县")),
    ("济徐高速", ("任城区", "鱼台县", "微山县")),
)
"""Expressways as sequences of county towns they link (approximating the real corridors)."""

REAL_RESERVOIR_NAMES = ("尼山水库", "西苇水库", "华村水库", "贺庄水库", "龙湾套水库", "尹城水库")
"""Names given to the largest sample reservoirs (real reservoirs of the hilly east)."""

CHEMICAL_PARKS: tuple[tuple[str, str, float, float], ...] = (
    # name, county, offset east km, offset north km from the county town
    ("济宁新材料产业园区", "金乡县", 6.0, -4.0),
    ("邹城工业园区化工产业园", "邹城市", -7.0, 3.0),
    ("嘉祥经济开发区化工园区", "嘉祥县", 5.0, 5.0),
    ("兖州工业园区化工园区", "兖州区", -4.0, -6.0),
    ("梁山经济开发区化工园区", "梁山县", 6.0, -3.0),
    ("微山经济开发区化工园区", "微山县", 4.0, 6.0),
    ("汶上经济开发区化工园区", "汶上县", -5.0, -4.0),
)

RIVERS: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = (
    ("泗河", ((117.42, 35.68), (117.25, 35.65), (117.02, 35.61), (116.86, 35.54), (116.76, 35.42), (116.66, 35.27))),
    ("梁济运河", ((116.12, 35.78), (116.33, 35.62), (116.46, 35.47), (116.55, 35.35), (116.62, 35.26))),
    ("洸府河", ((116.74, 35.76), (116.69, 35.58), (116.63, 35.44), (116.64, 35.29))),
    ("白马河", ((117.06, 35.42), (116.96, 35.27), (116.84, 35.13))),
    ("万福河", ((116.18, 35.16), (116.36, 35.10), (116.55, 35.10), (116.68, 35.13))),
    ("东鱼河", ((116.20, 34.96), (116.42, 34.97), (116.62, 34.96), (116.80, 34.94))),
)
"""Jining's main rivers into the Nansi Lake, each traced coarsely by hand from its upper course
to the lake (lon/lat): 泗河 from 泗水 past 曲阜 and 兖州, 梁济运河 (the Grand Canal's course) from
梁山 past 汶上 and 嘉祥, 洸府河 past 兖州 and 任城, 白马河 from 邹城, 万福河 past 金乡 and 鱼台, 东鱼河
south of 鱼台. Approximate courses for siting the sample's gauges, not survey data."""

LAKE_GAUGES: tuple[tuple[str, float, float], ...] = (
    ("南阳湖", 116.72, 35.14),  # 上级湖 (upper lake)
    ("微山湖", 117.03, 34.76),  # 下级湖 (lower lake)
)
"""Where the sample's two Nansi Lake level gauges stand (lon/lat, on the lake)."""
