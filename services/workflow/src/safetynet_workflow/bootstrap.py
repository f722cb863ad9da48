"""The composition root: the service's adapters (settings, the policy loaded once, the database and its
stores, the HTTP clients of intake and notify), built in one place. Tests pass their own adapters."""

from __future__ import annotations

from dataclasses import dataclass

from safetynet_core.db import Database
from safetynet_core.policy import Policy, load_policy
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.auth.throttle import LoginGuard
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.corrections.store import CorrectionStore
from safetynet_workflow.info import SERVICE
from safetynet_workflow.ledger.store import LedgerStore
from safetynet_workflow.oversight.store import OversightStore
from safetynet_workflow.projection.store import ProjectionStore
from safetynet_workflow.regions.service import RegionDirectory
from safetynet_workflow.regions.store import RegionStore
from safetynet_workflow.reports.coverage import CoverageStore
from safetynet_workflow.reports.store import ReportStore
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps.store import SweepStore
from safetynet_workflow.tasks.store import TaskStore


@dataclass(frozen=True)
class Adapters:
    settings: Settings
    policy: Policy
    db: Database
    projection: ProjectionStore
    tasks: TaskStore
    cases: CaseStore
    users: UserStore
    logins: LoginGuard
    reports: ReportStore
    coverage: CoverageStore
    oversight: OversightStore
    sweeps: SweepStore
    corrections: CorrectionStore
    ledger: LedgerStore
    region_store: RegionStore
    regions: RegionDirectory
    intake: IntakeClient
    notify: NotifyClient

    async def close(self) -> None:
        await self.intake.close()
        await self.notify.close()
        await self.db.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    policy: Policy | None = None,
    db: Database | None = None,
    intake: IntakeClient | None = None,
    notify: NotifyClient | None = None,
) -> Adapters:
    """Build the adapters; the policy is loaded here, once per process, and handed out from here."""
    settings = settings or Settings()
    db = db or Database(settings, settings.db_schema or SERVICE.schema)
    policy = policy or load_policy(settings.policy_file)
    region_store = RegionStore(db)
    return Adapters(
        settings=settings,
        policy=policy,
        db=db,
        projection=ProjectionStore(db),
        tasks=TaskStore(db),
        cases=CaseStore(db),
        users=UserStore(db),
        logins=LoginGuard(db, settings),
        reports=ReportStore(db),
        coverage=CoverageStore(db, policy.exchange.coverage),
        oversight=OversightStore(db),
        sweeps=SweepStore(db),
        corrections=CorrectionStore(db),
        ledger=LedgerStore(db),
        region_store=region_store,
        regions=RegionDirectory(region_store),
        intake=intake or IntakeClient(settings),
        notify=notify or NotifyClient(settings.notify_url),
    )
