"""The content of a report, independent of its file format.

A report is a title, meta lines and a sequence of blocks (headings, paragraphs, tables, bullet
lists). The GEP report (Word and PDF), the monthly bulletin (PDF) and the retirement
certificate (PDF) build one :class:`ReportDocument` each; ``services/pdf.py`` and
``services/gep_report.py`` only lay it out, so the wording and the tables live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

MISSING = "—"
"""How a missing value is shown (never as zero)."""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of display texts: the header row is repeated on every page of the PDF."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Image:
    """A PNG image (e.g. a QR code) and its printed width. [mm]"""

    png: bytes
    width_mm: float


Block = Heading | Paragraph | Bullets | Table | Image


@dataclass
class ReportDocument:
    title: str
    meta: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> ReportDocument:
        self.blocks.extend(blocks)
        return self


def display(value: Any, digits: int = 2) -> str:
    """A cell's text: floats with ``digits`` decimals and thousands separators, missing as —."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def frame_table(
    frame: pl.DataFrame, columns: dict[str, str], digits: dict[str, int] | None = None
) -> Table:
    """A :class:`Table` of ``frame``'s ``columns`` (key → header), floats to ``digits`` each
    (2 by default)."""
    places = digits or {}
    rows = tuple(
        tuple(display(value, places.get(key, 2)) for key, value in zip(columns, row, strict=True))
        for row in frame.select(list(columns)).iter_rows()
    )
    return Table(header=tuple(columns.values()), rows=rows)


def bullets(items: Sequence[str]) -> Bullets:
    return Bullets(tuple(items))


def write_atomically(path: Path, content: bytes) -> Path:
    """Write a finished report through a temporary file, so ``path`` is never half written."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(content)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
