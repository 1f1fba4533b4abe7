"""HJ 212 factor codes → Qingshan parameters (``protocols/data/hj212_codes.toml``).

The table holds HJ 212—2017 附录 B codes (表 B.1 water, B.2 air, B.3 noise), codes used in the
field that the standard does not list (a05024 ozone), and the HJ/T 212—2005 原编码 of 表 B.1/B.2
with the 2017 code each became. Unknown codes are not errors: a receiver keeps them verbatim
(notes §3.2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Parameter:
    """What an HJ 212 code means for Qingshan."""

    code: str
    """The HJ 212—2017 code (an old 2005 code is translated first)."""
    key: str
    """Canonical parameter key (``pm25``, ``cod`` …)."""
    name: str
    """Chinese name as printed in the source table."""
    unit: str
    """Unit of the value as Qingshan reads it, for the system (ST) it came from."""
    source: str
    """``B.1``/``B.2``/``B.3`` = HJ 212—2017 附录 B table; ``FIELD`` = device practice only."""


@cache
def table() -> dict[str, Any]:
    """The parsed ``hj212_codes.toml``."""
    text = resources.files("qingshan.protocols.data").joinpath("hj212_codes.toml")
    return tomllib.loads(text.read_text("utf-8"))


def current_code(code: str, st: str | None = None) -> str:
    """The HJ 212—2017 code for ``code``, translating an HJ/T 212—2005 原编码 when the system
    (ST) says which table it belongs to, or when only one table has it."""
    if code in table()["codes"]:
        return code
    systems: dict[str, list[str]] = table()["systems_2005"]
    old: dict[str, dict[str, str]] = table()["codes_2005"]
    for kind in ("water", "air"):
        if st in systems[kind]:
            return old[kind].get(code, code)
    candidates = {mapping[code] for mapping in old.values() if code in mapping}
    return candidates.pop() if len(candidates) == 1 else code


def parameter_for(code: str, st: str | None = None) -> Parameter | None:
    """The Qingshan parameter of an HJ 212 code as sent by a device of system ``st``.

    Returns None for a code that is not in the table (keep the value under its raw code).
    """
    current = current_code(code, st)
    row = table()["codes"].get(current)
    if row is None:
        return None
    overrides: dict[str, str] = table()["system_units"].get(st or "", {})
    unit = overrides.get(row["key"], row["unit"])
    return Parameter(current, row["key"], row["name"], unit, row["source"])
