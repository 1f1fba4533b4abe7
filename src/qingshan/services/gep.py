"""GEP accounting use-case: read a run configuration and its inputs, check every input, run the
pure engine (:mod:`qingshan.gep`), and hand back the accounts; writing is in
:mod:`qingshan.services.gep_outputs`.

A run configuration is a TOML file; its paths are relative to it. See ``docs/gep.md`` for the
full key list; in short::

    title = "…"; district = "…"; spec = "ndrc-nbs-2022"; year = 2023
    prices = "prices-2023.csv"          # or "builtin:garze-2010"
    statistics = "statistics-2023.csv"  # township, [ecosystem], input, value, unit
    ecosystem_parameters = "…csv"       # ecosystem, driver, value   (optional)
    compare_with = "config-2022.toml"   # previous year, for year-on-year change (optional)
    [constants]  cooling_days = 92 …     # district-wide drivers
    [coefficients.<formula>]  name = …   # overrides of the specification's coefficients
    [constant_prices] base_year = 2020; index = "price-index.csv"
    [table] ecosystems = "…csv"         # table route: township, ecosystem, area_km2, drivers…
    [raster] land_cover, townships, township_names, cell_size_m, classes, drivers  # raster route

Every problem is an :class:`InputError` naming the file (and row, column or key); nothing is
written when there is one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from qingshan.gep import accounts, engine
from qingshan.gep import prices as price_sets
from qingshan.gep.catalogue import DRIVER_UNITS
from qingshan.gep.spec import Spec, available_specs, known_statistics, load_spec
from qingshan.gep.units import factor_between
from qingshan.services.rasters import (
    PolygonZones,
    RasterSource,
    as_float,
    check_same_grid,
    open_raster,
)
from qingshan.services.tables import (
    InputError,
    Problem,
    ProblemCollector,
    parse_numbers,
    read_table,
    require_columns,
)

BUILTIN_PREFIX = "builtin:"
AREA_COLUMNS = {"area_km2": "km2", "area_hm2": "hm2", "area_m2": "m2"}
_NON_NEGATIVE = set(DRIVER_UNITS) - {"nep_gc_m2"}
"""Drivers that cannot be negative (NEP can: a carbon source)."""
FRACTIONS = {
    "runoff_coefficient",
    "c_factor",
    "p_factor",
    "cooling_evaporation_share",
    "humidifying_evaporation_share",
}
"""Drivers in [0, 1]."""
LayerSink = Callable[[int, dict[str, NDArray[np.float32]]], None]
"""Receives (first row, per-cell quantity blocks by item) during the raster pass."""
DEFAULT_BLOCK_CELLS = 1_000_000
"""Cells per block of the raster route (a strip of rows): ≈ 100 MB of float64 temporaries."""


@dataclass
class RasterPlan:
    land_cover: RasterSource
    zones: RasterSource | PolygonZones
    zone_lookup: NDArray[np.int64] | None
    class_lookup: NDArray[np.int64]
    townships: list[str]
    drivers: dict[str, RasterSource]
    cell_area_m2: float
    block_rows: int

    @property
    def rows(self) -> int:
        return self.land_cover.grid.rows


@dataclass
class RunInputs:
    config_path: Path
    title: str
    district: str
    spec: Spec
    year: int
    pricing: accounts.Pricing
    price_source: str
    statistics: pl.DataFrame
    drivers: engine.Drivers
    coefficients: dict[str, dict[str, float]]
    table_rows: pl.DataFrame | None
    raster: RasterPlan | None
    compare_with: Path | None
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    root: Path | None = None
    """The folder every input must lie in (None: anywhere); see :func:`load_run`."""


@dataclass
class GepResult:
    inputs: RunInputs
    items: pl.DataFrame
    lines: pl.DataFrame
    areas: pl.DataFrame
    tables: dict[str, pl.DataFrame]
    totals: accounts.Totals
    warnings: list[str]
    previous: GepResult | None = None
    layers: dict[str, Path] = field(default_factory=dict)


# ------------------------------------------------------------------------------ specifications


def spec_listing() -> list[dict[str, Any]]:
    """The shipped specifications (indicator sets) with their verification status."""
    return [
        {
            "id": s.id,
            "title": s.title_zh,
            "document": s.document,
            "status": s.status,
            "indicators": len(s.indicators),
        }
        for s in map(load_spec, available_specs())
    ]


def spec_indicators(spec: Spec) -> list[dict[str, Any]]:
    """One specification's indicators with their items and display units."""
    return [
        {
            "indicator": i.id,
            "zh": i.zh,
            "category": i.category,
            "status": i.status,
            "items": [f"{item.id} [{item.display_unit}]" for item in i.items],
        }
        for i in spec.indicators
    ]


