"""Annotated dependency aliases for the notify routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from safetynet_core.auth import Principal, Role
from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_core.web import require_roles
from safetynet_notify.outbound import AddressPolicy, RefusedAddress


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(database)]
SubscriptionAdmin = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.COUNTY_OFFICER))]


def outbound_policy(request: Request) -> AddressPolicy:
    policy: AddressPolicy = request.app.state.outbound_policy
    return policy


OutboundPolicy = Annotated[AddressPolicy, Depends(outbound_policy)]


async def check_receiver_url(policy: AddressPolicy, url: str, loc: list[str]) -> None:
    """422 naming the field unless notify may send to `url` (checked again at every delivery)."""
    try:
        await policy.resolve(url)
    except RefusedAddress as exc:
        raise ApiError(422, f"url refused: {exc}", loc, "address_refused") from exc
def exchange_policy(request: Request) -> ExchangePolicy:
    policy: ExchangePolicy = request.app.state.exchange_policy
    return policy


ExchangePolicyDep = Annotated[ExchangePolicy, Depends(exchange_policy)]
