"""GEP raster route: a 10,000 × 10,000-cell district (a county at 30 m: 90,000 km²… or a
large one at 10 m) processed in blocks, against a whole-array baseline measured in the same run.

Run by hand (not part of the test suite; needs ≈ 3.2 GB of free disk for the rasters)::

    python benchmarks/bench_gep.py [--size 10000] [--baseline-size 2000]

1. Writes synthetic ``.npy`` rasters (land cover, township ids, seven drivers) in strips, and a
   run configuration using the example district's tables (``examples/gep``).
2. Blocked: ``qingshan.services.gep.load_run`` + ``compute`` — the CLI's own path, reading
   memory-mapped strips of ≈ 10⁶ cells. Prints cells/s and peak memory (tracemalloc: numpy's
   allocations; and the process's maximum RSS, which also counts touched file pages).
3. Baseline: the same kernels on a smaller raster held whole in memory and passed as one
   block (``ZonalAccumulator.add`` once). Prints cells/s, peak memory, and the ratios
   blocked/whole-array for speed and for peak memory per cell.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from qingshan.gep import engine
from qingshan.services import gep

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gep"
TABLES = (
    "prices.csv",
    "price-index.csv",
    "statistics-2023.csv",
    "ecosystem-parameters.csv",
    "townships.csv",
)
DRIVERS = (
    "precip_mm",
    "et_mm",
    "r_factor",
    "k_factor",
    "ls_factor",
    "c_factor",
    "npp_dry_matter_g_m2",
)
STRIP = 500


def synthetic_strip(start: int, stop: int, size: int) -> dict[str, np.ndarray]:
    """Deterministic smooth fields for rows start…stop of a size × size district."""
    y, x = np.mgrid[start:stop, 0:size].astype(np.float32) / np.float32(size)
    wave = 0.5 + 0.25 * np.sin(9 * x + 3 * y) + 0.25 * np.cos(7 * y - 5 * x)
    land = np.clip((wave * 7).astype(np.uint8) + 1, 1, 7)
    township = (1 + (x * 2.5).astype(np.uint8) + 2 * (y > 0.5)).clip(1, 5).astype(np.uint8)
    return {
        "land_cover": land,
        "townships": township,
        "precip_mm": 1000 + 400 * wave,
        "et_mm": 500 + 300 * wave,
        "r_factor": 3000 + 2000 * wave,
        "k_factor": 0.02 + 0.03 * wave,
        "ls_factor": 0.5 + 15 * wave,
        "c_factor": 0.3 * (1 - wave),
        "npp_dry_matter_g_m2": 300 + 900 * wave,
    }


def write_district(directory: Path, size: int) -> Path:
    rasters = directory / "rasters"
    rasters.mkdir(parents=True)
    sample = synthetic_strip(0, 1, size)
    arrays = {
        name: np.lib.format.open_memmap(
            rasters / f"{name}.npy", mode="w+", dtype=sample[name].dtype, shape=(size, size)
        )
        for name in sample
    }
    for start in range(0, size, STRIP):
        stop = min(start + STRIP, size)
        for name, block in synthetic_strip(start, stop, size).items():
            arrays[name][start:stop] = block
    for array in arrays.values():
        array.flush()
    for name in TABLES:
        shutil.copy(EXAMPLE / name, directory / name)
    constants = (EXAMPLE / "config.toml").read_text("utf-8").split("[constants]")[1]
    constants = constants.split("[constant_prices]")[0]
    classes = "\n".join(
        f'{code} = "{name}"'
        for code, name in enumerate(
            ("forest", "shrub", "grassland", "wetland", "farmland", "urban", "bare"), start=1
        )
    )
    drivers = "\n".join(f'{name} = "rasters/{name}.npy"' for name in DRIVERS)
    config = directory / "config.toml"
    config.write_text(
        f"""spec = "ndrc-nbs-2022"
year = 2023
prices = "prices.csv"
statistics = "statistics-2023.csv"
ecosystem_parameters = "ecosystem-parameters.csv"
[constants]{constants}
[raster]
land_cover = "rasters/land_cover.npy"
townships = "rasters/townships.npy"
township_names = "townships.csv"
cell_size_m = 30
[raster.classes]
{classes}
[raster.drivers]
{drivers}
""",
        "utf-8",
    )
    return config


def measure(work) -> tuple[float, int]:
    """Wall time [s] and tracemalloc peak [bytes] of ``work()``."""
    tracemalloc.start()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def blocked(config: Path) -> None:
    gep.compute(gep.load_run(config))


def whole_array(config: Path) -> None:
    """Baseline: read every raster whole into memory and add it as one block."""
    inputs = gep.load_run(config)
    plan = inputs.raster
    assert plan is not None
    accumulator = engine.ZonalAccumulator(
        inputs.spec,
        plan.townships,
        list(inputs.spec.ecosystems),
        inputs.drivers,
        inputs.coefficients,
        plan.cell_area_m2,
    )
    rows = plan.rows
    ecosystem = plan.class_lookup[plan.land_cover.read_rows(0, rows).astype(np.int64)]
    assert plan.zone_lookup is not None
    zone = plan.zone_lookup[plan.zones.read_rows(0, rows).astype(np.int64)]
    rasters = {
        name: source.read_rows(0, rows).astype(np.float64) for name, source in plan.drivers.items()
    }
    accumulator.add(zone, ecosystem, rasters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--baseline-size", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_gep_") as temporary:
        root = Path(temporary)
        start = time.perf_counter()
        big = write_district(root / "big", args.size)
        small = write_district(root / "small", args.baseline_size)
        print(f"rasters written in {time.perf_counter() - start:.1f} s")

        small_cells = args.baseline_size**2
        whole_seconds, whole_peak = measure(lambda: whole_array(small))
        small_seconds, small_peak = measure(lambda: blocked(small))
        big_cells = args.size**2
        big_seconds, big_peak = measure(lambda: blocked(big))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        def line(label: str, cells: int, seconds: float, peak: int) -> None:
            print(
                f"{label:38} {cells:>13,} cells  {seconds:7.2f} s  "
                f"{cells / seconds:>13,.0f} cells/s  peak {peak / 2**20:8.1f} MiB "
                f"({peak / cells:6.1f} B/cell)"
            )

        line(
            f"whole array {args.baseline_size}²  (baseline)", small_cells, whole_seconds, whole_peak
        )
        line(f"blocked     {args.baseline_size}²", small_cells, small_seconds, small_peak)
        line(f"blocked     {args.size}²", big_cells, big_seconds, big_peak)
        speed = (big_cells / big_seconds) / (small_cells / whole_seconds)
        memory = (big_peak / big_cells) / (whole_peak / small_cells)
        print(
            f"ratio blocked {args.size}² / whole-array {args.baseline_size}²: speed "
            f"{speed:.2f} ×, peak memory per cell {memory:.4f} ×"
        )
        print(
            f"whole array at {args.size}² would need ≈ "
            f"{whole_peak / small_cells * big_cells / 2**30:.1f} GiB; blocked peak "
            f"{big_peak / 2**30:.2f} GiB; process max RSS {rss_mb:,.0f} MiB "
            "(includes memory-mapped file pages)"
        )


if __name__ == "__main__":
    main()
