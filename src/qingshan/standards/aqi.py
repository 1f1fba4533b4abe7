"""Air quality index (AQI, 空气质量指数) per HJ 633—2012 and HJ 633—2026.

Two layers:

* :func:`iaqi` — the individual index of one indicator, vectorised over a numpy array.
* :func:`aqi_table` — the whole report over a table (pyarrow or polars): every IAQI, the AQI,
  level, category, colour, primary and exceedance pollutants, as the edition in force says.

Exactness. Concentrations are taken as decimal numbers (to 10⁻⁶ of their unit, see
:mod:`qingshan.standards.rounding`), and formula (1) is evaluated on integers held in float64,
so the ceiling of HJ 633—2012 §6.2 / HJ 633—2026 §4.2.6 ("全部向上进位取整数") is exact:
CO 24-h 2.2 mg/m³ gives IAQI 55, never 56.

Editions. ``rules="2012"`` and ``rules="2026"`` select an edition; ``rules="auto"`` takes each
row's own edition from its time: before 2026-03-01 00:00 (the start of the period) HJ 633—2012,
from then on HJ 633—2026 (HJ 633—2026 foreword: in force 2026-03-01).

Choices where the standards are silent (documented in ``docs/air.md``):

* Above the top breakpoint of a full column the IAQI is 500 and the pollutant is listed in
  ``above_scale_pollutants``.
* Under the 2012 rules an AQI is computed from the indicators present; the missing ones are
  listed in ``missing_pollutants``. (HJ 633—2012 Tables 3 and 4 only say that missing
  indicators are marked NA; HJ 633—2026 §5.3.1 adds the rule applied under 2026.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import reference
from qingshan.standards.rounding import round_micro_half_even, to_micro

Edition = Literal["2012", "2026"]
Rules = Literal["2012", "2026", "auto"]
Report = Literal["hourly", "daily"]

EDITIONS: tuple[Edition, ...] = ("2012", "2026")
EDITION_2026_FROM = np.datetime64("2026-03-01T00:00:00", "us")
"""First instant under HJ 633—2026 (its foreword: in force 2026-03-01)."""

POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
"""Pollutant names as reported, in the order used when several are joined with ``;``."""

_POLLUTANT_OF_PREFIX = {
    "so2": "SO2", "no2": "NO2", "co": "CO", "o3": "O3", "pm10": "PM10", "pm25": "PM2.5",
}
_LEVEL_UPPER = np.array([50.0, 100.0, 150.0, 200.0, 300.0])
"""Upper AQI of levels 1–5 (HJ 633—2012 Table 2; HJ 633—2026 Table 1)."""


def pollutant_of(indicator: str) -> str:
    """Return the pollutant name (``"PM2.5"``) of an indicator key (``"pm25_24h"``)."""
    return _POLLUTANT_OF_PREFIX[indicator.split("_", 1)[0]]


def edition_for(times: ArrayLike) -> NDArray[np.bool_]:
    """Return, per time, whether HJ 633—2026 is in force (else HJ 633—2012).

    Parameters
    ----------
    times : array-like of datetime64
        Start of each averaging period, local time (Asia/Shanghai), timezone-naive.
    """
    stamps = np.asarray(times).astype("datetime64[us]")
    if np.isnat(stamps).any():
        raise ValueError("rules='auto' needs a time for every row; some times are missing")
    return stamps >= EDITION_2026_FROM


# --------------------------------------------------------------------------------------------
# Breakpoint tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakpoints:
    """One column of HJ 633 Table 1 (2012) / Table 3 (2026), on the micro-unit grid.

    ``above`` says what happens above the last breakpoint: for a full column (last IAQI 500)
    the IAQI is 500 and flagged; for the truncated SO2 1-h and O3 8-h columns it is the
    edition's note — another indicator's IAQI (2012, ``use``) or a fixed IAQI (2026).
    """

    indicator: str
    edition: Edition
    concentration: NDArray[np.float64]
    iaqi: NDArray[np.float64]
    use_instead: str | None
    fixed_iaqi_above: float | None

    @property
    def full(self) -> bool:
        return bool(self.iaqi[-1] == 500)


def _table_key(indicator: str) -> str:
    """Map a report column such as ``o3_8h_max`` to the breakpoint column it uses."""
    aliases: dict[str, str] = reference.load("hj633")["report_column_breakpoints"]
    return aliases.get(indicator, indicator)


@cache
def breakpoints(indicator: str, edition: Edition) -> Breakpoints:
    """Return the breakpoint column of ``indicator`` under ``edition``.

    Raises
    ------
    ValueError
        If the edition has no IAQI for the indicator (for example ``pm25_1h`` under 2012,
        whose 1-h value is concentration only: HJ 633—2012 Table 4).
    """
    spec = reference.load("hj633")["editions"][edition]
    key = _table_key(indicator)
    if key not in spec["breakpoints"]:
        raise ValueError(f"HJ 633—{edition} has no IAQI for indicator {indicator!r}")
    concentration = to_micro(spec["breakpoints"][key])
    iaqi_values = np.asarray(spec["iaqi"][: len(concentration)], dtype=np.float64)
    above = spec.get("above_truncated", {}).get(key, {})
    return Breakpoints(
        indicator=indicator,
        edition=edition,
        concentration=concentration,
        iaqi=iaqi_values,
        use_instead=above.get("use"),
        fixed_iaqi_above=float(above["iaqi"]) if "iaqi" in above else None,
    )


def report_indicators(report: Report, edition: Edition) -> tuple[str, ...]:
    """Indicators that carry an IAQI in ``report`` under ``edition``.

    HJ 633—2012 §5.1.2–5.1.3 (Tables 3 and 4); HJ 633—2026 §4.2.2–4.2.3.
    """
    spec = reference.load("hj633")["editions"][edition]["reports"][report]
    return tuple(spec["indicators"])


def report_columns(report: Report) -> tuple[str, ...]:
    """Every indicator column a report of either edition reads, in output order."""
    columns: list[str] = []
    for edition in EDITIONS:
        spec = reference.load("hj633")["editions"][edition]["reports"][report]
        for column in (*spec["indicators"], *spec["concentration_only"]):
            if column not in columns:
                columns.append(column)
    return tuple(columns)


def _input_decimals(indicator: str, edition: Edition) -> int | None:
    """Decimals to which HJ 633—2026 §4.2.2 rounds the input concentration (None: no rounding)."""
    rounding = reference.load("hj633")["editions"][edition].get("input_rounding")
    if rounding is None:
        return None
    decimals: int = rounding["decimals"][indicator.split("_", 1)[0]]
    return decimals


# --------------------------------------------------------------------------------------------
# IAQI kernel
# --------------------------------------------------------------------------------------------


def _interpolate(table: Breakpoints, micro: NDArray[np.float64]) -> NDArray[np.float64]:
    """Formula (1) with the ceiling, exact on the micro-unit grid.

    IAQI_P = (IAQI_Hi − IAQI_Lo) / (BP_Hi − BP_Lo) × (C_P − BP_Lo) + IAQI_Lo
    (HJ 633—2012 §4.2 formula (1); HJ 633—2026 §4.2.5), rounded up (2012 §6.2, 2026 §4.2.6).

    Numerator and denominator are integers below 2⁵³, so they are exact in float64, and a
    correctly rounded quotient of integers lands on an integer only when the exact quotient is
    one: ``ceil`` never adds one by floating-point error.
    """
    bp = table.concentration
    segment = np.searchsorted(bp, micro, side="right") - 1
    np.clip(segment, 0, len(bp) - 2, out=segment)
    low = bp[:-1][segment]
    width = np.diff(bp)[segment]
    rise = np.diff(table.iaqi)[segment]
    base = table.iaqi[:-1][segment]
    return np.ceil((base * width + rise * (micro - low)) / width)


def _micro_input(indicator: str, values: ArrayLike, edition: Edition) -> NDArray[np.float64]:
    micro = to_micro(values)
    if (micro < 0).any():
        raise ValueError(f"{indicator}: concentrations must not be negative")
    decimals = _input_decimals(indicator, edition)
    return micro if decimals is None else round_micro_half_even(micro, decimals)


@dataclass(frozen=True)
class IaqiResult:
    """IAQI of one indicator with the rows where a special rule applied."""

    value: NDArray[np.float64]
    above_scale: NDArray[np.bool_]
    """Above the top breakpoint of a full column: IAQI set to 500."""
    above_truncated: NDArray[np.bool_]
    """Above the last breakpoint of the truncated SO2 1-h / O3 8-h column (notes 2–3 / b–c)."""


def _iaqi_one_edition(indicator: str, values: ArrayLike, edition: Edition) -> IaqiResult:
    table = breakpoints(indicator, edition)
    micro = _micro_input(indicator, values, edition)
    value = _interpolate(table, micro)
    above = micro > table.concentration[-1]
    if table.full:
        value[above] = 500.0
        return IaqiResult(value, above, np.zeros_like(above))
    value[above] = np.nan if table.fixed_iaqi_above is None else table.fixed_iaqi_above
    return IaqiResult(value, np.zeros_like(above), above)


def iaqi(
    indicator: str,
    values: ArrayLike,
    rules: Rules = "2026",
    times: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Individual air quality index (IAQI, 空气质量分指数) of one indicator.

    Parameters
    ----------
    indicator : str
        ``so2_24h, so2_1h, no2_24h, no2_1h, co_24h, co_1h, o3_1h, o3_8h, pm10_24h, pm25_24h``,
        and under 2026 ``pm10_1h, pm25_1h`` (daily breakpoints, HJ 633—2026 §4.2.4); the daily
        report names ``o3_1h_max`` and ``o3_8h_max`` are accepted too.
    values : array-like
        Concentrations; NaN where missing. [µg/m³; CO mg/m³]
    rules : {"2012", "2026", "auto"}
        Edition of HJ 633; ``"auto"`` picks it per value from ``times``.
    times : array-like of datetime64, optional
        Start of each averaging period; required with ``rules="auto"``.

    Returns
    -------
    numpy.ndarray of float64
        Integer IAQI values, NaN where the value is missing. Under 2012, SO2 1-h above 800 and
        O3 8-h above 800 are NaN: notes (2) and (3) of Table 1 say the IAQI is not computed and
        another indicator's is reported (:func:`aqi_table` applies that). Under 2026 they are
        200 and 300 (Table 3 notes b and c). Above the top of a full column: 500.

    Raises
    ------
    ValueError
        On a negative concentration, an unknown indicator or an indicator the edition does
        not index.

    References
    ----------
    HJ 633—2012 Table 1, §4.2, §6.2; HJ 633—2026 Table 3, §4.2.2, §4.2.4–4.2.6.
    """
    if rules == "auto":
        if times is None:
            raise ValueError("rules='auto' needs the times of the values")
        is_2026 = edition_for(times)
        newer = _iaqi_one_edition(indicator, values, "2026").value
        older = _iaqi_one_edition(indicator, values, "2012").value
        return np.where(is_2026, newer, older)
    if rules not in EDITIONS:
        raise ValueError(f"rules must be '2012', '2026' or 'auto', got {rules!r}")
    return _iaqi_one_edition(indicator, values, rules).value


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """One AQI level (HJ 633—2012 Table 2 / Table A.1; HJ 633—2026 Table 1 / Table A.1)."""

    level: int
    upper: int
    name: str
    name_en: str
    color: str
    rgb: tuple[int, int, int]
    health_effect: str
    advice: str


