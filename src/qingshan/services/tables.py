"""Reading and writing the tables users hand in: CSV, XLSX and Parquet.

Every engine's command reads its input here, so that every bad cell is reported the same way —
file, row, column and what is wrong — and nothing is written when anything is wrong.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2
(for CSV that is also the line number when no cell spans lines).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

FIRST_DATA_ROW = 2
"""Row number of the first data row (the header is row 1)."""

MAX_REPORTED_PROBLEMS = 20
"""Problems listed in one error; the count of the rest is given."""

MISSING_MARKERS = ("", "NA", "na", "N/A", "—", "-")
"""Cell texts read as a missing value (HJ 633 marks missing indicators "NA")."""

READABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
XLSX_MAX_DATA_ROWS = 1_048_575
"""An Excel worksheet holds 1,048,576 rows; one is the header."""


@dataclass(frozen=True)
class Problem:
    """One bad cell (or a whole-file problem when ``row`` and ``column`` are None)."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message}


class InputError(Exception):
    """The input cannot be used; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem], more: int = 0) -> None:
        self.problems = list(problems)
        self.more = more
        super().__init__(self.summary())

    @classmethod
    def single(
        cls, file: str | Path, message: str, row: int | None = None, column: str | None = None
    ) -> InputError:
        return cls([Problem(str(file), row, column, message)])

    def summary(self) -> str:
        lines = [str(problem) for problem in self.problems]
        if self.more:
            lines.append(f"… and {self.more} more problems")
        return "\n".join(lines)


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV, XLSX or Parquet file; CSV and XLSX cells stay text for exact parsing.

    Raises
    ------
    InputError
        If the file does not exist, has another format, or cannot be parsed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READABLE_SUFFIXES:
        raise InputError.single(path, f"unsupported format {suffix!r}; use CSV, XLSX or Parquet")
    if not path.is_file():
        raise InputError.single(path, "file not found")
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)
        if suffix == ".xlsx":
            return pl.read_excel(path, infer_schema_length=0)
        return pl.read_parquet(path)
    except Exception as error:  # the readers raise many types; all mean "unreadable"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise InputError.single(path, f"cannot read the file: {first_line}") from error


def _problems_in(
    file: str, frame: pl.DataFrame, bad: pl.Series, column: str, message: str
) -> list[Problem]:
    rows = frame.with_row_index("_row").filter(bad).head(MAX_REPORTED_PROBLEMS)
    return [
        Problem(file, int(index) + FIRST_DATA_ROW, column, message.format(value=value))
        for index, value in zip(rows["_row"], rows[column], strict=True)
    ]


class ProblemCollector:
    """Collects problems across columns, then raises them together."""

    def __init__(self, file: str | Path) -> None:
        self.file = str(file)
        self.problems: list[Problem] = []
        self.total = 0

    def check(self, frame: pl.DataFrame, bad: pl.Series, column: str, message: str) -> None:
        """Record the rows where ``bad`` is true; ``message`` may use ``{value}``."""
        count = int(bad.sum())
        if count:
            self.total += count
            room = MAX_REPORTED_PROBLEMS - len(self.problems)
            self.problems += _problems_in(self.file, frame, bad, column, message)[: max(room, 0)]

    def add(self, message: str, row: int | None = None, column: str | None = None) -> None:
        self.total += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(Problem(self.file, row, column, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(self.problems, more=self.total - len(self.problems))


def _as_text(series: pl.Series) -> pl.Series:
    text = series.cast(pl.String).str.strip_chars()
    return pl.when(text.is_in(MISSING_MARKERS)).then(None).otherwise(text).alias(series.name)


def parse_numbers(
    frame: pl.DataFrame,
    columns: Iterable[str],
    problems: ProblemCollector,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    what: str = "value",
) -> pl.DataFrame:
    """Cast ``columns`` to Float64; empty or ``NA`` cells become null.

    A cell that is not a number, is not finite, or lies outside [minimum, maximum] is recorded
    in ``problems`` with its row; the returned frame is only meaningful when none were found.
    """
    casts = []
    for column in columns:
        series = frame[column]
        if series.dtype.is_numeric():
            parsed = series.cast(pl.Float64)
            text_present = parsed.is_not_null()
        else:
            text = frame.select(_as_text(series)).to_series()
            parsed = text.cast(pl.Float64, strict=False)
            text_present = text.is_not_null()
            problems.check(
                frame, text_present & parsed.is_null(), column, "{value!r} is not a number"
            )
        finite = parsed.is_finite().fill_null(True)
        problems.check(frame, text_present & ~finite, column, f"{what} {{value}} is not finite")
        if minimum is not None:
            below = (parsed < minimum).fill_null(False)
            problems.check(frame, below, column, f"{what} {{value}} is below {minimum:g}")
        if maximum is not None:
            above = (parsed > maximum).fill_null(False)
            problems.check(frame, above, column, f"{what} {{value}} is above {maximum:g}")
        casts.append(parsed.alias(column))
    return frame.with_columns(casts)


def parse_times(
    frame: pl.DataFrame, column: str, problems: ProblemCollector, *, required: bool = True
) -> pl.DataFrame:
    """Parse ``column`` as local date-times (ISO 8601 or ``YYYY-MM-DD HH:MM[:SS]``; dates)."""
    series = frame[column]
    if series.dtype == pl.Datetime:
        parsed = series.dt.replace_time_zone(None).cast(pl.Datetime("us"))
        text_present = parsed.is_not_null()
    elif series.dtype == pl.Date:
        parsed = series.cast(pl.Datetime("us"))
        text_present = parsed.is_not_null()
    else:
        text = frame.select(_as_text(series).str.replace("T", " ")).to_series()
        try:
            parsed = text.str.to_datetime(strict=False, time_unit="us")
        except pl.exceptions.ComputeError:  # no cell has a recognisable format
            parsed = pl.Series(column, [None] * len(text), dtype=pl.Datetime("us"))
        text_present = text.is_not_null()
        problems.check(
            frame, text_present & parsed.is_null(), column, "{value!r} is not a date or time"
        )
    if required:
        problems.check(frame, ~text_present, column, "a time is required")
    return frame.with_columns(parsed.alias(column))


def require_columns(
    frame: pl.DataFrame, columns: Iterable[str], problems: ProblemCollector
) -> None:
    """Record every required column that the input lacks."""
    for column in columns:
        if column not in frame.columns:
            problems.add("required column is missing", row=1, column=column)


def _output_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in READABLE_SUFFIXES:
        raise InputError.single(path, f"unsupported output format {suffix!r}")
    return suffix


def write_tables(outputs: dict[Path, pl.DataFrame]) -> None:
    """Write several outputs of one command; every path is checked before any is written, so a
    bad second path never leaves the first one written alone."""
    for path in outputs:
        _output_suffix(path)
    for path, frame in outputs.items():
        write_table(frame, path)


def write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` atomically; the format comes from the suffix.

    CSV is written ``utf-8-sig`` (with a byte-order mark) so that Excel opens Chinese text
    correctly; nulls are empty cells.
    """
    path = Path(path)
    suffix = _output_suffix(path)

    def write(temporary: str) -> None:
        if suffix == ".csv":
            frame.write_csv(temporary, include_bom=True)
        elif suffix == ".xlsx":
            frame.write_excel(temporary, autofit=False)
        else:
            frame.write_parquet(temporary)

    return _atomically(path, write)


def write_workbook(sheets: dict[str, pl.DataFrame], path: str | Path) -> Path:
    """Write several tables as the sheets of one XLSX workbook, atomically.

    A sheet longer than a worksheet can hold (1,048,575 data rows) is refused before anything
    is written.
    """
    import xlsxwriter

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError.single(path, "a workbook is written as .xlsx")
    for name, frame in sheets.items():
        if frame.height > XLSX_MAX_DATA_ROWS:
            raise InputError.single(
                path, f"sheet {name!r} has {frame.height} rows; XLSX holds {XLSX_MAX_DATA_ROWS}"
            )

    def write(temporary: str) -> None:
        with xlsxwriter.Workbook(temporary) as workbook:
            for name, frame in sheets.items():
                frame.write_excel(workbook, worksheet=name[:31], autofit=False)

    return _atomically(path, write)


def _atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Run ``write`` on a temporary file next to ``path``, then move it into place (a failure
    leaves nothing behind and never a half-written ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
