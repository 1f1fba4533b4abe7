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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import reference
from qingshan.standards.rounding import round_micro_half_even, to_micro

Edition = Literal["2012", "2026"]
Rules = Literal["2012", "2026", "auto"]
Report = Literal["hourly", "daily"]
TableT = TypeVar("TableT")

EDITIONS: tuple[Edition, ...] = ("2012", "2026")
EDITION_2026_FROM = np.datetime64("2026-03-01T00:00:00", "us")
"""First instant under HJ 633—2026 (its foreword: in force 2026-03-01)."""

POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
"""Pollutant names as reported, in the order used when several are joined with ``;``."""

_POLLUTANT_OF_PREFIX = {
    "so2": "SO2",
    "no2": "NO2",
    "co": "CO",
    "o3": "O3",
    "pm10": "PM10",
    "pm25": "PM2.5",
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
    """One column of HJ 633—2012 Table 1 / HJ 633—2026 Table 3, on the micro-unit grid.

    Formula (1) is stored per segment as ``IAQI = ceil((offset + rise × C) / width)`` with
    ``width = BP_Hi − BP_Lo``, ``rise = IAQI_Hi − IAQI_Lo`` and
    ``offset = IAQI_Lo × width − rise × BP_Lo``: integers, so the evaluation is exact.

    ``use_instead`` and ``fixed_iaqi_above`` say what the edition's notes prescribe above the
    last breakpoint of the truncated SO2 1-h and O3 8-h columns: another indicator's IAQI
    (2012 notes 2–3) or a fixed IAQI (2026 notes b–c). A full column ends at IAQI 500.
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

    @cached_property
    def width(self) -> NDArray[np.float64]:
        return np.diff(self.concentration)

    @cached_property
    def rise(self) -> NDArray[np.float64]:
        return np.diff(self.iaqi)

    @cached_property
    def offset(self) -> NDArray[np.float64]:
        return self.iaqi[:-1] * self.width - self.rise * self.concentration[:-1]

    @cached_property
    def lookup(self) -> NDArray[np.float64]:
        """IAQI at 0, 0.1, 0.2, … up to the last breakpoint (see :data:`LOOKUP_STEP`)."""
        grid = np.arange(0.0, self.concentration[-1] + LOOKUP_STEP, LOOKUP_STEP)
        return _formula(self, grid)


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


def _segment(concentration: NDArray[np.float64], micro: NDArray[np.float64]) -> NDArray[np.intp]:
    """Index of the segment holding each value (0 below the second breakpoint, last above).

    Counting the inner breakpoints a value reaches is several times faster than
    ``numpy.searchsorted`` on these eight-entry tables; a value equal to a breakpoint may take
    either neighbouring segment, which give the same IAQI because the breakpoints are continuous.
    """
    inner = concentration[1:-1]
    counts = np.zeros(micro.shape, dtype=np.int8)
    for breakpoint in inner:
        counts += (micro >= breakpoint).view(np.int8)
    return counts.astype(np.intp)


def _formula(table: Breakpoints, micro: NDArray[np.float64]) -> NDArray[np.float64]:
    """Formula (1) with the ceiling, exact on the micro-unit grid.

    IAQI_P = (IAQI_Hi − IAQI_Lo) / (BP_Hi − BP_Lo) × (C_P − BP_Lo) + IAQI_Lo
    (HJ 633—2012 §4.2 formula (1); HJ 633—2026 §4.2.5), rounded up (2012 §6.2, 2026 §4.2.6).

    Numerator and denominator are integers below 2⁵³, so they are exact in float64, and a
    correctly rounded quotient of integers lands on an integer only when the exact quotient is
    one: ``ceil`` never adds one by floating-point error. Values above the table are replaced
    by the caller.
    """
    segment = _segment(table.concentration, micro)
    numerator = np.take(table.rise, segment) * micro
    numerator += np.take(table.offset, segment)
    numerator /= np.take(table.width, segment)
    return np.ceil(numerator, out=numerator)


LOOKUP_STEP = 100_000.0
"""Grid of the IAQI look-up tables: 0.1 of the unit, in micro-units. Reported concentrations
are integers or have one decimal (HJ 633—2026 §4.2.2 rounds them so), so almost every value
is read from a table computed with :func:`_formula`; others go through the formula itself."""


def _interpolate(table: Breakpoints, micro: NDArray[np.float64]) -> NDArray[np.float64]:
    """IAQI of each value by formula (1): from the look-up table on the 0.1 grid, else computed.

    Both routes give the same exact result; the table saves most of the arithmetic.
    """
    index = np.divide(micro, LOOKUP_STEP)
    np.rint(index, out=index)
    off_grid = np.multiply(index, LOOKUP_STEP) != micro  # NaN is off the grid too
    np.minimum(index, len(table.lookup) - 1, out=index)  # above the table: replaced by caller
    with np.errstate(invalid="ignore"):  # NaN casts to an arbitrary index, fixed just below
        positions = index.astype(np.intp)
    value = np.take(table.lookup, positions, mode="clip")
    if off_grid.any():
        value[off_grid] = _formula(table, micro[off_grid])
    return value


def _micro_input(indicator: str, values: ArrayLike, edition: Edition) -> NDArray[np.float64]:
    micro = to_micro(values)
    if micro.size and np.nanmin(micro, initial=0.0) < 0:
        raise ValueError(f"{indicator}: concentrations must not be negative")
    decimals = _input_decimals(indicator, edition)
    return micro if decimals is None else round_micro_half_even(micro, decimals)


@dataclass(frozen=True)
class IaqiResult:
    """IAQI of one indicator with the rows where a rule for high values applied."""

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
    none_above = np.zeros_like(above)
    if not above.any():
        return IaqiResult(value, none_above, none_above)
    if table.full:
        value[above] = 500.0
        return IaqiResult(value, above, none_above)
    value[above] = np.nan if table.fixed_iaqi_above is None else table.fixed_iaqi_above
    return IaqiResult(value, none_above, above)


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


@cache
def categories(edition: Edition = "2026") -> tuple[Category, ...]:
    """The six AQI categories with the health effects and advice of ``edition``."""
    return tuple(
        Category(
            level=row["level"],
            upper=row["upper"],
            name=row["name"],
            name_en=row["name_en"],
            color=row["color"],
            rgb=(row["rgb"][0], row["rgb"][1], row["rgb"][2]),
            health_effect=row[f"health_{edition}"],
            advice=row[f"advice_{edition}"],
        )
        for row in reference.load("hj633")["categories"]
    )


def level(aqi_values: ArrayLike) -> NDArray[np.float64]:
    """AQI level 1–6 (NaN where the AQI is NaN): 0–50 → 1, 51–100 → 2, …, >300 → 6."""
    values = np.asarray(aqi_values, dtype=np.float64)
    levels = _level_index(values).astype(np.float64)
    levels[levels == 0] = np.nan
    return levels


def _level_index(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Level 1–6 as uint8, 0 where the AQI is NaN."""
    index = (values >= 0).view(np.uint8).copy()
    for upper in _LEVEL_UPPER:
        index += (values > upper).view(np.uint8)
    return index


# --------------------------------------------------------------------------------------------
# The report over a table
# --------------------------------------------------------------------------------------------

BLOCK_ROWS = 65_536
"""Rows computed together: the temporaries of a block stay in the processor's cache, which
makes the kernel about twice as fast on large tables as whole-column numpy operations."""

ADDED_COLUMNS = (
    "aqi",
    "level",
    "category",
    "category_en",
    "color",
    "primary_pollutants",
    "exceedance_pollutants",
    "rules",
    "missing_pollutants",
    "above_scale_pollutants",
    "notes",
)
"""Columns :func:`aqi_table` adds after the ``iaqi_<indicator>`` columns."""


def _bit(column: str) -> int:
    return 1 << POLLUTANTS.index(pollutant_of(column))


def _set_bits(bits: NDArray[np.uint8], bit: int, where: NDArray[np.bool_]) -> None:
    """Set ``bit`` in ``bits`` where ``where`` is true (in place)."""
    bits |= where.view(np.uint8) * np.uint8(bit)


def _coded(indices: NDArray[np.uint8], dictionary: Sequence[str | None]) -> pa.Array:
    """A dictionary-encoded string column: ``dictionary[index]`` per row.

    Only the first entry may be None (an empty set, no level): rows with index 0 are then null.
    Dictionary encoding makes the text columns nearly free to build; polars reads them as
    categoricals, and CSV/XLSX writers spell them out.
    """
    valid = indices != 0 if dictionary[0] is None else None
    values = _dictionary(tuple(dictionary))
    return pa.DictionaryArray.from_arrays(_arrow(indices, valid, pa.uint8()), values)


@cache
def _dictionary(entries: tuple[str | None, ...]) -> pa.Array:
    return pa.array([entry or "" for entry in entries], pa.string())


@cache
def _pollutant_sets() -> tuple[str | None, ...]:
    """Every subset of :data:`POLLUTANTS`, indexed by its bit mask, joined with ``;``."""
    return tuple(
        ";".join(p for i, p in enumerate(POLLUTANTS) if mask >> i & 1) or None
        for mask in range(1 << len(POLLUTANTS))
    )


def _joined_notes(notes: dict[str, NDArray[np.bool_]], n: int) -> pa.Array:
    """Per row, the codes of the notes that applied, joined with ``;`` (null when none)."""
    codes = list(notes)
    bits = np.zeros(n, dtype=np.uint8)
    for position, code in enumerate(codes):
        _set_bits(bits, 1 << position, notes[code])
    lookup = [
        ";".join(c for i, c in enumerate(codes) if mask >> i & 1) or None
        for mask in range(1 << len(codes))
    ]
    return _coded(bits, lookup)


def _integers(values: NDArray[np.float64]) -> pa.Array:
    """Integer-valued floats (IAQI, AQI ≤ 500) as an Arrow int16 array, null where NaN."""
    with np.errstate(invalid="ignore"):  # NaN casts to an arbitrary integer, masked below
        integers = values.astype(np.int16)
    return _arrow(integers, ~np.isnan(values), pa.int16())


def _arrow(values: NDArray[Any], valid: NDArray[np.bool_] | None, kind: pa.DataType) -> pa.Array:
    """Wrap a numpy array as an Arrow array, null where ``valid`` is false, without copying
    the values (``pa.array(…, mask=…)`` is several times slower on these sizes)."""
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(kind, len(values), [bitmap, pa.py_buffer(values)])


@dataclass
class _Indices:
    """IAQIs of one edition's report over a block of rows, with per-pollutant bit masks."""

    iaqi: dict[str, NDArray[np.float64]]
    missing: NDArray[np.uint8]
    above_scale: NDArray[np.uint8]
    notes: dict[str, NDArray[np.bool_]]


def _indices(
    columns: dict[str, NDArray[np.float64]], n: int, report: Report, edition: Edition
) -> _Indices:
    """Every IAQI of the report, applying the edition's notes for the truncated columns."""
    absent = np.full(n, np.nan)
    result = _Indices({}, np.zeros(n, np.uint8), np.zeros(n, np.uint8), {})
    for column in report_indicators(report, edition):
        if column not in columns:
            result.iaqi[column] = absent
            result.missing |= np.uint8(_bit(column))
            continue
        one = _iaqi_one_edition(column, columns[column], edition)
        value = one.value
        if one.above_truncated.any():
            table = breakpoints(column, edition)
            if table.use_instead is not None:
                other = table.use_instead + column[len(_table_key(column)) :]
                substitute = _iaqi_one_edition(other, columns.get(other, absent), edition).value
                value = np.where(one.above_truncated, substitute, value)
                result.notes[f"{column}>800→{other}"] = one.above_truncated
            else:
                result.notes[f"{column}>800→{table.fixed_iaqi_above:g}"] = one.above_truncated
        result.iaqi[column] = value
        _set_bits(result.missing, _bit(column), np.isnan(value))
        if one.above_scale.any():
            _set_bits(result.above_scale, _bit(column), one.above_scale)
    return result


def _aqi(indices: _Indices, edition: Edition) -> NDArray[np.float64]:
    """AQI = max of the IAQIs (HJ 633—2012 §4.4.1 formula (2)), with HJ 633—2026 §5.3.1."""
    aqi_values = np.full(len(indices.missing), np.nan)
    for value in indices.iaqi.values():
        np.fmax(aqi_values, value, out=aqi_values)
    if edition == "2026":
        # §5.3.1: an indicator missing and the AQI of the rest not above 100 → AQI NA.
        with np.errstate(invalid="ignore"):
            withheld = (indices.missing != 0) & ~(aqi_values > 100)
        aqi_values[withheld] = np.nan
        indices.notes["AQI NA (HJ 633—2026 §5.3.1)"] = withheld
    return aqi_values


def _primary_and_exceedance(
    indices: _Indices, aqi_values: NDArray[np.float64], edition: Edition
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Bit masks of the primary pollutants (IAQI = AQI > 50, ties included: HJ 633—2012
    §3.3, §4.4.2; HJ 633—2026 §4.3.1) and of the exceedance pollutants (IAQI > 100: 2012 §3.4;
    HJ 633—2026 removed the definition)."""
    n = len(aqi_values)
    primary = np.zeros(n, dtype=np.uint8)
    exceedance = np.zeros(n, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        for column, value in indices.iaqi.items():
            _set_bits(primary, _bit(column), value == aqi_values)
            if edition == "2012":
                _set_bits(exceedance, _bit(column), value > 100)
        primary *= (aqi_values > 50).view(np.uint8)
    return primary, exceedance


def _edition_report(
    columns: dict[str, NDArray[np.float64]], n: int, report: Report, edition: Edition
) -> dict[str, pa.Array]:
    """The report of ``edition`` for ``n`` rows: IAQI columns and the added columns."""
    indices = _indices(columns, n, report, edition)
    aqi_values = _aqi(indices, edition)
    primary, exceedance = _primary_and_exceedance(indices, aqi_values, edition)
    level_index = _level_index(aqi_values)
    cats = categories(edition)
    sets = _pollutant_sets()
    out: dict[str, pa.Array] = {f"iaqi_{c}": _integers(v) for c, v in indices.iaqi.items()}
    out["aqi"] = _integers(aqi_values)
    out["level"] = _arrow(level_index, level_index != 0, pa.uint8())
    out["category"] = _coded(level_index, [None, *(c.name for c in cats)])
    out["category_en"] = _coded(level_index, [None, *(c.name_en for c in cats)])
    out["color"] = _coded(level_index, [None, *(c.color for c in cats)])
    out["primary_pollutants"] = _coded(primary, sets)
    out["exceedance_pollutants"] = _coded(exceedance, sets)
    out["rules"] = _coded(np.zeros(n, dtype=np.uint8), [edition])
    out["missing_pollutants"] = _coded(indices.missing, sets)
    out["above_scale_pollutants"] = _coded(indices.above_scale, sets)
    out["notes"] = _joined_notes(indices.notes, n)
    return out


def _output_schema(report: Report, editions: Sequence[Edition]) -> list[str]:
    iaqi_columns = [
        f"iaqi_{c}"
        for c in report_columns(report)
        if any(c in report_indicators(report, e) for e in editions)
    ]
    return [*iaqi_columns, *ADDED_COLUMNS]


def _report_rows(
    arrow: pa.Table,
    rows: NDArray[np.intp] | None,
    report: Report,
    edition: Edition,
    schema: list[str],
) -> pa.Table:
    """The report of ``edition`` for the given rows (all rows when None), in ``schema``."""
    columns = {
        name: _float_column(arrow, name)
        for name in report_columns(report)
        if name in arrow.schema.names
    }
    if rows is not None:
        columns = {name: values[rows] for name, values in columns.items()}
    n = arrow.num_rows if rows is None else len(rows)
    blocks = []
    for start in range(0, max(n, 1), BLOCK_ROWS):
        block = {name: values[start : start + BLOCK_ROWS] for name, values in columns.items()}
        size = min(BLOCK_ROWS, n - start)
        out = _edition_report(block, size, report, edition)
        blocks.append([out.get(name, pa.nulls(size, pa.int16())) for name in schema])
    return pa.table(
        [pa.chunked_array([block[i] for block in blocks]) for i in range(len(schema))],
        names=schema,
    )


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
    has an IAQI under an edition ``rules`` can select, ``aqi``, ``level`` (1–6), ``category``,
    ``category_en``, ``color``, ``primary_pollutants`` (AQI > 50, all tied: 2012 §4.4.2 /
    2026 §4.3.1), ``exceedance_pollutants`` (IAQI > 100: 2012 §3.4 only), ``rules``,
    ``missing_pollutants``, ``above_scale_pollutants`` and ``notes`` (special rules applied).
    """
    arrow, back = _to_arrow(table)
    if rules not in (*EDITIONS, "auto"):
        raise ValueError(f"rules must be '2012', '2026' or 'auto', got {rules!r}")
    editions: tuple[Edition, ...] = EDITIONS if rules == "auto" else (rules,)
    schema = _output_schema(report, editions)
    clashing = [name for name in schema if name in arrow.schema.names]
    if clashing:
        raise ValueError(f"the input already has columns named {clashing}")
    if rules != "auto":
        added = _report_rows(arrow, None, report, editions[0], schema)
    else:
        if time_column not in arrow.schema.names:
            raise ValueError(f"rules='auto' needs a {time_column!r} column")
        is_2026 = edition_for(arrow.column(time_column).to_numpy(zero_copy_only=False))
        older, newer = np.flatnonzero(~is_2026), np.flatnonzero(is_2026)
        if len(older) == 0 or len(newer) == 0:  # one edition only: no split and re-ordering
            edition: Edition = "2026" if len(older) == 0 else "2012"
            added = _report_rows(arrow, None, report, edition, schema)
        else:
            parts = pa.concat_tables(
                [
                    _report_rows(arrow, older, report, "2012", schema),
                    _report_rows(arrow, newer, report, "2026", schema),
                ]
            )
            order = np.argsort(np.concatenate([older, newer]), kind="stable")
            added = parts.unify_dictionaries().take(pa.array(order))
    for name in schema:
        arrow = arrow.append_column(name, added.column(name))
    result: TableT = back(arrow)
    return result


def _float_column(arrow: pa.Table, name: str) -> NDArray[np.float64]:
    column = arrow.column(name)
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
        raise ValueError(f"column {name!r} must be numeric, found {kind}")
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def _to_arrow(table: Any) -> tuple[pa.Table, Callable[[pa.Table], Any]]:
    """Accept a pyarrow Table or a polars DataFrame; return it as Arrow and the way back."""
    if isinstance(table, pa.Table):
        return table, lambda result: result
    import polars as pl

    if isinstance(table, pl.DataFrame):
        return table.to_arrow(), pl.from_arrow
    raise TypeError(f"expected a pyarrow.Table or polars.DataFrame, got {type(table).__name__}")
