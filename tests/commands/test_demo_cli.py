"""``qingshan demo --seed-only``: seeds the embedded demo database once, prints the users;
a second run starts at once; ``--reseed`` starts over."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.services import demo_world

runner = CliRunner()
ARGS = ["demo", "--seed-only", "--days", "1", "--until", "2026-06-10"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QINGSHAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QINGSHAN_DATABASE_URL", raising=False)
    return tmp_path


def test_seed_only_seeds_once_and_prints_the_users(data_dir: Path) -> None:
    first = runner.invoke(app, ARGS)
    assert first.exit_code == 0, first.output
    assert "seeded 青山示范区" in first.stdout
    for person in demo_world.users():
        assert f"{person.username:<11} {person.password}" in first.stdout
    assert (data_dir / "demo.db").is_file()
    assert (data_dir / "demo" / "carbon" / "district_activity.csv").is_file()
    again = runner.invoke(app, ARGS)
    assert again.exit_code == 0 and "seeded" not in again.stdout
    assert "http://127.0.0.1:8000" in again.stdout
    reseeded = runner.invoke(app, [*ARGS, "--reseed"])
    assert reseeded.exit_code == 0 and "seeded 青山示范区" in reseeded.stdout
    runs = list((data_dir / "gep" / "runs").iterdir())
    assert len(runs) == 1  # --reseed removed the demo's earlier GEP run


def test_a_bad_until_is_refused(data_dir: Path) -> None:
    result = runner.invoke(app, ["demo", "--seed-only", "--until", "10.6.2026"])
    assert result.exit_code == 2
    assert "is not a date" in result.output
    assert not (data_dir / "demo.db").exists()
