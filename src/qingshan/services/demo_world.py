"""The demo district's places and people: 青山示范区 (Qingshan Demo District), all synthetic.

Four townships/streets side by side, each cut into three grids, around 106.5°E 29.5°N (a hilly
district of the kind found near Chongqing; no real place is meant). Grid corners form one
lattice whose inner points are shifted a little, so the twelve quadrilaterals tile the district
exactly without looking like a chessboard. Sites lie inside their grid (a point of the
quadrilateral's bilinear patch). Everything here is fixed data, independent of the seed, so the
map is the same in every demo; the seed only changes the time series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DISTRICT = ("500199", "青山示范区（演示）Qingshan Demo District")
"""Administrative code (not assigned to any real district) and name."""

WEST, EAST, SOUTH, NORTH = 106.40, 106.60, 29.42, 29.58
"""The district's bounding box [° WGS-84]."""

TOWNSHIPS = (
    ("500199001", "青峰街道", "street"),
    ("500199002", "白鹭街道", "street"),
    ("500199003", "龙溪镇", "township"),
    ("500199004", "石岭镇", "township"),
)
"""West to east: code, name, kind; each township is one column of the grid lattice."""

ROWS = 3
"""Grids per township (south to north)."""

_JITTER = (
    # (column, row) of an inner lattice point → (Δlongitude, Δlatitude) [°]
    {
        (1, 1): (0.008, -0.006),
        (2, 1): (-0.006, 0.005),
        (3, 1): (0.005, 0.007),
        (1, 2): (-0.007, 0.004),
        (2, 2): (0.006, -0.005),
        (3, 2): (-0.004, -0.006),
    }
)
"""Shifts of the inner lattice points (less than a quarter of a cell, so no quadrilateral
folds over)."""

GRID_PEOPLE = (
    "王建国",
    "李秀英",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄敏",
    "周杰",
    "吴婷",
    "徐强",
    "孙丽",
    "马超",
    "朱红",
    "胡军",
    "郭靖",
    "何芳",
    "林涛",
    "罗娟",
    "高飞",
    "梁雪",
    "宋佳",
    "郑浩",
    "谢琳",
)


@dataclass(frozen=True)
class DemoGrid:
    code: str
    name: str
    township: tuple[str, str, str]
    corners: tuple[tuple[float, float], ...]
    """South-west, south-east, north-east, north-west (longitude, latitude)."""
    responsible: list[dict[str, str]]

    def geojson(self) -> str:
        ring = [[round(x, 6), round(y, 6)] for x, y in (*self.corners, self.corners[0])]
        return json.dumps({"type": "Polygon", "coordinates": [ring]})

    def point(self, u: float, v: float) -> tuple[float, float]:
        """The point at (u, v) ∈ [0, 1]² of the quadrilateral's bilinear patch (inside it)."""
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.corners
        x = (1 - u) * (1 - v) * x0 + u * (1 - v) * x1 + u * v * x2 + (1 - u) * v * x3
        y = (1 - u) * (1 - v) * y0 + u * (1 - v) * y1 + u * v * y2 + (1 - u) * v * y3
        return round(y, 6), round(x, 6)


def _lattice_point(column: int, row: int) -> tuple[float, float]:
    step_x = (EAST - WEST) / len(TOWNSHIPS)
    step_y = (NORTH - SOUTH) / ROWS
    dx, dy = _JITTER.get((column, row), (0.0, 0.0))
    return WEST + column * step_x + dx, SOUTH + row * step_y + dy


def grids() -> list[DemoGrid]:
    """The twelve grids ``G01`` … ``G12`` (column by column, south to north)."""
    found = []
    for column, township in enumerate(TOWNSHIPS):
        for row in range(ROWS):
            number = column * ROWS + row + 1
            corners = (
                _lattice_point(column, row),
                _lattice_point(column + 1, row),
                _lattice_point(column + 1, row + 1),
                _lattice_point(column, row + 1),
            )
            leader, member = GRID_PEOPLE[2 * number - 2], GRID_PEOPLE[2 * number - 1]
            people = [
                {"name": leader, "phone": f"1380000{number:04d}", "duty": "网格长"},
                {"name": member, "phone": f"1390000{number:04d}", "duty": "专职网格员"},
            ]
            found.append(
                DemoGrid(
                    f"G{number:02d}", f"{township[1]}第{row + 1}网格", township, corners, people
                )
            )
    return found


