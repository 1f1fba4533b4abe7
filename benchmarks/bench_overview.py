"""Load time of the overview (一张图) over two years of hourly data (issue 9: under 1 s).

A district of 8 air stations (six AQI pollutants), 6 water sections (CODMn, NH3-N, DO), 10
noise points (Leq) and 15 outlets (COD) with two years of hourly readings up to the current
hour — about 1.3 million readings — is written to SQLite in a temporary folder
(``--postgres-url`` adds PostgreSQL). Then the overview page ``GET /`` (site states, headline
figures of the year, map) is timed against a baseline measured in the same run: the map-only
page the skeleton served (``district_view`` + ``district_map``, rendered).

    python benchmarks/bench_overview.py [--repeats 5]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from bench_alerting import postgres_engine
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from timing import best_of

from qingshan.services import database
from qingshan.services.dashboard import district_view
from qingshan.store import create_store_engine
from qingshan.store.engine import reading, writing
from qingshan.store.models import Parameter, Site
from qingshan.store.readings import INPUT_SCHEMA, upsert_readings
from qingshan.store.registry import ensure_grid, upsert_site
from qingshan.web.charts import district_map
from qingshan.web.site import create_site

HOURS = 2 * 8760
ACTOR = "bench:overview"
KINDS = {
    "air_station": (
        8,
        {"so2": 8.0, "no2": 30.0, "co": 0.7, "o3": 70.0, "pm10": 60.0, "pm25": 35.0},
        {"air_class": "II"},
    ),
    "water_section": (
        6,
        {"codmn": 4.0, "nh3n": 0.6, "do": 7.0},
        {"water_target_class": "III", "waterbody_type": "river"},
    ),
    "noise_point": (10, {"leq": 55.0}, {"noise_zone": "2"}),
    "source_outlet": (15, {"cod": 40.0}, {"permit_limits": {"cod": {"limit": 50.0}}}),
}


def seed(engine: Engine, now: datetime) -> int:
    """The district and its two years of hourly readings; returns the number of readings."""
    rng = np.random.default_rng(9)
    last = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    times = pl.datetime_range(
        last - timedelta(hours=HOURS - 1), last, "1h", time_zone="UTC", eager=True
    )
    cycle = 1 + 0.4 * np.cos(2 * np.pi * np.arange(HOURS) / 8760)
    total = 0
    with writing(engine, ACTOR) as session:
        grid = ensure_grid(
            session,
            district=("500199", "示范区"),
            township=("500199001", "青山街道", "street"),
            grid=("G1", "第一网格"),
        )
        ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
        for kind, (count, levels, fields) in KINDS.items():
            for number in range(count):
                site = upsert_site(
                    session,
                    f"{kind[:3].upper()}-{number:02d}",
                    name=f"{kind} {number}",
                    kind=kind,
                    latitude=29.5,
                    longitude=106.5 + number / 100,
                    grid_id=grid.id,
                    **fields,
                )
                session.flush()
                for key, level in levels.items():
                    values = level * cycle * rng.lognormal(0, 0.2, HOURS)
                    frame = pl.DataFrame(
                        {
                            "site_id": site.id,
                            "parameter_id": ids[key],
                            "period": "hour",
                            "period_start": times,
                            "value": values,
                            "flag": "N",
                        }
                    ).cast(INPUT_SCHEMA)
                    upsert_readings(session, frame, source="bench", actor=ACTOR)
                    total += frame.height
    return total


def add_hour(engine: Engine, now: datetime) -> None:
    """The next hour of the air stations arrives (as from the HJ 212 server)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    with writing(engine, ACTOR) as session:
        ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
        sites = session.execute(select(Site.id).where(Site.kind == "air_station")).scalars().all()
        rows = [
            (site, ids[key], "hour", hour, level, "N")
            for site in sites
            for key, level in KINDS["air_station"][1].items()
        ]
        frame = pl.DataFrame(rows, schema=INPUT_SCHEMA, orient="row")
        upsert_readings(session, frame, source="bench", actor=ACTOR)


def map_only(engine: Engine, client: TestClient) -> None:
    """The skeleton's overview: grids and sites from the store, the map option, a page."""
    with reading(engine) as session:
        view = district_view(session)
    district_map(view)
    client.get("/login")


def measure(name: str, engine: Engine, repeats: int) -> None:
    now = datetime.now(UTC)
    start = time.perf_counter()
    readings = seed(engine, now)
    print(f"{name}: seeded {readings:,} readings in {time.perf_counter() - start:.1f} s")
    with TestClient(create_site(engine)) as client:
        client.get("/login")  # imports, catalogs, templates
        first = best_of(1, lambda: client.get("/"))
        baseline = best_of(repeats, lambda: map_only(engine, client))
        overview = best_of(repeats, lambda: client.get("/"))
        add_hour(engine, now)
        after_new_hour = best_of(1, lambda: client.get("/"))
        assert client.get("/").status_code == 200
    print(
        f"{name}: map-only page {baseline * 1000:.0f} ms; overview {overview * 1000:.0f} ms "
        f"({overview / baseline:.1f}× the map-only page; target < 1000 ms), "
        f"{after_new_hour * 1000:.0f} ms after a new hour of readings, "
        f"{first * 1000:.0f} ms on the first load (the year's station means are computed "
        "once per process, then only new or revised hours)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres-url")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        database.upgrade(engine)
        measure("SQLite", engine, arguments.repeats)
        engine.dispose()
    if arguments.postgres_url:
        engine, drop = postgres_engine(arguments.postgres_url)  # a schema of its own
        try:
            database.upgrade(engine)
            measure("PostgreSQL", engine, arguments.repeats)
        finally:
            drop()


if __name__ == "__main__":
    main()
