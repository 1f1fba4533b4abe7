"""Generate the synthetic district of ``examples/gep`` (deterministic; rerun to rebuild).

    python examples/gep/make_example.py

青山区 (synthetic): 5 townships on a 200 × 250 grid of 90 m cells (≈ 330 km² inside the
boundary), a hilly subtropical district: forest on the ridges, shrub and grassland on the
slopes, farmland and a town in the valley, a river with wetlands. Every number is synthetic
but in realistic ranges; nothing here is a measurement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
ROWS, COLUMNS, CELL_M = 200, 250, 90.0
TOWNSHIPS = ["青山镇", "白云街道", "龙潭乡", "石门镇", "清溪乡"]
SEEDS = [(50, 60), (110, 130), (150, 60), (60, 190), (160, 200)]
CLASSES = {1: "forest", 2: "shrub", 3: "grassland", 4: "wetland", 5: "farmland", 6: "urban",
           7: "bare"}


def smooth_field(rng: np.random.Generator, waves: int = 6) -> np.ndarray:
    """A smooth random surface in [0, 1] from a sum of plane waves."""
    y, x = np.mgrid[0:ROWS, 0:COLUMNS] / np.array([ROWS, COLUMNS])[:, None, None]
    field = np.zeros((ROWS, COLUMNS))
    for _ in range(waves):
        ky, kx = rng.uniform(0.5, 4, 2)
        field += rng.uniform(0.5, 1) * np.sin(2 * np.pi * (ky * y + kx * x) + rng.uniform(0, 6))
    return (field - field.min()) / (field.max() - field.min())


def district(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:ROWS, 0:COLUMNS]
    inside = ((y - ROWS / 2) / (ROWS * 0.49)) ** 2 + ((x - COLUMNS / 2) / (COLUMNS * 0.49)) ** 2
    inside = inside + 0.15 * smooth_field(rng) < 1.0
    distances = np.stack([(y - sy) ** 2 + (x - sx) ** 2 for sy, sx in SEEDS])
    township = (np.argmin(distances, axis=0) + 1).astype(np.uint8)
    township[~inside] = 0
    elevation = smooth_field(rng)
    river = np.abs(y - (ROWS * 0.55 + 25 * np.sin(x / 40))) < 3
    land = np.select(
        [river, elevation > 0.62, elevation > 0.45, elevation > 0.35, elevation > 0.12],
        [4, 1, 2, 3, 5], default=7,
    ).astype(np.uint8)
    town = (y - SEEDS[1][0]) ** 2 + (x - SEEDS[1][1]) ** 2 < 12 ** 2
    land[town & ~river] = 6
    land[~inside] = 0
    return township, land, elevation


def drivers(rng: np.random.Generator, land: np.ndarray, elevation: np.ndarray, wet: float
            ) -> dict[str, np.ndarray]:
    noise = smooth_field(rng, 10)
    precip = (1050 + 300 * elevation + 60 * noise) * wet
    et_by_class = {1: 720, 2: 650, 3: 600, 4: 900, 5: 620, 6: 380, 7: 300}
    et = np.vectorize(lambda c: et_by_class.get(int(c), np.nan))(land) * (0.95 + 0.1 * noise)
    c_by_class = {1: 0.006, 2: 0.03, 3: 0.05, 4: 0.0, 5: 0.25, 6: 0.0, 7: 0.6}
    c_factor = np.vectorize(lambda c: c_by_class.get(int(c), np.nan))(land)
    npp_by_class = {1: 1100, 2: 750, 3: 600, 4: 500, 5: 800, 6: 150, 7: 50}
    npp = np.vectorize(lambda c: npp_by_class.get(int(c), np.nan))(land) * (0.9 + 0.2 * noise)
    gy, gx = np.gradient(elevation * 800, CELL_M)
    slope = np.degrees(np.arctan(np.hypot(gy, gx)))
    ls = (0.6 + 0.9 * slope) * (0.8 + 0.4 * noise)
    return {
        "precip_mm": precip, "et_mm": et,
        "r_factor": 3600 + 1500 * elevation * wet,
        "k_factor": 0.028 + 0.012 * smooth_field(rng),
        "ls_factor": ls, "c_factor": c_factor, "npp_dry_matter_g_m2": npp,
    }


def save(name: str, array: np.ndarray, dtype: str) -> None:
    values = array.astype(dtype)
    if values.dtype.kind == "f":
        values[(array != array)] = np.nan
    np.save(HERE / "rasters" / f"{name}.npy", values)


def ecosystem_table(township: np.ndarray, land: np.ndarray, layers: dict[str, np.ndarray]
                    ) -> pl.DataFrame:
    """Table-route input: area and mean drivers per township × ecosystem (zonal means)."""
    inside = (township > 0) & (land > 0)
    frame = pl.DataFrame({
        "township": [TOWNSHIPS[t - 1] for t in township[inside]],
        "ecosystem": [CLASSES[c] for c in land[inside]],
        **{name: values[inside] for name, values in layers.items()},
    })
    return (frame.group_by("township", "ecosystem", maintain_order=True)
            .agg(pl.len().alias("cells"), *[pl.col(n).mean().round(4) for n in layers])
            .with_columns((pl.col("cells") * CELL_M**2 / 1e6).round(6).alias("area_km2"))
            .drop("cells").sort("township", "ecosystem")
            .select("township", "ecosystem", "area_km2", *layers))


def main() -> None:
    rng = np.random.default_rng(20231231)
    township, land, elevation = district(rng)
    save("townships", township, "uint8")
    save("land_cover", land, "uint8")
    this_year = drivers(np.random.default_rng(2023), land, elevation, wet=1.0)
    last_year = drivers(np.random.default_rng(2023), land, elevation, wet=0.93)
    for name, values in this_year.items():
        save(name, values, "float32")
    save("precip_mm_2022", last_year["precip_mm"], "float32")
    save("r_factor_2022", last_year["r_factor"], "float32")
    rounded = {name: np.load(HERE / "rasters" / f"{name}.npy").astype(np.float64)
               for name in this_year}
    ecosystem_table(township, land, rounded).write_csv(HERE / "ecosystems-2023.csv")
    pl.DataFrame({"township_id": list(range(1, 6)), "township": TOWNSHIPS}).write_csv(
        HERE / "townships.csv")


if __name__ == "__main__":
    main()
