"""Standard exceedance conditions: AQI/IAQI levels, water target class, noise and permit limits.

Each function takes a panel of concentrations or levels and returns ``(held, value)``: whether
the limit is exceeded in each period and the value the alarm reports (the index, the class or
the measured level). NaN input (no valid reading) never holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qingshan.standards import aqi, noise, water

Condition = tuple[NDArray[np.bool_], NDArray[np.float64]]

HOURLY_AQI_INDICATORS: dict[str, str] = {
    "so2": "so2_1h",
    "no2": "no2_1h",
    "co": "co_1h",
    "o3": "o3_1h",
    "pm10": "pm10_1h",
    "pm25": "pm25_1h",
}
"""Parameter key → HJ 633—2026 hourly indicator. PM10 and PM2.5 have no 1-h breakpoints of
their own; HJ 633—2026 §4.2.4 indexes their hourly values with the 24-h breakpoints."""


def _over(values: NDArray[np.float64], level: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.asarray(values > level)


def iaqi_over(parameter: str, concentrations: ArrayLike, level: float) -> Condition:
    """A pollutant's hourly IAQI above ``level`` (e.g. 100: beyond 良, HJ 633—2026 Table 4).

    Parameters
    ----------
    parameter : str
        ``so2, no2, co, o3, pm10, pm25`` (:data:`HOURLY_AQI_INDICATORS`).
    concentrations : array-like
        Hourly concentrations, NaN where missing. [µg/m³; CO mg/m³]
    level : float
        IAQI level that must be exceeded.

    References
    ----------
    HJ 633—2026 Table 3 and §4.2.2–4.2.6 through :func:`qingshan.standards.aqi.iaqi`.
    """
    values = np.asarray(concentrations, dtype=np.float64)
    index = aqi.iaqi(HOURLY_AQI_INDICATORS[parameter], values.ravel(), rules="2026")
    index = index.reshape(values.shape)
    return _over(index, level), index


def aqi_over(concentrations: Mapping[str, ArrayLike], level: float) -> Condition:
    """The hourly AQI (the largest IAQI of the pollutants present) above ``level``.

    HJ 633—2026 §4.2.5: AQI = max(IAQI₁ … IAQIₙ). Pollutants absent in a period do not enter
    its maximum; a period with none is NaN and never holds.

    Parameters
    ----------
    concentrations : mapping of parameter key → array-like, all of one shape
        Hourly concentrations. [µg/m³; CO mg/m³]
    level : float
        AQI level that must be exceeded (50, 100, 150, 200, 300: the category upper bounds).
    """
    indices = [iaqi_over(key, values, level)[1] for key, values in concentrations.items()]
    if not indices:
        raise ValueError("the AQI needs at least one pollutant")
    index = np.fmax.reduce(np.stack(indices), axis=0)  # NaN only where every IAQI is NaN
    return _over(index, level), index


def water_worse_than_target(
    item: str, values: ArrayLike, target_class: ArrayLike, lake: ArrayLike | None = None
) -> Condition:
    """A water item whose GB 3838 class is worse than the section's target class.

    GB 3838—2002 Table 1 through :func:`qingshan.standards.water.item_class` (the value is
    classed per item; 6 = 劣Ⅴ). The section's target class (水质目标) comes from the site.

    Parameters
    ----------
    item : str
        GB 3838 item key (``cod``, ``nh3n``, ``tp``, ``do`` …).
    values : array-like, shape (series, periods)
        Item values, NaN where missing. [item unit]
    target_class : array-like of int, shape (series,)
        Target class of each series, 1 (Ⅰ) … 5 (Ⅴ).
    lake : array-like of bool, shape (series,), optional
        True for lakes and reservoirs (other TP limits).

    Returns
    -------
    (held, class) : the class code (1–6) as the value; 0 = not classed (missing).
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    lakes = None if lake is None else np.repeat(np.asarray(lake, dtype=bool), grid.shape[1])
    classes = water.item_class(item, grid.ravel(), lakes).reshape(grid.shape)
    target = np.asarray(target_class, dtype=np.int64)[:, None]
    return (classes > target) & (classes > 0), classes.astype(np.float64)


def noise_over_limit(levels: ArrayLike, zones: ArrayLike, is_night: ArrayLike) -> Condition:
    """An hourly L_Aeq above the zone's day or night limit.

    GB 3096—2008 §5.1 Table 1 (limits by functional zone) through
    :func:`qingshan.standards.noise.zone_limits`; day is 06:00–22:00 and night 22:00–06:00
    (§3; :func:`qingshan.standards.noise.hour_periods` gives ``is_night`` from local times).

    Parameters
    ----------
    levels : array-like, shape (series, periods)
        Hourly equivalent levels. [dB(A)]
    zones : array-like of str, shape (series,)
        Zone of each series: ``0, 1, 2, 3, 4a, 4b``.
    is_night : array-like of bool, shape (periods,)
        Whether each period is a night hour.
    """
    grid = np.atleast_2d(np.asarray(levels, dtype=np.float64))
    day_limit, night_limit = noise.zone_limits(zones)
    night = np.asarray(is_night, dtype=bool)[None, :]
    limit = np.where(night, night_limit[:, None], day_limit[:, None])
    return _over(grid - limit, 0.0), grid


def permit_over_limit(values: ArrayLike, limits: ArrayLike) -> Condition:
    """A pollution source outlet above the limit in its discharge permit.

    The limit is the permitted concentration (排污许可证 许可排放浓度, which takes the
    emission standard's limit, e.g. GB 13223 for thermal power); a reading strictly above it
    is an exceedance (超标). The limit per series comes from the site's ``permit_limits``.

    Parameters
    ----------
    values : array-like, shape (series, periods)
        Outlet concentrations. [the permit's unit, e.g. mg/m³]
    limits : array-like, shape (series,)
        Permitted concentration of each series.
    """
    grid = np.atleast_2d(np.asarray(values, dtype=np.float64))
    limit = np.asarray(limits, dtype=np.float64)[:, None]
    return _over(grid - limit, 0.0), grid
