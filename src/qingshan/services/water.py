"""Surface-water use-case: evaluate a user's monitoring file per GB 3838—2002 and the 2011 method.

Reading checks every cell (file, row, column; nothing is written on any problem), values below
the detection limit become half the limit, then sections are evaluated per period, or rivers
per period with ``by="river"``. The calculations are :mod:`qingshan.standards.water`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from qingshan.services.tables import (
    MISSING_MARKERS,
    InputError,
    ProblemCollector,
    parse_numbers,
    parse_times,
    read_table,
    require_columns,
)
from qingshan.standards import water

By = Literal["section", "river"]
PeriodChoice = Literal["row", "month", "quarter", "year"]

ITEM_COLUMNS: tuple[str, ...] = (*water.ITEMS, "chla", "sd")
"""Value columns: the 24 GB 3838 Table 1 items, chlorophyll a (mg/m³) and transparency (m)."""

DETECTION_LIMIT_SUFFIX = "_dl"
"""``hg_dl`` holds the detection limit of ``hg`` for cells written ``ND``."""

ID_COLUMNS = ("section", "river", "time", "waterbody", "target_class")
REQUIRED_COLUMNS = ("section", "time")

WATERBODIES = {
    "river": "river",
    "lake": "lake",
    "reservoir": "reservoir",
    "河流": "river",
    "湖泊": "lake",
    "水库": "reservoir",
}
"""Accepted spellings of ``waterbody`` (an empty cell is a river). A river-type reservoir
(河流型水库) is evaluated as a river (2011 method): write ``river``."""

_ROMAN = ("I", "II", "III", "IV", "V")
TARGET_CLASSES = {
    **{label: code for code, label in enumerate(_ROMAN, 1)},
    **{label: code for code, label in enumerate("ⅠⅡⅢⅣⅤ", 1)},
    **{str(code): code for code in range(1, 6)},
}
"""Accepted spellings of ``target_class`` (a trailing 类 is ignored): I–V, Ⅰ–Ⅴ, 1–5."""

NOT_DETECTED = ("ND", "N.D.", "未检出")
"""Cell texts meaning "not detected"; the row's ``<item>_dl`` cell gives the limit."""


def _text(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text.is_in(MISSING_MARKERS)).then(None).otherwise(text).alias(column)


# --------------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------------


def _month_or_year_as_date(column: str) -> pl.Expr:
    """``2024-03`` (or ``2024/03``) → ``2024-03-01``; ``2024`` → ``2024-01-01``."""
    text = _text(column).str.replace(r"^(\d{4})[-/.](\d{1,2})$", "$1-$2-01")
    return text.str.replace(r"^(\d{4})$", "$1-01-01")


def _normalise_headers(frame: pl.DataFrame, problems: ProblemCollector) -> pl.DataFrame:
    """Accept headers in any case and with surrounding spaces (``DO``, `` time``)."""
    names = [name.strip().lower() for name in frame.columns]
    for original, name in zip(frame.columns, names, strict=True):
        if names.count(name) > 1:
            problems.add(f"duplicate column (as {name!r})", row=1, column=original)
    problems.raise_if_any()
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _check_columns(frame: pl.DataFrame, problems: ProblemCollector) -> None:
    known = {*ID_COLUMNS, *ITEM_COLUMNS, *(c + DETECTION_LIMIT_SUFFIX for c in ITEM_COLUMNS)}
    expected = (
        f"expected section, river, time, waterbody, target_class, the items "
        f"{', '.join(ITEM_COLUMNS)}, or <item>{DETECTION_LIMIT_SUFFIX}"
    )
    for column in frame.columns:
        if column not in known:
            problems.add(f"unknown column; {expected}", row=1, column=column)
            expected = "see the columns listed above"
    require_columns(frame, REQUIRED_COLUMNS, problems)
    if not any(c in frame.columns for c in water.EVALUATION_ITEMS):
        problems.add("no evaluation item column found (ph, do, codmn, …)", row=1)


