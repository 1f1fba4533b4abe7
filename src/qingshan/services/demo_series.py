"""Synthetic monitoring series of the demo district: deterministic, hour by hour.

Every value is a pure function of (seed, site, parameter, hour): random numbers come from a
counter-based generator (SplitMix64 of a key and the hour's index since :data:`EPOCH`), never
from a stream, so the same hour has the same value whichever period is generated — a demo
seeded today and one seeded next week agree on every hour they share, and tests can compare
them. Smooth "weather" is value noise between random knots (cubic smoothstep), and pollution
episodes start on random days and last three days; both are shared by the district's sites
(keyed by the seed only), while each site adds its own scale and hourly noise.

Shapes (illustrative of a subtropical Chinese district, not measurements):

* air: PM2.5/PM10 high in winter and at night, haze episodes mostly in winter; NO2 peaks in the
  morning and evening rush hours; O3 peaks in the afternoon and in summer, with summer ozone
  episodes; SO2 and CO follow the winter heating and the weather;
* water (every 4 hours, like automatic stations): nutrients rise after rain (more rain in
  summer), dissolved oxygen falls in warm water;
* noise: day and night levels a few dB under the zone's limits, louder rush hours, and nights
  of construction noise;
* outlets: concentrations around half the permit limit, short bursts above it, and days when
  the plant is stopped (flag F);
* energy meters: hourly kWh and m³, office hours and air conditioning in buildings.

Data quality: days with an instrument fault (flag D, a stuck low value), a daily calibration
hour on some days (flag C) and gaps (hours without a reading), per site.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl
from numpy.typing import NDArray

from qingshan.services.demo_world import METERS, DemoSite

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Hour 0 of every series: values are keyed by hours since this instant."""
LOCAL_OFFSET_HOURS = 8
"""Beijing time (UTC+8): local hour and local day of an hour index."""
YEAR_DAYS = 365.2425
JANUARY_15 = 14
"""Day of the year at which the demo's winter is deepest (0 = 1 January)."""

Floats = NDArray[np.float64]
Hours = NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STRIDE = np.uint64(0xD6E8FEB86659FD93)


def key(seed: int, *parts: object) -> np.uint64:
    """A 64-bit key for a named random stream (stable across runs and platforms)."""
    text = "|".join(str(part) for part in (seed, *parts)).encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little"))


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit scramble."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def uniform(stream: np.uint64, index: NDArray[np.int64]) -> Floats:
    """Uniform numbers in [0, 1), one per index, fixed by (stream, index)."""
    with np.errstate(over="ignore"):
        mixed = _mix((index.astype(np.uint64) * _STRIDE) ^ stream)
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def normal(stream: np.uint64, index: NDArray[np.int64]) -> Floats:
    """Approximately standard normal numbers (Irwin–Hall sum of four uniforms, rescaled)."""
    total = sum(uniform(stream + np.uint64(part), index) for part in range(4))
    return (total - 2.0) * np.sqrt(3.0)


def smooth(stream: np.uint64, hours: Hours, span: int) -> Floats:
    """Value noise: standard normal knots every ``span`` hours, smoothstep in between."""
    knot = hours // span
    fraction = (hours % span) / span
    weight = fraction * fraction * (3 - 2 * fraction)
    low, high = normal(stream, knot), normal(stream, knot + 1)
    return np.asarray(low + (high - low) * weight, dtype=np.float64)


def local_hour(hours: Hours) -> Hours:
    return (hours + LOCAL_OFFSET_HOURS) % 24


def local_day(hours: Hours) -> Hours:
    return (hours + LOCAL_OFFSET_HOURS) // 24


def winter(days: Hours) -> Floats:
    """+1 in mid-January, −1 in mid-July (a cosine over the year)."""
    phase = 2 * np.pi * ((days - JANUARY_15) % YEAR_DAYS) / YEAR_DAYS
    return np.asarray(np.cos(phase), dtype=np.float64)


