"""`safetynet`: the admin CLI (migrations, topics, API clients, users, policy)."""

from __future__ import annotations

import asyncio
import json

import typer

from safetynet_cli.keys import keys_app
from safetynet_cli.regions import regions_app
from safetynet_cli.users import users_app
from safetynet_core import kafka
from safetynet_core.db import migrate as run_migrations
from safetynet_core.policy import PolicyError, load_policy
from safetynet_core.service import ServiceInfo
from safetynet_core.settings import CoreSettings
from safetynet_intake.admin import clients_app
from safetynet_intake.grids_admin import grids_app
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_risk.info import SERVICE as RISK
from safetynet_workflow.info import SERVICE as WORKFLOW

SERVICES: dict[str, ServiceInfo] = {s.name: s for s in (INTAKE, RISK, WORKFLOW, NOTIFY)}

app = typer.Typer(help="SafetyNet administration.", no_args_is_help=True, pretty_exceptions_enable=False)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
policy_app = typer.Typer(help="The versioned risk and workflow policy.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(policy_app, name="policy")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(grids_app, name="grids")
app.add_typer(keys_app, name="keys")
app.add_typer(regions_app, name="regions")


@app.command()
def migrate(service: str = typer.Option("all", help="intake, risk, workflow, notify or all")) -> None:
    """Upgrade each service's schema to the latest migration."""
    settings = CoreSettings()
    chosen = SERVICES.values() if service == "all" else [SERVICES[service]]
    for info in chosen:
        run_migrations(settings, settings.db_schema or info.schema, info.migrations_dir)
        typer.echo(f"migrated {info.name} (schema {settings.db_schema or info.schema})")


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(None, help="defaults to SAFETYNET_TOPIC_PARTITIONS")) -> None:
    """Create the platform topics and dead-letter topics that do not exist yet."""
    settings = CoreSettings()
    names = kafka.standard_topics(settings)
    asyncio.run(kafka.ensure_topics(settings, names, partitions))
    typer.echo(f"topics ready: {', '.join(names)}")


@policy_app.command("show")
def policy_show() -> None:
    """Print the policy in force (SAFETYNET_POLICY_FILE or the default) as JSON."""
    settings = CoreSettings()
    policy = load_policy(settings.policy_file)
    typer.echo(json.dumps({"file": str(settings.policy_file), "fingerprint": policy.fingerprint,
                           **policy.model_dump(mode="json")}, ensure_ascii=False, indent=2))


@policy_app.command("validate")
def policy_validate(file: str) -> None:
    """Check a policy file against the schema; exit 1 with the errors when it does not match."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        typer.echo(f"invalid policy {file}:\n{exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"ok: policy {policy.version} ({policy.fingerprint}) from {file}")



@policy_app.command("backtest")
def policy_backtest(
    file: str,
    since: str = typer.Option(None, help="YYYY-MM-DD: only households assessed (as of) since this date"),
    limit: int = typer.Option(50, help="how many changed households to list"),
    as_json: bool = typer.Option(False, "--json", help="print the full report as JSON"),
) -> None:
    """Replay each household's stored history under FILE (nothing is written or published); list households
    whose case openings, levels or categories would change."""
    from datetime import date

    from safetynet_risk.admin import backtest_command

    try:
        policy_since = date.fromisoformat(since) if since else None
    except ValueError as exc:
        typer.echo(f"--since must be YYYY-MM-DD: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        backtest_command(file, policy_since, limit, as_json)
    except PolicyError as exc:
        typer.echo(f"invalid policy {file}:\n{exc}", err=True)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
