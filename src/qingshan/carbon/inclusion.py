"""Carbon-inclusion (碳普惠) arithmetic: reductions, points, serial ranges and offset caps.

Pure functions used by the registry ledger (``qingshan.store.ledger``). Units are kept exact:

* reductions in integer milligrams CO2 (1 t = 10⁹ mg), so sums over millions of actions do not
  drift;
* carbon points in integer hundredths of a point ("centipoints"), the precision of the
  碳惠通 rule "≈120 g CO2 per bus ride → 1.1 points" (carbon.md §3.3.1);
* credits in whole tonnes CO2e, one serial number per tonne (1 CCER/CQCER = 1 tCO2e).

Serial numbers follow the block convention of UNDP, Verra and Gold Standard (carbon.md §1.1.3,
§2.1): ``QS-<methodology>-<vintage>-<project>-<first>-<last>`` with an inclusive range; a
partial transfer or retirement splits a block and the moved part takes the **upper** end of the
range, as UNDP does (carbon.md §1.1.4).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

SERIAL_PREFIX = "QS"
MG_PER_GRAM = 1_000
MG_PER_TONNE = 1_000_000_000
CENTI = 100
"""Centipoints per point."""

_PROJECT_CODE = re.compile(r"^[A-Za-z0-9_.]{1,32}$")
_SERIAL = re.compile(r"^(?P<prefix>.+)-(?P<first>\d+)-(?P<last>\d+)$")


@dataclass(frozen=True)
class MethodologySpec:
    """A shipped methodology (``carbon/inclusion_data/inclusion.toml``) with its sources."""

    code: str
    name: str
    version: str
    scheme: str
    kind: str
    document: str
    source: str
    active: bool
    unit: str | None = None
    grams_per_unit: float | None = None
    points_per_unit: float | None = None
    daily_cap_units: float | None = None
    cap_source: str | None = None
    points_source: str | None = None


@dataclass(frozen=True)
class SchemeSpec:
    """A compliance scheme: which share of the obligation may be met with offset credits."""

    code: str
    name: str
    offset_cap_percent: float
    document: str
    source: str


@cache
def _reference() -> dict[str, Any]:
    data = resources.files("qingshan.carbon.inclusion_data").joinpath("inclusion.toml")
    text = data.read_text("utf-8")
    return tomllib.loads(text)


def shipped_methodologies() -> tuple[MethodologySpec, ...]:
    """The methodologies shipped with Qingshan (Chongqing, Guangdong, Chengdu examples)."""
    return tuple(MethodologySpec(**entry) for entry in _reference()["methodology"])


def shipped_schemes() -> tuple[SchemeSpec, ...]:
    """The compliance schemes shipped with Qingshan (national ETS: 5 %)."""
    return tuple(SchemeSpec(**entry) for entry in _reference()["scheme"])


def reduction_mg(quantity: float, grams_per_unit: float) -> int:
    """Reduction of an action [mg CO2] = quantity × grams per unit, rounded half up to 1 mg."""
    exact = Decimal(str(quantity)) * Decimal(str(grams_per_unit)) * MG_PER_GRAM
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def points_centi(quantity: float, points_per_unit: float) -> int:
    """Points of an action [0.01 point] = quantity × points per unit, rounded half up.

    The 碳惠通 example: one bus ride at 1.1 points per ride → 110 (1.10 points).
    """
    exact = Decimal(str(quantity)) * Decimal(str(points_per_unit)) * CENTI
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reductions_mg(
    quantities: npt.NDArray[np.float64], grams_per_unit: float
) -> npt.NDArray[np.int64]:
    """:func:`reduction_mg` of each quantity, exactly (decimal rounding, once per distinct
    quantity: a batch of a million bus rides has a handful)."""
    return _per_distinct(quantities, lambda quantity: reduction_mg(quantity, grams_per_unit))


def points_centis(
    quantities: npt.NDArray[np.float64], points_per_unit: float
) -> npt.NDArray[np.int64]:
    """:func:`points_centi` of each quantity, exactly (once per distinct quantity)."""
    return _per_distinct(quantities, lambda quantity: points_centi(quantity, points_per_unit))


def _per_distinct(
    quantities: npt.NDArray[np.float64], rule: Callable[[float], int]
) -> npt.NDArray[np.int64]:
    distinct, where = np.unique(quantities, return_inverse=True)
    values = np.fromiter((rule(float(q)) for q in distinct), np.int64, len(distinct))
    return values[where]


def check_project_code(code: str) -> str:
    """Project codes are letters, digits, ``_`` and ``.`` (no ``-``, the serial separator)."""
    if not _PROJECT_CODE.match(code):
        raise ValueError(f"project code {code!r}: use 1–32 letters, digits, '_' or '.'")
    return code


def serial_prefix(methodology: str, vintage: int, project: str) -> str:
    """``QS-<methodology>-<vintage>-<project>``: the part shared by all serials of an issuance."""
    return f"{SERIAL_PREFIX}-{methodology}-{vintage}-{check_project_code(project)}"


def format_serial(prefix: str, first: int, last: int) -> str:
    """The serial of an inclusive block ``[first, last]``."""
    if not 1 <= first <= last:
        raise ValueError(f"bad serial range {first}–{last}")
    return f"{prefix}-{first}-{last}"


def parse_serial(serial: str) -> tuple[str, int, int]:
    """Split a block serial into (prefix, first, last); a single unit may be given as
    ``<prefix>-<n>-<n>``."""
    match = _SERIAL.match(serial.strip())
    if match is None or not match["prefix"].startswith(f"{SERIAL_PREFIX}-"):
        raise ValueError(f"{serial!r} is not a Qingshan serial (QS-…-<first>-<last>)")
    first, last = int(match["first"]), int(match["last"])
    if not 1 <= first <= last:
        raise ValueError(f"{serial!r}: the range must satisfy 1 ≤ first ≤ last")
    return match["prefix"], first, last


def split_upper(first: int, last: int, quantity: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Split ``[first, last]`` into the kept lower part and the moved upper ``quantity`` units.

    Only a strict part can be split off (0 < quantity < size); moving a whole block re-owns it.
    """
    size = last - first + 1
    if not 0 < quantity < size:
        raise ValueError(f"cannot split {quantity} units off a block of {size}")
    return (first, last - quantity), (last - quantity + 1, last)


def offset_cap_tonnes(verified_emissions_t: int, cap_percent: float) -> int:
    """Most offset credits usable against an obligation [t], rounded down to whole tonnes.

    National ETS: 《碳排放权交易管理办法（试行）》 Art. 29 — offsets ≤ 5 % of the allowances due,
    and Art. 28 — allowances due ≥ the verified emissions; so 1,000,000 t → 50,000 t.
    """
    if verified_emissions_t < 0 or not 0 <= cap_percent <= 100:
        raise ValueError("emissions must be ≥ 0 and the cap between 0 and 100 %")
    cap = Fraction(verified_emissions_t) * Fraction(str(cap_percent)) / 100
    return int(cap)  # floor for non-negative values