EPISODE_SHAPE = (1.0, 1.4, 0.6)
"""Relative strength on an episode's first, second and third day."""


def episodes(stream: np.uint64, days: Hours, chance: Callable[[Hours], Floats]) -> Floats:
    """A factor ≥ 1: episodes start on a day with probability ``chance(day)`` and last three
    days with a random strength (0.6–2.2 over the background)."""
    factor = np.ones(days.shape)
    for lag, shape in enumerate(EPISODE_SHAPE):
        start = days - lag
        begins = uniform(stream, start) < chance(start)
        strength = 0.6 + 1.6 * uniform(stream + np.uint64(1), start)
        factor += np.where(begins, strength * shape, 0.0)
    return factor


def day_window(stream: np.uint64, hours: Hours, chance: float, longest: int) -> NDArray[np.bool_]:
    """Hours inside a window of 2…``longest`` hours that opens on a random day (probability
    ``chance``) at a random local hour."""
    days, clock = local_day(hours), local_hour(hours)
    chosen = uniform(stream, days) < chance
    opens = np.floor(uniform(stream + np.uint64(1), days) * 20)
    length = 2 + np.floor(uniform(stream + np.uint64(2), days) * (longest - 1))
    return np.asarray(chosen & (clock >= opens) & (clock < opens + length))


# ------------------------------------------------------------------------------------------
# Diurnal profiles (local hour 0 … 23)
# ------------------------------------------------------------------------------------------

PM_DIURNAL = np.array(
    [
        1.15,
        1.12,
        1.08,
        1.04,
        1.0,
        0.98,
        1.0,
        1.05,
        1.1,
        1.08,
        1.0,
        0.92,
        0.86,
        0.82,
        0.8,
        0.8,
        0.83,
        0.88,
        0.95,
        1.02,
        1.08,
        1.12,
        1.16,
        1.17,
    ]
)
NO2_DIURNAL = np.array(
    [
        0.9,
        0.82,
        0.76,
        0.72,
        0.72,
        0.78,
        0.95,
        1.25,
        1.42,
        1.3,
        1.05,
        0.9,
        0.8,
        0.76,
        0.75,
        0.8,
        0.92,
        1.2,
        1.45,
        1.4,
        1.2,
        1.08,
        1.0,
        0.95,
    ]
)
O3_DIURNAL = np.array(
    [
        0.5,
        0.45,
        0.4,
        0.37,
        0.35,
        0.35,
        0.38,
        0.45,
        0.6,
        0.8,
        1.05,
        1.3,
        1.55,
        1.75,
        1.88,
        1.9,
        1.78,
        1.5,
        1.15,
        0.9,
        0.75,
        0.65,
        0.58,
        0.53,
    ]
)
BUILDING_DIURNAL = np.array(
    [0.5] * 7
    + [0.9, 1.5, 1.7, 1.7, 1.65, 1.4, 1.6, 1.7, 1.7, 1.6, 1.4, 1.0, 0.8, 0.7, 0.6, 0.55, 0.5]
)
NOISE_RUSH_DB = np.array(
    [0, 0, 0, 0, 0, 0, 0.5, 1.5, 2, 1, 0, 0, 0, 0, 0, 0, 0.5, 1.5, 2, 1.2, 0.5, 0, 0, 0],
    dtype=np.float64,
)

NOISE_LIMITS_DB = {
    "0": (50, 40),
    "1": (55, 45),
    "2": (60, 50),
    "3": (65, 55),
    "4a": (70, 55),
    "4b": (70, 60),
}
"""GB 3096—2008 Table 1: equivalent sound level limits by zone, day (06–22) / night [dB(A)];
used here only to place the synthetic levels near the limits."""
DAY_HOURS = (6, 22)
"""GB 3096—2008 §3.6: 昼间 06:00–22:00, 夜间 22:00–06:00 (local time)."""

