"""The layer catalogue: one declarative spec per layer.

A spec says what a layer is (table name, Chinese and English names, geometry type), what its
fields are (type, unit, enumeration, required-ness, the ledger headers that map to it), how it is
drawn by default, and which field is its stable source id. Stores build their tables from it, the
importer validates against it, and the API publishes it. Every layer has ``source_id`` (text, the
ledger's own 编号, stable across re-imports) as its public feature id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gis.grades import (
    DANGER_GRADES,
    PARK_RISK_GRADES,
    RESERVOIR_CLASSES,
    RISK_LEVEL_COLOURS,
    RISK_LEVELS,
    WARNING_COLOURS,
    WARNING_LEVELS,
)
from layers.errors import UnknownLayerError

FieldType = Literal["str", "int", "float", "bool", "datetime"]
GeometryType = Literal["Point", "LineString", "Polygon", "MultiPolygon", "Geometry"]
LayerGroup = Literal["hazard", "resource", "base", "operations", "analysis"]

SOURCE_ID = "source_id"
"""Name of the stable source-id column every layer has."""

_COMMON_ID_ALIASES = ("source_id", "编号", "编码", "代码", "id", "ID", "Id", "code", "CODE")
"""Headers of a ledger's own id. Not 序号: that numbers the rows of one list from 1, so two lists
would overwrite each other; without an id, ids are derived from name and location."""
_COMMON_NAME_ALIASES = ("名称", "name", "NAME", "Name", "名字")
_COUNTY_ALIASES = ("所属县区代码", "县区代码", "county_code", "county_adcode")


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer. ``unit`` is part of the name shown to users (e.g. "库容 (m³)")."""

    name: str
    type: FieldType
    label_zh: str
    unit: str | None = None
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    aliases: tuple[str, ...] = ()
    derived: bool = False
    description: str = ""
    restricted: bool = False
    """Sensitive (e.g. an enterprise's hazard details): sent only to editors and admins, never to
    viewers or share links."""
    synonyms: tuple[tuple[str, str], ...] = ()
    """Values as ledgers write them → the allowed value (``紧急避难场所`` → ``紧急``). Full-width
    forms, spaces and Roman/Arabic/Chinese numerals are folded before the lookup (layers.io.ledger)."""
    declared_by: str | None = None
    """For a computed field: the field that keeps a ledger's own value of it (a road ledger's 长度
    (m) goes to ``declared_length_m`` when the file has no column of that field)."""
    plausible: tuple[float | None, float | None, str] | None = None
    """(low, high, question): a value outside this range is accepted but warned about, with the
    question (often a unit mistake: "unit 万m³?")."""

    @property
    def geometric(self) -> bool:
        """Computed from the geometry (length, area): a file's column is read but recomputed."""
        return self.derived and self.name in ("length_m", "area_km2")

    @property
    def display_label(self) -> str:
        """Chinese label with its unit, e.g. ``库容 (m³)``."""
        return f"{self.label_zh} ({self.unit})" if self.unit else self.label_zh


MarkerShape = Literal["circle", "diamond", "polygon"]


@dataclass(frozen=True)
class LayerStyle:
    """How a layer is drawn, the one source of its colours on every map: stroke colour, fill
    colour, marker radius in pixels, icon name; on the wall map a one-character ``glyph`` in a
    badge of ``shape``, coloured by the value of the field ``color_by`` when it has one
    (``class_colors``: value → colour, in legend order, else ``color``), and scaled by the numeric
    field ``size_by`` (a shelter's capacity)."""

    color: str
    fill_color: str | None = None
    radius: int = 6
    icon: str = "circle"
    glyph: str | None = None
    shape: MarkerShape = "circle"
    color_by: str | None = None
    class_colors: tuple[tuple[str, str], ...] = ()
    size_by: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    """A layer of the one map."""

    name: str
    title_zh: str
    title_en: str
    geometry_type: GeometryType
    group: LayerGroup
    fields: tuple[FieldSpec, ...]
    style: LayerStyle
    description: str = ""
    source_id_aliases: tuple[str, ...] = _COMMON_ID_ALIASES
    written_by_users: bool = False
    header_nouns: tuple[str, ...] = ()
    """What ledgers call one feature, as a header prefix: ``水库名称`` → 名称 for reservoirs."""
    field_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(f.name for f in self.fields)
        if len(set(names)) != len(names) or SOURCE_ID in names:
            raise ValueError(f"layer {self.name}: field names must be unique and not {SOURCE_ID}")
        object.__setattr__(self, "field_names", names)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; ``KeyError`` when there is none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def columns(self) -> tuple[str, ...]:
        """Attribute columns in store order: ``source_id`` then the fields."""
        return (SOURCE_ID, *self.field_names)

    @property
    def sensitivity(self) -> Literal["internal", "restricted"]:
        """The layer's class: "restricted" when some of its fields are (only editors see those),
        else "internal" (any viewer; never public)."""
        return "restricted" if any(f.restricted for f in self.fields) else "internal"

    def visible_columns(self, *, restricted: bool) -> tuple[str, ...]:
        """The columns a reader may see: all with clearance for restricted fields, else without them."""
        return tuple(c for c in self.columns if restricted or c == SOURCE_ID or not self.field(c).restricted)


