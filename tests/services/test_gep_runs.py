"""The kept GEP runs' folder: names from a caller never lead outside it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qingshan.services import gep_runs
from qingshan.services.tables import InputError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gep"


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> gep_runs.KeptRun:
    """The table-route example run kept under a data folder (read only by the tests)."""
    data_dir = tmp_path_factory.mktemp("data")
    inputs = gep_runs.inputs_folder(data_dir)
    shutil.copytree(EXAMPLE, inputs / "example")
    pending = gep_runs.start(
        gep_runs.runs_folder(data_dir),
        gep_runs.new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    )
    pending.compute(inputs / "example" / "config-table.toml", inputs, {"created_by": "test"})
    return pending.publish()


def test_run_ids_are_time_and_random(kept: gep_runs.KeptRun) -> None:
    assert kept.run_id.startswith("20260102T030405Z-")
    assert gep_runs.RUN_ID.fullmatch(kept.run_id)
    assert kept.manifest["run"] == {
        "run_id": kept.run_id,
        "created_by": "test",
        "config": "example/config-table.toml",
    }


@pytest.mark.parametrize("run_id", ["..", "../runs", "20260102T030405Z-0000000/..", ""])
def test_malformed_run_ids_open_nothing(kept: gep_runs.KeptRun, run_id: str) -> None:
    assert gep_runs.open_run(kept.directory.parent, run_id) is None


@pytest.mark.parametrize("name", ["..", "../run", "../../secret", "/etc/passwd", "run.json"])
def test_table_and_layer_names_are_looked_up_not_joined(kept: gep_runs.KeptRun, name: str) -> None:
    assert kept.table_path(name) is None
    assert kept.layer_path(name) is None


def test_listing_skips_pending_and_foreign_folders(kept: gep_runs.KeptRun, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(kept.directory, runs / kept.run_id)
    (runs / ".20260102T030406Z-00000000.pending").mkdir()
    (runs / "notes").mkdir()
    assert [run.run_id for run in gep_runs.list_runs(runs)] == [kept.run_id]


@pytest.mark.parametrize("relative", ["../qingshan.db", "/etc/passwd", "a/../../b.toml"])
def test_server_configuration_stays_in_the_inputs_folder(tmp_path: Path, relative: str) -> None:
    with pytest.raises(InputError):
        gep_runs.server_config(tmp_path, relative)


def test_failed_run_leaves_nothing(tmp_path: Path) -> None:
    runs = gep_runs.runs_folder(tmp_path)
    pending = gep_runs.start(runs, gep_runs.new_run_id(datetime.now(UTC)))
    (pending.inputs_dir / "config.toml").write_text('title = "no spec"\n', "utf-8")
    with pytest.raises(InputError):
        pending.compute(pending.inputs_dir / "config.toml", pending.inputs_dir, {})
    assert list(runs.iterdir()) == []
