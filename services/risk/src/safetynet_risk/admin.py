"""Risk admin commands for the `safetynet` CLI: `safetynet policy backtest FILE [--since DATE]`."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from rich.console import Console
from rich.table import Table

from safetynet_core.db import Database
from safetynet_core.policy import load_policy
from safetynet_risk.backtest import BacktestReport, run_backtest
from safetynet_risk.info import SERVICE
from safetynet_risk.settings import Settings


async def _backtest(file: str, since: date | None) -> BacktestReport:
    settings = Settings()
    db = Database(settings, settings.db_schema or SERVICE.schema, pool_size=2)
    try:
        return await run_backtest(db, load_policy(file), since)
    finally:
        await db.close()


def print_report(report: BacktestReport, limit: int, console: Console | None = None) -> None:
    console = console or Console()
    console.print(
        f"policy {report.policy_version}: {report.households} households re-scored, "
        f"{report.level_changes} change level, {report.category_changes} change category"
    )
    if not report.changes:
        return
    table = Table("household", "region", "level", "category", "score")
    for change in report.changes[:limit]:
        table.add_row(
            change.household_id,
            change.region_code,
            f"{change.old_level} → {change.new_level}",
            f"{change.old_category or '-'} → {change.new_category or '-'}",
            f"{change.old_score:g} → {change.new_score:g}",
        )
    console.print(table)
    if len(report.changes) > limit:
        console.print(f"... and {len(report.changes) - limit} more (use --limit or --json)")


def backtest_command(file: str, since: date | None, limit: int, as_json: bool) -> None:
    """Re-score stored history under FILE without publishing; print what would change."""
    report = asyncio.run(_backtest(file, since))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report, limit)
