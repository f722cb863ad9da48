"""Risk admin commands for the `safetynet` CLI: `safetynet policy backtest FILE [--since DATE]`."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safetynet_core.db import Database
from safetynet_core.policy import load_policy
from safetynet_risk.backtest import BacktestReport, Change, run_backtest
from safetynet_risk.info import SERVICE
from safetynet_risk.settings import Settings


async def _backtest(file: str, since: date | None) -> BacktestReport:
    settings = Settings()
    policy = load_policy(file)
    db = Database(settings, settings.db_schema or SERVICE.schema, pool_size=2)
    columns = (TextColumn("replaying households"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            bar = progress.add_task("backtest", total=None)
            return await run_backtest(
                db, policy, since, progress=lambda done, total: progress.update(bar, completed=done, total=total)
            )
    finally:
        await db.close()


def _openings(change: Change) -> str:
    """Where the household's case openings differ: `+` a new opening, `−` one that would not happen."""
    return "; ".join(
        f"{'+' if o.opens else '−'} {o.as_of:%Y-%m-%d} {','.join(o.event_ids[:3])}{'…' if len(o.event_ids) > 3 else ''}"
        for o in change.openings
    )


def print_report(report: BacktestReport, limit: int, console: Console | None = None) -> None:
    console = console or Console()
    console.print(
        f"policy {report.policy_version}: {report.households} households replayed ({report.assessments} "
        f"assessments); case openings change for {report.opening_changes} ({report.openings_new} new, "
        f"{report.openings_lost} no longer), {report.level_changes} change level, "
        f"{report.category_changes} change category"
    )
    if not report.changes:
        return
    table = Table("household", "region", "case openings (+ new, − no longer)", "level", "category", "score")
    for change in report.changes[:limit]:
        table.add_row(
            change.household_id,
            change.region_code,
            _openings(change) or "-",
            f"{change.old_level} → {change.new_level}",
            f"{change.old_category or '-'} → {change.new_category or '-'}",
            f"{change.old_score:g} → {change.new_score:g}",
        )
    console.print(table)
    if len(report.changes) > limit:
        console.print(f"... and {len(report.changes) - limit} more (use --limit or --json)")


def backtest_command(file: str, since: date | None, limit: int, as_json: bool) -> None:
    """Replay stored history under FILE without writing or publishing; print what would change."""
    report = asyncio.run(_backtest(file, since))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report, limit)
