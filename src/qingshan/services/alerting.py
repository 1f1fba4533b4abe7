"""Rule evaluation: readings → condition events → alarms (opened, re-triggered, cleared).

* :func:`evaluate_readings` runs right after a batch of readings is committed (``qingshan
  ingest`` calls it; every ingestion channel is meant to): the rules whose scope covers the
  batch's sites are evaluated over the batch's periods plus the history their windows need.
* :func:`evaluate_period` re-evaluates every rule over a time range (a backfill, or a
  scheduled run: silence and the good-day target pace are judged by the clock, not by
  arriving readings).

Evaluation is incremental and idempotent. Each alarm identity (rule + site (+ parameter))
has a *watermark*: the last period its latest alarm covered. Only periods after it count, so
evaluating the same readings twice changes nothing, and a re-trigger of an active alarm
extends it (``last_triggered_at``, ``peak_value``, ``count``) instead of opening a new one.
The kernels are in :mod:`qingshan.alerting`; the episode logic (clear after ``clear_after``
evaluated periods without the condition) in :func:`qingshan.alerting.windows.episodes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from qingshan.alerting import anomaly, exceedance, pace, quality, severity
from qingshan.alerting.adjacency import cached_polygon_neighbours
from qingshan.alerting.catalogue import (
    RULE_TYPES,
    SEVERITIES,
    SEVERITY_RANKS,
    WATER_ITEMS,
    ladder_steps,
)
from qingshan.alerting.windows import apply_window, episodes, lookback_periods
from qingshan.services import notifications
from qingshan.services.monitoring_readings import hourly_air_table
from qingshan.standards import air_evaluation, noise
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import writing
from qingshan.store.models import (
    VALID_FLAGS,
    Alarm,
    AlarmComment,
    Grid,
    Parameter,
    Reading,
    Rule,
    Site,
    User,
    UserGrid,
)
from qingshan.store.types import utc_now

SYSTEM_ACTOR = "system:alerting"
PERIOD_STEP = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
MAX_LOOKBACK = timedelta(days=31)
"""History loaded at most to continue an active alarm (an older one is continued only by
periods within this distance)."""
WATER_CLASS_CODES = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
LAKE_TYPES = ("lake", "reservoir")
_MICROS = pl.Datetime("us", "UTC")
BEIJING = ZoneInfo(LOCAL_TIME_ZONE)

logger = logging.getLogger(__name__)


@dataclass
class EvaluationCounts:
    """Alarms opened, re-triggered (updated while active) and cleared by an evaluation."""

    opened: int = 0
    updated: int = 0
    cleared: int = 0

    def add(self, other: EvaluationCounts) -> None:
        self.opened += other.opened
        self.updated += other.updated
        self.cleared += other.cleared

    def as_dict(self) -> dict[str, int]:
        return {"opened": self.opened, "updated": self.updated, "cleared": self.cleared}


@dataclass(frozen=True)
class SiteInfo:
    id: int
    code: str
    kind: str
    grid_id: int | None
    grid_code: str | None
    air_class: str | None
    water_target_class: str | None
    waterbody_type: str | None
    noise_zone: str | None
    permit_limits: dict[str, Any]
    interval_minutes: int


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    township_id: int
    boundary: str | None
    """GeoJSON polygon (WGS-84) or None."""


@dataclass(frozen=True)
class Context:
    """What every rule needs to know about sites and parameters, loaded once per evaluation."""

    sites: dict[int, SiteInfo]
    parameters: dict[str, int]
    grids: dict[int, GridInfo]

    def parameter_id(self, key: str) -> int:
        if key not in self.parameters:
            raise ValueError(f"unknown parameter {key!r}")
        return self.parameters[key]


def load_context(session: Session) -> Context:
    rows = session.execute(
        select(Site, Grid.code).outerjoin(Grid, Grid.id == Site.grid_id).where(Site.active)
    )
    sites = {
        site.id: SiteInfo(
            site.id,
            site.code,
            site.kind,
            site.grid_id,
            grid_code,
            site.air_class,
            site.water_target_class,
            site.waterbody_type,
            site.noise_zone,
            dict(site.permit_limits or {}),
            site.reporting_interval_minutes,
        )
        for site, grid_code in rows
    }
    parameters = {key: pid for key, pid in session.execute(select(Parameter.key, Parameter.id))}
    grids = {
        grid.id: GridInfo(grid.id, grid.code, grid.township_id, grid.boundary or None)
        for grid in session.scalars(select(Grid).order_by(Grid.id))  # a stable adjacency cache key
    }
    return Context(sites, parameters, grids)


def in_scope(rule: Rule, site: SiteInfo) -> bool:
    """Whether a rule judges a site: its type's site kinds and the rule's scope lists."""
    kinds = RULE_TYPES[rule.type].site_kinds
    if kinds is not None and site.kind not in kinds:
        return False
    if not _has_standard_context(rule, site):
        return False
    scope = rule.scope or {}
    checks = (
        ("site_kinds", site.kind),
        ("grids", site.grid_code),
        ("sites", site.code),
    )
    return all(not scope.get(name) or value in scope[name] for name, value in checks)


def _has_standard_context(rule: Rule, site: SiteInfo) -> bool:
    """Whether the site carries what the rule compares with: a permit limit for the
    parameter, a target water class, a noise zone (a site without one is not judged)."""
    if rule.type == "permit":
        return rule.parameters["parameter"] in site.permit_limits
    if rule.type == "water_class":
        return site.water_target_class is not None
    if rule.type == "noise":
        return site.noise_zone is not None
    return True


# ------------------------------------------------------------------------------------------
# Readings → panels → condition events
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """Values of one parameter on a regular grid: ``values[site_row, period]``."""

    site_ids: list[int]
    times: NDArray[np.datetime64]
    values: NDArray[np.float64]
    """Values with a valid flag (NaN elsewhere)."""
    raw: NDArray[np.float64]
    """Every value, whatever its flag."""
    flags: NDArray[Any]


def load_readings(
    session: Session,
    site_ids: Iterable[int],
    parameter_ids: Iterable[int],
    period: str,
    start: datetime,
    end: datetime,
) -> pl.DataFrame:
    """Readings of some sites and parameters with ``start ≤ period_start ≤ end``."""
    statement = select(
        Reading.site_id, Reading.parameter_id, Reading.period_start, Reading.value, Reading.flag
    ).where(
        Reading.site_id.in_(list(site_ids)),
        Reading.parameter_id.in_(list(parameter_ids)),
        Reading.period == period,
        Reading.period_start >= start,
        Reading.period_start <= end,
    )
    schema = {
        "site_id": pl.Int64,
        "parameter_id": pl.Int64,
        "period_start": _MICROS,
        "value": pl.Float64,
        "flag": pl.String,
    }
    return pl.DataFrame(
        [tuple(row) for row in session.execute(statement)], schema=schema, orient="row"
    )


def build_panel(
    readings: pl.DataFrame,
    parameter_id: int,
    site_ids: list[int],
    start: datetime,
    end: datetime,
    step: timedelta,
) -> Panel:
    """One parameter's readings on the grid ``start, start + step, … ≤ end`` (NaN = none).

    Readings whose flag is not valid (HJ 212 Table 8: only ``N``) are NaN in ``values`` and
    kept in ``flags``: a faulty instrument's number must not raise an exceedance alarm.
    """
    step_us = int(step / timedelta(microseconds=1))
    t0 = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    count = int((end - start) / step) + 1
    times = t0 + np.arange(count) * np.timedelta64(step_us, "us")
    values = np.full((len(site_ids), count), np.nan)
    raw = np.full((len(site_ids), count), np.nan)
    flags = np.full((len(site_ids), count), None, dtype=object)
    rows = {site_id: row for row, site_id in enumerate(site_ids)}
    chosen = readings.filter(
        (pl.col("parameter_id") == parameter_id) & pl.col("site_id").is_in(site_ids)
    )
    if chosen.height:
        offset = (
            chosen["period_start"].dt.replace_time_zone(None).to_numpy() - t0
        ) / np.timedelta64(step_us, "us")
        on_grid = offset == np.floor(offset)
        row = np.array([rows[s] for s in chosen["site_id"].to_list()])[on_grid]
        column = offset[on_grid].astype(np.int64)
        valid = chosen["flag"].is_in(list(VALID_FLAGS)).to_numpy()[on_grid]
        raw[row, column] = chosen["value"].to_numpy()[on_grid]
        values[row, column] = np.where(valid, raw[row, column], np.nan)
        flags[row, column] = chosen["flag"].to_numpy()[on_grid]
    return Panel(site_ids, times, values, raw, flags)


def panel_events(
    panel: Panel,
    held: NDArray[np.bool_],
    value: NDArray[np.float64],
    evaluated: NDArray[np.bool_],
    parameter_id: int | None,
) -> pl.DataFrame:
    """Long events (site, parameter, t, held, value) of the evaluated cells of a panel."""
    rows, columns = np.nonzero(evaluated)
    return pl.DataFrame(
        {
            "site_id": np.asarray(panel.site_ids, dtype=np.int64)[rows],
            "parameter_id": pl.Series([parameter_id] * rows.size, dtype=pl.Int64),
            "t": pl.Series(panel.times[columns]).dt.replace_time_zone("UTC").cast(_MICROS),
            "held": held[rows, columns],
            "value": value[rows, columns].astype(np.float64),
        }
    )


EVENT_SCHEMA = {
    "site_id": pl.Int64,
    "parameter_id": pl.Int64,
    "t": _MICROS,
    "held": pl.Boolean,
    "value": pl.Float64,
}


def _empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_SCHEMA)


@dataclass(frozen=True)
class Window:
    """The periods a rule is evaluated on: events from ``start`` to ``end`` are kept; readings
    are loaded from ``load_from`` (history for the rule's windows)."""

    load_from: datetime
    start: datetime
    end: datetime
    at: datetime
    """The instant of the evaluation (silence is judged at this time)."""


def _times_in(rule: Rule) -> tuple[int, int] | None:
    pair = rule.parameters.get("times_in")
    return (int(pair[0]), int(pair[1])) if pair else None


def kernel_history(rule: Rule) -> int:
    """Periods of history the rule's kernel and window condition need before a period."""
    p = rule.parameters
    own = {
        "spike": p.get("window", 0),
        "rise": p.get("steps", 0),
        "flat_line": p.get("periods", 1) - 1,
    }
    window = lookback_periods(for_periods=p["for_periods"], times_in=_times_in(rule))
    return int(own.get(rule.type, 0)) + window


def _windowed(rule: Rule, held: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return apply_window(held, for_periods=rule.parameters["for_periods"], times_in=_times_in(rule))


KernelResult = tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.bool_]]


