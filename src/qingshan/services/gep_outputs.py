"""Writing a GEP run: CSV and XLSX tables (Chinese + English headers), the report a bureau files
(Word and PDF), per-indicator map layers for the dashboard, and ``run.json`` (inputs with
SHA-256, so the result is reproducible from its inputs).

Everything is written into a temporary directory next to the output directory and moved into
place at the end; when anything fails, nothing is left behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from qingshan import __version__
from qingshan.gep.accounts import WAN
from qingshan.services.gep import GepResult, RunInputs, relative_to_config, run
from qingshan.services.gep_report import write_pdf_report, write_report
from qingshan.services.rasters import Grid, PolygonZones, npy_to_geotiff

HEADERS = {
    "category": "类别代码 / Category key",
    "category_zh": "类别 / Category",
    "category_en": "类别(英文) / Category (English)",
    "indicator": "指标代码 / Indicator key",
    "indicator_zh": "指标 / Indicator",
    "indicator_en": "指标(英文) / Indicator (English)",
    "item": "项目代码 / Item key",
    "item_zh": "核算项目 / Item",
    "item_en": "核算项目(英文) / Item (English)",
    "valuation_zh": "价值量方法 / Valuation method",
    "quantity": "实物量 / Physical quantity",
    "unit": "单位 / Unit",
    "unit_value_yuan": "单价(元/单位) / Unit value (yuan per unit)",
    "value_wan": "价值量(万元) / Value (10^4 yuan)",
    "value_constant_wan": "可比价价值量(万元) / Value at constant prices (10^4 yuan)",
    "share_pct": "占比(%) / Share (%)",
    "status": "核实状态 / Status",
    "township": "乡镇 / Township",
    "material_wan": "物质产品(万元) / Material (10^4 yuan)",
    "regulating_wan": "调节服务(万元) / Regulating (10^4 yuan)",
    "cultural_wan": "文化服务(万元) / Cultural (10^4 yuan)",
    "gep_wan": "GEP(万元) / GEP (10^4 yuan)",
    "gep_constant_wan": "可比价GEP(万元) / GEP at constant prices (10^4 yuan)",
    "area_km2": "面积(km²) / Area (km²)",
    "gep_per_km2_wan": "单位面积GEP(万元/km²) / GEP per km² (10^4 yuan)",
    "value_per_km2_wan": "单位面积价值(万元/km²) / Value per km² (10^4 yuan)",
    "regulating_share_pct": "调节服务占比(%) / Regulating share (%)",
    "gep_gdp_ratio": "GEP/GDP",
    "rank": "GEP排名 / Rank",
    "rank_per_km2": "单位面积排名 / Rank per km²",
    "ecosystem": "生态系统代码 / Ecosystem key",
    "ecosystem_zh": "生态系统 / Ecosystem",
    "component": "价值构成 / Component",
    "price_key": "价格代码 / Price key",
    "price": "价格 / Price",
    "price_unit": "价格单位 / Price unit",
    "factor": "换算系数 / Factor",
    "parameters": "参数 / Parameters",
    "price_year": "价格年份 / Price year",
    "source": "来源 / Source",
    "this_year_wan": "本年可比价(万元) / This year, constant prices (10^4 yuan)",
    "last_year_wan": "上年可比价(万元) / Last year, constant prices (10^4 yuan)",
    "change_wan": "变化(万元) / Change (10^4 yuan)",
    "change_pct": "变化率(%) / Change (%)",
    "value_yuan": "价值量(元) / Value (yuan)",
    "value_constant_yuan": "可比价价值量(元) / Constant (yuan)",
    "quantity_base": "实物量(基本单位) / Quantity (base unit)",
    "base_unit": "基本单位 / Base unit",
}
SHEETS = {
    "categories": "分类汇总 Categories",
    "indicators": "指标 Indicators",
    "townships": "乡镇 Townships",
    "township_items": "乡镇指标 Township items",
    "ecosystems": "生态系统 Ecosystems",
    "valuation": "价格 Prices",
    "lines": "明细 Lines",
    "yoy_indicators": "同比指标 YoY items",
    "yoy_categories": "同比分类 YoY categories",
    "yoy_townships": "同比乡镇 YoY townships",
}


def lines_table(result: GepResult) -> pl.DataFrame:
    """Every township × ecosystem × item line: the account defended line by line."""
    return result.lines.select(
        "township",
        "ecosystem",
        "category",
        "indicator",
        "item",
        "indicator_zh",
        "item_zh",
        pl.col("quantity").alias("quantity_base"),
        pl.col("unit").alias("base_unit"),
        pl.col("unit_value").alias("unit_value_yuan"),
        pl.col("value").alias("value_yuan"),
        pl.col("value_constant").alias("value_constant_yuan"),
    )


def all_tables(result: GepResult) -> dict[str, pl.DataFrame]:
    return {**result.tables, "lines": lines_table(result)}


def with_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """The same table with bilingual headers (unknown columns keep their name)."""
    return frame.rename({c: HEADERS[c] for c in frame.columns if c in HEADERS})


class LayerWriter:
    """Receives per-cell quantity blocks during the raster pass and writes ``.npy`` layers:
    ``<indicator>.<item>.quantity.npy`` [base unit per cell] and ``<indicator>.value.npy``
    [元 per cell, current prices], memory-mapped so a county-sized grid never sits in memory."""

    def __init__(self, directory: Path, shape: tuple[int, int], unit_values: dict[str, float]):
        self.directory = directory
        self.shape = shape
        self.unit_values = unit_values
        self.arrays: dict[str, np.memmap[Any, Any]] = {}

    def _array(self, name: str) -> np.memmap[Any, Any]:
        if name not in self.arrays:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.arrays[name] = np.lib.format.open_memmap(
                self.directory / f"{name}.npy", mode="w+", dtype=np.float32, shape=self.shape
            )
        return self.arrays[name]

    def __call__(self, start: int, layers: dict[str, NDArray[np.float32]]) -> None:
        values: dict[str, NDArray[np.float32]] = {}
        for key, block in layers.items():
            stop = start + block.shape[0]
            self._array(f"{key}.quantity")[start:stop] = block
            indicator = key.split(".", 1)[0]
            value = block * np.float32(self.unit_values[key])
            values[indicator] = values[indicator] + value if indicator in values else value
        for indicator, block in values.items():
            self._array(f"{indicator}.value")[start : start + block.shape[0]] = block

    def close(self) -> list[Path]:
        for array in self.arrays.values():
            array.flush()
        names = sorted(self.arrays)
        self.arrays.clear()
        return [self.directory / f"{name}.npy" for name in names]


def _township_layer(result: GepResult) -> dict[str, Any]:
    by_township = result.lines.group_by("township", "indicator").agg(
        (pl.col("value").sum() / WAN).alias("value_wan")
    )
    layer: dict[str, Any] = {}
    for row in by_township.iter_rows(named=True):
        layer.setdefault(row["township"], {})[row["indicator"]] = row["value_wan"]
    for row in result.tables["townships"].iter_rows(named=True):
        layer.setdefault(row["township"], {}).update(
            gep_wan=row["gep_wan"], gep_per_km2_wan=row["gep_per_km2_wan"], rank=row["rank"]
        )
    return layer


def _township_geojson(result: GepResult, zones: PolygonZones, target: Path) -> Path:
    """The input township polygons with each township's values as properties."""
    layer = _township_layer(result)
    collection = json.loads(zones.path.read_text("utf-8"))
    for feature in collection["features"]:
        name = str(feature["properties"][zones.field])
        feature["properties"].update(layer.get(name, {}))
    target.write_text(json.dumps(collection, ensure_ascii=False), "utf-8")
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(result: GepResult) -> dict[str, Any]:
    inputs = result.inputs
    totals = result.totals
    return {
        "qingshan_version": __version__,
        "title": inputs.title,
        "district": inputs.district,
        "year": inputs.year,
        "spec": {
            "id": inputs.spec.id,
            "document": inputs.spec.document,
            "status": inputs.spec.status,
        },
        "prices": inputs.price_source,
        "constant_prices_base_year": inputs.pricing.base_year,
        "route": "raster" if inputs.raster is not None else "table",
        "coefficients": inputs.coefficients,
        "constants": dict(inputs.drivers.constants),
        "inputs": [
            {"path": relative_to_config(p, inputs.config_path), "sha256": _sha256(p)}
            for p in inputs.files
        ],
        "gep_wan": totals.gep / WAN,
        "gep_constant_wan": totals.gep_constant / WAN,
        "outside_region_deduction_wan": totals.outside_region / WAN,
        "gdp_wan": totals.gdp / WAN if totals.gdp else None,
        "gep_gdp_ratio": totals.gep_gdp_ratio,
        "compared_with": str(inputs.compare_with) if inputs.compare_with else None,
        "warnings": result.warnings,
    }


@contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A temporary directory next to ``out_dir``; its files replace those of ``out_dir`` only
    when the block ends without an error."""
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield temporary
        out_dir.mkdir(exist_ok=True)
        for entry in sorted(temporary.rglob("*")):
            target = out_dir / entry.relative_to(temporary)
            if entry.is_dir():
                target.mkdir(exist_ok=True)
            else:
                entry.replace(target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def run_to_directory(
    inputs: RunInputs, out_dir: Path, on_rows: Any = lambda rows: None
) -> tuple[GepResult, list[Path]]:
    """Run the loaded ``inputs`` and write everything into ``out_dir`` (all or nothing)."""
    writers: list[LayerWriter] = []

    with staging(out_dir) as directory:

        def make_sink(inputs: RunInputs, items: pl.DataFrame) -> LayerWriter:
            assert inputs.raster is not None
            grid = inputs.raster.land_cover.grid
            unit_values = {
                f"{r['indicator']}.{r['item']}": r["unit_value"]
                for r in items.iter_rows(named=True)
            }
            writers.append(
                LayerWriter(directory / "layers", (grid.rows, grid.columns), unit_values)
            )
            return writers[0]

        result = run(inputs, make_sink, on_rows)
        layer_files = writers[0].close() if writers else []
        written = write_outputs(result, directory, layer_files)
    return result, [out_dir.resolve() / p.relative_to(directory) for p in written]


def write_outputs(result: GepResult, directory: Path, layer_files: list[Path]) -> list[Path]:
    """Write tables, XLSX, report, township layers and manifest into ``directory``."""
    year = result.inputs.year
    written = []
    tables = all_tables(result)
    for name, frame in tables.items():
        path = directory / f"{name}.csv"
        with_headers(frame).write_csv(path, include_bom=True)
        written.append(path)
    workbook_path = directory / f"gep_{year}.xlsx"
    _write_workbook(tables, workbook_path)
    written.append(workbook_path)
    written.append(write_report(result, directory / f"gep_report_{year}.docx"))
    written.append(write_pdf_report(result, directory / f"gep_report_{year}.pdf"))
    layers = directory / "layers"
    layers.mkdir(exist_ok=True)
    township_path = layers / "townships.json"
    township_path.write_text(
        json.dumps(_township_layer(result), ensure_ascii=False, indent=1), "utf-8"
    )
    written.append(township_path)
    plan = result.inputs.raster
    if plan is not None and isinstance(plan.zones, PolygonZones):
        written.append(_township_geojson(result, plan.zones, layers / "townships.geojson"))
    if layer_files:
        grid_path = layers / "grid.json"
        plan = result.inputs.raster
        assert plan is not None
        if plan.land_cover.grid.transform is not None:
            layer_files = _as_geotiff(layer_files, plan.land_cover.grid)
        grid_path.write_text(
            json.dumps(
                {
                    "rows": plan.land_cover.grid.rows,
                    "columns": plan.land_cover.grid.columns,
                    "cell_area_m2": plan.cell_area_m2,
                    "transform": plan.land_cover.grid.transform,
                    "crs": plan.land_cover.grid.crs,
                    "layers": {
                        p.stem: (
                            "元 per cell, current prices"
                            if p.stem.endswith(".value")
                            else "base unit of the item per cell"
                        )
                        for p in layer_files
                    },
                },
                ensure_ascii=False,
                indent=1,
            ),
            "utf-8",
        )
        written += [grid_path, *layer_files]
    manifest_path = directory / "run.json"
    manifest_path.write_text(json.dumps(manifest(result), ensure_ascii=False, indent=1), "utf-8")
    written.append(manifest_path)
    return written


def _as_geotiff(layer_files: list[Path], grid: Grid) -> list[Path]:
    """Georeferenced inputs give GeoTIFF layers (same grid and CRS) instead of ``.npy``."""
    converted = []
    for path in layer_files:
        converted.append(npy_to_geotiff(path, path.with_suffix(".tif"), grid, grid.crs))
        path.unlink()
    return converted


def _write_workbook(tables: dict[str, pl.DataFrame], path: Path) -> None:
    from xlsxwriter import Workbook

    with Workbook(path) as workbook:
        for name, frame in tables.items():
            with_headers(frame).write_excel(
                workbook, worksheet=SHEETS.get(name, name)[:31], autofit=True, float_precision=4
            )
