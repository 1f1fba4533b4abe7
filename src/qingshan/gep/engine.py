"""From inputs to physical quantities: the table route, the raster route (in blocks) and the
statistics, all through the kernels of :mod:`qingshan.gep.formulas`.

The two area routes evaluate the same per-area formula on different supports: a table row
(township × ecosystem, with area and per-area drivers) or a raster cell (area = cell area);
the raster route then sums cells per township × ecosystem with ``numpy.bincount``. Inputs
arrive as numpy arrays — reading files is the services' business — so a caller can feed
windows of any raster size and memory stays bounded by the window.

Drivers are resolved in this order: route data (table column / raster), per-ecosystem
parameters (e.g. runoff coefficients, transpiration heat), district constants (e.g. cooling
days). Cells with a missing driver (NaN) contribute nothing and are counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from qingshan.gep.catalogue import FORMULAS
from qingshan.gep.spec import Indicator, Item, Spec

UNASSIGNED = "unassigned"
"""Ecosystem of a statistic that a yearbook does not attribute to an ecosystem type."""

QUANTITY_COLUMNS = ("township", "ecosystem", "indicator", "item", "quantity")


def item_key(indicator: Indicator, item: Item) -> str:
    return f"{indicator.id}.{item.id}"


def area_items(spec: Spec) -> list[tuple[Indicator, Item]]:
    return [(i, item) for i, item in spec.items() if FORMULAS[item.formula].basis == "area"]


def statistic_items(spec: Spec) -> list[tuple[Indicator, Item]]:
    return [(i, item) for i, item in spec.items() if FORMULAS[item.formula].basis == "statistic"]


def coefficients_for(
    spec: Spec, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> dict[str, dict[str, float]]:
    """The specification's formula coefficients, with a run's overrides applied."""
    merged = {
        formula: {name: c.value for name, c in values.items()}
        for formula, values in spec.coefficients.items()
    }
    for formula, values in (overrides or {}).items():
        merged.setdefault(formula, {}).update({k: float(v) for k, v in values.items()})
    return merged


@dataclass(frozen=True)
class Drivers:
    """Per-area drivers that are not route data: per ecosystem, or one value for the district."""

    ecosystem_parameters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """driver → ecosystem → value"""
    constants: Mapping[str, float] = field(default_factory=dict)


def missing_drivers(
    spec: Spec, route_drivers: set[str], drivers: Drivers, ecosystems_present: set[str]
) -> list[str]:
    """Messages for every driver an area item needs and nobody provides."""
    messages = []
    for indicator, item in area_items(spec):
        applies = ecosystems_present & set(item.ecosystems or ecosystems_present)
        for name in item.inputs:
            if name in route_drivers or name in drivers.constants:
                continue
            by_ecosystem = drivers.ecosystem_parameters.get(name, {})
            lacking = sorted(applies - set(by_ecosystem))
            if lacking:
                messages.append(
                    f"driver {name!r} of {item_key(indicator, item)} is missing"
                    + (f" for ecosystems {', '.join(lacking)}" if by_ecosystem else "")
                    + ": give it as a raster/column, an ecosystem parameter or a constant"
                )
    return messages


def _driver(
    name: str,
    columns: Mapping[str, NDArray[np.float64]],
    drivers: Drivers,
    ecosystem_index: NDArray[np.intp],
    ecosystems: Sequence[str],
) -> NDArray[np.float64] | float:
    if name in columns:
        return columns[name]
    if name in drivers.ecosystem_parameters:
        by_ecosystem = drivers.ecosystem_parameters[name]
        fallback = drivers.constants.get(name, np.nan)
        lookup = np.array([by_ecosystem.get(e, fallback) for e in ecosystems], dtype=np.float64)
        return lookup[ecosystem_index]
    return float(drivers.constants[name])


def evaluate_area_items(
    spec: Spec,
    columns: Mapping[str, NDArray[np.float64]],
    area_m2: NDArray[np.float64],
    ecosystem_index: NDArray[np.intp],
    ecosystems: Sequence[str],
    drivers: Drivers,
    coefficients: Mapping[str, Mapping[str, float]],
) -> tuple[dict[str, NDArray[np.float64]], dict[str, int]]:
    """Quantities of every area item per element, and per item the count of elements skipped
    for a missing (NaN) driver. ``ecosystem_index`` indexes ``ecosystems``."""
    quantities: dict[str, NDArray[np.float64]] = {}
    skipped: dict[str, int] = {}
    resolved: dict[str, NDArray[np.float64] | float] = {}
    for indicator, item in area_items(spec):
        formula = FORMULAS[item.formula]
        inputs = []
        for name in formula.inputs:
            if name not in resolved:
                resolved[name] = _driver(name, columns, drivers, ecosystem_index, ecosystems)
            inputs.append(resolved[name])
        kwargs = {name: coefficients[item.formula][name] for name in formula.coefficients}
        quantity = np.broadcast_to(formula.kernel(*inputs, area_m2, **kwargs), area_m2.shape)
        applies = np.ones(area_m2.shape, dtype=bool)
        if item.ecosystems is not None:
            wanted = np.array([e in item.ecosystems for e in ecosystems], dtype=bool)
            applies = wanted[ecosystem_index]
        finite = np.isfinite(quantity)
        key = item_key(indicator, item)
        skipped[key] = int(np.count_nonzero(applies & ~finite))
        quantities[key] = np.where(applies & finite, quantity, 0.0)
    return quantities, skipped


def _long_frame(
    sums: Mapping[str, NDArray[np.float64]], townships: Sequence[str], ecosystems: Sequence[str]
) -> pl.DataFrame:
    """Turn per-item arrays over (township × ecosystem) into the long quantity frame."""
    town = np.repeat(np.asarray(townships, dtype=object), len(ecosystems))
    eco = np.tile(np.asarray(ecosystems, dtype=object), len(townships))
    parts = []
    for key, values in sums.items():
        indicator, item = key.split(".", 1)
        parts.append(
            pl.DataFrame(
                {
                    "township": town.tolist(),
                    "ecosystem": eco.tolist(),
                    "indicator": [indicator] * len(values),
                    "item": [item] * len(values),
                    "quantity": values.astype(np.float64),
                }
            )
        )
    if not parts:
        return empty_quantities()
    return pl.concat(parts).filter(pl.col("quantity") != 0.0)


def empty_quantities() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "township": pl.String,
            "ecosystem": pl.String,
            "indicator": pl.String,
            "item": pl.String,
            "quantity": pl.Float64,
        }
    )


class ZonalAccumulator:
    """Raster route: feed blocks (windows) of cells, get sums per township × ecosystem.

    ``zone`` blocks hold a township index (0 … n−1; −1 outside the district); ``ecosystem``
    blocks an ecosystem index into ``ecosystems`` (−1 for no data). Memory is what one block
    needs; the sums are n_items × n_townships × n_ecosystems floats.
    """

    def __init__(
        self,
        spec: Spec,
        townships: Sequence[str],
        ecosystems: Sequence[str],
        drivers: Drivers,
        coefficients: Mapping[str, Mapping[str, float]],
        cell_area_m2: float,
    ) -> None:
        self.spec = spec
        self.townships = list(townships)
        self.ecosystems = list(ecosystems)
        self.drivers = drivers
        self.coefficients = coefficients
        self.cell_area_m2 = float(cell_area_m2)
        self.keys = [item_key(i, item) for i, item in area_items(spec)]
        size = len(self.townships) * len(self.ecosystems)
        self.sums = {key: np.zeros(size) for key in self.keys}
        self.cells = np.zeros(size, dtype=np.int64)
        self.skipped = dict.fromkeys(self.keys, 0)
        self.cells_seen = 0

    def add(
        self,
        zone: NDArray[np.integer],
        ecosystem: NDArray[np.integer],
        rasters: Mapping[str, NDArray[np.floating]],
        keep_layers: bool = False,
    ) -> dict[str, NDArray[np.float32]]:
        """Add one block; return per-cell quantities (float32, 0 outside) if ``keep_layers``."""
        self.cells_seen += zone.size
        valid = (zone >= 0) & (ecosystem >= 0)
        index = zone[valid].astype(np.intp) * len(self.ecosystems) + ecosystem[valid]
        columns = {
            name: np.asarray(block[valid], dtype=np.float64) for name, block in rasters.items()
        }
        area = np.full(index.shape, self.cell_area_m2)
        quantities, skipped = evaluate_area_items(
            self.spec,
            columns,
            area,
            ecosystem[valid].astype(np.intp),
            self.ecosystems,
            self.drivers,
            self.coefficients,
        )
        size = len(self.cells)
        self.cells += np.bincount(index, minlength=size)
        layers = {}
        for key, values in quantities.items():
            self.sums[key] += np.bincount(index, weights=values, minlength=size)
            self.skipped[key] += skipped[key]
            if keep_layers:
                layer = np.zeros(zone.shape, dtype=np.float32)
                layer[valid] = values
                layers[key] = layer
        return layers

    def quantities(self) -> pl.DataFrame:
        return _long_frame(self.sums, self.townships, self.ecosystems)

    def areas(self) -> pl.DataFrame:
        """Area per township × ecosystem [m²] (cells present in both zone and land cover)."""
        frame = _long_frame(
            {"area.cells": self.cells.astype(np.float64) * self.cell_area_m2},
            self.townships,
            self.ecosystems,
        )
        return frame.select("township", "ecosystem", pl.col("quantity").alias("area_m2"))


def table_quantities(
    spec: Spec,
    rows: pl.DataFrame,
    ecosystems: Sequence[str],
    drivers: Drivers,
    coefficients: Mapping[str, Mapping[str, float]],
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Table route: ``rows`` has township, ecosystem, area_m2 and driver columns (Float64)."""
    position = {name: i for i, name in enumerate(ecosystems)}
    ecosystem_index = np.array([position[e] for e in rows["ecosystem"]], dtype=np.intp)
    columns = {
        name: rows[name].to_numpy().astype(np.float64)
        for name in rows.columns
        if name not in ("township", "ecosystem", "area_m2")
    }
    quantities, skipped = evaluate_area_items(
        spec,
        columns,
        rows["area_m2"].to_numpy().astype(np.float64),
        ecosystem_index,
        ecosystems,
        drivers,
        coefficients,
    )
    parts = [
        rows.select("township", "ecosystem").with_columns(
            pl.lit(key.split(".", 1)[0]).alias("indicator"),
            pl.lit(key.split(".", 1)[1]).alias("item"),
            pl.Series("quantity", values),
        )
        for key, values in quantities.items()
    ]
    frame = pl.concat(parts) if parts else empty_quantities()
    return frame.filter(pl.col("quantity") != 0.0), skipped


