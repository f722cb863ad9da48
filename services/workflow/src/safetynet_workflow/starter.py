"""Starting workflows from the API, the pages and activities: on the service's task queue, with the
policy in force (a workflow carries its policy in its input, so a later policy change never touches it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client

from safetynet_core.policy import Policy


@dataclass(frozen=True)
class Starter:
    client: Client
    policy: Policy
    task_queue: str

    async def start(self, workflow: str, arg: BaseModel, *, workflow_id: str, **options: Any) -> None:
        await self.client.start_workflow(workflow, arg, id=workflow_id, task_queue=self.task_queue, **options)