@dataclass(frozen=True)
class DemoSite:
    """A site of the demo and where it lies: grid code and (u, v) inside the grid."""

    code: str
    name: str
    kind: str
    grid: str
    at: tuple[float, float]
    fields: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    """HJ 212 system code (ST) of the site's device; None: no device."""
    operator: str | None = None
    """The enterprise operating the site (source outlets): the name of its owner account."""


def _air() -> list[DemoSite]:
    names = ("青峰", "白鹭湖", "龙溪", "石岭", "火车站", "工业园", "体育中心", "云雾山")
    grids_ = ("G02", "G05", "G08", "G11", "G01", "G10", "G04", "G09")
    return [
        DemoSite(
            f"AIR{index:02d}",
            f"{name}空气自动站",
            "air_station",
            grid,
            (0.45, 0.55),
            {"air_class": "I" if name == "云雾山" else "II"},
            "22",
        )
        for index, (name, grid) in enumerate(zip(names, grids_, strict=True), start=1)
    ]


def _water() -> list[DemoSite]:
    sections = (
        ("青溪河上游", "G09", "river", "II"),
        ("青溪河龙溪桥", "G08", "river", "III"),
        ("青溪河白鹭大桥", "G05", "river", "III"),
        ("青溪河出境", "G02", "river", "III"),
        ("白鹭湖水库坝前", "G06", "reservoir", "II"),
        ("白鹭湖水库库心", "G06", "reservoir", "II"),
    )
    return [
        DemoSite(
            f"WAT{index:02d}",
            f"{name}断面",
            "water_section",
            grid,
            (0.2 + 0.1 * index, 0.35),
            {
                "waterbody_type": body,
                "water_target_class": target,
                "reporting_interval_minutes": 240,
            },
            "21",
        )
        for index, (name, grid, body, target) in enumerate(sections, start=1)
    ]


def _noise() -> list[DemoSite]:
    points = (
        ("青峰小学", "G03", "1"),
        ("白鹭社区", "G04", "1"),
        ("人民医院", "G01", "1"),
        ("步行街", "G05", "2"),
        ("龙溪场镇", "G07", "2"),
        ("石岭场镇", "G12", "2"),
        ("工业园东区", "G10", "3"),
        ("物流园", "G11", "3"),
        ("迎宾大道", "G02", "4a"),
        ("滨江路", "G06", "4a"),
    )
    return [
        DemoSite(
            f"NOI{index:02d}",
            f"{name}噪声监测点",
            "noise_point",
            grid,
            (0.6, 0.3),
            {"noise_zone": zone},
        )
        for index, (name, grid, zone) in enumerate(points, start=1)
    ]


STACK_LIMITS = {
    "flue_so2": {"limit": 50.0, "unit": "mg/m³", "period": "hour"},
    "flue_nox": {"limit": 100.0, "unit": "mg/m³", "period": "hour"},
    "flue_dust": {"limit": 10.0, "unit": "mg/m³", "period": "hour"},
}
"""Illustrative permit limits of a gas-fired boiler (GB 13271—2014 Table 2 gas boilers:
SO2 50, NOx 200 (tightened to 100 by the demo's permit), particulates 20 (10 here))."""

OUTFALL_LIMITS = {
    "cod": {"limit": 50.0, "unit": "mg/L", "period": "hour"},
    "nh3n": {"limit": 5.0, "unit": "mg/L", "period": "hour"},
}
"""Illustrative permit limits of a wastewater outlet (GB 18918—2002 Table 1 class 1A: COD 50,
NH3-N 5 mg/L)."""