def _single_parameter_kernel(rule: Rule, sites: list[SiteInfo], panel: Panel) -> KernelResult:
    """held, value, evaluated for the rule types that look at one parameter's panel."""
    p, values = rule.parameters, panel.values
    present = ~np.isnan(values)
    kind = rule.type
    if kind == "aqi":
        held, value = exceedance.iaqi_over(p["parameter"], values, float(p["level"]))
    elif kind == "water_class":
        targets = [WATER_CLASS_CODES[str(s.water_target_class)] for s in sites]
        lakes = [s.waterbody_type in LAKE_TYPES for s in sites]
        held, value = exceedance.water_worse_than_target(
            WATER_ITEMS[p["parameter"]], values, targets, lakes
        )
    elif kind == "noise":
        local = _local_naive(panel.times)
        _, is_night = noise.hour_periods(local)
        held, value = exceedance.noise_over_limit(values, [s.noise_zone for s in sites], is_night)
    elif kind == "permit":
        limits = [float(s.permit_limits[p["parameter"]]["limit"]) for s in sites]
        held, value = exceedance.permit_over_limit(values, limits)
    elif kind == "spike":
        held, value = anomaly.spike(
            values, window=p["window"], threshold=p["threshold"], min_spread=p["min_spread"]
        )
    elif kind == "rise":
        held, value = anomaly.sustained_rise(values, steps=p["steps"], min_rise=p["min_rise"])
    elif kind == "flat_line":
        held, value = quality.flat_line(values, periods=p["periods"])
    elif kind == "impossible":
        held, value = quality.impossible(values, low=float(p["low"]), high=float(p["high"]))
    elif kind == "device_flag":
        present = ~np.isnan(panel.raw)
        held, value = quality.flagged(panel.flags, codes=p["flags"]), panel.raw
    else:
        raise ValueError(f"{kind} is not a single-parameter rule")
    return held, value, present


