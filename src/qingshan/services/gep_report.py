"""The GEP report a bureau files, as a Word document (python-docx) and as a PDF.

Word, because bureaus edit and stamp the report before filing, and the platforms they use
fill Word templates (a county report generator with docxtpl, gep.md §5 [S34]); PDF, for
reading and publishing as it stands. Both are laid out from one content model,
:func:`report_content` (a :class:`~qingshan.services.report_document.ReportDocument`), so the
wording and the tables are written once. python-docx is a maintained, pure-Python library (lxml
underneath) with manylinux wheels; the PDF comes from ``services/pdf.py`` (reportlab).

Layout: basis (specification and its status, prices, constant-price base), results (total,
categories, GEP/GDP, year-on-year), tables by indicator, township and ecosystem type, the
prices with their sources and statuses, then what remains UNVERIFIED and the inputs' SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qingshan.gep.accounts import WAN
from qingshan.services import pdf
from qingshan.services.gep import relative_to_config
from qingshan.services.report_document import (
    Bullets,
    Heading,
    Paragraph,
    ReportDocument,
    Table,
    bullets,
    frame_table,
)

if TYPE_CHECKING:
    from qingshan.services.gep import GepResult

FONT = "SimSun"


def _chinese_font(document: Any) -> None:
    from docx.oxml.ns import qn

    style = document.styles["Normal"]
    style.font.name = FONT
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)


def _summary(result: GepResult) -> str:
    totals = result.totals
    text = (
        f"{result.inputs.year}年，{result.inputs.district}生态产品总值（GEP）为"
        f"{totals.gep / WAN:,.2f}万元（{totals.gep / 1e8:,.2f}亿元）"
    )
    if result.inputs.pricing.base_year is not None:
        text += (
            f"，按{result.inputs.pricing.base_year}年可比价计为{totals.gep_constant / WAN:,.2f}万元"
        )
    if totals.outside_region:
        text += f"（已扣减区域外生态产品价值{totals.outside_region / WAN:,.2f}万元）"
    if totals.gep_gdp_ratio is not None:
        text += f"；GEP/GDP为{totals.gep_gdp_ratio:.2f}"
    shares = "，".join(
        f"{row['category_zh']}{row['value_wan']:,.2f}万元（{row['share_pct']:.2f}%）"
        for row in result.tables["categories"].iter_rows(named=True)
    )
    text += f"。其中{shares}。"
    if "yoy_categories" in result.tables and result.previous is not None:
        yoy = result.tables["yoy_categories"]
        this_year, last_year = float(yoy["this_year_wan"].sum()), float(yoy["last_year_wan"].sum())
        if last_year:
            change = 100 * (this_year / last_year - 1)
            text += (
                f"与{result.previous.inputs.year}年相比（可比价），GEP变化"
                f"{this_year - last_year:+,.2f}万元（{change:+.2f}%）。"
            )
    return text


def _unverified(result: GepResult) -> list[str]:
    spec = result.inputs.spec
    notes = [f"核算规范 {spec.id}: {spec.status} — {spec.note}"]
    notes += [
        f"指标 {i.zh} ({i.id}): {i.status}" for i in spec.indicators if "UNVERIFIED" in i.status
    ]
    notes += [
        f"价格/参数 {e.key} = {e.value:g} {e.unit}: {e.status} — {e.source} {e.note}".strip()
        for e in result.inputs.pricing.prices.entries.values()
        if e.status not in ("VERIFIED-PRIMARY", "VERIFIED-2", "LOCAL")
    ]
    return notes + [f"运行提示: {w}" for w in result.warnings]


def report_content(result: GepResult) -> ReportDocument:
    """What the report says: basis, results, tables, prices, unverified items and inputs."""
    inputs = result.inputs
    document = ReportDocument(inputs.title)
    document.add(
        Heading("一、核算依据 Basis"),
        Paragraph(
            f"核算规范：{inputs.spec.title_zh}（{inputs.spec.document}），"
            f"配置 {inputs.spec.id}，核实状态 {inputs.spec.status}。"
        ),
        Paragraph(
            f"核算年份：{inputs.year}；价格表：{inputs.price_source}；"
            f"可比价基期：{inputs.pricing.base_year or '—'}；"
            f"数据路线：{'栅格' if inputs.raster is not None else '表格'}。"
        ),
        Heading("二、核算结果 Results"),
        Paragraph(_summary(result)),
        frame_table(
            result.tables["categories"],
            {
                "category_zh": "类别",
                "value_wan": "价值量(万元)",
                "value_constant_wan": "可比价(万元)",
                "share_pct": "占比(%)",
            },
        ),
        Heading("三、分指标核算结果 By indicator"),
        frame_table(
            result.tables["indicators"],
            {
                "indicator_zh": "指标",
                "item_zh": "核算项目",
                "quantity": "实物量",
                "unit": "单位",
                "value_wan": "价值量(万元)",
                "share_pct": "占比(%)",
            },
        ),
        Heading("四、乡镇核算结果 By township"),
        frame_table(
            result.tables["townships"],
            {
                "township": "乡镇",
                "gep_wan": "GEP(万元)",
                "area_km2": "面积(km²)",
                "gep_per_km2_wan": "单位面积(万元/km²)",
                "regulating_share_pct": "调节服务占比(%)",
                "gep_gdp_ratio": "GEP/GDP",
                "rank": "排名",
            },
        ),
        Heading("五、分生态系统核算结果 By ecosystem type"),
        frame_table(
            result.tables["ecosystems"],
            {
                "ecosystem_zh": "生态系统",
                "area_km2": "面积(km²)",
                "value_wan": "价值量(万元)",
                "value_per_km2_wan": "单位面积(万元/km²)",
                "share_pct": "占比(%)",
            },
        ),
    )
    if "yoy_townships" in result.tables:
        document.add(
            Heading("六、年度变化（可比价） Year-on-year"),
            frame_table(
                result.tables["yoy_townships"],
                {
                    "township": "乡镇",
                    "last_year_wan": "上年(万元)",
                    "this_year_wan": "本年(万元)",
                    "change_wan": "变化(万元)",
                    "change_pct": "变化率(%)",
                },
            ),
        )
    return document.add(
        Heading("七、价格与参数 Prices and parameters"),
        frame_table(
            result.tables["valuation"],
            {
                "indicator": "指标",
                "component": "价值构成",
                "price": "价格",
                "price_unit": "单位",
                "price_year": "年份",
                "source": "来源",
                "status": "核实状态",
            },
        ),
        Heading("八、待核实事项与说明 Unverified items and notes"),
        bullets(_unverified(result)),
        Heading("附：输入文件 Inputs (SHA-256 in run.json)"),
        bullets([relative_to_config(file, inputs.config_path) for file in inputs.files]),
    )


def _docx_table(document: Any, table: Table) -> None:
    grid = document.add_table(rows=1, cols=len(table.header))
    grid.style = "Table Grid"
    for cell, header in zip(grid.rows[0].cells, table.header, strict=True):
        cell.text = header
    for row in table.rows:
        for cell, text in zip(grid.add_row().cells, row, strict=True):
            cell.text = text


def write_report(result: GepResult, path: Path) -> Path:
    """Write the Word report to ``path`` and return it."""
    from docx import Document

    content = report_content(result)
    document = Document()
    _chinese_font(document)
    document.add_heading(content.title, level=0)
    for block in content.blocks:
        if isinstance(block, Heading):
            document.add_heading(block.text, level=block.level)
        elif isinstance(block, Paragraph):
            document.add_paragraph(block.text)
        elif isinstance(block, Bullets):
            for item in block.items:
                document.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            _docx_table(document, block)
    document.save(str(path))
    return path


def write_pdf_report(result: GepResult, path: Path) -> Path:
    """Write the same report as a PDF to ``path`` and return it."""
    return pdf.write(report_content(result), path)