def _name(required: bool = True) -> FieldSpec:
    return FieldSpec("name", "str", "名称", required=required, aliases=_COMMON_NAME_ALIASES)


def _county() -> FieldSpec:
    return FieldSpec("county_adcode", "str", "所属县区代码", aliases=_COUNTY_ALIASES)


ROAD_CLASSES = ("高速公路", "国道", "省道", "县道", "乡道", "城市道路", "村道")
"""Road classes, highest first."""

ROAD_CLASS_SPEED_KMH = {
    "高速公路": 100.0,
    "国道": 70.0,
    "省道": 60.0,
    "县道": 50.0,
    "乡道": 40.0,
    "城市道路": 30.0,
    "村道": 25.0,
}
"""Default travel speed by road class (km/h) when a road has none of its own."""

ADMIN_LEVELS = ("市", "区县", "乡镇街道")
SHELTER_TYPES = ("紧急", "固定", "中心")
SHELTER_STAY_CLASSES = ("Ⅰ", "Ⅱ", "Ⅲ")
RESCUE_KINDS = ("基层救援站", "消防站", "专业救援队")
DEPOT_LEVELS = ("市级", "县级", "乡镇级", "村级")
GEOHAZARD_TYPES = ("崩塌", "滑坡", "泥石流", "地面塌陷", "地裂缝", "地面沉降")
FLOOD_AREA_KINDS = ("山洪灾害易发区", "易涝区", "蓄滞洪区")
ENTERPRISE_CATEGORIES = ("生产", "储存", "使用", "经营")
MAJOR_HAZARD_LEVELS = ("一级", "二级", "三级", "四级", "无")
INCIDENT_KINDS = ("火灾", "洪涝", "地质灾害", "危化品事故", "交通事故", "地震", "其他")
INCIDENT_STATUSES = ("已上报", "处置中", "已结束")
DAM_TYPES = ("土坝", "堆石坝", "浆砌石坝", "混凝土坝", "其他")
WATER_KINDS = ("湖泊", "水库", "河流", "渠道", "其他")
CLOSURE_CAUSES = ("洪水", "塌方", "积水", "事故", "管制", "其他")
CLOSURE_STATUSES = ("封闭中", "已解除")
CLOSURE_IN_FORCE = CLOSURE_STATUSES[0]
"""The status of a closure whose roads are cut now (routing and coverage "now" avoid them)."""
STATION_KINDS = ("水位", "雨量")
STATION_STATUSES = ("在线", "离线")
ALERT_RULES = ("暴雨", "水位", "涨率", "离线")
"""The rule families an alert comes from: rainfall, water level, rise rate, a silent station."""
ALERT_STATUSES = ("已发布", "已确认", "已解除")
"""An alert's life: raised (published), acknowledged by someone, resolved."""

