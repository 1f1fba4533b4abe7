"""Rule evaluation speed over a district-year of hourly data, and alarm latency from ingestion.

1. **Throughput** (issue 5: ≥ 1,000,000 readings evaluated per second). A district of
   ``--sites`` air stations in 10 grids of 2 townships, one year of hourly data (8,760 hours) of
   the six AQI pollutants, with gaps, device flags, a flat-lined station and local plumes. The
   rule set of ``docs/alerting.md``'s example (hourly AQI > 100 for 3 hours; PM2.5 IAQI > 150
   3 times in 6 hours; neighbour anomaly; spike; sustained rise; flat line; impossible values;
   device flags) is evaluated with the kernels and turned into alarm episodes. A reading counts
   once per rule that judges it. Baseline measured in the same run: a plain per-reading Python
   loop (threshold, "for 3 periods", clear after 2) against the same vectorised rule.
2. **Latency**: on a store (SQLite in a temporary folder; ``--postgres-url`` adds PostgreSQL)
   holding a week of hourly history for the district, with the rule set, one station's new hour
   (6 readings) is committed with ``upsert_readings`` and ``evaluate_readings`` runs; the time
   from the start of the write to the alarm being readable is measured ``--rounds`` times.

    python benchmarks/bench_alerting.py [--sites 60] [--repeats 3] [--rounds 20]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import shapely
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from timing import best_of

from qingshan.alerting import anomaly, exceedance, quality
from qingshan.alerting.adjacency import polygon_neighbours
from qingshan.alerting.windows import apply_window, episodes
from qingshan.services import alerting, database, rules
from qingshan.store import create_store_engine
from qingshan.store.engine import reading, writing
from qingshan.store.models import Alarm, Parameter
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import ensure_grid, upsert_site

HOURS = 8760
POLLUTANTS = {"so2": 8.0, "no2": 30.0, "co": 0.7, "o3": 70.0, "pm10": 60.0, "pm25": 35.0}
"""Typical hourly levels (µg/m³, CO mg/m³); the synthetic data scatter around them."""
GRIDS = 10
ACTOR = "bench:alerting"


def district_year(sites: int, seed: int = 5) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Hourly panels (sites × hours) per pollutant, and PM2.5 device flags."""
    rng = np.random.default_rng(seed)
    hours = np.arange(HOURS)
    season = 1 + 0.5 * np.cos(2 * np.pi * hours / HOURS)  # winter peak
    daily = 1 + 0.3 * np.sin(2 * np.pi * hours / 24)
    panels = {}
    for key, level in POLLUTANTS.items():
        regional = level * season * daily * rng.lognormal(0, 0.35, HOURS)
        values = regional[None, :] * rng.lognormal(0, 0.15, (sites, HOURS))
        values[rng.random(values.shape) < 0.02] = np.nan  # gaps
        panels[key] = np.round(values, 1 if key == "co" else 0)
    plumes = rng.random((sites, HOURS)) < 0.002
    panels["pm25"][plumes] *= 4  # local sources
    panels["pm25"][3, 1000:1010] = 55.0  # a stuck analyser
    flags = np.where(rng.random((sites, HOURS)) < 0.005, "D", "N").astype(object)
    return panels, flags


def to_episodes(held: np.ndarray, value: np.ndarray, clear_after: int) -> pl.DataFrame:
    present = ~np.isnan(value)
    rows, columns = np.nonzero(present)
    events = pl.DataFrame(
        {"series": rows, "t": columns, "held": held[rows, columns], "value": value[rows, columns]}
    )
    return episodes(events, clear_after)


