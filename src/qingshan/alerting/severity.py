"""The severity ladder: which rung an alarm's value reaches, and when an open alarm escalates.

A rule has a base severity and may grade its alarms with a ladder of thresholds on the alarm's
value (``{"critical": 200, "major": 150}`` over a base of ``minor``: the hourly AQI rule of
HJ 633's bands, or a permit limit exceeded by 50 % and 100 %), the four rungs of the issue's
ladder red/orange/yellow/blue ↔ critical/major/minor/warning (ThingsBoard keeps one alarm per
identity and raises its severity when a stronger condition holds; ``shared/reference/
platform.md`` §1.2). Rungs are ranks ``0 warning < 1 minor < 2 major < 3 critical``
(:data:`qingshan.alerting.catalogue.SEVERITY_RANKS`).

* :func:`rungs` — the rung of each value: the highest rung whose threshold it exceeds
  (strictly, as the standards' limits are exceeded), never below the rule's base;
* :func:`escalation_steps` — within each alarm episode, the periods at which the highest rung
  reached so far rises: the first is the opening severity, the others are escalations. The
  running maximum never falls, so an open alarm does not de-escalate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

STEP_SCHEMA = {
    "series": pl.Int64,
    "start": pl.Int64,
    "t": pl.Int64,
    "rung": pl.Int8,
    "value": pl.Float64,
}
"""One row per rise of an episode's severity: the episode (series, start), the period, the
rung reached and the value that reached it."""


def rungs(values: ArrayLike, base: int, ladder: Sequence[tuple[int, float]]) -> NDArray[np.int8]:
    """The rung each value reaches on the ladder (NaN: the base).

    Parameters
    ----------
    values : array-like of float
        Alarm values (IAQI, concentration, z-score…). [the rule's value unit]
    base : int
        The rule's own severity rank: every holding period has at least this rung.
    ladder : sequence of (rank, threshold)
        Rungs above the base and the value each needs to be exceeded.
    """
    grid = np.asarray(values, dtype=np.float64)
    reached = np.full(grid.shape, base, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for rank, threshold in ladder:
            reached = np.where(grid > threshold, np.maximum(reached, np.int8(rank)), reached)
    return reached.astype(np.int8)


def escalation_steps(held: pl.DataFrame, starts: pl.DataFrame) -> pl.DataFrame:
    """The periods at which each episode's severity rises (the first: its opening severity).

    Parameters
    ----------
    held : polars.DataFrame
        The holding periods: ``series`` (Int64), ``t`` (Int64), ``rung`` (Int8), ``value``
        (Float64).
    starts : polars.DataFrame
        The episodes: ``series``, ``start`` (from :func:`qingshan.alerting.windows.episodes`).
        Each holding period belongs to the latest episode of its series starting at or before it.

    Returns
    -------
    polars.DataFrame
        Columns of :data:`STEP_SCHEMA`, sorted by series, start and t.
    """
    if held.is_empty() or starts.is_empty():
        return pl.DataFrame(schema=STEP_SCHEMA)
    periods = held.select(
        pl.col("series").cast(pl.Int64),
        pl.col("t").cast(pl.Int64),
        pl.col("rung").cast(pl.Int8),
        pl.col("value").cast(pl.Float64),
    ).sort("t")
    episodes = starts.select(pl.col("series").cast(pl.Int64), pl.col("start").cast(pl.Int64))
    members = periods.join_asof(
        episodes.sort("start"),
        left_on="t",
        right_on="start",
        by="series",
        strategy="backward",
        check_sortedness=False,  # sorted by t overall, hence within every series
    ).drop_nulls("start")
    group = ["series", "start"]
    reached = pl.col("rung").cum_max().over(group, order_by="t")
    return (
        members.with_columns(reached.alias("reached"))
        .with_columns(pl.col("reached").shift(1).over(group, order_by="t").alias("before"))
        .filter(pl.col("before").is_null() | (pl.col("reached") > pl.col("before")))
        .select("series", "start", "t", pl.col("reached").alias("rung"), "value")
        .sort("series", "start", "t")
        .cast(STEP_SCHEMA)  # type: ignore[arg-type]
    )