SHELTER_TYPE_SYNONYMS = (
    ("紧急避难场所", "紧急"), ("紧急避难点", "紧急"), ("应急避难点", "紧急"),
    ("固定避难场所", "固定"), ("短期固定避难场所", "固定"), ("中期固定避难场所", "固定"), ("长期固定避难场所", "固定"),
    ("中心避难场所", "中心"), ("中心级避难场所", "中心"),
)
RESCUE_KIND_SYNONYMS = (
    ("消防救援站", "消防站"), ("消防队", "消防站"), ("专职消防队", "消防站"), ("微型消防站", "消防站"),
    ("社区微型消防站", "消防站"), ("专业救援队伍", "专业救援队"), ("专业应急救援队伍", "专业救援队"),
    ("专业队", "专业救援队"), ("基层应急救援站", "基层救援站"), ("应急救援站", "基层救援站"),
    ("乡镇应急救援站", "基层救援站"), ("基层应急救援队伍", "基层救援站"),
)
DEPOT_LEVEL_SYNONYMS = (
    ("市级储备库", "市级"), ("市", "市级"), ("县级储备库", "县级"), ("县", "县级"), ("区县级", "县级"),
    ("县区级", "县级"), ("区级", "县级"), ("乡镇级储备点", "乡镇级"), ("乡镇级储备站", "乡镇级"),
    ("乡镇", "乡镇级"), ("街道级", "乡镇级"), ("乡镇(街道)级", "乡镇级"), ("村级储备点", "村级"),
    ("村", "村级"), ("社区级", "村级"), ("村(社区)级", "村级"),
)
ROAD_CLASS_SYNONYMS = (
    ("高速", "高速公路"), ("快速路", "城市道路"), ("主干路", "城市道路"), ("次干路", "城市道路"),
    ("支路", "城市道路"), ("城市快速路", "城市道路"), ("城市主干路", "城市道路"),
    ("城市次干路", "城市道路"), ("城市支路", "城市道路"), ("主干道", "城市道路"), ("次干道", "城市道路"),
)
"""Urban road classes of CJJ 37 (快速路/主干路/次干路/支路, with or without 城市) are 城市道路."""
RISK_LEVEL_SYNONYMS = (
    ("重大风险", "重大"), ("红", "重大"), ("红色", "重大"), ("较大风险", "较大"), ("橙", "较大"),
    ("橙色", "较大"), ("一般风险", "一般"), ("黄", "一般"), ("黄色", "一般"), ("低风险", "低"),
    ("蓝", "低"), ("蓝色", "低"),
)

_RISK_COLOURS = tuple(RISK_LEVEL_COLOURS[level] for level in RISK_LEVELS)
"""The official four risk colours (red, orange, yellow, blue), highest grade first."""

CATALOGUE: dict[str, LayerSpec] = {}


def _register(spec: LayerSpec) -> None:
    CATALOGUE[spec.name] = spec


_register(
    LayerSpec(
        name="admin_areas",
        title_zh="行政区划",
        title_en="Administrative areas",
        geometry_type="MultiPolygon",
        group="base",
        description="County (区县) and township (乡镇街道) boundaries with resident population.",
        source_id_aliases=("source_id", "adcode", "行政区划代码", "区划代码", *_COMMON_ID_ALIASES),
        fields=(
            FieldSpec("adcode", "str", "行政区划代码", required=True, aliases=("行政区划代码", "区划代码", "adcode")),
            _name(),
            FieldSpec("level", "str", "级别", required=True, enum=ADMIN_LEVELS, aliases=("级别", "层级")),
            FieldSpec("parent_adcode", "str", "上级区划代码", aliases=("上级区划代码", "上级代码")),
            FieldSpec("population", "int", "常住人口", unit="人", minimum=0, aliases=("常住人口", "人口")),
            FieldSpec("area_km2", "float", "面积", unit="km²", minimum=0, derived=True,
                      description="Computed from the geometry in the work CRS."),
        ),
        style=LayerStyle(color="#555555", fill_color=None, radius=0, icon="boundary"),
    )
)

_register(
    LayerSpec(
        name="reservoirs",
        title_zh="水库",
        title_en="Reservoirs",
        geometry_type="Point",
        group="hazard",
        description="Reservoirs with capacity, flood-limit level (汛限水位) and current level.",
        header_nouns=("水库",),
        fields=(
            _name(),
            FieldSpec("capacity_m3", "float", "总库容", unit="m³", required=True, minimum=0,
                      aliases=("总库容", "库容", "总库容(m³)", "capacity"),
                      plausible=(1e5, 5e10, "outside 1×10⁵ m³ (the smallest reservoir class) … 5×10¹⁰ m³: is the column's unit right (万m³? 亿m³?)")),
            FieldSpec("reservoir_class", "str", "规模", enum=RESERVOIR_CLASSES, derived=True,
                      aliases=("规模", "工程规模", "类别"),
                      synonyms=(("大1型水库", "大(1)型"), ("大2型水库", "大(2)型"), ("中型水库", "中型"),
                                ("小1型水库", "小(1)型"), ("小2型水库", "小(2)型")),
                      description="Derived from capacity when missing (大(1)型 ≥ 1e9 m³ … 小(2)型 ≥ 1e5 m³)."),
            FieldSpec("flood_limit_level_m", "float", "汛限水位", unit="m", aliases=("汛限水位",)),
            FieldSpec("current_level_m", "float", "当前水位", unit="m", aliases=("当前水位", "实时水位", "水位")),
            FieldSpec("above_flood_limit", "bool", "超汛限", derived=True,
                      description="Derived: current level above the flood-limit level (alert state)."),
            FieldSpec("dam_type", "str", "坝型", enum=DAM_TYPES, aliases=("坝型", "大坝类型")),
            _county(),
        ),
        style=LayerStyle(color="#2171b5", fill_color="#a6cee3", radius=7, icon="tint", glyph="库", color_by="reservoir_class",
                         class_colors=tuple(zip(RESERVOIR_CLASSES, ("#08306b", "#08519c", "#2171b5", "#4292c6", "#6baed6"), strict=True))),
    )
)

