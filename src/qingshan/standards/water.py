"""Surface-water quality per GB 3838—2002 and 《地表水环境质量评价办法(试行)》 (环办[2011]22号).

Layers, all vectorised over sections (rows):

* Item level — :func:`evaluation_micro` (the value as evaluated: rounded per the method),
  :func:`item_class` (GB 3838—2002 Table 1), :func:`exceedance_multiple` ((C − C_s)/C_s).
* Section level — :func:`evaluate_sections`: class by the single-factor method over the 21
  evaluation items, status and colour, main pollutants, exceedances and compliance with a
  target class, and for lakes and reservoirs the trophic state (:func:`tli`).
* Rivers and basins — :func:`basin_grade` (Table 2 of the method) and
  :func:`basin_main_pollutants` (ranked by section exceedance rate).
* Periods — :func:`group_means` (arithmetic means; pH through the hydrogen-ion concentration)
  and the trends :func:`grade_trend` and :func:`proportion_trend`.

Class codes are integers: 1–5 for Classes Ⅰ–Ⅴ, 6 for 劣Ⅴ, and 0 where an item has no value or
no class (water temperature; total nitrogen of a river).

Exactness. A value is compared with a limit as a decimal number: values and limits are moved to
an integer grid of 10⁻⁶ of their unit and the value is first rounded to the decimals of the
method (round half even, GB/T 8170), so that NH3-N 1.0 is Class Ⅲ and 1.004 (→ 1.00) too.

Choices where the texts are silent are listed in ``docs/water.md``; each is named where it is
applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import reference
from qingshan.standards.rounding import MICRO, round_micro_half_even

Direction = Literal["upper", "lower", "range", "none"]
Period = Literal["month", "quarter", "year"]

WORSE_THAN_V = 6
"""Class code of 劣Ⅴ类: worse than the Class Ⅴ limit."""

CLASS_LABELS: tuple[str, ...] = ("", "I", "II", "III", "IV", "V", "劣V")
"""Label of each class code (index 0: no class)."""

TROPHIC_ITEMS: tuple[str, ...] = ("chla", "tp", "tn", "sd", "codmn")
"""Parameters of TLI(Σ) (总站生字[2001]090号; 2011 method, 湖泊、水库营养状态评价)."""


def _spec() -> dict[str, Any]:
    return reference.load("gb3838")


ITEMS: tuple[str, ...] = tuple(_spec()["items"])
"""The 24 items of GB 3838—2002 Table 1, in the table's order."""

EVALUATION_ITEMS: tuple[str, ...] = tuple(_spec()["method"]["evaluation_items"])
"""The 21 evaluation items of the 2011 method (Table 1 less 水温, 总氮, 粪大肠菌群)."""

REFERENCE_ITEMS: tuple[str, ...] = tuple(_spec()["method"]["reference_items"])
"""Reference items of the 2011 method, classed on their own and not in the section class."""

REFERENCE_CLASS: int = _spec()["method"]["reference_class"]
"""Status and main pollutants are judged against Class Ⅲ (2011 method)."""


def _micro(values: ArrayLike) -> NDArray[np.float64]:
    """Values as integer counts of 10⁻⁶ of their unit (exact for values below 9·10⁹).

    Unlike :func:`qingshan.standards.rounding.to_micro` nothing is clipped: fecal coliforms
    (limits up to 40 000 个/L) and large multiples must keep their size.
    """
    return np.rint(np.asarray(values, dtype=np.float64) * MICRO)


def round_half_even(values: ArrayLike, decimals: int) -> NDArray[np.float64]:
    """Round decimal values half to even (GB/T 8170 §3.3) without clipping large values."""
    return round_micro_half_even(_micro(values), decimals) / MICRO


