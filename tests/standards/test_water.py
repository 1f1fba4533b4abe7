"""Surface water: GB 3838—2002 Table 1 and 《地表水环境质量评价办法(试行)》 (环办[2011]22号).

The expected values are transcribed here from the standard's Table 1 and the method's rules
(independently of ``gb3838.toml``), each test citing its clause.
"""

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.standards import water

# GB 3838—2002 Table 1, Classes Ⅰ–Ⅴ ("≤" items), transcribed from the standard.
TABLE_1_UPPER = {
    "codmn": [2, 4, 6, 10, 15],
    "cod": [15, 15, 20, 30, 40],
    "bod5": [3, 3, 4, 6, 10],
    "nh3n": [0.15, 0.5, 1.0, 1.5, 2.0],
    "tp": [0.02, 0.1, 0.2, 0.3, 0.4],
    "cu": [0.01, 1.0, 1.0, 1.0, 1.0],
    "zn": [0.05, 1.0, 1.0, 2.0, 2.0],
    "fluoride": [1.0, 1.0, 1.0, 1.5, 1.5],
    "se": [0.01, 0.01, 0.01, 0.02, 0.02],
    "as": [0.05, 0.05, 0.05, 0.1, 0.1],
    "hg": [0.00005, 0.00005, 0.0001, 0.001, 0.001],
    "cd": [0.001, 0.005, 0.005, 0.005, 0.01],
    "cr6": [0.01, 0.05, 0.05, 0.05, 0.1],
    "pb": [0.01, 0.01, 0.05, 0.05, 0.1],
    "cyanide": [0.005, 0.05, 0.2, 0.2, 0.2],
    "phenol": [0.002, 0.002, 0.005, 0.01, 0.1],
    "petroleum": [0.05, 0.05, 0.05, 0.5, 1.0],
    "las": [0.2, 0.2, 0.2, 0.3, 0.3],
    "sulfide": [0.05, 0.1, 0.2, 0.5, 1.0],
    "fecal_coliform": [200, 2000, 10000, 20000, 40000],
}
TP_LAKES = [0.01, 0.025, 0.05, 0.1, 0.2]
TN_LAKES = [0.2, 0.5, 1.0, 1.5, 2.0]
DO_LOWER = [7.5, 6, 5, 3, 2]

# Decimal places of the evaluation value (2020 statistics rules, via the reference notes §2.3).
DECIMALS = {
    "codmn": 1,
    "cod": 1,
    "bod5": 1,
    "nh3n": 2,
    "tp": 3,
    "tn": 2,
    "cu": 3,
    "zn": 3,
    "fluoride": 3,
    "se": 4,
    "as": 4,
    "hg": 5,
    "cd": 5,
    "cr6": 3,
    "pb": 3,
    "cyanide": 3,
    "phenol": 4,
    "petroleum": 2,
    "las": 2,
    "sulfide": 3,
    "fecal_coliform": 0,
    "do": 1,
}


def classes(key, values, lake=None):
    return water.item_class(key, np.array(values, dtype=float), lake).tolist()


# --------------------------------------------------------------------------------------------
# Table 1 and the per-item class
# --------------------------------------------------------------------------------------------


def test_table_1_has_24_items_in_order():
    """GB 3838—2002 Table 1 lists 24 basic items; the method evaluates 21 (all but 水温, 总氮,
    粪大肠菌群)."""
    assert len(water.ITEMS) == 24
    assert water.ITEMS[:3] == ("water_temp", "ph", "do")
    assert water.ITEMS[-1] == "fecal_coliform"
    assert len(water.EVALUATION_ITEMS) == 21
    assert set(water.ITEMS) - set(water.EVALUATION_ITEMS) == {"water_temp", "tn", "fecal_coliform"}