WATER_BASE = {
    # (waterbody, target class) → typical level of each item [mg/L]
    ("river", "II"): {"codmn": 2.2, "nh3n": 0.22, "tp": 0.06, "tn": 0.9},
    ("river", "III"): {"codmn": 3.6, "nh3n": 0.55, "tp": 0.12, "tn": 1.4},
    ("reservoir", "II"): {"codmn": 2.5, "nh3n": 0.18, "tp": 0.018, "tn": 0.42},
}
METER_LOAD = {
    "EM01": (8000, 2500),
    "EM02": (3000, 1200),
    "EM03": (6000, 0),
    "EM04": (320, 40),
    "EM05": (900, 0),
    "EM06": (420, 0),
}
"""Mean hourly electricity [kWh] and natural gas [m³] of each energy meter."""

AIR_PARAMETERS = ("so2", "no2", "co", "o3", "pm10", "pm25")
WATER_PARAMETERS = ("ph", "do", "codmn", "nh3n", "tp", "tn")
WATER_EVERY_HOURS = 4


class SeriesMaker:
    """The series of one demo site over given hours (indices since :data:`EPOCH`)."""

    def __init__(self, seed: int, site: DemoSite, hours: Hours) -> None:
        self.seed, self.site = seed, site
        self.hours = hours
        self.clock, self.days = local_hour(hours), local_day(hours)
        self.winter = winter(self.days)
        self.summer = np.maximum(-self.winter, 0.0)

    # shared by the district (seed only) and per site
    def shared(self, name: str) -> np.uint64:
        return key(self.seed, "district", name)

    def own(self, *name: object) -> np.uint64:
        return key(self.seed, self.site.code, *name)

    def noise(self, parameter: str, spread: float) -> Floats:
        return 1.0 + spread * normal(self.own(parameter, "hourly"), self.hours)

    def scale(self, low: float, high: float) -> float:
        """The site's own constant level factor in [low, high)."""
        return float(low + (high - low) * uniform(self.own("scale"), np.zeros(1, np.int64))[0])

    # --------------------------------------------------------------------------- air
    def air(self) -> dict[str, Floats]:
        weather = np.exp(
            0.35 * smooth(self.shared("weather"), self.hours, 48)
            + 0.15 * smooth(self.shared("weather-fast"), self.hours, 12)
        )
        haze = episodes(
            self.shared("haze"), self.days, lambda d: 0.012 + 0.05 * np.maximum(winter(d), 0.0)
        )
        ozone = episodes(
            self.shared("ozone"), self.days, lambda d: 0.01 + 0.06 * np.maximum(-winter(d), 0.0)
        )
        haze = 1 + 0.7 * (haze - 1)
        ozone = 1 + 0.35 * (ozone - 1)
        clean = 0.6 if self.site.fields.get("air_class") == "I" else 1.0
        site = self.scale(0.85, 1.15) * clean
        pm25 = 34 * (1 + 0.5 * self.winter) * PM_DIURNAL[self.clock] * weather * haze * site
        pm25 = pm25 * self.noise("pm25", 0.12)
        coarse = 1.5 + 0.3 * uniform(self.own("pm10", "ratio"), self.hours)
        return {
            "pm25": np.maximum(np.round(pm25), 2),
            "pm10": np.maximum(np.round(pm25 * coarse + 8 * self.noise("pm10", 0.3)), 4),
            "no2": np.maximum(
                np.round(
                    32
                    * (1 + 0.25 * self.winter)
                    * NO2_DIURNAL[self.clock]
                    * np.sqrt(weather)
                    * site
                    * self.noise("no2", 0.15)
                ),
                2,
            ),
            "o3": np.maximum(
                np.round(
                    62
                    * (1 - 0.45 * self.winter)
                    * O3_DIURNAL[self.clock]
                    * ozone
                    * weather**-0.25
                    * self.noise("o3", 0.1)
                ),
                2,
            ),
            "so2": np.maximum(
                np.round(
                    9 * (1 + 0.5 * self.winter) * weather**0.6 * site * self.noise("so2", 0.2)
                ),
                2,
            ),
            "co": np.maximum(
                np.round(
                    0.6 * (1 + 0.35 * self.winter) * np.sqrt(weather) * self.noise("co", 0.12), 1
                ),
                0.1,
            ),
        }

    # --------------------------------------------------------------------------- water
    def water(self) -> dict[str, Floats]:
        rain = episodes(
            self.shared("rain"), self.days, lambda d: 0.05 + 0.08 * np.maximum(-winter(d), 0.0)
        )
        fields = self.site.fields
        base = WATER_BASE[(fields["waterbody_type"], fields["water_target_class"])]
        rain = 1 + 0.45 * (rain - 1)
        load = rain * self.scale(0.9, 1.2)

        def item(name: str, decimals: int) -> Floats:
            drift = 1 + 0.25 * smooth(self.own(name, "drift"), self.hours, 72)
            level = base[name] * drift * load * self.noise(name, 0.08)
            return np.maximum(np.round(level, decimals), 10.0**-decimals)

        oxygen = (
            8.6 - 2.2 * self.summer - 0.5 * (rain - 1) + 0.3 * normal(self.own("do"), self.hours)
        )
        ph = (
            7.6
            + 0.25 * smooth(self.own("ph", "drift"), self.hours, 96)
            + 0.05 * normal(self.own("ph"), self.hours)
        )
        return {
            "ph": np.round(ph, 2),
            "do": np.round(np.maximum(oxygen, 2.0), 2),
            "codmn": item("codmn", 1),
            "nh3n": item("nh3n", 3),
            "tp": item("tp", 3),
            "tn": item("tn", 2),
        }

    # --------------------------------------------------------------------------- noise
    def noise_level(self) -> dict[str, Floats]:
        day_limit, night_limit = NOISE_LIMITS_DB[self.site.fields["noise_zone"]]
        is_day = (self.clock >= DAY_HOURS[0]) & (self.clock < DAY_HOURS[1])
        construction = episodes(
            self.own("construction"), self.days, lambda d: np.full(d.shape, 0.03)
        )
        level = np.where(is_day, day_limit - 5.0, night_limit - 4.0 + 5.0 * (construction > 1))
        level = (
            level
            + NOISE_RUSH_DB[self.clock]
            + 1.5 * smooth(self.own("leq", "drift"), self.hours, 24)
        )
        level = level + 1.2 * normal(self.own("leq"), self.hours)
        return {"leq": np.round(level, 1)}

    # --------------------------------------------------------------------------- outlets
    def outlet(self) -> dict[str, Floats]:
        burst = day_window(self.own("burst"), self.hours, 0.012, 6)
        strength = 1.15 + 0.65 * uniform(self.own("burst", "strength"), self.days)
        values = {}
        for name, permit in self.site.fields["permit_limits"].items():
            limit = permit["limit"]
            level = 0.42 + 0.1 * smooth(self.own(name, "drift"), self.hours, 24)
            level = limit * (level + 0.05 * normal(self.own(name), self.hours))
            level = np.where(burst, limit * strength * self.noise(name, 0.05), level)
            values[name] = np.maximum(np.round(level, 2 if limit < 10 else 1), 0.01)
        return values

    def stopped(self) -> NDArray[np.bool_]:
        """Days the plant does not run (flag F, HJ 212 表 8 停运)."""
        return np.asarray(uniform(self.own("stopped"), self.days) < 0.015)

    # --------------------------------------------------------------------------- meters
    def meter(self, parameters: tuple[str, ...]) -> dict[str, Floats]:
        power, gas = METER_LOAD[self.site.code]
        building = self.site.code in ("EM04", "EM05", "EM06")
        profile = BUILDING_DIURNAL[self.clock] if building else np.ones(self.hours.shape)
        climate = 1 + (0.4 * self.summer + 0.15 * np.maximum(self.winter, 0) if building else 0)
        values = {
            "electricity": np.round(power * profile * climate * self.noise("electricity", 0.06), 1)
        }
        if "natural_gas" in parameters:
            heating = 1 + 0.8 * np.maximum(self.winter, 0)
            values["natural_gas"] = np.round(gas * heating * self.noise("natural_gas", 0.08), 1)
        return values

    # --------------------------------------------------------------------------- quality
    def flags_and_gaps(self, with_calibration: bool) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
        """Per hour: the flag (N, D fault, C calibration) and whether a reading exists."""
        flags = np.full(self.hours.shape, "N", dtype="<U1")
        if with_calibration:
            calibrating = (uniform(self.own("calibration"), self.days) < 0.05) & (self.clock == 3)
            flags[calibrating] = "C"
        flags[day_window(self.own("fault"), self.hours, 0.01, 12)] = "D"
        present = ~day_window(self.own("gap"), self.hours, 0.008, 20)
        return flags, present