def categories(edition: Edition = "2026") -> tuple[Category, ...]:
    """The six AQI categories with the health effects and advice of ``edition``."""
    return tuple(
        Category(
            level=row["level"],
            upper=row["upper"],
            name=row["name"],
            name_en=row["name_en"],
            color=row["color"],
            rgb=tuple(row["rgb"]),
            health_effect=row[f"health_{edition}"],
            advice=row[f"advice_{edition}"],
        )
        for row in reference.load("hj633")["categories"]
    )


def level(aqi_values: ArrayLike) -> NDArray[np.float64]:
    """AQI level 1–6 (NaN where the AQI is NaN): 0–50 → 1, 51–100 → 2, …, >300 → 6."""
    values = np.asarray(aqi_values, dtype=np.float64)
    levels = (np.searchsorted(_LEVEL_UPPER, values, side="left") + 1).astype(np.float64)
    levels[np.isnan(values)] = np.nan
    return levels


# --------------------------------------------------------------------------------------------
# The report over a table
# --------------------------------------------------------------------------------------------


@dataclass
class _EditionResult:
    """Per-edition outcome, over every row; the caller keeps the rows of the edition."""

    iaqi: dict[str, NDArray[np.float64]]
    aqi: NDArray[np.float64]
    missing: dict[str, NDArray[np.bool_]]
    above_scale: dict[str, NDArray[np.bool_]]
    notes: dict[str, NDArray[np.bool_]]


