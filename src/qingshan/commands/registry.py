"""``qingshan registry …``: the carbon-inclusion registry (碳普惠 / 碳惠通) for administrators.

Commands act as the registry administrator (role ``admin``) under the audit actor
``cli:<login>``: whoever can run them can already reach the database. Every write takes
``--key`` (idempotency key); without one a fresh key is made, so only an explicit key makes a
retried command safe to repeat.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from qingshan.commands.common import (
    InputArgument,
    JsonOption,
    OutputOption,
    emit_json,
    reporting_input_errors,
    reporting_refusals,
    stderr,
)
from qingshan.commands.db import store_engine
from qingshan.services import certificates, registry
from qingshan.services.database import cli_actor
from qingshan.services.registry import Principal
from qingshan.services.report_document import write_atomically
from qingshan.services.tables import write_table
from qingshan.store.engine import reading

app = typer.Typer(help="Carbon-inclusion registry: points, credits, retirements, compliance.")
accounts_app = typer.Typer(help="Registry accounts.")
actions_app = typer.Typer(help="Low-carbon actions (carbon points).")
app.add_typer(accounts_app, name="accounts")
app.add_typer(actions_app, name="actions")

KeyOption = Annotated[
    str | None, typer.Option("--key", help="Idempotency key (repeat it to retry safely).")
]
BlockOption = Annotated[int, typer.Option("--block", help="Block id (see `registry statement`).")]
QuantityOption = Annotated[int, typer.Option("--quantity", min=1, help="Tonnes CO2e.")]


def _admin() -> Principal:
    return Principal(actor=cli_actor(), role="admin")


def _run(as_json: bool, work: Any) -> dict[str, Any]:
    """Run a registry write; a refusal is printed (or emitted as JSON) with exit code 2."""
    with reporting_refusals(as_json):
        result: dict[str, Any] = work()
    return result


def _report(operation: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json({"ok": True, **operation})
        return
    serial = f" {operation['serial']}" if operation.get("serial") else ""
    certified = ""
    if operation.get("certificate"):  # a retirement or surrender
        certified = f" → {operation['certificate']} {operation['verify_path']}"
    typer.echo(
        f"{operation['kind']} #{operation['id']}:{serial} ({operation['quantity_t']} t){certified}"
    )


def _key(key: str | None) -> str:
    return key or f"cli-{uuid.uuid4()}"


@app.command("methodologies")
def methodologies_command(as_json: JsonOption = False) -> None:
    """List methodologies with their factors, caps, documents and sources."""
    rows = registry.list_methodologies(store_engine())
    if as_json:
        emit_json({"ok": True, "methodologies": rows})
        return
    for row in rows:
        factor = f"{row['grams_per_unit']:g} g/{row['unit']}" if row["grams_per_unit"] else "—"
        state = "" if row["active"] else " (inactive)"
        typer.echo(f"{row['code']}\t{row['scheme']}\t{factor}\t{row['name']}{state}")


@accounts_app.command("add")
def accounts_add_command(
    code: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="Person or organisation name.")],
    kind: Annotated[str, typer.Option(help="individual, enterprise or project_owner.")],
    user: Annotated[str | None, typer.Option(help="User who acts on this account.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Open an account."""
    engine = store_engine()
    account = _run(
        as_json,
        lambda: registry.open_account(
            engine, _admin(), code=code, name=name, kind=kind, username=user
        ),
    )
    if as_json:
        emit_json({"ok": True, **account})
    else:
        typer.echo(f"account {code} ({kind}) opened")


@accounts_app.command("list")
def accounts_list_command(as_json: JsonOption = False) -> None:
    """List accounts with their points balances."""
    rows = registry.list_accounts(store_engine())
    if as_json:
        emit_json({"ok": True, "accounts": rows})
        return
    for row in rows:
        typer.echo(f"{row['code']}\t{row['kind']}\t{row['points']:.2f} points\t{row['name']}")


