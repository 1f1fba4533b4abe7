"""Carbon use-cases: account an activity file, assess targets, list the factor library.

Every bad cell — unknown fuel, unit that does not convert, missing factor, negative quantity — is
reported with its file, row and column before anything is written (:mod:`tables`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from qingshan.carbon import accounting, targets
from qingshan.carbon.factors import FactorFileError, FactorLibrary, load_library, names
from qingshan.services import notifications
from qingshan.services.tables import (
    InputError,
    ProblemCollector,
    parse_numbers,
    read_table,
    require_columns,
    write_table,
)
from qingshan.store.engine import writing

ACTIVITY_COLUMNS = ("entity", "facility", "year", "category", "item", "quantity", "unit")
ADDED_COLUMNS = (
    "item_key",
    "series",
    "electricity_region",
    *accounting.RESULT_COLUMNS,
    *accounting.TRACE_COLUMNS,
)

HEADERS_ZH = {
    "entity": "法人单位",
    "facility": "设施",
    "year": "年份",
    "month": "月份",
    "category": "排放类别",
    "item": "品种",
    "quantity": "活动数据",
    "unit": "单位",
    "factor_series": "因子系列",
    "region": "区域",
    "item_key": "品种代码",
    "series": "采用因子系列",
    "electricity_region": "电力因子区域",
    "co2_t": "二氧化碳 (t)",
    "ch4_t": "甲烷 (t)",
    "n2o_t": "氧化亚氮 (t)",
    "co2e_t": "二氧化碳当量 (tCO2e)",
    "energy_tce": "综合能耗 (tce)",
    "factor_id": "排放因子编号",
    "factor_value": "排放因子值",
    "factor_unit": "排放因子单位",
    "factor_source": "排放因子来源",
    "method": "计算方法",
    "gwp_set": "GWP 版本",
    "trace": "计算过程",
}
"""Chinese headers of the bureau XLSX report (the English key is the second header row)."""


# --------------------------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------------------------


def library_for(extra_dirs: Iterable[Path]) -> FactorLibrary:
    """The shipped factors plus a bureau's factor files; a bad file is an input error."""
    try:
        return load_library(list(extra_dirs))
    except FactorFileError as error:
        raise InputError.single(str(error).split(":", 1)[0], str(error)) from error


def canonical_region(text: str) -> str:
    """``重庆`` → ``CN-CQ``; an unknown region is an input error."""
    region = accounting.alias_map("regions").get(text.strip())
    if region is None:
        known = ", ".join(names()["regions"])
        raise InputError.single("--region", f"unknown region {text!r}; known: {known}")
    return region


def factor_table(
    library: FactorLibrary, series: str | None, year: int | None, region: str | None
) -> pl.DataFrame:
    if series is not None and series not in library.series:
        known = ", ".join(library.series)
        raise InputError.single("--series", f"unknown series {series!r}; known: {known}")
    return library.table(series, year, canonical_region(region) if region else None)


# --------------------------------------------------------------------------------------------
# Activity → emissions
# --------------------------------------------------------------------------------------------


def _canonical_column(
    frame: pl.DataFrame, column: str, table: str, problems: ProblemCollector, what: str
) -> pl.Series:
    text = frame[column].cast(pl.String).str.strip_chars()
    mapped = accounting.canonical(text, table)
    known = ", ".join(names()[table])
    unknown = text.is_not_null() & (text != "") & mapped.is_null()
    problems.check(frame, unknown, column, f"unknown {what} {{value!r}}; known: {known}")
    return mapped


