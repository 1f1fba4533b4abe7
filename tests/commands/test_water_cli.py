"""``qingshan water evaluate``: the command as users and the acceptance checks run it."""

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["water", "evaluate", *map(str, args)])


def flat(result):
    """The output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def write(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_csv(path):
    return pl.read_csv(path, infer_schema=False)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

MONTHLY = """section,river,time,waterbody,target_class,ph,do,codmn,nh3n,tp,pb
S1,R1,2024-01,river,III,7.2,8.1,3.2,0.40,0.08,0.001
S1,R1,2024-02,river,III,7.8,6.1,13.2,2.50,0.50,0.060
S1,R1,2024-03,river,III,7.5,7.0,5.0,0.80,0.15,0.002
S2,R1,2024-01-15,river,II,7.0,7.0,5.0,0.30,0.10,0.001
"""


def test_per_section_per_month_by_default(tmp_path):
    """One row per section and calendar month with class, status, colour, main pollutants
    (2011 method), exceedance against the target class (GB 3838—2002 §5.1)."""
    out = tmp_path / "out.csv"
    result = run(write(tmp_path, MONTHLY), "-o", out)
    assert result.exit_code == 0, result.output
    table = read_csv(out)
    assert table["period"].to_list() == ["2024-01", "2024-02", "2024-03", "2024-01"]
    assert table["class"].to_list() == ["II", "劣V", "III", "III"]
    assert table["status"].to_list() == ["优", "重度污染", "良好", "良好"]
    assert table["status_en"].to_list()[1] == "Heavily polluted"
    assert table["color"].to_list()[1] == "#ED5466"
    # Pb 0.06 (Ⅴ) first as a heavy metal, then NH3-N 2.5 and TP 0.5 (劣Ⅴ, both 1.5 × Ⅲ).
    assert table["main_pollutants"].to_list() == [None, "pb;nh3n;tp", None, None]
    assert table["exceedance"].to_list() == [
        None,
        "codmn:1.2;nh3n:1.5;tp:1.5;pb:0.2",
        None,
        "codmn:0.2",
    ]
    assert table["meets_target"].to_list() == ["yes", "no", "yes", "no"]
    assert table["target_class"].to_list() == ["III", "III", "III", "II"]


def test_year_means_with_ph_through_hydrogen_ions(tmp_path):
    """Annual value = mean of the monthly values (2011 method); pH through [H⁺], kept as an
    integer (2020 rules). S1: CODMn (3.2 + 13.2 + 5.0)/3 = 7.13 → 7.1 (Ⅳ)."""
    result = run(write(tmp_path, MONTHLY), "--period", "year")
    assert result.exit_code == 0, result.output
    table = pl.read_csv(result.stdout.encode(), infer_schema=False)
    s1 = table.row(0, named=True)
    assert (s1["period"], s1["samples"], s1["codmn"]) == ("2024", "3", "7.1")
    ph = -np.log10(np.mean(10 ** -np.array([7.2, 7.8, 7.5])))
    assert float(s1["ph"]) == round(ph)
    assert s1["tp"] == "0.243"
    # All Ⅳ: NH3-N 1.23 (0.23 × Ⅲ), TP 0.243 (0.215), CODMn 7.1 (0.18); Pb 0.021 is Ⅲ.
    assert (s1["class"], s1["main_pollutants"]) == ("IV", "nh3n;tp;codmn")


def test_period_row_and_quarter(tmp_path):
    path = write(tmp_path, MONTHLY)
    rows = pl.read_csv(run(path, "--period", "row").stdout.encode(), infer_schema=False)
    assert rows.height == 4
    assert rows["period"].to_list()[3] == "2024-01-15 00:00"
    quarters = pl.read_csv(run(path, "--period", "quarter").stdout.encode(), infer_schema=False)
    assert quarters["period"].to_list() == ["2024-Q1", "2024-Q1"]


def test_json_summary(tmp_path):
    result = run(write(tmp_path, MONTHLY), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["rows"] == 4
    assert summary["by_class"] == {"II": 1, "III": 2, "劣V": 1}


def test_below_detection_limit_counts_as_half(tmp_path):
    """环办监测函〔2020〕82号 point 7: below the detection limit → ½ × the limit, whether
    written <0.01, 0.01L or ND with the <item>_dl column."""
    text = """section,time,do,cr6,cr6_dl,petroleum