def input_names() -> dict[str, dict[str, str]]:
    """Every statistic and driver a configuration may give, with its base unit."""
    return {"statistics": known_statistics(), "drivers": DRIVER_UNITS}


# ------------------------------------------------------------------------------ config


class _Config:
    """The TOML configuration with errors that name the file and the key."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.root = root
        _check_inside(path, root, path, "the configuration")
        if not path.is_file():
            raise InputError.single(path, "configuration file not found")
        try:
            self.data = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise InputError.single(path, f"not valid TOML: {error}") from error
        self.path = path

    def error(self, key: str, message: str) -> InputError:
        return InputError([Problem(str(self.path), None, key, message)])

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is ...:
                    raise self.error(key, "required key is missing")
                return default
            node = node[part]
        if not isinstance(node, kind):
            raise self.error(key, f"expected {getattr(kind, '__name__', kind)}, got {node!r}")
        return node

    def file(self, key: str) -> Path:
        """A required path, relative to the configuration's folder."""
        return self.resolve(key, str(self.get(key, str)))

    def optional_file(self, key: str) -> Path | None:
        value = self.get(key, str, None)
        return None if value is None else self.resolve(key, value)

    def resolve(self, key: str, text: str) -> Path:
        """The path ``text`` given at ``key``, relative to the configuration's folder, refused
        when it lies outside the root (symbolic links followed)."""
        path = (self.path.parent / text).resolve()
        _check_inside(path, self.root, self.path, key)
        return path

    def check_keys(self, section: str, allowed: set[str]) -> None:
        """Refuse unknown keys (a misspelt key would otherwise be silently ignored)."""
        node = self.get(section, dict) if section else self.data
        for key in node:
            if key not in allowed:
                where = f"{section}.{key}" if section else key
                raise self.error(
                    where, "unknown key; expected one of " + ", ".join(sorted(allowed))
                )


def _check_inside(path: Path, root: Path | None, where: Path, key: str) -> None:
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        raise InputError(
            [
                Problem(
                    str(where),
                    None,
                    key,
                    "the path leads outside the folder inputs may be read from",
                )
            ]
        )


# ------------------------------------------------------------------------------ tables


def _read_toml_entries(path: Path) -> pl.DataFrame:
    """A price set in the shipped TOML layout (``[[entries]]``) as a table of text cells;
    row N of an error is entry N − 1."""
    if not path.is_file():
        raise InputError.single(path, "file not found")
    try:
        entries = tomllib.loads(path.read_text("utf-8"))["entries"]
        return pl.DataFrame([{k: str(v) for k, v in e.items()} for e in entries])
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as error:
        raise InputError.single(path, f"not a price set ([[entries]] tables): {error}") from error


def _read_price_set(
    path_text: str, config: _Config
) -> tuple[price_sets.PriceSet, str, Path | None]:
    if path_text.startswith(BUILTIN_PREFIX):
        name = path_text[len(BUILTIN_PREFIX) :]
        try:
            return price_sets.load_price_set(name), path_text, None
        except KeyError as error:
            raise config.error("prices", str(error.args[0])) from error
    path = config.resolve("prices", path_text)
    frame = _read_toml_entries(path) if path.suffix.lower() == ".toml" else read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("key", "kind", "value", "unit", "year", "source", "status"), problems)
    problems.raise_if_any()
    frame = parse_numbers(frame, ["value", "year"], problems, minimum=None)
    problems.check(frame, frame["value"].is_null(), "value", "a value is required")
    problems.check(frame, frame["year"].is_null(), "year", "a year is required")
    problems.check(
        frame,
        ~frame["kind"].is_in(price_sets.KINDS).fill_null(False),
        "kind",
        "kind {value!r} must be 'price' or 'parameter'",
    )
    problems.check(
        frame,
        (frame["value"] < 0).fill_null(False),
        "value",
        "a price or parameter cannot be negative ({value})",
    )
    problems.check(
        frame,
        frame["status"].is_null(),
        "status",
        "give the status (e.g. VERIFIED-PRIMARY, UNVERIFIED, LOCAL)",
    )
    problems.check(frame, frame["key"].is_duplicated(), "key", "key {value!r} appears twice")
    problems.raise_if_any()
    return price_sets.parse_entries(path.stem, frame.to_dicts()), str(path), path