def site_series(
    seed: int, site: DemoSite, hours: Hours
) -> tuple[Hours, dict[str, tuple[Floats, NDArray[np.str_]]]]:
    """The hours of ``hours`` at which the site has readings (gaps removed; water sections
    report every fourth local hour), and parameter key → (values, flags) at those hours.

    ``hours`` are indices since :data:`EPOCH`.
    """
    if site.kind == "water_section":
        hours = hours[local_hour(hours) % WATER_EVERY_HOURS == 0]
    maker = SeriesMaker(seed, site, hours)
    flags, present = maker.flags_and_gaps(site.kind in ("air_station", "water_section"))
    if site.kind == "air_station":
        values = maker.air()
    elif site.kind == "water_section":
        values = maker.water()
    elif site.kind == "noise_point":
        values = maker.noise_level()
    elif site.kind == "source_outlet":
        values = maker.outlet()
        stopped = maker.stopped()
        flags = np.where(stopped, "F", flags)
        values = {name: np.where(stopped, 0.01, value) for name, value in values.items()}
    else:
        parameters = next(p for code, _, _, p in METERS if code == site.code)
        values = maker.meter(parameters)
        flags = np.full(hours.shape, "N", dtype="<U1")  # meters count, they do not fault
    stuck = flags == "D"
    series = {
        name: (_stuck(value, stuck)[present], flags[present]) for name, value in values.items()
    }
    return hours[present], series


