"""One Jinja2 environment for every page, the navigation, and the language of each request.

Templates translate with ``{{ _("…") }}`` (Jinja2's i18n extension bound to
:mod:`qingshan.web.i18n`). Charts are ECharts option objects built in Python and embedded as
JSON (``{{ option|tojson }}`` in a ``<script type="application/json">``), which
``static/charts.js`` hands to ECharts: pages make no further requests to draw them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from qingshan import __version__
from qingshan.api.deps import ADMIN, Caller
from qingshan.web.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    N_,
    current_locale,
    gettext_,
    ngettext_,
    set_locale,
)
from qingshan.web.session import LANGUAGE_COOKIE, PUBLIC, csrf_token, role_of


@dataclass(frozen=True)
class NavItem:
    """An entry of the main navigation and the roles that see it (admins see everything)."""

    path: str
    label: str
    roles: frozenset[str]


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names)


STAFF = _roles("analyst", "grid_officer")
NAVIGATION = (
    NavItem("/", N_("Overview"), _roles(PUBLIC, "analyst", "grid_officer", "enterprise")),
    NavItem("/air", N_("Air"), STAFF),
    NavItem("/water", N_("Water"), STAFF),
    NavItem("/noise", N_("Noise"), STAFF),
    NavItem("/sources", N_("Sources"), _roles("analyst", "grid_officer", "enterprise")),
    NavItem("/alarms", N_("Alarms"), _roles("analyst", "grid_officer", "enterprise")),
    NavItem("/cases", N_("Cases"), STAFF),
    NavItem("/carbon", N_("Carbon"), _roles("analyst")),
    NavItem("/registry", N_("Registry"), _roles(PUBLIC, "analyst", "enterprise")),
    NavItem("/gep", N_("GEP"), _roles("analyst")),
    NavItem("/reports", N_("Reports"), STAFF),
)


ROLE_LABELS = {
    PUBLIC: N_("Public"),
    "admin": N_("Administrator"),
    "analyst": N_("Analyst"),
    "grid_officer": N_("Grid officer"),
    "enterprise": N_("Enterprise"),
    "device": N_("Device"),
}
SITE_KIND_LABELS = {
    "air_station": N_("Air station"),
    "water_section": N_("Water section"),
    "noise_point": N_("Noise point"),
    "source_outlet": N_("Source outlet"),
    "energy_meter": N_("Energy meter"),
}


def grid_choices(grids: Iterable[Any]) -> dict[str, str]:
    """Grid code → "name (code)", the options of a grid filter."""
    return {grid.code: f"{grid.name} ({grid.code})" for grid in grids}


def navigation_for(role: str) -> list[NavItem]:
    """The navigation entries ``role`` may open."""
    return [item for item in NAVIGATION if role == ADMIN or role in item.roles]


def number(value: float | None, digits: int = 0, sign: bool = False) -> str:
    """A number with thousands separators, or "—" where there is none (never a fake zero)."""
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:{'+' if sign else ''},.{digits}f}"


def significant(value: float | None, digits: int = 4) -> str:
    """A measured value to ``digits`` significant figures (an alarm's peak may be a mean such as
    4.202653846153845, which no instrument reports), or "—" where there is none."""
    if value is None or value != value:  # None or NaN
        return "—"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


SYSTEM_ACTOR = N_("the platform (automatic)")


def actor_name(actor: str) -> str:
    """Who did it, as a reader names them: the audit actor ``user:<username>`` is the username;
    ``system:<task>`` is the platform working on its own (escalation, alerting)."""
    kind, _, name = actor.partition(":")
    if kind == "user" and name:
        return name
    if kind == "system":
        return gettext_(SYSTEM_ACTOR)
    return actor


def yuan(fen: int | None) -> str:
    """Integer fen as yuan with two decimals and thousands separators (``240800`` →
    ``"2,408.00"``), exact: integer arithmetic, no float; "—" where there is no amount."""
    if fen is None:
        return "—"
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole:,}.{cents:02d}"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("qingshan.web", "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = number
    environment.filters["significant"] = significant
    environment.filters["actor_name"] = actor_name
    environment.filters["yuan"] = yuan
    environment.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
    return environment


TEMPLATES = _environment()


def request_locale(request: Request) -> str:
    """``?lang=`` of this request, else the language cookie, else 简体中文."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


async def use_request_locale(request: Request) -> None:
    """A router dependency: the request's language from its start, so the chart options and
    labels a page builds before :func:`render` are translated too. (Async: it runs in the
    request's own context, which the page function's worker thread inherits.)"""
    set_locale(request_locale(request))


def render(
    request: Request,
    template: str,
    caller: Caller | None,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page ``template`` in the request's language, with navigation for ``caller``'s role."""
    set_locale(request_locale(request))
    page = TEMPLATES.get_template(template).render(
        request=request,
        caller=caller,
        role=role_of(caller),
        navigation=navigation_for(role_of(caller)),
        locale=current_locale(),
        locales=LOCALES,
        csrf=csrf_token(request),
        role_labels=ROLE_LABELS,
        site_kind_labels=SITE_KIND_LABELS,
        version=__version__,
        **(context or {}),
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(
            LANGUAGE_COOKIE, current_locale(), max_age=365 * 24 * 3600, samesite="lax"
        )
    return response
