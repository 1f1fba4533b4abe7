"""From physical quantities to the accounts: values, totals and the tables a report shows.

Value of a line = quantity × unit value (Σ over the item's valuation components of factor ×
price), at current prices and, with a price index, at constant (base-year) prices. GEP is the
sum over all lines (GB/T 46869—2025 definition, gep.md §9.2: minus the value of ecosystem
products from outside the region, when the specification says so and a bureau reports it).
Reported values are in 万元 (10⁴ 元), quantities in each item's display unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from qingshan.gep import prices as price_sets
from qingshan.gep.engine import item_key
from qingshan.gep.spec import CATEGORIES, MONEY_PRICE, VALUATION_METHODS, Spec
from qingshan.gep.units import factor_between

WAN = 1e4
DISTRICT_LEVEL = "全区"
"""Township name of statistics reported for the whole district only (not by township)."""
OUTSIDE_REGION_INPUT = "outside_region_value"
GDP_INPUT = "gdp"


@dataclass(frozen=True)
class Pricing:
    prices: price_sets.PriceSet
    year: int
    index: price_sets.PriceIndex | None = None
    base_year: int | None = None


def item_table(spec: Spec, pricing: Pricing) -> pl.DataFrame:
    """One row per item: names, category, units and unit values (current and constant)."""
    rows: list[dict[str, object]] = []
    for indicator, item in spec.items():
        current = price_sets.unit_value(item, pricing.prices)
        constant = current
        if pricing.index is not None and pricing.base_year is not None:
            constant = price_sets.constant_unit_value(
                item, pricing.prices, pricing.index, pricing.year, pricing.base_year
            )
        rows.append(
            {
                "indicator": indicator.id,
                "item": item.id,
                "category": indicator.category,
                "category_zh": CATEGORIES[indicator.category][0],
                "indicator_zh": indicator.zh,
                "indicator_en": indicator.en,
                "item_zh": item.zh,
                "item_en": item.en,
                "valuation_zh": VALUATION_METHODS[indicator.valuation][0],
                "unit": item.unit,
                "display_unit": item.display_unit,
                "display_factor": 1.0 / factor_between(item.display_unit, item.unit),
                "monetary": item.monetary,
                "unit_value": current,
                "constant_unit_value": constant,
                "status": indicator.status,
                "order": len(rows),
            }
        )
    return pl.DataFrame(rows)


def valuation_table(spec: Spec, pricing: Pricing) -> pl.DataFrame:
    """Every valuation component with its price and parameters, year, source and status."""
    rows = []
    for indicator, item in spec.items():
        for component in item.values:
            if component.price == MONEY_PRICE:
                continue
            entry = pricing.prices.entries[component.price]
            parameters = [pricing.prices.entries[k] for k in component.factors + component.divisors]
            rows.append(
                {
                    "indicator": item_key(indicator, item),
                    "component": component.zh or item.zh,
                    "price_key": entry.key,
                    "price": entry.value,
                    "price_unit": entry.unit,
                    "factor": price_sets.component_factor(component, pricing.prices),
                    "parameters": "; ".join(f"{p.key}={p.value:g} {p.unit}" for p in parameters),
                    "price_year": entry.year,
                    "source": entry.source,
                    "status": entry.status,
                }
            )
    return pl.DataFrame(rows)


def value_lines(quantities: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """Quantities joined to their items, with value and constant value [元]."""
    return (
        quantities.join(items, on=["indicator", "item"], how="left")
        .with_columns(
            (pl.col("quantity") * pl.col("unit_value")).alias("value"),
            (pl.col("quantity") * pl.col("constant_unit_value")).alias("value_constant"),
        )
        .sort("order", "township", "ecosystem")
    )


def outside_region_deduction(spec: Spec, statistics: pl.DataFrame) -> float:
    """Value of ecosystem products from outside the region [元] (GB/T 46869 definition)."""
    if not spec.deduct_outside_region:
        return 0.0
    rows = statistics.filter(pl.col("input") == OUTSIDE_REGION_INPUT)
    return float(rows["value"].sum()) if rows.height else 0.0


def by_indicator(lines: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """Physical quantity (display unit) and value per item, with its share of GEP [%]."""
    sums = lines.group_by("indicator", "item").agg(
        pl.col("quantity").sum(), pl.col("value").sum(), pl.col("value_constant").sum()
    )
    table = items.join(sums, on=["indicator", "item"], how="left").fill_null(0.0)
    total = float(table["value"].sum())
    return table.sort("order").select(
        "category",
        "category_zh",
        "indicator",
        "indicator_zh",
        "indicator_en",
        "item",
        "item_zh",
        "item_en",
        "valuation_zh",
        pl.when(pl.col("monetary"))
        .then(None)
        .otherwise(pl.col("quantity") * pl.col("display_factor"))
        .alias("quantity"),
        pl.when(pl.col("monetary")).then(None).otherwise(pl.col("display_unit")).alias("unit"),
        (pl.col("unit_value")).alias("unit_value_yuan"),
        (pl.col("value") / WAN).alias("value_wan"),
        (pl.col("value_constant") / WAN).alias("value_constant_wan"),
        (100 * pl.col("value") / total if total else pl.lit(0.0)).alias("share_pct"),
        "status",
    )


def by_category(lines: pl.DataFrame) -> pl.DataFrame:
    """Value and share per category (material, regulating, cultural)."""
    sums = lines.group_by("category").agg(pl.col("value").sum(), pl.col("value_constant").sum())
    order = pl.DataFrame(
        {
            "category": list(CATEGORIES),
            "category_zh": [v[0] for v in CATEGORIES.values()],
            "category_en": [v[1] for v in CATEGORIES.values()],
        }
    )
    table = order.join(sums, on="category", how="left").fill_null(0.0)
    total = float(table["value"].sum())
    return table.select(
        "category",
        "category_zh",
        "category_en",
        (pl.col("value") / WAN).alias("value_wan"),
        (pl.col("value_constant") / WAN).alias("value_constant_wan"),
        (100 * pl.col("value") / total if total else pl.lit(0.0)).alias("share_pct"),
    )


def _gdp(statistics: pl.DataFrame) -> pl.DataFrame:
    return (
        statistics.filter(pl.col("input") == GDP_INPUT)
        .group_by("township")
        .agg(pl.col("value").sum().alias("gdp"))
    )


def by_township(lines: pl.DataFrame, areas: pl.DataFrame, statistics: pl.DataFrame) -> pl.DataFrame:
    """GEP per township: by category, per km², rank, regulating share, GEP/GDP.

    Lines reported for the whole district only (township 全区) are listed but not ranked.
    """
    wide = lines.pivot(on="category", index="township", values="value", aggregate_function="sum")
    for category in CATEGORIES:
        if category not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(category))
    constant = lines.group_by("township").agg(pl.col("value_constant").sum())
    area = areas.group_by("township").agg((pl.col("area_m2").sum() / 1e6).alias("area_km2"))
    table = (
        wide.fill_null(0.0)
        .join(constant, on="township", how="left")
        .join(area, on="township", how="left")
        .join(_gdp(statistics), on="township", how="left")
    )
    table = table.with_columns(pl.sum_horizontal(*CATEGORIES).alias("gep"))
    ranked = pl.col("township") != DISTRICT_LEVEL
    return table.select(
        "township",
        *[(pl.col(c) / WAN).alias(f"{c}_wan") for c in CATEGORIES],
        (pl.col("gep") / WAN).alias("gep_wan"),
        (pl.col("value_constant") / WAN).alias("gep_constant_wan"),
        "area_km2",
        (pl.col("gep") / WAN / pl.col("area_km2")).alias("gep_per_km2_wan"),
        (100 * pl.col("regulating") / pl.col("gep")).alias("regulating_share_pct"),
        (pl.col("gep") / pl.col("gdp")).alias("gep_gdp_ratio"),
        pl.when(ranked).then(pl.col("gep").rank("min", descending=True).over(ranked)).alias("rank"),
        pl.when(ranked)
        .then(pl.col("gep") / pl.col("area_km2"))
        .rank("min", descending=True)
        .over(ranked)
        .alias("rank_per_km2"),
    ).sort(pl.col("township") == DISTRICT_LEVEL, "rank", nulls_last=True)


def by_township_item(lines: pl.DataFrame, areas: pl.DataFrame) -> pl.DataFrame:
    """Physical quantity and value of every item in every township, and value per km²."""
    area = areas.group_by("township").agg((pl.col("area_m2").sum() / 1e6).alias("area_km2"))
    sums = lines.group_by("township", "order", "indicator", "item", maintain_order=True).agg(
        pl.col("quantity").sum(),
        pl.col("value").sum(),
        pl.col("value_constant").sum(),
        pl.col("indicator_zh", "item_zh", "display_unit", "display_factor", "monetary").first(),
    )
    return (
        sums.join(area, on="township", how="left")
        .sort("township", "order")
        .select(
            "township",
            "indicator",
            "item",
            "indicator_zh",
            "item_zh",
            pl.when(pl.col("monetary"))
            .then(None)
            .otherwise(pl.col("quantity") * pl.col("display_factor"))
            .alias("quantity"),
            pl.when(pl.col("monetary")).then(None).otherwise(pl.col("display_unit")).alias("unit"),
            (pl.col("value") / WAN).alias("value_wan"),
            (pl.col("value_constant") / WAN).alias("value_constant_wan"),
            (pl.col("value") / WAN / pl.col("area_km2")).alias("value_per_km2_wan"),
        )
    )


def by_ecosystem(lines: pl.DataFrame, areas: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    """GEP per ecosystem type with its area and value per km²."""
    sums = lines.group_by("ecosystem").agg(pl.col("value").sum(), pl.col("value_constant").sum())
    area = areas.group_by("ecosystem").agg((pl.col("area_m2").sum() / 1e6).alias("area_km2"))
    names = pl.DataFrame(
        {
            "ecosystem": list(spec.ecosystems),
            "ecosystem_zh": [v[0] for v in spec.ecosystems.values()],
        }
    )
    table = sums.join(area, on="ecosystem", how="left").join(names, on="ecosystem", how="left")
    total = float(table["value"].sum())
    return table.select(
        "ecosystem",
        pl.col("ecosystem_zh").fill_null("未分生态系统"),
        "area_km2",
        (pl.col("value") / WAN).alias("value_wan"),
        (pl.col("value_constant") / WAN).alias("value_constant_wan"),
        (pl.col("value") / WAN / pl.col("area_km2")).alias("value_per_km2_wan"),
        (100 * pl.col("value") / total if total else pl.lit(0.0)).alias("share_pct"),
    ).sort("value_wan", descending=True)


def year_on_year(current: pl.DataFrame, previous: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Change of constant-price value between two runs' tables (same ``key`` columns).

    Both tables must be at the same base year's prices for the change to be a real (physical)
    change; at current prices it also contains price changes.
    """
    joined = (
        current.select(*key, pl.col("value_constant_wan").alias("this_year_wan"))
        .join(
            previous.select(*key, pl.col("value_constant_wan").alias("last_year_wan")),
            on=key,
            how="full",
            coalesce=True,
        )
        .fill_null(0.0)
    )
    return joined.with_columns(
        (pl.col("this_year_wan") - pl.col("last_year_wan")).alias("change_wan"),
        pl.when(pl.col("last_year_wan") != 0)
        .then(100 * (pl.col("this_year_wan") / pl.col("last_year_wan") - 1))
        .alias("change_pct"),
    )


