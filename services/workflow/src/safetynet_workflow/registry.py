"""Every workflow, activity and router the workflow service runs, in one place: `main.py` (API + worker
in one process) and `worker.py` (the worker alone) both read it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from temporalio.client import Client
from temporalio.worker import Worker

from safetynet_core import kafka
from safetynet_workflow.auth import api as auth_api
from safetynet_workflow.auth import pages as auth_pages
from safetynet_workflow.bootstrap import Adapters
from safetynet_workflow.cases import api as cases_api
from safetynet_workflow.cases import list_pages as case_list_pages
from safetynet_workflow.cases import notice_pages
from safetynet_workflow.cases import pages as case_pages
from safetynet_workflow.cases.activities import CaseActivities
from safetynet_workflow.cases.workflow import CaseWorkflow
from safetynet_workflow.corrections import api as corrections_api
from safetynet_workflow.corrections import pages as correction_pages
from safetynet_workflow.corrections.activities import CorrectionActivities
from safetynet_workflow.corrections.workflow import CorrectionWorkflow
from safetynet_workflow.inspection.activities import InspectionActivities
from safetynet_workflow.inspection.workflow import InspectionSamplerWorkflow, InspectionTaskWorkflow
from safetynet_workflow.ledger import api as ledger_api
from safetynet_workflow.ledger import pages as ledger_pages
from safetynet_workflow.ledger.activities import LedgerActivities
from safetynet_workflow.ledger.workflow import LedgerItemWorkflow
from safetynet_workflow.oversight import api as oversight_api
from safetynet_workflow.oversight import pages as oversight_pages
from safetynet_workflow.projection.activities import ProjectionActivities
from safetynet_workflow.quality import pages as quality_pages
from safetynet_workflow.regions import api as regions_api
from safetynet_workflow.reports import api as reports_api
from safetynet_workflow.starter import Starter
from safetynet_workflow.sweeps import api as sweeps_api
from safetynet_workflow.sweeps import pages as sweep_pages
from safetynet_workflow.sweeps.activities import SweepActivities
from safetynet_workflow.sweeps.workflow import SweepBatchWorkflow, SweepWorkflow
from safetynet_workflow.tasks import api as tasks_api
from safetynet_workflow.tasks import pages as task_pages
from safetynet_workflow.temporal import workflow_runner
from safetynet_workflow.ui import router as ui_static

WORKFLOWS: list[type] = [
    CaseWorkflow,
    InspectionTaskWorkflow,
    InspectionSamplerWorkflow,
    SweepWorkflow,
    SweepBatchWorkflow,
    CorrectionWorkflow,
    LedgerItemWorkflow,
]

API_ROUTERS: list[APIRouter] = [
    auth_api.router,
    tasks_api.router,
    cases_api.router,
    reports_api.router,
    sweeps_api.router,
    corrections_api.router,
    ledger_api.router,
    regions_api.router,
    oversight_api.router,
]

# The case-worker UI (served from `/`, not in the OpenAPI document).
PAGE_ROUTERS: list[APIRouter] = [
    auth_pages.router,
    task_pages.router,
    case_list_pages.router,
    case_pages.router,
    oversight_pages.router,
    notice_pages.router,
    sweep_pages.router,
    correction_pages.router,
    ledger_pages.router,
    quality_pages.router,
    ui_static,
]


def worker(adapters: Adapters, client: Client, case_events: kafka.RenewingProducer) -> Worker:
    """The Temporal worker running every workflow and activity on the service's task queue."""
    return Worker(
        client,
        task_queue=adapters.settings.workflow_task_queue,
        workflow_runner=workflow_runner(adapters.settings),
        workflows=WORKFLOWS,
        activities=activities(adapters, client, case_events),
    )


def activities(adapters: Adapters, client: Client, case_events: kafka.RenewingProducer) -> list[Any]:
    """Every activity implementation, bound to the service's adapters."""
    settings, policy = adapters.settings, adapters.policy
    return [
        ProjectionActivities(
            adapters.projection, case_events, settings.topic_case_events, adapters.regions.fresh_labels
        ).project,
        CaseActivities(adapters.reports, settings.household_facts_wait_seconds).household_facts,
        *InspectionActivities(settings, Starter(client, policy, settings.workflow_task_queue), adapters.cases).all(),
        *SweepActivities(policy, adapters.sweeps, adapters.intake).all(),
        *CorrectionActivities(adapters.corrections, adapters.intake).all(),
        *LedgerActivities(adapters.ledger).all(),
    ]
