"""Bulk ingest speed of the store, against baselines measured in the same run.

* SQLite: readings/s of ``upsert_readings`` (target ≥ 100,000/s, issue 4) and the ratio to a
  raw ``executemany`` INSERT of the same rows into a table without keys or indexes.
* PostgreSQL: readings/s of ``upsert_readings`` (COPY into a temporary table, then
  INSERT … ON CONFLICT) and its ratio to the raw COPY of the same rows (target ≥ 0.5, issue 4),
  against two baselines: COPY into a table shaped like ``readings`` (same columns, indexes and
  checks: what loading these rows costs without any upsert logic), and COPY into a table of the
  same columns without any index (the floor of what COPY can do).

Each backend is measured for new rows, for an identical re-send (no-op), for a re-send with
every value changed (every row becomes a revision), and for new rows whose last key (in key
order) already exists — on PostgreSQL the worst case of the COPY-first path: the direct COPY is
refused at its end and the batch goes through the staged upsert, which is what every batch of
new rows cost before that path existed (the old path, measured in the same run). Every figure
is the best of ``--repeats`` runs on a fresh database, because a shared machine's load varies
from second to second.

    python benchmarks/bench_ingest.py [--rows 200000] [--repeats 3] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from qingshan.services import database
from qingshan.store import create_store_engine
from qingshan.store.engine import writing
from qingshan.store.readings import KEY_COLUMNS, upsert_readings
from qingshan.store.registry import upsert_site
from qingshan.store.types import UTC_TEXT_FORMAT

SITES = 50
PARAMETERS = 10
ACTOR = "bench:ingest"


def readings_frame(rows: int, site_ids: list[int]) -> pl.DataFrame:
    """``rows`` minute readings: sites × parameters × consecutive minutes."""
    per_series = -(-rows // (len(site_ids) * PARAMETERS))
    start = pl.datetime(2024, 1, 1, time_zone="UTC")
    index = pl.int_range(0, rows, eager=True)
    series = index // per_series
    return pl.DataFrame({"i": index, "series": series}).select(
        pl.col("series")
        .mod(len(site_ids))
        .replace_strict(dict(enumerate(site_ids)), return_dtype=pl.Int64)
        .alias("site_id"),
        (pl.col("series") // len(site_ids) + 1).cast(pl.Int64).alias("parameter_id"),
        pl.lit("minute").alias("period"),
        (start + pl.duration(minutes=pl.col("i") % per_series)).alias("period_start"),
        (pl.col("i") % 997 / 10).cast(pl.Float64).alias("value"),
        pl.lit("N").alias("flag"),
    )


def prepare(engine: Engine) -> list[int]:
    database.upgrade(engine)
    with writing(engine, ACTOR) as session:
        return [
            upsert_site(
                session,
                f"B{n:03d}",
                name=f"bench {n}",
                kind="air_station",
                latitude=30.0,
                longitude=114.0,
                reporting_interval_minutes=1,
            ).id
            for n in range(SITES)
        ]


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def upsert_rate(engine: Engine, frame: pl.DataFrame) -> float:
    def run() -> None:
        with writing(engine, ACTOR) as session:
            upsert_readings(session, frame, source="bench", actor=ACTOR)

    return frame.height / timed(run)


def last_key_old_rate(engine: Engine, frame: pl.DataFrame) -> float:
    """New rows but for the last key (in key order), stored beforehand: on PostgreSQL the
    worst case of the COPY-first path — the COPY is refused at its very end and the batch
    then goes through the staged upsert (what every batch cost before the fast path)."""
    later = frame.with_columns(pl.col("period_start") + pl.duration(days=366))
    with writing(engine, ACTOR) as session:
        last = later.sort(KEY_COLUMNS).tail(1)
        upsert_readings(session, last, source="bench", actor=ACTOR)
    return upsert_rate(engine, later)


def store_passes(engine: Engine, frame: pl.DataFrame) -> dict[str, float]:
    changed = frame.with_columns(pl.col("value") + 1.0)
    return {
        "new": upsert_rate(engine, frame),
        "identical re-send": upsert_rate(engine, frame),
        "all changed": upsert_rate(engine, changed),
        "new, last key old": last_key_old_rate(engine, frame),
    }


def sqlite_raw_rate(engine: Engine, frame: pl.DataFrame) -> float:
    rows = frame.with_columns(pl.col("period_start").dt.strftime(UTC_TEXT_FORMAT))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "CREATE TABLE raw_readings (site_id, parameter_id, period, period_start, value, flag)"
        )

        def run() -> None:
            cursor.execute("BEGIN")
            cursor.executemany(
                "INSERT INTO raw_readings VALUES (?, ?, ?, ?, ?, ?)", rows.iter_rows()
            )
            cursor.execute("COMMIT")

        return frame.height / timed(run)
    finally:
        raw.close()


BARE_COLUMNS = (
    "(id bigint, site_id integer, parameter_id integer, period varchar(8), "
    "period_start timestamptz, value double precision, flag varchar(1), source varchar(64), "
    "received_at timestamptz, revision integer)"
)
COPIED = (
    "(id, site_id, parameter_id, period, period_start, value, flag, source, received_at, revision)"
)


def postgres_copy_rate(engine: Engine, frame: pl.DataFrame, shape: str) -> float:
    """COPY of the same rows (with the columns upsert stores) into a new table of ``shape``."""
    csv = (
        frame.with_row_index("id", offset=1)
        .with_columns(
            pl.col("period_start").dt.strftime(UTC_TEXT_FORMAT + "+00"),
            pl.lit("bench").alias("source"),
            pl.lit("2024-06-01 00:00:00+00").alias("received_at"),
            pl.lit(1).alias("revision"),
        )
        .write_csv(include_header=False)
        .encode()
    )
    table = f"raw_{uuid.uuid4().hex[:8]}"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"CREATE TABLE {table} {shape}")
        raw.commit()

        def run() -> None:
            with cursor.copy(f"COPY {table} {COPIED} FROM STDIN (FORMAT csv)") as copy:
                copy.write(csv)
            raw.commit()

        return frame.height / timed(run)
    finally:
        raw.close()


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: max(run[name] for run in runs) for name in runs[0]}


def report(backend: str, rates: dict[str, float], baselines: tuple[str, ...]) -> None:
    print(f"{backend} (readings/s, best of the runs)")
    for name in baselines:
        print(f"  baseline: {name:44s} {rates[name]:12,.0f}")
    for name in ("new", "identical re-send", "all changed", "new, last key old"):
        ratios = "   ".join(f"{rates[name] / rates[b]:5.2f} × {SHORT[b]}" for b in baselines)
        print(f"  upsert {name:18s} {rates[name]:12,.0f}   {ratios}")


SQLITE_RAW = "raw INSERT (executemany), table without indexes"
COPY_SHAPED = "raw COPY, table shaped like readings"
COPY_BARE = "raw COPY, table without indexes"
SHORT = {SQLITE_RAW: "raw INSERT", COPY_SHAPED: "COPY shaped", COPY_BARE: "COPY bare"}


def sqlite_run(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        frame = readings_frame(rows, prepare(engine))
        rates = {SQLITE_RAW: sqlite_raw_rate(engine, frame), **store_passes(engine, frame)}
        engine.dispose()
    return rates


def bench_sqlite(rows: int, repeats: int) -> None:
    rates = best([sqlite_run(rows) for _ in range(repeats)])
    report("SQLite", rates, (SQLITE_RAW,))
    print(f"  target: new ≥ 100,000 readings/s → {'met' if rates['new'] >= 1e5 else 'NOT met'}")


def postgres_run(rows: int, url: str) -> dict[str, float]:
    schema = f"qs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_store_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_store_engine(scoped.render_as_string(hide_password=False))
    try:
        frame = readings_frame(rows, prepare(engine))
        rates = {
            COPY_SHAPED: postgres_copy_rate(engine, frame, "(LIKE readings INCLUDING ALL)"),
            COPY_BARE: postgres_copy_rate(engine, frame, BARE_COLUMNS),
            **store_passes(engine, frame),
        }
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return rates


def bench_postgres(rows: int, repeats: int, url: str) -> None:
    rates = best([postgres_run(rows, url) for _ in range(repeats)])
    report("PostgreSQL", rates, (COPY_SHAPED, COPY_BARE))
    ratio = rates["new"] / rates[COPY_SHAPED]
    verdict = "met" if ratio >= 0.5 else "NOT met"
    print(f"  target: new ≥ 0.5 × raw COPY (table shaped like readings) → {ratio:.2f} {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    arguments = parser.parse_args()
    bench_sqlite(arguments.rows, arguments.repeats)
    if not arguments.skip_postgres:
        bench_postgres(arguments.rows, arguments.repeats, arguments.postgres_url)


if __name__ == "__main__":
    main()