def _substitute_column(column: str, use_instead: str) -> str:
    """Report column whose IAQI replaces ``column`` above a truncated 2012 column.

    ``o3_8h`` → ``o3_1h`` in the hourly report, ``o3_8h_max`` → ``o3_1h_max`` in the daily one.
    """
    return use_instead + column[len(_table_key(column)) :]


def _edition_report(
    columns: dict[str, NDArray[np.float64]], report: Report, edition: Edition
) -> _EditionResult:
    n = len(next(iter(columns.values())))
    nan = np.full(n, np.nan)
    result = _EditionResult(iaqi={}, aqi=nan.copy(), missing={}, above_scale={}, notes={})
    for column in report_indicators(report, edition):
        values = columns.get(column, nan)
        one = _iaqi_one_edition(column, values, edition)
        value = one.value
        if one.above_truncated.any():
            table = breakpoints(column, edition)
            if table.use_instead is not None:
                other = _substitute_column(column, table.use_instead)
                substitute = _iaqi_one_edition(other, columns.get(other, nan), edition).value
                value = np.where(one.above_truncated, substitute, value)
                result.notes[f"{column}>800→{other}"] = one.above_truncated
            else:
                result.notes[f"{column}>800→{table.fixed_iaqi_above:g}"] = one.above_truncated
        result.iaqi[column] = value
        result.missing[column] = np.isnan(value)
        result.above_scale[column] = one.above_scale
        result.aqi = np.fmax(result.aqi, value)
    if edition == "2026":
        withheld = _withheld_2026(result)
        result.aqi[withheld] = np.nan
        result.notes["AQI NA (HJ 633—2026 §5.3.1)"] = withheld
    return result


