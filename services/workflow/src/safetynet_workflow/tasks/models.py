"""The task updates a case worker sends to a workflow (through the task API)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ClaimRequest(BaseModel):
    task_id: str
    username: str


class CompleteRequest(BaseModel):
    task_id: str
    username: str
    form: dict[str, Any]