_register(
    LayerSpec(
        name="geohazard_points",
        title_zh="地质灾害隐患点",
        title_en="Geohazard points",
        geometry_type="Point",
        group="hazard",
        description="Collapse, landslide, debris flow and ground-subsidence points with their danger grade.",
        header_nouns=("地质灾害隐患点", "隐患点", "灾害点", "地灾点"),
        fields=(
            _name(),
            FieldSpec("hazard_type", "str", "灾害类型", required=True, enum=GEOHAZARD_TYPES,
                      aliases=("灾害类型", "类型", "隐患类型"),
                      synonyms=(("采空塌陷", "地面塌陷"), ("采煤塌陷", "地面塌陷"), ("塌陷", "地面塌陷"), ("危岩", "崩塌"))),
            FieldSpec("scale", "str", "规模等级", enum=("巨型", "大型", "中型", "小型"), aliases=("规模", "规模等级")),
            FieldSpec("threatened_people", "int", "威胁人数", unit="人", minimum=0, aliases=("威胁人数", "威胁人口")),
            FieldSpec("threatened_property_10k_cny", "float", "威胁财产", unit="万元", minimum=0,
                      aliases=("威胁财产", "威胁财产(万元)", "潜在经济损失")),
            FieldSpec("danger_grade", "str", "险情等级", enum=DANGER_GRADES, derived=True,
                      aliases=("险情等级", "险情"),
                      synonyms=(("特大型险情", "特大型"), ("大型险情", "大型"), ("中型险情", "中型"), ("小型险情", "小型")),
                      description="Derived from threatened people/property when missing."),
            _county(),
        ),
        style=LayerStyle(color="#8c510a", fill_color="#d8b365", radius=7, icon="warning", glyph="灾", shape="diamond",
                         color_by="danger_grade", class_colors=tuple(zip(DANGER_GRADES, _RISK_COLOURS, strict=True))),
    )
)

_register(
    LayerSpec(
        name="chemical_parks",
        title_zh="化工园区",
        title_en="Chemical parks",
        geometry_type="MultiPolygon",
        group="hazard",
        description="Chemical industrial parks with their safety-risk score and grade A (high)-D (low).",
        header_nouns=("化工园区", "园区"),
        fields=(
            _name(),
            FieldSpec("risk_score", "float", "安全风险评分", unit="分", minimum=0, maximum=100,
                      aliases=("安全风险评分", "评分", "得分")),
            FieldSpec("risk_grade", "str", "安全风险等级", enum=PARK_RISK_GRADES, derived=True,
                      aliases=("安全风险等级", "风险等级", "等级"),
                      description="Derived from the score when missing (<60 A … ≥85 D)."),
            FieldSpec("enterprise_count", "int", "企业数量", unit="家", minimum=0, aliases=("企业数量", "企业数")),
            _county(),
        ),
        style=LayerStyle(color="#6a3d9a", fill_color="#cab2d6", radius=0, icon="industry", glyph="化", shape="polygon",
                         color_by="risk_grade", class_colors=tuple(zip(PARK_RISK_GRADES, _RISK_COLOURS, strict=True))),
    )
)

_register(
    LayerSpec(
        name="hazardous_enterprises",
        title_zh="危险化学品企业",
        title_en="Hazardous-chemical enterprises",
        geometry_type="Point",
        group="hazard",
        description="Enterprises producing, storing, using or trading hazardous chemicals.",
        header_nouns=("危险化学品企业", "危化品企业", "企业", "单位"),
        fields=(
            _name(),
            FieldSpec("category", "str", "经营类别", enum=ENTERPRISE_CATEGORIES, aliases=("经营类别", "类别"), restricted=True),
            FieldSpec("major_hazard_level", "str", "重大危险源等级", enum=MAJOR_HAZARD_LEVELS,
                      aliases=("重大危险源等级", "危险源等级"), restricted=True),
            FieldSpec("risk_level", "str", "安全风险等级", enum=RISK_LEVELS, aliases=("安全风险等级", "风险等级"),
                      synonyms=RISK_LEVEL_SYNONYMS),
            FieldSpec("park_source_id", "str", "所在园区编号", aliases=("所在园区编号", "园区编号")),
            _county(),
        ),
        style=LayerStyle(color="#e31a1c", fill_color="#fb9a99", radius=5, icon="flask", glyph="危", shape="diamond",
                         color_by="risk_level", class_colors=tuple(zip(RISK_LEVELS, _RISK_COLOURS, strict=True))),
    )
)