def _local_naive(times: NDArray[np.datetime64]) -> NDArray[np.datetime64]:
    series = pl.Series(times).dt.replace_time_zone("UTC").dt.convert_time_zone(LOCAL_TIME_ZONE)
    return series.dt.replace_time_zone(None).to_numpy()


def _aqi_panels(
    session: Session, rule: Rule, context: Context, site_ids: list[int], window: Window
) -> tuple[Panel, KernelResult]:
    """The hourly AQI over all pollutants present (rule parameter ``aqi``)."""
    keys = list(exceedance.HOURLY_AQI_INDICATORS)
    ids = {key: context.parameter_id(key) for key in keys}
    step = PERIOD_STEP[rule.parameters["period"]]
    readings = load_readings(
        session, site_ids, ids.values(), rule.parameters["period"], window.load_from, window.end
    )
    panels = {
        key: build_panel(readings, pid, site_ids, window.load_from, window.end, step)
        for key, pid in ids.items()
    }
    held, value = exceedance.aqi_over(
        {key: panel.values for key, panel in panels.items()}, float(rule.parameters["level"])
    )
    first = panels[keys[0]]
    return first, (held, value, ~np.isnan(value))


@dataclass(frozen=True)
class Neighbourhood:
    """The grids next to one grid, and how that was decided."""

    grids: frozenset[int]
    basis: str
    """``polygons``: shared boundaries of the grid polygons; ``township``: the grid has no
    usable polygon, so the other grids of its township stand in (with the reason when the
    grid has a boundary that could not be read)."""


