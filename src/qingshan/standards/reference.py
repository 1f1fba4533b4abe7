"""Access to the reference tables shipped in ``qingshan/standards/data``.

The tables are TOML files so that every value sits next to the clause it comes from; they are
read once and cached.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed reference table ``standards/data/<name>.toml``."""
    text = resources.files("qingshan.standards.data").joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)
