"""The bureau's annual air targets, from ``targets.toml`` in ``QINGSHAN_DATA_DIR``.

Annual targets (the good-day ratio set by the province's assessment, 目标责任书) change every
year and are a bureau's own numbers, not a standard's, so they are a small file the bureau
edits rather than constants in code::

    # <QINGSHAN_DATA_DIR>/targets.toml
    [air.2026]
    good_day_ratio = 92.6      # % of valid days with AQI ≤ 100 (HJ 663)
    pm25_annual_mean = 30      # µg/m³, optional: a target stricter than GB 3095

A missing file means "no targets set". A file that cannot be used raises
:class:`TargetsError` naming the file and the key; nothing is half-read.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from qingshan.config import get_settings

TARGETS_FILE = "targets.toml"
AIR_FIELDS = {
    "good_day_ratio": (0.0, 100.0),
    "pm25_annual_mean": (0.0, 1000.0),
}
"""Keys of an ``[air.<year>]`` table and the range each value must lie in."""


class TargetsError(ValueError):
    """The targets file cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class AirTargets:
    """One year's air targets; None where the bureau set none."""

    year: int
    good_day_ratio: float | None = None
    """Good days / valid days [%]."""
    pm25_annual_mean: float | None = None
    """PM2.5 annual mean [µg/m³]."""


def targets_path() -> Path:
    return get_settings().data_dir / TARGETS_FILE


def _year_targets(path: Path, year_text: str, table: object) -> AirTargets:
    where = f"{path}: [air.{year_text}]"
    if not year_text.isdigit() or len(year_text) != 4:
        raise TargetsError(f"{where}: the table name must be a year, e.g. [air.2026]")
    if not isinstance(table, dict):
        raise TargetsError(f"{where} must be a table")
    unknown = sorted(set(table) - set(AIR_FIELDS))
    if unknown:
        raise TargetsError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(AIR_FIELDS)}")
    values: dict[str, float] = {}
    for key, value in table.items():
        low, high = AIR_FIELDS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TargetsError(f"{where} {key}: expected a number, got {value!r}")
        if not low <= value <= high:
            raise TargetsError(f"{where} {key}: {value} is outside {low:g}–{high:g}")
        values[key] = float(value)
    return AirTargets(year=int(year_text), **values)


def load_air_targets(path: Path | None = None) -> dict[int, AirTargets]:
    """Year → air targets from the targets file (empty when there is no file)."""
    path = path or targets_path()
    if not path.exists():
        return {}
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TargetsError(f"{path}: not valid TOML: {error}") from error
    unknown = sorted(set(document) - {"air"})
    if unknown:
        raise TargetsError(f"{path}: unknown table [{unknown[0]}]; only [air.<year>] is read")
    air = document.get("air", {})
    targets = [_year_targets(path, year, table) for year, table in air.items()]
    return {target.year: target for target in targets}
