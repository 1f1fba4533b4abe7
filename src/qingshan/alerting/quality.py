"""Data-quality conditions: silence, flat lines, impossible values, device flags.

The checks are the automatic-station quality control of the WMO *Guidelines on Quality Control
Procedures for Data from Automatic Weather Stations* (Zahumenský 2004, §2): the plausible-value
(gross error) check and the time-consistency checks, of which the persistence test ("minimum
required variability") finds a sensor stuck at one value. Silence and device flags come from
the monitoring network itself: HJ 212—2017 §6.6.4 Table 8 flags, and the platform's liveness
rule (a site is silent after 3 reporting intervals without data; ``shared/reference/
platform.md`` take-away 10, :class:`qingshan.store.models.Site`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qingshan.alerting.exceedance import Condition
from qingshan.alerting.windows import consecutive

SILENT_INTERVALS = 3
"""Reporting intervals without any reading after which a site counts as silent."""

DEVICE_FLAGS = ("D", "C", "M")
"""HJ 212—2017 Table 8: D fault (故障), C calibration (校准), M maintenance (维护)."""


def silent(
    last_reading: ArrayLike,
    at: ArrayLike,
    interval_minutes: ArrayLike,
    *,
    intervals: int = SILENT_INTERVALS,
) -> Condition:
    """No reading for longer than ``intervals`` reporting intervals.

    Parameters
    ----------
    last_reading : array-like of datetime64, shape (series,)
        Start of each site's latest reading (NaT: never reported).
    at : datetime64 or array-like of datetime64, shape (series,)
        The instant the check is made.
    interval_minutes : array-like of int, shape (series,)
        Each site's reporting interval. [min]

    Returns
    -------
    (held, minutes) : the minutes since the latest reading's period start (NaN: never).

    Notes
    -----
    A reading labelled ``t`` (period start) covers one interval, so the site is due again at
    ``t + 2 × interval``; "longer than 3 intervals" means ``at − t > 3 × interval`` — the
    comparison is strict, so a site exactly on the bound is not silent yet.
    """
    last = np.asarray(last_reading, dtype="datetime64[us]")
    now = np.asarray(at, dtype="datetime64[us]")
    minutes = (now - last) / np.timedelta64(1, "m")
    bound = intervals * np.asarray(interval_minutes, dtype=np.float64)
    never = np.isnat(last)
    with np.errstate(invalid="ignore"):
        held = never | (minutes > bound)
    return held, np.where(never, np.nan, minutes)


def flat_line(values: ArrayLike, *, periods: int = 6) -> Condition:
    """The same value in ``periods`` consecutive readings (persistence test, Zahumenský 2004 §2.4).

    A missing value breaks the run. The value is the repeated reading.
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if periods < 2:
        raise ValueError("a flat line needs at least 2 periods")
    same = np.zeros(grid.shape, dtype=bool)
    same[:, 1:] = grid[:, 1:] == grid[:, :-1]
    return consecutive(same, periods - 1), grid


def impossible(values: ArrayLike, *, low: float, high: float) -> Condition:
    """A value outside the physically possible range [``low``, ``high``] (gross-error check,
    Zahumenský 2004 §2.2). The bounds are the rule's parameters, in the parameter's unit."""
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return (grid < low) | (grid > high), grid


def flagged(flags: ArrayLike, *, codes: Sequence[str] = DEVICE_FLAGS) -> NDArray[np.bool_]:
    """Readings carrying one of the device-status ``codes`` (HJ 212—2017 §6.6.4 Table 8).

    Parameters
    ----------
    flags : array-like of str, shape (series, periods)
        One-letter flags; empty strings or None where there is no reading.
    """
    return np.isin(np.asarray(flags, dtype=object), list(codes))
