"""The GEP report a bureau files, as a Word document (python-docx).

Word, not PDF: bureaus edit and stamp the report before filing, and the platforms they use
fill Word templates (a county report generator with docxtpl, gep.md §5 [S34]). python-docx is
a maintained, pure-Python library (lxml underneath) with manylinux wheels.

Layout: basis (specification and its status, prices, constant-price base), results (total,
categories, GEP/GDP, year-on-year), tables by indicator, township and ecosystem type, the
prices with their sources and statuses, then what remains UNVERIFIED and the inputs' SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from qingshan.gep.accounts import WAN
from qingshan.services.gep import relative_to_config

if TYPE_CHECKING:
    from qingshan.services.gep import GepResult

FONT = "SimSun"


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(document: Any, frame: pl.DataFrame, columns: dict[str, str]) -> None:
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, columns.values(), strict=True):
        cell.text = header
    for row in frame.select(list(columns)).iter_rows():
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = _number(value)


def _chinese_font(document: Any) -> None:
    from docx.oxml.ns import qn

    style = document.styles["Normal"]
    style.font.name = FONT
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)


def _summary(result: GepResult) -> str:
    totals = result.totals
    text = (f"{result.inputs.year}年，{result.inputs.district}生态产品总值（GEP）为"
            f"{totals.gep / WAN:,.2f}万元（{totals.gep / 1e8:,.2f}亿元）")
    if result.inputs.pricing.base_year is not None:
        text += (f"，按{result.inputs.pricing.base_year}年可比价计为"
                 f"{totals.gep_constant / WAN:,.2f}万元")
    if totals.outside_region:
        text += f"（已扣减区域外生态产品价值{totals.outside_region / WAN:,.2f}万元）"
    if totals.gep_gdp_ratio is not None:
        text += f"；GEP/GDP为{totals.gep_gdp_ratio:.2f}"
    shares = "，".join(f"{row['category_zh']}{row['value_wan']:,.2f}万元（{row['share_pct']:.2f}%）"
                      for row in result.tables["categories"].iter_rows(named=True))
    text += f"。其中{shares}。"
    if "yoy_categories" in result.tables and result.previous is not None:
        yoy = result.tables["yoy_categories"]
        this_year, last_year = float(yoy["this_year_wan"].sum()), float(yoy["last_year_wan"].sum())
        if last_year:
            change = 100 * (this_year / last_year - 1)
            text += (f"与{result.previous.inputs.year}年相比（可比价），GEP变化"
                     f"{this_year - last_year:+,.2f}万元（{change:+.2f}%）。")
    return text


def _unverified(result: GepResult) -> list[str]:
    spec = result.inputs.spec
    notes = [f"核算规范 {spec.id}: {spec.status} — {spec.note}"]
    notes += [f"指标 {i.zh} ({i.id}): {i.status}" for i in spec.indicators
              if "UNVERIFIED" in i.status]
    notes += [f"价格/参数 {e.key} = {e.value:g} {e.unit}: {e.status} — {e.source} {e.note}".strip()
              for e in result.inputs.pricing.prices.entries.values()
              if e.status not in ("VERIFIED-PRIMARY", "VERIFIED-2", "LOCAL")]
    return notes + [f"运行提示: {w}" for w in result.warnings]


def write_report(result: GepResult, path: Path) -> Path:
    """Write the Word report to ``path`` and return it."""
    from docx import Document

    inputs = result.inputs
    document = Document()
    _chinese_font(document)
    document.add_heading(inputs.title, level=0)
    document.add_heading("一、核算依据 Basis", level=1)
    document.add_paragraph(f"核算规范：{inputs.spec.title_zh}（{inputs.spec.document}），"
                           f"配置 {inputs.spec.id}，核实状态 {inputs.spec.status}。")
    document.add_paragraph(f"核算年份：{inputs.year}；价格表：{inputs.price_source}；"
                           f"可比价基期：{inputs.pricing.base_year or '—'}；"
                           f"数据路线：{'栅格' if inputs.raster is not None else '表格'}。")
    document.add_heading("二、核算结果 Results", level=1)
    document.add_paragraph(_summary(result))
    _table(document, result.tables["categories"], {
        "category_zh": "类别", "value_wan": "价值量(万元)", "value_constant_wan": "可比价(万元)",
        "share_pct": "占比(%)"})
    document.add_heading("三、分指标核算结果 By indicator", level=1)
    _table(document, result.tables["indicators"], {
        "indicator_zh": "指标", "item_zh": "核算项目", "quantity": "实物量", "unit": "单位",
        "value_wan": "价值量(万元)", "share_pct": "占比(%)"})
    document.add_heading("四、乡镇核算结果 By township", level=1)
    _table(document, result.tables["townships"], {
        "township": "乡镇", "gep_wan": "GEP(万元)", "area_km2": "面积(km²)",
        "gep_per_km2_wan": "单位面积(万元/km²)", "regulating_share_pct": "调节服务占比(%)",
        "gep_gdp_ratio": "GEP/GDP", "rank": "排名"})
    document.add_heading("五、分生态系统核算结果 By ecosystem type", level=1)
    _table(document, result.tables["ecosystems"], {
        "ecosystem_zh": "生态系统", "area_km2": "面积(km²)", "value_wan": "价值量(万元)",
        "value_per_km2_wan": "单位面积(万元/km²)", "share_pct": "占比(%)"})
    if "yoy_townships" in result.tables:
        document.add_heading("六、年度变化（可比价） Year-on-year", level=1)
        _table(document, result.tables["yoy_townships"], {
            "township": "乡镇", "last_year_wan": "上年(万元)", "this_year_wan": "本年(万元)",
            "change_wan": "变化(万元)", "change_pct": "变化率(%)"})
    document.add_heading("七、价格与参数 Prices and parameters", level=1)
    _table(document, result.tables["valuation"], {
        "indicator": "指标", "component": "价值构成", "price": "价格", "price_unit": "单位",
        "price_year": "年份", "source": "来源", "status": "核实状态"})
    document.add_heading("八、待核实事项与说明 Unverified items and notes", level=1)
    for note in _unverified(result):
        document.add_paragraph(note, style="List Bullet")
    document.add_heading("附：输入文件 Inputs (SHA-256 in run.json)", level=1)
    for file in inputs.files:
        document.add_paragraph(relative_to_config(file, inputs.config_path), style="List Bullet")
    document.save(str(path))
    return path