@pytest.mark.parametrize("key", sorted(TABLE_1_UPPER))
def test_value_exactly_at_each_limit_is_that_class(key):
    """Table 1 "≤": a value equal to the class-k limit meets class k; where classes share a
    limit the value takes the best of them (COD 15 → Ⅰ)."""
    limits = TABLE_1_UPPER[key]
    expected = [limits.index(limit) + 1 for limit in limits]
    assert classes(key, limits) == expected


@pytest.mark.parametrize("key", sorted(TABLE_1_UPPER))
def test_one_step_above_a_limit_is_the_next_worse_class(key):
    """One unit of the last evaluated decimal above the class-k limit fails class k; above
    the Class Ⅴ limit is 劣Ⅴ (class 6)."""
    limits = TABLE_1_UPPER[key]
    step = 10.0 ** -DECIMALS[key]
    above = [limit + step for limit in limits]
    expected = [next((j + 1 for j, lim in enumerate(limits) if v <= lim + 1e-12), 6) for v in above]
    assert classes(key, above) == expected
    assert classes(key, [limits[-1] + step]) == [6]


def test_dissolved_oxygen_is_a_lower_bound():
    """Table 1 item 3: DO ≥ 7.5 (Ⅰ, the "or 7.5" branch), 6, 5, 3, 2; below 2 → 劣Ⅴ."""
    assert classes("do", [*DO_LOWER, 1.9, 7.4, 12.0]) == [1, 2, 3, 4, 5, 6, 2, 1]


def test_ph_range_6_to_9_for_every_class():
    """Table 1 item 2: pH 6～9 in every class; outside the range → 劣Ⅴ."""
    assert classes("ph", [6, 7.5, 9, 5, 10, 0, 14]) == [1, 1, 1, 6, 6, 6, 6]


def test_ph_is_evaluated_as_an_integer():
    """2020 statistics rules (notes §2.3): pH is kept to 0 decimals, rounded half to even,
    before it is compared with 6–9: 5.5 → 6 meets, 9.5 → 10 does not, 9.4 → 9 meets."""
    assert classes("ph", [5.4, 5.5, 9.4, 9.5]) == [6, 1, 1, 6]


def test_total_phosphorus_lakes_use_the_bracketed_row():
    """Table 1 item 8: rivers 0.02/0.1/0.2/0.3/0.4; lakes and reservoirs (湖、库)
    0.01/0.025/0.05/0.1/0.2."""
    values = [0.05, 0.2, 0.025, 0.3, 0.4]
    assert classes("tp", values, lake=False) == [2, 3, 2, 4, 5]
    assert classes("tp", values, lake=True) == [3, 5, 2, 6, 6]
    assert classes("tp", TP_LAKES, lake=True) == [1, 2, 3, 4, 5]


def test_total_nitrogen_has_limits_for_lakes_only():
    """Table 1 item 9 is headed "总氮（湖、库，以N计）": a river's TN gets no class."""
    assert classes("tn", TN_LAKES, lake=True) == [1, 2, 3, 4, 5]
    assert classes("tn", [*TN_LAKES, 2.01], lake=True) == [1, 2, 3, 4, 5, 6]
    assert classes("tn", [0.1, 5.0], lake=False) == [0, 0]


def test_water_temperature_and_missing_values_have_no_class():
    """Table 1 item 1 limits man-made change only; a missing value is not evaluated."""
    assert classes("water_temp", [25.0, 2.0]) == [0, 0]
    assert classes("codmn", [np.nan]) == [0]


def test_values_are_rounded_half_even_before_comparison():
    """GB/T 8170 §3.3 (四舍六入五成双) to the method's decimals: NH3-N 1.005 → 1.00 (Ⅲ),
    1.015 → 1.02 (Ⅳ); CODMn 6.05 → 6.0 (Ⅲ), 6.15 → 6.2 (Ⅳ)."""
    assert classes("nh3n", [1.004, 1.005, 1.015, 1.006]) == [3, 3, 4, 4]
    assert classes("codmn", [6.05, 6.15, 6.04]) == [3, 4, 3]
    assert water.evaluation_value("tp", [0.0035, 0.0045, 0.0034]).tolist() == [0.004, 0.004, 0.003]


