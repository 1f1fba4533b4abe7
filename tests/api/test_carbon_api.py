"""``/api/v1/carbon``: the factor library, accounting (file or JSON rows, JSON or XLSX) and
targets, on both store backends; roles, 422 with row and column, and the audit row of a run."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from qingshan.store.engine import reading
from qingshan.store.models import AuditEntry

EXAMPLES = Path(__file__).parents[2] / "examples" / "carbon"
HEADER = "entity,facility,year,month,category,item,quantity,unit\n"


@pytest.fixture(autouse=True)
def bureau_factors(monkeypatch):
    """The example's bureau factor file (GB/T 32151—2024 Table C.1) as the server setting."""
    monkeypatch.setenv("QINGSHAN_CARBON_FACTOR_DIR", str(EXAMPLES / "factors"))


def upload(path: Path) -> dict[str, tuple[str, bytes]]:
    return {"file": (path.name, path.read_bytes())}


def targets_files(targets: bytes | None = None) -> dict[str, tuple[str, bytes]]:
    files = {
        role: (f"district_{role}.csv", (EXAMPLES / f"district_{role}.csv").read_bytes())
        for role in ("targets", "gdp", "emissions")
    }
    if targets is not None:
        files["targets"] = ("targets.csv", targets)
    return files


def audit_rows(engine, action):
    with reading(engine) as session:
        return session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


# ------------------------------------------------------------------------------ factors


def test_factors_filter_like_the_cli(client, token_for):
    response = client.get(
        "/api/v1/carbon/factors",
        headers=token_for("analyst"),
        params={"series": "mee_nbs", "year": 2022, "region": "重庆"},
    )
    assert response.status_code == 200
    factors = response.json()["results"]
    # MEE/NBS 2022 provincial electricity factor of Chongqing: 0.5227 kgCO2/kWh (公告2024年第33号).
    assert [f["value"] for f in factors] == [0.5227]
    assert factors[0]["doc_no"].startswith("生态环境部 国家统计局")


def test_factors_include_the_bureau_factor_directory(client, token_for):
    response = client.get(
        "/api/v1/carbon/factors",
        headers=token_for("enterprise"),
        params={"series": "gbt32151_2024_c1"},
    )
    assert response.status_code == 200
    assert response.json()["meta"]["count"] == 33


def test_factors_unknown_series_is_422(client, token_for):
    response = client.get(
        "/api/v1/carbon/factors", headers=token_for("grid_officer"), params={"series": "nope"}
    )
    assert response.status_code == 422
    assert "unknown series 'nope'" in response.json()["detail"]["problems"][0]["message"]


def test_factors_roles(client, token_for):
    assert client.get("/api/v1/carbon/factors").status_code == 401
    assert client.get("/api/v1/carbon/factors", headers=token_for("device")).status_code == 403


# ------------------------------------------------------------------------------ account


