"""Alarm rules as data: create, change (every change is a new version), list, history.

A rule's current state is in ``rules``; every saved state, the first included, is also a row
of ``rule_versions`` (who saved it and when), and every write is in the audit log. Alarms
record the rule version that opened them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingshan.alerting.catalogue import (
    SEVERITIES,
    check_ladder_above,
    severity_of,
    validate_parameters,
)
from qingshan.store.models import SITE_KINDS, Rule, RuleVersion
from qingshan.store.types import utc_now

SCOPE_KEYS = ("site_kinds", "grids", "sites")
VERSIONED_FIELDS = ("name", "type", "parameters", "scope", "severity", "enabled")


class RuleNotFound(LookupError):
    """No rule with this code."""


def clean_scope(scope: dict[str, Any] | None) -> dict[str, list[str]]:
    """The scope with its three lists (empty = no restriction); unknown keys refused."""
    scope = scope or {}
    unknown = sorted(set(scope) - set(SCOPE_KEYS))
    if unknown:
        raise ValueError(f"scope has no {unknown}; scope keys: {', '.join(SCOPE_KEYS)}")
    cleaned = {key: sorted({str(item) for item in scope.get(key) or []}) for key in SCOPE_KEYS}
    bad_kinds = sorted(set(cleaned["site_kinds"]) - set(SITE_KINDS))
    if bad_kinds:
        raise ValueError(f"unknown site kinds {bad_kinds}; kinds: {', '.join(SITE_KINDS)}")
    return cleaned


def _snapshot(rule: Rule, actor: str) -> RuleVersion:
    return RuleVersion(
        rule=rule,
        version=rule.version,
        saved_at=rule.updated_at,
        saved_by=actor,
        **{name: getattr(rule, name) for name in VERSIONED_FIELDS},
    )


def create_rule(
    session: Session,
    *,
    code: str,
    name: str,
    rule_type: str,
    parameters: dict[str, Any],
    scope: dict[str, Any] | None,
    severity: str,
    actor: str,
    enabled: bool = True,
) -> Rule:
    """A new rule at version 1 (parameters completed with their defaults and checked)."""
    if session.scalar(select(Rule.id).where(Rule.code == code)) is not None:
        raise ValueError(f"a rule {code!r} exists already")
    checked = validate_parameters(rule_type, parameters)
    check_ladder_above(severity_of(severity), checked)
    rule = Rule(
        code=code,
        name=name,
        type=rule_type,
        parameters=checked,
        scope=clean_scope(scope),
        severity=severity_of(severity),
        enabled=enabled,
        version=1,
        updated_at=utc_now(),
        updated_by=actor,
    )
    session.add(rule)
    session.add(_snapshot(rule, actor))
    session.flush()
    return rule


def get_rule(session: Session, code: str) -> Rule:
    rule = session.scalar(select(Rule).where(Rule.code == code))
    if rule is None:
        raise RuleNotFound(f"no rule {code!r}")
    return rule


def change_rule(session: Session, code: str, *, actor: str, **changes: Any) -> Rule:
    """Save changed fields as the rule's next version; unchanged values save nothing.

    ``changes`` may hold ``name, parameters, scope, severity, enabled`` (the type of a rule
    is fixed: a different condition is a different rule). ``parameters`` replaces the whole
    parameter set (defaults filled in again).
    """
    rule = get_rule(session, code)
    allowed = set(VERSIONED_FIELDS) - {"type"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"cannot change {unknown}; changeable: {sorted(allowed)}")
    given = {name: value for name, value in changes.items() if value is not None}
    if "parameters" in given:
        given["parameters"] = validate_parameters(rule.type, given["parameters"])
    if "scope" in given:
        given["scope"] = clean_scope(given["scope"])
    if "severity" in given:
        given["severity"] = severity_of(given["severity"])
    check_ladder_above(
        given.get("severity", rule.severity), given.get("parameters", rule.parameters)
    )
    changed = {name: value for name, value in given.items() if getattr(rule, name) != value}
    if not changed:
        return rule
    for name, value in changed.items():
        setattr(rule, name, value)
    rule.version += 1
    rule.updated_at = utc_now()
    rule.updated_by = actor
    session.add(_snapshot(rule, actor))
    session.flush()
    return rule


def list_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).order_by(Rule.code)))


def rule_history(session: Session, code: str) -> list[RuleVersion]:
    return list(get_rule(session, code).versions)


def rule_as_dict(rule: Rule | RuleVersion) -> dict[str, Any]:
    """A rule (or one of its versions) as plain data for the API and ``--json``."""
    data: dict[str, Any] = {name: getattr(rule, name) for name in VERSIONED_FIELDS}
    data["colour"] = SEVERITIES[rule.severity]
    data["version"] = rule.version
    if isinstance(rule, Rule):
        data.update(
            code=rule.code, updated_at=rule.updated_at.isoformat(), updated_by=rule.updated_by
        )
    else:
        data.update(saved_at=rule.saved_at.isoformat(), saved_by=rule.saved_by)
    return data