def statistic_quantities(
    spec: Spec, statistics: pl.DataFrame, coefficients: Mapping[str, Mapping[str, float]]
) -> tuple[pl.DataFrame, list[str]]:
    """Quantities of the statistic items from a long table: township, ecosystem, input, value
    (value already in the input's base unit). Returns the frame and the items no row fed."""
    parts = []
    unreported = []
    for indicator, item in statistic_items(spec):
        formula = FORMULAS[item.formula]
        (name,) = item.inputs
        rows = statistics.filter(pl.col("input") == name)
        if rows.is_empty():
            unreported.append(item_key(indicator, item))
            continue
        kwargs = {c: coefficients[item.formula][c] for c in formula.coefficients}
        values = np.asarray(
            formula.kernel(rows["value"].to_numpy().astype(np.float64), **kwargs), dtype=np.float64
        )
        parts.append(
            rows.select("township", "ecosystem").with_columns(
                pl.lit(indicator.id).alias("indicator"),
                pl.lit(item.id).alias("item"),
                pl.Series("quantity", values),
            )
        )
    frame = pl.concat(parts) if parts else empty_quantities()
    grouped = frame.group_by(["township", "ecosystem", "indicator", "item"], maintain_order=True)
    return grouped.agg(pl.col("quantity").sum()), unreported