def grid_neighbourhoods(context: Context) -> dict[int, Neighbourhood]:
    """Every grid's neighbours: from the polygons (:mod:`qingshan.alerting.adjacency`, cached
    per grid set) where the grid has one, else the other grids of its township.

    A grid without a polygon may border any grid of its township, so it is also a neighbour
    of those grids (the relation stays symmetric).
    """
    adjacency = cached_polygon_neighbours(
        tuple((g.id, g.boundary) for g in context.grids.values() if g.boundary is not None)
    )
    by_polygon = adjacency.neighbours
    township_grids: dict[int, set[int]] = {}
    for grid in context.grids.values():
        township_grids.setdefault(grid.township_id, set()).add(grid.id)
    found = {}
    for grid in context.grids.values():
        same_township = township_grids[grid.township_id] - {grid.id}
        if grid.id in by_polygon:
            unmapped = {other for other in same_township if other not in by_polygon}
            found[grid.id] = Neighbourhood(by_polygon[grid.id] | unmapped, "polygons")
        else:
            unusable = adjacency.unreadable.get(grid.id)
            basis = f"township (boundary not usable: {unusable})" if unusable else "township"
            found[grid.id] = Neighbourhood(frozenset(same_township), basis)
    return found


def neighbour_context(context: Context, site: SiteInfo) -> dict[str, Any]:
    """What a neighbour-anomaly alarm records about its peers: how the neighbouring grids were
    found and which they are."""
    if site.grid_id is None:
        return {"neighbours": "none", "neighbour_grids": []}
    neighbourhood = grid_neighbourhoods(context)[site.grid_id]
    codes = sorted(context.grids[g].code for g in neighbourhood.grids)
    return {"neighbours": neighbourhood.basis, "neighbour_grids": codes}


def _neighbour_kernel(
    rule: Rule, context: Context, sites: list[SiteInfo], panel: Panel
) -> KernelResult:
    """Peers = the sites of the same grid and of its neighbouring grids
    (:func:`grid_neighbourhoods`); a site without a grid is compared with nothing."""
    grid_keys = [site.grid_id if site.grid_id is not None else -site.id for site in sites]
    index = {key: position for position, key in enumerate(dict.fromkeys(grid_keys))}
    neighbourhoods = grid_neighbourhoods(context)
    neighbours = [
        [index[other] for other in neighbourhoods[key].grids if other in index]
        if key in neighbourhoods
        else []
        for key in index
    ]
    p = rule.parameters
    held, value = anomaly.neighbour_anomaly(
        panel.values,
        [index[key] for key in grid_keys],
        neighbours,
        threshold=p["threshold"],
        min_spread=p["min_spread"],
        min_peers=p["min_peers"],
    )
    return held, value, ~np.isnan(value)


def _panel_rule_events(
    session: Session, rule: Rule, context: Context, sites: list[SiteInfo], window: Window
) -> pl.DataFrame:
    site_ids = [site.id for site in sites]
    parameter = rule.parameters.get("parameter")
    if rule.type == "aqi" and parameter == "aqi":
        panel, (held, value, present) = _aqi_panels(session, rule, context, site_ids, window)
        parameter_id = None
    else:
        parameter_id = context.parameter_id(parameter)
        period = rule.parameters["period"]
        readings = load_readings(
            session, site_ids, [parameter_id], period, window.load_from, window.end
        )
        panel = build_panel(
            readings, parameter_id, site_ids, window.load_from, window.end, PERIOD_STEP[period]
        )
        if rule.type == "neighbour":
            held, value, present = _neighbour_kernel(rule, context, sites, panel)
        else:
            held, value, present = _single_parameter_kernel(rule, sites, panel)
    held = _windowed(rule, held & present)
    return panel_events(panel, held, value, present, parameter_id)


