"""The task forms in the OpenAPI document, from the same models that validate them (tasks/forms.py): every
form a component schema, and `POST /v1/tasks/{task_id}/complete` documented as the form of the task's kind
(which the server knows from the task; the mapping is `x-form-by-kind`)."""

from __future__ import annotations

from typing import Any

from safetynet_core.openapi import add_component_schemas, schema_ref
from safetynet_workflow.tasks.forms import FORMS

COMPLETE_PATH = "/v1/tasks/{task_id}/complete"


def document_task_forms(schema: dict[str, Any]) -> None:
    models = {model.__name__: model for model in FORMS.values()}
    add_component_schemas(schema, *models.values())
    by_kind = {kind: schema_ref(model.__name__)["$ref"] for kind, model in FORMS.items()}
    kinds_of = {name: sorted(k for k, m in FORMS.items() if m.__name__ == name) for name in models}
    body = {
        "anyOf": [schema_ref(name) for name in sorted(models)],
        "description": "The form of the task's kind: "
        + "; ".join(f"{name} for {', '.join(kinds)}" for name, kinds in sorted(kinds_of.items())),
        "x-form-by-kind": by_kind,
    }
    operation = schema["paths"][COMPLETE_PATH]["post"]
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
