"""Notify's outbound deliveries in its OpenAPI document (`webhooks`): one per case event name and one per
exchange purpose, each body from the model that builds it (`CaseEventDelivery`, the purpose's record
model), with the headers a receiver checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, create_model

from safetynet_core.openapi import Hook, add_component_schemas, schema_ref
from safetynet_core.policy.exchange import ExchangePolicy, PurposePolicy
from safetynet_notify import exchange, exchange_records
from safetynet_notify.events import EVENT_NAMES, CaseEventDelivery
from safetynet_notify.transports import SIGNATURE_HEADER

HEADERS = {
    SIGNATURE_HEADER: "`sha256=<hex HMAC-SHA256 of the raw body with the subscription's secret>`: compare it in "
    "constant time before trusting the body",
    "X-SafetyNet-Event": "the event name (this webhook's key)",
    "X-SafetyNet-Delivery": "unique per delivery and recipient: retries repeat it, so deduplicate on it",
}
RECEIVED = (
    "Received. Any other answer is retried with backoff (4xx other than 408, 425 and 429 are not retried); "
    "the answer's body is never stored."
)


def delivery_model(name: str, purpose: PurposePolicy) -> type[BaseModel]:
    """An exchange push: the purpose, the change id (the pull cursor) and the purpose's record."""
    title = "".join(part.title() for part in name.split("_"))
    purpose_literal: Any = Literal[name]
    model: type[BaseModel] = create_model(
        f"{title}Delivery",
        __doc__=f"exchange.{name} to {purpose.department}: {purpose.description}",
        purpose=(purpose_literal, ...),
        change_id=(int, ...),
        record=(exchange_records.record_model(name, purpose), ...),
    )
    return model


def _webhook(summary: str, description: str, body_schema: str) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in HEADERS.items()
    ]
    return {
        "post": {
            "summary": summary,
            "description": description,
            "parameters": parameters,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema_ref(body_schema)}}},
            "responses": {"200": {"description": RECEIVED}},
        }
    }


def document_webhooks(policy: ExchangePolicy) -> Hook:
    """OpenAPI hook: `webhooks` for case events (POST /v1/subscriptions) and exchange pushes
    (POST /v1/exchange/subscriptions with mode push); the pull feed's records typed by purpose."""

    def hook(schema: dict[str, Any]) -> None:
        deliveries = {name: delivery_model(name, purpose) for name, purpose in policy.purposes.items()}
        records = [exchange_records.record_model(name, purpose) for name, purpose in policy.purposes.items()]
        add_component_schemas(schema, CaseEventDelivery, *deliveries.values(), *records)
        webhooks: dict[str, dict[str, Any]] = {
            name: _webhook(
                f"Case event {name}",
                "Sent to webhook subscriptions (POST /v1/subscriptions) whose events and region prefix match.",
                CaseEventDelivery.__name__,
            )
            for name in sorted(EVENT_NAMES)
        }
        for name, purpose in policy.purposes.items():
            webhooks[exchange.event_name(name)] = _webhook(
                f"Exchange push to {purpose.department}: {name}",
                f"{purpose.description}. Sent to push subscriptions of this purpose whose region prefix covers "
                "the household; the same records are pulled from GET /v1/exchange/{purpose}/changes.",
                deliveries[name].__name__,
            )
        schema["webhooks"] = webhooks
        change = schema["components"]["schemas"].get("ChangeOut")
        if change is not None and records:
            change["properties"]["record"] = {
                "anyOf": [schema_ref(model.__name__) for model in records],
                "description": "the purpose's record",
            }

    return hook