def rule_set(
    panels: dict[str, np.ndarray], flags: np.ndarray
) -> dict[str, tuple[int, Callable[[], object]]]:
    """Rule name → (readings it judges, the evaluation)."""
    pm25 = panels["pm25"]
    sites = pm25.shape[0]
    grid = np.arange(sites) % GRIDS
    neighbours = [[other for other in range(GRIDS) if other // 5 == g // 5 and other != g]
                  for g in range(GRIDS)]  # fmt: skip

    def aqi() -> object:
        held, value = exceedance.aqi_over(panels, 100.0)
        return to_episodes(apply_window(held, for_periods=3), value, 2)

    def iaqi_3_in_6() -> object:
        held, value = exceedance.iaqi_over("pm25", pm25, 150.0)
        return to_episodes(apply_window(held, times_in=(3, 6)), value, 2)

    def neighbour() -> object:
        held, value = anomaly.neighbour_anomaly(pm25, grid, neighbours)
        return to_episodes(held, value, 1)

    def spike() -> object:
        return to_episodes(*anomaly.spike(pm25), 1)

    def rise() -> object:
        return to_episodes(*anomaly.sustained_rise(pm25), 1)

    def flat() -> object:
        return to_episodes(*quality.flat_line(pm25), 1)

    def impossible() -> object:
        return to_episodes(*quality.impossible(pm25, low=0.0, high=1000.0), 1)

    def flagged() -> object:
        return to_episodes(quality.flagged(flags), pm25, 1)

    size = pm25.size
    return {
        "hourly AQI > 100 for 3 h (6 pollutants)": (size * len(panels), aqi),
        "PM2.5 IAQI > 150, 3 times in 6 h": (size, iaqi_3_in_6),
        "neighbour anomaly (median/MAD)": (size, neighbour),
        "spike (Hampel, 24 h)": (size, spike),
        "sustained rise (6 steps)": (size, rise),
        "flat line (6 readings)": (size, flat),
        "impossible values": (size, impossible),
        "device flags D/C/M": (size, flagged),
    }


def naive_loop(values: np.ndarray, limit: float, for_periods: int, clear_after: int) -> list:
    """The per-reading Python loop: threshold, for N periods, clear after M periods without
    the condition (a gap breaks the run and is not evaluated), as ``docs/alerting.md`` says."""
    found = []
    for site in range(values.shape[0]):
        run = without = 0
        current: list | None = None
        for hour in range(values.shape[1]):
            value = values[site, hour]
            if value != value:  # NaN: no reading, nothing judged
                run = 0
                continue
            run = run + 1 if value > limit else 0
            if run >= for_periods:
                without = 0
                if current is None:
                    current = [site, hour, hour, 0, value, None]
                    found.append(current)
                current[2], current[3] = hour, current[3] + 1
                current[4] = max(current[4], value)
            elif current is not None:
                without += 1
                if without == clear_after:
                    current[5], current = hour, None
    return found


def vectorised_threshold(values: np.ndarray, limit: float, for_periods: int, clear_after: int):
    held, value = exceedance.permit_over_limit(values, np.full(values.shape[0], limit))
    return to_episodes(apply_window(held, for_periods=for_periods), value, clear_after)


def throughput(sites: int, repeats: int) -> None:
    panels, flags = district_year(sites)
    print(f"district-year: {sites} stations × {HOURS} hours × {len(panels)} pollutants "
          f"= {sites * HOURS * len(panels):,} readings")  # fmt: skip
    total_readings, total_seconds = 0, 0.0
    for name, (judged, work) in rule_set(panels, flags).items():
        seconds = best_of(repeats, work)
        total_readings += judged
        total_seconds += seconds
        print(f"  {name:<42} {judged / seconds:>14,.0f} readings/s")
    rate = total_readings / total_seconds
    print(f"  {'whole rule set':<42} {rate:>14,.0f} readings/s ({total_readings:,} "
          f"judgements in {total_seconds:.2f} s; target ≥ 1,000,000/s)")  # fmt: skip

    pm25 = panels["pm25"]
    sample = pm25[: max(1, sites // 6)]  # the loop is slow: a sixth of the district
    naive = best_of(1, lambda: naive_loop(sample, 75.0, 3, 2))
    fast = best_of(repeats, lambda: vectorised_threshold(pm25, 75.0, 3, 2))
    naive_rate, fast_rate = sample.size / naive, pm25.size / fast
    check = vectorised_threshold(sample, 75.0, 3, 2)
    assert check.height == len(naive_loop(sample, 75.0, 3, 2)), "loop and kernels disagree"
    print(f"threshold for 3 h, clear after 2: kernels {fast_rate:,.0f}/s, per-reading Python "
          f"loop {naive_rate:,.0f}/s → ratio {fast_rate / naive_rate:,.0f}×")  # fmt: skip


GRID_COLUMNS = 5
GRID_SIDE_DEGREES = 0.02
"""The grids tile the district in rows of 5 squares about 2 km across."""


def grid_square(number: int) -> str:
    """GeoJSON of grid ``number``'s square in the tiling (row-major from 114.3° E, 30.5° N)."""
    row, column = divmod(number, GRID_COLUMNS)
    west, south = 114.3 + column * GRID_SIDE_DEGREES, 30.5 + row * GRID_SIDE_DEGREES
    return shapely.to_geojson(
        shapely.box(west, south, west + GRID_SIDE_DEGREES, south + GRID_SIDE_DEGREES)
    )


def adjacency_speed(repeats: int) -> None:
    """Grid adjacency of a large district (300 grids in rows of 5) from the polygons."""
    boundaries = [(number, grid_square(number)) for number in range(300)]
    seconds = best_of(repeats, lambda: polygon_neighbours(boundaries))
    print(f"grid adjacency from polygons, 300 grids: {seconds * 1000:.0f} ms (cached per grid set)")


def _store_district(engine: Engine, sites: int, start: datetime, hours: int) -> list[int]:
    database.upgrade(engine)
    with writing(engine, ACTOR) as session:
        site_ids = []
        for number in range(sites):
            grid = ensure_grid(
                session,
                district=("420107", "青山区"),
                township=(f"42010700{number % GRIDS // 5}", "街道", "street"),
                grid=(f"G-{number % GRIDS:02d}", "网格"),
            )
            grid.boundary = grid_square(number % GRIDS)
            site = upsert_site(session, f"AIR{number:03d}", name="站", kind="air_station",
                               latitude=30.6, longitude=114.4, grid_id=grid.id)  # fmt: skip
            site_ids.append(site.id)
        examples = {
            "aqi": ("aqi", {"level": 100, "for_periods": 3, "clear_after": 2}),
            "pm25-3in6": ("aqi", {"parameter": "pm25", "level": 150, "times_in": [3, 6]}),
            "neighbour": ("neighbour", {"parameter": "pm25"}),
            "spike": ("spike", {"parameter": "pm25"}),
            "rise": ("rise", {"parameter": "pm25"}),
            "flat": ("flat_line", {"parameter": "pm25"}),
            "impossible": ("impossible", {"parameter": "pm25", "low": 0, "high": 1000}),
            "flags": ("device_flag", {"parameter": "pm25"}),
            "pm25-now": ("aqi", {"parameter": "pm25", "level": 200, "ladder": {"red": 300}}),
        }
        for code, (rule_type, parameters) in examples.items():
            rules.create_rule(session, code=code, name=code, rule_type=rule_type,
                              parameters=parameters, scope=None, severity="orange",
                              actor=ACTOR)  # fmt: skip
        ids = {key: pid for key, pid in session.execute(select(Parameter.key, Parameter.id))}
    panels, _ = district_year(sites)
    frames = []
    for key in POLLUTANTS:
        values = panels[key][:, :hours]
        site_index, hour = np.nonzero(~np.isnan(values))
        frames.append(pl.DataFrame({
            "site_id": np.asarray(site_ids)[site_index],
            "parameter_id": ids[key],
            "period": "hour",
            "period_start": [start + timedelta(hours=int(h)) for h in hour],
            "value": values[site_index, hour],
            "flag": "N",
        }))  # fmt: skip
    with writing(engine, ACTOR) as session:
        upsert_readings(session, pl.concat(frames), source="bench", actor=ACTOR)
    alerting.evaluate_period(engine, start, start + timedelta(hours=hours - 1))
    return site_ids


def latency(engine: Engine, name: str, sites: int, rounds: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history = 24 * 7
    site_ids = _store_district(engine, sites, start, history)
    with reading(engine) as session:
        ids = {key: pid for key, pid in session.execute(select(Parameter.key, Parameter.id))}
    waits = []
    for number in range(rounds):
        hour = start + timedelta(hours=history + number)
        site = site_ids[number % len(site_ids)]
        frame = pl.DataFrame({
            "site_id": [site] * len(POLLUTANTS),
            "parameter_id": [ids[key] for key in POLLUTANTS],
            "period": "hour",
            "period_start": [hour] * len(POLLUTANTS),
            "value": [500.0 if key == "pm25" else level for key, level in POLLUTANTS.items()],
            "flag": "N",
        })  # fmt: skip
        began = time.perf_counter()
        with writing(engine, ACTOR) as session:
            upsert_readings(session, frame, source="bench", actor=ACTOR)
        alerting.evaluate_readings(engine, frame)
        with reading(engine) as session:
            found = session.scalar(
                select(Alarm.id).where(Alarm.site_id == site, Alarm.last_triggered_at == hour)
            )
        waits.append(time.perf_counter() - began)
        assert found is not None, "the reading raised no alarm"
    print(f"{name}: alarm readable {statistics.median(waits) * 1000:.0f} ms (median), "
          f"{max(waits) * 1000:.0f} ms (max) after the write began; {rounds} rounds, "
          f"{sites} stations in 10 grids with polygons, 9 rules (one with a severity ladder), "
          f"a week of history; target < 1 s")  # fmt: skip


def postgres_engine(url: str) -> tuple[Engine, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_store_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_store_engine(scoped.render_as_string(hide_password=False))

    def drop() -> None:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    throughput(args.sites, args.repeats)
    adjacency_speed(args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'qingshan.db'}")
        latency(engine, "SQLite", args.sites, args.rounds)
        engine.dispose()
    if args.postgres_url:
        engine, drop = postgres_engine(args.postgres_url)
        try:
            latency(engine, "PostgreSQL", args.sites, args.rounds)
        finally:
            drop()


if __name__ == "__main__":
    main()
