"""The store's commands end to end: db upgrade, sites import, ingest (exit 2), users."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store import migrate

runner = CliRunner()

SITES = """code,name,kind,latitude,longitude,reporting_interval_minutes
AIR1,青山站,air_station,30.6,114.4,1
"""
READINGS = """site,parameter,time,value,flag
AIR1,pm25,2024-01-01 08:00,35,N
AIR1,pm10,2024-01-01 08:00,60,N
"""


def run(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--json"])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def configured(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    assert run("db", "upgrade")[1]["revision"] == migrate.head_revision()
    (tmp_path / "sites.csv").write_text(SITES, encoding="utf-8")
    assert run("sites", "import", str(tmp_path / "sites.csv")) == (0, {"ok": True, "sites": 1})
    return tmp_path


def test_ingest_twice_is_idempotent(configured: Path) -> None:
    path = configured / "readings.csv"
    path.write_text(READINGS, encoding="utf-8")
    code, first = run("ingest", str(path))
    assert (code, first["inserted"], first["layout"]) == (0, 2, "long")
    code, second = run("ingest", str(path))
    assert (code, second["inserted"], second["unchanged"]) == (0, 0, 2)


def test_bad_input_exits_2_naming_row_and_column_and_stores_nothing(configured: Path) -> None:
    path = configured / "bad.csv"
    path.write_text(READINGS + "AIR1,pm25,2024-01-01 09:00,lots,N\n", encoding="utf-8")
    code, report = run("ingest", str(path))
    assert code == 2
    assert report["problems"] == [
        {"file": str(path), "row": 4, "column": "value", "message": "'lots' is not a number"}
    ]
    path.write_text(READINGS, encoding="utf-8")
    assert run("ingest", str(path))[1]["inserted"] == 2  # nothing of the bad run was kept


def test_users_add_list_and_token(configured: Path) -> None:
    assert run("users", "add", "alice", "--role", "analyst", "--password", "pw")[0] == 0
    assert run("users", "add", "meter-1", "--role", "device", "--no-password")[0] == 0
    assert run("users", "add", "bob", "--role", "wizard", "--password", "pw")[0] == 2
    users = run("users", "list")[1]["users"]
    assert [(u["username"], u["role"]) for u in users] == [
        ("alice", "analyst"),
        ("meter-1", "device"),
    ]
    code, issued = run("users", "token", "meter-1")
    assert code == 0 and issued["token"].startswith("qs_")


def test_aggregate_and_prune_commands(configured: Path) -> None:
    path = configured / "minutes.csv"
    rows = [f"AIR1,pm25,2024-01-01 08:{minute:02d},30,N" for minute in range(45)]
    path.write_text("site,parameter,time,value,flag\n" + "\n".join(rows) + "\n", "utf-8")
    assert run("ingest", str(path), "--period", "minute")[1]["inserted"] == 45
    code, counts = run("db", "aggregate", "--from", "2024-01-01", "--to", "2024-01-01")
    assert (code, counts["hours"], counts["days"]) == (0, 1, 1)
    code, pruned = run("db", "prune", "--days", "30")
    assert (code, pruned["deleted"]) == (0, 45)


EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_shipped_examples_import(database_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    run("db", "upgrade")
    assert run("sites", "import", str(EXAMPLES / "sites.csv")) == (0, {"ok": True, "sites": 4})
    assert run("sites", "grids", str(EXAMPLES / "grids.geojson")) == (0, {"ok": True, "grids": 2})
    code, counts = run("ingest", str(EXAMPLES / "readings_long.csv"))
    assert (code, counts["inserted"]) == (0, 8)


def test_commands_on_a_database_not_upgraded_say_what_to_do(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    (tmp_path / "r.csv").write_text(READINGS, encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(tmp_path / "r.csv")])
    assert result.exit_code == 1
    assert "no Qingshan tables" in result.stderr and "qingshan db upgrade" in result.stderr


def test_an_outlet_owner_is_imported_and_set_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    """An enterprise (``registry accounts add --kind enterprise --user …``) owns outlets by the
    ``owner`` column of the sites file or ``sites owner``; bad owners exit 2."""
    monkeypatch.setenv("QINGSHAN_DATABASE_URL", database_url)
    run("db", "upgrade")
    assert run("users", "add", "firm", "--role", "enterprise", "--no-password")[0] == 0
    opened = run("registry", "accounts", "add", "ENT01", "--name", "青峰热电", "--kind",
                 "enterprise", "--user", "firm")  # fmt: skip
    assert opened[0] == 0
    sites = tmp_path / "sites.csv"
    sites.write_text(
        "code,name,kind,latitude,longitude,owner\n"
        "SRC1,一号排口,source_outlet,30.6,114.4,ENT01\n"
        "SRC2,二号排口,source_outlet,30.6,114.4,\n",
        encoding="utf-8",
    )
    assert run("sites", "import", str(sites)) == (0, {"ok": True, "sites": 2})
    assert run("sites", "owner", "SRC2", "ENT01") == (
        0,
        {"ok": True, "site": "SRC2", "owner": "ENT01"},
    )
    assert run("sites", "owner", "SRC2", "--clear")[0] == 0
    code, refused = run("sites", "owner", "SRC2", "NOPE")
    assert (code, refused["ok"]) == (2, False) and "NOPE" in refused["error"]