def _price_problems(spec: Spec, prices: price_sets.PriceSet, where: str) -> None:
    found = price_sets.problems_of(spec, prices)
    if found:
        raise InputError([Problem(where, None, None, message) for message in found])


def _read_price_index(path: Path) -> price_sets.PriceIndex:
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("year", "index"), problems)
    problems.raise_if_any()
    frame = parse_numbers(frame, ["year", "index"], problems)
    problems.check(
        frame, (frame["index"] <= 0).fill_null(True), "index", "an index must be a positive number"
    )
    problems.raise_if_any()
    keys = (
        frame["price_key"].fill_null(price_sets.ANY_KEY)
        if "price_key" in frame.columns
        else pl.Series([price_sets.ANY_KEY] * frame.height)
    )
    return price_sets.PriceIndex(
        {
            (str(key), int(year)): float(index)
            for key, year, index in zip(keys, frame["year"], frame["index"], strict=True)
        }
    )


def _read_statistics(
    path: Path, spec: Spec, townships: set[str] | None
) -> tuple[pl.DataFrame, list[str]]:
    """Statistics in base units; ``townships`` None accepts any township name (table route
    learns them from the ecosystems table, checked afterwards)."""
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("township", "input", "value", "unit"), problems)
    problems.raise_if_any()
    if "ecosystem" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("ecosystem"))
    frame = parse_numbers(frame, ["value"], problems, minimum=None, what="statistic")
    problems.check(
        frame,
        (frame["value"] < 0).fill_null(False),
        "value",
        "a statistic cannot be negative ({value})",
    )
    problems.check(frame, frame["value"].is_null(), "value", "a value is required")
    known = known_statistics()
    problems.check(
        frame,
        ~frame["input"].is_in(list(known)).fill_null(False),
        "input",
        "unknown statistic {value!r}; see `qingshan gep specs --inputs`",
    )
    ecosystem_ok = frame["ecosystem"].is_null() | frame["ecosystem"].is_in(list(spec.ecosystems))
    problems.check(
        frame,
        ~ecosystem_ok,
        "ecosystem",
        f"unknown ecosystem type {{value!r}} for {spec.id}; known: " + ", ".join(spec.ecosystems),
    )
    if townships is not None:
        allowed = [*townships, accounts.DISTRICT_LEVEL]
        problems.check(
            frame,
            ~frame["township"].is_in(allowed).fill_null(False),
            "township",
            "unknown township {value!r} (use 全区 for district-level lines)",
        )
    factors = []
    for number, (name, unit) in enumerate(zip(frame["input"], frame["unit"], strict=True)):
        try:
            factors.append(factor_between(str(unit), known[name]) if name in known else 1.0)
        except (KeyError, ValueError) as error:
            problems.add(
                f"{error.args[0]} (statistic {name!r} is in {known.get(name)})",
                row=number + 2,
                column="unit",
            )
            factors.append(1.0)
    problems.raise_if_any()
    used = {item.input for _, item in spec.items() if item.input}
    used |= {name for _, item in spec.items() for name in item.inputs}
    used |= {"gdp", "outside_region_value"}
    unused = sorted(set(frame["input"]) - used)
    warnings = (
        [f"{path.name}: statistics not used by {spec.id}: {', '.join(unused)}"] if unused else []
    )
    frame = frame.with_columns(
        (pl.col("value") * pl.Series(factors)).alias("value"),
        pl.col("ecosystem").fill_null(engine.UNASSIGNED),
    )
    return frame.select("township", "ecosystem", "input", "value"), warnings