_register(
    LayerSpec(
        name="shelters",
        title_zh="应急避难场所",
        title_en="Emergency shelters",
        geometry_type="Geometry",
        group="resource",
        description="Shelters (point or site polygon) with type, effective area and capacity.",
        header_nouns=("应急避难场所", "避难场所", "场所"),
        fields=(
            _name(),
            FieldSpec("shelter_type", "str", "类型", required=True, enum=SHELTER_TYPES,
                      aliases=("类型", "场所类型", "避难场所类型"), synonyms=SHELTER_TYPE_SYNONYMS),
            FieldSpec("stay_class", "str", "避难时长类别", enum=SHELTER_STAY_CLASSES, aliases=("类别", "等级"),
                      description="GB 21734: Ⅰ ≥ 30 days, Ⅱ 10–30 days, Ⅲ ≤ 10 days (I/II/III, 1/2/3, 一类… accepted)."),
            FieldSpec("effective_area_m2", "float", "有效避难面积", unit="m²", minimum=0,
                      aliases=("有效避难面积", "有效面积", "面积"),
                      plausible=(200.0, 1e7, "outside 200 m² … 10 km² for one shelter: is the column's unit right (亩? 万m²?)")),
            FieldSpec("capacity_persons", "int", "容纳人数", unit="人", minimum=0, derived=True,
                      aliases=("容纳人数", "可容纳人数", "容量"),
                      description="Derived as effective area / area per person (1.5 m²) when missing."),
            _county(),
        ),
        style=LayerStyle(color="#33a02c", fill_color="#b2df8a", radius=8, icon="home", glyph="避", size_by="capacity_persons"),
    )
)

_register(
    LayerSpec(
        name="rescue_stations",
        title_zh="应急救援力量",
        title_en="Rescue stations and teams",
        geometry_type="Point",
        group="resource",
        description="Basic rescue stations, fire stations and professional rescue teams.",
        header_nouns=("应急救援队伍", "救援队伍", "队伍", "救援站", "消防站", "救援力量", "单位"),
        fields=(
            _name(),
            FieldSpec("kind", "str", "类型", required=True, enum=RESCUE_KINDS, aliases=("类型", "队伍类型", "队伍性质"),
                      synonyms=RESCUE_KIND_SYNONYMS),
            FieldSpec("staff", "int", "人员", unit="人", minimum=0, aliases=("人员", "人数", "队员数", "人员数量"),
                      plausible=(None, 5000, "more than 5,000 people at one station: is it the whole county's total?")),
            FieldSpec("vehicles", "int", "车辆", unit="辆", minimum=0, aliases=("车辆", "车辆数")),
            _county(),
        ),
        style=LayerStyle(color="#ff7f00", fill_color="#fdbf6f", radius=6, icon="ambulance", glyph="救"),
    )
)

_register(
    LayerSpec(
        name="supply_depots",
        title_zh="应急物资储备库",
        title_en="Supply depots",
        geometry_type="Point",
        group="resource",
        description="Emergency supply depots and points, city to village level.",
        header_nouns=("应急物资储备库", "物资储备库", "储备库", "储备点", "仓库"),
        fields=(
            _name(),
            FieldSpec("level", "str", "级别", required=True, enum=DEPOT_LEVELS, aliases=("级别", "层级"),
                      synonyms=DEPOT_LEVEL_SYNONYMS),
            FieldSpec("main_supplies", "str", "主要物资", aliases=("主要物资", "物资")),
            _county(),
        ),
        style=LayerStyle(color="#b15928", fill_color="#ffff99", radius=6, icon="cube", glyph="物"),
    )
)

_register(
    LayerSpec(
        name="flood_prone_areas",
        title_zh="山洪及易涝区",
        title_en="Flood-prone areas",
        geometry_type="MultiPolygon",
        group="hazard",
        description="Flash-flood-prone areas (山洪灾害易发区), waterlogging areas and flood-detention areas.",
        header_nouns=("易发区", "易涝区", "区域"),
        fields=(
            _name(),
            FieldSpec("kind", "str", "类型", required=True, enum=FLOOD_AREA_KINDS, aliases=("类型",),
                      synonyms=(("山洪易发区", "山洪灾害易发区"), ("山洪灾害危险区", "山洪灾害易发区"),
                                ("易涝点", "易涝区"), ("内涝区", "易涝区"), ("蓄滞洪区域", "蓄滞洪区"))),
            FieldSpec("threatened_people", "int", "威胁人数", unit="人", minimum=0, aliases=("威胁人数", "影响人口")),
            _county(),
        ),
        style=LayerStyle(color="#0868ac", fill_color="#7bccc4", radius=0, icon="water", glyph="洪", shape="polygon",
                         color_by="kind", class_colors=tuple(zip(FLOOD_AREA_KINDS, ("#41b6c4", "#2c7fb8", "#253494"), strict=True))),
    )
)

