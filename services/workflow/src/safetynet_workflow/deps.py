"""Annotated FastAPI dependencies shared by the workflow service's routes: the adapters `bootstrap` built
(looked up by type, so this module knows no package: each package's API declares its own store), the
Temporal client, a workflow starter and the caller's raw bearer token (passed on to notify)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from temporalio.client import Client

from safetynet_core.policy import Policy
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.settings import Settings
from safetynet_workflow.starter import Starter

T = TypeVar("T")


def adapter(kind: type[T]) -> Callable[[Request], T]:
    """A dependency handing out the service's adapter of type `kind` (see `bootstrap.Adapters`)."""

    def dependency(request: Request) -> T:
        adapters = request.app.state.adapters
        for field in fields(adapters):
            value = getattr(adapters, field.name)
            if isinstance(value, kind):
                return value
        raise LookupError(f"no {kind.__name__} among the service's adapters")

    return dependency


def temporal_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def workflow_starter(
    client: Annotated[Client, Depends(temporal_client)],
    policy: Annotated[Policy, Depends(adapter(Policy))],
    settings: Annotated[Settings, Depends(adapter(Settings))],
) -> Starter:
    return Starter(client, policy, settings.workflow_task_queue)


def bearer_token(request: Request) -> str:
    """The caller's raw JWT (verified by `CurrentPrincipal` on the same route), to pass on to notify."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


ClientDep = Annotated[Client, Depends(temporal_client)]
StarterDep = Annotated[Starter, Depends(workflow_starter)]
BearerToken = Annotated[str, Depends(bearer_token)]
SettingsDep = Annotated[Settings, Depends(adapter(Settings))]
PolicyDep = Annotated[Policy, Depends(adapter(Policy))]
IntakeDep = Annotated[IntakeClient, Depends(adapter(IntakeClient))]
NotifyDep = Annotated[NotifyClient, Depends(adapter(NotifyClient))]