# --------------------------------------------------------------------------------------------
# Items of GB 3838—2002 Table 1
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One row of GB 3838—2002 Table 1, limits on the 10⁻⁶ grid (Classes Ⅰ–Ⅴ)."""

    key: str
    number: int
    name: str
    name_en: str
    unit: str
    direction: Direction
    limits: NDArray[np.float64]
    lake_limits: NDArray[np.float64] | None
    """The lake-and-reservoir row (total phosphorus), else None."""
    lakes_only: bool
    """Limits exist for lakes and reservoirs only (total nitrogen)."""
    range: tuple[float, float] | None
    decimals: int
    priority: bool
    """Cyanide or a heavy metal: listed first among main pollutants (2011 method)."""
    clause: str

    @property
    def has_multiple(self) -> bool:
        """Whether an exceedance multiple exists: not for 水温, pH, DO (2011 method)."""
        return self.key not in _spec()["method"]["no_multiple_items"]


@cache
def item(key: str) -> Item:
    """Return the Table 1 row of ``key`` (``"do"``, ``"nh3n"``, …).

    Raises
    ------
    KeyError
        If ``key`` is not one of :data:`ITEMS`.
    """
    row = _spec()["items"][key]
    lake_limits = row.get("lake_limits")
    value_range = row.get("range")
    return Item(
        key=key,
        number=row["no"],
        name=row["name"],
        name_en=row["name_en"],
        unit=row["unit"],
        direction=row["direction"],
        limits=_micro(row.get("limits", [])),
        lake_limits=None if lake_limits is None else _micro(lake_limits),
        lakes_only="waterbodies" in row,
        range=None if value_range is None else (float(value_range[0]), float(value_range[1])),
        decimals=row["decimals"],
        priority=bool(row.get("priority", False)),
        clause=row["clause"],
    )


def _as_lake(lake: ArrayLike | None, n: int) -> NDArray[np.bool_]:
    if lake is None:
        return np.zeros(n, dtype=bool)
    flags = np.broadcast_to(np.asarray(lake, dtype=bool), (n,))
    return np.asarray(flags)


def _limits(spec: Item, lake: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Class Ⅰ–Ⅴ limits per row, shape (n, 5): the lake row where ``lake`` and one exists."""
    river = np.broadcast_to(spec.limits, (len(lake), len(spec.limits)))
    if spec.lake_limits is None:
        return river
    return np.where(lake[:, None], spec.lake_limits, river)


def evaluation_decimals(key: str) -> int:
    """Decimal places of the evaluation value of a Table 1 item, ``chla`` or ``sd``."""
    if key in ITEMS:
        return item(key).decimals
    decimals: int = _spec()["trophic_only_items"][key]["decimals"]
    return decimals


def evaluation_micro(key: str, values: ArrayLike) -> NDArray[np.float64]:
    """The value as evaluated, on the 10⁻⁶ grid: rounded half-even to the item's decimals.

    The decimal places are those of the 2020 statistics rules (总站水字〔2020〕90号), kept in
    ``gb3838.toml``; rounding is GB/T 8170 §3.3 (四舍六入五成双). A positive value that would
    round to 0 (half a low detection limit, say) keeps its first significant digit instead, so
    that it stays visible (Qingshan's choice; it never changes a class). NaN stays NaN.

    Parameters
    ----------
    key : str
        Item key (:data:`ITEMS`, or ``chla`` and ``sd`` of the trophic state).
    values : array-like
        Concentrations. [item unit: mg/L; 个/L for fecal coliforms; pH dimensionless; ℃;
        chla mg/m³; SD m]
    """
    micro = _micro(values)
    rounded = round_micro_half_even(micro, evaluation_decimals(key))
    tiny = (rounded == 0) & (micro > 0)
    if tiny.any():
        step = 10.0 ** np.floor(np.log10(micro[tiny]))
        rounded[tiny] = np.rint(micro[tiny] / step) * step
    return rounded


def evaluation_value(key: str, values: ArrayLike) -> NDArray[np.float64]:
    """:func:`evaluation_micro` in the item's unit (the value a report shows)."""
    return evaluation_micro(key, values) / MICRO


def item_class(key: str, values: ArrayLike, lake: ArrayLike | None = None) -> NDArray[np.int64]:
    """Class code of one item per GB 3838—2002 Table 1 (1–5, 6 = 劣Ⅴ, 0 = no class).

    * "≤" items: the best class whose limit the value does not exceed; a value exactly on a
      limit belongs to that class, and shared limits give the best class sharing them
      (COD 15 mg/L is Class Ⅰ).
    * DO (≥): the best class whose lower limit the value reaches; Class Ⅰ uses 7.5 mg/L (the
      saturation branch "饱和率90%" is not applied, see ``docs/water.md``).
    * pH: 6–9 meets every class (Class Ⅰ); outside → 劣Ⅴ (convention of all implementations;
      the standard only gives the range).
    * Total phosphorus: the bracketed lake-and-reservoir limits where ``lake``.
    * Total nitrogen: classed only where ``lake`` (the row is "湖、库" only); 0 elsewhere.
    * Water temperature has no class limits: always 0.

    Parameters
    ----------
    key : str
        Item key, one of :data:`ITEMS`.
    values : array-like
        Values, NaN where missing. [item unit]
    lake : array-like of bool, optional
        True where the water body is a lake or reservoir (default: all rivers).

    Returns
    -------
    numpy.ndarray of int64
    """
    spec = item(key)
    micro = np.atleast_1d(evaluation_micro(key, values))
    missing = np.isnan(micro)
    classes = np.zeros(micro.shape, dtype=np.int64)
    lakes = _as_lake(lake, micro.size)
    if spec.direction == "range":
        assert spec.range is not None
        low, high = _micro(spec.range)
        with np.errstate(invalid="ignore"):
            inside = (micro >= low) & (micro <= high)
        classes = np.where(inside, 1, WORSE_THAN_V).astype(np.int64)
    elif spec.direction in ("upper", "lower"):
        limits = _limits(spec, lakes)
        with np.errstate(invalid="ignore"):
            upper = spec.direction == "upper"
            failed = micro[:, None] > limits if upper else micro[:, None] < limits
        classes = 1 + failed.sum(axis=1).astype(np.int64)
    classes[missing] = 0
    if spec.lakes_only:
        classes[~lakes] = 0
    return classes


