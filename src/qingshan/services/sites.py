"""``qingshan sites import FILE``: sites (and their grids) from a table, all or nothing.

Required columns: ``code, name, kind, latitude, longitude``. Optional: ``air_class``,
``water_target_class``, ``waterbody_type``, ``noise_zone``, ``reporting_interval_minutes``
(default 60), ``permit_limits`` (JSON text), ``owner`` (source outlets: the code of the
operating enterprise's registry account, kind ``enterprise``; an empty cell: no owner; without
the column, owners already recorded are kept), and the grid the site lies in — ``grid_code,
grid_name, township_code, township_name, township_kind, district_code, district_name`` (all of
them when ``grid_code`` is given). A site already present (same code) is updated.

Who sees an outlet: :func:`visible_sites` — an enterprise user only the outlets its company
owns (``docs/store.md``, owners); everyone else every site their role reaches.

``qingshan sites grids FILE.geojson`` sets the grids' boundaries (:func:`import_grid_boundaries`),
which the neighbour-anomaly rule uses to find neighbouring grids (docs/alerting.md).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from qingshan.alerting.adjacency import read_polygon
from qingshan.services.tables import (
    FIRST_DATA_ROW,
    InputError,
    ProblemCollector,
    parse_numbers,
    read_table,
    require_columns,
)
from qingshan.store.engine import writing
from qingshan.store.identity import outlets_of_user
from qingshan.store.models import (
    AIR_CLASSES,
    NOISE_ZONES,
    SITE_KINDS,
    WATER_CLASSES,
    WATERBODY_TYPES,
    Grid,
    RegistryAccount,
    Site,
)
from qingshan.store.registry import ensure_grid, upsert_site

REQUIRED = ("code", "name", "kind", "latitude", "longitude")
GRID_COLUMNS = (
    "grid_code",
    "grid_name",
    "township_code",
    "township_name",
    "township_kind",
    "district_code",
    "district_name",
)
CHOICES = {
    "kind": SITE_KINDS,
    "air_class": AIR_CLASSES,
    "water_target_class": WATER_CLASSES,
    "waterbody_type": WATERBODY_TYPES,
    "noise_zone": NOISE_ZONES,
    "township_kind": ("township", "street"),
}
OPTIONAL_TEXT = ("air_class", "water_target_class", "waterbody_type", "noise_zone")
OWNED_KIND = "source_outlet"
"""The kind of site an enterprise owns (排污单位 and its outlets)."""
OWNER_ROLE = "enterprise"
"""The role limited to its company's outlets."""
OWNER_ACCOUNT_KIND = "enterprise"
"""The registry account kind that may own outlets: the company's one record in the store."""


def visible_sites(session: Session, user_id: int, role: str) -> frozenset[int] | None:
    """The site ids a user may see: an enterprise user only its company's outlets (possibly
    none); None (no limit) for every other role, whose role checks decide what they reach."""
    return outlets_of_user(session, user_id) if role == OWNER_ROLE else None


def owner_accounts(session: Session, codes: Collection[str]) -> dict[str, int]:
    """Registry account code → id, for the given codes that are enterprise accounts."""
    statement = select(RegistryAccount.code, RegistryAccount.id).where(
        RegistryAccount.code.in_(list(codes)), RegistryAccount.kind == OWNER_ACCOUNT_KIND
    )
    return {code: account_id for code, account_id in session.execute(statement)}


def set_outlet_owner(engine: Engine, site_code: str, owner: str | None, actor: str) -> None:
    """Make the enterprise account ``owner`` (None: nobody) the owner of outlet ``site_code``
    (audited by the session).

    Raises
    ------
    ValueError
        If there is no such site, it is not a source outlet, or ``owner`` is not an
        enterprise account of the registry; nothing is changed.
    """
    with writing(engine, actor) as session:
        site = session.scalar(select(Site).where(Site.code == site_code))
        if site is None:
            raise ValueError(f"no site {site_code!r}")
        if site.kind != OWNED_KIND:
            raise ValueError(f"site {site_code} is a {site.kind}; only source outlets have owners")
        owner_id = None
        if owner is not None:
            owner_id = owner_accounts(session, [owner]).get(owner)
            if owner_id is None:
                raise ValueError(f"no enterprise account {owner!r} in the registry")
        if site.owner_account_id != owner_id:
            site.owner_account_id = owner_id


def _text(frame: pl.DataFrame, column: str) -> pl.Series:
    if column not in frame.columns:
        return pl.Series(column, [None] * frame.height, dtype=pl.String)
    text = frame[column].cast(pl.String).str.strip_chars()
    return text.replace("", None)


def _check_choices(frame: pl.DataFrame, problems: ProblemCollector) -> None:
    for column, allowed in CHOICES.items():
        if column in frame.columns:
            values = _text(frame, column)
            bad = values.is_not_null() & ~values.is_in(allowed)
            problems.check(frame, bad, column, f"{{value!r}} is not one of {', '.join(allowed)}")


def _check_permit_limits(frame: pl.DataFrame, problems: ProblemCollector) -> list[dict[str, Any]]:
    limits: list[dict[str, Any]] = []
    for index, text in enumerate(_text(frame, "permit_limits")):
        try:
            value = json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            problems.add(f"not JSON: {error}", row=index + FIRST_DATA_ROW, column="permit_limits")
            value = {}
        if not isinstance(value, dict):
            problems.add(
                "must be a JSON object", row=index + FIRST_DATA_ROW, column="permit_limits"
            )
            value = {}
        limits.append(value)
    return limits


