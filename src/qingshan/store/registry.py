"""Sites, grids and parameters: the registry readings refer to.

Every function writes through the ORM in the caller's session, so each change is audited by
:mod:`qingshan.store.audit`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.store.models import (
    Device,
    District,
    Grid,
    Parameter,
    ParameterCode,
    Site,
    Township,
)


def reference_parameters() -> list[dict[str, Any]]:
    """The canonical parameters shipped in ``store/data/parameters.toml``."""
    text = resources.files("qingshan.store.data").joinpath("parameters.toml").read_text("utf-8")
    return list(tomllib.loads(text)["parameter"])


def seed_parameters(session: Session) -> int:
    """Add the shipped parameters and codes that are missing; never changes existing ones.

    Returns the number of parameters added.
    """
    existing = {parameter.key: parameter for parameter in session.scalars(select(Parameter))}
    known_codes = {
        (code.scheme, code.code, code.site_kind) for code in session.scalars(select(ParameterCode))
    }
    added = 0
    for entry in reference_parameters():
        parameter = existing.get(entry["key"])
        if parameter is None:
            fields = ("key", "name_zh", "name_en", "unit", "medium")
            parameter = Parameter(**{field: entry[field] for field in fields})
            session.add(parameter)
            added += 1
        for scheme, code, site_kind in entry["codes"]:
            if (scheme, code, site_kind or None) not in known_codes:
                parameter.codes.append(
                    ParameterCode(scheme=scheme, code=code, site_kind=site_kind or None)
                )
    session.flush()
    return added


@dataclass(frozen=True)
class ParameterMatch:
    parameter_id: int
    factor: float


class ParameterIndex:
    """Finds a parameter by canonical key or by external code (``a34004``), per site kind."""

    def __init__(self, session: Session) -> None:
        self.by_key = {
            key: pid for key, pid in session.execute(select(Parameter.key, Parameter.id))
        }
        rows = session.execute(
            select(
                ParameterCode.scheme,
                ParameterCode.code,
                ParameterCode.site_kind,
                ParameterCode.parameter_id,
                ParameterCode.factor,
            )
        )
        self.by_code = {
            (scheme, code, site_kind): ParameterMatch(pid, factor)
            for scheme, code, site_kind, pid, factor in rows
        }

    def match(self, name: str, site_kind: str, scheme: str = "hj212") -> ParameterMatch | None:
        """The parameter called ``name`` (a key, else a code of ``scheme``) at a site of a kind."""
        if name in self.by_key:
            return ParameterMatch(self.by_key[name], 1.0)
        return self.by_code.get((scheme, name, site_kind)) or self.by_code.get((scheme, name, None))


def site_index(session: Session) -> dict[str, tuple[int, str]]:
    """Site code → (site id, site kind)."""
    return {
        code: (sid, kind)
        for code, sid, kind in session.execute(select(Site.code, Site.id, Site.kind))
    }


def ensure_grid(
    session: Session,
    *,
    district: tuple[str, str],
    township: tuple[str, str, str],
    grid: tuple[str, str],
) -> Grid:
    """The grid with this code, creating its district and township when they are new.

    ``district`` is (code, name), ``township`` (code, name, kind), ``grid`` (code, name).
    """
    found_grid = session.scalar(select(Grid).where(Grid.code == grid[0]))
    if found_grid is not None:
        return found_grid
    found_district = session.scalar(select(District).where(District.code == district[0]))
    if found_district is None:
        found_district = District(code=district[0], name=district[1])
        session.add(found_district)
    found_township = session.scalar(select(Township).where(Township.code == township[0]))
    if found_township is None:
        found_township = Township(
            code=township[0], name=township[1], kind=township[2], district=found_district
        )
        session.add(found_township)
    new_grid = Grid(code=grid[0], name=grid[1], township=found_township, responsible=[])
    session.add(new_grid)
    session.flush()
    return new_grid


def upsert_site(session: Session, code: str, **fields: Any) -> Site:
    """Create the site ``code`` or update the fields given (only changed fields are audited)."""
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        site = Site(code=code, **fields)
        session.add(site)
    else:
        for name, value in fields.items():
            if getattr(site, name) != value:
                setattr(site, name, value)
    session.flush()
    return site


def upsert_device(
    session: Session,
    mn: str,
    *,
    site_id: int,
    password: str,
    protocol_version: str = "2017",
    crc_variant: str = "appendix_a",
) -> Device:
    """Register the HJ 212 data acquisition unit ``mn`` for a site, or update its settings."""
    fields = {
        "site_id": site_id,
        "password": password,
        "protocol_version": protocol_version,
        "crc_variant": crc_variant,
    }
    device = session.scalar(select(Device).where(Device.mn == mn))
    if device is None:
        device = Device(mn=mn, **fields)
        session.add(device)
    else:
        for name, value in fields.items():
            if getattr(device, name) != value:
                setattr(device, name, value)
    session.flush()
    return device