def limit_micro(
    key: str, class_code: ArrayLike, lake: ArrayLike | None = None
) -> NDArray[np.float64]:
    """The limit of class ``class_code`` (1–5) per row on the 10⁻⁶ grid; NaN for other codes."""
    spec = item(key)
    codes = np.asarray(class_code, dtype=np.int64)
    lakes = _as_lake(lake, codes.size)
    if spec.direction not in ("upper", "lower"):
        return np.full(codes.shape, np.nan)
    limits = _limits(spec, lakes)
    valid = (codes >= 1) & (codes <= 5)
    picked = limits[np.arange(codes.size), np.clip(codes, 1, 5) - 1]
    return np.where(valid, picked, np.nan)


def exceedance_multiple(
    key: str,
    values: ArrayLike,
    against: ArrayLike = REFERENCE_CLASS,
    lake: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Exceedance multiple 超标倍数 = (C − C_s) / C_s, unrounded; NaN where none is defined.

    ``C_s`` is the limit of class ``against``: Class Ⅲ for main pollutants (2011 method,
    "超标倍数 = (某指标的浓度值 − 该指标的Ⅲ类水质标准) / 该指标的Ⅲ类水质标准"), or the
    target class for compliance (GB 3838—2002 §5.1). C is the evaluation value
    (:func:`evaluation_micro`). Negative where the value is within the limit. No multiple is
    computed for water temperature, pH and DO (2011 method), nor where the item has no class.

    Parameters
    ----------
    key : str
        Item key.
    values : array-like
        Values. [item unit]
    against : int or array-like of int
        Class code 1–5 of the limit, per row or for all rows.
    lake : array-like of bool, optional
        True for lakes and reservoirs.
    """
    spec = item(key)
    micro = evaluation_micro(key, values)
    if not spec.has_multiple:
        return np.full(micro.shape, np.nan)
    codes = np.broadcast_to(np.asarray(against, dtype=np.int64), micro.shape)
    limit = limit_micro(key, codes, lake)
    multiple = (micro - limit) / limit
    if spec.lakes_only:
        multiple[~_as_lake(lake, micro.size)] = np.nan
    return multiple


# --------------------------------------------------------------------------------------------
# Status of a class (Table 1 of the 2011 method)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One qualitative status (水质状况) with its colour."""

    grade: int
    """1 = 优 … 5 = 重度污染."""
    name: str
    name_en: str
    color: str
    color_name: str


@cache
def statuses() -> tuple[Status, ...]:
    """The five statuses 优, 良好, 轻度污染, 中度污染, 重度污染 (Table 1 of the 2011 method)."""
    return tuple(
        Status(row["grade"], row["name"], row["name_en"], row["color"], row["color_name"])
        for row in _spec()["method"]["status"]
    )


@cache
def _grade_of_class() -> NDArray[np.int64]:
    """Status grade per class code (index 0 → grade 0: no status)."""
    grades = np.zeros(WORSE_THAN_V + 1, dtype=np.int64)
    for row in _spec()["method"]["status"]:
        grades[row["classes"]] = row["grade"]
    return grades


def status_grade(class_code: ArrayLike) -> NDArray[np.int64]:
    """Status grade of a section class: Ⅰ–Ⅱ → 1 (优), Ⅲ → 2 (良好), Ⅳ → 3 (轻度污染),
    Ⅴ → 4 (中度污染), 劣Ⅴ → 5 (重度污染); 0 for no class (2011 method, Table 1)."""
    return _grade_of_class()[np.asarray(class_code, dtype=np.int64)]


def status_field(grade: ArrayLike, field: str) -> NDArray[Any]:
    """A field of :class:`Status` (``name``, ``name_en``, ``color``) per grade (None for 0)."""
    lookup = np.array([None, *(getattr(s, field) for s in statuses())], dtype=object)
    return lookup[np.asarray(grade, dtype=np.int64)]


def class_label(class_code: ArrayLike) -> NDArray[Any]:
    """``"I"`` … ``"V"``, ``"劣V"`` per class code; None for 0."""
    labels = np.array([None, *CLASS_LABELS[1:]], dtype=object)
    return labels[np.asarray(class_code, dtype=np.int64)]


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _stack(columns: Mapping[str, NDArray[Any]], keys: Sequence[str], n: int, fill: Any) -> Any:
    return np.stack([columns.get(k, np.full(n, fill)) for k in keys], axis=1)


def _worst(classes: Mapping[str, NDArray[np.int64]], n: int) -> NDArray[np.int64]:
    """Worst class per row over the given items (0 where none has a class)."""
    worst = np.zeros(n, dtype=np.int64)
    for codes in classes.values():
        np.maximum(worst, codes, out=worst)
    return worst


def _join_rows(
    keys: Sequence[str],
    order: NDArray[np.int64],
    take: NDArray[np.int64],
    labels: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Per row, ``keys[order[row, :take[row]]]`` joined with ``;`` (None when empty).

    ``labels`` (n, k), optional, replaces each key by its own text (``"codmn:1.2"``). The
    join runs column by column in polars, so a million rows take a fraction of a second.
    """
    n, k = order.shape
    if labels is None:
        labels = np.broadcast_to(np.asarray(keys, dtype=object), (n, k))
    rows = np.arange(n)
    parts = []
    for position in range(int(take.max(initial=0))):
        cells = labels[rows, order[:, position]]
        cells[position >= take] = None
        parts.append(pl.Series(f"p{position}", cells.tolist(), dtype=pl.String))
    if not parts:
        return np.full(n, None, dtype=object)
    joined = pl.select(pl.concat_str(parts, separator=";", ignore_nulls=True)).to_series()
    return np.asarray(joined.replace("", None).to_numpy(), dtype=object)


def main_pollutants(
    classes: Mapping[str, NDArray[np.int64]],
    multiples: Mapping[str, NDArray[np.float64]],
) -> NDArray[Any]:
    """Main pollutants (主要污染指标) of each section per the 2011 method, joined with ``;``.

    Rules (2011 method, 断面主要污染指标的确定方法):

    1. Only for sections worse than Class Ⅲ (status 优 or 良好: none), and only items worse
       than Class Ⅲ.
    2. Cyanide and heavy metals worse than Class Ⅲ are listed first ("优先作为主要污染指标"),
       all of them; the other items fill the list up to three (recommended reading of the
       notes; see ``docs/water.md``).
    3. Otherwise, worst class first; within a class, the larger exceedance multiple against
       Class Ⅲ first. pH and DO have no multiple: within a class they follow the items that
       have one (Qingshan's choice). Remaining ties keep GB 3838 Table 1 order.

    Parameters
    ----------
    classes : mapping of item key → class codes
        Item classes (:func:`item_class`) of the evaluation items; absent items are missing.
    multiples : mapping of item key → multiples
        Multiples against Class Ⅲ (:func:`exceedance_multiple`), NaN where none.

    Returns
    -------
    numpy.ndarray of object (str or None)
    """
    keys = [k for k in EVALUATION_ITEMS if k in classes]
    n = len(classes[keys[0]])
    out = np.full(n, None, dtype=object)
    worse = np.flatnonzero(_worst({k: classes[k] for k in keys}, n) > REFERENCE_CLASS)
    if not worse.size:
        return out
    cls = _stack({k: v[worse] for k, v in classes.items()}, keys, worse.size, 0)
    mult = _stack({k: v[worse] for k, v in multiples.items()}, keys, worse.size, np.nan)
    candidate = cls > REFERENCE_CLASS
    priority = candidate & np.array([item(k).priority for k in keys])[None, :]
    table_order = np.broadcast_to(np.arange(len(keys)), cls.shape)
    no_multiple_last = -np.nan_to_num(mult, nan=-np.inf)
    order = np.lexsort((table_order, no_multiple_last, -cls, ~priority, ~candidate), axis=-1)
    limit = _spec()["method"]["max_main_pollutants"]
    take = np.minimum(candidate.sum(axis=1), np.maximum(limit, priority.sum(axis=1)))
    out[worse] = _join_rows(keys, order, take)
    return out


def _format_multiple(key: str, multiple: NDArray[np.float64]) -> NDArray[Any]:
    """``key:m.m`` (multiple rounded half-even to one decimal), or ``key`` where none exists.

    Each distinct value is formatted once: multiples shown to one decimal repeat a lot.
    """
    tenths = np.rint(round_half_even(np.nan_to_num(multiple), 1) * 10).astype(np.int64)
    distinct, inverse = np.unique(tenths, return_inverse=True)
    texts = np.array([f"{key}:{t / 10:.1f}" for t in distinct], dtype=object)[inverse]
    return np.where(np.isnan(multiple), key, texts)


def exceedances(
    values: Mapping[str, NDArray[np.float64]],
    classes: Mapping[str, NDArray[np.int64]],
    against: NDArray[np.int64],
    lake: NDArray[np.bool_],
) -> NDArray[Any]:
    """Evaluation items worse than class ``against`` with their multiples, in Table 1 order.

    Each item reads ``key:multiple`` with (C − C_s)/C_s against that class's limit to one
    decimal (GB 3838—2002 §5.1: "超标项目和超标倍数"); pH and DO, which have no multiple,
    read ``key``. None where no item exceeds or ``against`` is 0.
    """
    keys = [k for k in EVALUATION_ITEMS if k in classes]
    n = len(against)
    if not keys:
        return np.full(n, None, dtype=object)
    exceeding = (_stack(classes, keys, n, 0) > against[:, None]) & (against > 0)[:, None]
    labels = np.full(exceeding.shape, None, dtype=object)
    for column, key in enumerate(keys):
        rows = np.flatnonzero(exceeding[:, column])
        if rows.size:
            multiple = exceedance_multiple(key, values[key][rows], against[rows], lake[rows])
            labels[rows, column] = _format_multiple(key, multiple)
    order = np.argsort(~exceeding, axis=1, kind="stable")
    return _join_rows(keys, order, exceeding.sum(axis=1), labels)


def tli(
    chla: ArrayLike, tp: ArrayLike, tn: ArrayLike, sd: ArrayLike, codmn: ArrayLike
) -> NDArray[np.float64]:
    """Comprehensive trophic state index TLI(Σ) = Σ W_j · TLI(j).

    W_j = r_ij² / Σ r_ij² with chlorophyll a as reference parameter; TLI(j) = 10·(a_j + b_j·ln
    C_j) (总站生字[2001]090号, adopted by the 2011 method; coefficients in ``gb3838.toml``).
    NaN where a parameter is missing or not positive.

    Parameters
    ----------
    chla : array-like
        Chlorophyll a. [mg/m³]
    tp, tn, codmn : array-like
        Total phosphorus, total nitrogen, permanganate index. [mg/L]
    sd : array-like
        Transparency (Secchi depth). [m]
    """
    coefficients = _spec()["method"]["tli"]
    values = dict(zip(TROPHIC_ITEMS, (chla, tp, tn, sd, codmn), strict=True))
    total_r2 = sum(c["r"] ** 2 for c in coefficients.values())
    index: NDArray[np.float64] | float = 0.0
    for key, value in values.items():
        c = coefficients[key]
        concentration = np.asarray(value, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = np.where(concentration > 0, np.log(concentration), np.nan)
        index = index + c["r"] ** 2 / total_r2 * 10.0 * (c["a"] + c["b"] * log)
    return np.asarray(index, dtype=np.float64)


def trophic_state(tli_values: ArrayLike) -> NDArray[np.int64]:
    """Trophic state code of TLI(Σ): 1 贫营养 (< 30), 2 中营养 (30–50), 3 轻度富营养 (50, 60],
    4 中度富营养 (60, 70], 5 重度富营养 (> 70); 0 for NaN (2011 method, Table 3).

    Upper ends are inclusive (TLI = 50 is 中营养) except the first band (TLI = 30 is 中营养).
    """
    values = np.asarray(tli_values, dtype=np.float64)
    bands = _spec()["method"]["trophic"]
    below = float(bands[0]["below"])
    uppers = np.array([float(b["upper"]) for b in bands[1:-1]])
    with np.errstate(invalid="ignore"):
        codes = np.where(values < below, 1, 2 + np.searchsorted(uppers, values, side="left"))
    return np.where(np.isnan(values), 0, codes).astype(np.int64)


def trophic_field(code: ArrayLike, field: Literal["name", "name_en"]) -> NDArray[Any]:
    """Name (``"中营养"``) or English name of a trophic state code (None for 0)."""
    lookup = np.array([None, *(b[field] for b in _spec()["method"]["trophic"])], dtype=object)
    return lookup[np.asarray(code, dtype=np.int64)]


@dataclass(frozen=True)
class SectionEvaluation:
    """Everything :func:`evaluate_sections` finds, one entry per section (row)."""

    item_classes: dict[str, NDArray[np.int64]]
    section_class: NDArray[np.int64]
    """Single-factor class over the evaluation items; 0 where none has a value."""
    grade: NDArray[np.int64]
    """Status grade 1–5 (0: no class)."""
    main_pollutants: NDArray[Any]
    exceedance: NDArray[Any]
    meets_target: NDArray[Any]
    """``"yes"``, ``"no"``, or None (no target or no class)."""
    reference_classes: NDArray[Any]
    """Classes of the reference items (TN of lakes, fecal coliforms), ``key:class;…``."""
    tli: NDArray[np.float64]
    """TLI(Σ) to one decimal for lakes and reservoirs with all five parameters, else NaN."""
    trophic_state: NDArray[np.int64]


def evaluate_sections(
    values: Mapping[str, ArrayLike],
    lake: ArrayLike | None = None,
    target_class: ArrayLike | None = None,
) -> SectionEvaluation:
    """Evaluate sections (or lake points) on their values for one period.

    Section class: the worst class among the evaluation items with a value — the
    single-factor method ("根据评价时段内该断面参评的指标中类别最高的一项来确定", 2011
    method; GB 3838—2002 §5.1). Status and main pollutants against Class Ⅲ (2011 method).
    Compliance: every evaluation item at or better than the target class (GB 3838—2002 §3,
    §5.1); the exceedances list the items worse than the target with multiples against the
    target limit, or against Class Ⅲ where no target is given. Lakes and reservoirs also get
    TLI(Σ) of the evaluation values (rounded per the method), itself rounded to one decimal
    before its class is read.

    Parameters
    ----------
    values : mapping of item key → array-like
        Values per item (the period means); items absent are missing. Keys beyond
        :data:`ITEMS` other than ``chla`` and ``sd`` are ignored. [item units]
    lake : array-like of bool, optional
        True for lakes and reservoirs (not river-type reservoirs, which are rivers).
    target_class : array-like of int, optional
        Target class code 1–5 per section, 0 where none.
    """
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    n = len(next(iter(arrays.values()))) if arrays else 0
    lakes = _as_lake(lake, n)
    targets = np.zeros(n, np.int64) if target_class is None else np.asarray(target_class, np.int64)
    present = {k: v for k, v in arrays.items() if k in ITEMS}
    classes = {k: item_class(k, v, lakes) for k, v in present.items()}
    evaluated = {k: c for k, c in classes.items() if k in EVALUATION_ITEMS}
    section = _worst(evaluated, n)
    multiples = {k: exceedance_multiple(k, present[k], REFERENCE_CLASS, lakes) for k in evaluated}
    against = np.where(targets > 0, targets, REFERENCE_CLASS)
    against = np.where(section > 0, against, 0)
    meets = np.where(section > targets, "no", "yes").astype(object)
    meets[(targets == 0) | (section == 0)] = None
    index = np.full(n, np.nan)
    if all(k in arrays for k in TROPHIC_ITEMS) and n:
        trophic_values = [evaluation_value(k, arrays[k]) for k in TROPHIC_ITEMS]
        index = np.where(lakes, round_half_even(tli(*trophic_values), 1), np.nan)
    return SectionEvaluation(
        item_classes=classes,
        section_class=section,
        grade=status_grade(section),
        main_pollutants=(
            main_pollutants(evaluated, multiples) if evaluated else np.full(n, None, object)
        ),
        exceedance=exceedances(present, evaluated, against, lakes),
        meets_target=meets,
        reference_classes=_reference_classes(classes, n),
        tli=index,
        trophic_state=trophic_state(index),
    )


def _reference_classes(classes: Mapping[str, NDArray[np.int64]], n: int) -> NDArray[Any]:
    """``tn:IV;fecal_coliform:II`` per row: the classes of the reference items that have one."""
    keys = [k for k in REFERENCE_ITEMS if k in classes]
    if not keys:
        return np.full(n, None, dtype=object)
    cls = _stack(classes, keys, n, 0)
    labels = np.stack(
        [
            np.array([None, *(f"{k}:{label}" for label in CLASS_LABELS[1:])], dtype=object)[
                cls[:, j]
            ]
            for j, k in enumerate(keys)
        ],
        axis=1,
    )
    order = np.argsort(cls == 0, axis=1, kind="stable")
    return _join_rows(keys, order, (cls > 0).sum(axis=1), labels)


# --------------------------------------------------------------------------------------------
# Rivers and basins (流域、水系)
# --------------------------------------------------------------------------------------------


def basin_grade(
    sections_i_iii: ArrayLike, sections_worse_v: ArrayLike, sections: ArrayLike
) -> NDArray[np.int64]:
    """Status grade of a river or basin by the section-class proportion method (Table 2).

    p13 = share of Class Ⅰ–Ⅲ sections, p6 = share of 劣Ⅴ sections:
    p13 ≥ 90 % → 1 优; 75 % ≤ p13 < 90 % → 2 良好; p13 < 75 % and p6 < 20 % → 3 轻度污染;
    p13 < 75 % and 20 % ≤ p6 < 40 % → 4 中度污染; p6 ≥ 40 % → 5 重度污染 (the "p13 < 60 %" of
    the last row is implied by p6 ≥ 40 % except at exactly 60 % / 40 %, graded 重度污染 here).
    The shares are compared as exact fractions of counts. 0 where ``sections`` is 0.

    Parameters
    ----------
    sections_i_iii, sections_worse_v, sections : array-like of int
        Counts of Class Ⅰ–Ⅲ sections, of 劣Ⅴ sections, and of classed sections.
    """
    n13 = np.asarray(sections_i_iii, dtype=np.int64)
    n6 = np.asarray(sections_worse_v, dtype=np.int64)
    n = np.asarray(sections, dtype=np.int64)
    grade = np.zeros(np.broadcast(n13, n6, n).shape, dtype=np.int64)
    for row in reversed(_spec()["method"]["basin_grading"]):
        holds = np.ones(grade.shape, dtype=bool)
        if "p13_at_least" in row:
            holds &= 100 * n13 >= row["p13_at_least"] * n
        if "p6_below" in row:
            holds &= 100 * n6 < row["p6_below"] * n
        grade = np.where(holds, row["grade"], grade)
    return np.where(n > 0, grade, 0)


def uses_proportion_method(sections: ArrayLike, lake: ArrayLike) -> NDArray[np.bool_]:
    """Whether a river is graded by the section-class proportion method.

    2011 method, 河流、流域（水系）水质评价: rivers with five or more sections (含5个) use the
    proportion method (Table 2); fewer sections are evaluated on the mean of each item over the
    sections, as one section. Lakes and reservoirs with several points are always evaluated on
    the mean over the points (湖泊、水库多个监测点位).

    Parameters
    ----------
    sections : array-like of int
        Classed sections (points) of each river or lake.
    lake : array-like of bool
        True for lakes and reservoirs.
    """
    threshold = _spec()["method"]["proportion_method_from_sections"]
    counts = np.asarray(sections, dtype=np.int64)
    return np.asarray((counts >= threshold) & ~np.asarray(lake, dtype=bool))


def basin_main_pollutants(
    classes: Mapping[str, NDArray[np.int64]], group: ArrayLike, groups: int
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Main pollutants of rivers by section exceedance rate (断面超标率), top three.

    断面超标率 = sections where the item is worse than Class Ⅲ / classed sections × 100 %
    (2011 method: "将超过Ⅲ类标准的指标按其断面超标率大小排列，一般取断面超标率最大的前三项").
    Ties keep GB 3838 Table 1 order. The caller keeps them only for rivers graded 轻度污染 or
    worse, as for single sections.

    Parameters
    ----------
    classes : mapping of item key → class codes per section
        Item classes of the sections; a section counts when its section class is not 0.
    group : array-like of int
        Group (river) index 0…groups−1 of each section.
    groups : int
        Number of groups.

    Returns
    -------
    (main pollutants, rates) per group: keys joined by ``;`` and ``key:rate%`` (one decimal,
    every item with a positive rate, highest first).
    """
    codes = np.asarray(group, dtype=np.int64)
    keys = [k for k in EVALUATION_ITEMS if k in classes]
    if not keys:
        empty = np.full(groups, None, dtype=object)
        return empty, empty.copy()
    cls = _stack(classes, keys, len(codes), 0)
    classed = cls.max(axis=1) > 0
    counted = np.bincount(codes[classed], minlength=groups).astype(np.float64)
    over = np.stack(
        [
            np.bincount(codes, weights=cls[:, j] > REFERENCE_CLASS, minlength=groups)
            for j in range(len(keys))
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(counted[:, None] > 0, 100.0 * over / counted[:, None], 0.0)
    order = np.argsort(-rate, axis=1, kind="stable")
    exceeding = (rate > 0).sum(axis=1)
    shown = round_half_even(rate, 1)
    labels = np.array(
        [[f"{k}:{s:.1f}%" for k, s in zip(keys, row, strict=True)] for row in shown],
        dtype=object,
    ).reshape(groups, len(keys))
    limit = _spec()["method"]["max_main_pollutants"]
    main = _join_rows(keys, order, np.minimum(exceeding, limit))
    return main, _join_rows(keys, order, exceeding, labels)


# --------------------------------------------------------------------------------------------
# Period and spatial means
# --------------------------------------------------------------------------------------------


def group_means(frame: pl.DataFrame, by: Sequence[str], items: Sequence[str]) -> pl.DataFrame:
    """Arithmetic mean of each item per group, pH through the hydrogen-ion concentration.

    pH̄ = −lg(mean(10^(−pH_i))) (2020 statistics rules, 总站水字〔2020〕90号; UNVERIFIED against
    the primary text). Nulls are skipped, so an item sampled less often is the mean of its own
    samples. Adds ``samples`` (rows per group, summed when ``frame`` already has it).
    """
    aggregations = [_mean(column) for column in items]
    samples = pl.col("samples").sum() if "samples" in frame.columns else pl.len()
    return frame.group_by(list(by), maintain_order=True).agg(
        *aggregations, samples.cast(pl.Int64).alias("samples")
    )


def _mean(column: str) -> pl.Expr:
    if column == "ph":
        hydrogen = (10.0 ** (-pl.col("ph"))).mean()
        return (-hydrogen.log10()).alias("ph")
    return pl.col(column).mean().alias(column)


def period_start(times: pl.Expr, period: Period) -> pl.Expr:
    """Start of the calendar month, quarter or year of each time."""
    every = {"month": "1mo", "quarter": "1q", "year": "1y"}[period]
    return times.dt.truncate(every)


def period_label(starts: pl.Expr, period: Period) -> pl.Expr:
    """``2024-03``, ``2024-Q1`` or ``2024`` for the start of a period."""
    if period == "month":
        return starts.dt.strftime("%Y-%m")
    if period == "quarter":
        return starts.dt.year().cast(pl.String) + "-Q" + starts.dt.quarter().cast(pl.String)
    return starts.dt.year().cast(pl.String)


def period_means(
    frame: pl.DataFrame,
    by: Sequence[str],
    items: Sequence[str],
    period: Period,
    time_column: str = "time",
) -> pl.DataFrame:
    """Means per group and calendar period, in two stages as the 2011 method counts.

    Monthly value: the mean of the month's samples (one sample: that sample). Quarterly and
    annual values: the arithmetic mean of the monthly values in the period (2011 method,
    数据统计; see ``docs/water.md``). Adds ``period`` (label) and ``period_start``.
    """
    monthly = group_means(
        frame.with_columns(period_start(pl.col(time_column), "month").alias("period_start")),
        [*by, "period_start"],
        items,
    )
    if period != "month":
        monthly = group_means(
            monthly.with_columns(period_start(pl.col("period_start"), period)),
            [*by, "period_start"],
            items,
        )
    return monthly.with_columns(period_label(pl.col("period_start"), period).alias("period"))


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------

_TREND_LABELS = ("明显好转", "有所好转", "无明显变化", "有所变差", "明显变差")


def _trend_label(step: NDArray[np.int64]) -> NDArray[Any]:
    """Label of a change step −2…2 (negative: better)."""
    return np.array(_TREND_LABELS, dtype=object)[np.clip(step, -2, 2) + 2]


def grade_trend(earlier_grade: ArrayLike, later_grade: ArrayLike) -> NDArray[Any]:
    """Trend of a section (or river) between two periods from its status grades.

    2011 method, 水质变化趋势分析: no change of grade → 无明显变化; one grade → 有所好转 or
    有所变差; two grades or more → 明显好转 or 明显变差. None where a grade is 0.

    Parameters
    ----------
    earlier_grade, later_grade : array-like of int
        Status grades 1 (优) … 5 (重度污染), 0 for none.
    """
    earlier = np.asarray(earlier_grade, dtype=np.int64)
    later = np.asarray(later_grade, dtype=np.int64)
    clear = _spec()["method"]["trend"]["clear_change_grades"]
    change = later - earlier
    step = np.sign(change) * np.where(np.abs(change) >= clear, 2, np.abs(change))
    labels = _trend_label(step)
    labels[(earlier == 0) | (later == 0)] = None
    return labels


def proportion_trend(
    share_i_iii: tuple[ArrayLike, ArrayLike], share_worse_v: tuple[ArrayLike, ArrayLike]
) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Trend of a basin from the class shares of two periods: ΔG − ΔD and its label.

    ΔG = G₂ − G₁ (change of the Class Ⅰ–Ⅲ share, percentage points), ΔD = D₂ − D₁ (change of
    the 劣Ⅴ share); ΔG − ΔD > 0 is better (2011 method). |ΔG − ΔD| ≤ 10 → 无明显变化,
    ≤ 20 → 有所好转/有所变差, above → 明显好转/明显变差 (thresholds UNVERIFIED).

    Parameters
    ----------
    share_i_iii : (earlier, later)
        Class Ⅰ–Ⅲ shares. [%]
    share_worse_v : (earlier, later)
        劣Ⅴ shares. [%]
    """
    g1, g2 = (np.asarray(s, dtype=np.float64) for s in share_i_iii)
    d1, d2 = (np.asarray(s, dtype=np.float64) for s in share_worse_v)
    delta = round_half_even((g2 - g1) - (d2 - d1), 1)
    trend = _spec()["method"]["trend"]
    size = np.where(
        np.abs(delta) > trend["clear_change_points"],
        2,
        np.where(np.abs(delta) > trend["some_change_points"], 1, 0),
    )
    labels = _trend_label(-np.sign(delta).astype(np.int64) * size)
    return delta, labels
