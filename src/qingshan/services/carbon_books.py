"""The district's carbon books as the dashboard shows them: a folder of the bureau's files.

The books are the same files ``qingshan carbon inventory`` and ``qingshan carbon targets`` take,
kept in one folder (``<data dir>/carbon`` unless ``QINGSHAN_CARBON_BOOKS_DIR`` says otherwise):

==========================  ==========================================================
``district_activity.csv``   activity data by year and sector (the inventory's STATISTICS)
``district_gdp.csv``        GDP at comparable prices (``year, gdp[, gdp_index]``)
``district_targets.csv``    the plan's targets (intensity, totals, shares)
``district_emissions.csv``  optional: the bureau's official annual CO2, tce and non-fossil
                            share; without it the annual totals come from the inventory
``factors/``                optional: the bureau's own factor files, added to the library
==========================  ==========================================================

The intensity targets of the five-year plans are CO2 targets, so the books count CO2 (the
``co2`` gas choice of :class:`qingshan.carbon.accounting.Options`). Results are kept per folder
until a file in it changes, so pages do not recompute an unchanged inventory.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from qingshan.carbon import accounting
from qingshan.carbon.factors import FactorLibrary
from qingshan.config import get_settings
from qingshan.services import carbon
from qingshan.services.tables import InputError, write_table

ACTIVITY_FILE = "district_activity.csv"
GDP_FILE = "district_gdp.csv"
TARGETS_FILE = "district_targets.csv"
EMISSIONS_FILE = "district_emissions.csv"
FACTORS_DIR = "factors"
BOOKS_OPTIONS = accounting.Options(gases="co2")


@dataclass(frozen=True)
class CarbonBooks:
    """The inventory, annual totals and target assessment of one books folder."""

    folder: Path
    inventory: pl.DataFrame
    """Year × sector, location- and market-based electricity (``accounting.inventory``)."""
    annual: pl.DataFrame
    """Year, co2_t, energy_tce (and the share of non-fossil energy when given)."""
    progress: pl.DataFrame | None
    """One row per target (``carbon.assess_targets``); None without targets or GDP."""
    trajectory: pl.DataFrame | None

    @property
    def warnings(self) -> int:
        return 0 if self.progress is None else int(self.progress["warning"].sum())


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        sorted(
            (str(path), path.stat().st_mtime_ns, path.stat().st_size)
            for path in folder.rglob("*")
            if path.is_file()
        )
    )


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], CarbonBooks]] = {}


def load_books(folder: Path) -> CarbonBooks | None:
    """The books in ``folder``, or None when it holds no activity file.

    Raises :class:`qingshan.services.tables.InputError` naming the file, row and column of
    every bad cell, exactly as the CLI would.
    """
    folder = folder.resolve()
    if not (folder / ACTIVITY_FILE).exists():
        return None
    fingerprint = _fingerprint(folder)
    cached = _cache.get(folder)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    books = _compute(folder)
    _cache[folder] = (fingerprint, books)
    return books


def books_library(folder: Path) -> FactorLibrary:
    """The shipped factors, the bureau's configured ones and those of the books folder."""
    configured = get_settings().carbon_factor_dir
    extra = [configured] if configured else []
    if (folder / FACTORS_DIR).is_dir():
        extra.append(folder / FACTORS_DIR)
    return carbon.library_for(extra)


def _compute(folder: Path) -> CarbonBooks:
    library = books_library(folder)
    statistics = folder / ACTIVITY_FILE
    original, frame = carbon.load_statistics(statistics, library)
    inventory = carbon.district_inventory(statistics, original, frame, library, BOOKS_OPTIONS)
    annual = accounting.annual_for_targets(inventory)
    progress = trajectory = None
    if (folder / TARGETS_FILE).exists() and (folder / GDP_FILE).exists():
        official = folder / EMISSIONS_FILE
        if official.exists():
            annual = carbon.load_emissions(official)
            progress, trajectory = carbon.assess_targets(
                folder / TARGETS_FILE, folder / GDP_FILE, official
            )
        else:
            with tempfile.TemporaryDirectory() as scratch:
                derived = write_table(annual, Path(scratch) / EMISSIONS_FILE)
                progress, trajectory = carbon.assess_targets(
                    folder / TARGETS_FILE, folder / GDP_FILE, derived
                )
    return CarbonBooks(folder, inventory, annual, progress, trajectory)


def intensity_progress(folder: Path) -> dict[str, Any] | None:
    """The CO2-per-GDP target's progress row of the books (for the overview card); None when
    the books, that target or a readable file is missing — the carbon page says which."""
    try:
        books = load_books(folder)
    except InputError:
        return None
    if books is None or books.progress is None:
        return None
    rows = books.progress.filter(pl.col("indicator") == "co2_per_gdp").to_dicts()
    return rows[0] if rows else None