def test_a_tiny_positive_value_keeps_its_first_significant_digit():
    """Half a detection limit below the last decimal (Hg 0.00001L → 0.000005) stays visible."""
    assert water.evaluation_value("hg", [0.000005, 0.0]).tolist() == [0.000005, 0.0]


# --------------------------------------------------------------------------------------------
# Exceedance multiples
# --------------------------------------------------------------------------------------------


def test_exceedance_multiple_of_the_method_example():
    """2011 method: 超标倍数 = (C − C_Ⅲ)/C_Ⅲ; CODMn 13.2 mg/L → (13.2 − 6)/6 = 1.2."""
    assert water.exceedance_multiple("codmn", [13.2]) == pytest.approx([1.2])


def test_exceedance_multiple_against_a_target_class_and_lake_tp():
    """GB 3838—2002 §5.1: the multiple against the target-class limit; lake TP uses the
    lake row (Ⅲ = 0.05 → 0.1 is 1.0 times over, while a river's 0.1 is within Ⅲ)."""
    assert water.exceedance_multiple("codmn", [5.0], against=2) == pytest.approx([0.25])
    assert water.exceedance_multiple("tp", [0.1], lake=True) == pytest.approx([1.0])
    assert water.exceedance_multiple("tp", [0.1], lake=False) == pytest.approx([-0.5])


def test_no_multiple_for_water_temperature_ph_and_do():
    """2011 method: "水温、pH值和溶解氧不计算超标倍数"."""
    for key, value in (("ph", 10.0), ("do", 1.0), ("water_temp", 30.0)):
        assert np.isnan(water.exceedance_multiple(key, [value])).all()


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def evaluate(target=None, lake=None, **values):
    columns = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in values.items()}
    n = len(next(iter(columns.values())))
    targets = None if target is None else np.broadcast_to(np.asarray(target), (n,))
    return water.evaluate_sections(columns, lake, targets)


def test_single_factor_class_is_the_worst_item():
    """2011 method, 断面水质评价: the worst class among the evaluated items; DO 7.5 (Ⅰ),
    NH3-N 0.5 (Ⅱ), CODMn 20 (劣Ⅴ) → 劣Ⅴ."""
    result = evaluate(do=7.5, nh3n=0.5, codmn=20)
    assert water.class_label(result.section_class).tolist() == ["劣V"]


def test_reference_items_do_not_enter_the_section_class():
    """2011 method, 评价指标: water temperature, TN and fecal coliforms are reference items,
    evaluated separately; TN of a lake is still classed on its own."""
    result = evaluate(lake=True, do=8, codmn=2, tn=5.0, fecal_coliform=50000, water_temp=30)
    assert water.class_label(result.section_class).tolist() == ["I"]
    assert result.reference_classes.tolist() == ["tn:劣V;fecal_coliform:劣V"]
    assert result.main_pollutants.tolist() == [None]


@pytest.mark.parametrize(
    ("codmn", "label", "status", "color"),
    [
        (2, "I", "优", "#5AB1EF"),
        (4, "II", "优", "#5AB1EF"),
        (6, "III", "良好", "#42CC70"),
        (10, "IV", "轻度污染", "#E8DD3E"),
        (15, "V", "中度污染", "#F5A524"),
        (16, "劣V", "重度污染", "#ED5466"),
    ],
)
def test_status_and_colour_of_each_class(codmn, label, status, color):
    """2011 method Table 1: Ⅰ–Ⅱ 优 (blue), Ⅲ 良好 (green), Ⅳ 轻度污染 (yellow), Ⅴ 中度污染
    (orange), 劣Ⅴ 重度污染 (red)."""
    result = evaluate(codmn=codmn)
    assert water.class_label(result.section_class).tolist() == [label]
    assert water.status_field(result.grade, "name").tolist() == [status]
    assert water.status_field(result.grade, "color").tolist() == [color]