@actions_app.command("import")
def actions_import_command(
    input_path: InputArgument,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record actions from a table: ``account, methodology, quantity, time, key`` (Beijing
    time) and optional ``evidence``. Bad cells: exit 2, nothing recorded. Each action is then
    accepted, rejected with the reason (cap, inactive methodology) or a duplicate."""
    engine = store_engine()
    with reporting_input_errors(as_json):
        rows = registry.load_actions(input_path, engine)
    results = _run(as_json, lambda: {"rows": registry.record_actions(engine, _admin(), rows)})
    table = pl.DataFrame(results["rows"], schema_overrides={"reason": pl.String})
    if output is not None:
        write_table(table, output)
    counts = Counter(row["status"] for row in results["rows"])
    if as_json:
        emit_json({"ok": True, "output": str(output) if output else None, **counts})
    elif output is None:
        typer.echo(table.write_csv(), nl=False)
    else:
        typer.echo(", ".join(f"{count} {status}" for status, count in sorted(counts.items())))


@app.command("issue")
def issue_command(
    methodology: Annotated[str, typer.Option(help="Methodology code, e.g. AR-CQCM-001.")],
    project: Annotated[str, typer.Option(help="Project code (letters, digits, _ .).")],
    project_name: Annotated[str, typer.Option(help="Project name.")],
    vintage: Annotated[int, typer.Option(help="Vintage year.")],
    quantity: QuantityOption,
    to: Annotated[str, typer.Option("--to", help="Receiving account code.")],
    verification: Annotated[str, typer.Option(help="Verification report reference.")],
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue verified credits as one serial block."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.issue(
            engine,
            _admin(),
            key=_key(key),
            methodology=methodology,
            project_code=project,
            project_name=project_name,
            vintage=vintage,
            quantity=quantity,
            to_account=to,
            verification=verification,
        ),
    )
    _report(operation, as_json)


@app.command("issue-actions")
def issue_actions_command(
    methodology: Annotated[str, typer.Option(help="Action methodology, e.g. CQ-BUS.")],
    first: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (Beijing).")
    ],
    last: Annotated[datetime, typer.Option("--until", formats=["%Y-%m-%d"], help="Last day.")],
    project: Annotated[str, typer.Option(help="Code of the aggregate project, e.g. BUS2403.")],
    to: Annotated[str, typer.Option("--to", help="Receiving account.")] = "SYS-PLATFORM",
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a period's unissued individual reductions as credits (whole tonnes)."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.issue_from_actions(
            engine, _admin(), key=_key(key), methodology=methodology, first_day=first.date(),
            last_day=last.date(), project_code=project, to_account=to,
        ),
    )  # fmt: skip
    _report(operation, as_json)


@app.command("transfer")
def transfer_command(
    block: BlockOption,
    quantity: QuantityOption,
    source: Annotated[str, typer.Option("--from", help="Sending account code.")],
    to: Annotated[str, typer.Option("--to", help="Receiving account code.")],
    price: Annotated[
        float | None, typer.Option(help="Price [yuan/t]: records a bilateral trade.")
    ] = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move credits between accounts (a trade when --price is given)."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.transfer(
            engine,
            _admin(),
            key=_key(key),
            block_id=block,
            quantity=quantity,
            from_account=source,
            to_account=to,
            price_yuan_per_t=price,
        ),
    )
    _report(operation, as_json)


@app.command("retire")
def retire_command(
    block: BlockOption,
    quantity: QuantityOption,
    source: Annotated[str, typer.Option("--from", help="Account retiring the credits.")],
    purpose: Annotated[str, typer.Option(help="碳中和 or 自愿注销.")],
    beneficiary: Annotated[str, typer.Option(help="Event, organisation or person.")],
    note: Annotated[str, typer.Option(help="Free text on the certificate.")] = "",
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retire credits irreversibly; prints the serial, certificate number and verify path."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.retire(
            engine,
            _admin(),
            key=_key(key),
            block_id=block,
            quantity=quantity,
            from_account=source,
            purpose=purpose,
            beneficiary=beneficiary,
            note=note,
        ),
    )
    _report(operation, as_json)


@app.command("obligation")
def obligation_command(
    account: Annotated[str, typer.Argument(help="Enterprise account code.")],
    year: Annotated[int, typer.Option(help="Compliance year.")],
    emissions: Annotated[int, typer.Option(help="Verified emissions [t CO2e].")],
    scheme: Annotated[str, typer.Option(help="Compliance scheme code.")] = "CN-ETS",
    as_json: JsonOption = False,
) -> None:
    """Record verified emissions; prints the offset cap (CN-ETS: 5 %)."""
    engine = store_engine()
    obligation = _run(
        as_json,
        lambda: registry.add_obligation(
            engine,
            _admin(),
            account_code=account,
            scheme=scheme,
            year=year,
            verified_emissions_t=emissions,
        ),
    )
    if as_json:
        emit_json({"ok": True, **obligation})
    else:
        typer.echo(f"obligation #{obligation['id']}: offsets up to {obligation['offset_cap_t']} t")


@app.command("surrender")
def surrender_command(
    block: BlockOption,
    quantity: QuantityOption,
    source: Annotated[str, typer.Option("--from", help="Enterprise account code.")],
    obligation: Annotated[int, typer.Option(help="Obligation id (`registry obligation`).")],
    note: Annotated[str, typer.Option(help="Free text.")] = "",
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Use credits against a compliance obligation (履约抵销), within the offset cap; prints the
    serial, certificate number and verify path (`registry certificate` writes the PDF)."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.surrender(
            engine,
            _admin(),
            key=_key(key),
            block_id=block,
            quantity=quantity,
            from_account=source,
            obligation_id=obligation,
            note=note,
        ),
    )
    _report(operation, as_json)


@app.command("cancel")
def cancel_command(
    block: BlockOption,
    quantity: QuantityOption,
    reason: Annotated[str, typer.Option(help="Why the units are cancelled.")],
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel credits (correction, reversal) with a reason."""
    engine = store_engine()
    operation = _run(
        as_json,
        lambda: registry.cancel(
            engine, _admin(), key=_key(key), block_id=block, quantity=quantity, reason=reason
        ),
    )
    _report(operation, as_json)


@app.command("statement")
def statement_command(
    account: Annotated[str, typer.Argument(help="Account code.")],
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    """Points, holdings and the event timeline of an account (-o writes the timeline)."""
    engine = store_engine()
    found = _run(as_json, lambda: registry.statement(engine, _admin(), account))
    if output is not None:
        timeline = [entry | {"details": str(entry["details"])} for entry in found["timeline"]]
        write_table(pl.DataFrame(timeline, infer_schema_length=None), output)
    if as_json:
        emit_json({"ok": True, **found})
        return
    head = found["account"]
    typer.echo(f"{head['code']} {head['name']} ({head['kind']}): {head['points']:.2f} points")
    for holding in found["holdings"]:
        typer.echo(
            f"  block {holding['block_id']}\t{holding['serial']}\t{holding['quantity_t']} t\t"
            f"{holding['status']}"
        )
    if output is None:
        for entry in found["timeline"]:
            typer.echo(f"  {entry['at']}\t{entry['kind']}\t{entry['serial'] or ''}")


@app.command("serial")
def serial_command(serial: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """Where the units of a serial range are now."""
    engine = store_engine()
    found = _run(as_json, lambda: {"blocks": registry.lookup_serial(engine, serial)})
    if as_json:
        emit_json({"ok": True, **found})
        return
    for block in found["blocks"]:
        typer.echo(f"{block['serial']}\t{block['status']}\t{block['account']}")


@app.command("supply")
def supply_command(as_json: JsonOption = False) -> None:
    """Tonnes issued, held, frozen, retired and cancelled per issuance."""
    rows = registry.supply(store_engine())
    if as_json:
        emit_json({"ok": True, "issuances": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['serial_prefix']}\tissued {row['issued_t']}\theld {row['held']}\t"
            f"frozen {row['frozen']}\tretired {row['retired']}\tcancelled {row['cancelled']}"
        )


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The workbook (.xlsx).")],
    as_json: JsonOption = False,
) -> None:
    """Write the whole ledger as XLSX: accounts, methodologies, issuances, blocks with serial
    ranges, retirements and the journal."""
    rows = _run(as_json, lambda: registry.export_ledger(store_engine(), output))
    if as_json:
        emit_json({"ok": True, "path": str(output), "rows": rows})
    else:
        counts = ", ".join(f"{count} {sheet}" for sheet, count in rows.items())
        typer.echo(f"ledger written to {output}: {counts}")


@app.command("verify")
def verify_command(as_json: JsonOption = False) -> None:
    """Re-check every ledger invariant; exit 1 if any is broken."""
    problems = registry.verify(store_engine(), cli_actor())
    if as_json:
        emit_json({"ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            stderr.print(problem, markup=False, highlight=False)
    else:
        typer.echo(
            "ledger sound: journal chain and balance, partitions, sinks, points and "
            "obligations check out"
        )
    if problems:
        raise typer.Exit(1)


@app.command("certificate")
def certificate_command(
    retirement: Annotated[
        str, typer.Argument(metavar="RETIREMENT", help="Retirement id, certificate number or code.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The certificate PDF.")],
    base_url: Annotated[
        str, typer.Option(help="Where the platform is reached: <base-url>/verify/<code>.")
    ] = "http://127.0.0.1:8000",
    as_json: JsonOption = False,
) -> None:
    """Write a retirement's certificate (PDF with its SHA-256, verification link and QR code)."""
    with reading(store_engine()) as session, reporting_refusals(as_json):
        found = certificates.certificate_for(session, retirement)
    write_atomically(output, certificates.certificate_pdf(found, base_url))
    record = found.record()
    if as_json:
        emit_json({**record, "output": str(output)})
    else:
        typer.echo(f"{found.number} {found.sha256} → {output}")
