"""``qingshan rules|alarms`` and the alarm check inside ``qingshan ingest`` (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

runner = CliRunner()

SITES = (
    "code,name,kind,latitude,longitude,reporting_interval_minutes,grid_code,grid_name,"
    "township_code,township_name,township_kind,district_code,district_name\n"
    "AIR1,青山站,air_station,30.6,114.4,60,G-01,第一网格,420107001,红卫路街道,street,420107,青山区\n"
)
QUIET_HOUR = "AIR1,pm25,2026-06-01 08:00,30,N\n"
POLLUTED_HOUR = "AIR1,pm25,2026-06-01 09:00,80,N\n"
HEADER = "site,parameter,time,value,flag\n"


def run(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def store(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert run("db", "upgrade")[0] == 0
    (tmp_path / "sites.csv").write_text(SITES, encoding="utf-8")
    assert run("sites", "import", str(tmp_path / "sites.csv"))[0] == 0
    code, rule = run(
        "rules", "add", "pm25-iaqi", "--type", "aqi", "--severity", "orange",
        "--parameters", '{"parameter": "pm25", "level": 100}',
    )  # fmt: skip
    assert (code, rule["version"], rule["parameters"]["for_periods"]) == (0, 1, 1)
    return tmp_path


def ingest(store: Path, body: str) -> dict:
    path = store / "readings.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    code, result = run("ingest", str(path))
    assert code == 0
    return result


def test_the_alarm_exists_when_ingest_returns(store: Path) -> None:
    """The reading that triggers an alarm and the alarm are stored by the same command: no
    scheduler stands between them (latency is measured in benchmarks/bench_alerting.py)."""
    assert ingest(store, QUIET_HOUR)["alarms"] == {"opened": 0, "updated": 0, "cleared": 0}
    assert ingest(store, POLLUTED_HOUR)["alarms"] == {"opened": 1, "updated": 0, "cleared": 0}
    code, listed = run("alarms", "list", "--state", "active")
    assert code == 0
    [alarm] = listed["alarms"]
    assert (alarm["site"], alarm["parameter"], alarm["peak_value"]) == ("AIR1", "pm25", 119.0)
    assert alarm["started_at"] == "2026-06-01T01:00:00+00:00"  # 09:00 Beijing time


def test_handle_an_alarm_from_the_command_line(store: Path) -> None:
    ingest(store, POLLUTED_HOUR)
    alarm_id = run("alarms", "list")[1]["alarms"][0]["id"]
    assert run("alarms", "ack", str(alarm_id))[1]["status"] == "ACTIVE_ACK"
    assert run("alarms", "comment", str(alarm_id), "已通知网格员")[0] == 0
    cleared = run("alarms", "clear", str(alarm_id), "--reason", "已核实")[1]
    assert cleared["status"] == "CLEARED_ACK"
    assert [c["body"] for c in cleared["comments"]] == [
        "acknowledged",
        "已通知网格员",
        "cleared by hand: 已核实",
    ]
    assert run("alarms", "ack", "999")[0] == 2


def test_rule_changes_from_the_command_line_are_versions(store: Path) -> None:
    code, changed = run("rules", "set", "pm25-iaqi", "--severity", "red", "--disable")
    assert (code, changed["version"], changed["severity"], changed["enabled"]) == (
        0, 2, "critical", False,
    )  # fmt: skip
    shown = run("rules", "show", "pm25-iaqi")[1]
    assert [v["severity"] for v in shown["versions"]] == ["major", "critical"]
    assert ingest(store, POLLUTED_HOUR)["alarms"]["opened"] == 0  # disabled
    assert run("rules", "add", "x", "--type", "nope", "--severity", "red")[0] == 2


def test_evaluate_a_period_and_link_an_officer(store: Path) -> None:
    ingest(store, POLLUTED_HOUR)
    code, counts = run("alarms", "evaluate", "--from", "2026-06-01", "--to", "2026-06-02")
    assert (code, counts["opened"]) == (0, 0)  # already judged when ingested
    assert run("users", "grids", "nobody", "G-01")[0] == 2


def test_a_neighbour_alarm_with_its_context_lists_as_csv(store: Path) -> None:
    """Five stations of G-01 (no polygon: the township decides) at one hour; AIR1 reads 90
    against 40–43. The CSV list carries the alarm's context as one JSON cell."""
    others = "".join(
        f"N{i},站,air_station,30.6,114.4,60,G-01,第一网格,420107001,红卫路街道,street,420107,青山区\n"
        for i in range(4)
    )
    (store / "more.csv").write_text(SITES.splitlines(keepends=True)[0] + others, "utf-8")
    assert run("sites", "import", str(store / "more.csv"))[0] == 0
    rule = ["rules", "add", "pm25-nb", "--type", "neighbour", "--severity", "orange"]
    assert run(*rule, "--parameters", '{"parameter": "pm25"}')[0] == 0
    hour = "2026-06-01 08:00"
    readings = [("AIR1", 90), ("N0", 40), ("N1", 41), ("N2", 42), ("N3", 43)]
    ingest(store, "".join(f"{site},pm25,{hour},{value},N\n" for site, value in readings))
    output = store / "alarms.csv"
    assert run("alarms", "list", "--rule", "pm25-nb", "-o", str(output))[0] == 0
    [row] = pl.read_csv(output).to_dicts()
    assert row["site"] == "AIR1"
    assert json.loads(row["context"]) == {"neighbours": "township", "neighbour_grids": []}