A,2024-01,8,<0.004,,0.01L
A,2024-02,8,ND,0.004,0.03
A,2024-03,8,0.010,,ND
"""
    bad = run(write(tmp_path, text), "--period", "row")
    assert bad.exit_code == 2
    assert "row 4, column 'petroleum'" in flat(bad)
    assert "petroleum_dl" in flat(bad)
    good = (
        text.replace("petroleum\n", "petroleum,petroleum_dl\n")
        .replace("0.01L\n", "0.01L,\n")
        .replace("0.03\n", "0.03,\n")
        .replace(",ND\n", ",ND,0.02\n")
    )
    result = run(write(tmp_path, good), "--period", "row")
    assert result.exit_code == 0, result.output
    table = pl.read_csv(result.stdout.encode())
    assert table["cr6"].to_list() == [0.002, 0.002, 0.01]
    assert table["petroleum"].to_list() == [0.005, 0.03, 0.01]


def test_lake_gets_tli_trophic_state_and_lake_tp(tmp_path):
    """Lakes: TP on the lake row (0.05 → Ⅲ), TN as a reference item, TLI(Σ) and its state."""
    text = """section,river,time,waterbody,ph,do,codmn,nh3n,tp,tn,chla,sd
L1,太湖,2024-01,lake,8,9,4,0.3,0.05,1.0,10,1.0
P1,某河,2024-01,river,8,9,4,0.3,0.05,1.0,,
"""
    table = pl.read_csv(run(write(tmp_path, text)).stdout.encode())
    assert table["class"].to_list() == ["III", "II"]
    assert table["tli"].to_list() == [48.0, None]
    assert table["trophic_state"].to_list() == ["中营养", None]
    assert table["reference_classes"].to_list() == ["tn:III", None]


def test_excel_and_parquet_outputs(tmp_path):
    path = write(tmp_path, MONTHLY)
    for suffix in (".xlsx", ".parquet"):
        out = tmp_path / f"out{suffix}"
        assert run(path, "-o", out).exit_code == 0
        frame = pl.read_excel(out) if suffix == ".xlsx" else pl.read_parquet(out)
        assert frame["class"].to_list() == ["II", "劣V", "III", "III"]


# --------------------------------------------------------------------------------------------
# Rivers
# --------------------------------------------------------------------------------------------


def river_file(tmp_path, codmn_by_section):
    lines = ["section,river,time,do,codmn,nh3n"]
    for i, codmn in enumerate(codmn_by_section):
        lines.append(f"S{i},R,2024-06,8,{codmn},0.3")
    return write(tmp_path, "\n".join(lines) + "\n", "river.csv")


def test_three_of_five_sections_is_heavily_polluted(tmp_path):
    """2011 method Table 2 with 5 sections (含5个 → proportion method): 3 × Ⅱ and 2 × 劣Ⅴ give
    p13 = 60 %, p6 = 40 % → 重度污染 (notes §2.6); main pollutants by section exceedance rate."""
    result = run(river_file(tmp_path, [3, 3, 3, 20, 20]), "--by", "river")
    assert result.exit_code == 0, result.output
    row = pl.read_csv(result.stdout.encode()).row(0, named=True)
    assert row["method"] == "proportion"
    assert row["class"] is None
    assert (row["share_i_iii"], row["share_worse_v"]) == (60.0, 40.0)
    assert (row["status"], row["color"]) == ("重度污染", "#ED5466")
    assert row["main_pollutants"] == "codmn"
    assert row["section_exceedance_rates"] == "codmn:40.0%"


def test_four_sections_are_averaged_and_evaluated_as_one(tmp_path):
    """Fewer than 5 sections: mean of each item, evaluated as one section. CODMn mean
    (3 + 3 + 3 + 20)/4 = 7.25 → 7.2 (half-even), Class Ⅳ, 轻度污染, multiple 0.2."""
    result = run(river_file(tmp_path, [3, 3, 3, 20]), "--by", "river", "--period", "month")
    row = pl.read_csv(result.stdout.encode()).row(0, named=True)
    assert (row["method"], row["class"], row["status"]) == ("mean", "IV", "轻度污染")
    assert (row["main_pollutants"], row["exceedance"]) == ("codmn", "codmn:0.2")


def test_by_river_needs_a_river_column(tmp_path):
    result = run(write(tmp_path, "section,time,do\nA,2024-01,8\n"), "--by", "river")
    assert result.exit_code == 2
    assert "column 'river'" in flat(result)


# --------------------------------------------------------------------------------------------
# Bad input: file, row, column; exit 2; nothing written
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "row", "column", "message"),
    [
        ("section,time,do,colour", "A,2024-01,8,red", "colour", "unknown column"),
        ("section,time,do,codmn", "A,2024-01,8,-1", "codmn", "below 0"),
        ("section,time,do,ph", "A,2024-01,8,14.5", "ph", "above 14"),
        ("section,time,do,waterbody", "A,2024-01,8,sea", "waterbody", "unknown waterbody"),
        ("section,time,do,target_class", "A,2024-01,8,VI", "target_class", "unknown target"),
        ("section,time,do,nh3n", "A,2024-01,8,abc", "nh3n", "not a number"),
        ("section,time,do", "A,2024-13-01,8", "time", "not a date"),
    ],
)
def test_bad_input_names_file_row_and_column(tmp_path, header, row, column, message):
    path = write(tmp_path, f"{header}\nB,2024-01,8{',1' * (header.count(',') - 2)}\n{row}\n")
    out = tmp_path / "out.csv"
    result = run(path, "-o", out)
    assert result.exit_code == 2
    expected_row = 1 if message == "unknown column" else 3
    assert f"in.csv, row {expected_row}, column '{column}'" in flat(result)
    assert message in flat(result)
    assert not out.exists()


def test_bad_input_as_json(tmp_path):
    result = run(write(tmp_path, "section,time,codmn\nA,2024-01,-2\n"), "--json")
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["problems"][0]
    assert (problem["row"], problem["column"]) == (2, "codmn")


def test_target_class_must_be_constant_within_a_section(tmp_path):
    text = "section,time,target_class,do\nA,2024-01,III,8\nA,2024-02,II,8\n"
    result = run(write(tmp_path, text))
    assert result.exit_code == 2
    assert "row 3, column 'target_class'" in flat(result)


# --------------------------------------------------------------------------------------------
# A real-sized run: a year of monthly data for 200 sections
# --------------------------------------------------------------------------------------------

# CODMn bands of GB 3838—2002 Table 1 (Ⅰ ≤ 2, Ⅱ ≤ 4, Ⅲ ≤ 6, Ⅳ ≤ 10, Ⅴ ≤ 15, 劣Ⅴ above):
# a value in the middle of each band, noise ±0.4 keeps every month (and the mean) inside.
CODMN_BAND_MIDDLE = [1.0, 3.0, 5.0, 8.0, 12.5, 20.0]
LABELS = ["I", "II", "III", "IV", "V", "劣V"]


def real_sized_file(tmp_path):
    rng = np.random.default_rng(3838)
    sections, months = 200, 12
    section = np.repeat(np.arange(sections), months)
    designed = section % 6
    frame = pl.DataFrame(
        {
            "section": [f"断面{i:03d}" for i in section],
            "river": [f"河{i // 5:02d}" for i in section],
            "time": [f"2024-{m:02d}-10" for m in np.tile(np.arange(1, months + 1), sections)],
            "target_class": "III",
            "ph": np.round(rng.uniform(6.5, 8.5, section.size), 2),
            "do": np.round(rng.uniform(7.6, 10.0, section.size), 1),
            "codmn": np.round(
                np.array(CODMN_BAND_MIDDLE)[designed] + rng.uniform(-0.4, 0.4, section.size), 1
            ),
            "nh3n": np.round(rng.uniform(0.02, 0.14, section.size), 2),
            "tp": np.round(rng.uniform(0.005, 0.019, section.size), 3),
            "hg": "<0.00004",
        }
    )
    path = tmp_path / "year.csv"
    frame.write_csv(path)
    return path, designed[::months]


@pytest.mark.slow
def test_a_year_of_monthly_data_for_200_sections(tmp_path):
    path, designed = real_sized_file(tmp_path)
    out = tmp_path / "monthly.csv"
    result = run(path, "-o", out)
    assert result.exit_code == 0, result.output
    monthly = read_csv(out)
    assert monthly.height == 2400
    assert monthly["class"].to_list() == [LABELS[c] for c in np.repeat(designed, 12)]
    assert set(monthly["hg"].to_list()) == {"0.00002"}
    worse = monthly.filter(pl.col("class").is_in(["IV", "V", "劣V"]))
    assert set(worse["main_pollutants"].to_list()) == {"codmn"}
    assert set(worse["meets_target"].to_list()) == {"no"}

    yearly = pl.read_csv(run(path, "--period", "year").stdout.encode(), infer_schema=False)
    assert yearly.height == 200
    assert yearly["class"].to_list() == [LABELS[c] for c in designed]
    assert set(yearly["samples"].to_list()) == {"12"}

    rivers = pl.read_csv(run(path, "--by", "river").stdout.encode(), infer_schema=False)
    assert rivers.height == 40
    assert set(rivers["method"].to_list()) == {"proportion"}
    for row in rivers.iter_rows(named=True):
        classes = designed[int(row["river"][1:]) * 5 :][:5] + 1
        p13 = 100 * np.mean(classes <= 3)
        p6 = 100 * np.mean(classes == 6)
        expected = (
            "优"
            if p13 >= 90
            else "良好"
            if p13 >= 75
            else "轻度污染"
            if p6 < 20
            else "中度污染"
            if p6 < 40
            else "重度污染"
        )
        assert row["status"] == expected
        assert float(row["share_i_iii"]) == p13


# --------------------------------------------------------------------------------------------
# Trend
# --------------------------------------------------------------------------------------------

TWO_YEARS = """section,river,time,do,codmn
A,R,2023-06,8,3
B,R,2023-06,8,3
C,R,2023-06,8,3
D,R,2023-06,8,20
E,R,2023-06,8,20
A,R,2024-06,8,3
B,R,2024-06,8,3
C,R,2024-06,8,3
D,R,2024-06,8,3
E,R,2024-06,8,8
F,Q,2023-06,8,8
F,Q,2024-06,8,5
"""


def trend(tmp_path, *args):
    return runner.invoke(app, ["water", "trend", str(write(tmp_path, TWO_YEARS)), *args])


def test_section_trend_by_status_grade(tmp_path):
    """2011 method, 变化趋势: 劣Ⅴ → Ⅱ is four grades better (明显好转); Ⅳ → Ⅲ one (有所好转)."""
    result = trend(tmp_path, "--from", "2023", "--to", "2024")
    assert result.exit_code == 0, result.output
    table = pl.read_csv(result.stdout.encode())
    assert table["trend"].to_list() == [
        "无明显变化",
        "无明显变化",
        "无明显变化",
        "明显好转",
        "明显好转",
        "有所好转",
    ]
    assert table["earlier_class"].to_list()[3:] == ["劣V", "劣V", "IV"]


def test_river_trend_by_delta_g_minus_delta_d(tmp_path):
    """Five sections (proportion method both years): G 60 → 80, D 40 → 0: ΔG − ΔD = 20 + 40
    = 60 → 明显好转. River Q has one section: by its grade, 轻度污染 → 良好, 有所好转."""
    result = trend(tmp_path, "--from", "2023", "--to", "2024", "--by", "river")
    table = pl.read_csv(result.stdout.encode())
    r, q = table.rows(named=True)
    assert (r["delta_g_minus_d"], r["trend"]) == (60.0, "明显好转")
    assert (r["earlier_status"], r["later_status"]) == ("重度污染", "良好")
    assert (q["delta_g_minus_d"], q["trend"]) == (None, "有所好转")


def test_trend_of_a_period_without_data(tmp_path):
    result = trend(tmp_path, "--from", "2022", "--to", "2024")
    assert result.exit_code == 2
    assert "period '2022' has no data" in flat(result)


# --------------------------------------------------------------------------------------------
# Input formats and the shipped example
# --------------------------------------------------------------------------------------------


def test_xlsx_input_with_year_and_slash_month_times(tmp_path):
    """XLSX cells are read as text; ``2024`` is 1 January, ``2024/03`` the first of March."""
    path = tmp_path / "in.xlsx"
    pl.DataFrame(
        {
            "section": ["A", "A"],
            "time": ["2024", "2024/03"],
            "do": ["8", "4"],
            "hg": ["0.00004L", "0.0002"],
        }
    ).write_excel(path)
    table = pl.read_csv(run(path, "--period", "month").stdout.encode())
    assert table["period"].to_list() == ["2024-01", "2024-03"]
    assert table["hg"].to_list() == [0.00002, 0.0002]
    # DO 4 (Ⅳ) and Hg 0.0002 (Ⅳ, 1.0 × over Class Ⅲ 0.0001): the metal comes first.
    assert table["main_pollutants"].to_list() == [None, "hg;do"]


def test_headers_are_case_insensitive_but_not_duplicated(tmp_path):
    result = run(write(tmp_path, "Section , TIME,DO\nA,2024-01,4.9\n"))
    assert pl.read_csv(result.stdout.encode())["class"].to_list() == ["IV"]
    duplicated = run(write(tmp_path, "section,time,DO,do\nA,2024-01,8,8\n"))
    assert duplicated.exit_code == 2
    assert "column 'DO': duplicate column" in flat(duplicated)


def test_the_shipped_example(tmp_path):
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "water_monthly.csv"
    monthly = pl.read_csv(run(example).stdout.encode())
    assert monthly.height == 6 * 12
    lake = monthly.filter(pl.col("waterbody") == "lake")
    assert lake["tli"].null_count() == 0
    assert set(lake["reference_classes"].str.contains("tn:").to_list()) == {True}
    rivers = pl.read_csv(run(example, "--by", "river").stdout.encode())
    assert rivers.select("river", "method", "sections").rows() == [
        ("清河", "proportion", 5),
        ("青山湖", "mean", 1),
    ]
