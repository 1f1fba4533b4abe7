"""Target pace: is the good-day ratio so far this year on course for the annual target?

The good-day ratio (优良天数比例) is good days (daily AQI ≤ 100) over valid AQI days (HJ 663;
:func:`qingshan.standards.air_evaluation.good_day_ratio`). The annual target is a ratio set by
the bureau's plan (e.g. 85 %). A year is on pace while its ratio so far meets the target; the
ratio the remaining days would need shows how hard the target has become.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qingshan.standards.air_evaluation import good_day_ratio


@dataclass(frozen=True)
class Pace:
    """Per day of the year so far, shape ``(series, days)``."""

    behind: NDArray[np.bool_]
    """The ratio so far (rounded to 0.1 %) is below the target."""
    ratio: NDArray[np.float64]
    """Good-day ratio from 1 January to this day. [%]"""
    needed: NDArray[np.float64]
    """Ratio of good days the rest of the year needs to reach the target (> 100: out of
    reach; NaN on the last day). [%]"""


def good_day_pace(
    good: ArrayLike, valid: ArrayLike, target_percent: float, days_in_year: int
) -> Pace:
    """The good-day ratio so far against the annual target, day by day.

    Parameters
    ----------
    good, valid : array-like of bool, shape (series, days)
        Whether each day from 1 January is a good day / a valid AQI day.
    target_percent : float
        The year's target ratio. [%]
    days_in_year : int
        365 or 366. The rest of the year is assumed to be all valid days.

    Notes
    -----
    Needed ratio = (target × days_in_year − good so far) / days left, with valid days
    assumed for the rest of the year (the target is a ratio over valid days; a year with
    missing days needs slightly fewer good days).
    """
    good_days = np.cumsum(np.atleast_2d(np.asarray(good, dtype=bool)), axis=-1)
    valid_days = np.cumsum(np.atleast_2d(np.asarray(valid, dtype=bool)), axis=-1)
    ratio = good_day_ratio(good_days, valid_days)
    elapsed = np.arange(1, good_days.shape[-1] + 1)
    left = days_in_year - elapsed
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = np.where(
            left > 0, (target_percent / 100 * days_in_year - good_days) / left * 100, np.nan
        )
        behind = ratio < target_percent
    return Pace(behind=behind, ratio=ratio, needed=needed)