def _silence_events(
    session: Session, rule: Rule, sites: list[SiteInfo], at: datetime
) -> pl.DataFrame:
    """One event per site at ``at``: silent for longer than N intervals (any parameter)."""
    site_ids = [site.id for site in sites]
    statement = (
        select(Reading.site_id, func.max(Reading.period_start))
        .where(Reading.site_id.in_(site_ids), Reading.period_start <= at)
        .group_by(Reading.site_id)
    )
    latest: dict[int, datetime] = {site: moment for site, moment in session.execute(statement)}
    last = np.array(
        [_naive_utc(latest[s]) if s in latest else np.datetime64("NaT") for s in site_ids],
        dtype="datetime64[us]",
    )
    held, minutes = quality.silent(
        last,
        np.datetime64(_naive_utc(at), "us"),
        [site.interval_minutes for site in sites],
        intervals=rule.parameters["intervals"],
    )
    return pl.DataFrame(
        {
            "site_id": site_ids,
            "parameter_id": [None] * len(site_ids),
            "t": [at] * len(site_ids),
            "held": held,
            "value": minutes,
        },
        schema=EVENT_SCHEMA,
    )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _pace_events(
    session: Session, rule: Rule, context: Context, sites: list[SiteInfo], window: Window
) -> pl.DataFrame:
    """Daily events from 1 January (Beijing) of ``window.end``'s year: behind the target pace."""
    local_end = window.end.astimezone(BEIJING)
    year_start = datetime(local_end.year, 1, 1, tzinfo=BEIJING)
    # window.end is the start of the last day; its hours run up to the evaluation instant
    hourly = hourly_air_table(session, sites, year_start, window.at)
    if hourly.is_empty():
        return _empty_events()
    daily = air_evaluation.evaluate(hourly).daily
    days_in_year = 366 if local_end.year % 4 == 0 else 365
    target = float(rule.parameters["target_percent"])
    frames = []
    for site in sites:
        mine = daily.filter(pl.col("station") == site.code).sort("date")
        if mine.is_empty():
            continue
        first = np.datetime64(f"{local_end.year}-01-01", "D")
        offsets = (mine["date"].to_numpy().astype("datetime64[D]") - first).astype(np.int64)
        length = int(offsets.max()) + 1
        good, valid = np.zeros(length, bool), np.zeros(length, bool)
        good[offsets] = mine["good_day"].fill_null(False).to_numpy()
        valid[offsets] = mine["aqi_valid_day"].fill_null(False).to_numpy()
        result = pace.good_day_pace(good, valid, target, days_in_year)
        counted = np.cumsum(valid) > 0
        day_starts = [year_start + timedelta(days=int(d)) for d in np.nonzero(counted)[0]]
        frames.append(
            pl.DataFrame(
                {
                    "site_id": [site.id] * len(day_starts),
                    "parameter_id": [None] * len(day_starts),
                    "t": day_starts,
                    "held": result.behind[0][counted],
                    "value": result.ratio[0][counted],
                },
                schema=EVENT_SCHEMA,
            )
        )
    events = pl.concat(frames) if frames else _empty_events()
    return events.filter(pl.col("t") >= window.start)


def rule_events(
    session: Session, rule: Rule, context: Context, sites: list[SiteInfo], window: Window
) -> pl.DataFrame:
    """Condition events of one rule over some sites: ``site_id, parameter_id, t, held, value``."""
    if not sites:
        return _empty_events()
    if rule.type == "silent":
        return _silence_events(session, rule, sites, window.at)
    if rule.type == "target_pace":
        return _pace_events(session, rule, context, sites, window)
    return _panel_rule_events(session, rule, context, sites, window)


# ------------------------------------------------------------------------------------------
# Condition events → alarms
# ------------------------------------------------------------------------------------------


def series_key(rule_id: int, site_id: int, parameter_id: int | None) -> str:
    """The identity of an alarm series: rule + site (+ parameter)."""
    return f"{rule_id}:{site_id}:{parameter_id or 0}"


def grid_officers(session: Session) -> dict[int, str]:
    """Grid id → who alarms of the grid are assigned to.

    The first (by user name) active grid officer linked to the grid in ``user_grids``; without
    one, the first person in the grid's ``responsible`` list.
    """
    officers: dict[int, str] = {}
    linked = session.execute(
        select(UserGrid.grid_id, User.username)
        .join(User, User.id == UserGrid.user_id)
        .where(User.role == "grid_officer", User.active)
        .order_by(User.username)
    )
    for grid_id, username in linked:
        officers.setdefault(grid_id, username)
    for grid_id, responsible in session.execute(select(Grid.id, Grid.responsible)):
        name = str(responsible[0].get("name", "")) if responsible else ""
        if grid_id not in officers and name:
            officers[grid_id] = name
    return officers