_register(
    LayerSpec(
        name="roads",
        title_zh="道路",
        title_en="Roads",
        geometry_type="LineString",
        group="base",
        description="Road edges: class, travel speed and direction of travel.",
        header_nouns=("道路", "路段", "公路"),
        fields=(
            _name(required=False),
            FieldSpec("road_class", "str", "道路等级", required=True, enum=ROAD_CLASSES,
                      aliases=("道路等级", "等级", "class", "技术等级", "行政等级"), synonyms=ROAD_CLASS_SYNONYMS),
            FieldSpec("speed_kmh", "float", "设计速度", unit="km/h", minimum=1, maximum=150,
                      aliases=("设计速度", "速度", "限速", "speed", "maxspeed", "设计时速", "车速"),
                      plausible=(None, 130.0, "above 130 km/h, China's motorway limit: is the column's unit right?"),
                      description="This edge's own travel speed; empty = its class's speed (settings, else the default)."),
            FieldSpec("oneway", "bool", "单行", aliases=("单行", "单向", "oneway", "是否单行", "是否单向", "单行道"),
                      description="True: travel only in the direction the line is drawn."),
            FieldSpec("length_m", "float", "长度", unit="m", minimum=0, derived=True, declared_by="declared_length_m",
                      description="Computed from the geometry in the work CRS."),
            FieldSpec("declared_length_m", "float", "台账长度", unit="m", minimum=0,
                      aliases=("长度", "里程", "路段长度", "路线长度", "道路长度"),
                      description="The ledger's own length of the edge; when given, travel times use it (and the import warns where it differs from the geometry by more than 20 %)."),
        ),
        style=LayerStyle(color="#999999", radius=0, icon="road"),
    )
)

_register(
    LayerSpec(
        name="population",
        title_zh="人口网格",
        title_en="Population grid",
        geometry_type="Polygon",
        group="base",
        description=(
            "Resident population as grid cells (square polygons) with a head count. A GeoTIFF "
            "population raster (e.g. WorldPop) is imported cell by cell."
        ),
        source_id_aliases=("source_id", "cell_id", "网格编号", *_COMMON_ID_ALIASES),
        fields=(
            FieldSpec("persons", "float", "人口", unit="人", required=True, minimum=0,
                      aliases=("人口", "人数", "population", "pop")),
            FieldSpec("cell_size_m", "float", "网格边长", unit="m", minimum=0, aliases=("网格边长",)),
        ),
        style=LayerStyle(color="#fdae6b", fill_color="#e6550d", radius=0, icon="users"),
    )
)

_register(
    LayerSpec(
        name="risk_zones",
        title_zh="风险分区",
        title_en="Risk zones",
        geometry_type="MultiPolygon",
        group="analysis",
        description="The four risk levels as dissolved polygons, written by onemap risk (one row per level and grid size).",
        fields=(
            FieldSpec("level", "str", "风险等级", required=True, enum=RISK_LEVELS, aliases=("风险等级", "等级")),
            FieldSpec("level_code", "int", "等级代码", required=True, minimum=1, maximum=4, aliases=("等级代码",),
                      description="1 = 低 blue, 2 = 一般 yellow, 3 = 较大 orange, 4 = 重大 red."),
            FieldSpec("area_km2", "float", "面积", unit="km²", minimum=0, aliases=("面积",)),
            FieldSpec("resolution_m", "float", "网格边长", unit="m", minimum=0, aliases=("网格边长",)),
        ),
        style=LayerStyle(color="#FF0000", fill_color="#FF0000", radius=0, icon="warning"),
    )
)