def _withheld_2026(result: _EditionResult) -> NDArray[np.bool_]:
    """HJ 633—2026 §5.3.1: an indicator is missing and the AQI of the rest is ≤ 100 → AQI NA."""
    any_missing = np.logical_or.reduce(list(result.missing.values()))
    with np.errstate(invalid="ignore"):
        return any_missing & ~(result.aqi > 100)


def _join(names: Sequence[str], masks: Sequence[NDArray[np.bool_]], n: int) -> NDArray[Any]:
    """Per row, the ``names`` whose mask is true, joined with ``;`` (None when none are)."""
    if not names:
        return np.full(n, None, dtype=object)
    bits = np.zeros(n, dtype=np.int64)
    for position, mask in enumerate(masks):
        bits |= mask.astype(np.int64) << position
    lookup = np.array(
        [
            ";".join(name for position, name in enumerate(names) if combo >> position & 1) or None
            for combo in range(1 << len(names))
        ],
        dtype=object,
    )
    return lookup[bits]


def _by_pollutant(masks: dict[str, NDArray[np.bool_]], n: int) -> NDArray[Any]:
    names = [p for p in POLLUTANTS if p in masks]
    return _join(names, [masks[p] for p in names], n)


def _merge(
    is_2026: NDArray[np.bool_], results: dict[Edition, _EditionResult], field: str
) -> dict[str, NDArray[Any]]:
    """Combine one per-name field of both editions row by row (absent name → False/NaN)."""
    names: list[str] = []
    for result in results.values():
        names += [name for name in getattr(result, field) if name not in names]
    merged: dict[str, NDArray[Any]] = {}
    for name in names:
        parts = {e: getattr(r, field).get(name) for e, r in results.items()}
        older = parts.get("2012")
        newer = parts.get("2026")
        template = older if older is not None else newer
        assert template is not None
        blank = np.full(len(is_2026), np.nan if template.dtype.kind == "f" else False)
        merged[name] = np.where(
            is_2026,
            newer if newer is not None else blank,
            older if older is not None else blank,
        )
    return merged


TableT = TypeVar("TableT")


