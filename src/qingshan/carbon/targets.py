"""Energy and carbon targets (双控) as data: progress against the required pace, trajectories and
early warning (pure, polars).

A target is a row ``indicator, base_year, target_year`` with either ``reduction_pct`` (e.g. CO2
per unit of GDP −18 % from 2020 to 2025) or ``target_value`` (e.g. non-fossil share 25 %).

Indicators (from the annual table ``year, gdp_comparable, co2_t, energy_tce,
non_fossil_share_pct``):

* ``co2_per_gdp`` — 单位GDP二氧化碳排放 = CO2 [t] / GDP [10⁴ yuan at comparable prices]
* ``energy_per_gdp`` — 单位GDP能耗 = energy [tce] / GDP [10⁴ yuan at comparable prices]
* ``total_co2`` — 二氧化碳排放总量 [t]; ``total_energy`` — 能源消费总量 [tce]
* ``non_fossil_share`` — 非化石能源占能源消费总量比重 [%]

GDP must be at comparable (constant) prices: intensity targets are assessed at comparable prices,
so a change in the price level does not count as a reduction. :func:`comparable_gdp` chains a
nominal GDP of the first year with the official volume index (上年 = 100).

Paths from the base value ``v_B`` to the target value ``v_T`` with ``f = (y − B)/(T − B)``:

* linear path ``v_B + (v_T − v_B)·f`` (time-proportional progress, 时序进度);
* required path ``v_B·(v_T/v_B)^f`` — the constant annual rate that reaches the target exactly;
  this is the *required pace*. The latest year is **off pace** (warning) when its value is on
  the wrong side of the required path: above it for intensities and totals (ceilings, even when
  a total may grow), below it for the non-fossil share (a floor).
  After the target year the status is ``achieved`` or ``missed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

INDICATORS = {
    "co2_per_gdp": ("单位GDP二氧化碳排放", "tCO2/10⁴ yuan"),
    "energy_per_gdp": ("单位GDP能耗", "tce/10⁴ yuan"),
    "total_co2": ("二氧化碳排放总量", "tCO2"),
    "total_energy": ("能源消费总量", "tce"),
    "non_fossil_share": ("非化石能源消费比重", "%"),
}
"""Indicator key → (Chinese name, unit)."""

YUAN_10K_PER_100M = 1e4
"""GDP is given in 亿元 (10⁸ yuan); intensities are per 万元 (10⁴ yuan)."""

RELATIVE_TOLERANCE = 1e-9
"""Values this close to the required path count as on it (float round-off, not policy)."""


class TargetError(ValueError):
    """A target cannot be assessed (no data for its base year, bad years …)."""


def comparable_gdp(years: pl.Series, nominal: pl.Series, index_prev_100: pl.Series) -> pl.Series:
    """GDP at the first year's prices: ``G_1 = nominal_1``, ``G_y = G_{y−1} × index_y / 100``.

    Parameters
    ----------
    years : consecutive years, ascending
    nominal : GDP at current prices [亿元]; only the first year's value is used
    index_prev_100 : GDP volume index, previous year = 100 (地区生产总值指数 上年=100); the first
        year's value is not used
    """
    if years.len() and (years.diff().drop_nulls() != 1).any():
        raise TargetError("comparable GDP needs consecutive years to chain the volume index")
    growth = (index_prev_100 / 100.0).slice(1).cum_prod()
    first = nominal[0]
    chained: pl.Series = pl.concat([pl.Series([first]), first * growth])
    return chained.alias("gdp_comparable")


def indicator_values(annual: pl.DataFrame) -> pl.DataFrame:
    """Long table ``indicator, year, value`` of every indicator the annual table supports."""
    columns = annual.columns
    gdp = pl.col("gdp_comparable") * YUAN_10K_PER_100M
    exprs = {
        "co2_per_gdp": pl.col("co2_t") / gdp
        if {"co2_t", "gdp_comparable"} <= set(columns)
        else None,
        "energy_per_gdp": pl.col("energy_tce") / gdp
        if {"energy_tce", "gdp_comparable"} <= set(columns)
        else None,
        "total_co2": pl.col("co2_t") if "co2_t" in columns else None,
        "total_energy": pl.col("energy_tce") if "energy_tce" in columns else None,
        "non_fossil_share": pl.col("non_fossil_share_pct")
        if "non_fossil_share_pct" in columns
        else None,
    }
    parts = [
        annual.select(
            pl.lit(name).alias("indicator"),
            pl.col("year").cast(pl.Int32),
            expr.cast(pl.Float64).alias("value"),
        )
        for name, expr in exprs.items()
        if expr is not None
    ]
    return pl.concat(parts).drop_nulls("value").sort("indicator", "year")


@dataclass(frozen=True)
class Target:
    indicator: str
    base_year: int
    target_year: int
    reduction_pct: float | None = None
    target_value: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.indicator not in INDICATORS:
            raise TargetError(
                f"unknown indicator {self.indicator!r}; use one of {', '.join(INDICATORS)}"
            )
        if (self.reduction_pct is None) == (self.target_value is None):
            raise TargetError(f"{self.indicator}: give either reduction_pct or target_value")

    @property
    def lower_is_better(self) -> bool:
        """Intensities and totals are ceilings (a cap may allow growth); the share is a floor."""
        return self.indicator != "non_fossil_share"

    def goal(self, base_value: float) -> float:
        """The target-year value: given, or the base value reduced by ``reduction_pct``."""
        if self.reduction_pct is not None:
            return base_value * (1.0 - self.reduction_pct / 100.0)
        return float(self.target_value)  # type: ignore[arg-type]


def required_path(base: float, goal: float, fraction: float) -> float:
    """Constant-annual-rate path ``base × (goal/base)^fraction``."""
    return float(base * (goal / base) ** fraction)


def linear_path(base: float, goal: float, fraction: float) -> float:
    return base + (goal - base) * fraction


def _status(
    target: Target,
    latest_year: int,
    latest: float,
    on_path: float,
    goal: float,
    lower_is_better: bool,
) -> str:
    slack = RELATIVE_TOLERANCE * abs(on_path)
    if latest_year >= target.target_year:
        reached = latest <= goal + slack if lower_is_better else latest >= goal - slack
        return "achieved" if reached else "missed"
    ahead = latest <= on_path + slack if lower_is_better else latest >= on_path - slack
    return "on_pace" if ahead else "off_pace"


def _series_of(values: pl.DataFrame, target: Target) -> dict[int, float]:
    rows = values.filter(pl.col("indicator") == target.indicator)
    return dict(zip(rows["year"].to_list(), rows["value"].to_list(), strict=True))


def assess(target: Target, values: pl.DataFrame) -> tuple[dict[str, object], pl.DataFrame]:
    """Progress of one target and its trajectory (chart data) from :func:`indicator_values`.

    Returns
    -------
    progress : dict
        base and goal values, latest year and value, achieved and required change [%],
        completion of the target change [%], time elapsed [%], required and remaining annual
        rates [% per year], ``status`` (on_pace, off_pace, achieved, missed), ``warning`` and a
        bilingual ``message``.
    trajectory : polars.DataFrame
        ``indicator, year, actual, linear_path, required_path`` for every year from base to
        target (and any later year with data).

    Raises
    ------
    TargetError
        If the years are inconsistent or the base year has no value.
    """
    if target.target_year <= target.base_year:
        raise TargetError(f"{target.indicator}: target year must be after the base year")
    series = _series_of(values, target)
    if target.base_year not in series:
        raise TargetError(
            f"{target.indicator}: no value for the base year {target.base_year} "
            f"(years with data: {', '.join(map(str, sorted(series))) or 'none'})"
        )
    base = series[target.base_year]
    goal = target.goal(base)
    if base <= 0 or goal <= 0:
        raise TargetError(f"{target.indicator}: base and target values must be positive")
    span = target.target_year - target.base_year
    latest_year = max(year for year in series if year >= target.base_year)
    latest = series[latest_year]
    fraction = min((latest_year - target.base_year) / span, 1.0)
    on_path = required_path(base, goal, fraction)
    status = _status(target, latest_year, latest, on_path, goal, target.lower_is_better)
    remaining = target.target_year - latest_year
    progress: dict[str, object] = {
        "indicator": target.indicator,
        "indicator_zh": INDICATORS[target.indicator][0],
        "unit": INDICATORS[target.indicator][1],
        "name": target.name,
        "base_year": target.base_year,
        "target_year": target.target_year,
        "base_value": base,
        "target_value": goal,
        "target_change_pct": (goal / base - 1.0) * 100.0,
        "latest_year": latest_year,
        "latest_value": latest,
        "achieved_change_pct": (latest / base - 1.0) * 100.0,
        "required_value_latest": on_path,
        "required_change_pct_latest": (on_path / base - 1.0) * 100.0,
        "linear_value_latest": linear_path(base, goal, fraction),
        "completion_pct": (latest - base) / (goal - base) * 100.0 if goal != base else 100.0,
        "time_elapsed_pct": fraction * 100.0,
        "required_annual_rate_pct": ((goal / base) ** (1.0 / span) - 1.0) * 100.0,
        "remaining_annual_rate_pct": ((goal / latest) ** (1.0 / remaining) - 1.0) * 100.0
        if remaining > 0
        else None,
        "status": status,
        "warning": status in ("off_pace", "missed"),
    }
    progress["message"] = _message(progress)
    return progress, _trajectory(target, series, base, goal)


def _message(progress: dict[str, object]) -> str:
    zh = {
        "on_pace": "进度符合要求",
        "off_pace": "进度滞后，预警",
        "achieved": "目标完成",
        "missed": "目标未完成，预警",
    }[str(progress["status"])]
    achieved = f"{progress['achieved_change_pct']:+.2f}%"
    required = f"{progress['required_change_pct_latest']:+.2f}%"
    latest, base = progress["latest_year"], progress["base_year"]
    return (
        f"{progress['indicator_zh']} {latest}年较{base}年变化 {achieved}，进度要求 {required}：{zh}"
        f" / {progress['indicator']} {latest} vs {base}: {achieved} against a required "
        f"{required}: {progress['status']}"
    )


def _trajectory(target: Target, series: dict[int, float], base: float, goal: float) -> pl.DataFrame:
    span = target.target_year - target.base_year
    last = max([target.target_year, *series])
    years = list(range(target.base_year, last + 1))
    fractions = [min((year - target.base_year) / span, 1.0) for year in years]
    return pl.DataFrame(
        {
            "indicator": [target.indicator] * len(years),
            "year": years,
            "actual": [series.get(year) for year in years],
            "linear_path": [linear_path(base, goal, f) for f in fractions],
            "required_path": [required_path(base, goal, f) for f in fractions],
        },
        schema={
            "indicator": pl.String,
            "year": pl.Int32,
            "actual": pl.Float64,
            "linear_path": pl.Float64,
            "required_path": pl.Float64,
        },
    )


def assess_all(targets: list[Target], annual: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Progress table (one row per target) and trajectory table (all targets)."""
    values = indicator_values(annual)
    results = [assess(target, values) for target in targets]
    progress = pl.DataFrame([row for row, _ in results], infer_schema_length=None)
    trajectory = pl.concat([path for _, path in results]) if results else pl.DataFrame()
    return progress, trajectory
