"""The emission-factor library: versioned factor files, each value with its source.

Files. ``qingshan/carbon/data/*.toml`` ship with the package (MEE/NBS and ETS electricity
factors, IPCC 2006 fuel defaults, GB/T 2589 standard-coal coefficients, …); a bureau adds its
own files in a directory (setting ``QINGSHAN_CARBON_FACTOR_DIR`` or ``--factors DIR``) in the
same format — no code change. A file holds one *series*::

    [meta]      series, version, title
    [defaults]  fields every row of the file takes unless it sets them (parameter, unit, status)
    [docs.KEY]  doc_no, published, source — one per document the file cites
    [[factors]] doc = KEY, clause, … and rows = [ {item, value, year?, region?, …}, … ]

Identity. A factor is keyed by ``(series, item, parameter, year, region)``; its id is
``series/item/parameter[/year][/region]``. Year and region are either given for every factor of
a ``(series, item, parameter)`` or for none (a default valid for any year or region), so a
lookup has exactly one answer or none — never a nearest year, another region or another
series. A key defined twice (also across files) is refused at load.

GWP sets come from the maintained ``globalwarmingpotentials`` package (CC0; IPCC AR4/AR5/AR6
100-year values with the package's cited tables) as series ``gwp`` with region = set name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import globalwarmingpotentials  # type: ignore[import-untyped]
import polars as pl

GWP_SETS = {"AR4": "AR4GWP100", "AR5": "AR5GWP100", "AR6": "AR6GWP100"}
"""GWP set names accepted by the accounting → column of the globalwarmingpotentials data."""

GWP_SOURCES = {
    "AR4": "IPCC AR4 WGI (2007) 100-year GWP, via GHG Protocol GWP table (2016)",
    "AR5": "IPCC AR5 WGI (2013) Ch. 8 100-year GWP without climate-carbon feedback, via GHG "
    "Protocol GWP table (2016)",
    "AR6": "IPCC AR6 WGI (2021) Ch. 7 Supplementary Table 7.SM.7, 100-year GWP",
}

_ROW_FIELDS = ("item", "parameter", "value", "unit", "year", "region", "clause", "status", "note")


class FactorFileError(ValueError):
    """A factor file is malformed or conflicts with another; the message names file and row."""


class MissingFactor(LookupError):
    """No factor for a requested key; the message names what is missing and what exists.

    ``missing`` says which part of the key has no factor: ``series`` (the series has nothing for
    the item and parameter), ``year`` or ``region``.
    """

    def __init__(self, message: str, missing: str = "series") -> None:
        self.missing = missing
        super().__init__(message)


@dataclass(frozen=True)
class Factor:
    """One published value with everything an auditor needs to find it again."""

    series: str
    item: str
    parameter: str
    year: int | None
    region: str | None
    value: float
    unit: str
    doc_no: str
    published: str
    source: str
    clause: str
    status: str
    version: str
    file: str
    note: str = ""

    @property
    def factor_id(self) -> str:
        parts = [self.series, self.item, self.parameter]
        parts += [str(self.year)] if self.year is not None else []
        parts += [self.region] if self.region is not None else []
        return "/".join(parts)

    @property
    def citation(self) -> str:
        """Document, clause and publication date in one line (the ``factor_source`` column)."""
        return f"{self.doc_no}, {self.clause} ({self.published})"

    def as_trace(self) -> dict[str, Any]:
        return {
            "id": self.factor_id,
            "value": self.value,
            "unit": self.unit,
            "source": self.citation,
            "version": self.version,
        }


def _file_factors(text: str, file: str) -> list[Factor]:
    try:
        spec = tomllib.loads(text)
        meta, defaults, docs = spec["meta"], spec.get("defaults", {}), spec.get("docs", {})
        series, version = str(meta["series"]), str(meta["version"])
    except (tomllib.TOMLDecodeError, KeyError) as error:
        raise FactorFileError(f"{file}: not a factor file ({error})") from error
    factors = []
    for group_number, group in enumerate(spec.get("factors", []), start=1):
        doc = docs.get(group.get("doc"), {})
        if not doc:
            raise FactorFileError(f"{file}: factor group {group_number} names no [docs] entry")
        for row_number, row in enumerate(group.get("rows", []), start=1):
            merged = {**defaults, **{k: v for k, v in group.items() if k != "rows"}, **row}
            where = f"{file}: group {group_number} row {row_number}"
            factors.append(_factor(merged, doc, series, version, file, where))
    return factors


def _factor(
    merged: dict[str, Any], doc: dict[str, Any], series: str, version: str, file: str, where: str
) -> Factor:
    unknown = set(merged) - set(_ROW_FIELDS) - {"doc"}
    if unknown:
        raise FactorFileError(f"{where}: unknown fields {sorted(unknown)}")
    try:
        value = float(merged["value"])
        return Factor(
            series=series,
            item=str(merged["item"]),
            parameter=str(merged["parameter"]),
            year=int(merged["year"]) if "year" in merged else None,
            region=str(merged["region"]) if "region" in merged else None,
            value=value,
            unit=str(merged["unit"]),
            doc_no=str(doc["doc_no"]),
            published=str(doc["published"]),
            source=str(doc["source"]),
            clause=str(merged.get("clause", "")),
            status=str(merged.get("status", "")),
            version=version,
            file=file,
            note=str(merged.get("note", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise FactorFileError(f"{where}: missing or bad field {error}") from error


def _gwp_factors() -> list[Factor]:
    version = globalwarmingpotentials.__version__
    return [
        Factor(
            series="gwp",
            item=gas.lower(),
            parameter="gwp100",
            year=None,
            region=name,
            value=float(globalwarmingpotentials.data[column][gas]),
            unit="tCO2e/t",
            doc_no=GWP_SOURCES[name],
            published=name,
            source=f"{GWP_SOURCES[name]}; data of the globalwarmingpotentials package",
            clause="100-year global warming potential",
            status="package",
            version=f"globalwarmingpotentials {version}",
            file="globalwarmingpotentials",
        )
        for name, column in GWP_SETS.items()
        for gas in ("CH4", "N2O")
    ]


@dataclass
class FactorLibrary:
    """All factors by key, with exact lookups that never substitute another key."""

    factors: list[Factor]
    _index: dict[tuple[str, str, str], list[Factor]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        seen: dict[tuple[str, str, str, int | None, str | None], Factor] = {}
        for factor in self.factors:
            key = (factor.series, factor.item, factor.parameter, factor.year, factor.region)
            if key in seen:
                raise FactorFileError(
                    f"{factor.file}: factor {factor.factor_id} is already defined in "
                    f"{seen[key].file}; a bureau file must use its own series name"
                )
            seen[key] = factor
            self._index.setdefault(key[:3], []).append(factor)
        for (series, item, parameter), group in self._index.items():
            for attribute in ("year", "region"):
                given = {getattr(factor, attribute) is not None for factor in group}
                if len(given) > 1:
                    raise FactorFileError(
                        f"{series}/{item}/{parameter}: {attribute} is given for some factors "
                        f"and not for others ({group[0].file}); give it for all or none"
                    )

    @property
    def series(self) -> list[str]:
        return sorted({factor.series for factor in self.factors})

    def find(
        self, series: str, item: str, parameter: str, year: int | None, region: str | None
    ) -> Factor:
        """The one factor of ``(series, item, parameter)`` valid for ``year`` and ``region``.

        Raises
        ------
        MissingFactor
            If there is none; the message says which years and regions the series has.
        """
        group = self._index.get((series, item, parameter))
        if group is None:
            known = "; known series: " + ", ".join(self.series)
            if series in self.series:
                known = ""
            raise MissingFactor(f"no {parameter} factor for {item!r} in series {series!r}{known}")
        for factor in group:
            if factor.year not in (None, year):
                continue
            if factor.region not in (None, region):
                continue
            return factor
        years = sorted({factor.year for factor in group if factor.year is not None})
        regions = sorted({f.region for f in group if f.year == year and f.region is not None})
        available, missing = f"published years: {', '.join(map(str, years))}", "year"
        if regions:
            available, missing = f"regions published for {year}: {', '.join(regions)}", "region"
        raise MissingFactor(
            f"no {series} {parameter} factor for {item!r}, year {year}, region {region} "
            f"({available})",
            missing,
        )

    def gwp(self, gas: str, gwp_set: str) -> Factor:
        """The 100-year GWP of ``gas`` (``"ch4"``, ``"n2o"``) in ``gwp_set`` (AR4/AR5/AR6)."""
        if gwp_set not in GWP_SETS:
            raise MissingFactor(f"unknown GWP set {gwp_set!r}; use one of {', '.join(GWP_SETS)}")
        return self.find("gwp", gas, "gwp100", None, gwp_set)

    def table(
        self, series: str | None = None, year: int | None = None, region: str | None = None
    ) -> pl.DataFrame:
        """The factors as a table (for ``qingshan carbon factors``), optionally filtered.

        A year or region filter keeps the factors valid for it, defaults included.
        """
        rows = [
            {
                "factor_id": factor.factor_id,
                "series": factor.series,
                "item": factor.item,
                "parameter": factor.parameter,
                "year": factor.year,
                "region": factor.region,
                "value": factor.value,
                "unit": factor.unit,
                "doc_no": factor.doc_no,
                "published": factor.published,
                "clause": factor.clause,
                "source": factor.source,
                "status": factor.status,
                "version": factor.version,
                "note": factor.note,
            }
            for factor in self.factors
            if (series is None or factor.series == series)
            and (year is None or factor.year in (None, year))
            and (region is None or factor.region in (None, region))
        ]
        return pl.DataFrame(rows, schema_overrides={"year": pl.Int32}, infer_schema_length=None)


def _shipped_files() -> list[tuple[str, str]]:
    folder = resources.files("qingshan.carbon.data")
    return sorted(
        (entry.name, entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml") and entry.name != "names.toml"
    )


def _directory_files(directory: Path) -> list[tuple[str, str]]:
    if not directory.is_dir():
        raise FactorFileError(f"{directory}: factor directory not found")
    return [(str(path), path.read_text("utf-8")) for path in sorted(directory.glob("*.toml"))]


@cache
def _shipped_factors() -> tuple[Factor, ...]:
    factors = [f for name, text in _shipped_files() for f in _file_factors(text, name)]
    return tuple(factors + _gwp_factors())


def load_library(extra_dirs: Sequence[Path] | Iterable[Path] = ()) -> FactorLibrary:
    """The shipped factors plus every ``*.toml`` factor file in ``extra_dirs``.

    Raises
    ------
    FactorFileError
        If a file is malformed or defines a key that another file already defines.
    """
    factors = list(_shipped_factors())
    for directory in extra_dirs:
        for name, text in _directory_files(Path(directory)):
            factors += _file_factors(text, name)
    return FactorLibrary(factors)


@cache
def names() -> dict[str, Any]:
    """Canonical items, categories, sectors and regions with their aliases (``names.toml``)."""
    text = resources.files("qingshan.carbon.data").joinpath("names.toml").read_text("utf-8")
    return tomllib.loads(text)