def _below_detection(frame: pl.DataFrame, column: str, problems: ProblemCollector) -> pl.DataFrame:
    """Replace ``<0.01``, ``0.01L`` and ``ND`` (with ``<column>_dl``) by half the limit.

    环办监测函〔2020〕82号 point 7: a value below the detection limit enters the statistics as
    half the detection limit.
    """
    if frame[column].dtype.is_numeric():
        return frame
    text = frame.select(_text(column)).to_series()
    written = pl.select(
        pl.coalesce(text.str.extract(r"^<\s*(\S+)$", 1), text.str.extract(r"^(\S+?)\s*[Ll]$", 1))
    ).to_series()
    limit = written.cast(pl.Float64, strict=False)
    not_detected = text.str.to_uppercase().is_in(NOT_DETECTED).fill_null(False)
    limit_column = column + DETECTION_LIMIT_SUFFIX
    if limit_column in frame.columns:
        limit = pl.select(pl.coalesce(limit, pl.when(not_detected).then(frame[limit_column])))
        limit = limit.to_series()
    problems.check(
        frame,
        not_detected & limit.is_null(),
        column,
        f"{{value!r}} needs the detection limit in column {limit_column!r}",
    )
    problems.check(
        frame, (limit <= 0).fill_null(False), column, "detection limit of {value!r} must be > 0"
    )
    half = (limit / 2).cast(pl.String)
    unknown_limit = not_detected & limit.is_null()
    replaced = pl.select(
        pl.when(limit.is_not_null()).then(half).when(unknown_limit).then(None).otherwise(text)
    ).to_series()
    return frame.with_columns(replaced.alias(column))


def _parse_codes(
    frame: pl.DataFrame,
    column: str,
    mapping: dict[str, str] | dict[str, int],
    problems: ProblemCollector,
    default: str | int,
    message: str,
) -> pl.Series:
    """Map the spellings of ``column`` to codes; an empty cell (or no column) is ``default``."""
    if column not in frame.columns:
        return pl.Series(column, [default] * frame.height)
    text = frame.select(_text(column).str.strip_suffix("类")).to_series()
    known = text.is_in(list(mapping)).fill_null(False)
    problems.check(frame, text.is_not_null() & ~known, column, message)
    return text.replace_strict(mapping, default=None).fill_null(default)


def _check_constant_per_section(
    frame: pl.DataFrame, columns: Sequence[str], problems: ProblemCollector
) -> None:
    """River, waterbody and target class are properties of a section: one value per section."""
    for column in columns:
        if column not in frame.columns:
            continue
        first = frame.select(pl.col(column).first().over("section")).to_series()
        differs = frame[column].ne_missing(first)
        problems.check(
            frame, differs, column, "{value!r} differs from the first row of the same section"
        )