MAX_INDICATOR_SHARE_PCT = 90.0
MAX_MATERIAL_SHARE_PCT = 20.0


def plausibility_warnings(categories: pl.DataFrame, indicators: pl.DataFrame) -> list[str]:
    """Patterns of published accountings that are worth a second look (gep.md §4: regulating
    54–91 % in mountain regions, material 2–8 %): one indicator above 90 % of GEP, or material
    products above 20 %."""
    warnings = []
    by_indicator = indicators.group_by("indicator").agg(pl.col("share_pct").sum())
    for row in by_indicator.filter(pl.col("share_pct") > MAX_INDICATOR_SHARE_PCT).iter_rows():
        warnings.append(
            f"{row[0]} is {row[1]:.1f} % of GEP (> {MAX_INDICATOR_SHARE_PCT:g} %): "
            "check its quantity and price"
        )
    material = categories.filter(pl.col("category") == "material")["share_pct"].sum()
    if material > MAX_MATERIAL_SHARE_PCT:
        warnings.append(
            f"material products are {material:.1f} % of GEP (> "
            f"{MAX_MATERIAL_SHARE_PCT:g} %; published accounts show 2–8 %)"
        )
    return warnings


@dataclass(frozen=True)
class Totals:
    gep: float
    gep_constant: float
    outside_region: float
    gdp: float | None

    @property
    def gep_gdp_ratio(self) -> float | None:
        return self.gep / self.gdp if self.gdp else None


def totals(lines: pl.DataFrame, spec: Spec, statistics: pl.DataFrame) -> Totals:
    """District GEP [元] at current and constant prices, after the outside-region deduction."""
    deduction = outside_region_deduction(spec, statistics)
    gdp_rows = _gdp(statistics)
    gdp = float(gdp_rows["gdp"].sum()) if gdp_rows.height else None
    return Totals(
        gep=float(lines["value"].sum()) - deduction,
        gep_constant=float(lines["value_constant"].sum()) - deduction,
        outside_region=deduction,
        gdp=gdp,
    )