def _stuck(values: Floats, faulty: NDArray[np.bool_]) -> Floats:
    """During a fault the instrument repeats the value it had when the fault began (a flat
    line). Fault windows lie inside one local day and series start at local midnight, so the
    value does not depend on the period generated."""
    began = faulty & ~np.concatenate(([False], faulty[:-1]))
    source = np.maximum.accumulate(np.where(began, np.arange(values.size), 0))
    return np.where(faulty, values[source], values)


def hour_index(moment: datetime) -> int:
    """Hours since :data:`EPOCH` of a whole hour (timezone-aware)."""
    seconds = (moment - EPOCH).total_seconds()
    if seconds % 3600:
        raise ValueError(f"{moment} is not on a whole hour")
    return int(seconds // 3600)


def readings_frame(
    seed: int,
    site: DemoSite,
    site_id: int,
    parameter_ids: dict[str, int],
    start: datetime,
    end: datetime,
) -> pl.DataFrame:
    """The site's hour readings in [start, end) as an ``upsert_readings`` frame."""
    hours, series = site_series(
        seed, site, np.arange(hour_index(start), hour_index(end), dtype=np.int64)
    )
    epoch = np.datetime64(EPOCH.replace(tzinfo=None), "us")
    times = pl.Series("period_start", epoch + hours.astype("timedelta64[h]")).dt.replace_time_zone(
        "UTC"
    )
    frames = [
        pl.DataFrame(
            {
                "site_id": np.full(hours.shape, site_id, dtype=np.int64),
                "parameter_id": np.full(hours.shape, parameter_ids[name], dtype=np.int64),
                "period": np.full(hours.shape, "hour"),
                "period_start": times,
                "value": values,
                "flag": flags,
            }
        )
        for name, (values, flags) in series.items()
    ]
    return pl.concat(frames)
