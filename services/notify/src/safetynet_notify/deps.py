"""Annotated dependency aliases for the notify routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safetynet_core.auth import Principal, Role
from safetynet_core.db import Database
from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_core.web import require_roles


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(database)]
SubscriptionAdmin = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.COUNTY_OFFICER))]


def exchange_policy(request: Request) -> ExchangePolicy:
    policy: ExchangePolicy = request.app.state.exchange_policy
    return policy


ExchangePolicyDep = Annotated[ExchangePolicy, Depends(exchange_policy)]