def load_sites(path: str | Path) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Read and check a sites table; raise ``InputError`` naming every bad cell."""
    frame = read_table(path)
    problems = ProblemCollector(path)
    require_columns(frame, REQUIRED, problems)
    if "grid_code" in frame.columns:
        require_columns(frame, GRID_COLUMNS, problems)
    problems.raise_if_any()
    frame = parse_numbers(frame, ["latitude"], problems, minimum=-90, maximum=90, what="latitude")
    frame = parse_numbers(
        frame, ["longitude"], problems, minimum=-180, maximum=180, what="longitude"
    )
    if "reporting_interval_minutes" in frame.columns:
        frame = parse_numbers(
            frame,
            ["reporting_interval_minutes"],
            problems,
            minimum=1,
            maximum=1440,
            what="interval",
        )
        minutes = frame["reporting_interval_minutes"]
        uneven = (1440 % minutes.fill_null(1).clip(lower_bound=1) != 0).fill_null(False)
        problems.check(
            frame,
            uneven,
            "reporting_interval_minutes",
            "interval {value} does not divide a day into whole intervals",
        )
    for column in REQUIRED:
        problems.check(frame, frame[column].is_null(), column, "a value is required")
    _check_choices(frame, problems)
    if "owner" in frame.columns:
        owned = _text(frame, "owner").is_not_null() & (_text(frame, "kind") != OWNED_KIND)
        problems.check(frame, owned, "owner", "only source outlets have an owner ({value})")
    limits = _check_permit_limits(frame, problems)
    problems.raise_if_any()
    return frame, limits


def _owner_ids(session: Session, path: str | Path, frame: pl.DataFrame) -> list[int | None]:
    """Each row's owner account id; InputError naming the rows whose owner is not an
    enterprise account of the registry."""
    owners = _text(frame, "owner")
    found = owner_accounts(session, set(owners.drop_nulls()))
    problems = ProblemCollector(path)
    unknown = owners.is_not_null() & ~owners.is_in(list(found))
    problems.check(frame, unknown, "owner", "no enterprise account {value!r} in the registry")
    problems.raise_if_any()
    return [found.get(owner) if owner is not None else None for owner in owners]


def import_sites(engine: Engine, path: str | Path, actor: str) -> int:
    """Create or update every site of the file in one transaction; returns the row count."""
    frame, limits = load_sites(path)
    texts = {column: _text(frame, column) for column in (*OPTIONAL_TEXT, *GRID_COLUMNS)}
    with writing(engine, actor) as session:
        owners = _owner_ids(session, path, frame) if "owner" in frame.columns else None
        for index, row in enumerate(frame.iter_rows(named=True)):
            grid_id = None
            if texts["grid_code"][index] is not None:
                grid = ensure_grid(
                    session,
                    district=(texts["district_code"][index], texts["district_name"][index]),
                    township=(
                        texts["township_code"][index],
                        texts["township_name"][index],
                        texts["township_kind"][index] or "township",
                    ),
                    grid=(texts["grid_code"][index], texts["grid_name"][index]),
                )
                grid_id = grid.id
            interval = row.get("reporting_interval_minutes")
            upsert_site(
                session,
                str(row["code"]).strip(),
                name=str(row["name"]).strip(),
                kind=str(row["kind"]).strip(),
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                grid_id=grid_id,
                permit_limits=limits[index],
                reporting_interval_minutes=int(interval) if interval is not None else 60,
                **{column: texts[column][index] for column in OPTIONAL_TEXT},
                **({"owner_account_id": owners[index]} if owners is not None else {}),
            )
    return frame.height


def _features(path: Path) -> list[Any]:
    """The features of a GeoJSON FeatureCollection file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError.single(path, f"not a readable GeoJSON file: {error}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InputError.single(path, "a GeoJSON FeatureCollection is needed")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise InputError.single(path, "the FeatureCollection has no features")
    return features


def load_grid_boundaries(path: str | Path, known: set[str]) -> dict[str, str]:
    """Grid code → boundary (GeoJSON geometry text) from a FeatureCollection, all checked.

    Each feature needs ``properties.grid_code`` naming a grid in ``known`` (grids come with
    ``sites import``), once only, and a Polygon or MultiPolygon geometry in WGS-84 degrees.
    Problems name the feature (1-based, reported as the row) and the field.
    """
    path = Path(path)
    problems = ProblemCollector(path)
    boundaries: dict[str, str] = {}
    for number, feature in enumerate(_features(path), 1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        code = str((properties or {}).get("grid_code") or "").strip()
        if not code:
            problems.add("feature without properties.grid_code", number, "grid_code")
            continue
        if code not in known:
            problems.add(f"no grid {code!r} (import its sites first)", number, "grid_code")
        if code in boundaries:
            problems.add(f"grid {code} has a second feature", number, "grid_code")
        geometry = json.dumps(feature.get("geometry"), ensure_ascii=False)
        try:
            read_polygon(geometry)
        except ValueError as error:
            problems.add(f"grid {code}: {error}", number, "geometry")
        boundaries[code] = geometry
    problems.raise_if_any()
    return boundaries


def import_grid_boundaries(engine: Engine, path: str | Path, actor: str) -> int:
    """Set the boundary of every grid in a GeoJSON file, all or nothing; returns the count."""
    with writing(engine, actor) as session:
        grids = {grid.code: grid for grid in session.scalars(select(Grid))}
        boundaries = load_grid_boundaries(path, set(grids))
        for code, boundary in boundaries.items():
            grids[code].boundary = boundary
    return len(boundaries)