def test_no_main_pollutants_for_excellent_or_good():
    """2011 method: "水质为优或良好时，不评价主要污染指标"."""
    assert evaluate(codmn=6, nh3n=1.0, tp=0.2).main_pollutants.tolist() == [None]


def test_main_pollutants_worst_class_first_then_multiple_at_most_three():
    """2011 method: worst classes first, ties by the multiple against Class Ⅲ, top three.
    NH3-N 3.0 (劣Ⅴ, 2.0), TP 0.5 (劣Ⅴ, 1.5), CODMn 12 (Ⅴ, 1.0), BOD5 9 (Ⅴ, 1.25),
    COD 25 (Ⅳ): NH3-N, TP, BOD5."""
    result = evaluate(nh3n=3.0, tp=0.5, codmn=12, bod5=9, cod=25)
    assert result.main_pollutants.tolist() == ["nh3n;tp;bod5"]


def test_do_ranks_after_items_with_a_multiple_in_the_same_class():
    """DO has no multiple (2011 method); within its class it follows items that have one
    (Qingshan's choice, docs/water.md). DO 1.0 and NH3-N 2.5 are both 劣Ⅴ."""
    result = evaluate(do=1.0, nh3n=2.5, codmn=12)
    assert result.main_pollutants.tolist() == ["nh3n;do;codmn"]
    worse_do = evaluate(do=1.0, nh3n=1.8)
    assert worse_do.main_pollutants.tolist() == ["do;nh3n"]


def test_cyanide_and_heavy_metals_are_listed_first():
    """2011 method: "氰化物或铅、铬等重金属超标时，优先作为主要污染指标". Pb 0.06 (Ⅴ) comes
    before the worse NH3-N and TP (劣Ⅴ). Cyanide 0.21 (劣Ⅴ, the Ⅳ and Ⅴ limits are 0.2) and
    Cd 0.006 (Ⅴ) rank by class among themselves and leave one place."""
    assert evaluate(nh3n=3.0, tp=0.5, codmn=12, pb=0.06).main_pollutants.tolist() == ["pb;nh3n;tp"]
    assert evaluate(nh3n=3.0, tp=0.5, cyanide=0.21, cd=0.006).main_pollutants.tolist() == [
        "cyanide;cd;nh3n"
    ]


def test_all_exceeding_priority_items_are_listed_even_beyond_three():
    """Notes §2.5 recommendation: list every exceeding priority item, then fill up to three."""
    result = evaluate(hg=0.002, cd=0.02, pb=0.2, cr6=0.2, nh3n=5.0)
    assert result.main_pollutants.tolist() == ["hg;cd;cr6;pb"]


def test_priority_metal_within_class_iii_is_not_listed():
    """Only items worse than Class Ⅲ are main pollutants: Pb 0.05 is Class Ⅲ."""
    assert evaluate(pb=0.05, codmn=12).main_pollutants.tolist() == ["codmn"]


def test_compliance_against_the_target_class_with_target_multiples():
    """GB 3838—2002 §5.1: compare with the target class; exceeding items with the multiple
    against the target limit: CODMn 5 vs Ⅱ (4) → 0.25, shown half-even as 0.2; DO 5.5 < 6
    has no multiple."""
    result = evaluate(target=2, codmn=5.0, do=5.5, nh3n=0.3)
    assert result.meets_target.tolist() == ["no"]
    assert result.exceedance.tolist() == ["do;codmn:0.2"]
    met = evaluate(target=3, codmn=5.0, do=5.5, nh3n=0.3)
    assert met.meets_target.tolist() == ["yes"]
    assert met.exceedance.tolist() == [None]


def test_without_target_exceedance_is_against_class_iii():
    """2011 method: status and multiples against Class Ⅲ; meets_target is empty."""
    result = evaluate(codmn=13.2, tp=0.1)
    assert result.meets_target.tolist() == [None]
    assert result.exceedance.tolist() == ["codmn:1.2"]


