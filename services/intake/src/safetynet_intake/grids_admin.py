"""`safetynet grids import FILE`: assign households to grids (and grids to grid workers) from a CSV file."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import asyncpg
import typer

from safetynet_core.contracts import now_utc
from safetynet_core.settings import CoreSettings
from safetynet_intake.admin import _with_connection
from safetynet_intake.grids import import_grids, parse_grid_csv

grids_app = typer.Typer(help="Grids (网格) of the household registry.", no_args_is_help=True)


@grids_app.command("import")
def import_file(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="CSV: household_id,grid_id[,grid_worker_username]"
    ),
    by: str = typer.Option(None, help="who is importing (recorded with each move); default: the OS user"),
) -> None:
    """Move the listed households to their grids and re-publish their registry records; prints a JSON
    summary. Malformed lines abort the import before anything changes (exit 2)."""
    rows, errors = parse_grid_csv(file.read_text(encoding="utf-8-sig"))
    if errors:
        typer.echo(json.dumps({"errors": errors}, ensure_ascii=False), err=True)
        raise typer.Exit(2)
    topic = CoreSettings().topic_household_events
    actor = f"cli:{by or getpass.getuser()}"

    async def run(conn: asyncpg.Connection) -> dict[str, Any]:
        return await import_grids(conn, rows, moved_by=actor, topic=topic, now=now_utc())

    summary = _with_connection(run)
    typer.echo(json.dumps({"rows": len(rows), **summary}, ensure_ascii=False))
