"""`safetynet regions load FILE.csv`: add a county (or rename regions) in the workflow's region directory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from safetynet_workflow.regions.admin import load_regions
from safetynet_workflow.regions.models import RegionFileError
from safetynet_workflow.settings import Settings as WorkflowSettings

regions_app = typer.Typer(help="The region directory (names of counties, townships, villages).", no_args_is_help=True)


@regions_app.command("load")
def regions_load(file: Path = typer.Argument(..., help="a UTF-8 CSV with the header code,name,parent")) -> None:
    """Load the regions of FILE (added, or renamed when the code is known); every running workflow process
    shows the names within half a minute."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        loaded = asyncio.run(load_regions(WorkflowSettings(), text))
    except RegionFileError as exc:
        for error in exc.errors:
            typer.echo(f"{file}:{error['line']}: {error['field']}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(loaded, ensure_ascii=False))