def load_water_input(path: str | Path, by: By = "section") -> pl.DataFrame:
    """Read and check a surface-water file; raise :class:`InputError` naming every bad cell.

    Returns one row per input row with ``section`` and ``river`` as text, ``time`` as a
    date-time, ``waterbody`` (river, lake, reservoir), ``lake`` (bool), ``target`` (class code,
    0 for none) and the item columns as Float64 (below-detection cells at half the limit).
    """
    problems = ProblemCollector(path)
    frame = _normalise_headers(read_table(path), problems)
    _check_columns(frame, problems)
    if by == "river":
        require_columns(frame, ["river"], problems)
    problems.raise_if_any()

    texts = [c for c in ("section", "river") if c in frame.columns]
    frame = frame.with_columns(_text(c) for c in texts)
    problems.check(frame, frame["section"].is_null(), "section", "a section name is required")
    if by == "river":
        problems.check(frame, frame["river"].is_null(), "river", "--by river needs a river name")
    if frame["time"].dtype == pl.String:
        frame = frame.with_columns(_month_or_year_as_date("time"))
    frame = parse_times(frame, "time", problems)

    waterbody = _parse_codes(
        frame,
        "waterbody",
        dict(WATERBODIES),
        problems,
        "river",
        "unknown waterbody {value!r}; use river, lake or reservoir",
    )
    target = _parse_codes(
        frame,
        "target_class",
        dict(TARGET_CLASSES),
        problems,
        0,
        "unknown target class {value!r}; use I, II, III, IV or V",
    )

    items = [c for c in ITEM_COLUMNS if c in frame.columns]
    limits = [f"{c}{DETECTION_LIMIT_SUFFIX}" for c in items]
    limits = [c for c in limits if c in frame.columns]
    frame = parse_numbers(frame, limits, problems, what="detection limit")
    for column in items:
        frame = _below_detection(frame, column, problems)
    concentrations = [c for c in items if c not in ("ph", "water_temp")]
    frame = parse_numbers(frame, concentrations, problems, what="concentration")
    if "ph" in items:
        frame = parse_numbers(frame, ["ph"], problems, minimum=0.0, maximum=14.0, what="pH")
    if "water_temp" in items:
        frame = parse_numbers(frame, ["water_temp"], problems, minimum=None, what="temperature")
    _check_constant_per_section(frame, ["river", "waterbody", "target_class"], problems)
    problems.raise_if_any()

    waterbodies = waterbody.cast(pl.String).alias("waterbody")
    targets = target.cast(pl.Int64).alias("target")
    no_river = pl.Series("river", [None] * frame.height, dtype=pl.String)
    river = frame["river"] if "river" in frame.columns else no_river
    return frame.select("section", "time", *items).with_columns(
        river.alias("river"),
        waterbodies,
        (waterbodies != "river").alias("lake"),
        targets,
        pl.col("time").dt.strftime("%Y-%m-%d %H:%M").alias("time_text"),
    )


def items_in(frame: pl.DataFrame) -> list[str]:
    """The item columns present in a loaded frame, in :data:`ITEM_COLUMNS` order."""
    return [c for c in ITEM_COLUMNS if c in frame.columns]


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

SECTION_KEYS = ("section", "river", "waterbody", "lake", "target")


def section_periods(frame: pl.DataFrame, period: PeriodChoice) -> pl.DataFrame:
    """One row per section and period with the period means (``row``: one per input row)."""
    items = items_in(frame)
    if period == "row":
        return frame.with_columns(
            pl.col("time_text").alias("period"), pl.lit(1, pl.Int64).alias("samples")
        )
    return water.period_means(frame, SECTION_KEYS, items, period)


def _item_values(frame: pl.DataFrame, items: Sequence[str]) -> list[pl.Series]:
    """Item columns as evaluated: rounded half-even to the method's decimals."""
    return [
        _series(column, water.evaluation_value(column, frame[column].to_numpy()))
        for column in items
    ]


def _evaluate(frame: pl.DataFrame, items: Sequence[str], targets: np.ndarray) -> dict[str, object]:
    values = {c: frame[c].to_numpy().astype(np.float64) for c in items}
    result = water.evaluate_sections(values, frame["lake"].to_numpy(), targets)
    return {
        "class": water.class_label(result.section_class),
        "status": water.status_field(result.grade, "name"),
        "status_en": water.status_field(result.grade, "name_en"),
        "color": water.status_field(result.grade, "color"),
        "main_pollutants": result.main_pollutants,
        "exceedance": result.exceedance,
        "meets_target": result.meets_target,
        "tli": result.tli,
        "trophic_state": water.trophic_field(result.trophic_state, "name"),
        "trophic_state_en": water.trophic_field(result.trophic_state, "name_en"),
        "reference_classes": result.reference_classes,
        "_class_code": result.section_class,
    }


def _series(name: str, values: object) -> pl.Series:
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return pl.Series(name, array, dtype=pl.Float64, nan_to_null=True)
    if array.dtype.kind in "iu":
        return pl.Series(name, array, dtype=pl.Int64)
    return pl.Series(name, array.tolist(), dtype=pl.String)


