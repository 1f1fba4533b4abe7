"""Enterprise and regional greenhouse-gas accounting and energy use in tce (pure, vectorised).

Formulas (GB/T 32150—2015 通则 and the sector guidelines' general formulas, notes carbon.md §4.3;
clause numbers of the 2015 text are not verified in the notes, so none are cited):

* Reporting boundary total, per legal entity and facility::

      E = E_combustion + E_process + E_purchased_electricity + E_purchased_heat
          − E_exported_electricity − E_exported_heat

* Fuel combustion: ``E = AD × EF`` with ``AD = FC × NCV`` [GJ] and either the IPCC factor route
  ``EF = EF_CO2`` (IPCC 2006 Vol. 2 Ch. 1 Table 1.4, oxidation 1) or the carbon-content route
  ``EF = CC × OF × 44/12`` (CC 单位热值含碳量 [tC/GJ], OF 碳氧化率). A series carrying ``co2_ef``
  uses the factor route, one carrying ``carbon_content`` and ``oxidation_factor`` the
  carbon-content route; the route is written in the ``method`` column. Activity given directly
  in an energy unit (GJ, TJ) needs no NCV.
* Non-CO2 gases of combustion: ``CH4 = AD × EF_CH4``, ``N2O = AD × EF_N2O`` (IPCC 2006 Vol. 2
  Ch. 2), ``CO2e = CO2 + CH4 × GWP_CH4 + N2O × GWP_N2O`` with the chosen GWP set.
* Process: ``E = AD × EF`` (EF from stoichiometry for carbonates).
* Purchased / exported electricity: ``E = AD [MWh] × EF_grid`` — location-based with the MEE/NBS
  average (or the ETS grid factor if asked for), market-based with the MEE/NBS residual factor
  for grid power and the instrument's zero rate for green power.
* Purchased / exported heat: ``E = AD [GJ] × EF_heat``.
* Energy: ``tce = AD × coefficient`` with GB/T 2589 Annex A coefficients (当量值), or on the NCV
  basis ``tce = AD [GJ] / 29.307``; exported energy is subtracted.

How it runs: the factors are resolved once per distinct key (category, item, unit, series, year,
region) — a few hundred keys for a million rows — into per-unit coefficients with a JSON
calculation trace; the rows are then joined to their key and multiplied, so every output is
linear in its row's quantity and a row's result is ``quantity × coefficient`` exactly as its
trace says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl

from qingshan.carbon import units
from qingshan.carbon.factors import GWP_SETS, Factor, FactorLibrary, MissingFactor, names

CO2_PER_C = 44.0 / 12.0
"""Mass ratio CO2/C (molar masses rounded as in the guidelines' 44/12)."""

GJ_PER_TCE = units.KJ_PER_KGCE / 1000
"""29.307 GJ per tce (GB/T 2589—2020 definition of kgce)."""

KEY_COLUMNS = ("category", "item", "unit", "series", "year", "region")
"""What the factors depend on; the factors are resolved once per distinct key."""

RESULT_COLUMNS = ("co2_t", "ch4_t", "n2o_t", "co2e_t", "energy_tce")
TRACE_COLUMNS = (
    "factor_id",
    "factor_value",
    "factor_unit",
    "factor_source",
    "method",
    "gwp_set",
    "trace",
)
ENERGY_CATEGORIES = (
    "combustion",
    "purchased_electricity",
    "purchased_heat",
    "exported_electricity",
    "exported_heat",
)
"""Categories whose CO2 is energy-related CO2 (the numerator of CO2-per-GDP targets)."""

Basis = Literal["location", "market"]
TceBasis = Literal["gb2589", "ncv"]
Gases = Literal["all", "co2"]


@dataclass(frozen=True)
class Options:
    """Choices of one accounting run; every choice is written into each row's trace."""

    fuel_series: str = "ipcc2006"
    electricity_series: str = "mee_nbs"
    heat_series: str = "cn_guideline"
    process_series: str = "stoichiometric"
    region: str = "CN"
    """Electricity region when a row gives none (CN national, CN-SOUTHWEST, CN-CQ …)."""
    gwp: str = "AR5"
    gases: Gases = "all"
    """``all``: CO2, CH4 and N2O of combustion; ``co2``: CO2 only (the Chinese enterprise
    guidelines count only CO2 from fossil-fuel combustion)."""
    electricity_basis: Basis = "location"
    tce_basis: TceBasis = "gb2589"

    def default_series(self, category: str) -> str | None:
        kind = names()["categories"][category]["kinds"][0]
        return {
            "fuel": self.fuel_series,
            "electricity": self.electricity_series,
            "heat": self.heat_series,
            "carbonate": self.process_series,
        }.get(kind)


class AccountingError(ValueError):
    """Some keys cannot be accounted; ``problems`` holds one row per key, field and message."""

    def __init__(self, problems: pl.DataFrame) -> None:
        self.problems = problems
        lines = [
            f"{row['field']}: {row['message']}" for row in problems.head(20).iter_rows(named=True)
        ]
        super().__init__("\n".join(lines))


class KeyProblem(ValueError):
    """A key cannot be accounted; ``field`` is the input column to blame."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def alias_map(table: str) -> dict[str, str]:
    """Every accepted spelling → canonical key for ``items``, ``sectors`` or ``regions``.

    English keys are matched ignoring case (``Diesel`` → ``diesel``), Chinese names exactly.
    """
    mapping: dict[str, str] = {}
    for key, spec in names()[table].items():
        for spelling in [key, *spec.get("aliases", [])]:
            mapping[spelling] = key
            mapping[spelling.lower()] = key
    if table == "categories":
        mapping |= names()["category_aliases"]
    return mapping


def canonical(values: pl.Series, table: str) -> pl.Series:
    """Map spellings to canonical keys; unknown texts become null (the caller reports them)."""
    mapping = alias_map(table)
    text = values.cast(pl.String).str.strip_chars()
    exact = text.replace_strict(mapping, default=None, return_dtype=pl.String)
    lowered = text.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.String)
    return exact.fill_null(lowered).alias(values.name)


# --------------------------------------------------------------------------------------------
# Per-key resolution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coefficients:
    """Results per one unit of activity of a key, and how they were obtained."""

    co2: float = 0.0
    ch4: float = 0.0
    n2o: float = 0.0
    co2e: float = 0.0
    tce: float = 0.0
    main: Factor | None = None
    method: str = ""
    used: tuple[tuple[str, Factor], ...] = ()
    steps: tuple[str, ...] = ()


def _find(
    library: FactorLibrary, field: str, series: str, item: str, parameter: str, key: dict[str, Any]
) -> Factor:
    """Look a factor up; a missing one blames ``field``, or the year or region that has none."""
    try:
        return library.find(series, item, parameter, key["year"], key["region"])
    except MissingFactor as error:
        blamed = field if error.missing == "series" else error.missing
        raise KeyProblem(blamed, f"missing factor: {error}") from error


def _per_unit(factor: Factor, unit: str, result_unit: str) -> float:
    try:
        return units.coefficient(factor.value, factor.unit, unit, result_unit)
    except ValueError as error:
        raise KeyProblem("unit", f"{error} (factor {factor.factor_id})") from error


def _energy_gj(library: FactorLibrary, key: dict[str, Any]) -> tuple[float, list[Any]]:
    """GJ per activity unit: the unit itself if it is energy, else via the series' NCV."""
    unit = key["unit"]
    if units.is_energy(unit):
        return units.conversion(unit, "GJ"), ["activity given in energy units: AD = quantity"]
    ncv = _find(library, "item", key["series"], key["item"], "ncv", key)
    return _per_unit(ncv, unit, "GJ"), [("ncv", ncv), "AD [GJ] = quantity × NCV"]


def _co2_per_gj(library: FactorLibrary, key: dict[str, Any]) -> tuple[float, str, list[Any]]:
    """tCO2 per GJ by the factor route, else the carbon-content route."""
    series, item = key["series"], key["item"]
    try:
        factor = library.find(series, item, "co2_ef", key["year"], key["region"])
    except MissingFactor:
        factor = None
    if factor is not None:
        ef = units.coefficient(factor.value, factor.unit, "GJ", "t")
        return ef, "AD × EF_CO2", [("co2_ef", factor), "CO2 = AD × EF_CO2"]
    try:
        content = library.find(series, item, "carbon_content", key["year"], key["region"])
        oxidation = library.find(series, item, "oxidation_factor", key["year"], key["region"])
    except MissingFactor as error:
        raise KeyProblem(
            "item",
            f"missing factor: {series} has neither co2_ef nor carbon_content and "
            f"oxidation_factor for {item!r} ({error})",
        ) from error
    cc = units.coefficient(content.value, content.unit, "GJ", "t")
    of = units.conversion(oxidation.unit, "dimensionless") * oxidation.value
    steps = [("carbon_content", content), ("oxidation_factor", oxidation)]
    return cc * of * CO2_PER_C, "AD × CC × OF × 44/12", [*steps, "CO2 = AD × CC × OF × 44/12"]


def _tce(
    library: FactorLibrary, key: dict[str, Any], options: Options, energy_gj: float | None
) -> tuple[float, list[Any]]:
    unit = key["unit"]
    if units.is_energy(unit) and key["category"] == "combustion":
        return units.conversion(unit, "tce"), ["tce = energy / 29.307 GJ (GB/T 2589 kgce)"]
    if options.tce_basis == "ncv" and energy_gj is not None:
        return energy_gj / GJ_PER_TCE, ["tce = AD [GJ] / 29.307 (NCV basis)"]
    if options.tce_basis == "ncv" and units.is_energy(unit):
        return units.conversion(unit, "tce"), ["tce = energy / 29.307 GJ (calorific equivalent)"]
    item = "electricity" if key["item"] == "green_electricity" else key["item"]
    factor = _find(library, "item", "gb2589", item, "tce", key)
    return _per_unit(factor, unit, "tce"), [("tce", factor), "tce = quantity × coefficient"]


def _non_co2(
    library: FactorLibrary, key: dict[str, Any], options: Options, energy_gj: float
) -> tuple[float, float, list[Any]]:
    if options.gases == "co2":
        return 0.0, 0.0, ["CH4 and N2O not estimated (gases = co2)"]
    hint = " (or account CO2 only: gases = co2)"
    found = []
    for parameter in ("ch4_ef", "n2o_ef"):
        try:
            found.append(_find(library, "item", key["series"], key["item"], parameter, key))
        except KeyProblem as problem:
            raise KeyProblem(problem.field, f"{problem}{hint}") from None
    ch4, n2o = (units.coefficient(f.value, f.unit, "GJ", "t") * energy_gj for f in found)
    return ch4, n2o, [("ch4_ef", found[0]), ("n2o_ef", found[1]), "CH4, N2O = AD × EF"]


def _combustion(library: FactorLibrary, key: dict[str, Any], options: Options) -> Coefficients:
    energy_gj, energy_steps = _energy_gj(library, key)
    ef, method, co2_steps = _co2_per_gj(library, key)
    ch4, n2o, gas_steps = _non_co2(library, key, options, energy_gj)
    tce, tce_steps = _tce(library, key, options, energy_gj)
    steps = energy_steps + co2_steps + gas_steps + tce_steps
    main = next(factor for role, factor in _factors_of(co2_steps) if role != "oxidation_factor")
    return _assemble(energy_gj * ef, ch4, n2o, tce, main, method, steps)


def _grid(library: FactorLibrary, key: dict[str, Any], options: Options) -> Coefficients:
    """Electricity: location-based average, or market-based residual / instrument factor."""
    item, series = key["item"], key["series"]
    if options.electricity_basis == "market" and item == "green_electricity":
        factor = _find(library, "item", "market_instrument", item, "co2", key)
        method = "market-based: contractual instrument"
    elif options.electricity_basis == "market":
        national = {**key, "region": "CN"}
        factor = _find(library, "factor_series", series, "electricity_residual", "co2", national)
        method = "market-based: residual grid factor (national, excl. market-traded non-fossil)"
    else:
        factor = _find(library, "factor_series", series, "electricity", "co2", key)
        method = "location-based: grid average factor"
    co2 = _per_unit(factor, key["unit"], "t")
    tce, tce_steps = _tce(library, key, options, None)
    return _assemble(co2, 0.0, 0.0, tce, factor, method, [("co2", factor), *tce_steps])


def _simple(library: FactorLibrary, key: dict[str, Any], options: Options) -> Coefficients:
    """Heat and process: ``E = AD × EF``; heat also counts as energy."""
    factor = _find(library, "factor_series", key["series"], key["item"], "co2", key)
    co2 = _per_unit(factor, key["unit"], "t")
    steps: list[Any] = [("co2", factor), "CO2 = AD × EF"]
    tce = 0.0
    if key["category"] != "process":
        tce, tce_steps = _tce(library, key, options, None)
        steps += tce_steps
    return _assemble(co2, 0.0, 0.0, tce, factor, "AD × EF", steps)


def _reported(key: dict[str, Any]) -> Coefficients:
    """A gas mass from the statistics: converted to t; GWP applied in :func:`_assemble`."""
    try:
        tonnes = units.conversion(key["unit"], "t")
    except ValueError as error:
        raise KeyProblem("unit", f"{error}: a reported gas is a mass") from error
    masses = {"co2": 0.0, "ch4": 0.0, "n2o": 0.0} | {key["item"]: tonnes}
    return _assemble(
        masses["co2"],
        masses["ch4"],
        masses["n2o"],
        0.0,
        None,
        "reported mass",
        ["reported gas mass from statistics"],
    )


def _factors_of(steps: list[Any]) -> list[tuple[str, Factor]]:
    return [step for step in steps if isinstance(step, tuple)]


def _assemble(
    co2: float,
    ch4: float,
    n2o: float,
    tce: float,
    main: Factor | None,
    method: str,
    steps: list[Any],
) -> Coefficients:
    return Coefficients(
        co2=co2,
        ch4=ch4,
        n2o=n2o,
        tce=tce,
        main=main,
        method=method,
        used=tuple(_factors_of(steps)),
        steps=tuple(step for step in steps if isinstance(step, str)),
    )


_RESOLVERS: dict[str, Callable[[FactorLibrary, dict[str, Any], Options], Coefficients]] = {
    "fuel": _combustion,
    "electricity": _grid,
    "heat": _simple,
    "carbonate": _simple,
}


def _with_gwp(
    coefficients: Coefficients, library: FactorLibrary, options: Options, sign: float
) -> Coefficients:
    gwps = {gas: library.gwp(gas, options.gwp) for gas in ("ch4", "n2o")}
    co2e = coefficients.co2 + coefficients.ch4 * gwps["ch4"].value
    co2e += coefficients.n2o * gwps["n2o"].value
    used = coefficients.used
    if coefficients.ch4 or coefficients.n2o:
        used += (("gwp_ch4", gwps["ch4"]), ("gwp_n2o", gwps["n2o"]))
    return replace(
        coefficients,
        co2=sign * coefficients.co2,
        ch4=sign * coefficients.ch4,
        n2o=sign * coefficients.n2o,
        co2e=sign * co2e,
        tce=sign * coefficients.tce + 0.0,
        used=used,
    )


def resolve_key(key: dict[str, Any], library: FactorLibrary, options: Options) -> Coefficients:
    """Per-unit results of one key (signed: exported energy and removals are negative).

    Raises
    ------
    KeyProblem
        If the item does not belong to the category, the unit does not convert, or a factor
        is missing; ``field`` names the input column to blame.
    """
    for field, table in (("category", "categories"), ("item", "items")):
        if key[field] not in names()[table]:
            raise KeyProblem(field, f"unknown {field} {key[field]!r}; use a canonical key")
    category = names()["categories"][key["category"]]
    kind = names()["items"][key["item"]]["kind"]
    if kind not in category["kinds"]:
        raise KeyProblem(
            "item",
            f"{key['item']!r} is a {kind}; category {key['category']!r} takes "
            + " or ".join(category["kinds"]),
        )
    try:
        units.parse_unit(key["unit"])
    except ValueError as error:
        raise KeyProblem("unit", str(error)) from error
    coefficients = _reported(key) if kind == "gas" else _RESOLVERS[kind](library, key, options)
    return _with_gwp(coefficients, library, options, float(category["sign"]))


def _trace(key: dict[str, Any], coefficients: Coefficients, options: Options) -> str:
    per_unit = {
        "co2_t": coefficients.co2,
        "ch4_t": coefficients.ch4,
        "n2o_t": coefficients.n2o,
        "co2e_t": coefficients.co2e,
        "energy_tce": coefficients.tce,
    }
    return json.dumps(
        {
            "unit": key["unit"],
            "method": coefficients.method,
            "gwp_set": options.gwp,
            "electricity_basis": options.electricity_basis,
            "tce_basis": options.tce_basis,
            "factors": [{"role": role, **factor.as_trace()} for role, factor in coefficients.used],
            "steps": list(coefficients.steps),
            "per_unit": per_unit,
        },
        ensure_ascii=False,
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def keys_of(frame: pl.DataFrame, options: Options) -> pl.DataFrame:
    """Add the resolved ``series`` and ``region`` columns the factors depend on.

    ``series`` is the row's ``factor_series`` or the run's default for its category; ``region``
    matters for electricity only (the row's region or the run's default) and is null otherwise.
    """
    categories = names()["categories"]
    defaults = {category: options.default_series(category) for category in categories}
    electric = [c for c, spec in categories.items() if "electricity" in spec["kinds"]]
    series = pl.col("category").replace_strict(defaults, default=None, return_dtype=pl.String)
    if "factor_series" in frame.columns:
        series = pl.col("factor_series").fill_null(series)
    region = pl.lit(options.region, pl.String)
    if "region" in frame.columns:
        region = pl.col("region").fill_null(region)
    return frame.with_columns(
        series.alias("series"),
        pl.when(pl.col("category").is_in(electric)).then(region).otherwise(None).alias("region"),
        pl.col("year").cast(pl.Int32),
    )


@dataclass(frozen=True)
class Resolution:
    """Per-key coefficients (``coefficients``) and the keys that failed (``problems``)."""

    coefficients: pl.DataFrame
    problems: pl.DataFrame


def resolve(frame: pl.DataFrame, library: FactorLibrary, options: Options) -> Resolution:
    """Resolve the factors of every distinct key of ``frame`` (which has :func:`keys_of`)."""
    if options.gwp not in GWP_SETS:
        raise ValueError(f"unknown GWP set {options.gwp!r}; use one of {', '.join(GWP_SETS)}")
    keys = frame.select(KEY_COLUMNS).unique(maintain_order=True)
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for key in keys.iter_rows(named=True):
        try:
            coefficients = resolve_key(key, library, options)
        except KeyProblem as problem:
            bad.append({**key, "field": problem.field, "message": str(problem)})
            continue
        good.append({**key, **_columns_of(key, coefficients, options)})
    key_schema: dict[str, Any] = {name: keys.schema[name] for name in KEY_COLUMNS}
    coefficient_schema = key_schema | {f"{c}_per_unit": pl.Float64 for c in RESULT_COLUMNS}
    coefficient_schema |= {c: pl.String for c in TRACE_COLUMNS} | {"factor_value": pl.Float64}
    problem_schema = key_schema | {"field": pl.String, "message": pl.String}
    return Resolution(
        pl.DataFrame(good, schema=coefficient_schema), pl.DataFrame(bad, schema=problem_schema)
    )


def _columns_of(
    key: dict[str, Any], coefficients: Coefficients, options: Options
) -> dict[str, Any]:
    main = coefficients.main
    per_unit = (
        coefficients.co2,
        coefficients.ch4,
        coefficients.n2o,
        coefficients.co2e,
        coefficients.tce,
    )
    return {
        **{f"{c}_per_unit": value for c, value in zip(RESULT_COLUMNS, per_unit, strict=True)},
        "factor_id": main.factor_id if main else "reported",
        "factor_value": main.value if main else None,
        "factor_unit": main.unit if main else key["unit"],
        "factor_source": main.citation if main else "reported in the statistics",
        "method": coefficients.method,
        "gwp_set": options.gwp,
        "trace": _trace(key, coefficients, options),
    }


def apply(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """Multiply every row's quantity by its key's coefficients (rows keep their order)."""
    joined = frame.join(
        resolution.coefficients,
        on=list(KEY_COLUMNS),
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    quantity = pl.col("quantity")
    return joined.with_columns(
        [(quantity * pl.col(f"{c}_per_unit")).alias(c) for c in RESULT_COLUMNS]
    ).drop([f"{c}_per_unit" for c in RESULT_COLUMNS])


def account(frame: pl.DataFrame, library: FactorLibrary, options: Options) -> pl.DataFrame:
    """Account canonical activity rows.

    Parameters
    ----------
    frame : polars.DataFrame
        Columns ``year`` [int], ``category``, ``item`` (canonical keys), ``quantity`` [≥ 0, in
        ``unit``], ``unit``; optional ``factor_series`` and ``region`` (canonical, null = the
        run's default); any other columns (entity, facility, month, sector …) pass through.

    Returns
    -------
    polars.DataFrame
        The rows with ``series``, ``region`` and ``co2_t``, ``ch4_t``, ``n2o_t``, ``co2e_t``
        [t], ``energy_tce`` [tce], ``factor_id``, ``factor_value``, ``factor_unit``,
        ``factor_source``, ``method``, ``gwp_set``, ``trace`` (JSON).

    Raises
    ------
    AccountingError
        If any key cannot be accounted (nothing is returned then).
    """
    keyed = keys_of(frame, options)
    resolution = resolve(keyed, library, options)
    if resolution.problems.height:
        raise AccountingError(resolution.problems)
    return apply(keyed, resolution)


def totals(result: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Sum the result columns by ``by`` (entity, facility, year …), sorted."""
    return result.group_by(by).agg(pl.col(list(RESULT_COLUMNS)).sum()).sort(by)


def energy_by_type(result: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Energy consumption in tce by ``by`` and energy type (item); process rows excluded."""
    energy = result.filter(pl.col("category").is_in(ENERGY_CATEGORIES))
    return energy.group_by([*by, "item"]).agg(pl.col("energy_tce").sum()).sort([*by, "item"])


# --------------------------------------------------------------------------------------------
# District inventory
# --------------------------------------------------------------------------------------------

INVENTORY_COLUMNS = (
    "direct_co2e_t",
    "indirect_location_co2e_t",
    "indirect_market_co2e_t",
    "total_location_co2e_t",
    "total_market_co2e_t",
    "energy_co2_t",
    "energy_tce",
)


def _by_sector(result: pl.DataFrame, indirect_name: str) -> pl.DataFrame:
    scopes = {c: spec["scope"] for c, spec in names()["categories"].items()}
    scope = pl.col("category").replace_strict(scopes, return_dtype=pl.String)
    energy_co2 = pl.when(pl.col("category").is_in(ENERGY_CATEGORIES)).then(pl.col("co2_t"))
    return result.group_by("year", "sector").agg(
        pl.col("co2e_t").filter(scope == "direct").sum().alias("direct_co2e_t"),
        pl.col("co2e_t").filter(scope == "indirect").sum().alias(indirect_name),
        energy_co2.otherwise(0.0).sum().alias("energy_co2_t"),
        pl.col("energy_tce").sum(),
    )


def inventory(
    statistics: pl.DataFrame,
    library: FactorLibrary,
    options: Options,
    enterprises: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """District inventory by year and sector, location- and market-based, plus the enterprises.

    Parameters
    ----------
    statistics : polars.DataFrame
        Canonical activity rows (see :func:`account`) with a ``sector`` column (energy_supply,
        industry, buildings, transport, agriculture, waste, lulucf). LULUCF sinks are
        ``removal`` rows; agriculture and waste CH4/N2O are ``emission`` rows (gas masses from
        the statistics).
    enterprises : polars.DataFrame, optional
        An accounted enterprise result (:func:`account`); its CO2e per year is added as the
        row ``reporting_enterprises`` with its share of the district total (location-based).

    Returns
    -------
    polars.DataFrame
        ``year, sector`` and ``direct_co2e_t`` (combustion, process, reported gases, sinks),
        ``indirect_location_co2e_t`` / ``indirect_market_co2e_t`` (net purchased electricity
        and heat), ``total_location_co2e_t``, ``total_market_co2e_t``, ``energy_co2_t``
        (energy-related CO2, location-based: the numerator of CO2-per-GDP), ``energy_tce``;
        one ``total`` row per year. Direct and indirect are kept apart because a district that
        generates power would otherwise count the same CO2 twice (once at the plant, once at
        the consumers); choose the total that matches the inventory's boundary.
    """
    location = account(statistics, library, replace(options, electricity_basis="location"))
    market = account(statistics, library, replace(options, electricity_basis="market"))
    sectors = _by_sector(location, "indirect_location_co2e_t").join(
        _by_sector(market, "indirect_market_co2e_t").select(
            "year", "sector", "indirect_market_co2e_t"
        ),
        on=["year", "sector"],
    )
    sectors = sectors.with_columns(
        (pl.col("direct_co2e_t") + pl.col("indirect_location_co2e_t")).alias(
            "total_location_co2e_t"
        ),
        (pl.col("direct_co2e_t") + pl.col("indirect_market_co2e_t")).alias("total_market_co2e_t"),
    ).select("year", "sector", *INVENTORY_COLUMNS)
    total = sectors.group_by("year").agg(pl.col(list(INVENTORY_COLUMNS)).sum())
    table = pl.concat([sectors, total.with_columns(sector=pl.lit("total"))], how="diagonal")
    if enterprises is not None:
        table = pl.concat([table, _enterprise_rows(enterprises, total)], how="diagonal")
    order = {key: rank for rank, key in enumerate([*names()["sectors"], "total"])}
    rank = pl.col("sector").replace_strict(order, default=len(order), return_dtype=pl.Int32)
    return table.sort(pl.col("year"), rank)


def _enterprise_rows(enterprises: pl.DataFrame, total: pl.DataFrame) -> pl.DataFrame:
    """Sum of reporting enterprises per year and its share of the district total."""
    sums = enterprises.group_by("year").agg(
        pl.col("co2e_t").sum().alias("total_location_co2e_t"), pl.col("energy_tce").sum()
    )
    return sums.join(
        total.select("year", pl.col("total_location_co2e_t").alias("district")),
        on="year",
        how="left",
    ).select(
        "year",
        pl.lit("reporting_enterprises").alias("sector"),
        "total_location_co2e_t",
        "energy_tce",
        (pl.col("total_location_co2e_t") / pl.col("district") * 100).alias("share_of_district_pct"),
    )


def annual_for_targets(inventory_table: pl.DataFrame) -> pl.DataFrame:
    """``year, co2_t, energy_tce`` from an inventory's total rows (the targets' EMISSIONS)."""
    totals_only = inventory_table.filter(pl.col("sector") == "total")
    return totals_only.select("year", pl.col("energy_co2_t").alias("co2_t"), "energy_tce").sort(
        "year"
    )
