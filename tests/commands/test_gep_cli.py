"""``qingshan gep run`` and ``qingshan gep specs`` end to end on the shipped example district,
and the bad inputs of the issue: mismatched raster grids, unknown ecosystem type, missing
price, negative area — each named, exit code 2, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gep"
runner = CliRunner()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A private copy of the example district (tests edit it)."""
    target = tmp_path / "gep"
    shutil.copytree(EXAMPLE, target)
    return target


def gep(*args: str):
    return runner.invoke(app, ["gep", *args])


def test_example_runs_end_to_end(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = gep("run", str(example / "config.toml"), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for name in (
        "gep_2023.xlsx",
        "gep_report_2023.docx",
        "gep_report_2023.pdf",
        "indicators.csv",
        "townships.csv",
        "ecosystems.csv",
        "categories.csv",
        "lines.csv",
        "valuation.csv",
        "yoy_townships.csv",
        "run.json",
        "layers/townships.json",
        "layers/grid.json",
        "layers/water_conservation.value.npy",
        "layers/soil_retention.soil.quantity.npy",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "run.json").read_text("utf-8"))
    assert manifest["gep_wan"] == pytest.approx(summary["gep_wan"])
    assert all(len(entry["sha256"]) == 64 for entry in manifest["inputs"])
    # The lines add up to the total, and the categories to 100 %.
    lines = pl.read_csv(out / "lines.csv")
    assert lines["价值量(元) / Value (yuan)"].sum() / 1e4 == pytest.approx(summary["gep_wan"])
    assert sum(c["share_pct"] for c in summary["categories"]) == pytest.approx(100)
    # The value layer of an indicator sums to its raster-route value.
    indicators = pl.read_csv(out / "indicators.csv")
    water = indicators.filter(pl.col("指标代码 / Indicator key") == "water_conservation")
    layer = np.load(out / "layers" / "water_conservation.value.npy")
    assert layer.sum(dtype=np.float64) / 1e4 == pytest.approx(
        water["价值量(万元) / Value (10^4 yuan)"].sum(), rel=1e-5
    )
    # The workbook has the bilingual sheets; the report opens.
    sheets = pl.read_excel(out / "gep_2023.xlsx", sheet_id=0)
    assert "乡镇 Townships" in sheets
    from docx import Document

    text = "\n".join(p.text for p in Document(str(out / "gep_report_2023.docx")).paragraphs)
    assert "生态产品总值" in text and "UNVERIFIED" in text


def test_rerun_is_reproducible(example: Path, tmp_path: Path) -> None:
    first = gep("run", str(example / "config.toml"), "--json")
    second = gep("run", str(example / "config.toml"), "--json")
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_table_route_matches_raster_route_on_the_example(example: Path) -> None:
    # ecosystems-2023.csv holds the rasters' zonal means, so every indicator linear in its
    # per-cell drivers agrees; soil retention (a product of factors) differs a little.
    raster = json.loads(gep("run", str(example / "config.toml"), "--json").stdout)
    table = json.loads(gep("run", str(example / "config-table.toml"), "--json").stdout)
    by_category = {c["category"]: c["value_wan"] for c in raster["categories"]}
    for category in table["categories"]:
        assert category["value_wan"] == pytest.approx(by_category[category["category"]], rel=0.01)


def test_specs_lists_the_specifications() -> None:
    result = gep("specs", "--json")
    assert result.exit_code == 0
    ids = [s["id"] for s in json.loads(result.stdout)["specs"]]
    assert "gbt-46869-2025" in ids and "ndrc-nbs-2022" in ids
    detail = gep("specs", "chongqing-2023")
    assert "water_purification" in detail.stdout and "UNVERIFIED" in detail.stdout


def _rejected(example: Path, tmp_path: Path, config: str = "config.toml") -> dict:
    out = tmp_path / "rejected"
    result = gep("run", str(example / config), "-o", str(out), "--json")
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    return json.loads(result.stdout)


def test_mismatched_raster_grid_is_named(example: Path, tmp_path: Path) -> None:
    np.save(example / "rasters" / "et_mm.npy", np.zeros((199, 250), dtype=np.float32))
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["file"].endswith("et_mm.npy")
    assert "differs from the land-cover grid" in problem["message"]


def test_unknown_ecosystem_type_is_named_with_row(example: Path, tmp_path: Path) -> None:
    table = example / "ecosystems-2023.csv"
    text = table.read_text("utf-8").splitlines()
    text[2] = text[2].replace(",forest,", ",jungle,")
    table.write_text("\n".join(text) + "\n", "utf-8")
    problem = _rejected(example, tmp_path, "config-table.toml")["problems"][0]
    assert (problem["row"], problem["column"]) == (3, "ecosystem")
    assert "unknown ecosystem type 'jungle'" in problem["message"]


def test_unknown_ecosystem_in_the_raster_classes_is_named(example: Path, tmp_path: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text("utf-8").replace('7 = "bare"', '7 = "desert"'), "utf-8")
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["column"] == "raster.classes.7" and "desert" in problem["message"]


def test_missing_price_is_named(example: Path, tmp_path: Path) -> None:
    prices = example / "prices.csv"
    kept = [
        line
        for line in prices.read_text("utf-8").splitlines()
        if not line.startswith("reservoir_cost,")
    ]
    prices.write_text("\n".join(kept) + "\n", "utf-8")
    messages = [p["message"] for p in _rejected(example, tmp_path)["problems"]]
    assert any("missing price 'reservoir_cost'" in m for m in messages)


def test_negative_area_is_named_with_row(example: Path, tmp_path: Path) -> None:
    table = example / "ecosystems-2023.csv"
    frame = pl.read_csv(table).with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(-1.0)
        .otherwise(pl.col("area_km2"))
        .alias("area_km2")
    )
    frame.write_csv(table)
    problem = _rejected(example, tmp_path, "config-table.toml")["problems"][0]
    assert (problem["row"], problem["column"]) == (6, "area_km2")
    assert "below 0" in problem["message"]


