"""Annotated FastAPI dependencies of the workflow API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
ClientDep = Annotated[Client, Depends(get_client)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