def _latest_alarms(session: Session, rule_id: int, keys: list[str]) -> dict[str, Alarm]:
    """The newest alarm of each series (the active one when there is one)."""
    alarms = session.scalars(
        select(Alarm)
        .where(Alarm.rule_id == rule_id, Alarm.series_key.in_(keys))
        .order_by(Alarm.series_key, Alarm.last_triggered_at, Alarm.id)
    )
    return {alarm.series_key: alarm for alarm in alarms}


def _watermark(alarm: Alarm) -> datetime:
    """The last period an alarm covers: later periods are new evidence.

    An automatic clear happened at a period (a data time), so the series was judged up to it.
    A manual clear happened at a wall-clock time, which says nothing about the data: periods
    after the last trigger still count (and a holding one opens a new alarm).
    """
    if alarm.clear_reason == "auto" and alarm.cleared_at is not None:
        return alarm.cleared_at
    return alarm.last_triggered_at


def _micros(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def _peak(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def apply_events(
    session: Session, rule: Rule, events: pl.DataFrame, context: Context
) -> EvaluationCounts:
    """Open, re-trigger, escalate and clear the rule's alarms from its condition events.

    Events at or before a series' watermark were already judged and are ignored; an active
    alarm enters the episode computation as a holding period at its ``last_triggered_at``
    with its peak and its severity, so a re-trigger before it clears continues it and
    escalates it when it reaches a higher rung of the rule's ladder.
    """
    counts = EvaluationCounts()
    if events.is_empty():
        return counts
    keyed = events.with_columns(
        pl.format(
            "{}:{}:{}", pl.lit(rule.id), "site_id", pl.col("parameter_id").fill_null(0)
        ).alias("key")
    )
    latest = _latest_alarms(session, rule.id, keyed["key"].unique().to_list())
    table = _unjudged(rule, keyed, latest)
    if table.is_empty():
        return counts
    series = table.select("key", "site_id", "parameter_id").unique("key").with_row_index("series")
    numbered = table.join(series.select("key", "series"), on="key").select(
        pl.col("series").cast(pl.Int64),
        pl.col("t").dt.epoch("us").alias("t"),
        "held",
        "value",
        "rung",
    )
    found = episodes(numbered, rule.parameters["clear_after"])
    climbs = _climbs(numbered, found)
    found = found.join(series.with_columns(pl.col("series").cast(pl.Int64)), on="series")
    officers = grid_officers(session)
    fresh: list[Alarm] = []
    escalating: list[tuple[Alarm, list[dict[str, Any]]]] = []
    for row in found.iter_rows(named=True):
        alarm = latest.get(row["key"])
        climb = climbs[(row["series"], row["start"])]
        if alarm is not None and alarm.active and row["start"] == _micros(alarm.last_triggered_at):
            _continue(alarm, row, counts)
        else:
            alarm = _open(rule, row, context, officers, counts, RANKED[climb[0]["rung"]])
            fresh.append(alarm)
        escalating.append((alarm, climb[1:]))
    session.flush()  # clear continued alarms before new ones of the same series go in
    session.add_all(fresh)
    escalated = [alarm for alarm, steps in escalating if _escalate(session, alarm, steps)]
    session.flush()
    for alarm in fresh:
        if alarm.active:
            _notify(session, rule, alarm, context.sites[alarm.site_id], kind="alarm")
    for alarm in escalated:
        if alarm.active and alarm not in fresh:
            _notify(session, rule, alarm, context.sites[alarm.site_id], kind="alarm.escalated")
    return counts


RANKED = {rank: severity for severity, rank in SEVERITY_RANKS.items()}
"""Rung → severity (0 warning … 3 critical)."""


def _unjudged(rule: Rule, keyed: pl.DataFrame, latest: dict[str, Alarm]) -> pl.DataFrame:
    """The events after each series' watermark, graded on the rule's ladder, plus one holding
    event per active alarm (at its last trigger, with its peak and its current severity)."""
    marks = pl.DataFrame(
        {
            "key": list(latest),
            "mark": [_watermark(alarm) for alarm in latest.values()],
        },
        schema={"key": pl.String, "mark": _MICROS},
    )
    keyed = keyed.join(marks, on="key", how="left").filter(
        pl.col("mark").is_null() | (pl.col("t") > pl.col("mark"))
    )
    base, ladder = ladder_steps(rule.severity, rule.parameters)
    keyed = keyed.with_columns(
        pl.Series("rung", severity.rungs(keyed["value"].to_numpy(), base, ladder), pl.Int8)
    )
    active = [alarm for alarm in latest.values() if alarm.active]
    continuing = pl.DataFrame(
        {
            "key": [a.series_key for a in active],
            "site_id": [a.site_id for a in active],
            "parameter_id": [a.parameter_id for a in active],
            "t": [a.last_triggered_at for a in active],
            "held": [True] * len(active),
            "value": [a.peak_value if a.peak_value is not None else np.nan for a in active],
            "rung": [SEVERITY_RANKS[a.severity] for a in active],
        },
        schema={"key": pl.String, **EVENT_SCHEMA, "rung": pl.Int8},
    )
    return pl.concat([keyed.select(continuing.columns), continuing])


def _climbs(
    numbered: pl.DataFrame, found: pl.DataFrame
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """(series, episode start) → the episode's severity steps, oldest first (the first step
    is its severity when it opened, or the active alarm's current severity)."""
    steps = severity.escalation_steps(
        numbered.filter("held").select("series", "t", "rung", "value"),
        found.select("series", "start"),
    )
    climbs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for step in steps.iter_rows(named=True):
        climbs.setdefault((step["series"], step["start"]), []).append(step)
    return climbs


def _escalate(session: Session, alarm: Alarm, steps: list[dict[str, Any]]) -> bool:
    """Raise an alarm's severity at each step that reaches a higher rung, writing each on the
    alarm's comments (from → to, the value and the period); True when it rose."""
    rose = False
    for step in steps:
        before, after = alarm.severity, RANKED[step["rung"]]
        if SEVERITY_RANKS[after] <= SEVERITY_RANKS[before]:
            continue
        body = (
            f"escalated {before} ({SEVERITIES[before]}) → {after} ({SEVERITIES[after]}): "
            f"value {_peak(step['value'])} in the period from {_instant(step['t']).isoformat()}"
        )
        session.add(AlarmComment(alarm=alarm, author=SYSTEM_ACTOR, body=body, system=True))
        alarm.severity = after
        rose = True
    return rose


def _notify(session: Session, rule: Rule, alarm: Alarm, site: SiteInfo, *, kind: str) -> None:
    """Tell the grid's officers and the bureau's analysts of a new alarm (``alarm``) or of an
    open alarm reaching a higher severity (``alarm.escalated``), at its current severity; the
    routes decide channel, grouping and quiet hours (:mod:`qingshan.services.notifications`)."""
    what = "escalated to " + alarm.severity if kind == "alarm.escalated" else "opened"
    notifications.notify(
        session,
        kind=kind,
        title=f"[{SEVERITIES[alarm.severity]}] {rule.name} — {site.code}",
        body=f"{rule.name}: {site.code} {what}, from {alarm.started_at.isoformat()}, "
        f"peak {alarm.peak_value}",
        roles=("grid_officer", "analyst"),
        grid_id=alarm.grid_id,
        alarm_id=alarm.id,
        severity=alarm.severity,
    )


def _continue(alarm: Alarm, episode: dict[str, Any], counts: EvaluationCounts) -> None:
    if episode["count"] > 1:
        alarm.count += episode["count"] - 1
        alarm.last_triggered_at = _instant(episode["end"])
        peak = _peak(episode["peak"])
        if peak is not None and (alarm.peak_value is None or peak > alarm.peak_value):
            alarm.peak_value = peak
        counts.updated += 1
    if episode["cleared"] is not None:
        alarm.active = False
        alarm.cleared_at = _instant(episode["cleared"])
        alarm.clear_reason = "auto"
        counts.cleared += 1


def _open(
    rule: Rule,
    episode: dict[str, Any],
    context: Context,
    officers: dict[int, str],
    counts: EvaluationCounts,
    opening_severity: str,
) -> Alarm:
    site = context.sites[episode["site_id"]]
    cleared = episode["cleared"]
    counts.opened += 1
    counts.cleared += cleared is not None
    return Alarm(
        series_key=episode["key"],
        rule_id=rule.id,
        rule_version=rule.version,
        site_id=site.id,
        parameter_id=episode["parameter_id"],
        grid_id=site.grid_id,
        severity=opening_severity,
        started_at=_instant(episode["start"]),
        last_triggered_at=_instant(episode["end"]),
        count=episode["count"],
        peak_value=_peak(episode["peak"]),
        active=cleared is None,
        cleared_at=None if cleared is None else _instant(cleared),
        clear_reason=None if cleared is None else "auto",
        acknowledged=False,
        assignee=officers.get(site.grid_id) if site.grid_id is not None else None,
        context=neighbour_context(context, site) if rule.type == "neighbour" else None,
    )


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------

_ANCHOR = datetime(1969, 12, 31, 16, tzinfo=UTC)
"""Beijing midnight of 1 January 1970: day periods start at Beijing midnights; hours and
minutes fall on it too."""


def _floor(moment: datetime, step: timedelta) -> datetime:
    return _ANCHOR + ((moment - _ANCHOR) // step) * step


def _window(
    session: Session, rule: Rule, site_ids: set[int], start: datetime, end: datetime, at: datetime
) -> Window:
    step = PERIOD_STEP[rule.parameters["period"]]
    start, end = _floor(start, step), _floor(end, step)
    load_from = start - kernel_history(rule) * step
    oldest_active = session.scalar(
        select(func.min(Alarm.last_triggered_at)).where(
            Alarm.rule_id == rule.id, Alarm.active, Alarm.site_id.in_(site_ids)
        )
    )
    if oldest_active is not None:
        load_from = min(load_from, max(_floor(oldest_active, step), start - MAX_LOOKBACK))
    return Window(load_from, start, end, at)


def enabled_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).where(Rule.enabled).order_by(Rule.id)))


def _evaluate_rule(
    session: Session, rule: Rule, context: Context, targets: set[int], window: Window
) -> EvaluationCounts:
    if rule.type == "neighbour":  # the peers' values are needed, alarms only for the targets
        computed = [site for site in context.sites.values() if in_scope(rule, site)]
    else:
        computed = [context.sites[s] for s in sorted(targets)]
    events = rule_events(session, rule, context, computed, window)
    return apply_events(session, rule, events.filter(pl.col("site_id").is_in(targets)), context)


def evaluate_after_commit(engine: Engine, batch: pl.DataFrame, *, actor: str) -> None:
    """Evaluate the rules for readings that are already committed and acknowledged.

    The readings are safe whatever happens here, so a failing evaluation is logged rather than
    turned into an error of the channel: a device answered with an error would re-send a batch
    that is already stored. ``qingshan alarms evaluate`` catches up later.
    """
    try:
        evaluate_readings(engine, batch, actor=actor)
    except Exception:  # any failure: the readings stay stored; the log says what happened
        logger.exception("alarm rules were not evaluated for a batch of %d readings", batch.height)


def evaluate_readings(
    engine: Engine, batch: pl.DataFrame, *, actor: str = SYSTEM_ACTOR, at: datetime | None = None
) -> EvaluationCounts:
    """Evaluate the rules that cover a committed batch of readings (``upsert_readings`` input).

    Every enabled rule whose scope holds a site of the batch is evaluated for those sites
    over the batch's periods of the rule's period type (silence: at ``at``, default now).
    The good-day target pace is left to :func:`evaluate_period` (a daily judgement).
    """
    counts = EvaluationCounts()
    if batch.is_empty():
        return counts
    at = at or utc_now()
    with writing(engine, actor) as session:
        rules = enabled_rules(session)
        if not rules:  # nothing to judge: skip loading every site (device channels, each batch)
            return counts
        context = load_context(session)
        batch_sites = {s for s in batch["site_id"].unique().to_list() if s in context.sites}
        for rule in rules:
            targets = {s for s in batch_sites if in_scope(rule, context.sites[s])}
            if not targets or rule.type == "target_pace":
                continue
            if rule.type == "silent":
                window = Window(at, at, at, at)
            else:
                rows = batch.filter(
                    (pl.col("period") == rule.parameters["period"])
                    & pl.col("site_id").is_in(targets)
                )
                if rows.is_empty():
                    continue
                first, last = rows["period_start"].min(), rows["period_start"].max()
                assert isinstance(first, datetime) and isinstance(last, datetime)
                window = _window(session, rule, targets, first, last, at)
            counts.add(_evaluate_rule(session, rule, context, targets, window))
    return counts


def evaluate_period(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    actor: str = SYSTEM_ACTOR,
    on_rule: Callable[[Rule], None] = lambda rule: None,
) -> EvaluationCounts:
    """Evaluate every enabled rule for every site in its scope over ``[start, end]``.

    Silence is judged at ``end``; the target pace day by day. Periods an alarm series has
    already been judged for are skipped (see the module docstring), so running this again
    over the same range changes nothing.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end < start:
        raise ValueError("end is before start")
    counts = EvaluationCounts()
    with writing(engine, actor) as session:
        context = load_context(session)
        for rule in enabled_rules(session):
            targets = {s.id for s in context.sites.values() if in_scope(rule, s)}
            if not targets:
                continue
            window = (
                Window(end, end, end, end)
                if rule.type == "silent"
                else _window(session, rule, targets, start, end, end)
            )
            counts.add(_evaluate_rule(session, rule, context, targets, window))
            on_rule(rule)
    return counts