def test_unmapped_land_cover_code_is_named(example: Path, tmp_path: Path) -> None:
    land = np.load(example / "rasters" / "land_cover.npy")
    land[100, 100] = 9
    np.save(example / "rasters" / "land_cover.npy", land)
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["file"].endswith("land_cover.npy") and "[9]" in problem["message"]


def test_statistic_in_a_wrong_unit_is_named(example: Path, tmp_path: Path) -> None:
    statistics = example / "statistics-2023.csv"
    statistics.write_text(statistics.read_text("utf-8").replace(",t,", ",万m3,", 1), "utf-8")
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["column"] == "unit" and "not a unit of 't'" in problem["message"]


def test_plain_output_names_the_problem(example: Path) -> None:
    np.save(example / "rasters" / "et_mm.npy", np.zeros((5, 5), dtype=np.float32))
    result = gep("run", str(example / "config.toml"))
    assert result.exit_code == 2
    assert "et_mm.npy" in result.output and "nothing was written" in result.output


def test_misspelt_configuration_key_is_named(example: Path, tmp_path: Path) -> None:
    config = example / "config.toml"
    config.write_text(config.read_text("utf-8").replace("cell_size_m", "cellsize_m"), "utf-8")
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["column"] == "raster.cellsize_m" and "unknown key" in problem["message"]


def test_fraction_above_one_is_named_with_row(example: Path, tmp_path: Path) -> None:
    parameters = example / "ecosystem-parameters.csv"
    text = parameters.read_text("utf-8").replace("farmland,p_factor,0.4", "farmland,p_factor,4")
    parameters.write_text(text, "utf-8")
    problem = _rejected(example, tmp_path)["problems"][0]
    assert problem["column"] == "value" and "cannot exceed 1" in problem["message"]
    assert problem["row"] == 13


def test_price_set_as_toml_gives_the_csv_result(example: Path, tmp_path: Path) -> None:
    rows = pl.read_csv(example / "prices.csv").to_dicts()
    entries = "\n".join(
        "[[entries]]\n"
        + "\n".join(
            f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in row.items() if v is not None
        )
        for row in rows
    )
    (example / "prices.toml").write_text(entries + "\n", "utf-8")
    config = example / "config-table.toml"
    reference = json.loads(gep("run", str(config), "--json").stdout)
    config.write_text(config.read_text("utf-8").replace('"prices.csv"', '"prices.toml"'), "utf-8")
    result = gep("run", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gep_wan"] == pytest.approx(reference["gep_wan"])