def test_lake_and_river_with_the_same_tp():
    """TP 0.1: a river is Class Ⅱ (优); a lake Class Ⅳ (轻度污染) with TP its main pollutant."""
    result = evaluate(lake=[False, True], tp=[0.1, 0.1], do=[8, 8])
    assert water.class_label(result.section_class).tolist() == ["II", "IV"]
    assert result.main_pollutants.tolist() == [None, "tp"]


# --------------------------------------------------------------------------------------------
# Trophic state
# --------------------------------------------------------------------------------------------


def test_tli_weights_from_the_correlations():
    """总站生字[2001]090号: W_j = r_ij²/Σ r_ij², Σ r² = 3.7558; chla 0.2663, TP 0.1879,
    TN 0.1790, SD 0.1834, CODMn 0.1834 (notes §2.7)."""
    r = {"chla": 1, "tp": 0.84, "tn": 0.82, "sd": -0.83, "codmn": 0.83}
    total = sum(v * v for v in r.values())
    assert total == pytest.approx(3.7558)
    weights = [round(v * v / total, 4) for v in r.values()]
    assert weights == [0.2663, 0.1879, 0.1790, 0.1834, 0.1834]


def _concentration_for(a, b, index):
    """C such that TLI(j) = 10·(a + b·ln C) equals ``index``."""
    return math.exp((index / 10 - a) / b)


def test_tli_of_parameters_each_at_50_is_50_and_mesotrophic():
    """TLI(j) formulas (notes §2.7): if every TLI(j) is 50, TLI(Σ) = 50 (weights sum to 1),
    which is 中营养 (30 ≤ TLI ≤ 50, upper end inclusive)."""
    chla = _concentration_for(2.5, 1.086, 50)
    tp = _concentration_for(9.436, 1.624, 50)
    tn = _concentration_for(5.453, 1.694, 50)
    sd = _concentration_for(5.118, -1.94, 50)
    codmn = _concentration_for(0.109, 2.661, 50)
    assert water.tli(chla, tp, tn, sd, codmn) == pytest.approx(50.0)


def test_tli_of_typical_lake_values():
    """chla 10 mg/m³, TP 0.05, TN 1.0, SD 1.0 m, CODMn 4 mg/L, by the formulas by hand."""
    w = np.array([1, 0.84**2, 0.82**2, 0.83**2, 0.83**2]) / 3.7558
    parts = 10 * np.array(
        [
            2.5 + 1.086 * math.log(10),
            9.436 + 1.624 * math.log(0.05),
            5.453 + 1.694 * math.log(1.0),
            5.118 - 1.94 * math.log(1.0),
            0.109 + 2.661 * math.log(4),
        ]
    )
    assert water.tli(10, 0.05, 1.0, 1.0, 4) == pytest.approx(float(w @ parts))
    assert np.isnan(water.tli(0, 0.05, 1.0, 1.0, 4))


def test_trophic_state_boundaries():
    """2011 method Table 3: < 30 贫营养; 30–50 中营养; (50, 60] 轻度; (60, 70] 中度; > 70 重度."""
    values = [29.9, 30, 50, 50.1, 60, 60.1, 70, 70.1, np.nan]
    names = water.trophic_field(water.trophic_state(values), "name").tolist()
    assert names == [
        "贫营养",
        "中营养",
        "中营养",
        "轻度富营养",
        "轻度富营养",
        "中度富营养",
        "中度富营养",
        "重度富营养",
        None,
    ]


def test_lakes_get_a_rounded_tli_and_rivers_none():
    result = evaluate(
        lake=[True, False],
        chla=[10, 10],
        tp=[0.05, 0.05],
        tn=[1.0, 1.0],
        sd=[1.0, 1.0],
        codmn=[4, 4],
    )
    assert result.tli[0] == round(float(water.tli(10, 0.05, 1.0, 1.0, 4)), 1)
    assert np.isnan(result.tli[1])
    assert water.trophic_field(result.trophic_state, "name").tolist() == ["中营养", None]