def aqi_table(
    table: TableT,
    report: Report = "hourly",
    rules: Rules = "2026",
    time_column: str = "time",
) -> TableT:
    """Add the AQI report of each row to a table of concentrations.

    Parameters
    ----------
    table : pyarrow.Table or polars.DataFrame
        Indicator columns named as in :func:`report_columns` (µg/m³, CO mg/m³; null where
        missing); any other column passes through unchanged. An absent indicator column counts
        as missing in every row.
    report : {"hourly", "daily"}
        Real-time (实时报) or daily (日报) report: HJ 633—2012 §5.1, HJ 633—2026 §4.2.2–4.2.3.
    rules : {"2012", "2026", "auto"}
        Edition; ``"auto"`` uses ``time_column`` (start of the period) row by row.
    time_column : str
        Column with the start of each period, used with ``rules="auto"``.

    Returns
    -------
    Same type as ``table``, with columns added: ``iaqi_<indicator>`` for each indicator that
    has an IAQI under an edition used, ``aqi``, ``level`` (1–6), ``category``, ``category_en``,
    ``color``, ``primary_pollutants`` (AQI > 50, all tied: 2012 §4.4.2 / 2026 §4.3.1),
    ``exceedance_pollutants`` (IAQI > 100, 2012 §3.4 only — 2026 removed it), ``rules``,
    ``missing_pollutants``, ``above_scale_pollutants`` and ``notes`` (special rules applied).
    """
    arrow, back = _to_arrow(table)
    n = arrow.num_rows
    columns = {
        name: _float_column(arrow, name) for name in report_columns(report) if name in arrow.schema.names
    }
    if rules == "auto":
        if time_column not in arrow.schema.names:
            raise ValueError(f"rules='auto' needs a {time_column!r} column")
        is_2026 = edition_for(arrow.column(time_column).to_numpy(zero_copy_only=False))
    elif rules in EDITIONS:
        is_2026 = np.full(n, rules == "2026")
    else:
        raise ValueError(f"rules must be '2012', '2026' or 'auto', got {rules!r}")

    # Under "auto" both editions are evaluated so that the columns do not depend on the data.
    used: tuple[Edition, ...] = EDITIONS if rules == "auto" else (rules,)
    if not columns:
        columns = {"_": np.full(n, np.nan)}
    results = {edition: _edition_report(columns, report, edition) for edition in used}
    aqi_values = np.full(n, np.nan)
    for edition, result in results.items():
        rows = is_2026 if edition == "2026" else ~is_2026
        aqi_values[rows] = result.aqi[rows]
    iaqis = _merge(is_2026, results, "iaqi")
    missing = _any_by_pollutant(_merge(is_2026, results, "missing"))
    above_scale = _any_by_pollutant(_merge(is_2026, results, "above_scale"))
    notes = _merge(is_2026, results, "notes")

    levels = level(aqi_values)
    has_aqi = ~np.isnan(aqi_values)
    with np.errstate(invalid="ignore"):
        primary = _any_by_pollutant(
            {c: (v == aqi_values) & (aqi_values > 50) for c, v in iaqis.items()}
        )
        exceeding = _any_by_pollutant({c: (v > 100) & ~is_2026 for c, v in iaqis.items()})

    cats = categories("2026")
    level_index = np.where(has_aqi, np.nan_to_num(levels, nan=1.0), 1.0).astype(np.int64) - 1

    def by_level(values: list[str]) -> NDArray[Any]:
        out = np.array(values, dtype=object)[level_index]
        out[~has_aqi] = None
        return out

    added: dict[str, pa.Array] = {}
    for column, values in iaqis.items():
        added[f"iaqi_{column}"] = _int_array(values)
    added["aqi"] = _int_array(aqi_values)
    added["level"] = _int_array(levels)
    added["category"] = pa.array(by_level([c.name for c in cats]), pa.string())
    added["category_en"] = pa.array(by_level([c.name_en for c in cats]), pa.string())
    added["color"] = pa.array(by_level([c.color for c in cats]), pa.string())
    added["primary_pollutants"] = pa.array(_by_pollutant(primary, n), pa.string())
    added["exceedance_pollutants"] = pa.array(_by_pollutant(exceeding, n), pa.string())
    added["rules"] = pa.array(np.where(is_2026, "2026", "2012").astype(object), pa.string())
    added["missing_pollutants"] = pa.array(_by_pollutant(missing, n), pa.string())
    added["above_scale_pollutants"] = pa.array(_by_pollutant(above_scale, n), pa.string())
    added["notes"] = pa.array(_join(list(notes), list(notes.values()), n), pa.string())
    for name in added:
        if name in arrow.schema.names:
            raise ValueError(f"the input already has a column named {name!r}")
    for name, array in added.items():
        arrow = arrow.append_column(name, array)
    return back(arrow)


def _any_by_pollutant(masks: dict[str, NDArray[np.bool_]]) -> dict[str, NDArray[np.bool_]]:
    """Combine indicator masks per pollutant (O3 has two indicators in the 2012 daily report)."""
    combined: dict[str, NDArray[np.bool_]] = {}
    for indicator, mask in masks.items():
        pollutant = pollutant_of(indicator)
        combined[pollutant] = combined[pollutant] | mask if pollutant in combined else mask
    return combined


def _float_column(arrow: pa.Table, name: str) -> NDArray[np.float64]:
    column = arrow.column(name)
    if not pa.types.is_floating(column.type) and not pa.types.is_integer(column.type):
        if not pa.types.is_null(column.type):
            raise ValueError(f"column {name!r} must be numeric, found {column.type}")
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _int_array(values: NDArray[np.float64]) -> pa.Array:
    mask = np.isnan(values)
    return pa.array(np.where(mask, 0, values).astype(np.int64), pa.int64(), mask=mask)


def _to_arrow(table: Any) -> tuple[pa.Table, Any]:
    if isinstance(table, pa.Table):
        return table, lambda result: result
    try:
        import polars as pl
    except ImportError:  # pragma: no cover - polars is a dependency
        pl = None
    if pl is not None and isinstance(table, pl.DataFrame):
        return table.to_arrow(), pl.from_arrow
    raise TypeError(f"expected a pyarrow.Table or polars.DataFrame, got {type(table).__name__}")
