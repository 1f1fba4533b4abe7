"""Indicator sets as versioned configuration: one TOML file per specification.

A specification file (``gep/specs/<id>.toml``) lists the ecosystem types, the indicators by
category (物质产品 material, 调节服务 regulating, 文化服务 cultural), and for each indicator its
items: the physical quantity (formula key of :mod:`qingshan.gep.catalogue`, unit) and its
valuation (price keys, with parameters multiplying or dividing the quantity). Each file carries
its own status: the national texts were not obtainable (gep.md §9), so a file records what
was confirmed and marks the rest UNVERIFIED.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from qingshan.gep.catalogue import FORMULAS
from qingshan.gep.units import factor_between, normalise

CATEGORIES = {
    "material": ("物质产品", "Material products"),
    "regulating": ("调节服务", "Regulating services"),
    "cultural": ("文化服务", "Cultural services"),
}
VALUATION_METHODS = {
    "market_value": ("市场价值法", "market value"),
    "shadow_project": ("影子工程法", "shadow project"),
    "replacement_cost": ("替代成本法", "replacement cost"),
    "treatment_cost": ("防治费用法", "prevention/treatment cost"),
    "afforestation_cost": ("造林成本法", "afforestation cost"),
    "carbon_price": ("碳价格法", "carbon price"),
    "industrial_oxygen": ("工业制氧法", "industrial oxygen price"),
    "travel_cost": ("旅行费用法", "travel cost"),
    "hedonic_price": ("享乐价格法", "hedonic (property) price"),
}
MONEY_PRICE = "output_value"
"""Pseudo price key of items reported in money (yearbook output values): deflated, not priced."""


class SpecError(ValueError):
    """A specification file is inconsistent (a defect of the shipped configuration)."""


@dataclass(frozen=True)
class ValueComponent:
    """One term of an item's value: quantity × Π factors ÷ Π divisors × price."""

    price: str
    price_unit: str
    factors: tuple[str, ...] = ()
    divisors: tuple[str, ...] = ()
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class Item:
    """A physical quantity of an indicator (e.g. SO₂ purified of air purification)."""

    id: str
    zh: str
    en: str
    formula: str
    unit: str
    display_unit: str
    values: tuple[ValueComponent, ...]
    input: str | None = None
    ecosystems: tuple[str, ...] | None = None
    monetary: bool = False

    @property
    def inputs(self) -> tuple[str, ...]:
        """Drivers or statistics this item reads."""
        formula = FORMULAS[self.formula]
        return (self.input,) if self.input else formula.inputs


@dataclass(frozen=True)
class Indicator:
    id: str
    zh: str
    en: str
    category: str
    valuation: str
    status: str
    source: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Coefficient:
    value: float
    status: str
    source: str


@dataclass(frozen=True)
class Spec:
    id: str
    title_zh: str
    title_en: str
    document: str
    year: int
    status: str
    note: str
    ecosystems: dict[str, tuple[str, str]]
    indicators: tuple[Indicator, ...]
    coefficients: dict[str, dict[str, Coefficient]]
    deduct_outside_region: bool = False

    def items(self) -> list[tuple[Indicator, Item]]:
        return [(indicator, item) for indicator in self.indicators for item in indicator.items]

    def price_keys(self) -> set[str]:
        return {component.price for _, item in self.items() for component in item.values}

    def parameter_keys(self) -> set[str]:
        return {
            key
            for _, item in self.items()
            for component in item.values
            for key in component.factors + component.divisors
        }


def _component(raw: dict[str, Any]) -> ValueComponent:
    return ValueComponent(
        price=raw["price"],
        price_unit=normalise(raw["price_unit"]),
        factors=tuple(raw.get("factors", ())),
        divisors=tuple(raw.get("divisors", ())),
        zh=raw.get("zh", ""),
        en=raw.get("en", ""),
    )


def _item(raw: dict[str, Any], where: str) -> Item:
    formula = raw["formula"]
    if formula not in FORMULAS:
        raise SpecError(f"{where}: unknown formula {formula!r}")
    unit = normalise(raw.get("unit") or FORMULAS[formula].unit)
    if formula != "statistic" and unit != FORMULAS[formula].unit:
        raise SpecError(f"{where}: formula {formula!r} gives {FORMULAS[formula].unit}, not {unit}")
    if formula == "statistic" and not raw.get("input"):
        raise SpecError(f"{where}: a 'statistic' item needs an 'input'")
    display = normalise(raw.get("display_unit", unit))
    factor_between(display, unit)  # raises if the display unit is not a unit of the quantity
    monetary = bool(raw.get("monetary", False))
    values = tuple(_component(value) for value in raw.get("values", ()))
    if monetary:
        values = (ValueComponent(MONEY_PRICE, "元/元"),)
    if not values:
        raise SpecError(f"{where}: no valuation ('values') given")
    ecosystems = raw.get("ecosystems")
    return Item(
        id=raw["id"],
        zh=raw["zh"],
        en=raw["en"],
        formula=formula,
        unit=unit,
        display_unit=display,
        values=values,
        input=raw.get("input"),
        ecosystems=tuple(ecosystems) if ecosystems else None,
        monetary=monetary,
    )