def _read_ecosystem_parameters(path: Path, spec: Spec) -> dict[str, dict[str, float]]:
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("ecosystem", "driver", "value"), problems)
    problems.raise_if_any()
    frame = parse_numbers(frame, ["value"], problems, minimum=None)
    problems.check(
        frame,
        ~frame["ecosystem"].is_in(list(spec.ecosystems)).fill_null(False),
        "ecosystem",
        f"unknown ecosystem type {{value!r}} for {spec.id}",
    )
    problems.check(
        frame,
        ~frame["driver"].is_in(list(DRIVER_UNITS)).fill_null(False),
        "driver",
        "unknown driver {value!r}; known: " + ", ".join(DRIVER_UNITS),
    )
    problems.check(
        frame,
        (frame["value"] < 0).fill_null(False),
        "value",
        "a driver cannot be negative ({value})",
    )
    problems.check(
        frame,
        frame["driver"].is_in(list(FRACTIONS)) & (frame["value"] > 1),
        "value",
        "a fraction (coefficient, factor or share) cannot exceed 1 ({value})",
    )
    problems.raise_if_any()
    parameters: dict[str, dict[str, float]] = {}
    for row in frame.iter_rows(named=True):
        parameters.setdefault(row["driver"], {})[row["ecosystem"]] = row["value"]
    return parameters


def _read_ecosystem_table(path: Path, spec: Spec) -> pl.DataFrame:
    """Table route: township, ecosystem, one area column and per-area driver columns."""
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, ("township", "ecosystem"), problems)
    areas = [c for c in frame.columns if c in AREA_COLUMNS]
    if len(areas) != 1:
        problems.add("give exactly one area column: area_km2, area_hm2 or area_m2", row=1)
    for column in frame.columns:
        if column not in ("township", "ecosystem", *AREA_COLUMNS, *DRIVER_UNITS):
            problems.add("unknown column (not an area or a driver)", row=1, column=column)
    problems.raise_if_any()
    drivers = [c for c in frame.columns if c in DRIVER_UNITS]
    frame = parse_numbers(frame, [areas[0]], problems, what="area")
    for driver in drivers:
        frame = parse_numbers(
            frame,
            [driver],
            problems,
            minimum=_minimum(driver),
            maximum=1.0 if driver in FRACTIONS else None,
            what=driver,
        )
    problems.check(frame, frame[areas[0]].is_null(), areas[0], "an area is required")
    problems.check(
        frame,
        ~frame["ecosystem"].is_in(list(spec.ecosystems)).fill_null(False),
        "ecosystem",
        f"unknown ecosystem type {{value!r}} for {spec.id}; known: " + ", ".join(spec.ecosystems),
    )
    problems.check(
        frame,
        frame.select(pl.struct("township", "ecosystem").is_duplicated()).to_series(),
        "ecosystem",
        "township × ecosystem {value!r} appears twice",
    )
    problems.raise_if_any()
    factor = factor_between(AREA_COLUMNS[areas[0]], "m2")
    return frame.with_columns((pl.col(areas[0]) * factor).alias("area_m2")).drop(areas[0])


def _minimum(driver: str) -> float | None:
    return 0.0 if driver in _NON_NEGATIVE else None


# ------------------------------------------------------------------------------ rasters