_register(
    LayerSpec(
        name="incidents",
        title_zh="突发事件",
        title_en="Incidents",
        geometry_type="Point",
        group="operations",
        written_by_users=True,
        description="Incidents placed by command staff: kind, time and status.",
        fields=(
            _name(),
            FieldSpec("kind", "str", "事件类型", required=True, enum=INCIDENT_KINDS, aliases=("事件类型", "类型")),
            FieldSpec("occurred_at", "datetime", "发生时间", aliases=("发生时间", "时间")),
            FieldSpec("status", "str", "状态", required=True, enum=INCIDENT_STATUSES, aliases=("状态",)),
            FieldSpec("description", "str", "描述", aliases=("描述", "说明")),
        ),
        style=LayerStyle(color="#d7191c", fill_color="#d7191c", radius=10, icon="fire", glyph="事", color_by="status",
                         class_colors=tuple(zip(INCIDENT_STATUSES, ("#d7191c", "#ff7f00", "#8c8c8c"), strict=True))),
    )
)


_register(
    LayerSpec(
        name="water_bodies",
        title_zh="水系",
        title_en="Water bodies",
        geometry_type="MultiPolygon",
        group="base",
        description="Lakes, reservoirs' water surfaces and wide rivers, drawn in the offline basemap.",
        fields=(
            _name(),
            FieldSpec("kind", "str", "类型", required=True, enum=WATER_KINDS, aliases=("类型", "水体类型")),
            FieldSpec("area_km2", "float", "面积", unit="km²", minimum=0, derived=True,
                      description="Computed from the geometry in the work CRS."),
        ),
        style=LayerStyle(color="#6baed6", fill_color="#c6dbef", radius=0, icon="water"),
    )
)

_register(
    LayerSpec(
        name="road_closures",
        title_zh="道路封闭",
        title_en="Road closures",
        geometry_type="MultiPolygon",
        group="operations",
        written_by_users=True,
        description="Areas where roads are cut (flood, collapse, control), drawn by command staff; routing avoids active ones.",
        fields=(
            _name(),
            FieldSpec("cause", "str", "原因", required=True, enum=CLOSURE_CAUSES, aliases=("原因", "封闭原因")),
            FieldSpec("status", "str", "状态", required=True, enum=CLOSURE_STATUSES, aliases=("状态",)),
            FieldSpec("created_at", "datetime", "封闭时间", aliases=("封闭时间", "时间")),
            FieldSpec("lifted_at", "datetime", "解除时间", aliases=("解除时间",)),
        ),
        style=LayerStyle(color="#08519c", fill_color="#6baed6", radius=0, icon="ban", glyph="封", shape="polygon"),
    )
)

_register(
    LayerSpec(
        name="monitoring_stations",
        title_zh="监测站点",
        title_en="Monitoring stations",
        geometry_type="Point",
        group="hazard",
        description="Water-level gauges (水位: reservoirs and rivers) and rain gauges (雨量), with their "
                    "characteristic levels; their readings go to the observations table.",
        header_nouns=("测站", "站点", "站"),
        fields=(
            _name(),
            FieldSpec("kind", "str", "站类", required=True, enum=STATION_KINDS, aliases=("站类", "类型", "监测类型"),
                      synonyms=(("水位站", "水位"), ("雨量站", "雨量"), ("水文站", "水位"))),
            FieldSpec("reservoir_id", "str", "所属水库编号", aliases=("水库编号", "所属水库")),
            FieldSpec("river", "str", "河流", aliases=("河流", "河名", "所在河流")),
            FieldSpec("unit", "str", "单位", required=True, enum=("m", "mm"), aliases=("单位", "计量单位"),
                      synonyms=(("米", "m"), ("毫米", "mm"))),
            FieldSpec("flood_limit_level_m", "float", "汛限水位", unit="m", aliases=("汛限水位",)),
            FieldSpec("warning_level_m", "float", "警戒水位", unit="m", aliases=("警戒水位",)),
            FieldSpec("guaranteed_level_m", "float", "保证水位", unit="m", aliases=("保证水位",)),
            FieldSpec("design_flood_level_m", "float", "设计洪水位", unit="m", aliases=("设计洪水位",)),
            FieldSpec("status", "str", "状态", enum=STATION_STATUSES, aliases=("状态", "运行状态")),
            FieldSpec("last_seen_at", "datetime", "最后上报时间", aliases=("最后上报时间",)),
            _county(),
        ),
        style=LayerStyle(color="#1b7837", fill_color="#5aae61", radius=6, icon="signal", glyph="测", shape="diamond", color_by="kind",
                         class_colors=(("水位", "#2166ac"), ("雨量", "#1b7837"))),
    )
)

