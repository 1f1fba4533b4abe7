"""Statistical anomalies: a site far above its neighbours, a spike, a sustained rise.

"AI identification" done honestly: robust statistics that a duty officer can check by hand.

* The **modified z-score** of Iglewicz and Hoaglin (1993), *How to Detect and Handle Outliers*,
  ASQC Basic References in Quality Control 16, §2.3: ``M = 0.6745 (x − median) / MAD`` with
  ``MAD = median(|xᵢ − median|)``; they recommend labelling ``|M| > 3.5`` as potential outliers.
  0.6745 is the 0.75 quantile of the standard normal, so ``M`` is in standard deviations for
  normal data. Only the upper side is used: a local source makes a site read high.
* The **Hampel identifier** (Hampel 1974; Pearson 2002, *Outliers in process modeling and
  identification*, IEEE TCST 10(1)): the same score against a moving window of the series' own
  past, with threshold 3 by convention.
* A **run of increases** (Nelson 1984, *The Shewhart control chart — tests for special causes*,
  J. Quality Technology 16(4), test 3: six points in a row steadily increasing).

A MAD of zero (identical peers, a flat history) would make every deviation infinite; the
spread is floored at ``min_spread`` (in the parameter's unit) so that a tiny absolute deviation
never raises an alarm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from qingshan.alerting.exceedance import Condition
from qingshan.alerting.windows import consecutive

NORMAL_MAD_FACTOR = 0.6745
"""Φ⁻¹(0.75): turns a MAD into standard-deviation units (Iglewicz & Hoaglin 1993, §2.3)."""

NEIGHBOUR_THRESHOLD = 3.5
"""Iglewicz & Hoaglin (1993) §2.3: modified z-scores above 3.5 are potential outliers."""

SPIKE_THRESHOLD = 3.0
"""Hampel identifier's conventional threshold (Pearson 2002)."""

MIN_PEERS = 4
"""Fewest values (the site included) a median/MAD comparison needs at one hour."""


def nan_median(values: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    """Median along ``axis`` ignoring NaN (NaN where all are NaN), by one sort.

    Equal to :func:`numpy.nanmedian` (which takes a slow masked path for many short rows) up
    to single precision: the values are sorted as float32 (7 significant digits, far finer
    than any monitor's resolution), which numpy sorts several times faster. NaN sorts last,
    so the median of the ``k`` values present is the mean of sorted elements ``(k − 1) // 2``
    and ``k // 2``.
    """
    moved = np.moveaxis(values, axis, -1).astype(np.float32)
    ordered = np.sort(moved, axis=-1)
    present = (~np.isnan(ordered)).sum(axis=-1)
    last = moved.shape[-1] - 1
    low = np.take_along_axis(ordered, np.maximum((present - 1) // 2, 0)[..., None], -1)
    high = np.take_along_axis(ordered, np.minimum(present // 2, last)[..., None], -1)
    middle = (low[..., 0].astype(np.float64) + high[..., 0]) / 2
    return np.where(present > 0, middle, np.nan)


def modified_z(
    values: NDArray[np.float64],
    median: NDArray[np.float64],
    mad: NDArray[np.float64],
    min_spread: float,
) -> NDArray[np.float64]:
    """``0.6745 (x − median) / max(MAD, min_spread)`` (NaN where any input is NaN)."""
    with np.errstate(invalid="ignore"):
        return NORMAL_MAD_FACTOR * (values - median) / np.fmax(mad, min_spread)


def neighbour_anomaly(
    values: ArrayLike,
    grid_of_series: ArrayLike,
    neighbours: Sequence[Sequence[int]],
    *,
    threshold: float = NEIGHBOUR_THRESHOLD,
    min_spread: float = 1.0,
    min_peers: int = MIN_PEERS,
) -> Condition:
    """A site far above the sites of its grid and the neighbouring grids at the same hour.

    For each grid ``g`` the peers are all series whose grid is ``g`` or one of
    ``neighbours[g]``; at each period the median and MAD of the peers' values give each site's
    modified z-score (Iglewicz & Hoaglin 1993, module docstring). Holds where the score exceeds
    ``threshold`` and at least ``min_peers`` peers have a value.

    Parameters
    ----------
    values : array-like, shape (series, periods)
        One parameter's values, NaN where missing. [parameter unit]
    grid_of_series : array-like of int, shape (series,)
        Grid index 0 … G − 1 of each series.
    neighbours : sequence of G sequences of int
        The grids adjacent to each grid (not including itself).
    threshold : float
        Modified z-score that must be exceeded.
    min_spread : float
        Floor of the MAD. [parameter unit]
    min_peers : int
        Peers with a value needed at a period for the comparison to count.

    Returns
    -------
    (held, z) : the modified z-score as the value.
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    grids = np.asarray(grid_of_series, dtype=np.int64)
    score = np.full(grid.shape, np.nan)
    for g in np.unique(grids):
        members = grids == g
        peers = np.isin(grids, [int(g), *neighbours[int(g)]])
        block = grid[peers]
        counted = (~np.isnan(block)).sum(axis=0) >= min_peers
        median = nan_median(block, axis=0)
        mad = nan_median(np.abs(block - median), axis=0)
        z = modified_z(grid[members], median, mad, min_spread)
        score[members] = np.where(counted, z, np.nan)
    with np.errstate(invalid="ignore"):
        return score > threshold, score


def spike(
    values: ArrayLike,
    *,
    window: int = 24,
    threshold: float = SPIKE_THRESHOLD,
    min_spread: float = 1.0,
    min_history: int | None = None,
) -> Condition:
    """A value far above the series' own recent history (Hampel identifier, upper side).

    The median and MAD of the ``window`` periods *before* each period (the period itself is
    not in its own reference) give its modified z-score; holds above ``threshold`` when at
    least ``min_history`` (default: half the window) of those periods have a value.

    Parameters
    ----------
    values : array-like, shape (series, periods)
        [parameter unit]
    window : int
        Periods of history in the reference.
    threshold, min_spread : see :func:`neighbour_anomaly`.
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    needed = window // 2 if min_history is None else min_history
    padded = np.concatenate([np.full((grid.shape[0], window), np.nan), grid[:, :-1]], axis=1)
    history = sliding_window_view(padded, window, axis=1)  # (series, periods, window)
    median = nan_median(history, axis=2)
    mad = nan_median(np.abs(history - median[..., None]), axis=2)
    enough = (~np.isnan(history)).sum(axis=2) >= needed
    z = np.where(enough, modified_z(grid, median, mad, min_spread), np.nan)
    with np.errstate(invalid="ignore"):
        return z > threshold, z


def sustained_rise(values: ArrayLike, *, steps: int = 6, min_rise: float = 0.0) -> Condition:
    """A value that rose in each of the last ``steps`` periods, by more than ``min_rise`` in all.

    Nelson (1984) test 3 counts six points in a row steadily increasing; ``steps`` counts the
    increases (so ``steps + 1`` values). A missing value breaks the run.

    Returns
    -------
    (held, rise) : the rise over the ``steps`` periods as the value. [parameter unit]
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if steps < 1:
        raise ValueError("steps must be at least 1")
    step_up = np.zeros(grid.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        step_up[:, 1:] = grid[:, 1:] > grid[:, :-1]
    rising = consecutive(step_up, steps)
    rise = np.full(grid.shape, np.nan)
    rise[:, steps:] = grid[:, steps:] - grid[:, :-steps]
    with np.errstate(invalid="ignore"):
        return rising & (rise > min_rise), rise
