"""Price sets (editable per year) and price indices for constant-price (可比价) values.

A price set is a list of entries: ``price`` entries (元 per unit of a quantity) and
``parameter`` entries (λ, bulk density, nutrient contents … that turn a quantity into the unit
the price is for). Every entry carries its year, source and status, because published prices
differ by an order of magnitude between studies (gep.md §9.6) and none is an official default.

Constant prices: a value at current prices of year *t* is brought to base year *b* with a price
index I: ``V_b = V_t × I_b / I_t``. The index may be given per price key (e.g. an electricity
price index for climate regulation); ``*`` is the index for every other key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from qingshan.gep.spec import MONEY_PRICE, Item, Spec, ValueComponent
from qingshan.gep.units import normalise

KINDS = ("price", "parameter")
STATUSES = ("VERIFIED-PRIMARY", "VERIFIED-2", "UNVERIFIED", "LOCAL", "SYNTHETIC")
"""Status words of gep.md §9, plus LOCAL (a bureau's own figure) and SYNTHETIC (examples)."""
ANY_KEY = "*"


@dataclass(frozen=True)
class PriceEntry:
    key: str
    kind: str
    value: float
    unit: str
    year: int
    source: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class PriceSet:
    id: str
    entries: dict[str, PriceEntry]

    def value(self, key: str) -> float:
        return 1.0 if key == MONEY_PRICE else self.entries[key].value

    def scaled(self, factor: float) -> PriceSet:
        """All prices (not parameters) × ``factor`` — for sensitivity runs and tests."""
        return PriceSet(
            self.id,
            {
                key: entry
                if entry.kind != "price"
                else PriceEntry(
                    entry.key,
                    entry.kind,
                    entry.value * factor,
                    entry.unit,
                    entry.year,
                    entry.source,
                    entry.status,
                    entry.note,
                )
                for key, entry in self.entries.items()
            },
        )


def parse_entries(set_id: str, rows: Iterable[Mapping[str, Any]]) -> PriceSet:
    """Build a price set from rows with key, kind, value, unit, year, source, status[, note]."""
    entries = {}
    for row in rows:
        entry = PriceEntry(
            key=str(row["key"]),
            kind=str(row["kind"]),
            value=float(row["value"]),
            unit=normalise(str(row["unit"])),
            year=int(row["year"]),
            source=str(row["source"]),
            status=str(row["status"]),
            note=str(row.get("note") or ""),
        )
        entries[entry.key] = entry
    return PriceSet(set_id, entries)


def available_price_sets() -> list[str]:
    files = resources.files("qingshan.gep.price_sets").iterdir()
    return sorted(entry.name[:-5] for entry in files if entry.name.endswith(".toml"))


@cache
def load_price_set(set_id: str) -> PriceSet:
    """Load a shipped price set ``gep/price_sets/<set_id>.toml`` (values *as used by* a source)."""
    if set_id not in available_price_sets():
        raise KeyError(
            f"unknown shipped price set {set_id!r}; known: " + ", ".join(available_price_sets())
        )
    text = resources.files("qingshan.gep.price_sets").joinpath(f"{set_id}.toml").read_text("utf-8")
    return parse_entries(set_id, tomllib.loads(text)["entries"])


def problems_of(spec: Spec, prices: PriceSet) -> list[str]:
    """Every price or parameter the specification needs that is missing or in another unit."""
    found = []
    for indicator, item in spec.items():
        for component in item.values:
            if component.price == MONEY_PRICE:
                continue
            where = f"{indicator.id}.{item.id}"
            entry = prices.entries.get(component.price)
            if entry is None or entry.kind != "price":
                found.append(
                    f"missing price {component.price!r} ({component.price_unit}) needed by {where}"
                )
            elif entry.unit != component.price_unit:
                found.append(
                    f"price {component.price!r} is in {entry.unit}, {where} needs "
                    f"{component.price_unit}"
                )
            for key in component.factors + component.divisors:
                parameter = prices.entries.get(key)
                if parameter is None or parameter.kind != "parameter":
                    found.append(f"missing parameter {key!r} needed by {where}")
    return found


def component_factor(component: ValueComponent, prices: PriceSet) -> float:
    """Π factors ÷ Π divisors: what turns one unit of quantity into the priced unit."""
    factor = 1.0
    for key in component.factors:
        factor *= prices.value(key)
    for key in component.divisors:
        factor /= prices.value(key)
    return factor


def unit_value(item: Item, prices: PriceSet) -> float:
    """Value of one base unit of the item's quantity [元 per unit]: Σ factor × price."""
    return sum(component_factor(c, prices) * prices.value(c.price) for c in item.values)


@dataclass(frozen=True)
class PriceIndex:
    """Price indices by (price key or ``*``, year); any base (100 = some year)."""

    values: dict[tuple[str, int], float]

    def ratio(self, key: str, year: int, base_year: int) -> float:
        """I_base / I_year for ``key`` (its own index, else ``*``); KeyError names the gap."""
        chosen = key if (key, year) in self.values and (key, base_year) in self.values else ANY_KEY
        for wanted in (year, base_year):
            if (chosen, wanted) not in self.values:
                raise KeyError(f"no price index for {key!r} (or '*') in {wanted}")
        return self.values[(chosen, base_year)] / self.values[(chosen, year)]


def constant_unit_value(
    item: Item, prices: PriceSet, index: PriceIndex, year: int, base_year: int
) -> float:
    """Unit value at base-year (constant) prices: each component deflated by its own index."""
    return sum(
        component_factor(c, prices) * prices.value(c.price) * index.ratio(c.price, year, base_year)
        for c in item.values
    )