_register(
    LayerSpec(
        name="alerts",
        title_zh="预警",
        title_en="Alerts",
        geometry_type="Point",
        group="operations",
        written_by_users=True,
        description="Warnings raised by the monitoring rules at a station, graded 蓝 < 黄 < 橙 < 红, and their "
                    "life: 已发布 → 已确认 → 已解除 (who and when), each step audited.",
        fields=(
            FieldSpec("station_id", "str", "站码", required=True, aliases=("站码",)),
            FieldSpec("rule", "str", "预警类别", required=True, enum=ALERT_RULES, aliases=("预警类别",)),
            FieldSpec("level", "str", "预警级别", required=True, enum=WARNING_LEVELS, aliases=("预警级别", "级别")),
            FieldSpec("status", "str", "状态", required=True, enum=ALERT_STATUSES, aliases=("状态",)),
            FieldSpec("headline", "str", "标题", aliases=("标题",)),
            FieldSpec("value", "float", "观测值", aliases=("观测值",)),
            FieldSpec("threshold", "float", "阈值", aliases=("阈值",)),
            FieldSpec("unit", "str", "单位", aliases=("单位",)),
            FieldSpec("raised_at", "datetime", "发布时间", required=True, aliases=("发布时间",)),
            FieldSpec("changed_at", "datetime", "更新时间", aliases=("更新时间",),
                      description="When this revision was sent (its CAP message's sent)."),
            FieldSpec("previous_changed_at", "datetime", "上一版时间", aliases=("上一版时间",),
                      description="When the revision before this one was sent: its CAP message is the one this replaces."),
            FieldSpec("revision", "int", "版本", minimum=1, aliases=("版本",)),
            FieldSpec("clearable", "bool", "可解除", description="The value is back below its thresholds by the deadband."),
            FieldSpec("acknowledged_by", "str", "确认人", aliases=("确认人",)),
            FieldSpec("acknowledged_at", "datetime", "确认时间", aliases=("确认时间",)),
            FieldSpec("resolved_by", "str", "解除人", aliases=("解除人",)),
            FieldSpec("resolved_at", "datetime", "解除时间", aliases=("解除时间",)),
        ),
        style=LayerStyle(color="#e31a1c", fill_color="#e31a1c", radius=9, icon="bell", glyph="警", color_by="level",
                         class_colors=tuple((level, WARNING_COLOURS[level]) for level in WARNING_LEVELS)),
    )
)

CITY_PROFILE_PARTS = ("outline", "region")
"""The two rows of the city profile: the administrative outline, and the region (the outline
buffered by ``region_buffer_km``) that "inside the city" means."""

_register(
    LayerSpec(
        name="city_profile",
        title_zh="城市范围",
        title_en="City profile",
        geometry_type="MultiPolygon",
        group="base",
        description=(
            "Written by onemap init (and onemap sample): the city's outline and its region (the "
            "outline buffered by region_buffer_km in the work CRS), with the city's name, adcode "
            "and work CRS. Every command and the server take the work CRS and the region from it."
        ),
        source_id_aliases=("source_id", "part"),
        fields=(
            _name(),
            FieldSpec("adcode", "str", "行政区划代码", required=True, aliases=("行政区划代码", "adcode")),
            FieldSpec("part", "str", "部分", required=True, enum=CITY_PROFILE_PARTS, aliases=("部分",),
                      description="outline: the administrative boundary; region: the outline buffered by region_buffer_km."),
            FieldSpec("work_epsg", "int", "工作坐标系 EPSG", required=True, minimum=1024, maximum=32767,
                      description="The CGCS2000 3-degree Gauss-Krüger zone (EPSG:4534-4554) of the outline's centroid."),
            FieldSpec("region_buffer_km", "float", "区域缓冲距离", unit="km", required=True, minimum=0, maximum=100),
            FieldSpec("area_km2", "float", "面积", unit="km²", minimum=0, derived=True,
                      description="Computed from the geometry in the work CRS."),
            FieldSpec("source_file", "str", "边界来源文件", description="The boundary file onemap init read."),
        ),
        style=LayerStyle(color="#d94801", fill_color=None, radius=0, icon="boundary"),
    )
)


def shapefile_field_names(spec: LayerSpec) -> dict[str, str]:
    """Field → a unique name of at most 10 characters, as the .dbf format allows."""
    names: dict[str, str] = {}
    taken = {SOURCE_ID[:10]}
    for f in spec.fields:
        candidate = f.name[:10]
        number = 1
        while candidate in taken:
            suffix = f"_{number}"
            candidate = f.name[: 10 - len(suffix)] + suffix
            number += 1
        taken.add(candidate)
        names[f.name] = candidate
    return names


def get_layer(name: str) -> LayerSpec:
    """The spec of layer ``name``; ``UnknownLayerError`` (listing the known names) otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownLayerError(name, sorted(CATALOGUE)) from None


def layer_names() -> list[str]:
    """All catalogue layer names, in catalogue order."""
    return list(CATALOGUE)
