"""``qingshan carbon …`` end to end: outputs, bad input (exit 2, nothing written)."""

import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store.case_models import Notification
from qingshan.store.engine import reading

EXAMPLES = Path(__file__).parents[2] / "examples" / "carbon"
FACTORS = ["--factors", str(EXAMPLES / "factors")]
runner = CliRunner()

HEADER = "entity,facility,year,month,category,item,quantity,unit\n"


def run(*args):
    return runner.invoke(app, ["carbon", *map(str, args)])


def write(tmp_path, body, name="activity.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_account_example_json():
    result = run(
        "account", EXAMPLES / "enterprise_activity.csv", *FACTORS, "--gases", "co2", "--json"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] and payload["rows"] == 15
    years = {(row["entity"], row["year"]) for row in payload["by_entity_year"]}
    assert ("青山示例物流有限公司", 2022) in years


def test_account_csv_has_the_issue_columns(tmp_path):
    output = tmp_path / "out.csv"
    result = run(
        "account", EXAMPLES / "enterprise_activity.csv", *FACTORS, "--gases", "co2", "-o", output
    )
    assert result.exit_code == 0, result.output
    table = pl.read_csv(output)
    for column in (
        "co2_t",
        "ch4_t",
        "n2o_t",
        "co2e_t",
        "energy_tce",
        "factor_id",
        "factor_value",
        "factor_source",
    ):
        assert column in table.columns
    chongqing = table.filter(pl.col("item") == "电力")
    # 520 × 10⁴ kWh × 0.5581 kgCO2/kWh (MEE/NBS 2023, Chongqing) = 2 902.12 t.
    assert chongqing["co2_t"][0] == pytest.approx(2902.12)
    assert chongqing["factor_id"][0] == "mee_nbs/electricity/co2/2023/CN-CQ"


def test_account_xlsx_is_bilingual(tmp_path):
    output = tmp_path / "report.xlsx"
    result = run(
        "account", EXAMPLES / "enterprise_activity.csv", *FACTORS, "--gases", "co2", "-o", output
    )
    assert result.exit_code == 0, result.output
    sheets = pl.read_excel(output, sheet_id=0, has_header=False)
    assert list(sheets) == ["排放明细 Emissions", "汇总 Summary", "因子 Factors"]
    details = sheets["排放明细 Emissions"]
    assert details.row(0)[0] == "法人单位" and details.row(1)[0] == "entity"
    assert "mee_nbs/electricity/co2/2023/CN-CQ" in sheets["因子 Factors"].to_series(0).to_list()


@pytest.mark.parametrize(
    ("body", "row", "column", "message"),
    [
        ("A,F,2022,,combustion,peat,1,t\n", 2, "item", "unknown item 'peat'"),
        ("A,F,2022,,combustion,diesel,-5,t\n", 2, "quantity", "quantity -5 is below 0"),
        (
            "A,F,2022,,combustion,diesel,5,t\nA,F,2022,,combustion,natural_gas,3,万立方米\n",
            3,
            "unit",
            "'万立方米' does not convert",
        ),
        (
            "A,F,2024,,purchased_electricity,electricity,5,MWh\n",
            2,
            "year",
            "no mee_nbs co2 factor for 'electricity', year 2024",
        ),
        ("A,F,2022,13,combustion,diesel,5,t\n", 2, "month", "month 13 is above 12"),
        ("A,F,2022,,burning,diesel,5,t\n", 2, "category", "unknown category 'burning'"),
    ],
)
def test_bad_input_names_row_and_field_exit_2_nothing_written(tmp_path, body, row, column, message):
    output = tmp_path / "out.csv"
    result = run("account", write(tmp_path, body), "-o", output, "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    problem = payload["problems"][0]
    assert (problem["row"], problem["column"]) == (row, column)
    assert message in problem["message"]
    assert not output.exists()


def test_chinese_aliases_and_region_option(tmp_path):
    path = write(tmp_path, "A,F,2022,,购入电力,电力,1,万千瓦时\nA,F,2022,,化石燃料燃烧,柴油,1,吨\n")
    result = run("account", path, "--region", "西南", "--json")
    assert result.exit_code == 0, result.output
    # 10 MWh × 0.2268 (Southwest 2022) + 1 t diesel 3.1863 t (IPCC) → CO2 total.
    assert json.loads(result.stdout)["totals"]["co2_t"] == pytest.approx(2.268 + 3.1863)


def test_unknown_region_option_is_exit_2(tmp_path):
    path = write(tmp_path, "A,F,2022,,combustion,diesel,1,t\n")
    assert run("account", path, "--region", "火星").exit_code == 2


def test_targets_example_writes_progress_and_trajectory(tmp_path):
    output = tmp_path / "progress.csv"
    result = run(
        "targets",
        EXAMPLES / "district_targets.csv",
        EXAMPLES / "district_gdp.csv",
        EXAMPLES / "district_emissions.csv",
        "-o",
        output,
    )
    assert result.exit_code == 0, result.output
    progress = pl.read_csv(output)
    assert progress.filter(pl.col("warning"))["indicator"].to_list() == [
        "total_energy",
        "non_fossil_share",
    ]
    assert (tmp_path / "progress_trajectory.csv").exists()


def test_targets_json_and_bad_base_year(tmp_path):
    targets = tmp_path / "targets.csv"
    targets.write_text("indicator,base_year,target_year,reduction_pct\nco2_per_gdp,2015,2025,18\n")
    result = run(
        "targets",
        targets,
        EXAMPLES / "district_gdp.csv",
        EXAMPLES / "district_emissions.csv",
        "--json",
    )
    assert result.exit_code == 2
    assert "no value for the base year 2015" in json.loads(result.stdout)["problems"][0]["message"]


def test_factors_listing_filters():
    result = run("factors", "--series", "mee_nbs", "--year", "2022", "--region", "重庆", "--json")
    assert result.exit_code == 0, result.output
    factors = json.loads(result.stdout)["factors"]
    assert [f["value"] for f in factors] == [0.5227]
    assert factors[0]["doc_no"].startswith("生态环境部 国家统计局")


def test_factors_unknown_series_is_exit_2():
    assert run("factors", "--series", "nope").exit_code == 2


def test_factor_dir_from_the_setting(monkeypatch):
    monkeypatch.setenv("QINGSHAN_CARBON_FACTOR_DIR", str(EXAMPLES / "factors"))
    result = run("factors", "--series", "gbt32151_2024_c1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 33


def test_inventory_then_targets_from_its_annual_table(tmp_path):
    """Three years of district statistics → inventory → the annual EMISSIONS table → targets
    with a warning where the latest year is off pace."""
    inventory, annual = tmp_path / "inventory.xlsx", tmp_path / "annual.csv"
    result = run(
        "inventory",
        EXAMPLES / "district_activity.csv",
        *FACTORS,
        "--gases",
        "co2",
        "--enterprises",
        EXAMPLES / "enterprise_activity.csv",
        "-o",
        inventory,
        "--annual",
        annual,
    )
    assert result.exit_code == 0, result.output
    table = pl.read_excel(inventory)
    assert set(table["sector"]) >= {"energy_supply", "lulucf", "total", "reporting_enterprises"}
    shipped = pl.read_csv(EXAMPLES / "district_emissions.csv")
    ours = pl.read_csv(annual)
    assert ours["co2_t"].round(3).to_list() == shipped["co2_t"].to_list()
    emissions = tmp_path / "emissions.csv"  # the non-fossil share comes from energy statistics
    ours.with_columns(shipped["non_fossil_share_pct"]).write_csv(emissions)
    progress = run(
        "targets",
        EXAMPLES / "district_targets.csv",
        EXAMPLES / "district_gdp.csv",
        emissions,
        "--json",
    )
    assert progress.exit_code == 0, progress.output
    assert json.loads(progress.stdout)["warnings"] >= 1


def test_inventory_needs_a_sector_column(tmp_path):
    path = write(tmp_path, "区,,2023,1,combustion,diesel,5,t\n")
    result = run("inventory", path, "-o", tmp_path / "never.csv")
    assert result.exit_code == 2
    assert "column 'sector': required column is missing" in result.output
    assert not (tmp_path / "never.csv").exists()


def test_target_warnings_reach_the_analysts(engine, database_url, monkeypatch):
    """`--notify` records a notification to the analysts for each target off pace, so the
    warning joins the notification routes (and a case can be opened from it)."""
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    result = run(
        "targets",
        EXAMPLES / "district_targets.csv",
        EXAMPLES / "district_gdp.csv",
        EXAMPLES / "district_emissions.csv",
        "--notify",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["notified"] == summary["warnings"] >= 1
    with reading(engine) as session:
        notes = session.execute(select(Notification.kind, Notification.roles)).all()
    assert notes == [("carbon_target", ["analyst", "admin"])] * summary["warnings"]


def test_inventory_writes_nothing_when_one_output_path_is_bad(tmp_path):
    inventory, annual = tmp_path / "inventory.csv", tmp_path / "annual.txt"
    result = run(
        "inventory",
        EXAMPLES / "district_activity.csv",
        *FACTORS,
        "--gases",
        "co2",
        "-o",
        inventory,
        "--annual",
        annual,
    )
    assert result.exit_code == 2
    assert "annual.txt: unsupported output format '.txt'" in result.output
    assert not inventory.exists() and not annual.exists()