# --------------------------------------------------------------------------------------------
# Rivers and basins
# --------------------------------------------------------------------------------------------


def test_proportion_method_from_five_sections():
    """2011 method: fewer than 5 sections → mean; 5 or more (含5个) → proportion; lakes →
    mean over points."""
    assert water.uses_proportion_method([4, 5, 12, 8], [False, False, False, True]).tolist() == [
        False,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("n13", "n6", "n", "status"),
    [
        (9, 0, 10, "优"),  # p13 = 90 % exactly
        (17, 0, 19, "良好"),  # 89.5 %
        (15, 0, 20, "良好"),  # 75 % exactly
        (14, 3, 20, "轻度污染"),  # 70 %, p6 15 %
        (14, 4, 20, "中度污染"),  # p6 = 20 % exactly
        (10, 7, 20, "中度污染"),  # p6 35 %
        (12, 8, 20, "重度污染"),  # p13 60 %, p6 40 %
        (3, 2, 5, "重度污染"),  # 3-of-5: 60 % / 40 %, the case the sources disagree on
        (0, 5, 5, "重度污染"),
    ],
)
def test_basin_grading_table_2(n13, n6, n, status):
    """2011 method Table 2; p6 ≥ 40 % → 重度污染 (notes §2.6 recommendation)."""
    grade = water.basin_grade([n13], [n6], [n])
    assert water.status_field(grade, "name").tolist() == [status]


def test_basin_main_pollutants_by_section_exceedance_rate():
    """2011 method: items worse than Ⅲ ranked by 断面超标率; top three; ties in Table 1 order.
    Five sections: CODMn exceeds in 3, NH3-N in 2, TP in 2, Pb in 1."""
    cls = {
        "codmn": np.array([4, 4, 5, 2, 2]),
        "nh3n": np.array([4, 6, 1, 1, 1]),
        "tp": np.array([1, 1, 1, 4, 5]),
        "pb": np.array([1, 1, 1, 1, 4]),
    }
    main, rates = water.basin_main_pollutants(cls, np.zeros(5, int), 1)
    assert main.tolist() == ["codmn;nh3n;tp"]
    assert rates.tolist() == ["codmn:60.0%;nh3n:40.0%;tp:40.0%;pb:20.0%"]


# --------------------------------------------------------------------------------------------
# Periods and trends
# --------------------------------------------------------------------------------------------


def test_ph_mean_through_hydrogen_ions():
    """2020 statistics rules via notes §2.3 (S19 vector): mean of 6.5, 7.9, 8.8, 9, 6.78,
    8.87 is 7.08."""
    frame = pl.DataFrame({"s": ["a"] * 6, "ph": [6.5, 7.9, 8.8, 9, 6.78, 8.87]})
    mean = water.group_means(frame, ["s"], ["ph"])["ph"][0]
    assert round(mean, 2) == 7.08
    assert mean == pytest.approx(-math.log10(np.mean(10 ** -np.array(frame["ph"]))))


def test_quarter_is_the_mean_of_monthly_values():
    """2011 method, 数据统计: quarterly value = mean of the monthly values; a month with two
    samples counts once (January 2 and 4 → 3; with February 6 → 4.5, not 4)."""
    from datetime import datetime

    frame = pl.DataFrame(
        {
            "s": ["a"] * 3,
            "time": [datetime(2024, 1, 5), datetime(2024, 1, 20), datetime(2024, 2, 5)],
            "codmn": [2.0, 4.0, 6.0],
        }
    )
    quarter = water.period_means(frame, ["s"], ["codmn"], "quarter")
    assert quarter["codmn"].to_list() == [4.5]
    assert quarter["period"].to_list() == ["2024-Q1"]
    assert quarter["samples"].to_list() == [3]
    months = water.period_means(frame, ["s"], ["codmn"], "month")
    assert months["codmn"].to_list() == [3.0, 6.0]


