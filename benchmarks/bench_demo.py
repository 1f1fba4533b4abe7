"""Seeding time of the full demo (``qingshan demo``: two years of hourly data), against the
target of one minute, with the time of each stage and a baseline measured in the same run.

The baseline is the time to generate the same series without storing them
(:func:`qingshan.services.demo_series.readings_frame` for every site): what remains is the
store's share (upserts, day aggregates, alarm evaluation, the registry and the books). Every
figure is the best of ``--repeats`` runs on a fresh SQLite database, because a shared machine's
load varies from second to second.

    python benchmarks/bench_demo.py [--days 730] [--repeats 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from timing import best_of

from qingshan.services import database, demo, demo_series, demo_world
from qingshan.services.case_workflow import beijing_midnight
from qingshan.store import create_store_engine

TARGET_S = 60.0


def seed_once(days: int, stages: dict[str, float]) -> None:
    """Seed a fresh database; add each stage's seconds to ``stages``."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'demo.db'}")
        database.upgrade(engine)
        last = [time.perf_counter()]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.perf_counter()
            stages[stage.split()[0]] += now - last[0]
            last[0] = now

        demo.seed_demo(engine, days=days, progress=progress, data_dir=Path(folder) / "data")
        engine.dispose()


def generate_only(days: int) -> None:
    end = beijing_midnight(demo.default_until())
    ids = {key: number for number, key in enumerate(
        {*demo_series.AIR_PARAMETERS, *demo_series.WATER_PARAMETERS, "leq", "flue_so2",
         "flue_nox", "flue_dust", "cod", "electricity", "natural_gas"})}  # fmt: skip
    for site in demo_world.sites():
        demo_series.readings_frame(demo.DEFAULT_SEED, site, 1, ids, end - timedelta(days=days),
                                   end)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=demo.DEFAULT_DAYS)
    parser.add_argument("--repeats", type=int, default=1)
    options = parser.parse_args()
    baseline = best_of(options.repeats, lambda: generate_only(options.days))
    runs: list[dict[str, float]] = []

    def seed() -> None:
        stages: dict[str, float] = defaultdict(float)
        seed_once(options.days, stages)
        runs.append(stages)

    total = best_of(options.repeats, seed)
    stages = min(runs, key=lambda run: sum(run.values()))
    print(f"demo seeding, {options.days} days (best of {options.repeats})")
    print(f"  baseline: generate the series only           {baseline:8.1f} s")
    for stage, seconds in stages.items():
        print(f"  {stage:<45}{seconds:8.1f} s")
    print(f"  total                                        {total:8.1f} s"
          f"   {total / baseline:5.1f} × baseline")  # fmt: skip
    verdict = "met" if total < TARGET_S else "NOT met"
    print(f"  target: full demo < {TARGET_S:.0f} s → {verdict}")


if __name__ == "__main__":
    main()
