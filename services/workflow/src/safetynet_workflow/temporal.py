"""How the workflow service reaches Temporal: a client with the pydantic converter every payload here
needs, and the workflow sandbox runner."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from safetynet_workflow.settings import Settings


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client with the pydantic converter every workflow payload here needs."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """The sandbox, by default with every module passed through (not re-imported per run: about twice
    the case throughput); the restrictions on non-deterministic calls stay. Tests run the full sandbox."""
    if settings.workflow_sandbox == "off":
        return UnsandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default
    if settings.workflow_sandbox == "passthrough":
        restrictions = restrictions.with_passthrough_all_modules()
    return SandboxedWorkflowRunner(restrictions=restrictions)
