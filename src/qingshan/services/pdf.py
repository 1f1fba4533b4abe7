"""PDF rendering of a :class:`~qingshan.services.report_document.ReportDocument` (reportlab).

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1): the PDF names the
font and the reader supplies the glyphs, so no font file is shipped and nothing is fetched
(its Latin glyphs are used for English too). Tables repeat their header row on every page; every
page carries the report title and its page number.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from qingshan.services.report_document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    ReportDocument,
    Table,
    write_atomically,
)

FONT = "STSong-Light"
PAGE_MARGIN_MM = 18


@cache
def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))

    def style(name: str, size: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=FONT, fontSize=size, leading=size * 1.45, wordWrap="CJK", **extra
        )

    return {
        "title": style("title", 17, alignment=1, spaceAfter=4),
        "meta": style("meta", 9, alignment=1, textColor="#444444"),
        1: style("h1", 13, spaceBefore=10, spaceAfter=4),
        2: style("h2", 11, spaceBefore=6, spaceAfter=3),
        "body": style("body", 10, spaceAfter=4),
        "bullet": style("bullet", 9, leftIndent=10, bulletIndent=0, spaceAfter=1),
        "cell": style("cell", 8),
        "head": style("head", 8, textColor="#ffffff"),
    }


def _table(block: Table, width: float) -> Any:
    from reportlab.platypus import Paragraph as Para
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    styles = _styles()
    data = [[Para(_escape(text), styles["head"]) for text in block.header]]
    data += [[Para(_escape(text), styles["cell"]) for text in row] for row in block.rows]
    table = PdfTable(data, colWidths=[width / len(block.header)] * len(block.header), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), "#2f5d50"),
                ("GRID", (0, 0), (-1, -1), 0.4, "#9aa5a1"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), ["#ffffff", "#f1f5f3"]),
            ]
        )
    )
    return table


PRINTABLE = str.maketrans({"µ": "μ", "³": "3", "²": "2", "·": "・"})
"""Characters outside Adobe-GB1 (the CID font's character set) and their printable stand-ins."""


def _escape(text: str) -> str:
    """Paragraph markup of ``text``: XML special characters escaped, unprintables replaced."""
    text = text.translate(PRINTABLE)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _flowables(block: Block, width: float) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as PdfImage
    from reportlab.platypus import Paragraph as Para
    from reportlab.platypus import Spacer

    styles = _styles()
    if isinstance(block, Heading):
        return [Para(_escape(block.text), styles[min(block.level, 2)])]
    if isinstance(block, Paragraph):
        return [Para(_escape(block.text), styles["body"])]
    if isinstance(block, Bullets):
        return [Para(_escape(item), styles["bullet"], bulletText="•") for item in block.items]
    if isinstance(block, Table):
        return [_table(block, width), Spacer(1, 4 * mm)]
    assert isinstance(block, Image)
    size = block.width_mm * mm
    return [PdfImage(BytesIO(block.png), width=size, height=size)]


def render(document: ReportDocument) -> bytes:
    """The document as PDF bytes (A4 portrait)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph as Para
    from reportlab.platypus import SimpleDocTemplate

    styles = _styles()
    buffer = BytesIO()
    margin = PAGE_MARGIN_MM * mm
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=document.title,
        author="青山 Qingshan",
    )
    width = A4[0] - 2 * margin

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor("#666666")
        canvas.drawString(margin, margin / 2, document.title.translate(PRINTABLE))
        canvas.drawRightString(A4[0] - margin, margin / 2, f"第 {doc.page} 页 Page {doc.page}")
        canvas.restoreState()

    story: list[Any] = [Para(_escape(document.title), styles["title"])]
    story += [Para(_escape(line), styles["meta"]) for line in document.meta]
    for block in document.blocks:
        story += _flowables(block, width)
    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def write(document: ReportDocument, path: Path) -> Path:
    """Write the PDF to ``path`` through a temporary file (never a half-written PDF)."""
    return write_atomically(path, render(document))