def evaluate_sections(frame: pl.DataFrame, period: PeriodChoice = "month") -> pl.DataFrame:
    """Per section and period: the period means and the full GB 3838 / 2011-method evaluation.

    Columns: section, river, waterbody, period, samples, target_class, the item columns (as
    evaluated), class, status, status_en, color, main_pollutants, exceedance, meets_target,
    tli, trophic_state, trophic_state_en, reference_classes.
    """
    items = items_in(frame)
    periods = section_periods(frame, period)
    targets = periods["target"].to_numpy()
    added = _evaluate(periods, items, targets)
    head = periods.select(
        "section",
        "river",
        "waterbody",
        "period",
        "samples",
        pl.col("target")
        .replace_strict(dict(enumerate(water.CLASS_LABELS)), return_dtype=pl.String)
        .replace("", None)
        .alias("target_class"),
    )
    return head.with_columns(
        *_item_values(periods, items),
        *(_series(name, values) for name, values in added.items() if not name.startswith("_")),
    )


def evaluate_rivers(frame: pl.DataFrame, period: PeriodChoice = "year") -> pl.DataFrame:
    """Per river (or lake) and period, per the 2011 method for rivers, basins and lakes.

    Rivers with fewer than five classed sections, and every lake or reservoir: the mean of each
    item over the sections' (points') period means, evaluated as one section ("mean"). Rivers
    with five sections or more (含5个): grade by the share of Class Ⅰ–Ⅲ and 劣Ⅴ sections
    (Table 2), main pollutants by section exceedance rate ("proportion"); no class is given.
    """
    if period == "row":
        raise ValueError("rivers are evaluated per month, quarter or year, not per row")
    items = items_in(frame)
    sections = section_periods(frame, period)
    classes = _evaluate(sections, items, np.zeros(sections.height, np.int64))["_class_code"]
    sections = sections.with_columns(pl.Series("_class", np.asarray(classes), dtype=pl.Int64))
    sections = sections.filter(pl.col("_class") > 0)
    keys = ["river", "waterbody", "lake", "period"]
    counts = sections.group_by(keys, maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("sections"),
        (pl.col("_class") <= water.REFERENCE_CLASS).sum().alias("_n13"),
        (pl.col("_class") == water.WORSE_THAN_V).sum().alias("_n6"),
    )
    means = water.group_means(sections, keys, items).drop("samples")
    groups = counts.join(means, on=keys, how="left", maintain_order="left")
    proportion = water.uses_proportion_method(
        groups["sections"].to_numpy(), groups["lake"].to_numpy()
    )
    by_mean = _evaluate(groups, items, np.zeros(groups.height, np.int64))
    rates = _proportion_results(sections, groups, keys, items)
    grade = np.where(
        proportion,
        water.basin_grade(groups["_n13"], groups["_n6"], groups["sections"]),
        water.status_grade(np.asarray(by_mean["_class_code"])),
    )
    mean_only = {
        name: np.where(proportion, None, np.asarray(by_mean[name], dtype=object))
        for name in ("class", "exceedance")
    }
    total = groups["sections"].to_numpy()
    return groups.select("river", "waterbody", "period", "sections").with_columns(
        _series("method", np.where(proportion, "proportion", "mean").astype(object)),
        _series("class", mean_only["class"]),
        _series("share_i_iii", water.round_half_even(100 * groups["_n13"] / total, 1)),
        _series("share_worse_v", water.round_half_even(100 * groups["_n6"] / total, 1)),
        _series("status", water.status_field(grade, "name")),
        _series("status_en", water.status_field(grade, "name_en")),
        _series("color", water.status_field(grade, "color")),
        _series(
            "main_pollutants",
            np.where(proportion, rates["main"], np.asarray(by_mean["main_pollutants"], object)),
        ),
        _series("exceedance", mean_only["exceedance"]),
        _series("section_exceedance_rates", rates["rates"]),
        _series("tli", by_mean["tli"]),
        _series("trophic_state", by_mean["trophic_state"]),
        _series("trophic_state_en", by_mean["trophic_state_en"]),
    )


