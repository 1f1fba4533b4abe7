"""The ``qingshan`` command line (Typer): one group of commands per domain."""

from __future__ import annotations

import typer

from qingshan import __version__
from qingshan.commands import (
    air,
    alarms,
    carbon,
    cases,
    db,
    demo,
    gep,
    hj212,
    ingest,
    market,
    mqtt,
    noise,
    registry,
    reports,
    rules,
    serve,
    sites,
    users,
    water,
)

app = typer.Typer(
    name="qingshan",
    help="青山 Qingshan — environmental monitoring, evaluation, carbon and GEP platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(air.app, name="air")
app.add_typer(noise.app, name="noise")
app.add_typer(water.app, name="water")
app.add_typer(carbon.app, name="carbon")
app.add_typer(gep.app, name="gep")
app.add_typer(hj212.app, name="hj212")
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(sites.app, name="sites")
app.add_typer(rules.app, name="rules")
app.add_typer(alarms.app, name="alarms")
app.add_typer(cases.app, name="cases")
app.add_typer(registry.app, name="registry")
app.add_typer(reports.app, name="reports")
app.add_typer(market.app, name="market")
app.add_typer(mqtt.app, name="mqtt")
app.command("ingest")(ingest.ingest_command)
app.command("serve")(serve.serve_command)
app.command("demo")(demo.demo_command)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)