def _parse_years(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    for column, low, high in (("year", 1900, 2200), ("month", 1, 12)):
        if column not in frame.columns:
            continue
        frame = parse_numbers(frame, [column], problems, minimum=low, maximum=high, what=column)
        values = frame[column]
        problems.check(
            frame,
            (values.round(0) != values).fill_null(False),
            column,
            f"{column} {{value}} is not a whole number",
        )
        frame = frame.with_columns(values.cast(pl.Int32, strict=False))
    return frame


def _check_required(frame: pl.DataFrame, problems: ProblemCollector) -> None:
    for column in ("entity", "year", "category", "item", "quantity", "unit"):
        text = frame[column].cast(pl.String).str.strip_chars()
        problems.check(frame, text.is_null() | (text == ""), column, f"a {column} is required")


def load_activity(path: str | Path, library: FactorLibrary) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read and check an activity file; raise :class:`InputError` naming every bad cell.

    Returns the table as read and the canonical table the accounting reads.
    """
    original = read_table(path)
    problems = ProblemCollector(path)
    require_columns(original, ACTIVITY_COLUMNS, problems)
    for column in original.columns:
        if column in ADDED_COLUMNS:
            problems.add("the output would overwrite this column; rename it", 1, column)
    problems.raise_if_any()
    _check_required(original, problems)
    frame = parse_numbers(original, ["quantity"], problems, minimum=0.0, what="quantity")
    frame = _parse_years(frame, problems)
    canonical = {
        "category": _canonical_column(original, "category", "categories", problems, "category"),
        "item": _canonical_column(original, "item", "items", problems, "item"),
        "unit": original["unit"].cast(pl.String).str.strip_chars(),
    }
    if "region" in original.columns:
        canonical["region"] = _canonical_column(original, "region", "regions", problems, "region")
    if "factor_series" in original.columns:
        canonical["factor_series"] = _checked_series(original, library, problems)
    problems.raise_if_any()
    return original, frame.with_columns(**canonical)


def _checked_series(
    original: pl.DataFrame, library: FactorLibrary, problems: ProblemCollector
) -> pl.Series:
    series = original["factor_series"].cast(pl.String).str.strip_chars().replace("", None)
    known = library.series
    problems.check(
        original,
        series.is_not_null() & ~series.is_in(known),
        "factor_series",
        f"unknown factor series {{value!r}}; known: {', '.join(known)}",
    )
    category = accounting.canonical(original["category"], "categories")
    reported = category.is_in(["emission", "removal"]) & series.is_not_null()
    problems.check(
        original,
        reported,
        "factor_series",
        "a reported gas mass (emission, removal) takes no factor series",
    )
    return series


def _escaped(message: str) -> str:
    return message.replace("{", "{{").replace("}", "}}")


def _report_key_problems(
    original: pl.DataFrame, keyed: pl.DataFrame, problems_by_key: pl.DataFrame, path: str | Path
) -> None:
    collector = ProblemCollector(path)
    for problem in problems_by_key.iter_rows(named=True):
        mask = pl.lit(True)
        for column in accounting.KEY_COLUMNS:
            value = problem[column]
            mask &= pl.col(column).is_null() if value is None else pl.col(column) == value
        rows = keyed.select(mask.alias("hit")).to_series()
        field = problem["field"] if problem["field"] in original.columns else "item"
        collector.check(original, rows, field, _escaped(problem["message"]))
    collector.raise_if_any()


def load_statistics(path: str | Path, library: FactorLibrary) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read a district's activity statistics: activity rows with a ``sector`` column
    (energy_supply, industry, buildings, transport, agriculture, waste, lulucf or their Chinese
    names); every bad cell is named."""
    original, frame = load_activity(path, library)
    problems = ProblemCollector(path)
    require_columns(original, ["sector"], problems)
    problems.raise_if_any()
    sector = _canonical_column(original, "sector", "sectors", problems, "sector")
    problems.check(original, sector.is_null(), "sector", "a sector is required")
    problems.raise_if_any()
    return original, frame.with_columns(sector=sector)


def district_inventory(
    path: str | Path,
    original: pl.DataFrame,
    frame: pl.DataFrame,
    library: FactorLibrary,
    options: accounting.Options,
    enterprises: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The district inventory by year and sector (location- and market-based electricity), with
    the reporting enterprises' sum and share (:func:`qingshan.carbon.accounting.inventory`).

    Every factor both electricity bases need is resolved first, so a missing one is reported
    with the rows that need it instead of failing half-way.
    """
    for basis in ("location", "market"):
        basis_options = replace(options, electricity_basis=basis)
        keyed = accounting.keys_of(frame, basis_options)
        resolution = accounting.resolve(keyed, library, basis_options)
        if resolution.problems.height:
            _report_key_problems(original, keyed, resolution.problems, path)
    return accounting.inventory(frame, library, options, enterprises)


def account(
    path: str | Path,
    original: pl.DataFrame,
    frame: pl.DataFrame,
    library: FactorLibrary,
    options: accounting.Options,
    chunk_rows: int,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> pl.DataFrame:
    """Account the checked activity rows; the factors are resolved once for the whole file.

    The output repeats the input's cells (year, month and quantity as numbers) and adds the
    canonical item key, the series and electricity region used, the results and the trace.

    Raises
    ------
    InputError
        Naming the rows whose fuel, unit or factor cannot be resolved.
    """
    keyed = accounting.keys_of(frame, options)
    resolution = accounting.resolve(keyed, library, options)
    if resolution.problems.height:
        _report_key_problems(original, keyed, resolution.problems, path)
    parts = []
    for offset in range(0, max(keyed.height, 1), chunk_rows):
        chunk = keyed.slice(offset, chunk_rows)
        parts.append(accounting.apply(chunk, resolution))
        on_rows(chunk.height)
    result = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    added = result.select(
        pl.col("item").alias("item_key"),
        "series",
        pl.col("region").alias("electricity_region"),
        *accounting.RESULT_COLUMNS,
        *accounting.TRACE_COLUMNS,
    )
    numbers = [c for c in ("year", "month", "quantity") if c in frame.columns]
    return pl.concat([original.with_columns(frame.select(numbers)), added], how="horizontal")


def summary(result: pl.DataFrame) -> pl.DataFrame:
    """Totals by legal entity and year (the report's summary sheet)."""
    return accounting.totals(result, ["entity", "year"])


def factors_used(result: pl.DataFrame) -> pl.DataFrame:
    """Every factor the result used, once, with value, unit and source (from the traces)."""
    rows: dict[str, dict[str, Any]] = {}
    for trace in result["trace"].drop_nulls().unique().to_list():
        for factor in json.loads(trace)["factors"]:
            rows[factor["id"]] = {k: factor[k] for k in ("id", "value", "unit", "source")}
    schema = {"id": pl.String, "value": pl.Float64, "unit": pl.String, "source": pl.String}
    return pl.DataFrame(list(rows.values()), schema=schema).sort("id")


def _bilingual_sheet(workbook: Any, frame: pl.DataFrame, sheet: str, zh: dict[str, str]) -> None:
    """Write ``frame`` under two header rows: Chinese names, then the English keys."""
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    frame.write_excel(
        workbook,
        worksheet=sheet,
        position=(1, 0),
        header_format=header,
        autofit=True,
        float_precision=4,
        freeze_panes=(2, 0),
    )
    worksheet = workbook.get_worksheet_by_name(sheet)
    for index, column in enumerate(frame.columns):
        worksheet.write(0, index, zh.get(column, column), header)


def _write_workbook(path: Path, sheets: list[tuple[pl.DataFrame, str, dict[str, str]]]) -> Path:
    """Write bilingual sheets to ``path`` atomically (nothing is left behind on failure)."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent, suffix=".xlsx")
    os.close(handle)
    try:
        with xlsxwriter.Workbook(temporary) as workbook:
            for frame, sheet, zh in sheets:
                _bilingual_sheet(workbook, frame, sheet, zh)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_report(result: pl.DataFrame, path: str | Path) -> Path:
    """Write the result; ``.xlsx`` is the bureau report (details, summary, factors sheets)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return write_table(result, path)
    factor_zh = {"id": "因子编号", "value": "数值", "unit": "单位", "source": "来源"}
    return _write_workbook(
        path,
        [
            (result, "排放明细 Emissions", HEADERS_ZH),
            (summary(result), "汇总 Summary", HEADERS_ZH),
            (factors_used(result), "因子 Factors", factor_zh),
        ],
    )


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


YEAR_COLUMNS = ("year", "base_year", "target_year")


def _numbers(path: str | Path, columns: list[str], optional: list[str] = ()) -> pl.DataFrame:
    """Read ``path`` with the numeric ``columns`` required and ``optional`` ones parsed; year
    columns become integers."""
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, columns, problems)
    problems.raise_if_any()
    present = [c for c in [*columns, *optional] if c in frame.columns and c != "indicator"]
    frame = parse_numbers(frame, present, problems, minimum=None)
    for column in columns:
        problems.check(frame, frame[column].is_null(), column, f"a {column} is required")
    years = [c for c in present if c in YEAR_COLUMNS]
    for column in years:
        whole = (frame[column].round(0) == frame[column]).fill_null(True)
        problems.check(frame, ~whole, column, f"{column} {{value}} is not a whole number")
    problems.raise_if_any()
    return frame.with_columns(pl.col(years).cast(pl.Int32))


def load_targets(path: str | Path) -> list[targets.Target]:
    """Targets file: ``indicator, base_year, target_year`` and ``reduction_pct`` or
    ``target_value`` (optional ``name``)."""
    frame = _numbers(
        path, ["indicator", "base_year", "target_year"], ["reduction_pct", "target_value"]
    )
    found = []
    for row_number, row in enumerate(frame.iter_rows(named=True), start=2):
        try:
            found.append(
                targets.Target(
                    indicator=str(row["indicator"]).strip(),
                    base_year=int(row["base_year"]),
                    target_year=int(row["target_year"]),
                    reduction_pct=row.get("reduction_pct"),
                    target_value=row.get("target_value"),
                    name=str(row.get("name") or ""),
                )
            )
        except targets.TargetError as error:
            raise InputError.single(path, str(error), row=row_number, column="indicator") from None
    return found


def load_gdp(path: str | Path) -> pl.DataFrame:
    """GDP file: ``year, gdp_comparable`` [亿元, comparable prices], or ``year, gdp, gdp_index``
    (nominal 亿元 and volume index, previous year = 100) chained by
    :func:`qingshan.carbon.targets.comparable_gdp`."""
    probe = read_table(path)
    if "gdp_comparable" in probe.columns:
        return _numbers(path, ["year", "gdp_comparable"]).select("year", "gdp_comparable")
    frame = _numbers(path, ["year", "gdp"], ["gdp_index"]).sort("year")
    if "gdp_index" not in frame.columns:
        raise InputError.single(
            path, "give gdp_comparable, or gdp with gdp_index (previous year = 100)", row=1
        )
    try:
        chained = targets.comparable_gdp(frame["year"], frame["gdp"], frame["gdp_index"])
    except targets.TargetError as error:
        raise InputError.single(path, str(error), column="year") from None
    return frame.select("year").with_columns(chained)


def load_emissions(path: str | Path) -> pl.DataFrame:
    """Annual emissions: ``year, co2_t, energy_tce`` (rows of one year are summed, so an
    accounting output can be given), optional ``non_fossil_share_pct`` (one row per year)."""
    frame = _numbers(path, ["year"], ["co2_t", "energy_tce", "non_fossil_share_pct"])
    sums = [pl.col(c).sum() for c in ("co2_t", "energy_tce") if c in frame.columns]
    shares = []
    if "non_fossil_share_pct" in frame.columns:
        if frame["year"].is_duplicated().any():
            raise InputError.single(
                path, "non_fossil_share_pct needs exactly one row per year", column="year"
            )
        shares = [pl.col("non_fossil_share_pct").first()]
    return frame.group_by("year").agg(*sums, *shares).sort("year")


def assess_targets(
    targets_path: str | Path, gdp_path: str | Path, emissions_path: str | Path
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Progress table and trajectory table of every target."""
    goals = load_targets(targets_path)
    annual = load_emissions(emissions_path).join(
        load_gdp(gdp_path), on="year", how="full", coalesce=True
    )
    try:
        return targets.assess_all(goals, annual.with_columns(pl.col("year").cast(pl.Int32)))
    except targets.TargetError as error:
        raise InputError.single(targets_path, str(error), column="indicator") from None


def trajectory_path(output: Path) -> Path:
    """Where the trajectory goes next to a CSV or Parquet progress table."""
    return output.with_name(f"{output.stem}_trajectory{output.suffix}")


def write_targets(progress: pl.DataFrame, trajectory: pl.DataFrame, output: Path) -> list[Path]:
    """XLSX: two sheets; CSV/Parquet: the progress table and a ``_trajectory`` sibling."""
    if output.suffix.lower() != ".xlsx":
        return [write_table(progress, output), write_table(trajectory, trajectory_path(output))]
    sheets = [
        (progress, "目标进度 Progress", TARGET_HEADERS_ZH),
        (trajectory, "轨迹 Trajectory", TARGET_HEADERS_ZH),
    ]
    return [_write_workbook(output, sheets)]


TARGET_HEADERS_ZH = {
    "indicator": "指标",
    "indicator_zh": "指标名称",
    "unit": "单位",
    "name": "目标名称",
    "base_year": "基准年",
    "target_year": "目标年",
    "base_value": "基准值",
    "target_value": "目标值",
    "target_change_pct": "目标变化 (%)",
    "latest_year": "最新年份",
    "latest_value": "最新值",
    "achieved_change_pct": "实际变化 (%)",
    "required_value_latest": "进度要求值",
    "required_change_pct_latest": "进度要求变化 (%)",
    "linear_value_latest": "线性进度值",
    "completion_pct": "目标完成度 (%)",
    "time_elapsed_pct": "时间进度 (%)",
    "required_annual_rate_pct": "要求年均变化率 (%)",
    "remaining_annual_rate_pct": "剩余年份年均需变化率 (%)",
    "status": "状态",
    "warning": "预警",
    "message": "说明",
    "year": "年份",
    "actual": "实际值",
    "linear_path": "线性路径",
    "required_path": "要求路径",
}


def notify_target_warnings(engine: Engine, progress: pl.DataFrame, *, actor: str) -> int:
    """Record a notification to the bureau's analysts for every target off its required pace
    (the warning joins the notification routes, and from there a case can be opened);
    returns how many were recorded."""
    warned = progress.filter(pl.col("warning"))
    with writing(engine, actor) as session:
        for row in warned.iter_rows(named=True):
            notifications.notify(
                session,
                kind="carbon_target",
                title=str(row["message"])[:200],
                body=str(row["message"]),
                roles=("analyst", "admin"),
                grid_id=None,
            )
    return warned.height
