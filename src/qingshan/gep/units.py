"""Units of GEP quantities and prices: the spellings a yearbook uses, and their base units.

Chinese reports give quantities in 万m³, 万t, 万kWh and values in 万元 or 亿元 (gep.md §2,
[S35][S21]); the engine computes in base units (m³, t, kWh, hm², 元) and converts at the edges.
A unit is checked, never guessed: a yearbook column in 万元 read as 元 is a 10⁴ error.
"""

from __future__ import annotations

from typing import NamedTuple


class Unit(NamedTuple):
    base: str
    factor: float
    """Multiply a value in this unit by ``factor`` to get the base unit."""


_SCALES = {"": 1.0, "万": 1e4, "亿": 1e8}
_BASES = {
    "m3": Unit("m3", 1.0),
    "t": Unit("t", 1.0),
    "kWh": Unit("kWh", 1.0),
    "元": Unit("元", 1.0),
    "人次": Unit("人次", 1.0),
    "m2": Unit("m2", 1.0),
    "hm2": Unit("m2", 1e4),
    "km2": Unit("m2", 1e6),
    "mm": Unit("mm", 1.0),
    "d": Unit("d", 1.0),
    "1": Unit("1", 1.0),
}
"""Every area unit has the base m²; so has a quantity in hm² (its factor says so)."""

UNITS: dict[str, Unit] = {
    f"{prefix}{name}": Unit(unit.base, unit.factor * scale)
    for name, unit in _BASES.items()
    for prefix, scale in _SCALES.items()
}
UNITS.update({"kg": Unit("t", 1e-3), "亩": Unit("m2", 10_000.0 / 15.0), "%": Unit("1", 0.01)})

_ALIASES = {
    "³": "3",
    "²": "2",
    "kW·h": "kWh",
    "kw·h": "kWh",
    "kwh": "kWh",
    "ha": "hm2",
    "yuan": "元",
    "CNY": "元",
    "person-trips": "人次",
    " ": "",
}


def normalise(text: str) -> str:
    """Spell a unit the canonical way: ``万m³`` → ``万m3``, ``ha`` → ``hm2``."""
    for alias, canonical in _ALIASES.items():
        text = text.replace(alias, canonical)
    return text.strip()


def to_base(unit: str) -> Unit:
    """Return the base unit and factor of ``unit``; ``KeyError`` names an unknown unit."""
    key = normalise(unit)
    if key not in UNITS:
        raise KeyError(f"unknown unit {unit!r}; known: {', '.join(sorted(UNITS))}")
    return UNITS[key]


def factor_between(unit: str, base: str) -> float:
    """Factor turning a value in ``unit`` into ``base``; ``ValueError`` if incompatible."""
    parsed = to_base(unit)
    target = to_base(base)
    if parsed.base != target.base:
        raise ValueError(f"unit {unit!r} is not a unit of {base!r}")
    return parsed.factor / target.factor
