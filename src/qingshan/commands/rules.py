"""``qingshan rules …``: alarm rules as data — list, show with history, add, change, types."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from qingshan.alerting.catalogue import RULE_TYPES
from qingshan.commands.common import EXIT_BAD_INPUT, JsonOption, emit_json, stderr
from qingshan.commands.db import store_engine
from qingshan.services import rules as rule_service
from qingshan.services.database import cli_actor
from qingshan.store.engine import reading, writing

app = typer.Typer(help="Alarm rules (预警规则): versioned, audited.", no_args_is_help=True)

JsonText = Annotated[
    str | None, typer.Option(help='JSON object, e.g. \'{"parameter": "pm25", "for_periods": 3}\'.')
]


def _json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


def _fail(error: Exception, as_json: bool) -> typer.Exit:
    message = str(error.args[0]) if error.args else str(error)
    if as_json:
        emit_json({"ok": False, "error": message})
    else:
        stderr.print(f"[bold red]{message}[/]")
    return typer.Exit(EXIT_BAD_INPUT)


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json({"ok": True, **data})
        return
    typer.echo(
        f"{data['code']} v{data['version']} {data['type']} {data['severity']} "
        f"({data['colour']}) {'enabled' if data['enabled'] else 'disabled'}: {data['name']}"
    )
    typer.echo(f"  parameters {json.dumps(data['parameters'], ensure_ascii=False)}")
    typer.echo(f"  scope {json.dumps(data['scope'], ensure_ascii=False)}")


@app.command("types")
def types_command(as_json: JsonOption = False) -> None:
    """The rule types with their required parameters and defaults."""
    types = {
        name: {"description": t.description, "required": t.required, "defaults": t.defaults}
        for name, t in RULE_TYPES.items()
    }
    if as_json:
        emit_json({"ok": True, "types": types})
        return
    for name, spec in types.items():
        typer.echo(f"{name}: {spec['description']}; needs {list(spec['required'])}")


@app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """Every rule in its current version."""
    with reading(store_engine()) as session:
        found = [rule_service.rule_as_dict(rule) for rule in rule_service.list_rules(session)]
    if as_json:
        emit_json({"ok": True, "rules": found})
        return
    for data in found:
        _show(data, as_json=False)


@app.command("show")
def show_command(code: str, as_json: JsonOption = False) -> None:
    """One rule with all its versions."""
    try:
        with reading(store_engine()) as session:
            data = rule_service.rule_as_dict(rule_service.get_rule(session, code))
            history = [
                rule_service.rule_as_dict(v) for v in rule_service.rule_history(session, code)
            ]
    except rule_service.RuleNotFound as error:
        raise _fail(error, as_json) from None
    if as_json:
        emit_json({"ok": True, **data, "versions": history})
        return
    _show(data, as_json=False)
    for version in history:
        typer.echo(f"  v{version['version']} saved {version['saved_at']} by {version['saved_by']}")


@app.command("add")
def add_command(
    code: str,
    rule_type: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(RULE_TYPES)}.")],
    severity: Annotated[
        str, typer.Option(help="critical/major/minor/warning or red/orange/yellow/blue.")
    ],
    name: Annotated[
        str | None, typer.Option(help="Name shown to people (default: the code).")
    ] = None,
    parameters: JsonText = None,
    scope: Annotated[
        str | None,
        typer.Option(help='JSON: {"site_kinds": [...], "grids": [...], "sites": [...]}.'),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a rule (version 1)."""
    actor = cli_actor()
    try:
        with writing(store_engine(), actor) as session:
            rule = rule_service.create_rule(
                session,
                code=code,
                name=name or code,
                rule_type=rule_type,
                parameters=_json_object(parameters, "--parameters") or {},
                scope=_json_object(scope, "--scope"),
                severity=severity,
                actor=actor,
            )
            data = rule_service.rule_as_dict(rule)
    except ValueError as error:
        raise _fail(error, as_json) from None
    _show(data, as_json)


@app.command("set")
def set_command(
    code: str,
    severity: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
    parameters: JsonText = None,
    scope: Annotated[str | None, typer.Option(help="JSON scope (replaces the old one).")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a rule; the result is saved as its next version."""
    actor = cli_actor()
    try:
        with writing(store_engine(), actor) as session:
            rule = rule_service.change_rule(
                session,
                code,
                actor=actor,
                severity=severity,
                name=name,
                parameters=_json_object(parameters, "--parameters"),
                scope=_json_object(scope, "--scope"),
                enabled=enabled,
            )
            data = rule_service.rule_as_dict(rule)
    except (ValueError, rule_service.RuleNotFound) as error:
        raise _fail(error, as_json) from None
    _show(data, as_json)
