"""Units of the carbon books, on a pint registry: t, kg, 10⁴ Nm³, kWh, MWh, GJ, TJ, tce and the
Chinese names used in energy statistics (吨, 万立方米, 万千瓦时, 吨标准煤 …).

Definitions and why:

* ``tce`` — 1 kgce = 29 307 kJ (GB/T 2589—2020 definition of 千克标准煤; 7 000 kcal), so
  1 tce = 29.307 GJ. Converting energy to tce with it gives the calorific equivalent (当量值):
  1 MWh → 0.1228 tce, which GB/T 2589 Annex A rounds to 0.1229 kgce/kWh.
* ``Nm3`` — a normal cubic metre (0 °C, 101.325 kPa) is its own dimension, so an actual cubic
  metre at operating conditions never converts to it by accident. Chinese statistics report gas
  volumes under normal conditions, so the plain texts ``m3``, ``立方米`` and ``万立方米`` are read
  as normal cubic metres (documented in docs/carbon.md).
* ``tCO2``, ``kgC``, ``kgCH4`` … — labels of a mass of a named substance; they are plain masses
  (1 tCO2 = 1 t). The carbon-to-CO2 conversion (44/12) is an explicit step of the formulas,
  never a unit conversion.

Unit texts are read with :func:`parse_unit`; a text pint cannot read, or one that does not
convert to what a factor needs, is an input error reported by the caller.
"""

from __future__ import annotations

from functools import cache

import pint

KJ_PER_KGCE = 29_307.0
"""GB/T 2589—2020 §3: fuel with a net calorific value of 29 307 kJ is 1 kgce."""

_DEFINITIONS = (
    "normal_cubic_meter = [normal_volume] = Nm3 = Nm³",
    f"tonne_of_coal_equivalent = {KJ_PER_KGCE / 1000} * gigajoule = tce",
    "kilogram_of_coal_equivalent = tce / 1000 = kgce",
    "ten_thousand_tce = 10000 * tce = 万吨标准煤",
    "吨标准煤 = tce",
    "千克标准煤 = kgce",
    "公斤标准煤 = kgce",
    "吨 = tonne",
    "万吨 = 10000 * tonne",
    "千克 = kilogram",
    "公斤 = kilogram",
    "立方米 = Nm3",
    "标准立方米 = Nm3",
    "万立方米 = 10000 * Nm3",
    "万标准立方米 = 10000 * Nm3",
    "亿立方米 = 100000000 * Nm3",
    "千瓦时 = kilowatt_hour",
    "度 = kilowatt_hour",
    "万千瓦时 = 10000 * kilowatt_hour",
    "兆瓦时 = megawatt_hour",
    "亿千瓦时 = 100000000 * kilowatt_hour",
    "吉焦 = gigajoule",
    "百万千焦 = gigajoule",
    "太焦 = terajoule",
    "兆焦 = megajoule",
    "tCO2 = tonne",
    "kgCO2 = kilogram",
    "tCO2e = tonne",
    "kgCO2e = kilogram",
    "tC = tonne",
    "kgC = kilogram",
    "kgCH4 = kilogram",
    "kgN2O = kilogram",
    "tCH4 = tonne",
    "tN2O = tonne",
)

_TEXT_REPLACEMENTS = (
    ("Nm³", "Nm3"),
    ("m³", "Nm3"),
    ("⁴", "^4"),
    ("×", "*"),
    ("10^4", "10000"),
    ("10**4", "10000"),
)
"""Spellings normalised before pint reads a unit: superscripts, the multiplication sign."""

_PLAIN_VOLUME = {"m3", "m^3", "立方米"}
"""Volume texts read as normal cubic metres (see the module docstring)."""


@cache
def registry() -> pint.UnitRegistry[float]:
    """The shared unit registry with the carbon-book definitions."""
    units: pint.UnitRegistry[float] = pint.UnitRegistry(cache_folder=None)
    for definition in _DEFINITIONS:
        units.define(definition)
    return units


def _normalise(text: str) -> str:
    cleaned = text.strip()
    for old, new in _TEXT_REPLACEMENTS:
        cleaned = cleaned.replace(old, new)
    for plain in _PLAIN_VOLUME:
        if cleaned == plain or cleaned.endswith(" " + plain):
            cleaned = cleaned[: len(cleaned) - len(plain)] + "Nm3"
    return cleaned.replace("万Nm3", "万立方米")


@cache
def parse_unit(text: str) -> pint.Quantity[float]:
    """Return one ``text`` as a quantity (``"万千瓦时"`` → 10 000 kWh).

    Raises
    ------
    ValueError
        If pint cannot read the text or it is not a unit with a positive size.
    """
    units = registry()
    try:
        quantity: pint.Quantity[float] = units.Quantity(_normalise(text))
    except (pint.PintError, AttributeError, TypeError, ValueError, SyntaxError) as error:
        raise ValueError(f"unknown unit {text!r}") from error
    if not isinstance(quantity, units.Quantity) or not quantity.magnitude > 0:
        raise ValueError(f"unknown unit {text!r}")
    return quantity


def conversion(from_text: str, to_text: str) -> float:
    """How many ``to_text`` one ``from_text`` is (``conversion("万千瓦时", "MWh") == 10``).

    Raises
    ------
    ValueError
        If a text is not a unit or the two have different dimensions.
    """
    source, target = parse_unit(from_text), parse_unit(to_text)
    try:
        return float((source / target).to("dimensionless").magnitude)
    except pint.DimensionalityError as error:
        raise ValueError(f"{from_text!r} does not convert to {to_text!r}") from error


def is_energy(text: str) -> bool:
    """Whether ``text`` is an energy unit (kWh, GJ, tce …)."""
    return bool(parse_unit(text).check("[energy]"))


def coefficient(value: float, factor_unit: str, activity_unit: str, result_unit: str) -> float:
    """Result per one activity unit: ``value [factor_unit] × 1 [activity_unit]`` in ``result_unit``.

    ``coefficient(43.0, "GJ/t", "kg", "GJ") == 0.043``: one kilogram of a fuel with an NCV of
    43.0 GJ/t holds 0.043 GJ.

    Raises
    ------
    ValueError
        If the product does not convert to ``result_unit`` (for example a volume of gas against
        an NCV per tonne).
    """
    product = value * parse_unit(factor_unit) * parse_unit(activity_unit)
    try:
        return float(product.to(result_unit).magnitude)
    except pint.DimensionalityError as error:
        raise ValueError(
            f"{activity_unit!r} does not convert with a factor in {factor_unit!r}"
        ) from error
