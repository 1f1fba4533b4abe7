"""HTML rendering of a :class:`~qingshan.services.report_document.ReportDocument`: one
standalone page (inline style, images as data URIs, nothing fetched), for printing from a
browser or embedding in the web layer. Every text is escaped."""

from __future__ import annotations

import base64
from html import escape

from qingshan.services.report_document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    ReportDocument,
    Table,
)

STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2b27}"
    "h1{text-align:center}.meta{text-align:center;color:#555}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}"
    "th,td{border:1px solid #9aa5a1;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#2f5d50;color:#fff}code{word-break:break-all}"
)


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        level = min(block.level + 1, 6)
        return f"<h{level}>{escape(block.text)}</h{level}>"
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th scope='col'>{escape(text)}</th>" for text in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(text)}</td>" for text in row) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    assert isinstance(block, Image)
    data = base64.b64encode(block.png).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='' style='width:{block.width_mm}mm'>"


def render(document: ReportDocument, lang: str = "zh") -> str:
    """The document as a standalone HTML page."""
    meta = "".join(f"<p class='meta'>{escape(line)}</p>" for line in document.meta)
    body = "".join(_block(block) for block in document.blocks)
    return (
        f"<!doctype html><html lang='{escape(lang)}'><head><meta charset='utf-8'>"
        f"<title>{escape(document.title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(document.title)}</h1>{meta}{body}</body></html>"
    )