def _raster_plan(config: _Config, spec: Spec) -> tuple[RasterPlan, list[Path]]:
    land_path = config.file("raster.land_cover")
    land_cover = open_raster(land_path)
    names_path = config.file("raster.township_names")
    names = read_table(names_path)
    problems = ProblemCollector(names_path)
    require_columns(names, ("township_id", "township"), problems)
    problems.raise_if_any()
    names = parse_numbers(names, ["township_id"], problems, minimum=1, what="township id")
    problems.check(names, names["township"].is_duplicated(), "township", "{value!r} twice")
    problems.raise_if_any()
    townships = [str(t) for t in names["township"]]
    zones_path = config.file("raster.townships")
    zone_lookup = None
    zones: RasterSource | PolygonZones
    if zones_path.suffix.lower() in (".geojson", ".json"):
        field_name = config.get("raster.township_field", str, "township")
        zones = PolygonZones(zones_path, field_name, townships, land_cover)
    else:
        zones = open_raster(zones_path)
        ids = names["township_id"].cast(pl.Int64).to_numpy()
        zone_lookup = np.full(int(ids.max()) + 1, -2, dtype=np.int64)
        zone_lookup[0] = -1
        zone_lookup[ids] = np.arange(len(ids))
    classes = config.get("raster.classes", dict)
    class_lookup = np.full(65536, -2, dtype=np.int64)
    ecosystems = list(spec.ecosystems)
    for code, ecosystem in classes.items():
        if ecosystem not in spec.ecosystems:
            raise config.error(
                f"raster.classes.{code}",
                f"unknown ecosystem type {ecosystem!r} "
                f"for {spec.id}; known: {', '.join(ecosystems)}",
            )
        if not code.isdigit() or int(code) > 65535:
            raise config.error(f"raster.classes.{code}", "a class code is an integer 0–65535")
        class_lookup[int(code)] = ecosystems.index(ecosystem)
    nodata_code = config.get("raster.land_cover_nodata", int, 0)
    class_lookup[nodata_code] = -1
    driver_paths = {
        name: config.file(f"raster.drivers.{name}")
        for name in config.get("raster.drivers", dict, {})
    }
    for name in driver_paths:
        if name not in DRIVER_UNITS:
            raise config.error(
                f"raster.drivers.{name}", "unknown driver; known: " + ", ".join(DRIVER_UNITS)
            )
    drivers = {name: open_raster(path) for name, path in driver_paths.items()}
    others: list[RasterSource] = list(drivers.values())
    if not isinstance(zones, PolygonZones):
        others.append(zones)
    files = [land_path, zones_path, names_path]
    check_same_grid(land_cover, others)
    cell = config.get("raster.cell_size_m", (int, float), None)
    transform = land_cover.grid.transform
    if cell is None and transform is None:
        raise config.error("raster.cell_size_m", "needed for .npy rasters (no georeference)")
    if cell is not None:
        cell_area = float(cell) ** 2
    else:
        assert transform is not None  # checked above
        cell_area = abs(transform[0] * transform[4])
    block_rows = max(1, DEFAULT_BLOCK_CELLS // max(land_cover.grid.columns, 1))
    block_rows = config.get("raster.block_rows", int, block_rows)
    plan = RasterPlan(
        land_cover, zones, zone_lookup, class_lookup, townships, drivers, cell_area, block_rows
    )
    return plan, files + list(driver_paths.values())


def _lookup(block: NDArray[Any], table: NDArray[np.int64], source: Any, what: str) -> NDArray[Any]:
    """Map codes to indices; the source's nodata value is −1 (outside); codes outside the
    table or unmapped (−2) are input errors."""
    codes = block.astype(np.int64)
    bad = (codes < 0) | (codes >= len(table))
    mapped = np.full(codes.shape, -2, dtype=np.int64)
    mapped[~bad] = table[codes[~bad]]
    if source.nodata is not None and not np.isnan(source.nodata):
        mapped[block == source.nodata] = -1
    if (mapped == -2).any():
        unknown = sorted(set(np.unique(codes[mapped == -2]).tolist()))[:10]
        raise InputError.single(
            source.path, f"{what} codes {unknown} are not mapped in the configuration"
        )
    return mapped


def raster_quantities(
    inputs: RunInputs,
    accumulator: engine.ZonalAccumulator,
    layer_sink: LayerSink | None = None,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> None:
    """Run the raster route block by block (strips of rows) into ``accumulator``."""
    plan = inputs.raster
    assert plan is not None
    for start in range(0, plan.rows, plan.block_rows):
        stop = min(start + plan.block_rows, plan.rows)
        ecosystem = _lookup(
            plan.land_cover.read_rows(start, stop),
            plan.class_lookup,
            plan.land_cover,
            "land-cover class",
        )
        zone_block = plan.zones.read_rows(start, stop)
        zone = (
            zone_block.astype(np.int64)
            if plan.zone_lookup is None
            else _lookup(zone_block, plan.zone_lookup, plan.zones, "township id")
        )
        rasters = {}
        for name, source in plan.drivers.items():
            values = as_float(source.read_rows(start, stop), source.nodata)
            inside = (zone >= 0) & (ecosystem >= 0)
            if name in _NON_NEGATIVE and (values[inside] < 0).any():
                raise InputError.single(
                    source.path, f"driver {name} has negative cells in rows {start}–{stop - 1}"
                )
            if name in FRACTIONS and (values[inside] > 1).any():
                raise InputError.single(
                    source.path, f"driver {name} (a fraction) exceeds 1 in rows {start}–{stop - 1}"
                )
            rasters[name] = values
        layers = accumulator.add(zone, ecosystem, rasters, keep_layers=layer_sink is not None)
        if layer_sink is not None:
            layer_sink(start, layers)
        on_rows(stop - start)


# ------------------------------------------------------------------------------ loading


def relative_to_config(path: Path, config_path: Path) -> str:
    """``path`` as written relative to the configuration's folder (for reports)."""
    try:
        return str(path.relative_to(config_path.parent))
    except ValueError:
        return str(path)


TOP_KEYS = {
    "title",
    "district",
    "spec",
    "year",
    "prices",
    "statistics",
    "ecosystem_parameters",
    "compare_with",
    "constants",
    "coefficients",
    "constant_prices",
    "table",
    "raster",
}
RASTER_KEYS = {
    "land_cover",
    "land_cover_nodata",
    "townships",
    "township_field",
    "township_names",
    "cell_size_m",
    "block_rows",
    "classes",
    "drivers",
}


def load_run(config_path: Path, root: Path | None = None) -> RunInputs:
    """Read and check the configuration and every input table; open the rasters.

    With ``root``, the configuration, every path in it and the compared run's inputs must lie
    inside ``root`` (checked before anything is opened): a caller of the API who writes the
    configuration cannot make the server read its other files.
    """
    config = _Config(config_path.resolve(), root)
    config.check_keys("", TOP_KEYS)
    if "raster" in config.data:
        config.check_keys("raster", RASTER_KEYS)
    if "table" in config.data:
        config.check_keys("table", {"ecosystems"})
    if "constant_prices" in config.data:
        config.check_keys("constant_prices", {"base_year", "index"})
    try:
        spec = load_spec(config.get("spec", str))
    except KeyError as error:
        raise config.error("spec", str(error.args[0])) from error
    year = config.get("year", int)
    prices, price_source, price_path = _read_price_set(config.get("prices", str), config)
    if price_path is not None:
        price_source = relative_to_config(price_path, config.path)
    _price_problems(spec, prices, price_source)
    files = [config.path] + ([price_path] if price_path else [])
    index = None
    base_year = config.get("constant_prices.base_year", int, None)
    index_path = config.optional_file("constant_prices.index")
    if (base_year is None) != (index_path is None):
        raise config.error("constant_prices", "give both base_year and index (or neither)")
    if index_path is not None:
        index = _read_price_index(index_path)
        files.append(index_path)
        for _, item in spec.items():
            for component in item.values:
                try:
                    index.ratio(component.price, year, base_year)
                except KeyError as error:
                    raise InputError.single(index_path, str(error.args[0])) from error
    pricing = accounts.Pricing(prices, year, index, base_year)

    has_table, has_raster = "table" in config.data, "raster" in config.data
    if has_table == has_raster:
        raise config.error(
            "table/raster", "give exactly one route: a [table] or a [raster] section"
        )
    table_rows, raster = None, None
    if has_table:
        table_path = config.file("table.ecosystems")
        table_rows = _read_ecosystem_table(table_path, spec)
        townships = set(table_rows["township"])
        files.append(table_path)
        route_drivers = {c for c in table_rows.columns if c in DRIVER_UNITS}
        present = set(table_rows["ecosystem"])
    else:
        raster, raster_files = _raster_plan(config, spec)
        townships = set(raster.townships)
        files += raster_files
        route_drivers = set(raster.drivers)
        present = set(config.get("raster.classes", dict).values())

    statistics_path = config.file("statistics")
    statistics, warnings = _read_statistics(statistics_path, spec, townships)
    files.append(statistics_path)
    parameters_path = config.optional_file("ecosystem_parameters")
    parameters = _read_ecosystem_parameters(parameters_path, spec) if parameters_path else {}
    if parameters_path:
        files.append(parameters_path)
    constants = config.get("constants", dict, {})
    for name, value in constants.items():
        if name not in DRIVER_UNITS or not isinstance(value, (int, float)) or value < 0:
            raise config.error(
                f"constants.{name}", "a constant is a known driver with a non-negative number"
            )
        if name in FRACTIONS and value > 1:
            raise config.error(f"constants.{name}", "a fraction cannot exceed 1")
    drivers = engine.Drivers(parameters, {k: float(v) for k, v in constants.items()})
    missing = engine.missing_drivers(spec, route_drivers, drivers, present)
    if missing:
        raise InputError([Problem(str(config.path), None, None, m) for m in missing])
    coefficients = engine.coefficients_for(spec, config.get("coefficients", dict, {}))
    compare_with = config.optional_file("compare_with")
    return RunInputs(
        config.path,
        config.get("title", str, f"GEP {year}"),
        config.get("district", str, ""),
        spec,
        year,
        pricing,
        price_source,
        statistics,
        drivers,
        coefficients,
        table_rows,
        raster,
        compare_with,
        files,
        warnings,
        root,
    )


# ------------------------------------------------------------------------------ running


def compute(
    inputs: RunInputs,
    layer_sink: LayerSink | None = None,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> GepResult:
    """Quantities of both routes and the statistics, values, and every summary table."""
    warnings = list(inputs.warnings)
    ecosystems = list(inputs.spec.ecosystems)
    if inputs.raster is not None:
        accumulator = engine.ZonalAccumulator(
            inputs.spec,
            inputs.raster.townships,
            ecosystems,
            inputs.drivers,
            inputs.coefficients,
            inputs.raster.cell_area_m2,
        )
        raster_quantities(inputs, accumulator, layer_sink, on_rows)
        area_quantities, areas = accumulator.quantities(), accumulator.areas()
        skipped = accumulator.skipped
    else:
        assert inputs.table_rows is not None
        area_quantities, skipped = engine.table_quantities(
            inputs.spec, inputs.table_rows, ecosystems, inputs.drivers, inputs.coefficients
        )
        areas = inputs.table_rows.select("township", "ecosystem", "area_m2")
    statistic_quantities, unreported = engine.statistic_quantities(
        inputs.spec, inputs.statistics, inputs.coefficients
    )
    warnings += [
        f"{key}: {count} cells or rows without a driver value were left out"
        for key, count in skipped.items()
        if count
    ]
    warnings += [f"{key}: no statistic reported (counted as 0)" for key in unreported]
    quantities = pl.concat([area_quantities, statistic_quantities])
    items = accounts.item_table(inputs.spec, inputs.pricing)
    lines = accounts.value_lines(quantities, items)
    tables = {
        "categories": accounts.by_category(lines),
        "indicators": accounts.by_indicator(lines, items),
        "townships": accounts.by_township(lines, areas, inputs.statistics),
        "township_items": accounts.by_township_item(lines, areas),
        "ecosystems": accounts.by_ecosystem(lines, areas, inputs.spec),
        "valuation": accounts.valuation_table(inputs.spec, inputs.pricing),
    }
    totals = accounts.totals(lines, inputs.spec, inputs.statistics)
    warnings += accounts.plausibility_warnings(tables["categories"], tables["indicators"])
    return GepResult(inputs, items, lines, areas, tables, totals, warnings)


def run(
    inputs: RunInputs,
    make_layer_sink: Callable[[RunInputs, pl.DataFrame], LayerSink] | None = None,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> GepResult:
    """Compute a loaded run, and the run it is compared with (one level).

    Both runs' inputs are checked before any computing starts. ``make_layer_sink`` is given
    the run's inputs and item table (unit values) and returns where raster layers go.
    """
    previous_inputs = load_run(inputs.compare_with, inputs.root) if inputs.compare_with else None
    sink = None
    if make_layer_sink is not None and inputs.raster is not None:
        sink = make_layer_sink(inputs, accounts.item_table(inputs.spec, inputs.pricing))
    result = compute(inputs, sink, on_rows)
    if previous_inputs is not None:
        result.previous = compute(previous_inputs)
        add_year_on_year(result)
    return result


def add_year_on_year(result: GepResult) -> None:
    """Year-on-year tables at constant prices (by indicator item, category and township)."""
    previous = result.previous
    assert previous is not None
    if previous.inputs.pricing.base_year != result.inputs.pricing.base_year:
        result.warnings.append(
            "the compared run has another constant-price base year; "
            "year-on-year change includes price changes"
        )
    for name, key in (
        ("indicators", ["indicator", "item"]),
        ("categories", ["category"]),
        ("townships", ["township"]),
    ):
        current = result.tables[name]
        old = previous.tables[name]
        if name == "townships":
            current = current.rename({"gep_constant_wan": "value_constant_wan"})
            old = old.rename({"gep_constant_wan": "value_constant_wan"})
        result.tables[f"yoy_{name}"] = accounts.year_on_year(current, old, key)
