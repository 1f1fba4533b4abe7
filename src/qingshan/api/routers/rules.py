"""Alarm rules: list, read, create, change (each change a new version), disable, history.

Admins and analysts manage rules; grid officers may read them (to know why an alarm fired).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from qingshan.alerting.catalogue import RULE_TYPES
from qingshan.api.deps import Caller, EngineDep, ReadSession, require_roles
from qingshan.services import rules as rule_service
from qingshan.store.engine import writing

router = APIRouter(prefix="/rules", tags=["rules 预警规则"])

Managers = Annotated[Caller, Depends(require_roles("analyst"))]
Readers = Annotated[Caller, Depends(require_roles("analyst", "grid_officer"))]


class RuleIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(description=f"One of: {', '.join(RULE_TYPES)}.")
    parameters: dict[str, Any] = Field(default_factory=dict)
    scope: dict[str, list[str]] = Field(
        default_factory=dict, description="site_kinds, grids (codes), sites (codes)."
    )
    severity: str = Field(description="critical/major/minor/warning or red/orange/yellow/blue.")
    enabled: bool = True


class RuleChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    parameters: dict[str, Any] | None = None
    scope: dict[str, list[str]] | None = None
    severity: str | None = None
    enabled: bool | None = None


def _bad_request(error: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))


def _not_found(error: LookupError) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0]))


@router.get("/types")
def rule_types(_caller: Readers) -> list[dict[str, Any]]:
    """The rule types, what they judge, their required parameters and defaults."""
    return [
        {
            "type": rule.name,
            "description": rule.description,
            "site_kinds": rule.site_kinds,
            "required": rule.required,
            "defaults": rule.defaults,
        }
        for rule in RULE_TYPES.values()
    ]


@router.get("")
def list_rules(_caller: Readers, session: ReadSession) -> list[dict[str, Any]]:
    """Every rule in its current version."""
    return [rule_service.rule_as_dict(rule) for rule in rule_service.list_rules(session)]


@router.get("/{code}")
def get_rule(code: str, _caller: Readers, session: ReadSession) -> dict[str, Any]:
    try:
        return rule_service.rule_as_dict(rule_service.get_rule(session, code))
    except rule_service.RuleNotFound as error:
        raise _not_found(error) from None


@router.get("/{code}/versions")
def rule_versions(code: str, _caller: Readers, session: ReadSession) -> list[dict[str, Any]]:
    """Every saved version of the rule, oldest first."""
    try:
        return [rule_service.rule_as_dict(v) for v in rule_service.rule_history(session, code)]
    except rule_service.RuleNotFound as error:
        raise _not_found(error) from None


@router.post("", status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleIn, caller: Managers, engine: EngineDep) -> dict[str, Any]:
    """Create a rule (version 1); parameters are completed with their defaults."""
    try:
        with writing(engine, caller.actor) as session:
            rule = rule_service.create_rule(
                session,
                code=body.code,
                name=body.name,
                rule_type=body.type,
                parameters=body.parameters,
                scope=body.scope,
                severity=body.severity,
                enabled=body.enabled,
                actor=caller.actor,
            )
            return rule_service.rule_as_dict(rule)
    except ValueError as error:
        raise _bad_request(error) from None


def _change(code: str, caller: Caller, engine: Any, **changes: Any) -> dict[str, Any]:
    try:
        with writing(engine, caller.actor) as session:
            rule = rule_service.change_rule(session, code, actor=caller.actor, **changes)
            return rule_service.rule_as_dict(rule)
    except rule_service.RuleNotFound as error:
        raise _not_found(error) from None
    except ValueError as error:
        raise _bad_request(error) from None


@router.patch("/{code}")
def change_rule(code: str, body: RuleChange, caller: Managers, engine: EngineDep) -> dict[str, Any]:
    """Change a rule: the result is its next version (nothing changes: no new version)."""
    return _change(code, caller, engine, **body.model_dump(exclude_none=True))


@router.delete("/{code}")
def disable_rule(code: str, caller: Managers, engine: EngineDep) -> dict[str, Any]:
    """Disable a rule (a new version with ``enabled = false``; history and alarms stay)."""
    return _change(code, caller, engine, enabled=False)