ENTERPRISES = (
    "青峰热电有限公司",
    "白鹭陶瓷有限公司",
    "龙溪化工有限公司",
    "石岭水泥有限公司",
    "示范钢构有限公司",
    "云雾食品有限公司",
    "青溪造纸有限公司",
    "工业园集中供热站",
    "示范制药有限公司",
)
TREATMENT_PLANTS = (
    "青峰污水处理厂",
    "白鹭污水处理厂",
    "龙溪污水处理厂",
    "石岭污水处理厂",
    "工业园污水处理厂",
    "示范印染有限公司",
)


def _outlets() -> list[DemoSite]:
    stack_grids = ("G10", "G11", "G10", "G12", "G11", "G07", "G08", "G10", "G12")
    outfall_grids = ("G01", "G05", "G07", "G12", "G10", "G11")
    stacks = [
        DemoSite(
            f"SRC{index:02d}",
            f"{name} 1#废气排口",
            "source_outlet",
            grid,
            (0.25 + 0.06 * index, 0.7),
            {"permit_limits": STACK_LIMITS},
            "31",
            name,
        )
        for index, (name, grid) in enumerate(zip(ENTERPRISES, stack_grids, strict=True), start=1)
    ]
    outfalls = [
        DemoSite(
            f"SRC{index:02d}",
            f"{name} 总排口",
            "source_outlet",
            grid,
            (0.75, 0.2 + 0.05 * index),
            {"permit_limits": OUTFALL_LIMITS},
            "32",
            name,
        )
        for index, (name, grid) in enumerate(
            zip(TREATMENT_PLANTS, outfall_grids, strict=True), start=len(stacks) + 1
        )
    ]
    return stacks + outfalls


METERS = (
    ("EM01", "青峰热电有限公司 总电表", "G10", ("electricity", "natural_gas")),
    ("EM02", "白鹭陶瓷有限公司 总电表", "G11", ("electricity", "natural_gas")),
    ("EM03", "石岭水泥有限公司 总电表", "G12", ("electricity",)),
    ("EM04", "区政府办公楼", "G02", ("electricity", "natural_gas")),
    ("EM05", "人民医院", "G01", ("electricity",)),
    ("EM06", "体育中心", "G04", ("electricity",)),
)
"""Energy meters: code, name, grid and the parameters they report (hourly)."""


def _meters() -> list[DemoSite]:
    return [
        DemoSite(code, name, "energy_meter", grid, (0.5, 0.5)) for code, name, grid, _ in METERS
    ]


def sites() -> list[DemoSite]:
    """Every demo site: 8 air stations, 6 water sections, 10 noise points, 15 outlets and 6
    energy meters."""
    return _air() + _water() + _noise() + _outlets() + _meters()


def device_mn(index: int) -> str:
    """A 24-character MN (HJ 212—2017 表 3) for demo device ``index``."""
    return f"QSDEMO{index:018d}"


def device_password(index: int) -> str:
    """The demo devices' access passwords (PW): fixed, so that a capture can be replayed."""
    return f"qs{index:04d}"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    display_name: str
    grids: tuple[str, ...] = ()


def users() -> list[DemoUser]:
    """One account per role (two analysts: a case is reviewed by someone other than its closer;
    ``gateway`` is a device account that posts readings over HTTP) and one grid officer per
    township, answering for its three grids."""
    people = [
        DemoUser("admin", "admin-demo", "admin", "系统管理员"),
        DemoUser("analyst", "analyst-demo", "analyst", "监测科 陈工"),
        DemoUser("reviewer", "reviewer-demo", "analyst", "执法支队 李队"),
        DemoUser("enterprise", "enterprise-demo", "enterprise", ENTERPRISES[0]),
        DemoUser("gateway", "gateway-demo", "device", "数据网关（HTTP 上报）"),
    ]
    for column, (_, name, _) in enumerate(TOWNSHIPS):
        codes = tuple(f"G{column * ROWS + row + 1:02d}" for row in range(ROWS))
        people.append(
            DemoUser(f"officer{column + 1}", "officer-demo", "grid_officer", f"{name}网格员", codes)
        )
    return people