@cache
def library() -> dict[str, Any]:
    """The indicator library ``gep/indicators.toml`` that specification files select from."""
    text = resources.files("qingshan.gep").joinpath("indicators.toml").read_text("utf-8")
    return tomllib.loads(text)


def _coefficients(raw: dict[str, Any]) -> dict[str, dict[str, Coefficient]]:
    return {
        formula: {
            name: Coefficient(float(c["value"]), c["status"], c["source"])
            for name, c in values.items()
        }
        for formula, values in raw.items()
    }


def _indicator(entry: dict[str, Any], spec_id: str, ecosystems: dict[str, Any]) -> Indicator:
    """An indicator of the library as a specification uses it (names, items, status)."""
    where = f"spec {spec_id}, indicator {entry['use']}"
    if entry["use"] not in library()["indicators"]:
        raise SpecError(f"{where}: not in the indicator library")
    raw = library()["indicators"][entry["use"]]
    if raw["category"] not in CATEGORIES:
        raise SpecError(f"{where}: unknown category {raw['category']!r}")
    valuation = entry.get("valuation", raw["valuation"])
    if valuation not in VALUATION_METHODS:
        raise SpecError(f"{where}: unknown valuation method {valuation!r}")
    chosen = entry.get("items")
    raw_items = [item for item in raw["items"] if chosen is None or item["id"] in chosen]
    items = tuple(_item(item, f"{where}, item {item['id']}") for item in raw_items)
    for item in items:
        unknown = set(item.ecosystems or ()) - set(ecosystems)
        if unknown:
            raise SpecError(f"{where}: unknown ecosystems {sorted(unknown)}")
    status = f"inclusion {entry['status']}; method {raw['method_status']}"
    source = raw["source"] + (f"; {entry['note']}" if entry.get("note") else "")
    return Indicator(
        entry["use"],
        entry.get("zh", raw["zh"]),
        entry.get("en", raw["en"]),
        raw["category"],
        valuation,
        status,
        source,
        items,
    )


def parse_spec(data: dict[str, Any]) -> Spec:
    """Build a :class:`Spec` from a parsed specification file; :class:`SpecError` if
    inconsistent. Indicators come from the library; coefficients are the library's with the
    file's overrides."""
    head = data["spec"]
    ecosystems = {key: (names[0], names[1]) for key, names in data["ecosystems"].items()}
    indicators = tuple(_indicator(entry, head["id"], ecosystems) for entry in data["indicators"])
    coefficients = _coefficients(library().get("coefficients", {}))
    for formula, values in _coefficients(data.get("coefficients", {})).items():
        coefficients.setdefault(formula, {}).update(values)
    spec = Spec(
        id=head["id"],
        title_zh=head["title_zh"],
        title_en=head["title_en"],
        document=head["document"],
        year=int(head["year"]),
        status=head["status"],
        note=head["note"],
        ecosystems=ecosystems,
        indicators=indicators,
        coefficients=coefficients,
        deduct_outside_region=bool(head.get("deduct_outside_region", False)),
    )
    _check_coefficients(spec)
    return spec


def _check_coefficients(spec: Spec) -> None:
    for _, item in spec.items():
        formula = FORMULAS[item.formula]
        missing = set(formula.coefficients) - set(spec.coefficients.get(item.formula, {}))
        if missing:
            raise SpecError(f"spec {spec.id}: formula {item.formula} lacks {sorted(missing)}")


def available_specs() -> list[str]:
    """Identifiers of the shipped specifications, sorted."""
    files = resources.files("qingshan.gep.specs").iterdir()
    return sorted(entry.name[:-5] for entry in files if entry.name.endswith(".toml"))


@cache
def load_spec(spec_id: str) -> Spec:
    """Load the shipped specification ``gep/specs/<spec_id>.toml``.

    Raises
    ------
    KeyError
        If no such specification is shipped (the message lists the known ones).
    """
    if spec_id not in available_specs():
        raise KeyError(
            f"unknown GEP specification {spec_id!r}; known: " + ", ".join(available_specs())
        )
    text = resources.files("qingshan.gep.specs").joinpath(f"{spec_id}.toml").read_text("utf-8")
    return parse_spec(tomllib.loads(text))


EXTRA_STATISTICS = {"gdp": "元", "outside_region_value": "元"}
"""Statistics read by the accounts, not by an indicator: GDP and the GB/T 46869 deduction."""


@cache
def known_statistics() -> dict[str, str]:
    """Every statistic any library indicator or formula reads, with its base unit."""
    from qingshan.gep.catalogue import STATISTIC_UNITS

    found = dict(EXTRA_STATISTICS) | dict(STATISTIC_UNITS)
    for name, raw in library()["indicators"].items():
        for raw_item in raw["items"]:
            item = _item(raw_item, f"library indicator {name}")
            if item.input:
                found[item.input] = item.unit
    return found
