"""Duration and repetition conditions over periods, and the episodes that become alarms.

The condition types follow ThingsBoard's alarm rules (Simple / Duration / Repeating) and
Grafana's pending period (``shared/reference/platform.md`` §1.2–1.3): a rule may require its
condition for N consecutive periods, or N times within the last M periods, before it holds.

All functions work along the last axis (time) of a boolean panel ``(series, periods)``; a
period before the first column counts as "condition not met" (the caller loads enough history:
see :func:`lookback_periods`).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray


def run_lengths(condition: ArrayLike) -> NDArray[np.int64]:
    """Length of the run of True ending at each period (0 where the condition is False).

    Vectorised: the distance from each period to the last False at or before it.
    """
    held = np.asarray(condition, dtype=bool)
    index = np.arange(held.shape[-1], dtype=np.int64)
    last_false = np.where(held, np.int64(-1), index)
    np.maximum.accumulate(last_false, axis=-1, out=last_false)
    return np.where(held, index - last_false, 0)


def consecutive(condition: ArrayLike, periods: int) -> NDArray[np.bool_]:
    """True where the condition held in this period and the ``periods − 1`` before it.

    "For N consecutive periods" (ThingsBoard *Duration*, Grafana *pending period*). The first
    period that qualifies is the N-th of the run, so an alarm starts when the duration is met,
    not when the run began.
    """
    if periods < 1:
        raise ValueError("periods must be at least 1")
    return run_lengths(condition) >= periods


def n_in_m(condition: ArrayLike, times: int, window: int) -> NDArray[np.bool_]:
    """True where the condition held at least ``times`` times in the last ``window`` periods.

    "N times in M periods" (ThingsBoard *Repeating*, counted over a sliding window ending at
    and including the current period). Only periods where the condition holds can qualify,
    so the alarm's periods are the exceedances themselves.
    """
    if not 1 <= times <= window:
        raise ValueError("need 1 ≤ times ≤ window")
    held = np.asarray(condition, dtype=bool)
    cumulative = np.cumsum(held, axis=-1, dtype=np.int64)
    before = np.zeros_like(cumulative)
    before[..., window:] = cumulative[..., :-window]
    return held & (cumulative - before >= times)


def apply_window(
    condition: ArrayLike, *, for_periods: int = 1, times_in: tuple[int, int] | None = None
) -> NDArray[np.bool_]:
    """A rule's duration condition: ``times_in = (N, M)`` wins over ``for_periods``."""
    if times_in is not None:
        return n_in_m(condition, times_in[0], times_in[1])
    return consecutive(condition, for_periods)


def lookback_periods(*, for_periods: int = 1, times_in: tuple[int, int] | None = None) -> int:
    """Periods of history before the evaluated ones that the window condition needs."""
    return (times_in[1] if times_in is not None else for_periods) - 1


EPISODE_SCHEMA = {
    "series": pl.Int64,
    "start": pl.Int64,
    "end": pl.Int64,
    "count": pl.UInt32,
    "peak": pl.Float64,
    "cleared": pl.Int64,
}
"""One row per episode: its first and last true period, how many periods held, the highest
value, and the period at which it cleared (null while still open)."""


def episodes(events: pl.DataFrame, clear_after: int) -> pl.DataFrame:
    """Group evaluated periods into episodes: runs of holding periods that become one alarm.

    An episode clears at the ``clear_after``-th evaluated period in which the condition no
    longer holds, counted from its last holding period ("auto-clear after the condition has
    been false for a set time"; ThingsBoard's clear condition with a duration). Periods with
    no evaluation (no data) are not in ``events``: they neither extend nor clear an episode,
    so an outage does not make alarms flap. A holding period before the episode cleared
    re-triggers the same episode (de-duplication: one alarm, its count and peak updated).

    Parameters
    ----------
    events : polars.DataFrame
        ``series`` (Int64), ``t`` (Int64, any increasing period label, e.g. µs since epoch),
        ``held`` (Boolean), ``value`` (Float64): one row per evaluated period.
    clear_after : int
        Evaluated periods without the condition that clear an episode (≥ 1).

    Returns
    -------
    polars.DataFrame
        Columns of :data:`EPISODE_SCHEMA`, sorted by series and start.
    """
    if clear_after < 1:
        raise ValueError("clear_after must be at least 1")
    series, t, held, value = _sorted_columns(events)
    falses = np.cumsum(~held)  # over all series: only differences within one series are used
    holding = np.flatnonzero(held)
    if holding.size == 0:
        return pl.DataFrame(schema=EPISODE_SCHEMA)
    h_series, h_falses = series[holding], falses[holding]
    new = np.ones(holding.size, dtype=bool)
    new[1:] = (h_series[1:] != h_series[:-1]) | (h_falses[1:] - h_falses[:-1] >= clear_after)
    first = np.flatnonzero(new)
    last = np.r_[first[1:], holding.size] - 1
    not_holding = np.flatnonzero(~held)  # the row with cumulative false count c is [c − 1]
    clearing = h_falses[last] + clear_after - 1
    clears = clearing < not_holding.size
    clear_row = not_holding[clearing[clears]]
    clears[clears] = series[clear_row] == h_series[first][clears]  # in the same series only
    clear_t = np.zeros(first.size, dtype=np.int64)
    clear_t[clears] = t[not_holding[clearing[clears]]]
    table = pl.DataFrame(
        {
            "series": h_series[first],
            "start": t[holding[first]],
            "end": t[holding[last]],
            "count": (last - first + 1).astype(np.uint32),
            "peak": np.fmax.reduceat(value[holding], first),
            "cleared": clear_t,
            "clears": clears,
        }
    )
    table = table.with_columns(pl.when("clears").then("cleared").alias("cleared"))
    return table.select(list(EPISODE_SCHEMA)).cast(EPISODE_SCHEMA)  # type: ignore[arg-type]


def _sorted_columns(
    events: pl.DataFrame,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_], NDArray[np.float64]]:
    """The event columns as arrays ordered by series and time (sorted only when needed)."""
    series = events["series"].to_numpy().astype(np.int64, copy=False)
    t = events["t"].to_numpy().astype(np.int64, copy=False)
    step_series, step_t = np.diff(series), np.diff(t)
    if not np.all((step_series > 0) | ((step_series == 0) & (step_t > 0))):
        order = np.lexsort((t, series))
        series, t = series[order], t[order]
        events = events[order]
    held = events["held"].to_numpy().astype(bool, copy=False)
    value = events["value"].to_numpy().astype(np.float64, copy=False)
    return series, t, held, value