def test_grade_trend():
    """2011 method, 变化趋势: same grade 无明显变化; one grade 有所好转/变差; two or more 明显."""
    labels = water.grade_trend([1, 2, 2, 4, 5, 0], [1, 3, 1, 2, 1, 3]).tolist()
    assert labels == ["无明显变化", "有所变差", "有所好转", "明显好转", "明显好转", None]


def test_proportion_trend_delta_g_minus_delta_d():
    """2011 method: ΔG − ΔD > 0 better; |ΔG − ΔD| ≤ 10 no clear change, ≤ 20 some, > 20 clear.
    G 60 → 75, D 20 → 10: ΔG − ΔD = 15 + 10 = 25 → 明显好转."""
    delta, labels = water.proportion_trend(
        ([60, 60, 80, 50], [75, 65, 70, 50]), ([20, 20, 0, 10], [10, 20, 5, 30])
    )
    assert delta.tolist() == [25.0, 5.0, -15.0, -20.0]
    assert labels.tolist() == ["明显好转", "无明显变化", "有所变差", "有所变差"]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

upper_items = st.sampled_from(sorted(TABLE_1_UPPER))
concentrations = st.floats(min_value=0, max_value=1000, allow_nan=False)


@given(upper_items, concentrations, concentrations, st.booleans())
def test_a_worse_concentration_never_gives_a_better_class(key, a, b, lake):
    """Monotone "≤" items: a higher concentration never has a lower (better) class."""
    low, high = sorted((a, b))
    assert classes(key, [low], lake)[0] <= classes(key, [high], lake)[0]


@given(concentrations, concentrations)
def test_less_oxygen_never_gives_a_better_class(a, b):
    low, high = sorted((a, b))
    assert classes("do", [low])[0] >= classes("do", [high])[0]


@given(upper_items, concentrations)
def test_class_is_consistent_with_its_limits(key, value):
    """The evaluation value is within its class's limit and above the next better class's."""
    cls = classes(key, [value])[0]
    shown = water.evaluation_value(key, [value])[0]
    limits = TABLE_1_UPPER[key]
    if cls <= 5:
        assert shown <= limits[cls - 1] + 1e-12
    if cls >= 2:
        assert shown > limits[cls - 2]


section_values = st.fixed_dictionaries(
    {
        "do": st.floats(0, 15),
        "codmn": st.floats(0, 30),
        "nh3n": st.floats(0, 5),
        "tp": st.floats(0, 1),
        "pb": st.floats(0, 0.3),
        "cyanide": st.floats(0, 0.5),
        "cd": st.floats(0, 0.02),
        "hg": st.floats(0, 0.002),
    }
)


@settings(max_examples=200)
@given(
    section_values,
    st.sampled_from(["codmn", "nh3n", "tp", "pb", "cyanide", "cd", "hg"]),
    st.floats(0, 10),
)
def test_worsening_one_item_never_improves_the_section(values, key, extra):
    before = evaluate(**values)
    after = evaluate(**{**values, key: values[key] + extra})
    assert after.section_class[0] >= before.section_class[0]


@settings(max_examples=200)
@given(section_values)
def test_main_pollutants_are_items_worse_than_class_iii(values):
    """Main pollutants only exist above Class Ⅲ, only name items above Class Ⅲ, and are at
    most three unless more priority items exceed."""
    result = evaluate(**values)
    listed = (result.main_pollutants[0] or "").split(";") if result.main_pollutants[0] else []
    worse = [k for k, c in result.item_classes.items() if c[0] > 3]
    priority = [k for k in worse if k in ("pb", "cyanide", "cd", "hg")]
    assert set(listed) <= set(worse)
    assert (result.section_class[0] > 3) == bool(listed)
    assert len(listed) == min(len(worse), max(3, len(priority)))
    assert listed[: len(priority)] == [k for k in listed if k in priority]
