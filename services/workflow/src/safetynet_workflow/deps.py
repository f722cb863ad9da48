"""Annotated FastAPI dependencies of the workflow service: its adapters (built by `bootstrap`), the
Temporal client, and the caller's raw bearer token (passed on to notify)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from temporalio.client import Client

from safetynet_core.policy import Policy
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.bootstrap import Adapters
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.corrections.store import CorrectionStore
from safetynet_workflow.ledger.store import LedgerStore
from safetynet_workflow.reports.store import ReportStore
from safetynet_workflow.settings import Settings
from safetynet_workflow.starter import Starter
from safetynet_workflow.sweeps.store import SweepStore
from safetynet_workflow.tasks.store import TaskStore


def adapters(request: Request) -> Adapters:
    found: Adapters = request.app.state.adapters
    return found


T = TypeVar("T")


def _adapter(pick: Callable[[Adapters], T]) -> Callable[[Request], T]:
    """A dependency handing out one of the adapters."""

    def dependency(request: Request) -> T:
        return pick(adapters(request))

    return dependency


def temporal_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def workflow_starter(request: Request) -> Starter:
    found = adapters(request)
    return Starter(temporal_client(request), found.policy, found.settings.workflow_task_queue)


def bearer_token(request: Request) -> str:
    """The caller's raw JWT (verified by `CurrentPrincipal` on the same route), to pass on to notify."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


AdaptersDep = Annotated[Adapters, Depends(adapters)]
ClientDep = Annotated[Client, Depends(temporal_client)]
StarterDep = Annotated[Starter, Depends(workflow_starter)]
BearerToken = Annotated[str, Depends(bearer_token)]
SettingsDep = Annotated[Settings, Depends(_adapter(lambda a: a.settings))]
PolicyDep = Annotated[Policy, Depends(_adapter(lambda a: a.policy))]
TaskStoreDep = Annotated[TaskStore, Depends(_adapter(lambda a: a.tasks))]
CaseStoreDep = Annotated[CaseStore, Depends(_adapter(lambda a: a.cases))]
UserStoreDep = Annotated[UserStore, Depends(_adapter(lambda a: a.users))]
ReportStoreDep = Annotated[ReportStore, Depends(_adapter(lambda a: a.reports))]
SweepStoreDep = Annotated[SweepStore, Depends(_adapter(lambda a: a.sweeps))]
CorrectionStoreDep = Annotated[CorrectionStore, Depends(_adapter(lambda a: a.corrections))]
LedgerStoreDep = Annotated[LedgerStore, Depends(_adapter(lambda a: a.ledger))]
IntakeDep = Annotated[IntakeClient, Depends(_adapter(lambda a: a.intake))]
NotifyDep = Annotated[NotifyClient, Depends(_adapter(lambda a: a.notify))]