def test_account_upload_returns_rows_with_traces(client, token_for, engine):
    path = EXAMPLES / "enterprise_activity.csv"
    response = client.post(
        "/api/v1/carbon/account",
        headers=token_for("analyst"),
        files=upload(path),
        params={"gases": "co2"},
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["meta"]["rows"] == 15 == len(payload["results"])
    assert payload["meta"]["options"]["gases"] == "co2"
    chongqing = next(row for row in payload["results"] if row["item"] == "电力")
    # 520 × 10⁴ kWh × 0.5581 kgCO2/kWh (MEE/NBS 2023, Chongqing) = 2 902.12 t.
    assert chongqing["co2_t"] == pytest.approx(2902.12)
    assert chongqing["factor_id"] == "mee_nbs/electricity/co2/2023/CN-CQ"
    trace_ids = [factor["id"] for factor in chongqing["trace"]["factors"]]
    assert "mee_nbs/electricity/co2/2023/CN-CQ" in trace_ids
    assert payload["meta"]["totals"]["co2_t"] == pytest.approx(
        sum(row["co2_t"] for row in payload["results"])
    )
    # The run is audited with the caller and the upload's SHA-256.
    [entry] = audit_rows(engine, "carbon.account")
    assert entry.actor == "user:analyst-user"
    assert entry.after["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry.after["input"]["name"] == "enterprise_activity.csv"


def test_account_json_rows_with_chinese_aliases_and_region(client, token_for):
    rows = [
        {
            "entity": "A",
            "facility": "F",
            "year": 2022,
            "category": "购入电力",
            "item": "电力",
            "quantity": 1,
            "unit": "万千瓦时",
        },
        {
            "entity": "A",
            "facility": "F",
            "year": 2022,
            "category": "化石燃料燃烧",
            "item": "柴油",
            "quantity": 1,
            "unit": "吨",
        },
    ]
    response = client.post(
        "/api/v1/carbon/account",
        headers=token_for("enterprise"),
        json={"rows": rows},
        params={"region": "西南"},
    )
    assert response.status_code == 200, response.text
    # 10 MWh × 0.2268 (MEE/NBS 2022, Southwest grid) + 1 t diesel × 3.1863 t (IPCC 2006).
    assert response.json()["meta"]["totals"]["co2_t"] == pytest.approx(2.268 + 3.1863)


BAD_ACTIVITY = [
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
]


def test_account_bad_upload_is_422_with_file_row_column(client, token_for, engine):
    analyst = token_for("analyst")
    for body, row, column, message in BAD_ACTIVITY:
        files = {"file": ("bad.csv", (HEADER + body).encode("utf-8"))}
        response = client.post("/api/v1/carbon/account", headers=analyst, files=files)
        assert response.status_code == 422
        [problem] = response.json()["detail"]["problems"]
        assert (problem["file"], problem["row"], problem["column"]) == ("bad.csv", row, column)
        assert message in problem["message"]
    assert audit_rows(engine, "carbon.account") == []


def test_account_bad_json_rows_count_rows_as_a_sheet(client, token_for):
    rows = [
        {
            "entity": "A",
            "facility": "F",
            "year": 2022,
            "category": "combustion",
            "item": item,
            "quantity": 1,
            "unit": "t",
        }
        for item in ("diesel", "peat")
    ]
    response = client.post(
        "/api/v1/carbon/account", headers=token_for("analyst"), json={"rows": rows}
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]["problems"]
    assert (problem["file"], problem["row"], problem["column"]) == ("rows", 3, "item")


def test_account_malformed_json_is_422(client, token_for):
    analyst = token_for("analyst")
    for body in ({"rows": "not a list"}, {"rows": [{"item": {"x": 1}}]}, {}):
        response = client.post("/api/v1/carbon/account", headers=analyst, json=body)
        assert response.status_code == 422, body


def test_account_other_content_is_415(client, token_for):
    response = client.post("/api/v1/carbon/account", headers=token_for("analyst"), content=b"x")
    assert response.status_code == 415


def test_account_xlsx_is_the_bilingual_report(client, token_for):
    response = client.post(
        "/api/v1/carbon/account",
        headers=token_for("analyst"),
        files=upload(EXAMPLES / "enterprise_activity.csv"),
        params={"gases": "co2", "format": "xlsx"},
    )
    assert response.status_code == 200, response.text
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["排放明细 Emissions", "汇总 Summary", "因子 Factors"]
    details = list(workbook["排放明细 Emissions"].iter_rows(values_only=True))
    assert details[0][0] == "法人单位" and details[1][0] == "entity"
    header = list(details[1])
    electricity = next(row for row in details[2:] if row[header.index("item")] == "电力")
    assert electricity[header.index("co2_t")] == pytest.approx(2902.12)
    factor_ids = [row[0] for row in workbook["因子 Factors"].iter_rows(values_only=True)]
    assert "mee_nbs/electricity/co2/2023/CN-CQ" in factor_ids


def test_account_roles(client, token_for):
    files = upload(EXAMPLES / "enterprise_activity.csv")
    assert client.post("/api/v1/carbon/account", files=files).status_code == 401
    for role in ("grid_officer", "device"):
        response = client.post("/api/v1/carbon/account", headers=token_for(role), files=files)
        assert response.status_code == 403, role


# ------------------------------------------------------------------------------ targets


def test_targets_progress_trajectory_and_warnings(client, token_for, engine):
    response = client.post(
        "/api/v1/carbon/targets", headers=token_for("analyst"), files=targets_files()
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    warned = [row["indicator"] for row in payload["progress"] if row["warning"]]
    assert warned == ["total_energy", "non_fossil_share"]
    assert len(payload["warnings"]) == 2 == payload["meta"]["warnings"]
    co2_path = [row for row in payload["trajectory"] if row["indicator"] == "co2_per_gdp"]
    assert co2_path[0]["year"] == 2021
    assert co2_path[0]["actual"] == co2_path[0]["required_path"]  # the paths start at the base
    [entry] = audit_rows(engine, "carbon.targets")
    assert set(entry.after["inputs"]) == {"targets", "gdp", "emissions"}


def test_targets_xlsx_has_progress_and_trajectory_sheets(client, token_for):
    response = client.post(
        "/api/v1/carbon/targets",
        headers=token_for("admin"),
        files=targets_files(),
        params={"format": "xlsx"},
    )
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["目标进度 Progress", "轨迹 Trajectory"]
    rows = list(workbook["目标进度 Progress"].iter_rows(values_only=True))
    assert rows[0][0] == "指标" and rows[1][0] == "indicator"
    assert [r[0] for r in rows[2:]] == [
        "co2_per_gdp",
        "energy_per_gdp",
        "total_energy",
        "non_fossil_share",
    ]


def test_targets_bad_base_year_is_422_naming_the_file(client, token_for):
    bad = b"indicator,base_year,target_year,reduction_pct\nco2_per_gdp,2015,2025,18\n"
    response = client.post(
        "/api/v1/carbon/targets", headers=token_for("analyst"), files=targets_files(bad)
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]["problems"]
    assert problem["file"] == "targets.csv" and problem["column"] == "indicator"
    assert "no value for the base year 2015" in problem["message"]


def test_targets_are_for_analysts(client, token_for):
    assert client.post("/api/v1/carbon/targets", files=targets_files()).status_code == 401
    for role in ("enterprise", "grid_officer"):
        response = client.post(
            "/api/v1/carbon/targets", headers=token_for(role), files=targets_files()
        )
        assert response.status_code == 403, role


def test_account_bad_options_are_422(client, token_for):
    analyst, files = token_for("analyst"), upload(EXAMPLES / "enterprise_activity.csv")
    schema = client.post(
        "/api/v1/carbon/account", headers=analyst, files=files, params={"gwp": "AR3"}
    )
    assert schema.status_code == 422  # a choice outside the documented set
    assert schema.json()["detail"][0]["loc"] == ["query", "gwp"]
    region = client.post(
        "/api/v1/carbon/account", headers=analyst, files=files, params={"region": "火星"}
    )
    assert region.status_code == 422  # named like the CLI's --region option
    assert "unknown region '火星'" in region.json()["detail"]["problems"][0]["message"]


def test_district_inventory_gives_the_shipped_annual_emissions(client, token_for, engine):
    """The example district's three years → an inventory whose yearly totals are the shipped
    EMISSIONS table of the targets (examples/carbon/district_emissions.csv)."""
    files = {
        "statistics": ("district_activity.csv", (EXAMPLES / "district_activity.csv").read_bytes()),
        "enterprises": (
            "enterprise_activity.csv",
            (EXAMPLES / "enterprise_activity.csv").read_bytes(),
        ),
    }
    response = client.post(
        "/api/v1/carbon/inventory?gases=co2", files=files, headers=token_for("analyst")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    with (EXAMPLES / "district_emissions.csv").open(encoding="utf-8") as emissions:
        shipped = {int(row["year"]): float(row["co2_t"]) for row in csv.DictReader(emissions)}
    assert {row["year"]: round(row["co2_t"], 3) for row in body["annual"]} == shipped
    sectors = {row["sector"] for row in body["results"] if row["year"] == 2023}
    assert {"industry", "lulucf", "total", "reporting_enterprises"} <= sectors
    assert len(audit_rows(engine, "carbon.inventory")) == 1


def test_district_inventory_names_an_unknown_sector(client, token_for):
    text = (
        "entity,facility,sector,year,category,item,quantity,unit\n"
        "区,,mining,2023,combustion,diesel,5,t\n"
    )
    response = client.post(
        "/api/v1/carbon/inventory",
        headers=token_for("analyst"),
        files={"statistics": ("stats.csv", text.encode())},
    )
    assert response.status_code == 422
    problem = response.json()["detail"]["problems"][0]
    assert (problem["row"], problem["column"]) == (2, "sector")
    assert "unknown sector 'mining'" in problem["message"]


def test_district_inventory_is_for_analysts(client, token_for):
    files = {"statistics": ("s.csv", (EXAMPLES / "district_activity.csv").read_bytes())}
    response = client.post("/api/v1/carbon/inventory", files=files, headers=token_for("enterprise"))
    assert response.status_code == 403