def _proportion_results(
    sections: pl.DataFrame, groups: pl.DataFrame, keys: Sequence[str], items: Sequence[str]
) -> dict[str, np.ndarray]:
    """Main pollutants by section exceedance rate, kept for rivers graded 轻度污染 or worse."""
    index = groups.select(keys).with_row_index("_group")
    coded = sections.join(index, on=list(keys), how="left", maintain_order="left")
    lakes = coded["lake"].to_numpy()
    classes = {
        c: water.item_class(c, coded[c].to_numpy().astype(np.float64), lakes)
        for c in items
        if c in water.EVALUATION_ITEMS
    }
    main, rates = water.basin_main_pollutants(classes, coded["_group"].to_numpy(), groups.height)
    grade = water.basin_grade(groups["_n13"], groups["_n6"], groups["sections"])
    main = np.where(grade > water.status_grade(water.REFERENCE_CLASS), main, None)
    return {"main": main, "rates": rates}


def count_by(result: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of ``column`` (``NA`` for empty), for the ``--json`` summary."""
    counts = result.group_by(column).len().sort(column)
    return {(row[column] or "NA"): int(row["len"]) for row in counts.iter_rows(named=True)}


# --------------------------------------------------------------------------------------------
# Trend between two periods
# --------------------------------------------------------------------------------------------

_COMPARED = ("class", "status", "share_i_iii", "share_worse_v", "method")


def trend(
    frame: pl.DataFrame,
    earlier: str,
    later: str,
    by: By = "section",
    period: PeriodChoice = "year",
    source: str | Path = "input",
) -> pl.DataFrame:
    """Change of each section (or river) from period ``earlier`` to period ``later``.

    Sections, and rivers evaluated on their means: by the change of status grade (2011 method,
    水质变化趋势分析). Rivers graded by the proportion method in both periods: ΔG − ΔD
    (``delta_g_minus_d``). ``earlier`` and ``later`` are period labels as the evaluation
    writes them (``2023``, ``2023-Q4``, ``2023-12``).

    Raises
    ------
    InputError
        If a period has no data.
    """
    evaluate = evaluate_rivers if by == "river" else evaluate_sections
    evaluated = evaluate(frame, period)
    found = evaluated["period"].unique().sort().to_list()
    for label in (earlier, later):
        if label not in found:
            raise InputError.single(
                source, f"period {label!r} has no data; periods found: {', '.join(found)}"
            )
    keys = ["river", "waterbody"] if by == "river" else ["section", "river", "waterbody"]
    compared = [c for c in _COMPARED if c in evaluated.columns]

    def side(label: str, prefix: str) -> pl.DataFrame:
        rows = evaluated.filter(pl.col("period") == label).select(*keys, *compared)
        return rows.rename({c: f"{prefix}_{c}" for c in compared})

    joined = side(earlier, "earlier").join(
        side(later, "later"),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,
        maintain_order="left_right",
    )
    grades = {s.name: s.grade for s in water.statuses()}
    before, after = (
        joined[f"{p}_status"].replace_strict(grades, default=0, return_dtype=pl.Int64).to_numpy()
        for p in ("earlier", "later")
    )
    labels = water.grade_trend(before, after)
    added = [pl.lit(earlier).alias("earlier_period"), pl.lit(later).alias("later_period")]
    if by == "river":
        both = (joined["earlier_method"] == "proportion") & (joined["later_method"] == "proportion")
        proportion = both.fill_null(False).to_numpy()
        delta, by_shares = water.proportion_trend(
            (joined["earlier_share_i_iii"].to_numpy(), joined["later_share_i_iii"].to_numpy()),
            (joined["earlier_share_worse_v"].to_numpy(), joined["later_share_worse_v"].to_numpy()),
        )
        labels = np.where(proportion, by_shares, labels)
        added.append(_series("delta_g_minus_d", np.where(proportion, delta, np.nan)))
    result = joined.with_columns(*added, _series("trend", labels))
    return result.select(*keys, "earlier_period", "later_period", pl.exclude(*keys, *PERIODS))


PERIODS = ("earlier_period", "later_period")
